//! `librarian transfers list` and `librarian clone remote`.

use clap::Subcommand;
use librarian_core::{Direction, Librarian, Transfer, TransferStatus};

use crate::error::Result;
use crate::output::{Out, say};
use crate::table::{Align, Table};

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
    /// Cancel a transfer that has not ended; the peer is told through the outbox.
    Cancel {
        /// The transfer's id here (from `transfers list`).
        id: i64,
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
        /// Print what the next batch to each peer (or only --to) would hold; change
        /// nothing and call no peer. Peers whose transfers are disabled are skipped.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fill a store (a mounted drive) with verified copies of the files of another
    /// store that it lacks, oldest first, until it reaches its reserve (then a
    /// store_full event is raised; exit 0). Exit 1 if any file could not be copied.
    Local {
        /// The store to copy from.
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The store to fill (enabled; it need not accept uploads).
        #[arg(long, value_name = "STORE")]
        to: String,
        /// Also leave out files that have a copy on this store (e.g. an earlier drive of
        /// the same shipment). Repeatable.
        #[arg(long, value_name = "STORE")]
        not_on: Vec<String>,
        /// Print what would be copied (as far as the free space allows); change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn transfers(lib: &Librarian, cmd: &TransfersCommand, out: &Out) -> Result<()> {
    match cmd {
        TransfersCommand::List { status, peer, direction, limit } => {
            let status = status.as_deref().map(str::parse::<TransferStatus>).transpose()?;
            let direction = direction.as_deref().map(str::parse::<Direction>).transpose()?;
            if let Some(p) = peer {
                lib.peer(p)?;
            }
            list(out, &lib.transfers(status, direction, peer.as_deref(), *limit)?)
        }
        TransfersCommand::Cancel { id } => {
            let t = lib.cancel_transfer(*id)?;
            if out.json() {
                let v = serde_json::to_value(&t)?;
                return out.emit_value(&v);
            }
            list(out, std::slice::from_ref(&t))
        }
    }
}

fn list(out: &Out, transfers: &[Transfer]) -> Result<()> {
    if out.json() {
        let v = serde_json::to_value(transfers)?;
        return out.emit_value(&v);
    }
    let mut table = Table::new(&[Align::Right]);
    for t in transfers {
        let err = t.error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default();
        let arrow = match t.direction {
            Direction::Outgoing => "->",
            Direction::Incoming => "<-",
        };
        table.row([
            t.id.to_string(),
            t.status.to_string(),
            arrow.to_owned(),
            t.peer.clone(),
            t.file.to_string(),
            format!("{}{err}", t.updated_at),
        ]);
    }
    table.print();
    if transfers.is_empty() {
        eprintln!("no transfers");
    }
    Ok(())
}

pub fn clone(lib: &Librarian, cmd: &CloneCommand, out: &Out) -> Result<()> {
    match cmd {
        CloneCommand::Local { .. } => clone_with_exit(lib, cmd, out).map(drop),
        CloneCommand::Remote { to, dry_run: true } => {
            let plan = lib.plan_clones_to(to.as_deref())?;
            if out.json() {
                let files: Vec<serde_json::Value> = plan
                    .peers
                    .iter()
                    .flat_map(|pp| {
                        pp.files.iter().map(|p| {
                            serde_json::json!({
                                "peer": pp.peer, "name": p.name, "size": p.size, "checksum": p.checksum, "store": p.store
                            })
                        })
                    })
                    .collect();
                return out.emit_value(&serde_json::json!({ "files": files, "skipped_peers": plan.skipped_peers }));
            }
            for pp in &plan.peers {
                for p in &pp.files {
                    say!("{}  {}  {} bytes  from {}", pp.peer, p.name, p.size, p.store);
                }
                eprintln!("{}: {} file(s) would be offered in the next batch", pp.peer, pp.files.len());
            }
            for peer in &plan.skipped_peers {
                eprintln!("{peer}: transfers disabled (peer enable {peer}); nothing would be sent");
            }
            if plan.peers.is_empty() && plan.skipped_peers.is_empty() {
                eprintln!("no peer to send to: add a [clone.to.PEER] table (docs/cloning.md) or give --to");
            }
            Ok(())
        }
        CloneCommand::Remote { to, dry_run: false } => {
            let report = lib.send_clones_to(to.as_deref())?;
            if out.json() {
                let v = serde_json::to_value(&report)?;
                return out.emit_value(&v);
            }
            crate::output::put!("{report}");
            Ok(())
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum SneakernetCommand {
    /// Make a drive store ready to ship to PEER: re-read every byte on it, write the
    /// manifest (with its digest) and b3sum/sha256sum lists at its root, record the
    /// outgoing transfers and disable the store. Files PEER already holds get no
    /// transfer (see --include-held).
    Export {
        /// The drive's store.
        #[arg(long)]
        store: String,
        /// The site the drive goes to (a peer).
        #[arg(long, value_name = "PEER")]
        to: String,
        /// Print what would be exported; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Record a transfer for the files PEER already holds too. Without it they
        /// stay on the drive and in the manifest with no transfer, and their drive
        /// copies are retired (listed as held).
        #[arg(long)]
        include_held: bool,
    },
    /// Check a drive against its manifest: no configuration or catalog needed. Every
    /// byte is re-read; exit 1 on any missing, extra, truncated or altered file.
    Verify {
        /// The drive directory (where .librarian-manifest.json is).
        path: std::path::PathBuf,
    },
    /// Ingest a drive: verify each file while copying it into a store, record it, and
    /// queue a `complete` call to the exporting site. Bad files are refused, the rest
    /// imported; a second run changes nothing.
    Import {
        /// The drive directory.
        path: std::path::PathBuf,
        /// The store to put the data on (default: one with room).
        #[arg(long)]
        store: Option<String>,
        /// Check and print what would be imported; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn emit<T: serde::Serialize>(out: &Out, v: &T) -> Result<()> {
    let v = serde_json::to_value(v)?;
    out.emit_value(&v)
}

fn print_problems(problems: &[librarian_core::DriveProblem]) {
    let mut t = Table::new(&[Align::Left]);
    for p in problems {
        let entry = p.entry.as_deref().map(|e| format!(" entry {e}")).unwrap_or_default();
        let kind = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        t.row([String::new(), kind, format!("{}{entry}: {}", p.name, p.detail)]);
    }
    t.print();
}

/// `sneakernet verify`: needs no site.
pub fn sneakernet_verify(path: &std::path::Path, out: &Out) -> Result<std::process::ExitCode> {
    let bar = crate::progress::Bar::new("verify");
    let report = librarian_core::verify_drive(path, &bar)?;
    if out.json() {
        emit(out, &report)?;
    } else {
        crate::output::put!(
            "drive {} from {} (store {}) to {}: {} files, {} bytes{}",
            report.drive.display(),
            report.site,
            report.store,
            if report.destination.is_empty() { "?" } else { &report.destination },
            report.files,
            report.bytes,
            if report.legacy { " (existing Librarian's manifest)" } else { "" }
        );
        print_problems(&report.problems);
        crate::output::put!("{}", if report.ok { "drive intact" } else { "PROBLEMS FOUND" });
    }
    Ok(if report.ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}

pub fn sneakernet(lib: &Librarian, cmd: &SneakernetCommand, out: &Out) -> Result<std::process::ExitCode> {
    match cmd {
        SneakernetCommand::Export { store, to, dry_run, include_held } => {
            let bar = crate::progress::Bar::new("export");
            let r = lib.sneakernet_export(store, to, *dry_run, *include_held, &bar)?;
            if out.json() {
                emit(out, &r)?;
            } else {
                let verb = if r.dry_run { "would export" } else { "exported" };
                let held = if r.held.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} already held at {} (on the drive, no transfer; --include-held to send them too)",
                        r.held.len(),
                        r.destination
                    )
                };
                crate::output::put!(
                    "{verb} {} files ({} bytes) on store {} for {}: {} to deliver{held}",
                    r.files.len(),
                    r.bytes,
                    r.store,
                    r.destination,
                    r.files.len().saturating_sub(r.held.len() + r.skipped.len()),
                );
                for s in &r.skipped {
                    crate::output::put!("  already on its way by the network (on the drive, no transfer): {s}");
                }
                if !r.dry_run {
                    crate::output::put!(
                        "manifest and checksum lists written in {}; store {} disabled",
                        r.drive.display(),
                        r.store
                    );
                }
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        SneakernetCommand::Verify { path } => sneakernet_verify(path, out),
        SneakernetCommand::Import { path, store, dry_run } => {
            let bar = crate::progress::Bar::new("import");
            let r = lib.sneakernet_import(path, store.as_deref(), *dry_run, &bar)?;
            if out.json() {
                let mut v = serde_json::to_value(&r)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("ok".into(), r.ok().into());
                }
                out.emit_value(&v)?;
            } else {
                let verb = if r.dry_run { "would import" } else { "imported" };
                crate::output::put!(
                    "{verb} {} files from {}; {} already here; {} imported before; {} refused; {} callback(s) queued",
                    r.imported.len(),
                    r.site,
                    r.already_present.len(),
                    r.already_imported.len(),
                    r.refused.len(),
                    r.callbacks_queued
                );
                print_problems(&r.refused);
                if r.manifest_ok == Some(false) {
                    crate::output::put!("  the manifest does not match its digest: it was edited or damaged");
                }
            }
            Ok(if r.ok() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
        }
    }
}

// --- `librarian clone local` (SneakerNet: filling a drive) ---

/// `librarian clone ...` with its exit code: `clone local` exits 1 when a file failed.
pub fn clone_with_exit(lib: &Librarian, cmd: &CloneCommand, out: &Out) -> Result<std::process::ExitCode> {
    let CloneCommand::Local { from, to, not_on, dry_run } = cmd else {
        clone(lib, cmd, out)?;
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let bar = crate::progress::Bar::new("copy");
    let report = lib.clone_local_skipping(from, to, not_on, *dry_run, &bar)?;
    if out.json() {
        let v = serde_json::to_value(&report)?;
        out.emit_value(&v)?;
    } else if *dry_run {
        for name in &report.planned {
            crate::output::put!("{name}");
        }
        eprintln!("{} file(s) would be copied from {from} to {to}", report.planned.len());
        if report.full {
            eprintln!("{to} would then be full: {} file(s) would wait for the next drive", report.left_for_next_drive);
        }
    } else {
        crate::output::put!(
            "copied {} file(s) ({} bytes) from {from} to {to}; {} already there",
            report.copied,
            report.bytes,
            report.already_there
        );
        if report.full {
            crate::output::put!(
                "store {to} is full: {} file(s) wait for the next drive (a store_full event was raised)",
                report.left_for_next_drive
            );
        }
    }
    for (name, why) in &report.failed {
        eprintln!("error: not copied: {name}: {why}");
    }
    Ok(if report.failed.is_empty() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}
