//! Public views returned by the facade, serialised with the JSON field names of
//! design §9 (a contract: fields may be added, never renamed).

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

mod access;
mod alert;
mod call;
mod event;
mod ids;
mod lifecycle;
mod original;
mod original_import;
mod original_v2;
mod peer;
mod pickle;
mod protocol;
mod remote_check;
mod store;
mod task;
mod transfer;
mod transfer_state;
mod units;

pub use access::{Account, Level, Password};
pub(crate) use access::{hash_password, read_private_file, verify_password};
pub use alert::{AlertBody, AlertDelivery, AlertKind, SinkTest};
pub use call::{CallKind, HoldsCall, OutboxCall, PeerQueue, validate_call_key};
pub use event::{Category, Event, NewEvent, Severity};
pub use ids::{
    DeletionPolicy, FileId, FileKind, InstanceId, InstanceState, IntentId, RemoteState, SearchQuery, StoreId,
};
pub use lifecycle::{
    DeletionAction, DeletionItem, DeletionReport, RepairFailure, RepairReport, RepairedCopy, ScrubReport, ScrubStop,
    StoreCoverage,
};
pub use original::decrypt_authenticator;
pub use original_import::{
    ImportConflict, ImportTally, InFlight, InFlightAction, LevelMapping, OriginalCounts, OriginalImportReport,
    PrefixMap, SkippedRow, map_level, map_policy, map_status, original_peer_url, parse_original_time,
};
pub use original_v2::{
    V2BatchStage, V2CheckinStatus, V2CheckinUpdate, V2CloneComplete, V2CloneFail, V2Endpoint, v2_failure,
};
pub(crate) use peer::check_transport;
pub use peer::{Peer, PeerProtocol, normalise_url};
pub use pickle::{PickleValue, read_plain as read_plain_pickle};
pub(crate) use protocol::call_digest;
pub use protocol::{
    FEATURES, MAX_STAGE_ITEMS, STAGE_CREATED_AT, StageItem, StageRequest, StageResponse, StageResult, TransferCall,
    ValidItem,
};
pub use remote_check::{CopyCheck, FileVerification, MAX_VERIFY_NAMES, ReadRequest, VerifyAnswer, VerifyRequest};
pub use store::{DEFAULT_STORE, StoreSpec};
pub use task::{TaskKind, TaskOutcome, TaskStatus};
pub use transfer::{Direction, ManagerKind, Transfer};
pub use transfer_state::{TransferEvent, TransferStatus, next};
pub(crate) use units::size_serde;
pub use units::{Budget, format_interval, parse_budget, parse_interval, parse_size};

use crate::checksum::{Checksum, EntryKind};
use crate::name::FileName;

macro_rules! serialize_as_str {
    ($t:ty, $f:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let f: fn(&$t) -> String = $f;
                s.serialize_str(&f(self))
            }
        }
    };
}
serialize_as_str!(FileName, |v| v.as_str().to_owned());
serialize_as_str!(Checksum, |v| v.to_string());
serialize_as_str!(FileKind, |v| v.as_str().to_owned());
serialize_as_str!(DeletionPolicy, |v| v.as_str().to_owned());
serialize_as_str!(InstanceState, |v| v.as_str().to_owned());
serialize_as_str!(RemoteState, |v| v.as_str().to_owned());
serialize_as_str!(EntryKind, |v| v.as_str().to_owned());

macro_rules! deserialize_from_str {
    ($t:ty, $f:expr) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                let f: fn(&str) -> crate::error::Result<$t> = $f;
                f(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
deserialize_from_str!(FileName, FileName::new);
deserialize_from_str!(Checksum, Checksum::parse);
deserialize_from_str!(FileKind, str::parse);
deserialize_from_str!(InstanceState, str::parse);

impl Serialize for InstanceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

/// A file with its local and remote copies (JSON object "File").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    /// Unique name.
    pub name: FileName,
    /// Bytes (sum of entries for a book).
    pub size: u64,
    /// Checksum text, e.g. `blake3:<hex>`.
    pub checksum: Checksum,
    /// `file` or `directory`.
    pub kind: FileKind,
    /// Who uploaded it.
    pub uploader: String,
    /// Site it came from.
    pub source: String,
    /// When it was created (UTC) at its origin, the site that first ingested it: a
    /// clone or a drive keeps it. Never later than `arrived_at`.
    pub created_at: Timestamp,
    /// When it was catalogued at this site (UTC): equal to `created_at` for a file
    /// ingested here, its arrival for one that came from another site.
    pub arrived_at: Timestamp,
    /// Local copies.
    pub instances: Vec<Instance>,
    /// Copies at other Librarians.
    pub remote_instances: Vec<RemoteInstance>,
}

/// One page of a search ([`Librarian::search_page`](crate::Librarian::search_page)),
/// as `librarian search --page --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchPage {
    /// The matches, by name: at most the query's limit.
    pub files: Vec<File>,
    /// More files match after these.
    pub truncated: bool,
    /// When `truncated`: the cursor of the next page, to pass as
    /// [`SearchQuery::after`] (the last name of this page; with a limit of 0, the
    /// query's own cursor). `None` otherwise.
    pub next: Option<String>,
}

/// A copy on a local store (JSON object "Instance").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Instance id.
    pub id: InstanceId,
    /// Store name.
    pub store: String,
    /// Absolute path of the copy.
    pub path: PathBuf,
    /// Readable?
    pub available: bool,
    /// `allowed` or `disallowed`.
    pub deletion_policy: DeletionPolicy,
    /// When it was made (UTC).
    pub created_at: Timestamp,
    /// When it was last re-read and found intact (UTC).
    pub verified_at: Option<Timestamp>,
    /// What is known of its bytes: `ok` (then `available`), `corrupt`, `missing`,
    /// `deleted`, `retired`.
    pub state: InstanceState,
    /// Why it is not `ok`, when it is not.
    pub state_reason: Option<String>,
}

/// A copy at another Librarian (JSON object "RemoteInstance").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteInstance {
    /// The other site.
    pub librarian: String,
    /// Its store.
    pub store: String,
    /// When it was copied (UTC).
    pub copied_at: Timestamp,
    /// When it was last verified there (UTC).
    pub verified_at: Option<Timestamp>,
    /// What the peer last answered when asked to re-verify it: `ok`, `corrupt`,
    /// `missing`.
    pub state: RemoteState,
    /// When the peer was last asked (UTC), whatever it answered.
    pub checked_at: Option<Timestamp>,
}

/// How an upload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// New data was committed.
    Ingested,
    /// The name was already catalogued with the same checksum; nothing changed.
    AlreadyPresent,
}

impl UploadStatus {
    all_variants!(
        /// Every outcome.
        Ingested, AlreadyPresent
    );

    /// `ingested` or `already_present` (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Ingested => "ingested",
            UploadStatus::AlreadyPresent => "already_present",
        }
    }
}

/// The result of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    /// `ingested` or `already_present`.
    pub status: UploadStatus,
    /// The catalogued file.
    pub file: File,
}

/// A store with its usage (JSON object "Store").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// Name.
    pub name: String,
    /// Data area.
    pub root: PathBuf,
    /// Staging area.
    pub staging: PathBuf,
    /// New data may be ingested here.
    pub ingestable: bool,
    /// Enabled.
    pub enabled: bool,
    /// Bytes kept free.
    pub reserve_bytes: u64,
    /// Instances on the store.
    pub files: u64,
    /// Bytes of those instances.
    pub used_bytes: u64,
    /// Free bytes on the filesystem (`null` if the store cannot be reached).
    pub free_bytes: Option<u64>,
}

/// The site at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteStatus {
    /// Site name.
    pub site: String,
    /// Database file.
    pub database: PathBuf,
    /// Catalog schema version.
    pub schema_version: i64,
    /// Files catalogued.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Ingests between rename and catalog commit right now (normally 0).
    pub ingests_in_progress: usize,
    /// Stores.
    pub stores: Vec<StoreStatus>,
}

/// What asking Globus Auth for a token gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobusAuthState {
    /// A Transfer token was obtained.
    Ok,
    /// Globus Auth refused the credentials (`invalid_client`, `invalid_grant`…).
    Refused,
    /// Globus Auth could not be reached or answered with an error of its own.
    Unreachable,
    /// The credentials could not be read (a missing or unsafe secret file).
    Misconfigured,
}

impl GlobusAuthState {
    all_variants!(
        /// Every state.
        Ok, Refused, Unreachable, Misconfigured
    );
}

/// Whether this site's Globus credentials work (`status`, `peer ping`): a Transfer
/// token could be obtained from Globus Auth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobusCheck {
    /// A token was obtained (`state` is `ok`).
    pub ok: bool,
    /// What happened.
    pub state: GlobusAuthState,
    /// The Globus Auth service asked.
    pub auth_url: String,
    /// The client id used.
    pub client_id: String,
    /// What happened (never a secret).
    pub detail: String,
}

/// What was wrong with one entry of a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryProblemKind {
    /// The entry is catalogued but absent on disk.
    Missing,
    /// The entry's bytes no longer hash to its digest.
    Mismatch,
    /// An entry on disk that the catalog does not list.
    Unexpected,
    /// The entry could not be read (or became a symlink or special file).
    Unreadable,
}

impl EntryProblemKind {
    all_variants!(
        /// Every kind of problem.
        Missing, Mismatch, Unexpected, Unreadable
    );

    /// `missing`, `mismatch`, `unexpected` or `unreadable` (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryProblemKind::Missing => "missing",
            EntryProblemKind::Mismatch => "mismatch",
            EntryProblemKind::Unexpected => "unexpected",
            EntryProblemKind::Unreadable => "unreadable",
        }
    }
}

/// One bad entry of a book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryProblem {
    /// Entry path relative to the book.
    pub entry: String,
    /// What is wrong.
    pub problem: EntryProblemKind,
}

/// Outcome for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Bytes match the catalog.
    Ok,
    /// Bytes differ.
    Mismatch,
    /// The copy is gone.
    Missing,
    /// The copy could not be read.
    Unreadable,
}

impl CheckStatus {
    all_variants!(
        /// Every outcome.
        Ok, Mismatch, Missing, Unreadable
    );

    /// `ok`, `mismatch`, `missing` or `unreadable` (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Mismatch => "mismatch",
            CheckStatus::Missing => "missing",
            CheckStatus::Unreadable => "unreadable",
        }
    }
}

/// The check of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceCheck {
    /// File name.
    pub name: FileName,
    /// Store name.
    pub store: String,
    /// Instance id.
    pub instance: InstanceId,
    /// Path checked.
    pub path: PathBuf,
    /// Result.
    pub status: CheckStatus,
    /// Checksum the catalog holds.
    pub expected: Checksum,
    /// Checksum of what is on disk (when it could be computed).
    pub actual: Option<Checksum>,
    /// For books: each bad entry.
    pub problems: Vec<EntryProblem>,
    /// Error text when unreadable.
    pub error: Option<String>,
    /// The copy's state after the check, as recorded: `ok`, or `corrupt` / `missing`
    /// when the check found it so (an unreachable store or an algorithm that cannot
    /// be recomputed leaves the state as it was).
    pub state: InstanceState,
}

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when every instance checked is intact and the catalog passed its own check.
    pub ok: bool,
    /// One item per instance checked.
    pub checked: Vec<InstanceCheck>,
    /// The catalog database's own integrity (`PRAGMA quick_check`).
    pub catalog: CatalogCheck,
}

impl VerifyReport {
    /// `Ok(self)` when intact; otherwise the first problem as [`crate::Error::ChecksumMismatch`]
    /// (bytes differ) or [`crate::Error::DataMissing`] (copy or entry gone, unreadable).
    pub fn into_result(self) -> crate::Result<Self> {
        if self.ok {
            return Ok(self);
        }
        // A damaged catalog first: nothing it says can be trusted ([`crate::Error::Database`]).
        self.catalog.to_result()?;
        let bad: Vec<&InstanceCheck> = self.checked.iter().filter(|c| c.status != CheckStatus::Ok).collect();
        let describe = |c: &InstanceCheck| {
            let mut s = format!("{} on store {} ({})", c.path.display(), c.store, status_word(c.status));
            if !c.problems.is_empty() {
                let entries: Vec<String> =
                    c.problems.iter().map(|p| format!("{} {}", p.entry, problem_word(p.problem))).collect();
                s.push_str(&format!("; entries: {}", entries.join(", ")));
            }
            if let Some(e) = &c.error {
                s.push_str(&format!("; {e}"));
            }
            s
        };
        let detail = bad.iter().map(|c| describe(c)).collect::<Vec<_>>().join("; ");
        let name = bad.first().map(|c| c.name.to_string()).unwrap_or_default();
        if bad.iter().any(|c| c.status == CheckStatus::Mismatch) {
            Err(crate::Error::ChecksumMismatch { name, detail })
        } else {
            Err(crate::Error::DataMissing { name, detail })
        }
    }
}

pub(crate) fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Mismatch => "checksum mismatch",
        CheckStatus::Missing => "missing",
        CheckStatus::Unreadable => "unreadable",
    }
}

pub(crate) fn problem_word(p: EntryProblemKind) -> &'static str {
    match p {
        EntryProblemKind::Missing => "missing",
        EntryProblemKind::Mismatch => "checksum mismatch",
        EntryProblemKind::Unexpected => "unexpected",
        EntryProblemKind::Unreadable => "unreadable",
    }
}
/// The result of checking the catalog file (`verify`'s `catalog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogCheck {
    /// The database file checked.
    pub database: PathBuf,
    /// True when `PRAGMA quick_check` found nothing wrong.
    pub ok: bool,
    /// `None` when sound; `"database"` (the code of [`Error::Database`]) when not.
    pub code: Option<&'static str>,
    /// What SQLite found (at most [`MAX_REPORTED_PROBLEMS`] lines), or why the check
    /// itself could not run.
    pub problems: Vec<String>,
    /// The `catalog_corrupt` event raised for it, when the catalog could still be
    /// written.
    pub event: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` (what the CLI's text, the catalog and the Python module show) and the
    /// serde name (what JSON shows) are one spelling, for every variant in `ALL`.
    fn same_spelling<T: Serialize + Copy + std::fmt::Debug>(all: &[T], as_str: fn(T) -> &'static str) {
        for v in all {
            assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::Value::from(as_str(*v))), "{v:?}");
        }
    }

    #[test]
    fn as_str_is_the_json_spelling() {
        same_spelling(&Level::ALL, Level::as_str);
        same_spelling(&PeerProtocol::ALL, PeerProtocol::as_str);
        same_spelling(&Severity::ALL, Severity::as_str);
        same_spelling(&Category::ALL, Category::as_str);
        same_spelling(&CallKind::ALL, CallKind::as_str);
        same_spelling(&TaskStatus::ALL, TaskStatus::as_str);
        same_spelling(&TransferStatus::ALL, TransferStatus::as_str);
        same_spelling(&Direction::ALL, Direction::as_str);
        same_spelling(&ManagerKind::ALL, ManagerKind::as_str);
        same_spelling(&CheckStatus::ALL, CheckStatus::as_str);
        same_spelling(&EntryProblemKind::ALL, EntryProblemKind::as_str);
    }
}
