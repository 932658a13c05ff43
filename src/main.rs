//! Thin binary: parse arguments, run the library, print the error chain once.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = sockasm::cli::Cli::parse();
    match sockasm::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away after the command did its work: nothing to report.
        Err(e) if e.is::<sockasm::cli::StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            let (code, e) = match e.downcast::<sockasm::cli::Exit>() {
                Ok(x) => (x.code, x.error),
                Err(e) => (1, Some(e)),
            };
            if let Some(e) = e {
                eprintln!("error: {e}");
                let mut src = e.source();
                while let Some(s) = src {
                    eprintln!("  caused by: {s}");
                    src = s.source();
                }
            }
            ExitCode::from(code)
        }
    }
}
