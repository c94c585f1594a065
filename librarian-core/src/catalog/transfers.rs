//! SQL for transfers and transfer batches. Every status change goes through the state
//! machine ([`crate::transfers::next`]); the calls a change requires are queued in
//! the same transaction.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, named_params, params};

use super::events::raise;
use super::outbox::enqueue;
use super::{Catalog, FileKind, peer_id, ts_from_sql, ts_to_sql, u64_from_sql, u64_to_sql};
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::model::CallKind;
use crate::model::NewEvent;
use crate::model::{Direction, ManagerKind, Transfer, TransferEvent, TransferStatus, next};
use crate::name::FileName;

const TRANSFER_SELECT: &str = "SELECT t.id, t.direction, p.name, t.remote_id, t.file_name, t.size, t.checksum,
        t.kind, t.uploader, t.source, t.status, t.manager, s.name, t.local_path, t.remote_path, t.batch_id,
        t.created_at, t.updated_at, t.error_code, t.error, t.file_created_at
     FROM transfers t JOIN peers p ON p.id = t.peer_id LEFT JOIN stores s ON s.id = t.store_id";

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

fn conv(col: usize, e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

fn transfer_from_row(r: &Row<'_>) -> rusqlite::Result<Transfer> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    Ok(Transfer {
        id: r.get(0)?,
        direction: r.get(1)?,
        peer: r.get(2)?,
        remote_id: r.get(3)?,
        file: FileName::from_catalog(&text(4)?).map_err(|e| conv(4, e))?,
        size: u64_from_sql(r.get(5)?)?,
        checksum: Checksum::parse(&text(6)?).map_err(|e| conv(6, e))?,
        kind: r.get(7)?,
        uploader: r.get(8)?,
        source: r.get(9)?,
        file_created_at: r.get::<_, Option<i64>>(20)?.map(ts_from_sql).transpose()?,
        status: r.get(10)?,
        manager: r.get(11)?,
        store: r.get(12)?,
        local_path: r.get::<_, Option<String>>(13)?.map(PathBuf::from),
        remote_path: r.get(14)?,
        batch: r.get(15)?,
        created_at: ts_from_sql(r.get(16)?)?,
        updated_at: ts_from_sql(r.get(17)?)?,
        error_code: r.get(18)?,
        error: r.get(19)?,
    })
}

fn get_transfer(tx: &rusqlite::Connection, id: i64) -> Result<Option<Transfer>> {
    tx.prepare_cached(&format!("{TRANSFER_SELECT} WHERE t.id = ?1"))
        .and_then(|mut s| s.query_row([id], transfer_from_row).optional())
        .map_err(Error::db("reading a transfer"))
}

/// Move transfer `t` by `event`; returns the new status (unchanged for a repeat).
fn step(
    tx: &Transaction<'_>,
    t: &Transfer,
    event: TransferEvent,
    error: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<TransferStatus> {
    let to = next(t.status, event)?;
    if to != t.status {
        let (code, message) = error.map_or((None, None), |(c, m)| (Some(c), Some(m)));
        tx.execute(
            "UPDATE transfers SET status = ?2, updated_at = ?3, error_code = COALESCE(?4, error_code),
                 error = COALESCE(?5, error) WHERE id = ?1",
            params![t.id, to.as_str(), ts_to_sql(now), code, message],
        )
        .map_err(Error::db("changing a transfer"))?;
    }
    Ok(to)
}

/// The call telling the peer about transfer `t` (its `remote_id` is the peer's id).
fn queue_call(
    tx: &Transaction<'_>,
    t: &Transfer,
    kind: CallKind,
    extra: serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    let Some(remote) = t.remote_id else { return Ok(()) };
    let pid = peer_id(tx, &t.peer)?;
    let mut body = serde_json::json!({ "transfer_id": remote, "peer_transfer_id": t.id, "file": t.file });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    enqueue(tx, pid, kind, &uuid::Uuid::now_v7().to_string(), &body, now)?;
    Ok(())
}

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

/// What the peer answered for one staged item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageAnswer {
    /// It will receive the data at `destination` (its transfer `remote_id`).
    Accepted {
        /// The peer's transfer id.
        remote_id: i64,
        /// Where the data must go.
        destination: String,
        /// The manager to use.
        manager: ManagerKind,
    },
    /// It already holds the file with the same checksum on `store`.
    AlreadyPresent {
        /// The peer's store.
        store: String,
    },
    /// It refused the item (`code` e.g. `conflict`, `store_full`, `invalid_name`).
    Refused {
        /// Stable code.
        code: String,
        /// Why.
        message: String,
    },
}

/// A running (or finished) batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRow {
    /// Its id.
    pub id: i64,
    /// The peer the data goes to.
    pub peer: String,
    /// The manager moving it.
    pub manager: ManagerKind,
    /// The manager's persisted state.
    pub state: serde_json::Value,
    /// Attempts so far (1 after the first start).
    pub attempts: u32,
}

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
    /// One transfer.
    pub fn transfer(&self, id: i64) -> Result<Option<Transfer>> {
        get_transfer(&self.conn(), id)
    }

    /// Transfers, newest first, optionally only of one status, direction or peer.
    pub fn transfers(
        &self,
        status: Option<TransferStatus>,
        direction: Option<Direction>,
        peer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Transfer>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{TRANSFER_SELECT} WHERE (?1 IS NULL OR t.status = ?1) AND (?2 IS NULL OR t.direction = ?2)
                   AND (?3 IS NULL OR p.name = ?3) ORDER BY t.id DESC LIMIT ?4"
            ))
            .map_err(Error::db("listing transfers"))?;
        let rows = stmt
            .query_map(
                params![
                    status.map(TransferStatus::as_str),
                    direction.map(Direction::as_str),
                    peer,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                transfer_from_row,
            )
            .map_err(Error::db("listing transfers"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing transfers"))
    }

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

    /// Non-terminal transfers not changed since `cutoff`, oldest first.
    pub fn stale_transfers(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Transfer>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{TRANSFER_SELECT} WHERE t.status IN ('initiated', 'ongoing', 'staged') AND t.updated_at < ?1
                 ORDER BY t.updated_at LIMIT ?2"
            ))
            .map_err(Error::db("listing stale transfers"))?;
        let rows = stmt
            .query_map(params![ts_to_sql(cutoff), i64::try_from(limit).unwrap_or(i64::MAX)], transfer_from_row)
            .map_err(Error::db("listing stale transfers"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing stale transfers"))
    }

    /// Outgoing transfer `id` is complete at the peer's `store`: mark it and record
    /// the remote instance, together.
    pub fn complete_outgoing(&self, id: i64, store: &str, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::db("completing a transfer"))?;
        let t = get_transfer(&tx, id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        step(&tx, &t, TransferEvent::Completed, None, now)?;
        record_remote_instance(&tx, &t, store, now)?;
        if t.manager == Some(ManagerKind::Sneakernet) {
            retire_drive_copy(&tx, &t, now)?;
        }
        tx.commit().map_err(Error::db("completing a transfer"))
    }

    /// Mark transfer `id` as looked at now (its status unchanged).
    pub fn touch_transfer(&self, id: i64, now: Timestamp) -> Result<()> {
        self.conn()
            .execute("UPDATE transfers SET updated_at = ?2 WHERE id = ?1", params![id, ts_to_sql(now)])
            .map_err(Error::db("changing a transfer"))?;
        Ok(())
    }

    /// Queue `kind` for transfer `id` to its peer again (reconciliation of a lost call).
    pub fn requeue_call(&self, id: i64, kind: CallKind, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("queueing a call"))?;
        let t = get_transfer(&tx, id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        queue_call(&tx, &t, kind, serde_json::json!({}), now)?;
        tx.execute("UPDATE transfers SET updated_at = ?2 WHERE id = ?1", params![id, ts_to_sql(now)])
            .map_err(Error::db("queueing a call"))?;
        tx.commit().map_err(Error::db("queueing a call"))
    }

    /// Transfers per (direction, status).
    pub fn transfer_counts(&self) -> Result<Vec<(Direction, TransferStatus, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT direction, status, COUNT(*) FROM transfers GROUP BY direction, status")
            .map_err(Error::db("counting transfers"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, u64_from_sql(r.get(2)?)?)))
            .map_err(Error::db("counting transfers"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("counting transfers"))
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
        for it in items {
            let store_id: i64 = tx
                .query_row("SELECT id FROM stores WHERE name = ?1", [&it.store], |r| r.get(0))
                .map_err(Error::db("creating transfers"))?;
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

    /// Record the peer's answers to `stage` for our outgoing transfers, in one
    /// transaction: accepted → `ongoing`, in a new batch per manager (state
    /// `placeholder` until its manager has started it); already present → `completed` and a remote instance;
    /// refused → `failed` (with `events`, e.g. a conflict). Returns the new batches:
    /// (batch id, manager, transfer ids). A process killed after this commit leaves
    /// batches that the next poll starts; never a transfer outside a batch.
    pub fn apply_stage_answers(
        &self,
        peer: &str,
        answers: &[(i64, StageAnswer)],
        events: &[NewEvent],
        placeholder: &serde_json::Value,
        now: Timestamp,
    ) -> Result<Vec<(i64, ManagerKind, Vec<i64>)>> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("recording answers"))?;
        let pid = peer_id(&tx, peer)?;
        let mut batches: Vec<(i64, ManagerKind, Vec<i64>)> = Vec::new();
        for (id, answer) in answers {
            let Some(t) = get_transfer(&tx, *id)? else { continue };
            // Answers are applied once: a transfer another run has already recorded
            // an answer for (two runs offered the same stranded transfer) is left alone.
            if t.status != TransferStatus::Initiated || t.batch.is_some() {
                continue;
            }
            match answer {
                StageAnswer::Accepted { remote_id, destination, manager } => {
                    let at = match batches.iter().position(|(_, m, _)| m == manager) {
                        Some(i) => i,
                        None => {
                            tx.execute(
                                "INSERT INTO transfer_batches (peer_id, manager, state, status, created_at, updated_at)
                                 VALUES (?1, ?2, ?3, 'running', ?4, ?4)",
                                params![pid, manager.as_str(), placeholder.to_string(), ts_to_sql(now)],
                            )
                            .map_err(Error::db("recording answers"))?;
                            batches.push((tx.last_insert_rowid(), *manager, Vec::new()));
                            batches.len() - 1
                        }
                    };
                    let batch = &mut batches[at];
                    tx.execute(
                        "UPDATE transfers SET remote_id = ?2, remote_path = ?3, manager = ?4, batch_id = ?5 WHERE id = ?1",
                        params![t.id, remote_id, destination, manager.as_str(), batch.0],
                    )
                    .map_err(Error::db("recording answers"))?;
                    step(&tx, &t, TransferEvent::Started, None, now)?;
                    batch.2.push(t.id);
                }
                StageAnswer::AlreadyPresent { store } => {
                    step(&tx, &t, TransferEvent::Completed, None, now)?;
                    record_remote_instance(&tx, &t, store, now)?;
                }
                StageAnswer::Refused { code, message } => {
                    step(&tx, &t, TransferEvent::Failed, Some((code, message)), now)?;
                }
            }
        }
        for e in events {
            raise(&tx, e, now)?;
        }
        tx.commit().map_err(Error::db("recording answers"))?;
        Ok(batches)
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

    /// Record the state of a batch its manager has just started.
    pub fn set_batch_state(&self, batch: i64, state: &serde_json::Value, now: Timestamp) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE transfer_batches SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![batch, state.to_string(), ts_to_sql(now)],
            )
            .map_err(Error::db("starting a batch"))?;
        Ok(())
    }

    /// Batches still running.
    pub fn running_batches(&self) -> Result<Vec<BatchRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT b.id, p.name, b.manager, b.state, b.attempts FROM transfer_batches b
                 JOIN peers p ON p.id = b.peer_id WHERE b.status = 'running' ORDER BY b.id",
            )
            .map_err(Error::db("listing batches"))?;
        let rows = stmt
            .query_map([], |r| {
                let state: String = r.get(3)?;
                Ok(BatchRow {
                    id: r.get(0)?,
                    peer: r.get(1)?,
                    manager: r.get(2)?,
                    state: serde_json::from_str(&state).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                    attempts: r.get(4)?,
                })
            })
            .map_err(Error::db("listing batches"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing batches"))
    }

    /// The transfers of a batch that are still `ongoing`.
    pub fn batch_transfers(&self, batch: i64) -> Result<Vec<Transfer>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("{TRANSFER_SELECT} WHERE t.batch_id = ?1 AND t.status = 'ongoing' ORDER BY t.id"))
            .map_err(Error::db("reading a batch"))?;
        let rows = stmt.query_map([batch], transfer_from_row).map_err(Error::db("reading a batch"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("reading a batch"))
    }

    /// A batch was started again with a new manager state.
    pub fn restart_batch(&self, batch: i64, state: &serde_json::Value, now: Timestamp) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE transfer_batches SET state = ?2, attempts = attempts + 1, updated_at = ?3 WHERE id = ?1",
                params![batch, state.to_string(), ts_to_sql(now)],
            )
            .map_err(Error::db("restarting a batch"))?;
        Ok(())
    }

    /// A batch ended: its transfers in `failed` (with why) fail and the others are
    /// `staged`; each queues its call (`fail` or `staged`) to the peer; all in one
    /// transaction. With `batch_failed`, the batch is recorded as failed.
    pub fn finish_batch(&self, batch: i64, failed: &[(i64, String)], batch_failed: bool, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("finishing a batch"))?;
        let ids: Vec<i64> = {
            let mut stmt = tx
                .prepare_cached("SELECT id FROM transfers WHERE batch_id = ?1 AND status = 'ongoing' ORDER BY id")
                .map_err(Error::db("finishing a batch"))?;
            let rows = stmt.query_map([batch], |r| r.get(0)).map_err(Error::db("finishing a batch"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::db("finishing a batch"))?
        };
        for id in ids {
            let Some(t) = get_transfer(&tx, id)? else { continue };
            match failed.iter().find(|(f, _)| *f == id) {
                Some((_, why)) => {
                    step(&tx, &t, TransferEvent::Failed, Some(("transfer_failed", why)), now)?;
                    queue_call(&tx, &t, CallKind::Fail, serde_json::json!({ "reason": why }), now)?;
                }
                None => {
                    step(&tx, &t, TransferEvent::Staged, None, now)?;
                    queue_call(&tx, &t, CallKind::Staged, serde_json::json!({}), now)?;
                }
            }
        }
        tx.execute(
            "UPDATE transfer_batches SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![batch, if batch_failed { "failed" } else { "done" }, ts_to_sql(now)],
        )
        .map_err(Error::db("finishing a batch"))?;
        tx.commit().map_err(Error::db("finishing a batch"))
    }

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

    /// Move transfer `id` by `event` (with `error` for a failure) and queue `call` to
    /// its peer (with `extra` fields), in one transaction. Returns the transfer after.
    pub fn transfer_step(
        &self,
        id: i64,
        event: TransferEvent,
        error: Option<(&str, &str)>,
        call: Option<(CallKind, serde_json::Value)>,
        now: Timestamp,
    ) -> Result<Transfer> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("changing a transfer"))?;
        let t = get_transfer(&tx, id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        let before = t.status;
        let after = step(&tx, &t, event, error, now)?;
        if let Some((kind, extra)) = call
            && after != before
        {
            queue_call(&tx, &t, kind, extra, now)?;
        }
        let t = get_transfer(&tx, id)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        tx.commit().map_err(Error::db("changing a transfer"))?;
        Ok(t)
    }

    /// Apply a peer's call once per idempotency key: `apply` runs in the transaction
    /// that also remembers `(peer, key)` with the call's `kind`, its `digest` (of the
    /// kind and the canonical body) and its answer. A repeated key with the same kind
    /// and digest returns the first answer (`Ok((answer, true))`) without running
    /// `apply`; the same key with another kind or body is refused
    /// ([`Error::Conflict`]): a key names one call. Failed calls are not remembered.
    pub fn apply_once(
        &self,
        peer: &str,
        key: &str,
        kind: CallKind,
        digest: &str,
        apply: impl FnOnce(&CallTx<'_, '_>) -> Result<serde_json::Value>,
    ) -> Result<(serde_json::Value, bool)> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("applying a call"))?;
        let pid = peer_id(&tx, peer)?;
        let seen: Option<(String, Option<String>, String)> = tx
            .query_row(
                "SELECT kind, request_digest, response FROM received_calls WHERE peer_id = ?1 AND call_key = ?2",
                params![pid, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(Error::db("applying a call"))?;
        if let Some((first_kind, first_digest, text)) = seen {
            let same_kind = first_kind == kind.as_str();
            // A call remembered before digests were kept is compared by kind only.
            let same_body = first_digest.as_deref().is_none_or(|d| d == digest);
            if !(same_kind && same_body) {
                let what = if same_kind { " with another body" } else { "" };
                return Err(Error::Conflict {
                    name: format!("idempotency key {key:?} of {peer}"),
                    existing: format!("a {first_kind} call"),
                    incoming: format!("a {kind} call{what} (a key names one call; use a new key)"),
                });
            }
            let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            return Ok((v, true));
        }
        let answer = apply(&CallTx { tx: &tx, peer, now: Timestamp::now() })?;
        tx.execute(
            "INSERT INTO received_calls (peer_id, call_key, kind, received_at, response, request_digest)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![pid, key, kind.as_str(), ts_to_sql(Timestamp::now()), answer.to_string(), digest],
        )
        .map_err(Error::db("remembering a call"))?;
        tx.commit().map_err(Error::db("applying a call"))?;
        Ok((answer, false))
    }
}

/// What a call applied by [`Catalog::apply_once`] may do, inside its transaction.
#[derive(Debug)]
pub struct CallTx<'t, 'c> {
    tx: &'t Transaction<'c>,
    peer: &'t str,
    now: Timestamp,
}

impl CallTx<'_, '_> {
    /// Our transfer `id`, which must go in `direction` (when given) and belong to the
    /// calling peer (else [`Error::Forbidden`]).
    pub fn transfer(&self, id: i64, direction: Option<Direction>) -> Result<Transfer> {
        let t = get_transfer(self.tx, id)?
            .filter(|t| direction.is_none_or(|d| t.direction == d))
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Transfer, name: id.to_string() })?;
        if t.peer != self.peer {
            return Err(Error::Forbidden(format!("transfer {id} is not one of {}'s transfers", self.peer)));
        }
        Ok(t)
    }

    /// Move `t` by `event` (recording `error` for a failure).
    pub fn step(&self, t: &Transfer, event: TransferEvent, error: Option<(&str, &str)>) -> Result<TransferStatus> {
        step(self.tx, t, event, error, self.now)
    }

    /// Record that the peer holds `t`'s file on its `store` (if the file is catalogued here).
    pub fn record_remote_instance(&self, t: &Transfer, store: &str) -> Result<()> {
        record_remote_instance(self.tx, t, store, self.now)
    }

    /// The checksum of the file catalogued as `name`, if any.
    pub fn file_checksum(&self, name: &FileName) -> Result<Option<Checksum>> {
        let text: Option<String> = self
            .tx
            .query_row("SELECT checksum FROM files WHERE name = ?1", [name.as_str()], |r| r.get(0))
            .optional()
            .map_err(Error::db("reading a file"))?;
        text.map(|t| Checksum::parse(&t)).transpose()
    }

    /// Record that the calling peer holds file `name` on its `store` since `copied_at`.
    pub fn record_peer_copy(&self, name: &FileName, store: &str, copied_at: Timestamp) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO remote_instances (file_id, librarian, store, copied_at)
                 SELECT id, ?2, ?3, ?4 FROM files WHERE name = ?1
                 ON CONFLICT (file_id, librarian, store) DO NOTHING",
                params![name.as_str(), self.peer, store, ts_to_sql(copied_at)],
            )
            .map_err(Error::db("recording a remote instance"))?;
        Ok(())
    }

    /// A drive copy arrived (`t` is a SneakerNet transfer): see [`retire_drive_copy`].
    pub fn finish_drive_copy(&self, t: &Transfer) -> Result<()> {
        retire_drive_copy(self.tx, t, self.now)
    }
}

fn record_remote_instance(tx: &Transaction<'_>, t: &Transfer, store: &str, now: Timestamp) -> Result<()> {
    // A peer's store name (from a call, a stage answer or a status answer) is only
    // ever recorded as a valid store name; "" means "not said".
    if !store.is_empty() {
        crate::config::validate_store_name(store)?;
    }
    tx.execute(
        "INSERT INTO remote_instances (file_id, librarian, store, copied_at)
         SELECT id, ?2, ?3, ?4 FROM files WHERE name = ?1 AND checksum = ?5
         ON CONFLICT (file_id, librarian, store) DO NOTHING",
        params![t.file.as_str(), t.peer, store, ts_to_sql(now), t.checksum.to_string()],
    )
    .map_err(Error::db("recording a remote instance"))?;
    Ok(())
}

/// A drive copy arrived (`t` is a SneakerNet transfer): its instance on the drive
/// becomes unavailable; when no transfer of that drive is left, a `drive_done`
/// event says the drive can be wiped.
fn retire_drive_copy(tx: &Transaction<'_>, t: &Transfer, now: Timestamp) -> Result<()> {
    let Some(store) = t.store.as_deref() else { return Ok(()) };
    tx.execute(
        "UPDATE instances SET available = 0
             WHERE store_id = (SELECT id FROM stores WHERE name = ?1)
               AND file_id = (SELECT id FROM files WHERE name = ?2)",
        params![store, t.file.as_str()],
    )
    .map_err(Error::db("retiring a drive copy"))?;
    let left: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM transfers WHERE manager = 'sneakernet' AND direction = 'outgoing'
               AND store_id = (SELECT id FROM stores WHERE name = ?1)
               AND status IN ('initiated', 'ongoing', 'staged')",
            [store],
            |r| r.get(0),
        )
        .map_err(Error::db("retiring a drive copy"))?;
    if left == 0 {
        let event = NewEvent {
            severity: crate::model::Severity::Info,
            category: crate::model::Category::DriveDone,
            subject: store.to_owned(),
            message: format!(
                "every file exported on store {store} was received by {}: the drive can be wiped \
                 (its instances are marked unavailable; remove or recycle the store)",
                t.peer
            ),
        };
        raise(tx, &event, now)?;
    }
    Ok(())
}
