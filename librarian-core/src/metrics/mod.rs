//! The site in Prometheus text format (version 0.0.4): what the server's `/metrics`
//! answers, and what `tasks run` writes to the `[alerts] textfile` for node_exporter's
//! textfile collector ([`textfile`]). Samples carry no timestamps.

pub(crate) mod textfile;

use std::fmt::Write as _;

use crate::error::Result;
use crate::model::{Severity, TaskKind};
use crate::site::Site;
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

/// Render the metrics of `site`.
pub(crate) fn render(site: &Site) -> Result<String> {
    let status = crate::stores::status(site)?;
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
    // Every task, every peer: a family is there (at 0) before anything happened, so a
    // dashboard or an alert never waits for a first sample.
    let tasks = site.catalog().task_records()?;
    let record = |k: TaskKind| tasks.iter().find(|t| t.task == k.as_str());
    let last_run: Vec<(String, f64)> = TaskKind::ALL
        .iter()
        .map(|k| {
            let at = record(*k).and_then(|t| t.last_finished).map_or(0.0, |f| f.as_millisecond() as f64 / 1000.0);
            (label("task", k.as_str()), at)
        })
        .collect();
    family(
        &mut out,
        "librarian_task_last_run_timestamp_seconds",
        "When the task last finished (Unix time; 0: never).",
        "gauge",
        &last_run,
    );
    let last_ok: Vec<(String, f64)> = TaskKind::ALL
        .iter()
        .map(|k| {
            let ok = record(*k).and_then(|t| t.last_ok).unwrap_or(false);
            (label("task", k.as_str()), if ok { 1.0 } else { 0.0 })
        })
        .collect();
    family(
        &mut out,
        "librarian_task_last_success",
        "1 when the task's last run succeeded (0: failed, or never ran).",
        "gauge",
        &last_ok,
    );
    let transfers = site.catalog().transfer_counts()?;
    let mut by_state = Vec::new();
    for d in [Direction::Outgoing, Direction::Incoming] {
        for s in TransferStatus::ALL {
            let n = transfers.iter().find(|(td, ts, _)| *td == d && *ts == s).map_or(0, |(_, _, n)| *n);
            let labels = format!("{{direction=\"{}\",status=\"{}\"}}", d.as_str(), s.as_str());
            by_state.push((labels, n as f64));
        }
    }
    family(&mut out, "librarian_transfers", "Transfers by direction and status.", "gauge", &by_state);
    let counts = site.catalog().open_event_counts()?;
    let open: Vec<(String, f64)> = Severity::ALL
        .iter()
        .map(|sev| {
            let n = counts.iter().find(|(s, _)| s == sev).map_or(0, |(_, n)| *n);
            (label("severity", sev.as_str()), n as f64)
        })
        .collect();
    family(&mut out, "librarian_events_open", "Events not yet cleared, by severity.", "gauge", &open);
    let done = site.catalog().completed_totals()?;
    let per_direction = |bytes: bool| -> Vec<(String, f64)> {
        [Direction::Outgoing, Direction::Incoming]
            .iter()
            .map(|d| {
                let (files, b) = done.iter().find(|(td, _, _)| td == d).map_or((0, 0), |(_, f, b)| (*f, *b));
                (label("direction", d.as_str()), if bytes { b as f64 } else { files as f64 })
            })
            .collect()
    };
    family(
        &mut out,
        "librarian_transferred_files_total",
        "Files whose transfer completed, by direction.",
        "counter",
        &per_direction(false),
    );
    family(
        &mut out,
        "librarian_transferred_bytes_total",
        "Bytes of the files whose transfer completed, by direction.",
        "counter",
        &per_direction(true),
    );
    let peers = crate::access::peers(site)?;
    let mut backlog_files = Vec::new();
    let mut backlog_bytes = Vec::new();
    for p in &peers {
        let b = crate::transfers::receive::peer_backlog(site, &p.name)?;
        backlog_files.push((label("peer", &p.name), b.files_without_copy as f64));
        backlog_bytes.push((label("peer", &p.name), b.bytes_without_copy as f64));
    }
    family(
        &mut out,
        "librarian_backlog_files",
        "Files a send round may offer the peer (its [clone.to] filters applied) that it has no copy of.",
        "gauge",
        &backlog_files,
    );
    family(&mut out, "librarian_backlog_bytes", "Bytes of those files.", "gauge", &backlog_bytes);
    let outbox = site.catalog().outbox_peers()?;
    let now = jiff::Timestamp::now();
    let queue = |peer: &str| outbox.iter().find(|q| q.peer == peer);
    let pending: Vec<(String, f64)> =
        peers.iter().map(|p| (label("peer", &p.name), queue(&p.name).map_or(0.0, |q| q.calls as f64))).collect();
    family(&mut out, "librarian_outbox_calls", "Calls queued for the peer, not yet acknowledged.", "gauge", &pending);
    let oldest: Vec<(String, f64)> = peers
        .iter()
        .map(|p| {
            let age = queue(&p.name).map_or(0.0, |q| now.duration_since(q.oldest).as_secs_f64().max(0.0));
            (label("peer", &p.name), age)
        })
        .collect();
    family(
        &mut out,
        "librarian_outbox_oldest_age_seconds",
        "Age of the oldest call queued for the peer (0: none queued).",
        "gauge",
        &oldest,
    );
    scrub_families(&mut out, site, now)?;
    // Every configured sink, at 0 when nothing waits (no families without sinks).
    let alerts = site.catalog().alert_queues()?;
    let sinks = site.config().alerts.sinks(site.config_path());
    if !sinks.is_empty() {
        alert_families(&mut out, &sinks, &alerts, now);
    }
    family(
        &mut out,
        "librarian_build_info",
        "1, labelled with the version of librarian serving.",
        "gauge",
        &[(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1.0)],
    );
    Ok(out)
}

/// The scrub: per store, how old its least recently verified copy is, what is past
/// the coverage target, what is damaged; and what all scrubs have read and found.
fn scrub_families(out: &mut String, site: &Site, now: jiff::Timestamp) -> Result<()> {
    let coverage = crate::scrub::coverage(site)?;
    let per = |f: &dyn Fn(&crate::model::StoreCoverage) -> f64| -> Vec<(String, f64)> {
        coverage.iter().map(|c| (label("store", &c.store), f(c))).collect()
    };
    family(
        out,
        "librarian_scrub_oldest_verified_age_seconds",
        "Seconds since the store's least recently verified copy was last re-read (0: none).",
        "gauge",
        &per(&|c| c.oldest_verified_at.map_or(0.0, |t| now.duration_since(t).as_secs_f64().max(0.0))),
    );
    family(
        out,
        "librarian_scrub_overdue_bytes",
        "Bytes of the store's copies not re-read within [scrub] cover_every.",
        "gauge",
        &per(&|c| c.overdue_bytes as f64),
    );
    family(
        out,
        "librarian_scrub_covered_ratio",
        "Fraction of the store's bytes re-read within [scrub] cover_every.",
        "gauge",
        &per(&|c| c.covered),
    );
    family(
        out,
        "librarian_instances_damaged",
        "Copies on the store found corrupt or missing, waiting for a repair.",
        "gauge",
        &per(&|c| c.damaged as f64),
    );
    let counters = site.catalog().counters()?;
    let counter = |name: &str| counters.iter().find(|(n, _)| n == name).map_or(0.0, |(_, v)| *v as f64);
    for (metric, name, help) in [
        ("librarian_scrub_bytes_total", crate::scrub::SCRUB_BYTES, "Bytes re-read by scrubs."),
        ("librarian_scrub_instances_total", crate::scrub::SCRUB_INSTANCES, "Copies re-read by scrubs."),
        ("librarian_scrub_problems_total", crate::scrub::SCRUB_PROBLEMS, "Damaged copies found by scrubs."),
    ] {
        family(out, metric, help, "counter", &[(String::new(), counter(name))]);
    }
    Ok(())
}

fn alert_families(
    out: &mut String,
    sinks: &[crate::config::AlertSink],
    alerts: &[crate::catalog::AlertQueue],
    now: jiff::Timestamp,
) {
    let waiting = |sink: &str| alerts.iter().find(|q| q.sink == sink);
    let queued: Vec<(String, f64)> =
        sinks.iter().map(|s| (label("sink", &s.name), waiting(&s.name).map_or(0.0, |q| q.alerts as f64))).collect();
    family(out, "librarian_alerts_queued", "Alerts queued for the sink, not yet delivered.", "gauge", &queued);
    let oldest_alert: Vec<(String, f64)> = sinks
        .iter()
        .map(|s| {
            let age = waiting(&s.name).map_or(0.0, |q| now.duration_since(q.oldest).as_secs_f64().max(0.0));
            (label("sink", &s.name), age)
        })
        .collect();
    family(
        out,
        "librarian_alerts_oldest_age_seconds",
        "Age of the oldest alert queued for the sink (0: none queued).",
        "gauge",
        &oldest_alert,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Librarian, Password};

    #[test]
    fn every_family_has_samples_on_a_fresh_site() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        let pw = Password::new("pw-at-b".into()).expect("password");
        lib.add_peer("site-b", "https://b.example:8443", "site-a", &pw).expect("peer");
        let text = render(lib.site()).expect("render");
        assert!(!text.contains("librarian_alerts_"), "no sink, no alert families:\n{text}");
        let config = std::fs::read_to_string(lib.config_path()).expect("config");
        let sink = "[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://hooks.example/x\"\nformat = \"json\"\n";
        std::fs::write(lib.config_path(), format!("{config}{sink}")).expect("config");
        let lib = Librarian::open(lib.config_path()).expect("reopen");
        let text = render(lib.site()).expect("render");
        for line in [
            "librarian_task_last_run_timestamp_seconds{task=\"clone-local\"} 0",
            "librarian_task_last_success{task=\"send-clones\"} 0",
            "librarian_outbox_calls{peer=\"site-b\"} 0",
            "librarian_outbox_oldest_age_seconds{peer=\"site-b\"} 0",
            "librarian_backlog_files{peer=\"site-b\"} 0",
            "librarian_backlog_bytes{peer=\"site-b\"} 0",
            "librarian_transferred_files_total{direction=\"incoming\"} 0",
            "librarian_transferred_bytes_total{direction=\"outgoing\"} 0",
            "librarian_alerts_queued{sink=\"ops\"} 0",
            "librarian_alerts_oldest_age_seconds{sink=\"ops\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{text}");
        }
        // Every `# TYPE` line is followed by at least one sample.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(lines.get(i + 1).is_some_and(|n| n.starts_with(name)), "{name} has no sample:\n{text}");
            }
        }
    }
}
