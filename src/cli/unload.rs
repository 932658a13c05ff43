//! `sockasm unload`
use super::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args, _verbose: bool) -> Result<()> {
    Err("sockasm unload: not implemented yet".into())
}
