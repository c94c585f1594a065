//! The one error type of the core. Every variant has a stable [`Error::code`]
//! (used as the JSON `code`, and mapped one-to-one to a Python exception class).

use std::path::PathBuf;

use crate::name_rules::NameError;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of object a [`Error::NotFound`] or [`Error::AlreadyExists`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A catalog file (or book).
    File,
    /// A store.
    Store,
    /// A path on disk given by the caller.
    Path,
    /// A configuration file.
    Config,
    /// An instance id.
    Instance,
    /// An account of this site.
    Account,
    /// Another Librarian.
    Peer,
    /// An event (by id).
    Event,
    /// A transfer (by id).
    Transfer,
    /// A queued call to a peer (by id).
    Call,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::File => "file",
            ObjectKind::Store => "store",
            ObjectKind::Path => "path",
            ObjectKind::Config => "configuration",
            ObjectKind::Instance => "instance",
            ObjectKind::Account => "account",
            ObjectKind::Peer => "peer",
            ObjectKind::Event => "event",
            ObjectKind::Transfer => "transfer",
            ObjectKind::Call => "queued call",
        })
    }
}

/// Every error the core can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name broke the naming rules (design §2, invariant 3).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given (lossy if it was not UTF-8).
        name: String,
        /// Which rule it broke.
        reason: NameError,
    },
    /// The object does not exist.
    #[error("{kind} not found: {name}")]
    NotFound {
        /// What was looked for.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// The object exists already and may not be created again.
    #[error("{kind} already exists: {name}")]
    AlreadyExists {
        /// What was created.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// The same name is held with a different checksum (files are immutable).
    #[error("conflict: {name} is already catalogued with {existing}, refusing {incoming}")]
    Conflict {
        /// The name.
        name: String,
        /// The checksum the catalog holds.
        existing: String,
        /// The checksum of the rejected data.
        incoming: String,
    },
    /// Data did not hash to the checksum it should have.
    #[error("checksum mismatch for {name}: {detail}")]
    ChecksumMismatch {
        /// The file (or `file/entry`) concerned.
        name: String,
        /// Expected and actual values, or the list of bad entries.
        detail: String,
    },
    /// A copy that the catalog lists is missing from disk.
    #[error("data missing for {name}: {detail}")]
    DataMissing {
        /// The file concerned.
        name: String,
        /// Which path or entry is missing.
        detail: String,
    },
    /// No enabled, ingestable store has room for the data.
    #[error("no store can take {needed} bytes: {detail}")]
    StoreFull {
        /// Bytes needed.
        needed: u64,
        /// Why each candidate store was skipped.
        detail: String,
    },
    /// A checksum string could not be parsed.
    #[error("invalid checksum {text:?}: {reason}")]
    InvalidChecksum {
        /// The text given.
        text: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Two checksums of different algorithms were compared.
    #[error("cannot compare a {left} checksum with a {right} checksum")]
    AlgorithmMismatch {
        /// Algorithm of the first.
        left: String,
        /// Algorithm of the second.
        right: String,
    },
    /// A book holds an entry that cannot be catalogued (symlink, socket, device, bad name).
    #[error("unsupported entry {path}: {reason}")]
    UnsupportedEntry {
        /// The entry, relative to the book's root.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--move` was asked for but the source is on another filesystem than the store.
    #[error("cannot move {path}: it is not on the same filesystem as store {store}")]
    CrossDevice {
        /// The source path.
        path: PathBuf,
        /// The store.
        store: String,
    },
    /// The same name is being ingested by another live process right now.
    #[error("{name} is being ingested by another process; try again")]
    Busy {
        /// The name.
        name: String,
    },
    /// A name and password did not authenticate (unknown account or wrong password;
    /// deliberately not told apart).
    #[error("authentication failed for account {account:?}")]
    Unauthorized {
        /// The account name given.
        account: String,
    },
    /// Another Librarian could not be reached (connection refused, timeout, DNS, TLS).
    /// Retry later; nothing is lost.
    #[error("peer {peer} is unreachable: {detail}")]
    PeerUnreachable {
        /// The peer.
        peer: String,
        /// What went wrong.
        detail: String,
    },
    /// Another Librarian answered and refused the call.
    #[error("peer {peer} refused the call (HTTP {status}, {code}): {message}")]
    PeerRefused {
        /// The peer.
        peer: String,
        /// HTTP status.
        status: u16,
        /// The peer's error code.
        code: String,
        /// The peer's message.
        message: String,
    },
    /// A transfer cannot take this step from the state it is in (e.g. a completed
    /// transfer told it failed).
    #[error("a transfer in state {from} cannot take the event {event}")]
    IllegalTransition {
        /// The transfer's state.
        from: &'static str,
        /// The event refused.
        event: &'static str,
    },
    /// The caller may not do this (e.g. a peer acting on another peer's transfer).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A configuration file is missing, unreadable or malformed.
    #[error("configuration {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The database was written by a newer version of librarian.
    #[error("database schema version {found} is newer than this librarian supports ({supported}); upgrade librarian")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this code knows.
        supported: i64,
    },
    /// An argument is out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The catalog database failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What we were doing.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A filesystem operation failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable machine-readable code (JSON `code` field, CLI `--json` errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidName { .. } => "invalid_name",
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Conflict { .. } => "conflict",
            Error::ChecksumMismatch { .. } => "checksum_mismatch",
            Error::DataMissing { .. } => "data_missing",
            Error::StoreFull { .. } => "store_full",
            Error::InvalidChecksum { .. } => "invalid_checksum",
            Error::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Error::UnsupportedEntry { .. } => "unsupported_entry",
            Error::CrossDevice { .. } => "cross_device",
            Error::Busy { .. } => "busy",
            Error::Unauthorized { .. } => "unauthorized",
            Error::PeerUnreachable { .. } => "peer_unreachable",
            Error::PeerRefused { .. } => "peer_refused",
            Error::IllegalTransition { .. } => "illegal_transition",
            Error::Forbidden(_) => "forbidden",
            Error::Config { .. } => "config",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Database { .. } => "database",
            Error::Io { .. } => "io",
        }
    }

    /// True when the caller's input was wrong (CLI exit code 2) rather than the operation failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::InvalidName { .. }
                | Error::InvalidChecksum { .. }
                | Error::InvalidArgument(_)
                | Error::AlgorithmMismatch { .. }
        )
    }

    pub(crate) fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { context, path: path.into(), source }
    }

    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Self {
        let context = context.into();
        move |source| Error::Database { context, source }
    }
}
