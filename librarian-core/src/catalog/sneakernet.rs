//! SQL for SneakerNet: recording an export (outgoing transfers, store disabled) and
//! an import (completed incoming transfers with their `complete` calls).

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::outbox::enqueue;
use super::{Catalog, FileKind, StoreId, peer_id, ts_to_sql, u64_to_sql};
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::model::CallKind;
use crate::name::FileName;

/// A file an export puts on a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportItem<'a> {
    /// Name.
    pub name: &'a FileName,
    /// Size.
    pub size: u64,
    /// Checksum.
    pub checksum: &'a Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Uploader.
    pub uploader: &'a str,
    /// Source site.
    pub source: &'a str,
    /// When it was created at its origin.
    pub created_at: Timestamp,
    /// The instance on the drive.
    pub path: &'a Path,
    /// The destination already holds the file (a remote instance there) and the
    /// export was not asked to include such files: no transfer, the drive copy retired.
    pub held: bool,
}

/// What an export recorded for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exported {
    /// Delivered by the drive: its outgoing transfer (new, or the one an earlier,
    /// interrupted export of the same store made).
    Transfer(i64),
    /// Another active transfer of the file to the peer exists (it is on its way by the
    /// network): no transfer.
    OnItsWay,
    /// The peer already holds the file: no transfer, and the drive's copy is retired
    /// (marked unavailable, as a delivered copy is), so recycling the drive is not
    /// held up by it.
    Held,
}

/// A file an import committed (or found already here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportItem<'a> {
    /// The exporting site's transfer id, if the manifest has one.
    pub remote_id: Option<i64>,
    /// Name.
    pub name: &'a FileName,
    /// Size.
    pub size: u64,
    /// Checksum.
    pub checksum: &'a Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Uploader.
    pub uploader: &'a str,
    /// Source site.
    pub source: &'a str,
    /// When it was created at its origin, if the manifest says.
    pub created_at: Option<Timestamp>,
    /// The store holding it here.
    pub store: &'a str,
}

impl Catalog {
    /// The files with an instance on `store` that `peer` holds (a remote instance
    /// there), by name.
    pub fn held_by_peer(&self, peer: &str, store: StoreId) -> Result<Vec<FileName>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT f.name FROM instances i JOIN files f ON f.id = i.file_id
                 WHERE i.store_id = ?1
                   AND EXISTS (SELECT 1 FROM remote_instances r WHERE r.librarian = ?2 AND r.file_id = f.id)
                 ORDER BY f.name",
            )
            .map_err(Error::db("listing held files"))?;
        let rows = stmt
            .query_map(params![store.0, peer], |r| {
                FileName::from_catalog(&r.get::<_, String>(0)?)
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
            })
            .map_err(Error::db("listing held files"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing held files"))
    }

    /// Record an export in one transaction: an outgoing transfer (`ongoing`, manager
    /// `sneakernet`) to `peer` per item (reusing the one an earlier, interrupted
    /// export of this store made), and the store disabled. An item the peer holds
    /// (`held`) gets no transfer and its drive instance is retired; an item with
    /// another active transfer to the peer (on its way by the network) gets none
    /// either. Returns what was recorded, per item.
    pub fn record_export(
        &self,
        peer: &str,
        store: StoreId,
        items: &[ExportItem<'_>],
        now: Timestamp,
    ) -> Result<Vec<Exported>> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("recording an export"))?;
        let pid = peer_id(&tx, peer)?;
        let mut ids = Vec::with_capacity(items.len());
        for it in items {
            let active: Option<(i64, Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT id, manager, store_id FROM transfers WHERE direction = 'outgoing' AND peer_id = ?1
                       AND file_name = ?2 AND status IN ('initiated', 'ongoing', 'staged')",
                    params![pid, it.name.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(Error::db("recording an export"))?;
            let id = match active {
                Some((id, Some(m), Some(s))) if m == "sneakernet" && s == store.0 => Exported::Transfer(id),
                _ if it.held => {
                    tx.execute(
                        "UPDATE instances SET available = 0, state = 'retired',
                                              state_reason = 'a drive copy, held at its destination', state_at = ?3
                         WHERE state = 'ok' AND store_id = ?1 AND file_id = (SELECT id FROM files WHERE name = ?2)",
                        params![store.0, it.name.as_str(), ts_to_sql(now)],
                    )
                    .map_err(Error::db("recording an export"))?;
                    Exported::Held
                }
                Some(_) => Exported::OnItsWay,
                None => {
                    tx.execute(
                        "INSERT INTO transfers (direction, peer_id, file_name, size, checksum, kind, uploader, source,
                             status, manager, store_id, local_path, created_at, updated_at, file_created_at)
                         VALUES ('outgoing', ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ongoing', 'sneakernet', ?8, ?9, ?10, ?10,
                                 ?11)",
                        params![
                            pid,
                            it.name.as_str(),
                            u64_to_sql(it.size)?,
                            it.checksum.to_string(),
                            it.kind.as_str(),
                            it.uploader,
                            it.source,
                            store.0,
                            it.path.to_string_lossy(),
                            ts_to_sql(now),
                            ts_to_sql(it.created_at)
                        ],
                    )
                    .map_err(Error::db("recording an export"))?;
                    Exported::Transfer(tx.last_insert_rowid())
                }
            };
            ids.push(id);
        }
        tx.execute("UPDATE stores SET enabled = 0 WHERE id = ?1", [store.0])
            .map_err(Error::db("recording an export"))?;
        tx.commit().map_err(Error::db("recording an export"))?;
        Ok(ids)
    }

    /// Record an imported file in one transaction: a completed incoming transfer from
    /// `peer` (manager `sneakernet`) and, when the manifest names the exporting
    /// site's transfer, a `complete` call to it. A file imported before (same peer and
    /// transfer) changes nothing. Returns whether a call was queued.
    pub fn record_import(&self, peer: &str, item: &ImportItem<'_>, now: Timestamp) -> Result<bool> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("recording an import"))?;
        let pid = peer_id(&tx, peer)?;
        if let Some(remote) = item.remote_id {
            let seen: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, status FROM transfers WHERE direction = 'incoming' AND peer_id = ?1 AND remote_id = ?2",
                    params![pid, remote],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(Error::db("recording an import"))?;
            if seen.is_some() {
                return Ok(false);
            }
        }
        let store: Option<i64> = tx
            .query_row("SELECT id FROM stores WHERE name = ?1", [item.store], |r| r.get(0))
            .optional()
            .map_err(Error::db("recording an import"))?;
        tx.execute(
            "INSERT INTO transfers (direction, peer_id, remote_id, file_name, size, checksum, kind, uploader, source,
                 status, manager, store_id, created_at, updated_at, file_created_at)
             VALUES ('incoming', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'completed', 'sneakernet', ?9, ?10, ?10, ?11)",
            params![
                pid,
                item.remote_id,
                item.name.as_str(),
                u64_to_sql(item.size)?,
                item.checksum.to_string(),
                item.kind.as_str(),
                item.uploader,
                item.source,
                store,
                ts_to_sql(now),
                item.created_at.map(ts_to_sql)
            ],
        )
        .map_err(Error::db("recording an import"))?;
        let id = tx.last_insert_rowid();
        let queued = match item.remote_id {
            Some(remote) => {
                let body = serde_json::json!({
                    "transfer_id": remote, "peer_transfer_id": id, "file": item.name, "store": item.store,
                    "checksum": item.checksum.to_string(),
                });
                enqueue(&tx, pid, CallKind::Complete, &uuid::Uuid::now_v7().to_string(), &body, now)?;
                true
            }
            None => false,
        };
        tx.commit().map_err(Error::db("recording an import"))?;
        Ok(queued)
    }
}
