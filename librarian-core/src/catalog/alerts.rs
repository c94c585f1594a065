//! SQL for alerts: what each `[alerts]` sink is owed (one row per event, sink and
//! kind), what it was sent, and what waits.

use jiff::Timestamp;
use rusqlite::{Row, TransactionBehavior, params};

use super::events::event_by_id;
use super::{Catalog, ts_from_sql, ts_to_sql, u64_from_sql};
use crate::error::{Error, ObjectKind, Result};
use crate::model::{AlertDelivery, AlertKind, Event, Severity};

const DELIVERY_SELECT: &str = "SELECT d.id, d.sink, d.kind, d.event_id, e.severity, e.category, e.subject,
            d.created_at, d.attempts, d.next_attempt_at, d.delivered_at, d.last_error
     FROM alert_deliveries d JOIN events e ON e.id = d.event_id";

fn delivery_from_row(r: &Row<'_>) -> rusqlite::Result<AlertDelivery> {
    Ok(AlertDelivery {
        id: r.get(0)?,
        sink: r.get(1)?,
        kind: r.get(2)?,
        event: r.get(3)?,
        severity: r.get(4)?,
        category: r.get(5)?,
        subject: r.get(6)?,
        created_at: ts_from_sql(r.get(7)?)?,
        attempts: u64_from_sql(r.get(8)?)?,
        next_attempt_at: ts_from_sql(r.get(9)?)?,
        delivered_at: r.get::<_, Option<i64>>(10)?.map(ts_from_sql).transpose()?,
        last_error: r.get(11)?,
    })
}

/// The alerts waiting for one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQueue {
    /// The sink.
    pub sink: String,
    /// Alerts not delivered yet.
    pub alerts: u64,
    /// When the oldest was queued.
    pub oldest: Timestamp,
}

impl Catalog {
    /// Queue what each of `sinks` (its name and the least severe event it is sent) is
    /// owed, in one transaction: an `open` alert for every open event at or above
    /// its severity that has none for that sink yet, and a `cleared` alert for every
    /// cleared event that has an `open` alert for that sink (sent or still queued)
    /// and no `cleared` one. A repeat of an open event is the same event (its count
    /// goes up): it is owed nothing new. Returns how many alerts were queued.
    pub fn queue_alerts(&self, sinks: &[(String, Severity)], now: Timestamp) -> Result<u64> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("queueing alerts"))?;
        let mut queued = 0_u64;
        {
            let mut open = tx
                .prepare_cached("SELECT id, severity FROM events WHERE cleared_at IS NULL ORDER BY id")
                .map_err(Error::db("queueing alerts"))?;
            let open: Vec<(i64, Severity)> = open
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(Error::db("queueing alerts"))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_deliveries (event_id, sink, kind, created_at, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                )
                .map_err(Error::db("queueing alerts"))?;
            let mut cleared = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_deliveries (event_id, sink, kind, created_at, next_attempt_at)
                     SELECT d.event_id, d.sink, ?2, ?4, ?4
                     FROM alert_deliveries d JOIN events e ON e.id = d.event_id
                     WHERE d.sink = ?1 AND d.kind = ?3 AND e.cleared_at IS NOT NULL
                     ORDER BY d.id",
                )
                .map_err(Error::db("queueing alerts"))?;
            let at = ts_to_sql(now);
            for (sink, least) in sinks {
                for (id, severity) in &open {
                    if severity >= least {
                        let n = insert
                            .execute(params![id, sink, AlertKind::Open, at])
                            .map_err(Error::db("queueing alerts"))?;
                        queued += n as u64;
                    }
                }
                let n = cleared
                    .execute(params![sink, AlertKind::Cleared, AlertKind::Open, at])
                    .map_err(Error::db("queueing alerts"))?;
                queued += n as u64;
            }
        }
        tx.commit().map_err(Error::db("queueing alerts"))?;
        Ok(queued)
    }

    /// The alerts queued for `sink`, oldest first, at most `limit`, each with its
    /// event as it is now.
    pub fn queued_alerts(&self, sink: &str, limit: usize) -> Result<Vec<(AlertDelivery, Event)>> {
        let conn = self.conn();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(&format!(
                "{DELIVERY_SELECT} WHERE d.sink = ?1 AND d.delivered_at IS NULL ORDER BY d.id LIMIT ?2"
            ))
            .map_err(Error::db("reading queued alerts"))?;
        let rows: Vec<AlertDelivery> = stmt
            .query_map(params![sink, limit], delivery_from_row)
            .and_then(|rows| rows.collect())
            .map_err(Error::db("reading queued alerts"))?;
        rows.into_iter()
            .map(|d| {
                let event = event_by_id(&conn, d.event)?
                    .ok_or_else(|| Error::NotFound { kind: ObjectKind::Event, name: d.event.to_string() })?;
                Ok((d, event))
            })
            .collect()
    }

    /// The sink accepted alert `id`: it is never sent again.
    pub fn alert_delivered(&self, id: i64, now: Timestamp) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE alert_deliveries SET delivered_at = ?2, last_error = NULL
                 WHERE id = ?1 AND delivered_at IS NULL",
                params![id, ts_to_sql(now)],
            )
            .map_err(Error::db("recording an alert's delivery"))?;
        Ok(())
    }

    /// Alert `id` could not be delivered: count the attempt, and wait until `next`.
    pub fn alert_postponed(&self, id: i64, next: Timestamp, error: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
                 WHERE id = ?1 AND delivered_at IS NULL",
                params![id, ts_to_sql(next), error],
            )
            .map_err(Error::db("postponing an alert"))?;
        Ok(())
    }

    /// How many alerts `sink` was sent after `since` (its rate limit).
    pub fn alerts_sent_since(&self, sink: &str, since: Timestamp) -> Result<u64> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM alert_deliveries
                 WHERE sink = ?1 AND delivered_at IS NOT NULL AND delivered_at > ?2",
                params![sink, ts_to_sql(since)],
                |r| u64_from_sql(r.get(0)?),
            )
            .map_err(Error::db("counting sent alerts"))
    }

    /// Alerts not delivered yet (with `all`, also those delivered), by id.
    pub fn alert_deliveries(&self, all: bool) -> Result<Vec<AlertDelivery>> {
        let conn = self.conn();
        let filter = if all { "" } else { "WHERE d.delivered_at IS NULL" };
        let mut stmt = conn
            .prepare_cached(&format!("{DELIVERY_SELECT} {filter} ORDER BY d.id"))
            .map_err(Error::db("listing alerts"))?;
        stmt.query_map([], delivery_from_row).and_then(|rows| rows.collect()).map_err(Error::db("listing alerts"))
    }

    /// Per sink with alerts waiting: how many, and since when.
    pub fn alert_queues(&self) -> Result<Vec<AlertQueue>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT sink, COUNT(*), MIN(created_at) FROM alert_deliveries
                 WHERE delivered_at IS NULL GROUP BY sink ORDER BY sink",
            )
            .map_err(Error::db("reading the alert queues"))?;
        stmt.query_map([], |r| {
            Ok(AlertQueue { sink: r.get(0)?, alerts: u64_from_sql(r.get(1)?)?, oldest: ts_from_sql(r.get(2)?)? })
        })
        .and_then(|rows| rows.collect())
        .map_err(Error::db("reading the alert queues"))
    }
}
