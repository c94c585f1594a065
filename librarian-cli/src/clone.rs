//! `librarian transfers list` and `librarian clone remote`.

use clap::Subcommand;
use librarian_core::transfers::{Direction, Transfer, TransferStatus};
use librarian_core::{Error, Librarian};

use crate::output::Out;

#[derive(Subcommand, Debug)]
pub enum TransfersCommand {
    /// List transfers, newest first.
    List {
        /// Only this status (initiated, ongoing, staged, completed, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only transfers to or from this peer.
        #[arg(long)]
        peer: Option<String>,
        /// Only outgoing or incoming transfers.
        #[arg(long)]
        direction: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
pub enum CloneCommand {
    /// One sending round now (what the send-clones task does on schedule): poll
    /// running batches, then offer and send files that lack a copy at the peer.
    Remote {
        /// Only this peer (default: every peer in [clone.to]).
        #[arg(long, value_name = "PEER")]
        to: Option<String>,
        /// Print what the next batch would hold; change nothing (needs --to).
        #[arg(long, requires = "to")]
        dry_run: bool,
    },
}

pub fn transfers(lib: &Librarian, cmd: &TransfersCommand, out: &Out) -> Result<(), Error> {
    match cmd {
        TransfersCommand::List { status, peer, direction, limit } => {
            let status = status.as_deref().map(str::parse::<TransferStatus>).transpose()?;
            let direction = direction.as_deref().map(str::parse::<Direction>).transpose()?;
            if let Some(p) = peer {
                lib.peer(p)?;
            }
            list(out, &lib.transfers(status, direction, peer.as_deref(), *limit)?)
        }
    }
}

fn list(out: &Out, transfers: &[Transfer]) -> Result<(), Error> {
    if out.json() {
        let v = serde_json::to_value(transfers).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        return out.emit_value(&v);
    }
    for t in transfers {
        let err = t.error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default();
        let arrow = match t.direction {
            Direction::Outgoing => "->",
            Direction::Incoming => "<-",
        };
        println!("{:>7}  {:<9} {arrow} {:<16} {}  {}{err}", t.id, t.status, t.peer, t.file, t.updated_at);
    }
    if transfers.is_empty() {
        eprintln!("no transfers");
    }
    Ok(())
}

pub fn clone(lib: &Librarian, cmd: &CloneCommand, out: &Out) -> Result<(), Error> {
    match cmd {
        CloneCommand::Remote { to, dry_run: true } => {
            let plan = lib.plan_clones(to.as_deref().unwrap_or_default())?;
            let files: Vec<serde_json::Value> = plan
                .iter()
                .map(
                    |p| serde_json::json!({ "name": p.name, "size": p.size, "checksum": p.checksum, "store": p.store }),
                )
                .collect();
            if out.json() {
                return out.emit_value(&serde_json::json!({ "files": files }));
            }
            for p in &plan {
                println!("{}  {} bytes  from {}", p.name, p.size, p.store);
            }
            eprintln!("{} file(s) would be offered in the next batch", plan.len());
            Ok(())
        }
        CloneCommand::Remote { to, dry_run: false } => {
            let report = lib.send_clones_to(to.as_deref())?;
            if out.json() {
                let v = serde_json::to_value(&report).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                return out.emit_value(&v);
            }
            println!("{report}");
            Ok(())
        }
    }
}
