//! Alerts: events sent to the sinks of `[alerts]` (webhooks and command hooks), so
//! an operator hears about trouble without watching `events list`.
//!
//! The `deliver-alerts` task first queues what each sink is owed (one `open` alert
//! per open event at or above the sink's `min_severity`, and one `cleared` alert per
//! such event once it is cleared; a repeat of an open event only counts, so it owes
//! nothing new), then sends each sink's queue in order. A failure (no answer, a
//! refusal, a timeout, a non-zero exit) stops that sink's queue for this run: its
//! first alert is retried after a backoff that doubles up to `retry_max`, and the
//! others wait their turn, so order is kept and a dead sink costs one attempt per
//! backoff. A sink is sent at most `max_per_hour` alerts in any hour; the rest wait,
//! never dropped. An alert is marked delivered as soon as its sink accepts it, and
//! is never sent again after that.

mod send;

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::config::AlertSink;
use crate::error::{Error, Result};
use crate::model::{AlertBody, AlertDelivery, SinkTest};
use crate::site::Site;

use send::Sender;

/// The window of a sink's `max_per_hour`.
const RATE_WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// What one `deliver-alerts` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertReport {
    /// Sinks configured.
    pub sinks: u64,
    /// Alerts queued in this run.
    pub queued: u64,
    /// Alerts the sinks accepted.
    pub delivered: u64,
    /// Attempts that failed (each postpones its sink's queue).
    pub failed: u64,
    /// Alerts still queued after the run.
    pub waiting: u64,
    /// Sinks whose deliveries are failing: in this run, or still in the backoff of an
    /// earlier failure (`tasks run` reports the task `degraded`).
    pub failing_sinks: Vec<String>,
    /// Sinks that reached their `max_per_hour`; their alerts wait.
    pub limited_sinks: Vec<String>,
}

impl fmt::Display for AlertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sinks == 0 {
            return f.write_str("no alert sinks configured");
        }
        write!(
            f,
            "queued {}, delivered {}, failed {}, waiting {}",
            self.queued, self.delivered, self.failed, self.waiting
        )?;
        if !self.limited_sinks.is_empty() {
            write!(f, "; at their max_per_hour: {}", self.limited_sinks.join(", "))?;
        }
        Ok(())
    }
}

/// The `deliver-alerts` task: queue what each sink is owed, then send what is due.
pub(crate) fn deliver_alerts(site: &Site) -> Result<AlertReport> {
    let settings = &site.config().alerts;
    let sinks = settings.sinks(site.config_path());
    let mut report = AlertReport { sinks: sinks.len() as u64, ..AlertReport::default() };
    if sinks.is_empty() {
        return Ok(report);
    }
    let owed: Vec<_> = sinks.iter().map(|s| (s.name.clone(), s.min_severity)).collect();
    report.queued = site.catalog().queue_alerts(&owed, Timestamp::now())?;
    let sender = Sender::new(site);
    for sink in &sinks {
        deliver_to(site, &sender, sink, &mut report)?;
    }
    let configured = |q: &&crate::catalog::AlertQueue| sinks.iter().any(|s| s.name == q.sink);
    report.waiting = site.catalog().alert_queues()?.iter().filter(configured).map(|q| q.alerts).sum();
    Ok(report)
}

/// Send `sink`'s due alerts in order, within its rate limit, until one fails.
fn deliver_to(site: &Site, sender: &Sender, sink: &AlertSink, report: &mut AlertReport) -> Result<()> {
    let now = Timestamp::now();
    let since = now.checked_sub(RATE_WINDOW).unwrap_or(now);
    let sent = site.catalog().alerts_sent_since(&sink.name, since)?;
    let budget = u64::from(sink.max_per_hour).saturating_sub(sent);
    // One more than the budget: to tell "sent all" from "stopped at the limit".
    let limit = usize::try_from(budget.saturating_add(1)).unwrap_or(usize::MAX);
    let queue = site.catalog().queued_alerts(&sink.name, limit)?;
    match queue.first() {
        None => return Ok(()),
        // Only a failed attempt puts the head of a queue in the future.
        Some((head, _)) if head.next_attempt_at > now => {
            report.failing_sinks.push(sink.name.clone());
            return Ok(());
        }
        Some(_) => {}
    }
    let mut left = budget;
    for (alert, event) in &queue {
        if left == 0 {
            report.limited_sinks.push(sink.name.clone());
            log::warn!("alerts to {} wait: {} sent in the last hour (max_per_hour)", sink.name, sink.max_per_hour);
            break;
        }
        let body = AlertBody::of(&site.config().name, event, alert.kind);
        match sender.send(sink, &body) {
            Ok(()) => {
                site.catalog().alert_delivered(alert.id, Timestamp::now())?;
                report.delivered += 1;
                left -= 1;
            }
            Err(why) => {
                let failed_at = Timestamp::now();
                let next = failed_at.checked_add(site.config().alerts.backoff(alert.attempts)).unwrap_or(failed_at);
                site.catalog().alert_postponed(alert.id, next, &why)?;
                report.failed += 1;
                report.failing_sinks.push(sink.name.clone());
                log::warn!(
                    "alert {} ({} event {}) to {} postponed until {next}: {why}",
                    alert.id,
                    alert.kind,
                    alert.event,
                    sink.name
                );
                break;
            }
        }
    }
    Ok(())
}

/// Alerts not delivered yet (with `all`, also those delivered), oldest first.
pub(crate) fn alerts(site: &Site, all: bool) -> Result<Vec<AlertDelivery>> {
    site.catalog().alert_deliveries(all)
}

/// Send a test alert (severity `info`) to every sink, or to the one named `only`,
/// now, whatever its `min_severity`, queue and rate limit; nothing is recorded.
/// Returns how each sink answered.
pub(crate) fn test_alerts(site: &Site, only: Option<&str>) -> Result<Vec<SinkTest>> {
    let sinks = site.config().alerts.sinks(site.config_path());
    if sinks.is_empty() {
        return Err(Error::invalid(
            "sink",
            "no alert sinks are configured: add [[alerts.webhook]] or [[alerts.command]] to the configuration \
             (docs/operations.md, \"Alerts\")",
        ));
    }
    let chosen: Vec<&AlertSink> = sinks.iter().filter(|s| only.is_none_or(|n| n == s.name)).collect();
    if chosen.is_empty() {
        let names: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::invalid(
            "sink",
            format!("no alert sink is named {:?}; the sinks are: {}", only.unwrap_or_default(), names.join(", ")),
        ));
    }
    let sender = Sender::new(site);
    Ok(chosen
        .into_iter()
        .map(|sink| {
            let body = AlertBody::test(&site.config().name, &sink.name, Timestamp::now());
            let result = sender.send(sink, &body);
            SinkTest { sink: sink.name.clone(), kind: sink.kind(), delivered: result.is_ok(), error: result.err() }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;
    use crate::model::{AlertKind, Category, NewEvent, Severity};

    /// A site whose sinks are command hooks appending each alert's JSON as a line to
    /// `<tmp>/<name>.log`, failing while `<tmp>/fail` exists.
    struct Fixture {
        dir: tempfile::TempDir,
        lib: Librarian,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
            Fixture { dir, lib }
        }

        /// Configure `sinks` (name, min_severity, max_per_hour) and reopen.
        fn configure(&mut self, sinks: &[(&str, &str, u32)], retry_initial: &str) {
            let mut text = std::fs::read_to_string(self.lib.config_path()).expect("config");
            text.push_str(&format!("[alerts]\nretry_initial = \"{retry_initial}\"\n"));
            let fail = self.dir.path().join("fail");
            for (name, least, max) in sinks {
                let log = self.dir.path().join(format!("{name}.log"));
                let script = "test ! -e \"$0\" || { echo down >&2; exit 1; }; cat >> \"$1\"; echo >> \"$1\"";
                text.push_str(&format!(
                    "[[alerts.command]]\nname = \"{name}\"\nmin_severity = \"{least}\"\nmax_per_hour = {max}\n\
                     argv = [\"/bin/sh\", \"-c\", {script:?}, {:?}, {:?}]\n",
                    fail.display().to_string(),
                    log.display().to_string()
                ));
            }
            std::fs::write(self.lib.config_path(), text).expect("config");
            self.lib = Librarian::open(self.lib.config_path()).expect("reopen");
        }

        fn raise(&self, severity: Severity, subject: &str) -> i64 {
            let e = NewEvent {
                severity,
                category: Category::PeerUnreachable,
                subject: subject.into(),
                message: format!("{subject} does not answer"),
            };
            self.lib.raise_event(&e).expect("raise").id
        }

        fn deliver(&self) -> AlertReport {
            self.lib.deliver_alerts().expect("deliver")
        }

        /// (event id, state) of every alert `sink` received, in order.
        fn received(&self, sink: &str) -> Vec<(i64, String)> {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{sink}.log"))).unwrap_or_default();
            text.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("one JSON document per alert");
                    assert_eq!(v["site"], "site-a", "{v}");
                    (v["id"].as_i64().expect("id"), v["state"].as_str().expect("state").to_owned())
                })
                .collect()
        }

        fn set_failing(&self, failing: bool) {
            let flag = self.dir.path().join("fail");
            if failing {
                std::fs::write(flag, "").expect("flag");
            } else {
                std::fs::remove_file(flag).expect("flag");
            }
        }

        /// Run SQL on the catalog (to move time: backoffs and the rate window).
        fn sql(&self, sql: &str) {
            let conn = rusqlite::Connection::open(self.lib.catalog_path()).expect("open");
            conn.execute_batch(sql).expect("sql");
        }
    }

    fn open(id: i64) -> (i64, String) {
        (id, "open".into())
    }

    fn cleared(id: i64) -> (i64, String) {
        (id, "cleared".into())
    }

    #[test]
    fn one_alert_per_open_event_and_one_when_it_clears_filtered_by_severity() {
        let mut f = Fixture::new();
        // Before any sink: one event that came and went, one still open.
        let gone = f.raise(Severity::Error, "gone");
        f.lib.clear_event(gone).expect("clear");
        let before = f.raise(Severity::Warning, "before");
        assert_eq!(f.deliver().to_string(), "no alert sinks configured");
        f.configure(&[("ops", "warning", 30), ("all", "info", 30)], "1h");
        let info = f.raise(Severity::Info, "info");
        let warn = f.raise(Severity::Warning, "warn");
        let r = f.deliver();
        assert_eq!((r.queued, r.delivered, r.failed, r.waiting), (5, 5, 0, 0), "{r:?}");
        assert!(r.failing_sinks.is_empty() && r.limited_sinks.is_empty(), "{r:?}");
        assert_eq!(f.received("ops"), [open(before), open(warn)], "info is below ops' min_severity");
        assert_eq!(f.received("all"), [open(before), open(info), open(warn)]);
        // The same event again (counted) and another run: nothing new.
        assert_eq!(f.raise(Severity::Warning, "warn"), warn);
        let r = f.deliver();
        assert_eq!((r.queued, r.delivered), (0, 0), "{r:?}");
        // Cleared: one `cleared` alert where an `open` one went, and never again.
        let done = f.lib.clear_event(warn).expect("clear");
        let r = f.deliver();
        assert_eq!((r.queued, r.delivered), (2, 2), "{r:?}");
        assert_eq!(f.deliver().delivered, 0);
        assert_eq!(f.received("ops"), [open(before), open(warn), cleared(warn)]);
        assert_eq!(f.received("all"), [open(before), open(info), open(warn), cleared(warn)]);
        let text = std::fs::read_to_string(f.dir.path().join("ops.log")).expect("log");
        let last: serde_json::Value = serde_json::from_str(text.lines().last().expect("line")).expect("json");
        assert_eq!(last["cleared_at"], serde_json::to_value(done.cleared_at).expect("time"), "{last}");
        assert_eq!((last["count"].as_u64(), last["severity"].as_str()), (Some(2), Some("warning")), "{last}");
        // A cleared event that opens again is a new event: alerted again.
        let again = f.raise(Severity::Warning, "warn");
        assert_ne!(again, warn);
        assert_eq!(f.deliver().delivered, 2);
        assert!(f.lib.alerts(false).expect("queue").is_empty());
        assert_eq!(f.lib.alerts(true).expect("all").len(), 9, "every delivery is on record");
    }

    #[test]
    fn a_failing_sink_backs_off_keeps_order_and_gets_each_alert_once() {
        let mut f = Fixture::new();
        f.configure(&[("ops", "warning", 30)], "1h");
        f.set_failing(true);
        let a = f.raise(Severity::Warning, "a");
        let b = f.raise(Severity::Error, "b");
        let r = f.deliver();
        assert_eq!((r.queued, r.delivered, r.failed, r.waiting), (2, 0, 1, 2), "{r:?}");
        assert_eq!(r.failing_sinks, ["ops"]);
        let queue = f.lib.alerts(false).expect("queue");
        assert_eq!(queue.len(), 2);
        assert_eq!((queue[0].event, queue[0].kind, queue[0].attempts), (a, AlertKind::Open, 1));
        assert!(queue[0].next_attempt_at > Timestamp::now(), "backed off: {queue:?}");
        assert!(queue[0].last_error.as_deref().is_some_and(|e| e.contains("exited") && e.contains("down")));
        assert_eq!(queue[1].attempts, 0, "the others wait their turn");
        // Within the backoff nothing is tried, even once the sink is back.
        f.set_failing(false);
        let r = f.deliver();
        assert_eq!((r.delivered, r.failed), (0, 0), "{r:?}");
        assert_eq!(r.failing_sinks, ["ops"], "still in the backoff of a failure");
        // Opened and cleared while the sink was down: both go, in order.
        let c = f.raise(Severity::Warning, "c");
        f.deliver();
        f.lib.clear_event(c).expect("clear");
        f.sql("UPDATE alert_deliveries SET next_attempt_at = 0");
        let r = f.deliver();
        assert_eq!((r.queued, r.delivered, r.failed, r.waiting), (1, 4, 0, 0), "{r:?}");
        assert_eq!(f.received("ops"), [open(a), open(b), open(c), cleared(c)]);
        // A later failure never sends again what was delivered.
        f.set_failing(true);
        f.sql("UPDATE alert_deliveries SET next_attempt_at = 0");
        assert_eq!(f.deliver().delivered, 0);
        assert_eq!(f.received("ops").len(), 4);
    }

    #[test]
    fn over_max_per_hour_alerts_wait_and_are_never_dropped() {
        let mut f = Fixture::new();
        f.configure(&[("ops", "warning", 2)], "1s");
        let ids: Vec<i64> = (0..3).map(|i| f.raise(Severity::Error, &format!("e{i}"))).collect();
        let r = f.deliver();
        assert_eq!((r.delivered, r.waiting), (2, 1), "{r:?}");
        assert_eq!(r.limited_sinks, ["ops"]);
        assert!(r.failing_sinks.is_empty(), "a rate limit is no failure: {r:?}");
        let r = f.deliver();
        assert_eq!((r.delivered, r.waiting), (0, 1), "still within the hour: {r:?}");
        assert_eq!(f.lib.alerts(false).expect("queue")[0].event, ids[2]);
        // An hour later the window has room again.
        f.sql("UPDATE alert_deliveries SET delivered_at = delivered_at - 3700000000 WHERE delivered_at IS NOT NULL");
        let r = f.deliver();
        assert_eq!((r.delivered, r.waiting), (1, 0), "{r:?}");
        assert_eq!(f.received("ops"), [open(ids[0]), open(ids[1]), open(ids[2])]);
    }

    #[test]
    fn a_test_alert_reaches_each_sink_or_says_why_not() {
        let mut f = Fixture::new();
        assert!(matches!(f.lib.test_alerts(None), Err(Error::InvalidArgument { .. })), "no sinks");
        f.configure(&[("ops", "error", 1), ("all", "info", 1)], "1h");
        let r = f.lib.test_alerts(None).expect("test");
        assert_eq!(
            r.iter().map(|t| (t.sink.as_str(), t.delivered)).collect::<Vec<_>>(),
            [("ops", true), ("all", true)]
        );
        assert_eq!(f.received("ops"), [(0, "open".to_owned())], "an info alert, whatever min_severity");
        f.set_failing(true);
        let r = f.lib.test_alerts(Some("all")).expect("test");
        assert_eq!(r.len(), 1);
        assert!(!r[0].delivered && r[0].error.as_deref().is_some_and(|e| e.contains("down")), "{r:?}");
        let e = f.lib.test_alerts(Some("nope")).expect_err("unknown sink").to_string();
        assert!(e.contains("ops") && e.contains("all"), "names the sinks: {e}");
        assert!(f.lib.alerts(true).expect("queue").is_empty(), "a test is not recorded");
    }
}
