//! Calls between sites: what the outbox queues and the peer receives (the wire bodies).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    all_variants!(
        /// Every kind.
        Holds, Staged, Complete, Fail
    );

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

/// Body of a `holds` call: the sender holds this file in this store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsCall {
    /// The file's name.
    pub name: String,
    /// Its checksum at the sender.
    pub checksum: String,
    /// Its size in bytes.
    pub size: u64,
    /// The sender's store that holds it.
    pub store: String,
    /// When the sender's copy was made.
    pub copied_at: Timestamp,
}

/// Idempotency keys: 1–128 ASCII letters, digits, `-`, `_`, `.` or `:`.
pub fn validate_call_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "Idempotency-Key",
            "the Idempotency-Key header must be 1-128 characters of letters, digits, '-', '_', '.' or ':'",
        ))
    }
}
