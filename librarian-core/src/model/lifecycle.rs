//! Views of the data life-cycle: what a scrub read and found, and how well each
//! store is covered.

use jiff::Timestamp;
use serde::Serialize;

use super::{CatalogCheck, InstanceCheck};

/// Why a scrub run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrubStop {
    /// Every copy due was re-read.
    Done,
    /// The byte budget was spent (the copy that crossed it was finished).
    Bytes,
    /// The time budget was spent (no copy was started after it).
    Time,
}

impl ScrubStop {
    all_variants!(
        /// Every reason.
        Done, Bytes, Time
    );

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrubStop::Done => "done",
            ScrubStop::Bytes => "bytes",
            ScrubStop::Time => "time",
        }
    }
}

/// One store's scrub coverage (`verify --budget`, `status`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreCoverage {
    /// The store.
    pub store: String,
    /// Available copies on it.
    pub instances: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Copies not re-read within the coverage target (`[scrub] cover_every`).
    pub overdue_instances: u64,
    /// Their bytes.
    pub overdue_bytes: u64,
    /// When its least recently verified copy was last re-read (UTC).
    pub oldest_verified_at: Option<Timestamp>,
    /// Fraction of its bytes re-read within the coverage target (1 when empty).
    pub covered: f64,
    /// Copies found corrupt or missing, waiting for a repair.
    pub damaged: u64,
}

/// What one scrub run did (`librarian verify --budget`, `Librarian.scrub`, the
/// `scrub` task).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScrubReport {
    /// True when every copy read was intact and the catalog passed its own check.
    pub ok: bool,
    /// Copies re-read.
    pub instances: u64,
    /// Bytes re-read.
    pub bytes: u64,
    /// Seconds the run took.
    pub seconds: f64,
    /// Why it stopped.
    pub stopped: ScrubStop,
    /// The copies found damaged (or unreadable), one check each.
    pub problems: Vec<InstanceCheck>,
    /// Stores whose copies were skipped because the store is not there (its root
    /// is missing: an unmounted disk), each with why. Nothing of them was marked.
    pub unreachable: Vec<String>,
    /// The catalog database's own integrity.
    pub catalog: CatalogCheck,
    /// Coverage per store after the run.
    pub coverage: Vec<StoreCoverage>,
}

/// What deletion decided for one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionAction {
    /// Deleted (or, in a dry run, would be): enough good copies elsewhere.
    Delete,
    /// Kept: not enough good copies elsewhere (the reason says which are missing).
    Keep,
    /// A dry run only: would be deleted if the peers holding the other copies answer
    /// that they re-verified them intact (they are asked first in a real run).
    Verify,
}

impl DeletionAction {
    all_variants!(
        /// Every action.
        Delete, Keep, Verify
    );

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionAction::Delete => "delete",
            DeletionAction::Keep => "keep",
            DeletionAction::Verify => "verify",
        }
    }
}

/// One copy considered for deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionItem {
    /// The file.
    pub name: crate::name::FileName,
    /// The store of the copy.
    pub store: String,
    /// The copy's instance id.
    pub instance: super::InstanceId,
    /// Its bytes.
    pub size: u64,
    /// What was (or, in a dry run, would be) done.
    pub action: DeletionAction,
    /// True when the copy was deleted (never in a dry run).
    pub done: bool,
    /// Why.
    pub reason: String,
    /// Remote copies re-verified intact within the window.
    pub verified_copies: u32,
    /// Other available copies on this site's other stores.
    pub local_copies: u32,
}

/// What rolling deletion or `drop` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionReport {
    /// The store.
    pub store: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Remote copies required, re-verified within the window.
    pub min_copies: u32,
    /// Every copy considered, oldest first.
    pub items: Vec<DeletionItem>,
    /// Copies deleted.
    pub deleted: u64,
    /// Their bytes.
    pub bytes_freed: u64,
    /// Peers asked to re-verify their copies.
    pub peers_asked: Vec<String>,
    /// What went wrong on the way (a peer that did not answer, bytes that could not
    /// be removed); the copies concerned were kept or are reported here.
    pub problems: Vec<String>,
}

/// One damaged copy a repair replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairedCopy {
    /// The store of the copy.
    pub store: String,
    /// Its instance id.
    pub instance: super::InstanceId,
    /// What it was before: `corrupt` or `missing`.
    pub was: super::InstanceState,
    /// Where the good bytes came from: `store NAME` here, or `peer NAME`.
    pub from: String,
}

/// A damaged copy a repair could not replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairFailure {
    /// The store of the copy.
    pub store: String,
    /// Its instance id.
    pub instance: super::InstanceId,
    /// Why: every source tried and what went wrong with it.
    pub reason: String,
}

/// What `librarian repair NAME` (or the scrub's automatic repair) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// The file.
    pub name: crate::name::FileName,
    /// True when every damaged copy was repaired (or there was none).
    pub ok: bool,
    /// The copies replaced with verified bytes.
    pub repaired: Vec<RepairedCopy>,
    /// The copies still damaged.
    pub failed: Vec<RepairFailure>,
}
