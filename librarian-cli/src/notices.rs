//! `librarian outbox ...` (calls queued for peers) and `librarian events ...` (what an
//! operator must know).

use clap::Subcommand;
use librarian_core::{Event, Librarian, OutboxCall};

use crate::error::Result;
use crate::output::Out;
use crate::table::{Align, Table};

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// List calls waiting to be delivered to peers, oldest first.
    List {
        /// Only the calls to this peer.
        #[arg(long)]
        peer: Option<String>,
    },
    /// Make waiting calls due now, skipping their backoff (e.g. when a peer is back);
    /// the next `tasks run` delivers them.
    Retry {
        /// Only the calls to this peer.
        #[arg(long)]
        peer: Option<String>,
    },
    /// Drop a call the peer will never accept (it holds the peer's later calls); a
    /// `call_refused` event records it.
    Drop {
        /// The call's id (from `outbox list`).
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// List open events, newest first (exit 0 even when there are some).
    List {
        /// Also list cleared events.
        #[arg(long)]
        all: bool,
    },
    /// Clear an open event once it has been dealt with.
    Clear {
        /// The event's id (from `events list`).
        id: i64,
    },
}

pub fn outbox(lib: &Librarian, cmd: &OutboxCommand, out: &Out) -> Result<()> {
    match cmd {
        OutboxCommand::List { peer } => calls(out, &lib.outbox(peer.as_deref())?),
        // One call, as Python's `drop_call` returns it: one object under --json.
        OutboxCommand::Drop { id } => {
            let call = lib.drop_call(*id)?;
            if out.json() {
                return out.emit_value(&serde_json::to_value(&call)?);
            }
            calls(out, std::slice::from_ref(&call))
        }
        OutboxCommand::Retry { peer } => {
            let n = lib.retry_outbox(peer.as_deref())?;
            if out.json() {
                return out.emit_value(&serde_json::json!({ "rescheduled": n }));
            }
            crate::output::put!("{n} call{} due now", if n == 1 { "" } else { "s" });
            Ok(())
        }
    }
}

/// Print queued calls.
pub fn calls(out: &Out, calls: &[OutboxCall]) -> Result<()> {
    if out.json() {
        let v = serde_json::to_value(calls)?;
        return out.emit_value(&v);
    }
    let mut t = Table::new(&[Align::Right]);
    for c in calls {
        let why = c.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default();
        t.row([
            c.id.to_string(),
            c.peer.clone(),
            c.kind.to_string(),
            format!("key {}", c.key),
            format!("attempts {}", c.attempts),
            format!("next {}{why}", c.next_attempt_at),
        ]);
    }
    t.print();
    if calls.is_empty() {
        eprintln!("the outbox is empty");
    }
    Ok(())
}

pub fn events(lib: &Librarian, cmd: &EventsCommand, out: &Out) -> Result<()> {
    match cmd {
        EventsCommand::List { all } => list(out, &lib.events(*all)?),
        // One event, as Python's `clear_event` returns it: one object under --json.
        EventsCommand::Clear { id } => {
            let event = lib.clear_event(*id)?;
            if out.json() {
                return out.emit_value(&serde_json::to_value(&event)?);
            }
            list(out, std::slice::from_ref(&event))
        }
    }
}

fn list(out: &Out, events: &[Event]) -> Result<()> {
    if out.json() {
        let v = serde_json::to_value(events)?;
        return out.emit_value(&v);
    }
    let mut t = Table::new(&[Align::Right]);
    for e in events {
        let cleared = e.cleared_at.map(|t| format!("  cleared {t}")).unwrap_or_default();
        let times = if e.count > 1 { format!(" (x{}, last {})", e.count, e.last_seen_at) } else { String::new() };
        t.row([
            e.id.to_string(),
            e.severity.to_string(),
            e.category.to_string(),
            e.subject.clone(),
            format!("{}{times}{cleared}", e.created_at),
        ]);
        t.free(&format!("        {}", e.message));
    }
    t.print();
    if events.is_empty() {
        eprintln!("no events");
    }
    Ok(())
}
