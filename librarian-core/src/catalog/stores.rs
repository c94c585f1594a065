//! SQL for stores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use super::{Catalog, StoreId, StoreRow, StoreUsage, ts_from_sql, ts_to_sql, u64_from_sql, u64_to_sql};
use crate::error::{Error, ObjectKind, Result};

const STORE_COLUMNS: &str = "id, name, root, staging, ingestable, enabled, reserve_bytes, created_at";

fn store_from_row(r: &Row<'_>) -> rusqlite::Result<StoreRow> {
    Ok(StoreRow {
        id: StoreId(r.get(0)?),
        name: r.get(1)?,
        root: PathBuf::from(r.get::<_, String>(2)?),
        staging: PathBuf::from(r.get::<_, String>(3)?),
        ingestable: r.get(4)?,
        enabled: r.get(5)?,
        reserve_bytes: u64_from_sql(r.get(6)?)?,
        created_at: ts_from_sql(r.get(7)?)?,
    })
}

fn path_text(p: &Path) -> Result<&str> {
    p.to_str().ok_or_else(|| Error::invalid("store path", format!("store path {} is not valid UTF-8", p.display())))
}

impl Catalog {
    /// Add a store. Its name must be new.
    pub fn insert_store(
        &self,
        name: &str,
        root: &Path,
        staging: &Path,
        ingestable: bool,
        reserve_bytes: u64,
        now: Timestamp,
    ) -> Result<StoreRow> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO stores (name, root, staging, ingestable, enabled, reserve_bytes, created_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6) ON CONFLICT (name) DO NOTHING",
            params![
                name,
                path_text(root)?,
                path_text(staging)?,
                ingestable,
                u64_to_sql(reserve_bytes)?,
                ts_to_sql(now)
            ],
        );
        match inserted.map_err(Error::db("adding a store"))? {
            0 => Err(Error::AlreadyExists { kind: ObjectKind::Store, name: name.to_owned() }),
            _ => {
                drop(conn);
                self.store(name)
            }
        }
    }

    /// All stores, by name.
    pub fn stores(&self) -> Result<Vec<StoreRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {STORE_COLUMNS} FROM stores ORDER BY name"))
            .map_err(Error::db("listing stores"))?;
        let rows = stmt.query_map([], store_from_row).map_err(Error::db("listing stores"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing stores"))
    }

    /// One store by name.
    pub fn store(&self, name: &str) -> Result<StoreRow> {
        self.conn()
            .query_row(&format!("SELECT {STORE_COLUMNS} FROM stores WHERE name = ?1"), [name], store_from_row)
            .optional()
            .map_err(Error::db("reading a store"))?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Store, name: name.to_owned() })
    }

    /// One store by id.
    pub fn store_by_id(&self, id: StoreId) -> Result<StoreRow> {
        self.conn()
            .query_row(&format!("SELECT {STORE_COLUMNS} FROM stores WHERE id = ?1"), [id.0], store_from_row)
            .optional()
            .map_err(Error::db("reading a store"))?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Store, name: format!("#{id}") })
    }

    /// Enable or disable a store.
    pub fn set_store_enabled(&self, name: &str, enabled: bool) -> Result<StoreRow> {
        let changed = self
            .conn()
            .execute("UPDATE stores SET enabled = ?2 WHERE name = ?1", params![name, enabled])
            .map_err(Error::db("changing a store"))?;
        if changed == 0 {
            return Err(Error::NotFound { kind: ObjectKind::Store, name: name.to_owned() });
        }
        self.store(name)
    }

    /// Files and bytes available on each store (stores with none are absent; retired
    /// copies, e.g. delivered drive copies, do not count).
    pub fn store_usage(&self) -> Result<HashMap<StoreId, StoreUsage>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.store_id, COUNT(*), COALESCE(SUM(f.size), 0)
                 FROM instances i JOIN files f ON f.id = i.file_id WHERE i.available = 1 GROUP BY i.store_id",
            )
            .map_err(Error::db("summing store usage"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    StoreId(r.get(0)?),
                    StoreUsage { files: u64_from_sql(r.get(1)?)?, bytes: u64_from_sql(r.get(2)?)? },
                ))
            })
            .map_err(Error::db("summing store usage"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("summing store usage"))
    }
}

impl Catalog {
    /// Number of files and their total bytes.
    pub fn totals(&self) -> Result<(u64, u64)> {
        self.conn()
            .query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files", [], |r| {
                Ok((u64_from_sql(r.get(0)?)?, u64_from_sql(r.get(1)?)?))
            })
            .map_err(Error::db("counting files"))
    }
}
