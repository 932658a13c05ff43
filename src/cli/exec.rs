//! `sockasm exec -- CMD`: run CMD with the bypass in a cgroup of its own,
//! print the counters on stderr (CMD owns stdout), exit with CMD's status.
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Error, Exit, Result, json_line};
use crate::exec::{self, ExecError, Options, Outcome, Signals};
use crate::progs::counters::{Counter, Totals};

/// sockasm exec's own failures exit with this (as `env` and `docker run` do),
/// so they are told apart from CMD's statuses.
const OWN_FAILURE: u8 = 125;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the summary as one JSON object (on stderr, its last line)
    #[arg(long)]
    pub json: bool,
    /// Capacity of the SOCKHASH (see `sockasm load`)
    #[arg(long)]
    pub max_entries: Option<u32>,
    /// The most bytes a reader may have waiting before writes to it go over TCP (see `sockasm load`)
    #[arg(long)]
    pub max_queue: Option<u32>,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(clap::Args, Debug)]
pub struct ChildArgs {
    #[arg(long)]
    pub cgroup: PathBuf,
    #[arg(long)]
    pub parent: u32,
    #[arg(required = true, trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

fn failed(e: ExecError, verbose: bool) -> Error {
    if verbose
        && let ExecError::Deploy(d) = &e
        && let Some(log) = d.verifier_log()
    {
        eprintln!("verifier log:\n{log}");
    }
    let code = match &e {
        ExecError::Interrupted(s) => 128 + *s as u8,
        _ => OWN_FAILURE,
    };
    Exit { code, error: Some(e.into()) }.into()
}

pub fn run(args: &Args, verbose: bool) -> Result<()> {
    // First, while this is the only thread.
    let sig = Signals::install().map_err(|e| failed(e, verbose))?;
    let opts = Options {
        command: args.command.clone(),
        max_entries: args.max_entries,
        max_queue: args.max_queue,
        // The running binary, even if the file was replaced meanwhile.
        exe: PathBuf::from("/proc/self/exe"),
    };
    let name = args.command[0].to_string_lossy().into_owned();
    let o = exec::run(&opts, &sig).map_err(|e| failed(e, verbose))?;
    let text = if args.json { format!("{}\n", json_line(&Summary::new(&name, &o))?) } else { summary_text(&name, &o) };
    // stderr gone (closed terminal): the status still tells the outcome.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    Err(Exit { code: o.exit.status(), error: None }.into())
}

fn summary_text(name: &str, o: &Outcome) -> String {
    let mut s = format!("sockasm exec: {name} {}\n", o.exit);
    if !o.killed.is_empty() {
        let pids: Vec<String> = o.killed.iter().map(u32::to_string).collect();
        s += &format!(
            "sockasm exec: killed {} process(es) {name} left running in its cgroup (pid {})\n",
            o.killed.len(),
            pids.join(", ")
        );
    }
    s += "sockasm exec: counters:\n";
    for c in Counter::ALL {
        s += &format!("  {:<22} {}\n", c.name(), o.counters.get(c));
    }
    s += &format!(
        "sockasm exec: unloaded; removed {} and pins {}\n",
        crate::cgroup::describe(&o.cgroup),
        o.pin_dir.display()
    );
    s
}

/// `exec --json`: the last line of stderr.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub command: String,
    /// CMD's exit code; null when a signal ended it.
    pub exit_code: Option<i32>,
    /// `SIGSEGV`: the signal that ended CMD; null when it exited.
    pub signal: Option<String>,
    /// What exec exits with: the code, or 128 + the signal.
    pub status: u32,
    /// Processes CMD left running in its cgroup, killed after it.
    pub killed: Vec<u32>,
    pub counters: Totals,
    pub cgroup: String,
    pub pin_dir: String,
    /// Always true: a summary is printed once both are removed.
    pub cleaned_up: bool,
    pub seconds: f64,
}

impl Summary {
    fn new(name: &str, o: &Outcome) -> Summary {
        let (exit_code, signal) = match o.exit {
            exec::Exit::Code(c) => (Some(c), None),
            exec::Exit::Signal { .. } => (None, Some(o.exit.signal_name().unwrap_or_default().to_string())),
        };
        Summary {
            command: name.to_string(),
            exit_code,
            signal,
            status: u32::from(o.exit.status()),
            killed: o.killed.clone(),
            counters: o.counters,
            cgroup: o.cgroup.display().to_string(),
            pin_dir: o.pin_dir.display().to_string(),
            cleaned_up: true,
            seconds: o.elapsed.as_secs_f64(),
        }
    }
}

/// The hidden helper: joins the cgroup and becomes CMD; returns only on failure.
pub fn run_child(args: &ChildArgs, _verbose: bool) -> Result<()> {
    let (code, why) = exec::child(&args.cgroup, args.parent, &args.command);
    Err(Exit { code, error: Some(format!("sockasm exec: {why}").into()) }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys `exec --json` has always had.
    #[test]
    fn summary_keeps_its_keys() {
        let s = Summary {
            command: "true".into(),
            exit_code: None,
            signal: Some("SIGINT".into()),
            status: 130,
            killed: vec![7],
            counters: Totals::default(),
            cgroup: "/sys/fs/cgroup/sockasm-exec-1".into(),
            pin_dir: "/sys/fs/bpf/sockasm-exec-1".into(),
            cleaned_up: true,
            seconds: 0.5,
        };
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cgroup",
                "cleaned_up",
                "command",
                "counters",
                "exit_code",
                "killed",
                "pin_dir",
                "seconds",
                "signal",
                "status"
            ]
        );
        assert_eq!(v["exit_code"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Summary>(v).unwrap(), s);
    }
}
