//! SQL for planning what to send a peer: the files its `[clone.to]` filters let
//! through that it lacks (also the backlog `status` shows), and the outgoing
//! transfers created for them.

use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, named_params, params};

use super::transfers::{TRANSFER_SELECT, conv, get_transfer, transfer_from_row};
use super::{Catalog, FileKind, peer_id, ts_from_sql, ts_to_sql, u64_from_sql, u64_to_sql};
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::model::Transfer;
use crate::name::FileName;

/// How far a peer is behind this site, counting the files planning may send it
/// (see [`Catalog::peer_backlog`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerBacklog {
    /// The peer.
    pub peer: String,
    /// Files planning may send the peer that have no copy recorded there (those with
    /// an active transfer included).
    pub files_without_copy: u64,
    /// Their bytes.
    pub bytes_without_copy: u64,
    /// Files planning may send the peer that have a copy recorded there.
    pub files_with_copy: u64,
    /// Outgoing transfers to the peer not yet finished.
    pub active_transfers: u64,
}

/// A file that lacks a copy at a peer, with the instance to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    /// The file's row id (plans go in this order).
    pub file_id: i64,
    /// The file's name.
    pub name: FileName,
    /// Its size.
    pub size: u64,
    /// Its checksum.
    pub checksum: Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Who uploaded it.
    pub uploader: String,
    /// Where it was first ingested.
    pub source: String,
    /// When it was created there.
    pub created_at: Timestamp,
    /// The store of the instance to send.
    pub store: String,
    /// The instance's absolute path.
    pub path: PathBuf,
}

/// Which files a plan may pick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFilter {
    /// Only names starting with this.
    pub prefix: Option<String>,
    /// Only instances on this store.
    pub store: Option<String>,
    /// Only files catalogued here (`arrived_at`) at or after this time.
    pub since: Option<Timestamp>,
}

/// The files the `[clone.to.PEER]` filters let planning send (named parameters
/// `:prefix`, `:prefix_end`, `:since`): one definition for planning and for the backlog
/// `status` shows, so the two cannot disagree.
const ELIGIBLE_FILE: &str = "(:prefix IS NULL OR f.name >= :prefix) AND (:prefix_end IS NULL OR f.name < :prefix_end)
       AND (:since IS NULL OR f.arrived_at >= :since)";

/// An instance `i2` (on store `s2`) of file `f` that planning may send from:
/// available, on an enabled store, and on the `[clone.to]` store if one is set
/// (named parameter `:store`).
const SENDABLE_INSTANCE: &str =
    "i2.file_id = f.id AND i2.available = 1 AND s2.enabled = 1 AND (:store IS NULL OR s2.name = :store)";

/// The first name after every name starting with `prefix` (the end of its range scan).
fn range_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Catalog {
    /// How far `peer` is behind: of the files planning may send it (the same
    /// eligibility as [`Catalog::plan_outgoing`]: an available instance on an enabled
    /// store, and through `filter`, the peer's `[clone.to]` filters), those it does not
    /// hold and their bytes, and those it holds; and the active outgoing transfers to it.
    pub fn peer_backlog(&self, peer: &str, filter: &PlanFilter) -> Result<PeerBacklog> {
        let conn = self.conn();
        let pid = peer_id(&conn, peer)?;
        let prefix_end = filter.prefix.as_deref().map(range_end);
        let (missing, missing_bytes, held): (i64, i64, i64) = conn
            .prepare_cached(&format!(
                "SELECT COALESCE(SUM(NOT held), 0), COALESCE(SUM(CASE WHEN held THEN 0 ELSE size END), 0),
                        COALESCE(SUM(held), 0)
                 FROM (SELECT f.size AS size,
                              EXISTS (SELECT 1 FROM remote_instances r WHERE r.librarian = :peer AND r.file_id = f.id)
                                  AS held
                       FROM files f
                       WHERE {ELIGIBLE_FILE}
                         AND EXISTS (SELECT 1 FROM instances i2 JOIN stores s2 ON s2.id = i2.store_id
                                     WHERE {SENDABLE_INSTANCE}))"
            ))
            .and_then(|mut s| {
                s.query_row(
                    named_params! {
                        ":peer": peer,
                        ":prefix": filter.prefix,
                        ":prefix_end": prefix_end,
                        ":since": filter.since.map(ts_to_sql),
                        ":store": filter.store,
                    },
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .map_err(Error::db("measuring a backlog"))?;
        let active: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM transfers WHERE peer_id = ?1 AND direction = 'outgoing'
                   AND status IN ('initiated', 'ongoing', 'staged')",
                [pid],
                |r| r.get(0),
            )
            .map_err(Error::db("measuring a backlog"))?;
        Ok(PeerBacklog {
            peer: peer.to_owned(),
            files_without_copy: u64_from_sql(missing).map_err(Error::db("measuring a backlog"))?,
            bytes_without_copy: u64_from_sql(missing_bytes).map_err(Error::db("measuring a backlog"))?,
            files_with_copy: u64_from_sql(held).map_err(Error::db("measuring a backlog"))?,
            active_transfers: u64_from_sql(active).map_err(Error::db("measuring a backlog"))?,
        })
    }

    /// Files with an available instance here and neither a remote instance at `peer`
    /// nor an active outgoing transfer to it (nor one refused as a conflict), oldest
    /// first, at most `max_files` and `max_bytes` (at least one file if any). One query.
    pub fn plan_outgoing(
        &self,
        peer: &str,
        filter: &PlanFilter,
        max_files: usize,
        max_bytes: u64,
    ) -> Result<Vec<PlanItem>> {
        self.plan_outgoing_after(peer, filter, 0, max_files, max_bytes)
    }

    /// [`Catalog::plan_outgoing`] for files with an id above `after` (the last file
    /// of the previous batch of the same run: later batches do not walk again past
    /// the files that earlier ones looked at).
    pub fn plan_outgoing_after(
        &self,
        peer: &str,
        filter: &PlanFilter,
        after: i64,
        max_files: usize,
        max_bytes: u64,
    ) -> Result<Vec<PlanItem>> {
        let conn = self.conn();
        let pid = peer_id(&conn, peer)?;
        let prefix_end = filter.prefix.as_deref().map(range_end);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT f.name, f.size, f.checksum, f.kind, f.uploader, f.source, s.name, s.root || '/' || i.path, f.id,
                        f.created_at
                 FROM files f
                 JOIN instances i ON i.id = (SELECT i2.id FROM instances i2 JOIN stores s2 ON s2.id = i2.store_id
                                             WHERE {SENDABLE_INSTANCE}
                                             ORDER BY i2.id LIMIT 1)
                 JOIN stores s ON s.id = i.store_id
                 WHERE {ELIGIBLE_FILE} AND f.id > :after
                   AND NOT EXISTS (SELECT 1 FROM remote_instances r WHERE r.librarian = :peer AND r.file_id = f.id)
                   AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.peer_id = :pid AND t.file_name = f.name
                                     AND t.direction = 'outgoing'
                                     AND (t.status IN ('initiated', 'ongoing', 'staged')
                                          OR (t.status = 'failed' AND t.error_code IN
                                              ('conflict', 'invalid_name', 'invalid_checksum',
                                               'algorithm_mismatch', 'bad_destination'))))
                 ORDER BY f.id LIMIT :limit"
            ))
            .map_err(Error::db("planning transfers"))?;
        let rows = stmt
            .query_map(
                named_params! {
                    ":pid": pid,
                    ":prefix": filter.prefix,
                    ":prefix_end": prefix_end,
                    ":since": filter.since.map(ts_to_sql),
                    ":store": filter.store,
                    ":peer": peer,
                    ":limit": i64::try_from(max_files).unwrap_or(i64::MAX),
                    ":after": after,
                },
                |r| {
                    Ok(PlanItem {
                        file_id: r.get(8)?,
                        name: FileName::from_catalog(&r.get::<_, String>(0)?).map_err(|e| conv(0, e))?,
                        size: u64_from_sql(r.get(1)?)?,
                        checksum: Checksum::parse(&r.get::<_, String>(2)?).map_err(|e| conv(2, e))?,
                        kind: r.get(3)?,
                        uploader: r.get(4)?,
                        source: r.get(5)?,
                        created_at: ts_from_sql(r.get(9)?)?,
                        store: r.get(6)?,
                        path: PathBuf::from(r.get::<_, String>(7)?),
                    })
                },
            )
            .map_err(Error::db("planning transfers"))?;
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for row in rows {
            let item = row.map_err(Error::db("planning transfers"))?;
            if !out.is_empty() && bytes.saturating_add(item.size) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(item.size);
            out.push(item);
        }
        Ok(out)
    }

    /// Create outgoing transfers (`initiated`) for `items`, in one transaction. Items
    /// that gained an active transfer meanwhile are skipped.
    pub fn create_outgoing(&self, peer: &str, items: &[PlanItem], now: Timestamp) -> Result<Vec<Transfer>> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("creating transfers"))?;
        let pid = peer_id(&tx, peer)?;
        let mut ids = Vec::with_capacity(items.len());
        let mut stores: Vec<(&str, i64)> = Vec::new();
        for it in items {
            let store_id: i64 = match stores.iter().find(|(name, _)| *name == it.store) {
                Some((_, id)) => *id,
                None => {
                    let id = tx
                        .prepare_cached("SELECT id FROM stores WHERE name = ?1")
                        .and_then(|mut s| s.query_row([&it.store], |r| r.get(0)))
                        .map_err(Error::db("creating transfers"))?;
                    stores.push((&it.store, id));
                    id
                }
            };
            let id: Option<i64> = tx
                .prepare_cached(
                    "INSERT INTO transfers (direction, peer_id, file_name, size, checksum, kind, uploader, source,
                         status, store_id, local_path, created_at, updated_at, file_created_at)
                     VALUES ('outgoing', ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'initiated', ?8, ?9, ?10, ?10, ?11)
                     ON CONFLICT DO NOTHING RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            pid,
                            it.name.as_str(),
                            u64_to_sql(it.size).unwrap_or(i64::MAX),
                            it.checksum.to_string(),
                            it.kind.as_str(),
                            it.uploader,
                            it.source,
                            store_id,
                            it.path.to_string_lossy(),
                            ts_to_sql(now),
                            ts_to_sql(it.created_at)
                        ],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .map_err(Error::db("creating transfers"))?;
            ids.extend(id);
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(get_transfer(&tx, id)?);
        }
        tx.commit().map_err(Error::db("creating transfers"))?;
        Ok(out)
    }

    /// Outgoing transfers to `peer` that were created and perhaps offered, but whose
    /// answer was never recorded (the run that offered them died in between): still
    /// `initiated`, in no batch, with no remote id. Oldest first, at most `limit`.
    pub fn stranded_outgoing(&self, peer: &str, limit: usize) -> Result<Vec<Transfer>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{TRANSFER_SELECT} WHERE t.direction = 'outgoing' AND t.status = 'initiated' AND t.batch_id IS NULL
                 AND t.remote_id IS NULL AND p.name = ?1 ORDER BY t.id LIMIT ?2"
            ))
            .map_err(Error::db("listing stranded transfers"))?;
        let rows = stmt
            .query_map(params![peer, i64::try_from(limit).unwrap_or(i64::MAX)], transfer_from_row)
            .map_err(Error::db("listing stranded transfers"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing stranded transfers"))
    }
}
