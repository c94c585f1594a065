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

pub(crate) mod receive;

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, ObjectKind, Result};
use crate::model::{Category, NewEvent, Severity};
use crate::name::FileName;
use crate::peer::client::PeerClient;
use crate::site::Site;

use crate::config::OutboxConfig;
use crate::model::{CallKind, HoldsCall, OutboxCall};

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
    /// Of those, the peers whose calls are failing: postponed in this run, or still
    /// waiting out the backoff of an earlier failure (`tasks run` reports the task
    /// `degraded`). Peers an operator disabled are not in it.
    pub failing_peers: Vec<String>,
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

/// Queue `holds` calls telling `peer` that this site holds each file in `names`
/// (an available instance here), so the peer records a remote instance. Useful
/// after two sites got the same data by other means. Returns the queued calls.
pub(crate) fn announce(site: &Site, peer: &str, names: &[FileName]) -> Result<Vec<OutboxCall>> {
    crate::access::peer(site, peer)?;
    let mut calls = Vec::with_capacity(names.len());
    for name in names {
        let file = crate::queries::file(site, name)?;
        let inst = file.instances.iter().find(|i| i.available).ok_or_else(|| {
            Error::invalid("file", format!("{name} has no available copy here; there is nothing to announce"))
        })?;
        let call = HoldsCall {
            name: name.to_string(),
            checksum: file.checksum.to_string(),
            size: file.size,
            store: inst.store.clone(),
            copied_at: inst.created_at,
        };
        let body =
            serde_json::to_value(&call).map_err(|e| Error::internal(format!("cannot encode a holds call: {e}")))?;
        calls.push((CallKind::Holds, body));
    }
    let ids = site.catalog().queue_calls(peer, &calls, Timestamp::now())?;
    let first = ids.first().copied().unwrap_or(i64::MAX);
    Ok(site.catalog().outbox(Some(peer), usize::MAX)?.into_iter().filter(|c| c.id >= first).collect())
}

/// Queued calls (to `peer` only, when given), oldest first.
pub(crate) fn outbox(site: &Site, peer: Option<&str>) -> Result<Vec<OutboxCall>> {
    if let Some(p) = peer {
        crate::access::peer(site, p)?;
    }
    site.catalog().outbox(peer, usize::MAX)
}

/// Make queued calls (to `peer`, when given) due now, skipping their backoff: for
/// when an operator knows the peer is back. Returns how many calls.
pub(crate) fn retry_outbox(site: &Site, peer: Option<&str>) -> Result<usize> {
    if let Some(p) = peer {
        crate::access::peer(site, p)?;
    }
    site.catalog().outbox_retry_now(peer, Timestamp::now())
}

/// Drop queued call `id` without sending it: an operator's decision for a call the
/// peer will never accept (it waits first in line, holding the peer's other calls).
/// Recorded as a `call_refused` event with the call's key and body.
pub(crate) fn drop_call(site: &Site, id: i64) -> Result<OutboxCall> {
    let call = site
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
    site.catalog().outbox_drop(call.id, &event, Timestamp::now())?;
    Ok(call)
}

/// Send the calls that are due, per peer in order (the `deliver-outbox` task).
pub(crate) fn deliver_outbox(site: &Site) -> Result<DeliveryReport> {
    let settings = &site.config().outbox;
    let batch = settings.batch.unwrap_or(crate::config::DEFAULT_OUTBOX_BATCH);
    let mut report = DeliveryReport::default();
    let now = Timestamp::now();
    for queue in site.catalog().outbox_peers()? {
        if !queue.transfers_enabled || queue.head_due > now {
            if queue.transfers_enabled {
                // Only a failed attempt puts the head of a queue in the future.
                report.failing_peers.push(queue.peer.clone());
            }
            report.waiting_peers.push(queue.peer);
            continue;
        }
        let client = match crate::access::peer_client(site, &queue.peer) {
            Ok(c) => c,
            Err(e) => {
                // This peer cannot be called as configured (e.g. a CA bundle that
                // is gone); its calls wait, the other peers' go.
                let event = unreachable_event(&queue.peer, &e);
                site.catalog().raise_event(&event, now)?;
                report.failing_peers.push(queue.peer.clone());
                report.waiting_peers.push(queue.peer);
                continue;
            }
        };
        for call in site.catalog().outbox(Some(&queue.peer), batch)? {
            if !deliver_one(site, &client, &call, settings, &mut report)? {
                break;
            }
        }
    }
    Ok(report)
}

/// Send one call; false when the peer's later calls must wait.
fn deliver_one(
    site: &Site,
    client: &PeerClient,
    call: &OutboxCall,
    settings: &OutboxConfig,
    report: &mut DeliveryReport,
) -> Result<bool> {
    let now = Timestamp::now();
    let postpone = |error: &Error, event: NewEvent, report: &mut DeliveryReport| -> Result<bool> {
        let next = now.checked_add(settings.backoff(call.attempts)).unwrap_or(now);
        site.catalog().outbox_postpone(call.id, next, &error.to_string(), &event, now)?;
        report.postponed += 1;
        report.waiting_peers.push(call.peer.clone());
        report.failing_peers.push(call.peer.clone());
        log::warn!("call {} ({}) to {} postponed until {next}: {error}", call.key, call.kind, call.peer);
        Ok(false)
    };
    let (path, body) = match client.peer().protocol {
        crate::model::PeerProtocol::Librarian => (call.kind.path(), call.body.clone()),
        crate::model::PeerProtocol::OriginalV2 => match original_v2_call(site, call)? {
            Some(translated) => translated,
            None => {
                let event = NewEvent {
                    severity: Severity::Warning,
                    category: Category::CallRefused,
                    subject: format!("{}/{}", call.peer, call.key),
                    message: format!(
                        "call {} ({}) was dropped: {} runs the original Librarian, which has no such call",
                        call.key, call.kind, call.peer
                    ),
                };
                site.catalog().outbox_drop(call.id, &event, now)?;
                report.refused += 1;
                return Ok(true);
            }
        },
    };
    match client.post_call(path, &call.key, &body) {
        Ok(_) => {
            site.catalog().outbox_delivered(call.id, &call.peer, now)?;
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
                    site.catalog().outbox_drop(call.id, &event, now)?;
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

/// A call to a peer that still runs the original Librarian, in its `/api/v2` form:
/// `complete` (we committed its transfer) is its `clone/complete` with our store's
/// number; `fail` of a transfer we received is its `checkin/update FAILED`, of one we
/// sent its `clone/fail`; `staged` (we sent the bytes) is its `checkin/update STAGED`.
/// `None`: the original has no such call (`holds`).
fn original_v2_call(site: &Site, call: &OutboxCall) -> Result<Option<(&'static str, serde_json::Value)>> {
    let theirs = call.body.get("transfer_id").and_then(serde_json::Value::as_i64).unwrap_or(-1);
    let ours = call.body.get("peer_transfer_id").and_then(serde_json::Value::as_i64).unwrap_or(-1);
    Ok(Some(match call.kind {
        CallKind::Holds => return Ok(None),
        CallKind::Complete => {
            let store = call.body.get("store").and_then(serde_json::Value::as_str).unwrap_or_default();
            let store_id = site.catalog().store(store).map(|s| s.id.0).unwrap_or(0);
            (
                "/api/v2/clone/complete",
                serde_json::json!({ "source_transfer_id": theirs, "destination_transfer_id": ours, "store_id": store_id }),
            )
        }
        CallKind::Staged => (
            "/api/v2/checkin/update",
            serde_json::json!({ "source_transfer_ids": [], "destination_transfer_ids": [theirs], "new_status": "STAGED" }),
        ),
        CallKind::Fail => {
            let incoming =
                site.catalog().transfer(ours)?.is_some_and(|t| t.direction == crate::model::Direction::Incoming);
            if incoming {
                (
                    "/api/v2/checkin/update",
                    serde_json::json!({ "source_transfer_ids": [theirs], "destination_transfer_ids": [], "new_status": "FAILED" }),
                )
            } else {
                let reason = call.body.get("reason").and_then(serde_json::Value::as_str).unwrap_or("failed");
                (
                    "/api/v2/clone/fail",
                    serde_json::json!({ "source_transfer_id": ours, "destination_transfer_id": theirs, "reason": reason }),
                )
            }
        }
    }))
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
    use jiff::SignedDuration;

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
