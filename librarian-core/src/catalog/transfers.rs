//! SQL for transfers: reading them, every status change (through the state machine,
//! [`crate::model::next`]) with the calls it requires queued in the same transaction,
//! and calls applied once per idempotency key. Planning, batches and incoming
//! transfers are in the files beside this one.

use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::events::raise;
use super::outbox::enqueue;
use super::{Catalog, peer_id, ts_from_sql, ts_to_sql, u64_from_sql};
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::model::CallKind;
use crate::model::NewEvent;
use crate::model::{Direction, ManagerKind, Transfer, TransferEvent, TransferStatus, next};
use crate::name::FileName;

pub(super) const TRANSFER_SELECT: &str =
    "SELECT t.id, t.direction, p.name, t.remote_id, t.file_name, t.size, t.checksum,
        t.kind, t.uploader, t.source, t.status, t.manager, s.name, t.local_path, t.remote_path, t.batch_id,
        t.created_at, t.updated_at, t.error_code, t.error, t.file_created_at
     FROM transfers t JOIN peers p ON p.id = t.peer_id LEFT JOIN stores s ON s.id = t.store_id";

pub(super) fn conv(col: usize, e: Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

pub(super) fn transfer_from_row(r: &Row<'_>) -> rusqlite::Result<Transfer> {
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

pub(super) fn get_transfer(tx: &rusqlite::Connection, id: i64) -> Result<Option<Transfer>> {
    tx.prepare_cached(&format!("{TRANSFER_SELECT} WHERE t.id = ?1"))
        .and_then(|mut s| s.query_row([id], transfer_from_row).optional())
        .map_err(Error::db("reading a transfer"))
}

/// Move transfer `t` by `event`; returns the new status (unchanged for a repeat).
pub(super) fn step(
    tx: &Transaction<'_>,
    t: &Transfer,
    event: TransferEvent,
    error: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<TransferStatus> {
    let to = next(t.status, event)?;
    if to != t.status {
        let (code, message) = error.map_or((None, None), |(c, m)| (Some(c), Some(m)));
        tx.prepare_cached(
            "UPDATE transfers SET status = ?2, updated_at = ?3, error_code = COALESCE(?4, error_code),
                 error = COALESCE(?5, error) WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![t.id, to.as_str(), ts_to_sql(now), code, message]))
        .map_err(Error::db("changing a transfer"))?;
    }
    Ok(to)
}

/// The call telling the peer about transfer `t` (its `remote_id` is the peer's id).
pub(super) fn queue_call(
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

    /// Completed transfers and their bytes, by direction (what `/metrics` counts as
    /// transferred: it only grows, since transfers are never deleted).
    pub fn completed_totals(&self) -> Result<Vec<(Direction, u64, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT direction, COUNT(*), COALESCE(SUM(size), 0) FROM transfers WHERE status = 'completed'
                 GROUP BY direction",
            )
            .map_err(Error::db("counting transferred bytes"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, u64_from_sql(r.get(1)?)?, u64_from_sql(r.get(2)?)?)))
            .map_err(Error::db("counting transferred bytes"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("counting transferred bytes"))
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

pub(super) fn record_remote_instance(tx: &Transaction<'_>, t: &Transfer, store: &str, now: Timestamp) -> Result<()> {
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
        "UPDATE instances SET available = 0, state = 'retired', state_reason = 'a drive copy, delivered',
                              state_at = ?3
             WHERE state = 'ok' AND store_id = (SELECT id FROM stores WHERE name = ?1)
               AND file_id = (SELECT id FROM files WHERE name = ?2)",
        params![store, t.file.as_str(), ts_to_sql(now)],
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
