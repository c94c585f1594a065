//! The outbox: calls to peers that must not be lost.
//!
//! A call is written to the `outbox` table in the same transaction as the state change
//! that requires it, with an idempotency key. The `deliver-outbox` task sends the calls
//! of each peer in order: a call leaves the outbox only when the peer acknowledges it
//! (any 2xx), or when the peer refuses it for good (most 4xx), in which case it
//! becomes an event. A peer that does not answer, answers 5xx, or refuses our
//! credentials (401/403) keeps its calls: the first is retried with exponential
//! backoff, and the ones after it wait their turn. A peer whose transfers are disabled
//! keeps its calls too. The receiving site remembers each key it has applied, so a
//! call delivered twice (the acknowledgement was lost, the sender crashed before
//! removing it) has the effect of one.

mod receive;

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ObjectKind, Result};
use crate::events::{Category, NewEvent, Severity};
use crate::librarian::Librarian;
use crate::name::FileName;
use crate::peer::client::PeerClient;

pub use receive::{HoldsCall, validate_call_key};

/// The kinds of call a site queues for its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallKind {
    /// "This site holds file F with checksum C in store S": the peer records a
    /// remote instance. Sent by `peer announce`.
    Holds,
    /// Sender → receiver: the data of a transfer is at the staging destination.
    Staged,
    /// Receiver → sender: the transfer's data was verified and committed.
    Complete,
    /// Either way: the transfer failed (with a reason).
    Fail,
}

impl CallKind {
    /// Every kind.
    pub const ALL: [CallKind; 4] = [CallKind::Holds, CallKind::Staged, CallKind::Complete, CallKind::Fail];

    /// The JSON and SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Holds => "holds",
            CallKind::Staged => "staged",
            CallKind::Complete => "complete",
            CallKind::Fail => "fail",
        }
    }

    /// The peer's endpoint for this call (POST).
    pub fn path(self) -> &'static str {
        match self {
            CallKind::Holds => "/api/v1/callbacks/holds",
            CallKind::Staged => "/api/v1/clone/staged",
            CallKind::Complete => "/api/v1/clone/complete",
            CallKind::Fail => "/api/v1/clone/fail",
        }
    }

    pub(crate) fn from_sql(s: &str) -> Result<Self> {
        CallKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown call kind {s:?} in the catalog")))
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queued call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxCall {
    /// Its position in the outbox (calls to one peer go in this order).
    pub id: i64,
    /// The peer it goes to.
    pub peer: String,
    /// Its idempotency key.
    pub key: String,
    /// What it asks.
    pub kind: CallKind,
    /// The JSON body sent.
    pub body: serde_json::Value,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Failed delivery attempts so far.
    pub attempts: u64,
    /// Not sent before this time.
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The calls queued for one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerQueue {
    /// The peer.
    pub peer: String,
    /// Whether its transfers (and calls) are enabled.
    pub transfers_enabled: bool,
    /// Calls waiting.
    pub calls: u64,
    /// When the oldest was queued.
    pub oldest: Timestamp,
    /// When the first in line may be sent.
    pub head_due: Timestamp,
}

/// The `[outbox]` table of `librarian.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Wait after the first failed attempt (default `"10s"`); doubled after each
    /// further failure.
    pub retry_initial: Option<String>,
    /// Longest wait between attempts (default `"1h"`).
    pub retry_max: Option<String>,
    /// Most calls sent to one peer per run (default 1000).
    pub batch: Option<usize>,
}

impl OutboxConfig {
    /// True when nothing is set (then `init` writes no table).
    pub fn is_default(&self) -> bool {
        *self == OutboxConfig::default()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.retry_initial.as_deref().map(crate::tasks::parse_interval).transpose()?;
        self.retry_max.as_deref().map(crate::tasks::parse_interval).transpose()?;
        if self.batch == Some(0) {
            return Err(Error::InvalidArgument("outbox.batch must be at least 1".into()));
        }
        Ok(())
    }

    fn initial(&self) -> SignedDuration {
        self.retry_initial
            .as_deref()
            .and_then(|t| crate::tasks::parse_interval(t).ok())
            .unwrap_or(SignedDuration::from_secs(10))
    }

    fn max(&self) -> SignedDuration {
        self.retry_max
            .as_deref()
            .and_then(|t| crate::tasks::parse_interval(t).ok())
            .unwrap_or(SignedDuration::from_hours(1))
    }

    /// The wait after failed attempt number `attempts` (0 for the first).
    pub fn backoff(&self, attempts: u64) -> SignedDuration {
        let factor = 1_i32.checked_shl(u32::try_from(attempts).unwrap_or(u32::MAX).min(30)).unwrap_or(i32::MAX);
        self.initial().checked_mul(factor).unwrap_or(self.max()).min(self.max())
    }
}

/// What one delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Calls acknowledged by their peer and removed.
    pub delivered: u64,
    /// Calls refused for good and turned into events.
    pub refused: u64,
    /// Calls postponed: their peer did not answer or refused us for now.
    pub postponed: u64,
    /// Peers whose calls wait for a later attempt (backoff), or whose transfers are
    /// disabled.
    pub waiting_peers: Vec<String>,
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "delivered {}, refused {}, postponed {}", self.delivered, self.refused, self.postponed)?;
        if !self.waiting_peers.is_empty() {
            write!(f, "; waiting: {}", self.waiting_peers.join(", "))?;
        }
        Ok(())
    }
}

/// How to treat a peer's refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The call itself is wrong for that peer: drop it, raise an event.
    Permanent,
    /// Something an operator can fix (our credentials, the peer's version): keep
    /// the call, retry later, raise an event.
    NeedsOperator,
    /// Try again later.
    Transient,
}

fn classify(status: u16, code: &str) -> Refusal {
    match status {
        401 | 403 | 405 => Refusal::NeedsOperator,
        404 if code == "unknown_endpoint" => Refusal::NeedsOperator,
        408 | 425 | 429 => Refusal::Transient,
        400..=499 => Refusal::Permanent,
        _ => Refusal::Transient,
    }
}

impl Librarian {
    /// Queue `holds` calls telling `peer` that this site holds each file in `names`
    /// (an available instance here), so the peer records a remote instance. Useful
    /// after two sites got the same data by other means. Returns the queued calls.
    pub fn announce(&self, peer: &str, names: &[FileName]) -> Result<Vec<OutboxCall>> {
        self.peer(peer)?;
        let mut calls = Vec::with_capacity(names.len());
        for name in names {
            let file = self.file(name)?;
            let inst = file.instances.iter().find(|i| i.available).ok_or_else(|| {
                Error::InvalidArgument(format!("{name} has no available copy here; there is nothing to announce"))
            })?;
            let call = HoldsCall {
                name: name.to_string(),
                checksum: file.checksum.to_string(),
                size: file.size,
                store: inst.store.clone(),
                copied_at: inst.created_at,
            };
            let body = serde_json::to_value(&call).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            calls.push((CallKind::Holds, body));
        }
        let ids = self.catalog().queue_calls(peer, &calls, Timestamp::now())?;
        let first = ids.first().copied().unwrap_or(i64::MAX);
        Ok(self.catalog().outbox(Some(peer), usize::MAX)?.into_iter().filter(|c| c.id >= first).collect())
    }

    /// Queued calls (to `peer` only, when given), oldest first.
    pub fn outbox(&self, peer: Option<&str>) -> Result<Vec<OutboxCall>> {
        if let Some(p) = peer {
            self.peer(p)?;
        }
        self.catalog().outbox(peer, usize::MAX)
    }

    /// Make queued calls (to `peer`, when given) due now, skipping their backoff: for
    /// when an operator knows the peer is back. Returns how many calls.
    pub fn retry_outbox(&self, peer: Option<&str>) -> Result<usize> {
        if let Some(p) = peer {
            self.peer(p)?;
        }
        self.catalog().outbox_retry_now(peer, Timestamp::now())
    }

    /// Drop queued call `id` without sending it: an operator's decision for a call the
    /// peer will never accept (it waits first in line, holding the peer's other calls).
    /// Recorded as a `call_refused` event with the call's key and body.
    pub fn drop_call(&self, id: i64) -> Result<OutboxCall> {
        let call = self
            .catalog()
            .outbox_call(id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Call, name: id.to_string() })?;
        let event = NewEvent {
            severity: Severity::Warning,
            category: Category::CallRefused,
            subject: format!("{}/{}", call.peer, call.key),
            message: format!(
                "call {} ({} {}) to {} was dropped by an operator after {} attempt(s); last error: {}",
                call.key,
                call.kind,
                call.body,
                call.peer,
                call.attempts,
                call.last_error.as_deref().unwrap_or("none")
            ),
        };
        self.catalog().outbox_drop(call.id, &event, Timestamp::now())?;
        Ok(call)
    }

    /// Send the calls that are due, per peer in order (the `deliver-outbox` task).
    pub fn deliver_outbox(&self) -> Result<DeliveryReport> {
        let settings = &self.config().outbox;
        let batch = settings.batch.unwrap_or(1000);
        let mut report = DeliveryReport::default();
        let now = Timestamp::now();
        for queue in self.catalog().outbox_peers()? {
            if !queue.transfers_enabled || queue.head_due > now {
                report.waiting_peers.push(queue.peer);
                continue;
            }
            let client = match self.peer_client(&queue.peer) {
                Ok(c) => c,
                Err(e) => {
                    // This peer cannot be called as configured (e.g. a CA bundle that
                    // is gone); its calls wait, the other peers' go.
                    let event = unreachable_event(&queue.peer, &e);
                    self.catalog().raise_event(&event, now)?;
                    report.waiting_peers.push(queue.peer);
                    continue;
                }
            };
            for call in self.catalog().outbox(Some(&queue.peer), batch)? {
                if !self.deliver_one(&client, &call, settings, &mut report)? {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Send one call; false when the peer's later calls must wait.
    fn deliver_one(
        &self,
        client: &PeerClient,
        call: &OutboxCall,
        settings: &OutboxConfig,
        report: &mut DeliveryReport,
    ) -> Result<bool> {
        let now = Timestamp::now();
        let postpone = |error: &Error, event: NewEvent, report: &mut DeliveryReport| -> Result<bool> {
            let next = now.checked_add(settings.backoff(call.attempts)).unwrap_or(now);
            self.catalog().outbox_postpone(call.id, next, &error.to_string(), &event, now)?;
            report.postponed += 1;
            report.waiting_peers.push(call.peer.clone());
            log::warn!("call {} ({}) to {} postponed until {next}: {error}", call.key, call.kind, call.peer);
            Ok(false)
        };
        match client.post_call(call.kind.path(), &call.key, &call.body) {
            Ok(_) => {
                self.catalog().outbox_delivered(call.id, &call.peer, now)?;
                report.delivered += 1;
                Ok(true)
            }
            Err(e @ Error::PeerRefused { status, .. }) => {
                let code = match &e {
                    Error::PeerRefused { code, .. } => code.clone(),
                    _ => String::new(),
                };
                match classify(status, &code) {
                    Refusal::Permanent => {
                        let event = NewEvent {
                            severity: Severity::Error,
                            category: Category::CallRefused,
                            subject: format!("{}/{}", call.peer, call.key),
                            message: format!(
                                "{} refused call {} ({} {}) for good and it was dropped: {e}",
                                call.peer, call.key, call.kind, call.body
                            ),
                        };
                        self.catalog().outbox_drop(call.id, &event, now)?;
                        log::error!("{}", event.message);
                        report.refused += 1;
                        Ok(true)
                    }
                    Refusal::NeedsOperator => {
                        let event = NewEvent {
                            severity: Severity::Error,
                            category: Category::PeerRefused,
                            subject: call.peer.clone(),
                            message: format!("{} refuses our calls; they wait until this is fixed: {e}", call.peer),
                        };
                        postpone(&e, event, report)
                    }
                    Refusal::Transient => postpone(&e, unreachable_event(&call.peer, &e), report),
                }
            }
            Err(e @ Error::PeerUnreachable { .. }) => postpone(&e, unreachable_event(&call.peer, &e), report),
            Err(e) => Err(e),
        }
    }
}

fn unreachable_event(peer: &str, e: &Error) -> NewEvent {
    NewEvent {
        severity: Severity::Warning,
        category: Category::PeerUnreachable,
        subject: peer.to_owned(),
        message: format!("calls to {peer} wait: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let c = OutboxConfig::default();
        assert_eq!(c.backoff(0), SignedDuration::from_secs(10));
        assert_eq!(c.backoff(1), SignedDuration::from_secs(20));
        assert_eq!(c.backoff(5), SignedDuration::from_secs(320));
        assert_eq!(c.backoff(9), SignedDuration::from_hours(1));
        assert_eq!(c.backoff(u64::MAX), SignedDuration::from_hours(1));
        let fast = OutboxConfig { retry_initial: Some("1s".into()), retry_max: Some("4s".into()), batch: None };
        assert_eq!(fast.backoff(3), SignedDuration::from_secs(4));
        assert!(OutboxConfig { batch: Some(0), ..Default::default() }.validate().is_err());
        assert!(OutboxConfig { retry_max: Some("soon".into()), ..Default::default() }.validate().is_err());
    }

    #[test]
    fn refusals_are_classified() {
        assert_eq!(classify(404, "not_found"), Refusal::Permanent);
        assert_eq!(classify(409, "conflict"), Refusal::Permanent);
        assert_eq!(classify(400, "bad_request"), Refusal::Permanent);
        assert_eq!(classify(404, "unknown_endpoint"), Refusal::NeedsOperator);
        assert_eq!(classify(401, "unauthorized"), Refusal::NeedsOperator);
        assert_eq!(classify(403, "forbidden"), Refusal::NeedsOperator);
        assert_eq!(classify(429, "busy"), Refusal::Transient);
        assert_eq!(classify(503, "shutting_down"), Refusal::Transient);
        assert_eq!(classify(500, "internal"), Refusal::Transient);
        assert_eq!(classify(200, "bad_response"), Refusal::Transient);
    }
}
