//! `sockasm exec -- CMD`: run CMD with the bypass in a cgroup of its own,
//! print the counters on stderr (CMD owns stdout), exit with CMD's status.
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use super::{Error, Exit, Result};
use crate::exec::{self, ExecError, Options, Outcome, Signals};
use crate::json::Json;
use crate::progs::counters::Counter;

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
    let text = if args.json { format!("{}\n", summary_json(&name, &o)) } else { summary_text(&name, &o) };
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

fn summary_json(name: &str, o: &Outcome) -> Json {
    let (code, signal) = match o.exit {
        exec::Exit::Code(c) => (Json::from(c as i64), Json::Null),
        exec::Exit::Signal { .. } => (Json::Null, Json::from(o.exit.signal_name().unwrap_or_default())),
    };
    Json::obj([
        ("command", Json::from(name)),
        ("exit_code", code),
        ("signal", signal),
        ("status", Json::from(o.exit.status() as u32)),
        ("killed", Json::Arr(o.killed.iter().map(|p| Json::from(*p)).collect())),
        (
            "counters",
            Json::Obj(Counter::ALL.iter().map(|c| (c.name().to_string(), o.counters.get(*c).into())).collect()),
        ),
        ("cgroup", Json::from(o.cgroup.display().to_string())),
        ("pin_dir", Json::from(o.pin_dir.display().to_string())),
        ("cleaned_up", Json::from(true)),
        ("seconds", Json::from(o.elapsed.as_secs_f64())),
    ])
}

/// The hidden helper: joins the cgroup and becomes CMD; returns only on failure.
pub fn run_child(args: &ChildArgs, _verbose: bool) -> Result<()> {
    let (code, why) = exec::child(&args.cgroup, args.parent, &args.command);
    Err(Exit { code, error: Some(format!("sockasm exec: {why}").into()) }.into())
}
