//! SQL for rebuilding a lost catalog: rows salvaged from the damaged database, and
//! the files found in the stores' data areas.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::params;

use super::files::{insert_file, insert_instance};
use super::{Catalog, DeletionPolicy, FileId, NewFile, StoreId};
use crate::error::{Error, Result};

/// Tables copied as they are from a damaged catalog, when it can still be read: the
/// stores (their roots say where the data is), the peers and the accounts.
pub const SALVAGED_TABLES: [&str; 3] = ["stores", "peers", "accounts"];

/// One file or book found in a data area, hashed, to catalogue.
#[derive(Debug)]
pub struct Rebuilt<'a> {
    /// The file, as an ingest would insert it.
    pub file: NewFile<'a>,
    /// The store it was found on.
    pub store: StoreId,
    /// Its path below the store's root.
    pub rel: &'a Path,
}

impl Catalog {
    /// Copy the rows of [`SALVAGED_TABLES`] from the database at `old` (opened
    /// read-only) into this empty catalog, table by table: each table that cannot be
    /// read or copied is reported with why, and the others still come. Returns, per
    /// table, the rows copied or the error.
    pub fn salvage_from(&self, old: &Path) -> Vec<(&'static str, std::result::Result<usize, String>)> {
        let conn = self.conn();
        let Some(old_text) = old.to_str() else {
            return SALVAGED_TABLES
                .iter()
                .map(|t| (*t, Err("the old database's path is not UTF-8".to_owned())))
                .collect();
        };
        let uri = format!("file:{}?mode=ro", old_text.replace('?', "%3f").replace('#', "%23"));
        if let Err(e) = conn.execute("ATTACH DATABASE ?1 AS old", [uri]) {
            return SALVAGED_TABLES.iter().map(|t| (*t, Err(e.to_string()))).collect();
        }
        let mut out = Vec::new();
        for table in SALVAGED_TABLES {
            let copied = conn
                .execute_batch("SAVEPOINT salvage")
                .and_then(|()| conn.execute(&format!("INSERT INTO main.{table} SELECT * FROM old.{table}"), []))
                .map_err(|e| e.to_string());
            let end = if copied.is_ok() { "RELEASE salvage" } else { "ROLLBACK TO salvage; RELEASE salvage" };
            let _ = conn.execute_batch(end);
            out.push((table, copied));
        }
        let _ = conn.execute("DETACH DATABASE old", []);
        out
    }

    /// Catalogue `found` (files and books found in the data areas) in one
    /// transaction: a file row each (the name must be new) and its instance, `ok`,
    /// verified `now` (its bytes were just hashed), deletion disallowed.
    pub fn insert_rebuilt(&self, found: &[Rebuilt<'_>], now: Timestamp) -> Result<Vec<FileId>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("rebuilding the catalog"))?;
        let mut ids = Vec::with_capacity(found.len());
        for f in found {
            let id = insert_file(&tx, &f.file, now)?;
            insert_instance(&tx, id, f.store, f.rel, DeletionPolicy::Disallowed, now)?;
            ids.push(id);
        }
        tx.commit().map_err(Error::db("rebuilding the catalog"))?;
        Ok(ids)
    }

    /// Add a second copy (on another store) of a file already rebuilt.
    pub fn insert_rebuilt_copy(&self, file: FileId, store: StoreId, rel: &Path, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("rebuilding the catalog"))?;
        insert_instance(&tx, file, store, rel, DeletionPolicy::Disallowed, now)?;
        tx.execute(
            "UPDATE instances SET verified_at = ?2 WHERE file_id = ?1 AND verified_at IS NULL",
            params![file.0, super::ts_to_sql(now)],
        )
        .map_err(Error::db("rebuilding the catalog"))?;
        tx.commit().map_err(Error::db("rebuilding the catalog"))
    }
}
