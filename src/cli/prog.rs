//! `sockasm prog list`: the BPF programs loaded in the kernel, by id, for
//! `sockasm dump --disasm --id N`.
use super::{Result, outln};
use crate::syscall::info;
use std::os::fd::AsFd;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Every loaded program: id, type, name, size, the maps it uses.
    List,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    match args.cmd {
        Cmd::List => list(),
    }
}

fn list() -> Result<()> {
    outln!("{:>6}  {:<16} {:<16} {:>6} {:>7}  maps", "id", "type", "name", "insns", "JITed");
    for id in info::prog_ids()? {
        // A program can go away between the two calls.
        let Ok(fd) = info::prog_fd_by_id(id) else { continue };
        let Ok(p) = info::prog_info(fd.as_fd()) else { continue };
        let maps: Vec<String> = info::prog_map_ids(fd.as_fd())
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let name = info::map_fd_by_id(m).ok().and_then(|f| info::map_info(f.as_fd()).ok()).map(|i| i.name);
                match name {
                    Some(n) if !n.is_empty() => format!("{m}:{n}"),
                    _ => m.to_string(),
                }
            })
            .collect();
        outln!(
            "{:>6}  {:<16} {:<16} {:>6} {:>7}  {}",
            p.id,
            p.prog_type.to_string(),
            p.name,
            p.xlated_prog_len / 8,
            p.jited_prog_len,
            maps.join(" ")
        );
    }
    Ok(())
}
