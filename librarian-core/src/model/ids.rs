//! Row ids and the small enums every layer shares: file kinds, deletion policies, search filters.

use jiff::Timestamp;

use crate::error::{Error, Result};

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
    all_variants!(
        /// Both kinds.
        File, Directory
    );

    /// `"file"` or `"directory"` (the JSON and SQL spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Directory => "directory",
        }
    }
}

impl std::str::FromStr for FileKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "file" => Ok(FileKind::File),
            "directory" => Ok(FileKind::Directory),
            other => Err(Error::invalid("kind", format!("must be 'file' or 'directory', not {other:?}"))),
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
    all_variants!(
        /// Both policies.
        Allowed, Disallowed
    );

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
            other => Err(Error::invalid(
                "deletion policy",
                format!("deletion policy must be 'allowed' or 'disallowed', not {other:?}"),
            )),
        }
    }
}

/// What is known of an instance's bytes. Only an `ok` instance is available: read,
/// copied, cloned or used to repair another; the others keep their row (the record
/// of what happened) until repaired or forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceState {
    /// Intact as far as anyone knows (last verified at `verified_at`).
    #[default]
    Ok,
    /// A verification found bytes that do not match the catalog. The bytes stay
    /// until a repair replaces them.
    Corrupt,
    /// A verification found the copy (or part of a book) missing or unreadable.
    Missing,
    /// Being removed by rolling deletion or `drop`: committed, its bytes not yet
    /// gone (a run killed here is finished by the next one).
    Deleting,
    /// Removed on purpose by rolling deletion or `drop`, once enough other good
    /// copies were known.
    Deleted,
    /// A drive's copy, delivered to its destination (the drive may be wiped).
    Retired,
}

impl InstanceState {
    all_variants!(
        /// Every state.
        Ok, Corrupt, Missing, Deleting, Deleted, Retired
    );

    /// The JSON and SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Ok => "ok",
            InstanceState::Corrupt => "corrupt",
            InstanceState::Missing => "missing",
            InstanceState::Deleting => "deleting",
            InstanceState::Deleted => "deleted",
            InstanceState::Retired => "retired",
        }
    }

    /// A damaged copy: found corrupt or missing, waiting for a repair.
    pub fn is_damaged(self) -> bool {
        match self {
            InstanceState::Corrupt | InstanceState::Missing => true,
            InstanceState::Ok | InstanceState::Deleting | InstanceState::Deleted | InstanceState::Retired => false,
        }
    }
}

impl std::str::FromStr for InstanceState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        InstanceState::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::invalid("instance state", format!("unknown instance state {s:?}")))
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a peer last answered about its copy when asked to re-verify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteState {
    /// Intact when last asked (or never asked: recorded when it arrived intact).
    #[default]
    Ok,
    /// The peer found its copy does not match.
    Corrupt,
    /// The peer no longer holds an intact copy it can read.
    Missing,
}

impl RemoteState {
    all_variants!(
        /// Every state.
        Ok, Corrupt, Missing
    );

    /// The JSON and SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteState::Ok => "ok",
            RemoteState::Corrupt => "corrupt",
            RemoteState::Missing => "missing",
        }
    }
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
    /// Only names after this one in the results' order (byte order of UTF-8, as SQLite
    /// compares text): keyset pagination. Pass the last name of the previous page, or
    /// [`SearchPage::next`](super::SearchPage::next), to get the next one; unlike an
    /// offset, a file catalogued meanwhile never shifts a page. Any text is a cursor
    /// (it need not be a catalogued name, or a valid new one).
    pub after: Option<String>,
}
