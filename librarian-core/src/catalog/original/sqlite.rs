//! An original catalog in a SQLite file (the original's tests and small sites):
//! opened read-only, read inside one transaction (one snapshot).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Cell, OriginalDb};
use crate::error::{Error, Result};

/// A read-only connection to the original's SQLite file.
#[derive(Debug)]
pub(super) struct SqliteSource {
    conn: Connection,
}

impl SqliteSource {
    pub(super) fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot read the original catalog", path, e))?;
        if !meta.is_file() {
            return Err(Error::invalid("source", format!("{} is not a SQLite file", path.display())));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(Error::db("opening the original catalog"))?;
        conn.busy_timeout(std::time::Duration::from_secs(60)).map_err(Error::db("opening the original catalog"))?;
        // Fail here, clearly, on a file that is not SQLite at all.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| {
            Error::invalid("source", format!("{} is not a readable SQLite database: {e}", path.display()))
        })?;
        let mut this = SqliteSource { conn };
        let tables = this.tables()?;
        if version > 0 && tables.iter().any(|t| t == "stores") && tables.iter().any(|t| t == "file_entries") {
            return Err(Error::invalid(
                "source",
                format!("{} is a librarian catalog (ours), not the original Librarian's", path.display()),
            ));
        }
        this.conn.execute_batch("BEGIN").map_err(Error::db("reading the original catalog"))?;
        Ok(this)
    }
}

impl OriginalDb for SqliteSource {
    fn tables(&mut self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(Error::db("reading the original catalog"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(Error::db("reading the original catalog"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::db("reading the original catalog"))
    }

    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM pragma_table_info(?1)")
            .map_err(Error::db("reading the original catalog"))?;
        let rows =
            stmt.query_map([table], |r| r.get::<_, String>(0)).map_err(Error::db("reading the original catalog"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::db("reading the original catalog"))
    }

    fn query(&mut self, sql: &str, each: &mut dyn FnMut(&[Cell]) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare(sql).map_err(Error::db("reading the original catalog"))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(Error::db("reading the original catalog"))?;
        let mut cells = Vec::with_capacity(n);
        while let Some(row) = rows.next().map_err(Error::db("reading the original catalog"))? {
            cells.clear();
            for i in 0..n {
                let v = row.get_ref(i).map_err(Error::db("reading the original catalog"))?;
                cells.push(match v {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(i) => Cell::Int(i),
                    ValueRef::Real(f) => Cell::Text(f.to_string()),
                    // Text that is not UTF-8 is kept as bytes: reading it as text then fails
                    // and names the column, rather than importing a changed name.
                    ValueRef::Text(t) => match std::str::from_utf8(t) {
                        Ok(s) => Cell::Text(s.to_owned()),
                        Err(_) => Cell::Bytes(t.to_vec()),
                    },
                    ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
                });
            }
            each(&cells)?;
        }
        Ok(())
    }
}
