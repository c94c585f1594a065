//! SQL for the local clone (SneakerNet): which files a store (a drive) lacks, and the
//! instances its copies become.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter, types::Value};

use super::files::insert_instance;
use super::{Catalog, DeletionPolicy, FileId, FileRow, InstanceId, StoreId, ts_from_sql, u64_from_sql};
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::name::FileName;

/// A file to copy to a drive, and where its source copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCloneItem {
    /// The file.
    pub file: FileRow,
    /// Absolute path of its available instance on the source store.
    pub source: PathBuf,
}

fn conv(col: usize, e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

impl Catalog {
    /// Files with an available instance on `from` and no instance (available or not) on
    /// any store of `not_on`, oldest first (by `created_at`, then id). One query.
    pub fn plan_local_clone(&self, from: StoreId, not_on: &[StoreId]) -> Result<Vec<LocalCloneItem>> {
        let ctx = "planning a local clone";
        let excluded = if not_on.is_empty() {
            "-1".to_owned()
        } else {
            (0..not_on.len()).map(|k| format!("?{}", k + 2)).collect::<Vec<_>>().join(", ")
        };
        let sql = format!(
            "SELECT f.id, f.name, f.size, f.checksum, f.kind, f.uploader, f.source, f.created_at, f.arrived_at,
                    s.root, i.path
             FROM instances i JOIN files f ON f.id = i.file_id JOIN stores s ON s.id = i.store_id
             WHERE i.store_id = ?1 AND i.available = 1
               AND i.id = (SELECT MIN(i2.id) FROM instances i2
                           WHERE i2.file_id = f.id AND i2.store_id = ?1 AND i2.available = 1)
               AND NOT EXISTS (SELECT 1 FROM instances j WHERE j.file_id = f.id AND j.store_id IN ({excluded}))
             ORDER BY f.created_at, f.id"
        );
        let mut args = vec![Value::Integer(from.0)];
        args.extend(not_on.iter().map(|s| Value::Integer(s.0)));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(Error::db(ctx))?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                let file = FileRow {
                    id: FileId(r.get(0)?),
                    name: FileName::from_catalog(&r.get::<_, String>(1)?).map_err(|e| conv(1, e))?,
                    size: u64_from_sql(r.get(2)?)?,
                    checksum: Checksum::parse(&r.get::<_, String>(3)?).map_err(|e| conv(3, e))?,
                    kind: r.get(4)?,
                    uploader: r.get(5)?,
                    source: r.get(6)?,
                    created_at: ts_from_sql(r.get(7)?)?,
                    arrived_at: ts_from_sql(r.get(8)?)?,
                };
                let source = PathBuf::from(r.get::<_, String>(9)?).join(r.get::<_, String>(10)?);
                Ok(LocalCloneItem { file, source })
            })
            .map_err(Error::db(ctx))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db(ctx))
    }

    /// Files with an available instance on `from` that already have an instance on `to`.
    pub fn count_local_copies(&self, from: StoreId, to: StoreId) -> Result<u64> {
        self.conn()
            .query_row(
                "SELECT COUNT(DISTINCT i.file_id) FROM instances i
                 WHERE i.store_id = ?1 AND i.available = 1
                   AND EXISTS (SELECT 1 FROM instances j WHERE j.file_id = i.file_id AND j.store_id = ?2)",
                params![from.0, to.0],
                |r| u64_from_sql(r.get(0)?),
            )
            .map_err(Error::db("counting copies on a store"))
    }

    /// Record a verified copy of the catalogued `file` at `rel_path` on `store` (an
    /// available instance, `created_at` and `verified_at` = `now`). Idempotent: if the
    /// same file already has that instance (another process committed the same copy),
    /// its id is returned; an instance of another file there is `already_exists`.
    pub fn insert_instance_for(
        &self,
        file: FileId,
        store: StoreId,
        rel_path: &Path,
        policy: DeletionPolicy,
        now: Timestamp,
    ) -> Result<InstanceId> {
        let ctx = "recording a copy";
        let rel = rel_path
            .to_str()
            .ok_or_else(|| Error::internal(format!("instance path {} is not UTF-8", rel_path.display())))?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db(ctx))?;
        let there: Option<(i64, i64)> = tx
            .query_row(
                "SELECT id, file_id FROM instances WHERE store_id = ?1 AND path = ?2",
                params![store.0, rel],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(Error::db(ctx))?;
        match there {
            Some((id, f)) if f == file.0 => Ok(InstanceId(id)),
            Some(_) => Err(Error::AlreadyExists { kind: ObjectKind::Instance, name: rel.to_owned() }),
            None => {
                let id = insert_instance(&tx, file, store, rel_path, policy, now)?;
                tx.commit().map_err(Error::db(ctx))?;
                Ok(id)
            }
        }
    }
}
