//! `librarian alerts ...`: what waits for the `[alerts]` sinks, and a test alert to
//! check a sink (a Slack URL, a paging script) works.

use std::process::ExitCode;

use clap::Subcommand;
use librarian_core::{AlertDelivery, Librarian, SinkTest};

use crate::error::Result;
use crate::output::Out;
use crate::table::{Align, Table};

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Send a test alert (severity info) to every sink now, or to one, whatever its
    /// min_severity, queue and rate limit, and say how each answered; exit 1 if one
    /// did not accept it. Nothing is recorded.
    Test {
        /// Only the sink with this name (see `config show --defaults` for the names).
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
    },
    /// List alerts waiting for their sink (queued, or failing: attempts and last
    /// error), oldest first; the deliver-alerts task sends them.
    List {
        /// Also list the alerts already delivered.
        #[arg(long)]
        all: bool,
    },
}

pub fn alerts(lib: &Librarian, cmd: &AlertsCommand, out: &Out) -> Result<ExitCode> {
    match cmd {
        AlertsCommand::Test { sink } => {
            let results = lib.test_alerts(sink.as_deref())?;
            tested(out, &results)?;
            Ok(if results.iter().all(|r| r.delivered) { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AlertsCommand::List { all } => {
            list(out, &lib.alerts(*all)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn tested(out: &Out, results: &[SinkTest]) -> Result<()> {
    if out.json() {
        return out.emit_value(&serde_json::to_value(results)?);
    }
    let mut t = Table::new(&[]);
    for r in results {
        let outcome = match &r.error {
            None => "delivered".to_owned(),
            Some(why) => format!("FAILED: {why}"),
        };
        t.row([r.sink.as_str(), r.kind, outcome.as_str()]);
    }
    t.print();
    Ok(())
}

fn list(out: &Out, alerts: &[AlertDelivery]) -> Result<()> {
    if out.json() {
        return out.emit_value(&serde_json::to_value(alerts)?);
    }
    let mut t = Table::new(&[Align::Right]);
    for a in alerts {
        let state = match (a.delivered_at, &a.last_error) {
            (Some(at), _) => format!("delivered {at}"),
            (None, Some(e)) => format!("attempts {}, next {}, last error: {e}", a.attempts, a.next_attempt_at),
            (None, None) => format!("queued {}", a.created_at),
        };
        t.row([
            a.id.to_string(),
            a.sink.clone(),
            a.kind.to_string(),
            format!("event {}", a.event),
            a.severity.to_string(),
            a.category.to_string(),
            a.subject.clone(),
            state,
        ]);
    }
    t.print();
    if alerts.is_empty() {
        eprintln!("no alerts waiting");
    }
    Ok(())
}
