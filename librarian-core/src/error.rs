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
    /// An argument is out of range or inconsistent: the caller's input was wrong.
    /// Build it with [`Error::invalid`], which names the argument.
    #[error("invalid {argument}: {reason}")]
    InvalidArgument {
        /// Which argument (a parameter, option, configuration key or field of a
        /// peer's call), e.g. `"interval"`, `"--reserve"`, `"clone.batch_files"`.
        argument: String,
        /// Why it was refused.
        reason: String,
    },
    /// Data read back from the catalog or a store does not parse (a damaged or
    /// hand-edited row, an unknown enum value, a number out of range). Not the
    /// caller's fault: retrying with other arguments will not help.
    #[error("corrupt data in {what}: {detail}")]
    Corrupt {
        /// Where the data was read (e.g. `catalog column files.kind`).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A failure that is a bug or an environment failure (e.g. the password cannot
    /// be hashed, a thread panicked, our own JSON cannot be encoded). Not the caller's
    /// fault.
    #[error("internal error: {0}")]
    Internal(String),
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

/// One row of [`ERROR_CODES`]: what an error code means and how each front end
/// shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The stable machine-readable code ([`Error::code`], the JSON `code`).
    pub code: &'static str,
    /// The caller's input was wrong: CLI exit code 2 (else 1), HTTP 400, and the
    /// Python class also subclasses `ValueError`.
    pub usage: bool,
    /// The Python exception class (a subclass of `librarian.LibrarianError`).
    pub python_class: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
}

impl ErrorCode {
    /// The row of `code`, if it is one of [`ERROR_CODES`].
    pub fn find(code: &str) -> Option<&'static ErrorCode> {
        ERROR_CODES.iter().find(|c| c.code == code)
    }

    /// The CLI's exit code for an error with this code: 2 for a usage error, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.usage { 2 } else { 1 }
    }
}

const fn row(code: &'static str, usage: bool, python_class: &'static str, meaning: &'static str) -> ErrorCode {
    ErrorCode { code, usage, python_class, meaning }
}

const INVALID_NAME: ErrorCode = row("invalid_name", true, "InvalidName", "A name broke the naming rules.");
const INVALID_CHECKSUM: ErrorCode =
    row("invalid_checksum", true, "InvalidChecksum", "A checksum string could not be parsed.");
const ALGORITHM_MISMATCH: ErrorCode = row(
    "algorithm_mismatch",
    true,
    "AlgorithmMismatch",
    "Checksums of different algorithms were compared (e.g. an expected checksum of another algorithm).",
);
const INVALID_ARGUMENT: ErrorCode =
    row("invalid_argument", true, "InvalidArgument", "An argument is out of range or inconsistent.");
const NOT_FOUND: ErrorCode =
    row("not_found", false, "NotFound", "The file, store, path, configuration or other object does not exist.");
const ALREADY_EXISTS: ErrorCode = row("already_exists", false, "AlreadyExists", "The object exists already.");
const CONFLICT: ErrorCode =
    row("conflict", false, "Conflict", "The name is already catalogued with a different checksum.");
const CHECKSUM_MISMATCH: ErrorCode =
    row("checksum_mismatch", false, "ChecksumMismatch", "Data did not hash to the checksum it should have.");
const DATA_MISSING: ErrorCode =
    row("data_missing", false, "DataMissing", "A catalogued copy (or an entry of a book) is missing from disk.");
const STORE_FULL: ErrorCode = row("store_full", false, "StoreFull", "No enabled, ingestable store has room.");
const UNSUPPORTED_ENTRY: ErrorCode =
    row("unsupported_entry", false, "UnsupportedEntry", "A book holds a symlink, socket, device or badly named entry.");
const CROSS_DEVICE: ErrorCode =
    row("cross_device", false, "CrossDevice", "A move was asked for but the source is on another filesystem.");
const BUSY: ErrorCode = row("busy", false, "Busy", "Another live process is ingesting the same name; try again.");
const UNAUTHORIZED: ErrorCode = row("unauthorized", false, "Unauthorized", "A name and password did not authenticate.");
const PEER_UNREACHABLE: ErrorCode =
    row("peer_unreachable", false, "PeerUnreachable", "Another Librarian could not be reached; retry later.");
const PEER_REFUSED: ErrorCode =
    row("peer_refused", false, "PeerRefused", "Another Librarian answered and refused the call.");
const ILLEGAL_TRANSITION: ErrorCode =
    row("illegal_transition", false, "IllegalTransition", "A transfer cannot take this step from the state it is in.");
const FORBIDDEN: ErrorCode = row("forbidden", false, "Forbidden", "The caller may not do this.");
const CONFIG: ErrorCode =
    row("config", false, "ConfigError", "A configuration file is missing, unreadable or malformed.");
const SCHEMA_TOO_NEW: ErrorCode =
    row("schema_too_new", false, "SchemaTooNew", "The database was written by a newer librarian.");
const CORRUPT: ErrorCode = row(
    "corrupt",
    false,
    "CorruptData",
    "Data read back from the catalog or a store does not parse (a damaged or hand-edited row).",
);
const INTERNAL: ErrorCode =
    row("internal", false, "InternalError", "A bug or an environment failure (e.g. the password cannot be hashed).");
const DATABASE: ErrorCode = row("database", false, "DatabaseError", "The catalog database failed.");
const IO: ErrorCode = row("io", false, "IoError", "A filesystem operation failed.");

/// Every error code, once: the one table the CLI (exit codes), the Python module
/// (exception classes), the HTTP shim (400 for usage errors) and
/// `docs/architecture.md` follow. [`Error::code`] and [`Error::is_usage`] read it.
pub const ERROR_CODES: &[ErrorCode] = &[
    INVALID_NAME,
    INVALID_CHECKSUM,
    ALGORITHM_MISMATCH,
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    CONFLICT,
    CHECKSUM_MISMATCH,
    DATA_MISSING,
    STORE_FULL,
    UNSUPPORTED_ENTRY,
    CROSS_DEVICE,
    BUSY,
    UNAUTHORIZED,
    PEER_UNREACHABLE,
    PEER_REFUSED,
    ILLEGAL_TRANSITION,
    FORBIDDEN,
    CONFIG,
    SCHEMA_TOO_NEW,
    CORRUPT,
    INTERNAL,
    DATABASE,
    IO,
];

impl Error {
    /// This error's row of [`ERROR_CODES`].
    pub fn info(&self) -> &'static ErrorCode {
        // Exhaustive: a new variant does not compile until it is given a row (and the
        // unit test below fails until that row is in ERROR_CODES).
        match self {
            Error::InvalidName { .. } => &INVALID_NAME,
            Error::NotFound { .. } => &NOT_FOUND,
            Error::AlreadyExists { .. } => &ALREADY_EXISTS,
            Error::Conflict { .. } => &CONFLICT,
            Error::ChecksumMismatch { .. } => &CHECKSUM_MISMATCH,
            Error::DataMissing { .. } => &DATA_MISSING,
            Error::StoreFull { .. } => &STORE_FULL,
            Error::InvalidChecksum { .. } => &INVALID_CHECKSUM,
            Error::AlgorithmMismatch { .. } => &ALGORITHM_MISMATCH,
            Error::UnsupportedEntry { .. } => &UNSUPPORTED_ENTRY,
            Error::CrossDevice { .. } => &CROSS_DEVICE,
            Error::Busy { .. } => &BUSY,
            Error::Unauthorized { .. } => &UNAUTHORIZED,
            Error::PeerUnreachable { .. } => &PEER_UNREACHABLE,
            Error::PeerRefused { .. } => &PEER_REFUSED,
            Error::IllegalTransition { .. } => &ILLEGAL_TRANSITION,
            Error::Forbidden(_) => &FORBIDDEN,
            Error::Config { .. } => &CONFIG,
            Error::SchemaTooNew { .. } => &SCHEMA_TOO_NEW,
            Error::InvalidArgument { .. } => &INVALID_ARGUMENT,
            Error::Corrupt { .. } => &CORRUPT,
            Error::Internal(_) => &INTERNAL,
            Error::Database { .. } => &DATABASE,
            Error::Io { .. } => &IO,
        }
    }

    /// The stable machine-readable code (JSON `code` field, CLI `--json` errors).
    pub fn code(&self) -> &'static str {
        self.info().code
    }

    /// True when the caller's input was wrong (CLI exit code 2, HTTP 400, a Python
    /// `ValueError`) rather than the operation failing ([`ErrorCode::usage`]).
    pub fn is_usage(&self) -> bool {
        self.info().usage
    }

    /// [`Error::InvalidArgument`] naming the argument and why it was refused:
    /// `invalid("interval", "must be a number and a unit")` reads
    /// "invalid interval: must be a number and a unit".
    pub fn invalid(argument: impl std::fmt::Display, reason: impl std::fmt::Display) -> Self {
        Error::InvalidArgument { argument: argument.to_string(), reason: reason.to_string() }
    }

    /// [`Error::Corrupt`]: `detail` is wrong with the data read from `what`.
    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt { what: what.into(), detail: detail.into() }
    }

    /// [`Error::Corrupt`] for a catalog value that does not parse: `column` as
    /// `table.column` (e.g. `files.kind`), `value` as read. The one mapping for a
    /// catalog row that holds what no version of librarian writes.
    pub fn corrupt_row(column: &str, value: impl std::fmt::Debug) -> Self {
        Error::Corrupt { what: format!("catalog column {column}"), detail: format!("unexpected value {value:?}") }
    }

    /// [`Error::Internal`]: a bug or an environment failure, not the caller's input.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    pub(crate) fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { context, path: path.into(), source }
    }

    /// Map a `rusqlite` error met while doing `context` (`.map_err(Error::db("…"))`).
    /// A value that does not convert (a parse failure inside a row closure, an integer
    /// out of range, text that is not UTF-8, a value of the wrong type) is bad data
    /// read back: [`Error::Corrupt`]. Anything else is [`Error::Database`].
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Self {
        let context = context.into();
        move |source| Error::from_db(context, source)
    }

    fn from_db(context: String, source: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        let what = || format!("the catalog (while {context})");
        match source {
            // The column index of a conversion failure is not reliable (the catalog's
            // row readers give 0); the value and the reason are in the message.
            E::FromSqlConversionFailure(_, _, inner) => match inner.downcast::<Error>() {
                Ok(inner) => match *inner {
                    Error::Corrupt { what, detail } => {
                        Error::Corrupt { what, detail: format!("{detail} (while {context})") }
                    }
                    // `catalog::rows::corrupt_row`'s form: the column and value are
                    // in the description.
                    Error::Database { source: E::InvalidColumnType(_, described, _), .. } => {
                        Error::corrupt(what(), described)
                    }
                    other => Error::corrupt(what(), other.to_string()),
                },
                Err(inner) => Error::corrupt(what(), inner.to_string()),
            },
            E::IntegralValueOutOfRange(column, value) => {
                Error::corrupt(what(), format!("column {column}: {value} is out of range"))
            }
            E::Utf8Error(column, e) => Error::corrupt(what(), format!("column {column}: text is not UTF-8 ({e})")),
            E::InvalidColumnType(column, name, ty) => {
                Error::corrupt(what(), format!("column {column} ({name}) holds a value of type {ty}"))
            }
            source => Error::Database { context, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Which variant `e` is. Exhaustive (this crate sees through `#[non_exhaustive]`):
    /// a new variant does not compile until it is numbered here, and
    /// `every_variant_has_one_row` fails until `one_of_each` builds it.
    fn variant(e: &Error) -> usize {
        match e {
            Error::InvalidName { .. } => 0,
            Error::NotFound { .. } => 1,
            Error::AlreadyExists { .. } => 2,
            Error::Conflict { .. } => 3,
            Error::ChecksumMismatch { .. } => 4,
            Error::DataMissing { .. } => 5,
            Error::StoreFull { .. } => 6,
            Error::InvalidChecksum { .. } => 7,
            Error::AlgorithmMismatch { .. } => 8,
            Error::UnsupportedEntry { .. } => 9,
            Error::CrossDevice { .. } => 10,
            Error::Busy { .. } => 11,
            Error::Unauthorized { .. } => 12,
            Error::PeerUnreachable { .. } => 13,
            Error::PeerRefused { .. } => 14,
            Error::IllegalTransition { .. } => 15,
            Error::Forbidden(_) => 16,
            Error::Config { .. } => 17,
            Error::SchemaTooNew { .. } => 18,
            Error::InvalidArgument { .. } => 19,
            Error::Corrupt { .. } => 20,
            Error::Internal(_) => 21,
            Error::Database { .. } => 22,
            Error::Io { .. } => 23,
        }
    }
    const VARIANTS: usize = 24;

    fn s() -> String {
        "x".to_owned()
    }

    fn one_of_each() -> Vec<Error> {
        vec![
            Error::InvalidName { name: s(), reason: NameError::Empty },
            Error::NotFound { kind: ObjectKind::File, name: s() },
            Error::AlreadyExists { kind: ObjectKind::Store, name: s() },
            Error::Conflict { name: s(), existing: s(), incoming: s() },
            Error::ChecksumMismatch { name: s(), detail: s() },
            Error::DataMissing { name: s(), detail: s() },
            Error::StoreFull { needed: 1, detail: s() },
            Error::InvalidChecksum { text: s(), reason: s() },
            Error::AlgorithmMismatch { left: s(), right: s() },
            Error::UnsupportedEntry { path: s(), reason: s() },
            Error::CrossDevice { path: PathBuf::from("x"), store: s() },
            Error::Busy { name: s() },
            Error::Unauthorized { account: s() },
            Error::PeerUnreachable { peer: s(), detail: s() },
            Error::PeerRefused { peer: s(), status: 400, code: s(), message: s() },
            Error::IllegalTransition { from: "completed", event: "fail" },
            Error::Forbidden(s()),
            Error::Config { path: PathBuf::from("x"), message: s() },
            Error::SchemaTooNew { found: 2, supported: 1 },
            Error::invalid("limit", "must be at least 1"),
            Error::corrupt_row("files.kind", "symlink"),
            Error::internal("hashing thread panicked"),
            Error::Database { context: s(), source: rusqlite::Error::QueryReturnedNoRows },
            Error::io("reading", "x", std::io::Error::other("x")),
        ]
    }

    #[test]
    fn every_variant_has_one_row() {
        let all = one_of_each();
        let variants: BTreeSet<usize> = all.iter().map(variant).collect();
        assert_eq!(variants, (0..VARIANTS).collect(), "one_of_each must build every variant once");
        assert_eq!(all.len(), VARIANTS);
        let codes: BTreeSet<&str> = all.iter().map(Error::code).collect();
        assert_eq!(codes.len(), VARIANTS, "two variants share a code");
        assert_eq!(ERROR_CODES.len(), VARIANTS, "a row of ERROR_CODES belongs to no variant");
        for e in &all {
            let row = ErrorCode::find(e.code());
            assert_eq!(row, Some(e.info()), "{e:?}: its row is not in ERROR_CODES");
            assert_eq!(e.is_usage(), e.info().usage, "{e:?}");
        }
    }

    #[test]
    fn the_table_is_well_formed() {
        let codes: BTreeSet<&str> = ERROR_CODES.iter().map(|c| c.code).collect();
        let classes: BTreeSet<&str> = ERROR_CODES.iter().map(|c| c.python_class).collect();
        assert_eq!(codes.len(), ERROR_CODES.len(), "a code is listed twice");
        assert_eq!(classes.len(), ERROR_CODES.len(), "a Python class is listed twice");
        for c in ERROR_CODES {
            assert!(!c.code.is_empty() && c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c:?}");
            assert!(c.python_class.starts_with(|ch: char| ch.is_ascii_uppercase()), "{c:?}");
            assert!(c.python_class.chars().all(|ch| ch.is_ascii_alphanumeric()), "{c:?}");
            assert!(c.python_class != "LibrarianError", "{c:?}: the base class has no code of its own");
            assert!(c.meaning.ends_with('.') && !c.meaning.contains('\n'), "{c:?}");
            assert_eq!(c.exit_code(), if c.usage { 2 } else { 1 });
        }
        // The usage errors: wrong input, never a failed operation.
        let usage: BTreeSet<&str> = ERROR_CODES.iter().filter(|c| c.usage).map(|c| c.code).collect();
        assert_eq!(
            usage,
            BTreeSet::from(["invalid_name", "invalid_checksum", "algorithm_mismatch", "invalid_argument"])
        );
    }

    #[test]
    fn constructors_say_what_they_mean() {
        let e = Error::invalid("interval", "must be a number and a unit");
        assert_eq!(e.to_string(), "invalid interval: must be a number and a unit");
        assert!(e.is_usage());
        let e = Error::corrupt_row("files.kind", "symlink");
        assert_eq!((e.code(), e.is_usage()), ("corrupt", false));
        assert_eq!(e.to_string(), "corrupt data in catalog column files.kind: unexpected value \"symlink\"");
        let e = Error::internal("cannot hash the password");
        assert_eq!((e.code(), e.is_usage()), ("internal", false));
    }

    #[test]
    fn values_that_do_not_convert_are_corrupt_other_database_errors_are_not() {
        use rusqlite::types::Type;
        let boxed = |e: Error| rusqlite::Error::FromSqlConversionFailure(3, Type::Text, Box::new(e));
        let cases = [
            // A parse failure inside a row closure (what the catalog's readers do).
            boxed(Error::InvalidChecksum { text: "nonsense".into(), reason: "no algorithm".into() }),
            boxed(Error::invalid("category", "unknown event category \"x\" in the catalog")),
            boxed(Error::corrupt_row("files.kind", "symlink")),
            // `catalog::rows::corrupt_row`'s present form.
            boxed(Error::Database {
                context: "reading files.kind".into(),
                source: rusqlite::Error::InvalidColumnType(0, "files.kind = \"symlink\"".into(), Type::Text),
            }),
            rusqlite::Error::FromSqlConversionFailure(0, Type::Integer, Box::new(std::fmt::Error)),
            rusqlite::Error::IntegralValueOutOfRange(2, -1),
            rusqlite::Error::InvalidColumnType(7, "created_at".into(), Type::Text),
        ];
        for source in cases {
            let shown = format!("{source:?}");
            let e = Error::db("listing files")(source);
            assert_eq!(e.code(), "corrupt", "{shown} -> {e}");
            assert!(!e.is_usage());
            assert!(e.to_string().contains("while listing files"), "{e}");
        }
        let e = Error::db("reading files.kind")(boxed(Error::corrupt_row("files.kind", "symlink")));
        assert!(e.to_string().contains("files.kind") && e.to_string().contains("symlink"), "{e}");
        for source in [
            rusqlite::Error::QueryReturnedNoRows,
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None),
        ] {
            assert_eq!(Error::db("x")(source).code(), "database");
        }
    }
}
