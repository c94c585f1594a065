//! `/metrics`: the site in Prometheus text format (version 0.0.4).

use std::fmt::Write as _;

use crate::error::Result;
use crate::librarian::Librarian;
use crate::model::Severity;
use crate::transfers::{Direction, TransferStatus};

fn family(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Label set `{key="value"}`; values are escaped as the format requires.
fn label(key: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("{{{key}=\"{v}\"}}")
}

/// Render the metrics of `lib`.
pub(crate) fn render(lib: &Librarian) -> Result<String> {
    let status = lib.status()?;
    let mut out = String::new();
    let per_store = |f: &dyn Fn(&crate::model::StoreStatus) -> Option<f64>| -> Vec<(String, f64)> {
        status.stores.iter().filter_map(|s| f(s).map(|v| (label("store", &s.name), v))).collect()
    };
    family(
        &mut out,
        "librarian_files",
        "Files with an instance on the store.",
        "gauge",
        &per_store(&|s| Some(s.files as f64)),
    );
    family(
        &mut out,
        "librarian_bytes",
        "Bytes of the instances on the store.",
        "gauge",
        &per_store(&|s| Some(s.used_bytes as f64)),
    );
    family(
        &mut out,
        "librarian_store_free_bytes",
        "Free bytes on the store's filesystem.",
        "gauge",
        &per_store(&|s| s.free_bytes.map(|b| b as f64)),
    );
    family(
        &mut out,
        "librarian_store_enabled",
        "1 when the store is enabled.",
        "gauge",
        &per_store(&|s| Some(if s.enabled { 1.0 } else { 0.0 })),
    );
    family(
        &mut out,
        "librarian_catalog_files",
        "Files in the catalog.",
        "gauge",
        &[(String::new(), status.files as f64)],
    );
    family(
        &mut out,
        "librarian_catalog_bytes",
        "Bytes of the files in the catalog.",
        "gauge",
        &[(String::new(), status.bytes as f64)],
    );
    let tasks = lib.task_records()?;
    let last_run: Vec<(String, f64)> = tasks
        .iter()
        .filter_map(|t| t.last_finished.map(|f| (label("task", &t.task), f.as_millisecond() as f64 / 1000.0)))
        .collect();
    family(
        &mut out,
        "librarian_task_last_run_timestamp_seconds",
        "When the task last finished (Unix time).",
        "gauge",
        &last_run,
    );
    let last_ok: Vec<(String, f64)> =
        tasks.iter().filter_map(|t| t.last_ok.map(|ok| (label("task", &t.task), if ok { 1.0 } else { 0.0 }))).collect();
    family(&mut out, "librarian_task_last_success", "1 when the task's last run succeeded.", "gauge", &last_ok);
    let transfers = lib.site().catalog().transfer_counts()?;
    let mut by_state = Vec::new();
    for d in [Direction::Outgoing, Direction::Incoming] {
        for s in TransferStatus::ALL {
            let n = transfers.iter().find(|(td, ts, _)| *td == d && *ts == s).map_or(0, |(_, _, n)| *n);
            let labels = format!("{{direction=\"{}\",status=\"{}\"}}", d.as_str(), s.as_str());
            by_state.push((labels, n as f64));
        }
    }
    family(&mut out, "librarian_transfers", "Transfers by direction and status.", "gauge", &by_state);
    let counts = lib.site().catalog().open_event_counts()?;
    let open: Vec<(String, f64)> = Severity::ALL
        .iter()
        .map(|sev| {
            let n = counts.iter().find(|(s, _)| s == sev).map_or(0, |(_, n)| *n);
            (label("severity", sev.as_str()), n as f64)
        })
        .collect();
    family(&mut out, "librarian_events_open", "Events not yet cleared, by severity.", "gauge", &open);
    let outbox = lib.site().catalog().outbox_peers()?;
    let now = jiff::Timestamp::now();
    let pending: Vec<(String, f64)> = outbox.iter().map(|q| (label("peer", &q.peer), q.calls as f64)).collect();
    family(&mut out, "librarian_outbox_calls", "Calls queued for the peer, not yet acknowledged.", "gauge", &pending);
    let oldest: Vec<(String, f64)> =
        outbox.iter().map(|q| (label("peer", &q.peer), now.duration_since(q.oldest).as_secs_f64().max(0.0))).collect();
    family(
        &mut out,
        "librarian_outbox_oldest_age_seconds",
        "Age of the oldest call queued for the peer.",
        "gauge",
        &oldest,
    );
    Ok(out)
}
