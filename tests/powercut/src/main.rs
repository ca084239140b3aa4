//! `floe-powercut`: a FUSE file system that simulates power loss, for testing
//! that Floe (or any program keeping data on disk) recovers from a power cut.
//!
//! It owns one job: serving a directory tree whose every change lives only in
//! memory (the volatile view) until fsync/fdatasync on a file or fsync on a
//! directory copies it into a store directory on the host (the durable view).
//! A file sync makes that file's contents, size and mode durable; a directory
//! sync makes that directory's entry list durable. Nothing else is: not a
//! write, a truncate, a new file, a rename or an unlink that no sync covered.
//! SIGTERM or SIGINT is the power cut: the process unmounts and exits without
//! writing anything more, and the next mount of the same store shows exactly
//! what was durable, reached from the root through durable entries.
//!
//! Modules: [`store`] keeps the durable view on the host, [`tree`] the
//! volatile view and the syncs between the two, [`fs`] answers FUSE requests
//! with tree operations, and [`mount`] runs a mount until the power cut.

mod fs;
mod mount;
mod store;
mod tree;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::mount::MountArgs;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "floe-powercut",
    version,
    about = "A FUSE file system that simulates power loss"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the durable state of STORE at MOUNTPOINT in the foreground.
    /// Prints `ready` once serving; SIGTERM or SIGINT cuts the power.
    Mount {
        /// Directory holding the durable state (created if missing).
        #[arg(long, value_name = "STORE_DIR")]
        store: PathBuf,
        /// Where to mount; a dead FUSE mount left there is unmounted first.
        mountpoint: PathBuf,
        /// Let users other than the one mounting use the file system.
        #[arg(long)]
        allow_other: bool,
        /// Threads answering FUSE requests.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Print what STORE holds durably, as JSON.
    Stats {
        #[arg(long, value_name = "STORE_DIR")]
        store: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Mount {
            store,
            mountpoint,
            allow_other,
            threads,
        } => mount::run(&MountArgs {
            store,
            mountpoint,
            allow_other,
            threads,
        }),
        Command::Stats { store } => {
            let summary = Store::summarize(&store)
                .with_context(|| format!("reading store {}", store.display()))?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
    }
}
