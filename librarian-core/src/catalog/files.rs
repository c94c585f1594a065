//! SQL for files, their entries, instances and remote instances.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, Transaction, params, params_from_iter, types::Value};

use super::{
    Catalog, DeletionPolicy, FileId, FileRow, InstanceId, InstanceRow, NewFile, RemoteInstanceRow, SearchQuery,
    StoreId, ts_from_sql, ts_to_sql, u64_from_sql, u64_to_sql,
};
use crate::checksum::{Checksum, Entry};
use crate::error::{Error, ObjectKind, Result};
use crate::name::FileName;

const FILE_COLUMNS: &str = "id, name, size, checksum, kind, uploader, source, created_at, arrived_at";
pub(super) const INSTANCE_COLUMNS: &str = "i.id, i.file_id, i.store_id, s.name, s.root, i.path, i.available, \
     i.deletion_policy, i.created_at, i.verified_at, i.state, i.state_reason, i.state_at";

/// Number of search results when the query sets no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 100;

fn text_err(e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

pub(super) fn file_from_row(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: FileId(r.get(0)?),
        name: FileName::from_catalog(&r.get::<_, String>(1)?).map_err(text_err)?,
        size: u64_from_sql(r.get(2)?)?,
        checksum: Checksum::parse(&r.get::<_, String>(3)?).map_err(text_err)?,
        kind: r.get(4)?,
        uploader: r.get(5)?,
        source: r.get(6)?,
        created_at: ts_from_sql(r.get(7)?)?,
        arrived_at: ts_from_sql(r.get(8)?)?,
    })
}

pub(super) fn instance_from_row(r: &Row<'_>) -> rusqlite::Result<InstanceRow> {
    instance_at(r, 0)
}

/// The [`INSTANCE_COLUMNS`] of row `r` starting at column `at`.
pub(super) fn instance_at(r: &Row<'_>, at: usize) -> rusqlite::Result<InstanceRow> {
    let root = PathBuf::from(r.get::<_, String>(at + 4)?);
    let rel: String = r.get(at + 5)?;
    Ok(InstanceRow {
        id: InstanceId(r.get(at)?),
        file_id: FileId(r.get(at + 1)?),
        store_id: StoreId(r.get(at + 2)?),
        store: r.get(at + 3)?,
        path: root.join(rel),
        available: r.get(at + 6)?,
        deletion_policy: r.get(at + 7)?,
        created_at: ts_from_sql(r.get(at + 8)?)?,
        verified_at: r.get::<_, Option<i64>>(at + 9)?.map(ts_from_sql).transpose()?,
        state: r.get(at + 10)?,
        state_reason: r.get(at + 11)?,
        state_at: r.get::<_, Option<i64>>(at + 12)?.map(ts_from_sql).transpose()?,
    })
}

impl Catalog {
    /// The file called `name`, if catalogued.
    pub fn file(&self, name: &FileName) -> Result<Option<FileRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {FILE_COLUMNS} FROM files WHERE name = ?1"))
            .map_err(Error::db("reading a file"))?;
        stmt.query_row([name.as_str()], file_from_row).optional().map_err(Error::db("reading a file"))
    }

    /// The file called `name`, or [`Error::NotFound`].
    pub fn require_file(&self, name: &FileName) -> Result<FileRow> {
        self.file(name)?.ok_or_else(|| Error::NotFound { kind: ObjectKind::File, name: name.to_string() })
    }

    /// Local instances of a file.
    pub fn instances(&self, file: FileId) -> Result<Vec<InstanceRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances i JOIN stores s ON s.id = i.store_id
                 WHERE i.file_id = ?1 ORDER BY i.id"
            ))
            .map_err(Error::db("listing instances"))?;
        let rows = stmt.query_map([file.0], instance_from_row).map_err(Error::db("listing instances"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing instances"))
    }

    /// Local instances on one store (all files), by name of file.
    pub fn instances_on_store(&self, store: StoreId) -> Result<Vec<(FileRow, InstanceRow)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT f.id, f.name, f.size, f.checksum, f.kind, f.uploader, f.source, f.created_at, f.arrived_at,
                        {INSTANCE_COLUMNS}
                 FROM instances i JOIN stores s ON s.id = i.store_id JOIN files f ON f.id = i.file_id
                 WHERE i.store_id = ?1 ORDER BY f.name"
            ))
            .map_err(Error::db("listing a store's instances"))?;
        let rows = stmt
            .query_map([store.0], |r| Ok((file_from_row(r)?, instance_at(r, 9)?)))
            .map_err(Error::db("listing a store's instances"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing a store's instances"))
    }

    /// Copies of a file known at other Librarians.
    pub fn remote_instances(&self, file: FileId) -> Result<Vec<RemoteInstanceRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT librarian, store, copied_at, verified_at, state, checked_at FROM remote_instances
                 WHERE file_id = ?1 ORDER BY librarian, store",
            )
            .map_err(Error::db("listing remote instances"))?;
        let rows = stmt
            .query_map([file.0], |r| {
                Ok(RemoteInstanceRow {
                    librarian: r.get(0)?,
                    store: r.get(1)?,
                    copied_at: ts_from_sql(r.get(2)?)?,
                    verified_at: r.get::<_, Option<i64>>(3)?.map(ts_from_sql).transpose()?,
                    state: r.get(4)?,
                    checked_at: r.get::<_, Option<i64>>(5)?.map(ts_from_sql).transpose()?,
                })
            })
            .map_err(Error::db("listing remote instances"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing remote instances"))
    }

    /// The recorded entries of a book, sorted by path.
    pub fn entries(&self, file: FileId) -> Result<Vec<Entry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT path, kind, size, digest FROM file_entries WHERE file_id = ?1 ORDER BY path")
            .map_err(Error::db("listing entries"))?;
        let rows = stmt
            .query_map([file.0], |r| {
                Ok(Entry { path: r.get(0)?, kind: r.get(1)?, size: u64_from_sql(r.get(2)?)?, digest: r.get(3)? })
            })
            .map_err(Error::db("listing entries"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing entries"))
    }

    /// Files matching a query, by name.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<FileRow>> {
        let mut sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(g) = &q.name_glob {
            sql.push_str(" AND name GLOB ?");
            args.push(Value::Text(g.clone()));
        }
        if let Some(t) = q.since {
            sql.push_str(" AND created_at >= ?");
            args.push(Value::Integer(ts_to_sql(t)));
        }
        if let Some(t) = q.until {
            sql.push_str(" AND created_at < ?");
            args.push(Value::Integer(ts_to_sql(t)));
        }
        if let Some(u) = &q.uploader {
            sql.push_str(" AND uploader = ?");
            args.push(Value::Text(u.clone()));
        }
        if let Some(s) = &q.source {
            sql.push_str(" AND source = ?");
            args.push(Value::Text(s.clone()));
        }
        if let Some(a) = &q.after {
            // Keyset pagination on the unique index: the order below is the same one.
            sql.push_str(" AND name > ?");
            args.push(Value::Text(a.clone()));
        }
        sql.push_str(" ORDER BY name LIMIT ?");
        args.push(Value::Integer(i64::from(q.limit.unwrap_or(DEFAULT_SEARCH_LIMIT))));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(Error::db("searching"))?;
        let rows = stmt.query_map(params_from_iter(args), file_from_row).map_err(Error::db("searching"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("searching"))
    }

    /// The BLAKE3 digest recorded beside file `id`'s legacy checksum
    /// (`import-original --verify`), if any.
    pub fn recorded_blake3(&self, id: FileId) -> Result<Option<Checksum>> {
        let text: Option<String> = self
            .conn()
            .query_row("SELECT blake3 FROM files WHERE id = ?1", [id.0], |r| r.get(0))
            .optional()
            .map_err(Error::db("reading a file"))?
            .flatten();
        text.map(|t| Checksum::parse(&t)).transpose()
    }

    /// Record that an instance was re-read and found intact at `when`.
    pub fn mark_verified(&self, instance: InstanceId, when: Timestamp) -> Result<()> {
        self.conn()
            .execute("UPDATE instances SET verified_at = ?2 WHERE id = ?1", params![instance.0, ts_to_sql(when)])
            .map_err(Error::db("recording a verification"))?;
        Ok(())
    }

    /// Catalogue files whose only copies are at another Librarian (catalog-only
    /// entries, e.g. read from a manifest), in one transaction. Existing names are
    /// an error and nothing is inserted. (Benchmarks only, for now.)
    #[cfg(feature = "internals")]
    pub fn insert_remote_files(
        &self,
        files: &[NewFile<'_>],
        librarian: &str,
        store: &str,
        now: Timestamp,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("starting a transaction"))?;
        for f in files {
            let id = insert_file(&tx, f, now)?;
            tx.prepare_cached(
                "INSERT INTO remote_instances (file_id, librarian, store, copied_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![id.0, librarian, store, ts_to_sql(now)]))
            .map_err(Error::db("recording a remote instance"))?;
        }
        tx.commit().map_err(Error::db("committing remote files"))
    }
}

/// Insert a file row and its entries; the name must be new. It arrives `now`; its
/// creation time is the one it brings (never later than `now`: a time in the future,
/// from a peer's or a drive's clock, is taken as `now`), else `now`.
pub(super) fn insert_file(tx: &Transaction<'_>, f: &NewFile<'_>, now: Timestamp) -> Result<FileId> {
    let created = f.created_at.map_or(now, |t| t.min(now));
    let inserted = tx
        .prepare_cached(
            "INSERT INTO files (name, size, checksum, kind, uploader, source, created_at, arrived_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (name) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                f.name.as_str(),
                u64_to_sql(f.size).unwrap_or(i64::MAX),
                f.checksum.to_string(),
                f.kind.as_str(),
                f.uploader,
                f.source,
                ts_to_sql(created),
                ts_to_sql(now)
            ])
        })
        .map_err(Error::db("inserting a file"))?;
    if inserted == 0 {
        return Err(Error::AlreadyExists { kind: ObjectKind::File, name: f.name.to_string() });
    }
    let id = FileId(tx.last_insert_rowid());
    insert_entries(tx, id, f.entries)?;
    Ok(id)
}

/// Insert the entries of a book.
pub(super) fn insert_entries(tx: &Transaction<'_>, file: FileId, entries: &[Entry]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO file_entries (file_id, path, kind, size, digest) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(Error::db("inserting entries"))?;
    for e in entries {
        stmt.execute(params![file.0, e.path, e.kind.as_str(), u64_to_sql(e.size)?, e.digest])
            .map_err(Error::db("inserting entries"))?;
    }
    Ok(())
}

/// Insert an instance row.
pub(super) fn insert_instance(
    tx: &Transaction<'_>,
    file: FileId,
    store: StoreId,
    rel_path: &Path,
    policy: DeletionPolicy,
    now: Timestamp,
) -> Result<InstanceId> {
    let rel = rel_path
        .to_str()
        .ok_or_else(|| Error::internal(format!("instance path {} is not UTF-8", rel_path.display())))?;
    tx.prepare_cached(
        "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at, verified_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)",
    )
    .and_then(|mut s| s.execute(params![file.0, store.0, rel, policy.as_str(), ts_to_sql(now)]))
    .map_err(Error::db("inserting an instance"))?;
    Ok(InstanceId(tx.last_insert_rowid()))
}
