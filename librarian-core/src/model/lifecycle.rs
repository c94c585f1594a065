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
    /// The catalog database's own integrity.
    pub catalog: CatalogCheck,
    /// Coverage per store after the run.
    pub coverage: Vec<StoreCoverage>,
}
