//! Typed rows and ids of the catalog.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::checksum::{Checksum, Entry};
use crate::error::{Error, Result};
use crate::name::FileName;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Row id of a store.
    StoreId
);
id_type!(
    /// Row id of a file.
    FileId
);
id_type!(
    /// Row id of a local instance.
    InstanceId
);
id_type!(
    /// Row id of an ingest intent.
    IntentId
);

/// A catalog file is a single file or a directory ("book").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A single regular file.
    File,
    /// A directory tree.
    Directory,
}

impl FileKind {
    /// `"file"` or `"directory"` (the JSON and SQL spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Directory => "directory",
        }
    }

    pub(crate) fn from_sql(s: &str) -> Result<Self> {
        match s {
            "file" => Ok(FileKind::File),
            "directory" => Ok(FileKind::Directory),
            other => Err(corrupt_row("files.kind", other)),
        }
    }
}

/// May an automatic task delete this instance?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Deletion allowed (when enough other copies exist).
    Allowed,
    /// Never deleted automatically (the default).
    #[default]
    Disallowed,
}

impl DeletionPolicy {
    /// `"allowed"` or `"disallowed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionPolicy::Allowed => "allowed",
            DeletionPolicy::Disallowed => "disallowed",
        }
    }
}

impl std::str::FromStr for DeletionPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "allowed" => Ok(DeletionPolicy::Allowed),
            "disallowed" => Ok(DeletionPolicy::Disallowed),
            other => {
                Err(Error::InvalidArgument(format!("deletion policy must be 'allowed' or 'disallowed', not {other:?}")))
            }
        }
    }
}

pub(crate) fn corrupt_row(column: &str, value: &str) -> Error {
    Error::Database {
        context: format!("reading {column}"),
        source: rusqlite::Error::InvalidColumnType(0, format!("{column} = {value:?}"), rusqlite::types::Type::Text),
    }
}

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
    /// When it was catalogued.
    pub created_at: Timestamp,
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

/// Filters of a search; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// SQLite GLOB pattern on the name (`*`, `?`, `[...]`; case-sensitive).
    pub name_glob: Option<String>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// Exact uploader.
    pub uploader: Option<String>,
    /// Exact source site.
    pub source: Option<String>,
    /// At most this many results (default 100 when `None`).
    pub limit: Option<u32>,
}
