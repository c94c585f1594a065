//! A catalog database looked at (or deliberately damaged) directly, with SQLite linked
//! into the tests (rusqlite, the same bundled SQLite as librarian-core): no `sqlite3`
//! command-line tool is needed.
//!
//! Reads open the file read-only (`SQLITE_OPEN_READ_ONLY`): looking changes nothing
//! (no migration, no rollback of dead ingests, no checkpoint). Only [`write`] and
//! [`read_write`] open it for writing, for tests that plant rows or damage a catalog on
//! purpose. Every connection is closed before the function returns, so the test
//! process holds no lock while `librarian` runs.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// How long a statement waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

fn open(db: &Path, flags: OpenFlags) -> Connection {
    let conn = Connection::open_with_flags(db, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .unwrap_or_else(|e| panic!("cannot open the catalog {}: {e}", db.display()));
    conn.busy_timeout(BUSY_TIMEOUT).expect("set busy_timeout");
    conn
}

/// A read-only connection to the database at `db`.
pub fn read_only(db: &Path) -> Connection {
    open(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
}

/// A read-write connection to the existing database at `db` (never creates one): only
/// for a test that changes a catalog behind librarian's back on purpose.
pub fn read_write(db: &Path) -> Connection {
    open(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

/// A value as the stock CLI would print it: NULL as the empty string, numbers in
/// decimal, text as is, blobs as lossy UTF-8.
pub fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

/// Every row of `query` on `conn`, each column as [`text`]; `Err` when SQLite refuses
/// the statement or fails to read a row (a damaged page, say).
pub fn try_rows(conn: &Connection, query: &str) -> rusqlite::Result<Vec<Vec<String>>> {
    let mut stmt = conn.prepare(query)?;
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut cols = Vec::with_capacity(n);
        for i in 0..n {
            cols.push(text(row.get_ref(i)?));
        }
        out.push(cols);
    }
    Ok(out)
}

/// Every row of the read-only `query` on the database at `db`. Panics if it fails.
#[track_caller]
pub fn rows(db: &Path, query: &str) -> Vec<Vec<String>> {
    try_rows(&read_only(db), query).unwrap_or_else(|e| panic!("{query:?} on {}: {e}", db.display()))
}

/// The first column of every row of the read-only `query`.
#[track_caller]
pub fn column(db: &Path, query: &str) -> Vec<String> {
    rows(db, query).into_iter().map(|mut r| r.swap_remove(0)).collect()
}

/// The one integer the read-only `query` (e.g. `SELECT COUNT(*) ...`) returns.
#[track_caller]
pub fn count(db: &Path, query: &str) -> u64 {
    let n: i64 = read_only(db)
        .query_row(query, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{query:?} on {}: {e}", db.display()));
    u64::try_from(n).unwrap_or_else(|_| panic!("{query:?} returned {n}"))
}

/// Run `statements` (one or more, `;`-separated) read-write on the database at `db`,
/// in one go. Panics if any fails.
#[track_caller]
pub fn write(db: &Path, statements: &str) {
    read_write(db).execute_batch(statements).unwrap_or_else(|e| panic!("{statements:?} on {}: {e}", db.display()));
}
