//! Typed rows and ids of the catalog.

use std::path::PathBuf;

use jiff::Timestamp;

use super::{DeletionPolicy, FileId, FileKind, InstanceId, InstanceState, IntentId, RemoteState, StoreId};
use crate::checksum::{Checksum, Entry};
use crate::model::{File, Instance, RemoteInstance};
use crate::name::FileName;

/// A store as catalogued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRow {
    /// Row id.
    pub id: StoreId,
    /// Unique name.
    pub name: String,
    /// Data area (absolute).
    pub root: PathBuf,
    /// Staging area (absolute, same filesystem as `root`).
    pub staging: PathBuf,
    /// New data may be ingested here.
    pub ingestable: bool,
    /// The store may be read and written at all.
    pub enabled: bool,
    /// Bytes of free space kept in reserve: an ingest that would leave less fails.
    pub reserve_bytes: u64,
    /// When it was added.
    pub created_at: Timestamp,
}

/// A catalogued file (without its instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Row id.
    pub id: FileId,
    /// Unique name.
    pub name: FileName,
    /// Bytes (sum of entries for a book).
    pub size: u64,
    /// Checksum (path-aware directory digest for a book).
    pub checksum: Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Who uploaded it.
    pub uploader: String,
    /// The site it came from.
    pub source: String,
    /// When it was created at its origin (the site that first ingested it).
    pub created_at: Timestamp,
    /// When it was catalogued here (`created_at` for a file ingested here).
    pub arrived_at: Timestamp,
}

/// A copy of a file on a local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// Row id.
    pub id: InstanceId,
    /// The file.
    pub file_id: FileId,
    /// The store's id.
    pub store_id: StoreId,
    /// The store's name.
    pub store: String,
    /// Absolute path of the copy.
    pub path: PathBuf,
    /// Whether the copy can be read.
    pub available: bool,
    /// May an automatic task delete it?
    pub deletion_policy: DeletionPolicy,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last re-read and found intact.
    pub verified_at: Option<Timestamp>,
    /// What is known of its bytes (`available` is `state == Ok`).
    pub state: InstanceState,
    /// Why it is not `ok` (what a verification found, why it was deleted).
    pub state_reason: Option<String>,
    /// When it entered its state (none for an instance `ok` since it was made).
    pub state_at: Option<Timestamp>,
}

/// A copy known to exist at another Librarian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInstanceRow {
    /// The other site.
    pub librarian: String,
    /// Its store.
    pub store: String,
    /// When it was copied.
    pub copied_at: Timestamp,
    /// When it was last verified there.
    pub verified_at: Option<Timestamp>,
    /// What the peer last answered about it.
    pub state: RemoteState,
    /// When the peer was last asked (whatever it answered).
    pub checked_at: Option<Timestamp>,
}

/// An ingest between its rename into the data area and its catalog commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRow {
    /// Row id.
    pub id: IntentId,
    /// The name being ingested.
    pub name: String,
    /// Target store.
    pub store_id: StoreId,
    /// The staging directory of the ingest (locked while the ingest runs).
    pub staging_dir: PathBuf,
    /// For `--move`: where the data came from, so a rollback puts it back.
    pub moved_from: Option<PathBuf>,
    /// When the intent was recorded.
    pub created_at: Timestamp,
}

/// What to insert when an ingest commits.
#[derive(Debug)]
pub struct NewFile<'a> {
    /// Name.
    pub name: &'a FileName,
    /// Total bytes.
    pub size: u64,
    /// Checksum.
    pub checksum: &'a Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Uploader.
    pub uploader: &'a str,
    /// Source site.
    pub source: &'a str,
    /// When it was created at its origin, if it was created elsewhere and that is
    /// known; `None`: now (it is created by this ingest). A time after the ingest is
    /// taken as the ingest's time.
    pub created_at: Option<Timestamp>,
    /// Entries of a book (empty for a file).
    pub entries: &'a [Entry],
}

/// Bytes and files per store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreUsage {
    /// Instances on the store.
    pub files: u64,
    /// Bytes of those instances.
    pub bytes: u64,
}

impl File {
    pub(crate) fn from_rows(f: FileRow, instances: Vec<InstanceRow>, remote: Vec<RemoteInstanceRow>) -> Self {
        File {
            name: f.name,
            size: f.size,
            checksum: f.checksum,
            kind: f.kind,
            uploader: f.uploader,
            source: f.source,
            created_at: f.created_at,
            arrived_at: f.arrived_at,
            instances: instances.into_iter().map(Instance::from).collect(),
            remote_instances: remote.into_iter().map(RemoteInstance::from).collect(),
        }
    }
}

impl From<InstanceRow> for Instance {
    fn from(r: InstanceRow) -> Self {
        Instance {
            id: r.id,
            store: r.store,
            path: r.path,
            available: r.available,
            deletion_policy: r.deletion_policy,
            created_at: r.created_at,
            verified_at: r.verified_at,
            state: r.state,
            state_reason: r.state_reason,
        }
    }
}

impl From<RemoteInstanceRow> for RemoteInstance {
    fn from(r: RemoteInstanceRow) -> Self {
        RemoteInstance {
            librarian: r.librarian,
            store: r.store,
            copied_at: r.copied_at,
            verified_at: r.verified_at,
            state: r.state,
            checked_at: r.checked_at,
        }
    }
}
