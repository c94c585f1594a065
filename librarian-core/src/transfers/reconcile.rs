//! Reconciliation: transfers stuck in a non-terminal state longer than
//! `[clone] stale_after` ask the other side and converge by a fixed rule table
//! (`docs/cloning.md`). An unreachable peer is skipped, never failed.

use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::CallKind;
use crate::model::{Direction, Transfer};
use crate::model::{TransferEvent, TransferStatus};
use crate::peer::client::PeerClient;
use crate::site::Site;

/// What one reconciliation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Stale transfers looked at.
    pub examined: u64,
    /// Moved to `completed`.
    pub completed: u64,
    /// Moved to `failed` (planned again later, when outgoing).
    pub failed: u64,
    /// Moved to `staged`, or their `staged` call queued again.
    pub resumed: u64,
    /// Left as they are (still moving, or the peer could not be asked).
    pub unchanged: u64,
    /// Peers that could not be asked (`tasks run` reports the task `degraded`).
    pub unreachable_peers: Vec<String>,
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "examined {}, completed {}, failed {}, resumed {}, unchanged {}",
            self.examined, self.completed, self.failed, self.resumed, self.unchanged
        )
    }
}

/// What the other side says of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    /// It has no such transfer (or none of ours).
    Missing,
    /// Its transfer is in this state.
    Is(TransferStatus),
}

impl Remote {
    /// The reason recorded on a transfer failed by reconciliation, in plain words.
    fn failure(self, peer: &str) -> String {
        match self {
            Remote::Missing => format!("reconciliation: {peer} has no such transfer"),
            Remote::Is(status) => format!("reconciliation: the transfer is {status} at {peer}"),
        }
    }
}

/// What to do with a stale transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Complete,
    Fail,
    /// Outgoing: queue the `staged` call again. Incoming: mark it staged.
    Resume,
    Leave,
}

/// The rule table (also in `docs/cloning.md`).
fn rule(direction: Direction, local: TransferStatus, remote: Remote) -> Action {
    use Direction::{Incoming, Outgoing};
    use TransferStatus as S;
    match (direction, local, remote) {
        (_, S::Completed | S::Failed | S::Cancelled, _) => Action::Leave,
        // The other side never heard of it, or gave up: so do we.
        (_, _, Remote::Missing | Remote::Is(S::Failed | S::Cancelled)) => Action::Fail,
        // Outgoing, answer from the receiver.
        (Outgoing, _, Remote::Is(S::Completed)) => Action::Complete,
        (Outgoing, S::Staged, Remote::Is(S::Initiated | S::Ongoing)) => Action::Resume,
        (Outgoing, S::Staged, Remote::Is(S::Staged)) => Action::Leave,
        (Outgoing, S::Initiated | S::Ongoing, Remote::Is(S::Initiated | S::Ongoing | S::Staged)) => Action::Leave,
        // Incoming, answer from the sender.
        (Incoming, S::Initiated | S::Ongoing, Remote::Is(S::Staged)) => Action::Resume,
        (Incoming, S::Initiated | S::Ongoing, Remote::Is(S::Initiated | S::Ongoing)) => Action::Leave,
        (Incoming, S::Initiated | S::Ongoing, Remote::Is(S::Completed)) => Action::Fail,
        (Incoming, S::Staged, Remote::Is(_)) => Action::Leave,
    }
}

/// The `reconcile-transfers` task.
pub(crate) fn reconcile_transfers(site: &Site) -> Result<ReconcileReport> {
    let stale_after = crate::model::parse_interval(&site.config().clone.stale_after)?;
    let cutoff = Timestamp::now().checked_sub(stale_after).unwrap_or(Timestamp::UNIX_EPOCH);
    let running: Vec<i64> = site.catalog().running_batches()?.iter().map(|b| b.id).collect();
    let mut report = ReconcileReport::default();
    let mut unreachable: Vec<String> = Vec::new();
    let mut clients: std::collections::HashMap<String, PeerClient> = std::collections::HashMap::new();
    for t in site.catalog().stale_transfers(cutoff, 10_000)? {
        report.examined += 1;
        // A batch still moving bytes is not stuck, however long it takes.
        if t.batch.is_some_and(|b| running.contains(&b)) || unreachable.contains(&t.peer) {
            report.unchanged += 1;
            continue;
        }
        if !clients.contains_key(&t.peer) {
            match crate::access::peer_client(site, &t.peer) {
                Ok(c) => {
                    clients.insert(t.peer.clone(), c);
                }
                Err(e) => {
                    log::warn!("cannot reconcile transfers with {}: {e}", t.peer);
                    unreachable.push(t.peer.clone());
                    report.unchanged += 1;
                    continue;
                }
            }
        }
        let Some(client) = clients.get(&t.peer) else { continue };
        let (remote, store) = match ask(site, client, &t) {
            Ok(r) => r,
            Err(e @ (Error::PeerUnreachable { .. } | Error::PeerRefused { .. })) => {
                log::warn!("cannot reconcile transfers with {}: {e}", t.peer);
                unreachable.push(t.peer.clone());
                report.unchanged += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let now = Timestamp::now();
        // A drive takes weeks: its transfer is only ever completed early (the
        // destination already holds the file), never failed for being slow.
        let action = match (t.manager, rule(t.direction, t.status, remote)) {
            (Some(super::ManagerKind::Sneakernet), Action::Complete) => Action::Complete,
            (Some(super::ManagerKind::Sneakernet), _) => Action::Leave,
            (_, action) => action,
        };
        match action {
            Action::Leave => {
                // Looked at: go to the back of the queue, so a long list of drives
                // in transit does not starve the transfers that are really stuck.
                site.catalog().touch_transfer(t.id, now)?;
                report.unchanged += 1;
            }
            Action::Complete => {
                site.catalog().complete_outgoing(t.id, store.as_deref().unwrap_or(""), now)?;
                report.completed += 1;
            }
            Action::Fail => {
                let why = remote.failure(&t.peer);
                site.catalog().transfer_step(t.id, TransferEvent::Failed, Some(("stale", &why)), None, now)?;
                if let (Direction::Incoming, Some(dir)) = (t.direction, &t.local_path) {
                    let _ = super::manager::clear_destination(dir);
                }
                report.failed += 1;
            }
            Action::Resume => {
                match t.direction {
                    Direction::Outgoing => {
                        site.catalog().requeue_call(t.id, CallKind::Staged, now)?;
                    }
                    Direction::Incoming => {
                        site.catalog().transfer_step(t.id, TransferEvent::Staged, None, None, now)?;
                    }
                }
                report.resumed += 1;
            }
        }
    }
    report.unreachable_peers = unreachable;
    Ok(report)
}

/// The other side's view of `t`, and the store that holds its copy (if known).
fn ask(_site: &Site, client: &PeerClient, t: &Transfer) -> Result<(Remote, Option<String>)> {
    let Some(remote_id) = t.remote_id.filter(|_| t.manager != Some(super::ManagerKind::Sneakernet)) else {
        // An outgoing transfer the receiver never acknowledged: it can only have
        // been completed by other means.
        return Ok(if client.has(t.file.as_str(), &t.checksum.to_string())? {
            (Remote::Is(TransferStatus::Completed), None)
        } else {
            (Remote::Missing, None)
        });
    };
    if client.peer().protocol == crate::model::PeerProtocol::OriginalV2 {
        // The original answers statuses by its own ids only (checkin/status).
        let status = client.original_status(remote_id, t.direction)?;
        return Ok((status.map_or(Remote::Missing, Remote::Is), None));
    }
    match client.transfer(remote_id) {
        Ok(j) => {
            if j["remote_id"].as_i64() != Some(t.id) {
                return Ok((Remote::Missing, None));
            }
            let status = j["status"].as_str().unwrap_or("").parse::<TransferStatus>();
            // The peer's store name is recorded only if it is a valid one.
            let store = j["store"].as_str().filter(|s| crate::config::validate_store_name(s).is_ok());
            Ok((status.map_or(Remote::Missing, Remote::Is), store.map(str::to_owned)))
        }
        Err(Error::PeerRefused { status: 404, code, .. }) if code == "not_found" => Ok((Remote::Missing, None)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Incoming, Outgoing};
    use TransferStatus as S;

    #[test]
    fn the_rule_table() {
        let cases = [
            (Outgoing, S::Initiated, Remote::Missing, Action::Fail),
            (Outgoing, S::Initiated, Remote::Is(S::Completed), Action::Complete),
            (Outgoing, S::Ongoing, Remote::Is(S::Completed), Action::Complete),
            (Outgoing, S::Ongoing, Remote::Is(S::Failed), Action::Fail),
            (Outgoing, S::Ongoing, Remote::Is(S::Initiated), Action::Leave),
            (Outgoing, S::Staged, Remote::Is(S::Initiated), Action::Resume),
            (Outgoing, S::Staged, Remote::Is(S::Staged), Action::Leave),
            (Outgoing, S::Staged, Remote::Is(S::Completed), Action::Complete),
            (Outgoing, S::Staged, Remote::Missing, Action::Fail),
            (Incoming, S::Initiated, Remote::Is(S::Staged), Action::Resume),
            (Incoming, S::Ongoing, Remote::Is(S::Ongoing), Action::Leave),
            (Incoming, S::Initiated, Remote::Is(S::Failed), Action::Fail),
            (Incoming, S::Initiated, Remote::Missing, Action::Fail),
            (Incoming, S::Staged, Remote::Is(S::Staged), Action::Leave),
            (Incoming, S::Staged, Remote::Missing, Action::Fail),
            (Incoming, S::Completed, Remote::Missing, Action::Leave),
        ];
        for (d, l, r, want) in cases {
            assert_eq!(rule(d, l, r), want, "{d} {l} {r:?}");
        }
    }

    #[test]
    fn failures_are_told_in_plain_words() {
        assert_eq!(Remote::Missing.failure("site-b"), "reconciliation: site-b has no such transfer");
        assert_eq!(Remote::Is(S::Cancelled).failure("site-b"), "reconciliation: the transfer is cancelled at site-b");
    }
}
