//! Alerts as values: what an alert says about an event (opened or cleared), the
//! document sent to a sink, and the queue of deliveries `alerts list` shows.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::{Category, Event, Severity};

/// Which news an alert carries about its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The event was raised (and is open).
    Open,
    /// The event was cleared (by an operator, or because the condition ended).
    Cleared,
}

impl AlertKind {
    all_variants!(
        /// Every kind, in the order they are sent for one event.
        Open, Cleared
    );

    /// `open` or `cleared` (JSON and SQL spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Open => "open",
            AlertKind::Cleared => "cleared",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert queued for (or delivered to) one sink: `librarian alerts list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertDelivery {
    /// Its position in the queue (a sink's alerts are sent in this order).
    pub id: i64,
    /// The sink it goes to (its `name` in `[alerts]`).
    pub sink: String,
    /// Open or cleared.
    pub kind: AlertKind,
    /// The event's id (`events list`).
    pub event: i64,
    /// The event's severity.
    pub severity: Severity,
    /// The event's category.
    pub category: Category,
    /// The event's subject.
    pub subject: String,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Failed attempts so far.
    pub attempts: u64,
    /// Not sent before this time (the backoff after a failure).
    pub next_attempt_at: Timestamp,
    /// When the sink accepted it; `None` while queued.
    pub delivered_at: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The document an alert sends: the body of a `json` webhook and the standard input
/// of a command hook (a `slack` webhook sends [`AlertBody::slack_text`] instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertBody {
    /// The site that raised the event.
    pub site: String,
    /// `open` (the event was raised) or `cleared`.
    pub state: AlertKind,
    /// The event's id at that site (0 for a test alert).
    pub id: i64,
    /// How bad.
    pub severity: Severity,
    /// The event's category (`test` for a test alert).
    pub category: String,
    /// What it is about (a peer, a file, a store).
    pub subject: String,
    /// The latest message.
    pub message: String,
    /// How many times it happened while open.
    pub count: u64,
    /// When it was first seen.
    pub created_at: Timestamp,
    /// When it was cleared (only in a `cleared` alert).
    pub cleared_at: Option<Timestamp>,
    /// True only for `librarian alerts test`.
    pub test: bool,
}

impl AlertBody {
    /// The `kind` alert of `event` at `site`.
    pub fn of(site: &str, event: &Event, kind: AlertKind) -> AlertBody {
        AlertBody {
            site: site.to_owned(),
            state: kind,
            id: event.id,
            severity: event.severity,
            category: event.category.as_str().to_owned(),
            subject: event.subject.clone(),
            message: event.message.clone(),
            count: event.count,
            created_at: event.created_at,
            cleared_at: match kind {
                AlertKind::Open => None,
                AlertKind::Cleared => event.cleared_at,
            },
            test: false,
        }
    }

    /// The synthetic alert `librarian alerts test` sends to `sink`.
    pub fn test(site: &str, sink: &str, now: Timestamp) -> AlertBody {
        AlertBody {
            site: site.to_owned(),
            state: AlertKind::Open,
            id: 0,
            severity: Severity::Info,
            category: "test".into(),
            subject: sink.to_owned(),
            message: format!("a test alert from librarian at {site} to sink {sink} (`librarian alerts test`)"),
            count: 1,
            created_at: now,
            cleared_at: None,
            test: true,
        }
    }

    /// A key that names this alert (the webhook's `Idempotency-Key` header): the
    /// same alert sent twice carries the same key.
    pub fn key(&self) -> String {
        if self.test {
            format!("{}:test:{}", self.site, self.created_at.as_microsecond())
        } else {
            format!("{}:event-{}:{}", self.site, self.id, self.state)
        }
    }

    /// One readable line (the `text` of a Slack-compatible webhook), with `&`, `<`
    /// and `>` escaped as Slack requires.
    pub fn slack_text(&self) -> String {
        let line = if self.test {
            format!("[{}] TEST: {}", self.site, self.message)
        } else {
            let times = if self.count > 1 { format!(", {} times", self.count) } else { String::new() };
            match self.state {
                AlertKind::Open => format!(
                    "[{}] {} {} {}: {} (event {}{times}, since {})",
                    self.site,
                    self.severity.as_str().to_uppercase(),
                    self.category,
                    self.subject,
                    self.message,
                    self.id,
                    self.created_at
                ),
                AlertKind::Cleared => format!(
                    "[{}] CLEARED {} {} {} (event {}{times}, open since {}{}): {}",
                    self.site,
                    self.severity,
                    self.category,
                    self.subject,
                    self.id,
                    self.created_at,
                    self.cleared_at.map(|t| format!(", cleared {t}")).unwrap_or_default(),
                    self.message
                ),
            }
        };
        // One line: a message never breaks the layout of a chat channel.
        let line: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }
}

/// How a sink answered `librarian alerts test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkTest {
    /// The sink's name.
    pub sink: String,
    /// `webhook` or `command`.
    pub kind: &'static str,
    /// It accepted the alert (2xx, or exit status 0).
    pub delivered: bool,
    /// Why not.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let t: Timestamp = "2026-11-02T03:04:05Z".parse().expect("time");
        Event {
            id: 7,
            severity: Severity::Warning,
            category: Category::PeerUnreachable,
            subject: "site-b".into(),
            message: "calls to <site-b> wait: refused & gone\nsecond line".into(),
            count: 3,
            created_at: t,
            last_seen_at: t,
            cleared_at: Some(t),
        }
    }

    #[test]
    fn bodies_carry_the_event_and_the_slack_line_is_one_escaped_line() {
        let e = event();
        let open = AlertBody::of("site-a", &e, AlertKind::Open);
        let v = serde_json::to_value(&open).expect("json");
        for (k, want) in [
            ("site", "site-a"),
            ("state", "open"),
            ("severity", "warning"),
            ("category", "peer_unreachable"),
            ("subject", "site-b"),
            ("created_at", "2026-11-02T03:04:05Z"),
        ] {
            assert_eq!(v[k], want, "{k}: {v}");
        }
        assert_eq!((v["id"].as_i64(), v["count"].as_u64(), v["test"].as_bool()), (Some(7), Some(3), Some(false)));
        assert!(v["cleared_at"].is_null(), "an open alert says nothing of a later clearing: {v}");
        let cleared = AlertBody::of("site-a", &e, AlertKind::Cleared);
        assert_eq!(serde_json::to_value(&cleared).expect("json")["cleared_at"], "2026-11-02T03:04:05Z");
        assert_ne!(open.key(), cleared.key());
        assert_eq!(open.key(), AlertBody::of("site-a", &e, AlertKind::Open).key(), "the same alert, the same key");

        let text = open.slack_text();
        assert!(!text.contains('\n') && !text.contains('<') && text.contains("&lt;site-b&gt;"), "{text}");
        assert!(text.starts_with("[site-a] WARNING peer_unreachable site-b: "), "{text}");
        assert!(text.contains("&amp;") && text.contains("3 times"), "{text}");
        assert!(cleared.slack_text().starts_with("[site-a] CLEARED warning peer_unreachable site-b"));
        let test = AlertBody::test("site-a", "ops", Timestamp::now());
        assert!(test.test && test.slack_text().starts_with("[site-a] TEST: "), "{test:?}");
        assert!(test.key().starts_with("site-a:test:"));
    }
}
