//! `sockasm status`: programs, attachments, map and counters.
use super::Result;
use crate::deploy;
use crate::progs::counters::Counter;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// bpffs directory holding the pins
    #[arg(long, default_value = deploy::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, _verbose: bool) -> Result<()> {
    let st = deploy::status(&args.pin_dir)?;
    if args.json {
        println!("{}", st.to_json());
        return Ok(());
    }
    if !st.loaded {
        println!("sockasm is not loaded (no pins in {})", st.pin_dir.display());
        return Ok(());
    }
    println!("sockasm is loaded (pins in {})", st.pin_dir.display());
    println!("cgroups:");
    if st.cgroups.is_empty() {
        println!("  (none: new connections are not accelerated)");
    }
    for c in &st.cgroups {
        println!("  {}", c.display());
    }
    println!("programs:");
    for p in &st.programs {
        println!(
            "  {:<16} id {:<6} {:<8} {} bytes xlated, {} bytes jited",
            p.name, p.id, p.prog_type, p.xlated_bytes, p.jited_bytes
        );
    }
    if let Some(m) = &st.map {
        println!("map: id {} with {} of {} entries (sockets)", m.id, m.entries, m.max_entries);
    }
    if let Some(c) = &st.config {
        if c.peer_aware {
            println!(
                "policy: peer-aware; a write goes over TCP while its reader holds more than {} bytes \
                 (min(max(reader's rcvbuf, {}), --max-queue {}))",
                c.rcvbuf_floor.min(c.max_queue),
                c.rcvbuf_floor,
                c.max_queue
            );
        } else {
            println!(
                "policy: peer-blind (no kernel BTF or no CAP_PERFMON at load): every write to a peer is redirected, unbounded"
            );
        }
    }
    println!("counters (all CPUs):");
    for c in Counter::ALL {
        println!("  {:<22} {}", c.name(), st.counters.get(c));
    }
    Ok(())
}
