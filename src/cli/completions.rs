//! `sockasm completions SHELL` and `sockasm man [SUBCOMMAND]`, generated from
//! the clap definitions, so they never drift from the real options.
use clap::CommandFactory;

use super::{Cli, Result, out};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// A subcommand's page (sockasm-SUBCOMMAND(1)) instead of sockasm(1)
    pub subcommand: Option<String>,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "sockasm", &mut buf);
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(())
}

pub fn run_man(args: &ManArgs, _verbose: bool) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &args.subcommand {
        None => cmd,
        Some(name) => {
            let visible: Vec<&str> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name()).collect();
            match cmd.find_subcommand(name) {
                Some(c) if !c.is_hide_set() => c.clone().name(format!("sockasm-{}", c.get_name())),
                _ => return Err(format!("no subcommand {name:?}; there are: {}", visible.join(", ")).into()),
            }
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf).map_err(|e| format!("rendering the man page: {e}"))?;
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(())
}
