//! The `sockasm` command line: one file per subcommand.
use clap::{Parser, Subcommand};

pub mod agent;
pub mod asm;
pub mod bench;
pub mod completions;
pub mod dump;
pub mod exec;
pub mod load;
pub mod prog;
pub mod run;
pub mod status;
pub mod unload;
pub mod verify;
mod worker;

/// Errors reaching `main`: each module's own error type, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type Result<T> = std::result::Result<T, Error>;

/// Standard output was closed by its reader (`sockasm status | head -1`):
/// `main` ends quietly, the command's action having been done.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Ends the process with `code`; with `error`, printed as any error is.
/// (`sockasm exec` passes on its command's status this way.)
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub error: Option<Error>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => e.fmt(f),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for Exit {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.as_ref().and_then(|e| e.source())
    }
}

/// Writes to standard output; a closed pipe becomes [`StdoutClosed`], any
/// other failure an error naming standard output.
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_fmt(args) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(format!("writing standard output: {e}").into()),
        Ok(()) => Ok(()),
    }
}

/// `v` as one line of JSON: what every `--json` prints.
pub fn json_line(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| format!("rendering JSON: {e}").into())
}

/// `println!` that returns [`StdoutClosed`] from the enclosing function
/// instead of panicking when the reader has gone.
macro_rules! outln {
    () => { $crate::cli::write_out(format_args!("\n"))? };
    ($($t:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($t)*)))? };
}
/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::write_out(format_args!($($t)*))? };
}
pub(crate) use {out, outln};

#[derive(Parser, Debug)]
#[command(
    name = "sockasm",
    version,
    about = "Same-host TCP that skips the TCP/IP stack, and an eBPF assembler to learn the ISA with"
)]
pub struct Cli {
    /// Show whole verifier logs and more detail.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Assemble LLVM pseudo-C eBPF text into raw instruction bytes.
    Asm(asm::Args),
    /// Disassemble raw bytes or the built-in programs.
    Dump(dump::Args),
    /// Load the bypass and attach it to a cgroup.
    Load(load::Args),
    /// Detach the bypass from a cgroup and remove it when no cgroup is left.
    Unload(unload::Args),
    /// Show whether the bypass is loaded, its programs, map and counters.
    Status(status::Args),
    /// Load a program without attaching it and show the verifier's verdict.
    Verify(verify::Args),
    /// Run a program with BPF_PROG_TEST_RUN and print its return value.
    Run(run::Args),
    /// Run on a node: load the bypass, serve /metrics and /healthz, re-attach when detached, exit on SIGTERM.
    #[command(after_help = agent::HELP)]
    Agent(agent::Args),
    /// Programs loaded in the kernel: `prog list` (the ids `dump --disasm --id N` takes).
    Prog(prog::Args),
    /// Run a command with the bypass in a cgroup of its own, print the counters, remove everything.
    #[command(after_help = EXEC_HELP)]
    Exec(exec::Args),
    /// Measure TCP through the bypass against plain loopback TCP and AF_UNIX (temporary cgroup, root needed).
    Bench(bench::Args),
    /// Print a shell completion script (e.g. `sockasm completions bash > /etc/bash_completion.d/sockasm`).
    Completions(completions::Args),
    /// Print the man page (roff); `sockasm man | man -l -`.
    Man(completions::ManArgs),
    #[command(hide = true)]
    Worker(worker::Args),
    #[command(hide = true, name = "exec-child")]
    ExecChild(exec::ChildArgs),
}

const EXEC_HELP: &str = "\
Examples:
  sockasm exec -- sh -c 'my-server & my-client'
  sockasm exec --json -- ./run-tests.sh

CMD and everything it starts run in a new cgroup sockasm-exec-PID-… under the cgroup2 mount; TCP
connections between them skip the TCP/IP stack. When CMD exits, processes it left running in the
cgroup are killed, the counters are printed on stderr (stdout stays CMD's), the bypass is unloaded,
the cgroup and pins are removed, and exec exits with CMD's status (128+N if signal N killed it;
125 if exec itself failed). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to exec are passed on to CMD.";

pub fn run(cli: Cli) -> Result<()> {
    let v = cli.verbose;
    match &cli.command {
        Command::Asm(a) => asm::run(a, v),
        Command::Dump(a) => dump::run(a, v),
        Command::Load(a) => load::run(a, v),
        Command::Unload(a) => unload::run(a, v),
        Command::Status(a) => status::run(a, v),
        Command::Verify(a) => verify::run(a, v),
        Command::Run(a) => run::run(a, v),
        Command::Prog(a) => prog::run(a, v),
        Command::Bench(a) => bench::run(a, v),
        Command::Exec(a) => exec::run(a, v),
        Command::Agent(a) => agent::run(a, v),
        Command::Completions(a) => completions::run(a, v),
        Command::Man(a) => completions::run_man(a, v),
        Command::Worker(a) => worker::run(a, v),
        Command::ExecChild(a) => exec::run_child(a, v),
    }
}

/// `1.2 ms`, `35 µs`, `2.1 s`.
pub fn fmt_duration(d: std::time::Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
