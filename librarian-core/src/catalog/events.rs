//! SQL for events.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Catalog, ts_from_sql, ts_to_sql, u64_from_sql};
use crate::error::{Error, ObjectKind, Result};
use crate::model::{Category, Event, NewEvent, Severity};

const EVENT_COLUMNS: &str = "id, severity, category, subject, message, count, created_at, last_seen_at, cleared_at";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        severity: r.get(1)?,
        category: r.get(2)?,
        subject: r.get(3)?,
        message: r.get(4)?,
        count: u64_from_sql(r.get(5)?)?,
        created_at: ts_from_sql(r.get(6)?)?,
        last_seen_at: ts_from_sql(r.get(7)?)?,
        cleared_at: r.get::<_, Option<i64>>(8)?.map(ts_from_sql).transpose()?,
    })
}

/// Record `e`, or count one more occurrence of the open event with its category and
/// subject; inside the caller's transaction. Returns the event's id.
pub(super) fn raise(conn: &Connection, e: &NewEvent, now: Timestamp) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO events (severity, category, subject, message, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (category, subject) WHERE cleared_at IS NULL
         DO UPDATE SET count = count + 1, message = excluded.message, last_seen_at = excluded.last_seen_at,
                       severity = excluded.severity
         RETURNING id",
    )
    .and_then(|mut s| {
        s.query_row(params![e.severity.as_str(), e.category.as_str(), e.subject, e.message, ts_to_sql(now)], |r| {
            r.get(0)
        })
    })
    .map_err(Error::db("recording an event"))
}

/// Clear the open event of `category` about `subject`, if any (recovery).
pub(super) fn resolve(conn: &Connection, category: Category, subject: &str, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE events SET cleared_at = ?3 WHERE category = ?1 AND subject = ?2 AND cleared_at IS NULL",
    )
    .and_then(|mut s| s.execute(params![category.as_str(), subject, ts_to_sql(now)]))
    .map_err(Error::db("clearing an event"))?;
    Ok(())
}

impl Catalog {
    /// Record an event (see [`raise`]).
    pub fn raise_event(&self, e: &NewEvent, now: Timestamp) -> Result<Event> {
        let conn = self.conn();
        let id = raise(&conn, e, now)?;
        event_by_id(&conn, id)?.ok_or_else(|| Error::NotFound { kind: ObjectKind::Event, name: id.to_string() })
    }

    /// Clear the open event of `category` about `subject`, if any (the condition ended).
    pub fn resolve_event(&self, category: Category, subject: &str, now: Timestamp) -> Result<()> {
        resolve(&self.conn(), category, subject, now)
    }

    /// Open events, or all with `all`; newest first.
    pub fn events(&self, all: bool) -> Result<Vec<Event>> {
        let conn = self.conn();
        let filter = if all { "" } else { "WHERE cleared_at IS NULL" };
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events {filter} ORDER BY last_seen_at DESC, id DESC"))
            .map_err(Error::db("listing events"))?;
        let rows = stmt.query_map([], event_from_row).map_err(Error::db("listing events"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing events"))
    }

    /// Open events per severity.
    pub fn open_event_counts(&self) -> Result<Vec<(Severity, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT severity, COUNT(*) FROM events WHERE cleared_at IS NULL GROUP BY severity")
            .map_err(Error::db("counting events"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Severity>(0)?, u64_from_sql(r.get(1)?)?)))
            .map_err(Error::db("counting events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, n) = row.map_err(Error::db("counting events"))?;
            out.push((s, n));
        }
        Ok(out)
    }

    /// Clear open event `id`.
    pub fn clear_event(&self, id: i64, now: Timestamp) -> Result<Event> {
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE events SET cleared_at = ?2 WHERE id = ?1 AND cleared_at IS NULL",
                params![id, ts_to_sql(now)],
            )
            .map_err(Error::db("clearing an event"))?;
        let found = event_by_id(&conn, id)?;
        match found {
            Some(e) if n == 1 => Ok(e),
            _ => Err(Error::NotFound { kind: ObjectKind::Event, name: format!("{id} (open)") }),
        }
    }
}

pub(super) fn event_by_id(conn: &Connection, id: i64) -> Result<Option<Event>> {
    conn.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], event_from_row).optional())
        .map_err(Error::db("reading an event"))
}
