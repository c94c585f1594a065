//! The transfer state machine: a pure function from (state, event) to the next state
//! or a typed refusal. Every transition is idempotent: an event that would move a
//! transfer to the state it is already in is accepted and changes nothing, so a
//! callback delivered twice has the effect of one.

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Created; the destination has not yet agreed (outgoing) or the data has not
    /// started to move (incoming).
    Initiated,
    /// The data is moving.
    Ongoing,
    /// The data is at the destination's staging area, not yet verified and committed.
    Staged,
    /// Verified and committed at the destination, and recorded at the source.
    Completed,
    /// Given up; the file is planned again later.
    Failed,
    /// Stopped by an operator.
    Cancelled,
}

impl TransferStatus {
    all_variants!(
        /// Every status, in the order of a successful transfer, then the side exits.
        Initiated, Ongoing, Staged, Completed, Failed, Cancelled
    );

    /// The JSON and SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Initiated => "initiated",
            TransferStatus::Ongoing => "ongoing",
            TransferStatus::Staged => "staged",
            TransferStatus::Completed => "completed",
            TransferStatus::Failed => "failed",
            TransferStatus::Cancelled => "cancelled",
        }
    }

    /// True for `completed`, `failed` and `cancelled`: nothing moves it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, TransferStatus::Completed | TransferStatus::Failed | TransferStatus::Cancelled)
    }
}

impl fmt::Display for TransferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TransferStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TransferStatus::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            Error::invalid("status", format!(
                "unknown transfer status {s:?}; statuses are: initiated, ongoing, staged, completed, failed, cancelled"
            ))
        })
    }
}

/// What can happen to a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferEvent {
    /// The data started to move (the destination accepted the item; a batch started).
    Started,
    /// The data arrived at the destination's staging area.
    Staged,
    /// The destination verified and committed it.
    Completed,
    /// It failed (a mismatch, a refusal, too many retries).
    Failed,
    /// An operator cancelled it.
    Cancelled,
}

impl TransferEvent {
    all_variants!(
        /// Every event.
        Started, Staged, Completed, Failed, Cancelled
    );

    /// The state this event leads to.
    pub fn target(self) -> TransferStatus {
        match self {
            TransferEvent::Started => TransferStatus::Ongoing,
            TransferEvent::Staged => TransferStatus::Staged,
            TransferEvent::Completed => TransferStatus::Completed,
            TransferEvent::Failed => TransferStatus::Failed,
            TransferEvent::Cancelled => TransferStatus::Cancelled,
        }
    }

    /// The event's name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEvent::Started => "started",
            TransferEvent::Staged => "staged",
            TransferEvent::Completed => "completed",
            TransferEvent::Failed => "failed",
            TransferEvent::Cancelled => "cancelled",
        }
    }
}

/// The next state of a transfer in `state` when `event` happens.
///
/// - `initiated → ongoing → staged → completed` is the way through; `completed` may
///   also be reached from `initiated` or `ongoing` (a destination that already held
///   the file, or a reconciliation that finds the copy made), and `staged` from
///   `initiated` (a fast manager whose "started" report was lost).
/// - `failed` and `cancelled` are reachable from every non-terminal state.
/// - The same event again in its target state is accepted (idempotent).
/// - Everything else is [`Error::IllegalTransition`]: nothing leaves a terminal
///   state, and nothing goes backwards.
pub fn next(state: TransferStatus, event: TransferEvent) -> Result<TransferStatus> {
    use TransferEvent as E;
    use TransferStatus as S;
    let target = event.target();
    if state == target {
        return Ok(state);
    }
    let allowed = match (state, event) {
        (S::Initiated, E::Started | E::Staged | E::Completed | E::Failed | E::Cancelled) => true,
        (S::Ongoing, E::Staged | E::Completed | E::Failed | E::Cancelled) => true,
        (S::Staged, E::Completed | E::Failed | E::Cancelled) => true,
        (S::Ongoing, E::Started) | (S::Staged, E::Started | E::Staged) => false,
        (S::Completed | S::Failed | S::Cancelled, _) => false,
    };
    if allowed { Ok(target) } else { Err(Error::IllegalTransition { from: state.as_str(), event: event.as_str() }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransferEvent as E;
    use TransferStatus as S;

    /// The whole table, written out: every (state, event) pair and its outcome.
    #[test]
    fn every_pair() {
        let table: [(S, [Option<S>; 5]); 6] = [
            //            Started          Staged          Completed          Failed           Cancelled
            (
                S::Initiated,
                [Some(S::Ongoing), Some(S::Staged), Some(S::Completed), Some(S::Failed), Some(S::Cancelled)],
            ),
            (S::Ongoing, [Some(S::Ongoing), Some(S::Staged), Some(S::Completed), Some(S::Failed), Some(S::Cancelled)]),
            (S::Staged, [None, Some(S::Staged), Some(S::Completed), Some(S::Failed), Some(S::Cancelled)]),
            (S::Completed, [None, None, Some(S::Completed), None, None]),
            (S::Failed, [None, None, None, Some(S::Failed), None]),
            (S::Cancelled, [None, None, None, None, Some(S::Cancelled)]),
        ];
        for (state, outcomes) in table {
            for (event, expected) in E::ALL.into_iter().zip(outcomes) {
                let got = next(state, event);
                match expected {
                    Some(s) => assert_eq!(got.ok(), Some(s), "{state} + {}", event.as_str()),
                    None => assert!(
                        matches!(got, Err(Error::IllegalTransition { from, event: e }) if from == state.as_str() && e == event.as_str()),
                        "{state} + {} should be illegal, got {got:?}",
                        event.as_str()
                    ),
                }
            }
        }
    }

    #[test]
    fn terminal_states_and_names_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().ok(), Some(s));
            assert_eq!(s.is_terminal(), matches!(s, S::Completed | S::Failed | S::Cancelled));
        }
        assert!("done".parse::<S>().is_err());
    }
}
