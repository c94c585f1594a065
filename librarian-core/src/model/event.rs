//! Events: what an operator must know about (a peer that cannot be reached, a call a
//! peer refused for good, a conflict). An open event with the same category and
//! subject is not repeated: its count and last-seen time go up instead. Events stay
//! until an operator clears them (or, for `peer_unreachable`, until the peer answers).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How bad it is. Ordered: `Info < Warning < Error` (an alert sink's `min_severity`
/// compares with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs attention soon; nothing is lost yet.
    Warning,
    /// Needs an operator: something could not be done.
    Error,
}

impl Severity {
    all_variants!(
        /// Every severity, least severe first.
        Info, Warning, Error
    );

    /// `info`, `warning` or `error` (JSON and SQL spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// Calls to a peer cannot be delivered: it does not answer (subject: the peer).
    PeerUnreachable,
    /// A peer answers but refuses our calls for a reason an operator can fix, such as
    /// our credentials (subject: the peer). The calls wait.
    PeerRefused,
    /// A peer refused a call for good (e.g. it does not know the file); the call was
    /// dropped from the outbox (subject: `peer/key`).
    CallRefused,
    /// The same name with a different checksum at two sites (subject: the name).
    Conflict,
    /// A transfer failed (subject: `peer/name`); the file is planned again later.
    TransferFailed,
    /// A store reached its reserve while being filled (subject: the store).
    StoreFull,
    /// Every file exported on a drive was acknowledged by its destination: the drive
    /// can be wiped (subject: the store).
    DriveDone,
    /// The catalog database failed its integrity check (`PRAGMA quick_check`) during
    /// `verify` (subject: the database file). Raised only while it can still be written.
    CatalogCorrupt,
    /// Something that will not get better without an operator: a batch that is stuck,
    /// such as a Globus task that is `INACTIVE` (subject: `peer/batch N`), or Globus
    /// credentials that are refused (subject: `globus`). Cleared when it moves again.
    NeedsAttention,
    /// A verification found a local copy whose bytes do not match the catalog
    /// (subject: `store/name`). Cleared when the copy is repaired or verifies again.
    InstanceCorrupt,
    /// A verification found a local copy missing or unreadable (subject:
    /// `store/name`). Cleared when the copy is repaired or verifies again.
    InstanceMissing,
    /// The scrub cannot keep its coverage target within its budget (subject: the
    /// store): some copies were not re-read within `[scrub] cover_every`.
    ScrubBehind,
}

impl Category {
    all_variants!(
        /// Every category.
        PeerUnreachable, PeerRefused, CallRefused, Conflict, TransferFailed, StoreFull, DriveDone, CatalogCorrupt,
        NeedsAttention, InstanceCorrupt, InstanceMissing, ScrubBehind
    );

    /// The JSON and SQL spelling, e.g. `peer_unreachable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PeerUnreachable => "peer_unreachable",
            Category::PeerRefused => "peer_refused",
            Category::CallRefused => "call_refused",
            Category::Conflict => "conflict",
            Category::TransferFailed => "transfer_failed",
            Category::StoreFull => "store_full",
            Category::DriveDone => "drive_done",
            Category::CatalogCorrupt => "catalog_corrupt",
            Category::NeedsAttention => "needs_attention",
            Category::InstanceCorrupt => "instance_corrupt",
            Category::InstanceMissing => "instance_missing",
            Category::ScrubBehind => "scrub_behind",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// How bad.
    pub severity: Severity,
    /// About what.
    pub category: Category,
    /// Which object (a peer, a file name, `peer/key`).
    pub subject: String,
    /// What happened, for a person.
    pub message: String,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Its id (for `events clear`).
    pub id: i64,
    /// How bad.
    pub severity: Severity,
    /// About what.
    pub category: Category,
    /// Which object.
    pub subject: String,
    /// The latest message.
    pub message: String,
    /// How many times it happened while open.
    pub count: u64,
    /// First seen.
    pub created_at: Timestamp,
    /// Last seen.
    pub last_seen_at: Timestamp,
    /// When an operator (or recovery) cleared it; `None` while open.
    pub cleared_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;
    use crate::error::Error;

    #[test]
    fn repeats_are_counted_and_cleared_events_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        let e = NewEvent {
            severity: Severity::Warning,
            category: Category::PeerUnreachable,
            subject: "site-b".into(),
            message: "first".into(),
        };
        let a = lib.raise_event(&e).expect("raise");
        let b = lib.raise_event(&NewEvent { message: "second".into(), ..e.clone() }).expect("raise");
        assert_eq!((a.id, b.id, b.count, b.message.as_str()), (a.id, a.id, 2, "second"));
        assert_eq!(lib.events(false).expect("list").len(), 1);
        let cleared = lib.clear_event(a.id).expect("clear");
        assert!(cleared.cleared_at.is_some());
        assert!(matches!(lib.clear_event(a.id), Err(Error::NotFound { .. })), "clearing twice");
        assert!(lib.events(false).expect("list").is_empty());
        let c = lib.raise_event(&e).expect("raise again");
        assert_ne!(c.id, a.id, "a cleared event is history; a new occurrence opens a new one");
        assert_eq!(lib.events(true).expect("all").len(), 2);
        assert!(matches!(lib.clear_event(9999), Err(Error::NotFound { .. })));
    }
}
