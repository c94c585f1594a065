//! The catalog: a SQLite database, the only place in the code with SQL.
//!
//! One file per site, shared safely by several processes (cron, pipelines, the CLI):
//! WAL journal, foreign keys on, a busy timeout, `synchronous = FULL` so a committed
//! transaction survives power loss. The file is created with mode 0600.

mod access;
mod alerts;
mod batches;
mod events;
mod files;
mod import;
mod incoming;
mod integrity;
mod intents;
mod lifecycle;
mod local_clone; // SneakerNet: the local clone
pub mod original;
mod outbox;
mod planning;
mod rebuild;
mod retire;
mod rows;
mod schema;
mod sneakernet;
mod sql_types;
mod stores;
mod tasks;
mod transfers;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};

pub(crate) use files::DEFAULT_SEARCH_LIMIT;
pub use integrity::record_intact;
pub use intents::IntentClaim;
pub(crate) use lifecycle::before;
pub use lifecycle::{DeletionCandidate, ScrubCursor};
pub use local_clone::LocalCloneItem;
pub use rebuild::Rebuilt;
pub use rows::{FileRow, InstanceRow, IntentRow, NewFile, RemoteInstanceRow, StoreRow, StoreUsage};

pub(crate) use crate::model::{
    DeletionPolicy, FileId, FileKind, InstanceId, InstanceState, IntentId, RemoteState, SearchQuery, StoreId,
};
pub use alerts::AlertQueue;
pub use batches::{BatchRow, StageAnswer};
pub use import::{
    ImportAccount, ImportEvent, ImportFile, ImportInstance, ImportPeer, ImportPlan, ImportRemote, ImportStore,
    ImportTransfer,
};
pub use incoming::NewIncoming;
pub use planning::{PeerBacklog, PlanFilter, PlanItem};
pub use sneakernet::{ExportItem, Exported, ImportItem};
pub use tasks::{Lease, TaskRecord};

use crate::error::{Error, Result};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Newest schema version this code knows.
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

/// An open catalog. Cheap to share between threads (`Sync`); calls are serialised.
#[derive(Debug)]
pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Catalog {
    /// Open (creating if needed, with mode 0600) and migrate the database at `path`.
    /// A database written by a newer librarian is refused with [`Error::SchemaTooNew`].
    pub fn open(path: &Path) -> Result<Self> {
        // Create the file with mode 0600, but only if it does not exist: closing any
        // descriptor of an open database file drops every POSIX lock this process
        // holds on it (fcntl semantics), including the shared locks of the other
        // connections of this process (the server's workers). Without those, another
        // process closing its last connection believes it is the last user, and
        // checkpoints and deletes the WAL under our feet.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("cannot create database", path, e)),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags).map_err(Error::db("opening the database"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(Error::db("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(Error::db("enabling WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(Error::db("setting synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(Error::db("enabling foreign keys"))?;
        migrate(&mut conn)?;
        Ok(Catalog { conn: Mutex::new(conn), path: path.to_owned() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(Error::db("reading the schema version"))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done SQL transaction
        // behind (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .map_err(Error::db("starting the migration"))?;
    let found: i64 =
        tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(Error::db("reading the schema version"))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql).map_err(Error::db(format!("applying migration {}", i + 1)))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(Error::db("writing the schema version"))?;
    tx.commit().map_err(Error::db("committing the migration"))
}

/// The row id of peer `peer`, or [`Error::NotFound`].
pub(crate) fn peer_id(conn: &Connection, peer: &str) -> Result<i64> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT id FROM peers WHERE name = ?1", [peer], |r| r.get(0))
        .optional()
        .map_err(Error::db("looking up a peer"))?
        .ok_or_else(|| Error::NotFound { kind: crate::error::ObjectKind::Peer, name: peer.to_owned() })
}

pub(crate) fn ts_to_sql(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn ts_from_sql(v: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_microsecond(v)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e)))
}

pub(crate) fn u64_from_sql(v: i64) -> rusqlite::Result<u64> {
    u64::try_from(v)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e)))
}

pub(crate) fn u64_to_sql(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::invalid("size", format!("{v} bytes is beyond the catalog's range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_with_mode_0600_and_migrates_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default();
        let db = dir.join("c.db");
        let cat = Catalog::open(&db);
        assert!(cat.is_ok(), "{cat:?}");
        let mode = std::fs::metadata(&db).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
        assert_eq!(cat.as_ref().ok().and_then(|c| c.schema_version().ok()), Some(SCHEMA_VERSION));
        drop(cat);
        assert!(Catalog::open(&db).is_ok(), "reopening an up-to-date database works");
    }

    #[test]
    fn migration_9_takes_the_arrival_of_existing_files_from_created_at() {
        let dir = tempfile::tempdir().ok();
        let dir = dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default();
        let db = dir.join("c.db");
        {
            // A version 8 catalog, where `created_at` was the arrival, with one file.
            let conn = Connection::open(&db);
            assert!(conn.is_ok(), "{conn:?}");
            let Ok(conn) = conn else { return };
            for sql in &schema::MIGRATIONS[..8] {
                assert!(conn.execute_batch(sql).is_ok());
            }
            assert!(conn.pragma_update(None, "user_version", 8).is_ok());
            let inserted = conn.execute(
                "INSERT INTO files (name, size, checksum, kind, uploader, source, created_at)
                 VALUES ('old/f', 1, 'blake3:00', 'file', 'u', 'site-a', 1234567)",
                [],
            );
            assert_eq!(inserted.ok(), Some(1));
        }
        let cat = Catalog::open(&db);
        assert!(cat.is_ok(), "{cat:?}");
        let Ok(cat) = cat else { return };
        let times: Option<(i64, i64)> = cat
            .conn()
            .query_row("SELECT created_at, arrived_at FROM files WHERE name = 'old/f'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        assert_eq!(times, Some((1234567, 1234567)));
    }

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().ok();
        let dir = dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default();
        let db = dir.join("c.db");
        assert!(Catalog::open(&db).is_ok());
        let conn = Connection::open(&db);
        assert!(conn.map(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)).is_ok());
        match Catalog::open(&db) {
            Err(Error::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("newer database accepted: {other:?}"),
        }
    }
}
