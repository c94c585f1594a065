//! SQL for incoming transfers: created by a peer's `stage` call, staged, received.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::transfers::{TRANSFER_SELECT, get_transfer, step, transfer_from_row};
use super::{Catalog, FileKind, peer_id, ts_to_sql, u64_to_sql};
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::model::{ManagerKind, Transfer, TransferEvent};
use crate::name::FileName;

/// A new incoming transfer, as a peer's `stage` asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncoming<'a> {
    /// The peer's (outgoing) transfer id.
    pub remote_id: i64,
    /// The file's name.
    pub name: &'a FileName,
    /// Size.
    pub size: u64,
    /// Checksum.
    pub checksum: &'a Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Uploader at the source.
    pub uploader: &'a str,
    /// The source site.
    pub source: &'a str,
    /// When it was created there, if the sender said.
    pub created_at: Option<Timestamp>,
    /// The store it goes to.
    pub store: &'a str,
    /// The staging directory the data arrives in.
    pub local_path: &'a Path,
    /// The manager that moves it.
    pub manager: ManagerKind,
}

impl Catalog {
    /// The incoming transfer from `peer` for its transfer `remote_id`, if any.
    pub fn incoming_by_remote(&self, peer: &str, remote_id: i64) -> Result<Option<Transfer>> {
        let conn = self.conn();
        conn.prepare_cached(&format!(
            "{TRANSFER_SELECT} WHERE t.direction = 'incoming' AND p.name = ?1 AND t.remote_id = ?2"
        ))
        .and_then(|mut s| s.query_row(params![peer, remote_id], transfer_from_row).optional())
        .map_err(Error::db("reading a transfer"))
    }

    /// How many incoming transfers from `peer` are unfinished (initiated, ongoing or
    /// staged), and their declared bytes: what the `[clone]` receiving limits count.
    pub fn incoming_outstanding(&self, peer: &str) -> Result<(u64, u64)> {
        let conn = self.conn();
        // TOTAL (a float) cannot overflow, whatever sizes a peer declared.
        let (n, bytes): (i64, f64) = conn
            .prepare_cached(
                "SELECT COUNT(*), TOTAL(t.size) FROM transfers t JOIN peers p ON p.id = t.peer_id
                 WHERE p.name = ?1 AND t.direction = 'incoming' AND t.status IN ('initiated', 'ongoing', 'staged')",
            )
            .and_then(|mut s| s.query_row([peer], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(Error::db("counting a peer's transfers"))?;
        // `as` saturates: a float beyond u64::MAX counts as u64::MAX.
        Ok((u64::try_from(n).unwrap_or(0), bytes as u64))
    }

    /// Record a new incoming transfer (`initiated`). An active incoming transfer of
    /// the same name from the same peer (its earlier attempt, abandoned by the peer)
    /// fails first; its staging directory is returned for removal.
    pub fn create_incoming(
        &self,
        peer: &str,
        item: &NewIncoming<'_>,
        now: Timestamp,
    ) -> Result<(Transfer, Option<PathBuf>)> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("staging"))?;
        let pid = peer_id(&tx, peer)?;
        let old: Option<i64> = tx
            .query_row(
                "SELECT id FROM transfers WHERE direction = 'incoming' AND peer_id = ?1 AND file_name = ?2
                   AND status IN ('initiated', 'ongoing', 'staged')",
                params![pid, item.name.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(Error::db("staging"))?;
        let mut stale_dir = None;
        if let Some(old) = old.and_then(|o| get_transfer(&tx, o).transpose()).transpose()? {
            step(&tx, &old, TransferEvent::Failed, Some(("superseded", "the peer sent the file again")), now)?;
            stale_dir = old.local_path;
        }
        let store_id: i64 = tx
            .query_row("SELECT id FROM stores WHERE name = ?1", [item.store], |r| r.get(0))
            .map_err(Error::db("staging"))?;
        tx.execute(
            "INSERT INTO transfers (direction, peer_id, remote_id, file_name, size, checksum, kind, uploader, source,
                 status, manager, store_id, local_path, created_at, updated_at, file_created_at)
             VALUES ('incoming', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'initiated', ?9, ?10, ?11, ?12, ?12, ?13)",
            params![
                pid,
                item.remote_id,
                item.name.as_str(),
                u64_to_sql(item.size)?,
                item.checksum.to_string(),
                item.kind.as_str(),
                item.uploader,
                item.source,
                item.manager.as_str(),
                store_id,
                item.local_path.to_string_lossy(),
                ts_to_sql(now),
                item.created_at.map(ts_to_sql)
            ],
        )
        .map_err(Error::db("staging"))?;
        let id = tx.last_insert_rowid();
        let t = get_transfer(&tx, id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        tx.commit().map_err(Error::db("staging"))?;
        Ok((t, stale_dir))
    }

    /// Incoming transfers whose data has arrived, oldest first.
    pub fn staged_incoming(&self, limit: usize) -> Result<Vec<Transfer>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{TRANSFER_SELECT} WHERE t.direction = 'incoming' AND t.status = 'staged' ORDER BY t.id LIMIT ?1"
            ))
            .map_err(Error::db("listing staged transfers"))?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], transfer_from_row)
            .map_err(Error::db("listing staged transfers"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing staged transfers"))
    }

    /// Staging directories of incoming transfers that are still active (kept by cleanup).
    pub fn active_incoming_dirs(&self) -> Result<Vec<PathBuf>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT local_path FROM transfers WHERE direction = 'incoming' AND local_path IS NOT NULL
                   AND status IN ('initiated', 'ongoing', 'staged')",
            )
            .map_err(Error::db("listing transfers"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(Error::db("listing transfers"))?;
        rows.map(|r| r.map(PathBuf::from)).collect::<rusqlite::Result<_>>().map_err(Error::db("listing transfers"))
    }
}
