//! The data life-cycle on the command line: the scrub (`verify --budget`), a peer's
//! re-verification (`verify --remote`), `drop` and `rolling-deletion`.

use std::process::ExitCode;

use librarian_core::{
    Budget, DeletionAction, DeletionReport, FileName, FileVerification, Librarian, RepairReport, ScrubOptions,
    ScrubReport, parse_budget, parse_size,
};

use crate::error::Result;
use crate::output::{Out, bytes, say, status_word};
use crate::progress;

/// `verify --budget ...`: one scrub run; exit 1 when it found a damaged copy or a
/// damaged catalog.
pub fn scrub(
    lib: &Librarian,
    budgets: &[String],
    max_rate: Option<&str>,
    store: Option<&str>,
    out: &Out,
) -> Result<ExitCode> {
    let mut opts = ScrubOptions { store: store.map(str::to_owned), ..ScrubOptions::default() };
    for b in budgets {
        match parse_budget(b)? {
            Budget::Bytes(n) => opts.budget_bytes = Some(n),
            Budget::Time(t) => opts.budget_time = Some(t),
        }
    }
    opts.max_rate = max_rate.map(parse_size).transpose()?;
    let bar = progress::Bar::new("scrub");
    let report = lib.scrub(&opts, &bar)?;
    print_scrub(&report, out)?;
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_scrub(r: &ScrubReport, out: &Out) -> Result<()> {
    if out.json() {
        return out.emit_value(&serde_json::to_value(r)?);
    }
    for c in &r.problems {
        let word = status_word(c.status);
        say!("{word:<17} {} (store {}, {}) now {}", c.name, c.store, c.path.display(), c.state);
        for p in &c.problems {
            say!("    entry {}: {}", p.entry, p.problem.as_str());
        }
        if let Some(e) = &c.error {
            say!("    {e}");
        }
    }
    if !r.catalog.ok {
        say!("CATALOG DAMAGED    {} failed PRAGMA quick_check", r.catalog.database.display());
    }
    for u in &r.unreachable {
        say!("UNREACHABLE        {u}");
    }
    let rate = if r.seconds > 0.0 { r.bytes as f64 / r.seconds } else { 0.0 };
    say!(
        "scrubbed {} cop{} ({}) in {:.1} s ({}/s); stopped: {}; {} damaged",
        r.instances,
        if r.instances == 1 { "y" } else { "ies" },
        bytes(r.bytes),
        r.seconds,
        bytes(rate as u64),
        r.stopped.as_str(),
        r.problems.len()
    );
    for c in &r.coverage {
        let oldest = c.oldest_verified_at.map_or_else(|| "never".to_owned(), |t| t.to_string());
        say!(
            "  store {}: {:.1}% of {} re-read within the target, {} overdue, oldest check {oldest}{}",
            c.store,
            c.covered * 100.0,
            bytes(c.bytes),
            c.overdue_instances,
            if c.damaged > 0 { format!(", {} damaged", c.damaged) } else { String::new() }
        );
    }
    if !r.problems.is_empty() {
        eprintln!("librarian: the scrub found {} damaged cop(ies); see `librarian events list`", r.problems.len());
    }
    Ok(())
}

/// `verify --remote PEER NAME...`: the peer re-reads its copies; exit 1 unless every
/// file has an intact copy there.
pub fn verify_remote(lib: &Librarian, peer: &str, names: &[FileName], out: &Out) -> Result<ExitCode> {
    let answers = lib.verify_remote(peer, names)?;
    let ok = answers.iter().all(FileVerification::intact);
    if out.json() {
        out.emit_value(&serde_json::json!({ "peer": peer, "ok": ok, "files": answers }))?;
    } else {
        for f in &answers {
            if !f.present {
                say!("NOT THERE         {} (peer {peer} does not catalogue it)", f.name);
                continue;
            }
            if f.copies.is_empty() {
                say!("NO COPY           {} (peer {peer} holds no copy it could read)", f.name);
            }
            for c in &f.copies {
                let word = status_word(c.status);
                say!("{word:<17} {} (peer {peer}, store {}, verified {})", f.name, c.store, f.verified_at);
            }
        }
        let bad = answers.iter().filter(|f| !f.intact()).count();
        if bad > 0 {
            eprintln!("librarian: peer {peer} has no intact copy of {bad} of {} file(s)", answers.len());
        } else {
            say!("{} file(s) re-verified intact at {peer}", answers.len());
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `rolling-deletion`: one report (`single`: `--store` given; JSON: the report), or
/// one per store (JSON: an array of reports); exit 1 when something went wrong.
pub fn deletions(reports: &[DeletionReport], single: bool, out: &Out) -> Result<ExitCode> {
    let failed = reports.iter().any(|r| !r.problems.is_empty());
    match reports {
        [one] if single => return deletion(one, out),
        _ if out.json() => out.emit_value(&serde_json::to_value(reports)?)?,
        _ => {
            for r in reports {
                deletion(r, out)?;
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Print a deletion plan or report; exit 1 when something went wrong on the way.
pub fn deletion(r: &DeletionReport, out: &Out) -> Result<ExitCode> {
    if out.json() {
        out.emit_value(&serde_json::to_value(r)?)?;
    } else {
        for i in &r.items {
            let word = match (i.action, i.done, r.dry_run) {
                (DeletionAction::Delete, true, _) => "deleted",
                (DeletionAction::Delete, false, true) => "would delete",
                (DeletionAction::Delete, false, false) => "kept",
                (DeletionAction::Keep, _, _) => "keep",
                (DeletionAction::Verify, _, _) => "ask peers",
            };
            say!("{word:<13} {} (store {}, {}): {}", i.name, i.store, bytes(i.size), i.reason);
        }
        if r.dry_run && !r.peers_asked.is_empty() {
            say!("would ask {} to re-verify their copies first", r.peers_asked.join(", "));
        }
        for p in &r.problems {
            say!("problem: {p}");
        }
        let verb = if r.dry_run { "would delete" } else { "deleted" };
        let n = if r.dry_run {
            r.items.iter().filter(|i| i.action == DeletionAction::Delete).count() as u64
        } else {
            r.deleted
        };
        say!(
            "store {}: {verb} {n} of {} cop(ies) considered (min {} verified remote copies){}",
            r.store,
            r.items.len(),
            r.min_copies,
            if r.dry_run { "; dry run: nothing changed" } else { "" }
        );
    }
    Ok(if r.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Print what a repair did; exit 1 when a copy stays damaged.
pub fn repair(r: &RepairReport, out: &Out) -> Result<ExitCode> {
    if out.json() {
        out.emit_value(&serde_json::to_value(r)?)?;
    } else {
        for c in &r.repaired {
            say!("repaired {} on store {} (was {}) from {}", r.name, c.store, c.was, c.from);
        }
        for f in &r.failed {
            say!("NOT REPAIRED {} on store {}: {}", r.name, f.store, f.reason);
        }
        if r.repaired.is_empty() && r.failed.is_empty() {
            say!("{}: no damaged copy to repair", r.name);
        }
    }
    Ok(if r.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What `rebuild --from-stores` restored; exit 1 when something was left out.
pub fn rebuilt(r: &librarian_core::RebuildReport, out: &Out) -> Result<ExitCode> {
    if out.json() {
        out.emit_value(&serde_json::to_value(r)?)?;
    } else {
        if let Some(old) = &r.moved_aside {
            say!("the old catalog is kept at {}", old.display());
        }
        for (t, n) in &r.salvaged {
            say!("salvaged {n} row(s) of {t} from it");
        }
        for (t, why) in &r.not_salvaged {
            say!("could not salvage {t}: {why}");
        }
        for (p, why) in &r.skipped {
            say!("SKIPPED {}: {why}", p.display());
        }
        say!(
            "rebuilt {}: {} file(s), {} book(s), {} in store(s) {}{}",
            r.database.display(),
            r.files,
            r.books,
            bytes(r.bytes),
            r.stores.join(", "),
            if r.extra_copies > 0 { format!("; {} second cop(ies)", r.extra_copies) } else { String::new() }
        );
        say!("next: re-add peers if they were not salvaged, then `librarian rebuild --remote PEER` for each");
    }
    Ok(if r.skipped.is_empty() && r.not_salvaged.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What `rebuild --remote PEER` restored.
pub fn restored(peer: &str, asked: u64, intact: u64, out: &Out) -> Result<ExitCode> {
    if out.json() {
        out.emit_value(&serde_json::json!({ "peer": peer, "files": asked, "intact_at_peer": intact }))?;
    } else {
        say!("peer {peer} holds intact copies of {intact} of {asked} file(s); their remote instances are restored");
    }
    Ok(ExitCode::SUCCESS)
}
