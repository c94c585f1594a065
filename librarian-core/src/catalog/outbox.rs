//! SQL for the outbox (calls to peers, waiting to be delivered) and for the calls
//! received from peers (remembered by idempotency key).

use jiff::Timestamp;
use rusqlite::{Row, Transaction, TransactionBehavior, params};

use super::events::{raise, resolve};
use super::{Catalog, peer_id, ts_from_sql, ts_to_sql, u64_from_sql};
use crate::error::{Error, Result};
use crate::model::{CallKind, OutboxCall, PeerQueue};
use crate::model::{Category, NewEvent};

const CALL_SELECT: &str = "SELECT o.id, p.name, o.call_key, o.kind, o.body, o.created_at, o.attempts,
            o.next_attempt_at, o.last_error
     FROM outbox o JOIN peers p ON p.id = o.peer_id";

fn call_from_row(r: &Row<'_>) -> rusqlite::Result<OutboxCall> {
    let body: String = r.get(4)?;
    Ok(OutboxCall {
        id: r.get(0)?,
        peer: r.get(1)?,
        key: r.get(2)?,
        kind: r.get(3)?,
        body: serde_json::from_str(&body)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e)))?,
        created_at: ts_from_sql(r.get(5)?)?,
        attempts: u64_from_sql(r.get(6)?)?,
        next_attempt_at: ts_from_sql(r.get(7)?)?,
        last_error: r.get(8)?,
    })
}

/// Queue a call to `peer` inside the caller's transaction (so it commits, or not,
/// with the state change that requires it). Returns the new row's id.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    peer_id: i64,
    kind: CallKind,
    key: &str,
    body: &serde_json::Value,
    now: Timestamp,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO outbox (peer_id, call_key, kind, body, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
    )
    .and_then(|mut s| s.query_row(params![peer_id, key, kind.as_str(), body.to_string(), ts_to_sql(now)], |r| r.get(0)))
    .map_err(Error::db("queueing a call"))
}

impl Catalog {
    /// Queue calls to `peer`, all in one transaction, each with a fresh idempotency key.
    pub fn queue_calls(&self, peer: &str, calls: &[(CallKind, serde_json::Value)], now: Timestamp) -> Result<Vec<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("queueing calls"))?;
        let pid = peer_id(&tx, peer)?;
        let mut ids = Vec::with_capacity(calls.len());
        for (kind, body) in calls {
            let key = uuid::Uuid::now_v7().to_string();
            ids.push(enqueue(&tx, pid, *kind, &key, body, now)?);
        }
        tx.commit().map_err(Error::db("queueing calls"))?;
        Ok(ids)
    }

    /// Queued calls, oldest first (to `peer` only when given), at most `limit`.
    pub fn outbox(&self, peer: Option<&str>, limit: usize) -> Result<Vec<OutboxCall>> {
        let conn = self.conn();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(&format!("{CALL_SELECT} WHERE ?1 IS NULL OR p.name = ?1 ORDER BY o.id LIMIT ?2"))
            .map_err(Error::db("listing the outbox"))?;
        let rows = stmt.query_map(params![peer, limit], call_from_row).map_err(Error::db("listing the outbox"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing the outbox"))
    }

    /// Queued call `id`, if it is still queued.
    pub fn outbox_call(&self, id: i64) -> Result<Option<OutboxCall>> {
        use rusqlite::OptionalExtension;
        self.conn()
            .prepare_cached(&format!("{CALL_SELECT} WHERE o.id = ?1"))
            .and_then(|mut s| s.query_row([id], call_from_row).optional())
            .map_err(Error::db("reading the outbox"))
    }

    /// Peers with queued calls, by name.
    pub fn outbox_peers(&self) -> Result<Vec<PeerQueue>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT p.name, p.transfers_enabled, COUNT(*), MIN(o.created_at),
                        (SELECT next_attempt_at FROM outbox h WHERE h.peer_id = p.id ORDER BY h.id LIMIT 1)
                 FROM outbox o JOIN peers p ON p.id = o.peer_id GROUP BY p.id ORDER BY p.name",
            )
            .map_err(Error::db("reading the outbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PeerQueue {
                    peer: r.get(0)?,
                    transfers_enabled: r.get(1)?,
                    calls: u64_from_sql(r.get(2)?)?,
                    oldest: ts_from_sql(r.get(3)?)?,
                    head_due: ts_from_sql(r.get(4)?)?,
                })
            })
            .map_err(Error::db("reading the outbox"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("reading the outbox"))
    }

    /// The peer acknowledged call `id`: remove it, and clear the peer's
    /// unreachable/refused events.
    pub fn outbox_delivered(&self, id: i64, peer: &str, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("recording a delivery"))?;
        tx.execute("DELETE FROM outbox WHERE id = ?1", [id]).map_err(Error::db("recording a delivery"))?;
        resolve(&tx, Category::PeerUnreachable, peer, now)?;
        resolve(&tx, Category::PeerRefused, peer, now)?;
        tx.commit().map_err(Error::db("recording a delivery"))
    }

    /// Call `id` could not be delivered now: count the attempt, set the next one, and
    /// record `event`.
    pub fn outbox_postpone(
        &self,
        id: i64,
        next: Timestamp,
        error: &str,
        event: &NewEvent,
        now: Timestamp,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("postponing a call"))?;
        tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, ts_to_sql(next), error],
        )
        .map_err(Error::db("postponing a call"))?;
        raise(&tx, event, now)?;
        tx.commit().map_err(Error::db("postponing a call"))
    }

    /// The peer refused call `id` for good: remove it and record `event`, together.
    pub fn outbox_drop(&self, id: i64, event: &NewEvent, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("dropping a refused call"))?;
        tx.execute("DELETE FROM outbox WHERE id = ?1", [id]).map_err(Error::db("dropping a refused call"))?;
        raise(&tx, event, now)?;
        tx.commit().map_err(Error::db("dropping a refused call"))
    }

    /// Make every queued call (to `peer`, when given) due now. Returns how many.
    pub fn outbox_retry_now(&self, peer: Option<&str>, now: Timestamp) -> Result<usize> {
        self.conn()
            .execute(
                "UPDATE outbox SET next_attempt_at = ?2
                 WHERE ?1 IS NULL OR peer_id = (SELECT id FROM peers WHERE name = ?1)",
                params![peer, ts_to_sql(now)],
            )
            .map_err(Error::db("rescheduling calls"))
    }
}
