//! What `librarian import-original` prints.

use std::process::ExitCode;

use librarian_core::{ImportTally, InFlightAction, OriginalImportReport};

use crate::error::Result;
use crate::output::{Out, say};

fn tally(t: &ImportTally) -> String {
    format!(
        "{} store(s), {} peer(s), {} account(s), {} file(s) ({} book(s)), {} instance(s), {} remote instance(s), \
         {} transfer(s), {} event(s)",
        t.stores, t.peers, t.accounts, t.files, t.books, t.instances, t.remote_instances, t.transfers, t.events
    )
}

/// The report; exit 1 when the import was (or would be) refused.
pub fn report(r: &OriginalImportReport, out: &Out) -> Result<ExitCode> {
    if out.json() {
        out.emit_value(&serde_json::to_value(r)?)?;
    } else {
        let site = r.original_site.as_deref().map(|s| format!(" (site {s})")).unwrap_or_default();
        say!("source: {}{site}, schema {}", r.source, r.alembic_version);
        for s in &r.skipped {
            say!("SKIPPED {} {}: {}", s.table, s.row, s.reason);
        }
        for f in &r.in_flight {
            let action = match f.action {
                InFlightAction::Resumed => "RESUMED",
                InFlightAction::Failed => "FAILED",
                InFlightAction::NotCarried => "NOT CARRIED",
            };
            say!(
                "{action} {} transfer {} of {} ({}, {}): {}",
                f.direction,
                f.original_id,
                f.file,
                f.party,
                f.status,
                f.detail
            );
        }
        for (what, n) in &r.not_carried {
            say!("not carried over: {n} {what}");
        }
        for n in &r.notes {
            say!("note: {n}");
        }
        for c in &r.conflicts {
            say!("CONFLICT {} {}: this site holds {}, the original {}", c.kind, c.name, c.existing, c.incoming);
        }
        let states: Vec<String> = r.instance_states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let verb = if r.dry_run { "would add" } else { "added" };
        say!("{verb}: {}", tally(&r.added));
        if !states.is_empty() {
            say!("instances {verb}: {}", states.join(", "));
        }
        say!("already here: {}", tally(&r.present));
        if r.dry_run && !r.conflicts.is_empty() {
            say!("the import would be refused: {} conflict(s); nothing was written", r.conflicts.len());
        } else if r.dry_run {
            say!("dry run: nothing was written");
        }
    }
    Ok(if r.conflicts.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
