//! SQL for the data life-cycle: the scrub's queue and coverage, the states of
//! instances (damaged, deleted), what peers answered about their copies, rolling
//! deletion's candidates, and the site's running counters.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::files::{INSTANCE_COLUMNS, file_from_row, instance_at};
use super::{Catalog, FileId, FileRow, InstanceId, InstanceRow, InstanceState, RemoteState, StoreId};
use super::{ts_from_sql, ts_to_sql, u64_from_sql};
use crate::error::{Error, Result};
use crate::name::FileName;

/// Above this many deletion candidates, the other copies are counted by scanning
/// them all once rather than looking each candidate's up.
const MANY_CANDIDATES: usize = 20_000;

const FILE_COLUMNS_F: &str =
    "f.id, f.name, f.size, f.checksum, f.kind, f.uploader, f.source, f.created_at, f.arrived_at";

/// Where the scrub's queue stopped: copies never verified come first (by id), then
/// by `verified_at`, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScrubCursor {
    /// From the start.
    #[default]
    Start,
    /// After this never-verified instance.
    Unverified(i64),
    /// After this (verified_at, id).
    Verified(Timestamp, i64),
}

/// One store's coverage: how much of it was re-read recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageRow {
    /// The store.
    pub store: String,
    /// Available (`ok`) instances.
    pub instances: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of those, instances not re-read since the coverage cut-off.
    pub overdue_instances: u64,
    /// Their bytes.
    pub overdue_bytes: u64,
    /// The oldest `verified_at` of an available instance (none: none verified, or none).
    pub oldest_verified: Option<Timestamp>,
    /// Instances found corrupt or missing, waiting for a repair.
    pub damaged: u64,
}

/// A copy rolling deletion may remove, with what is known of the other copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionCandidate {
    /// The file.
    pub file: FileId,
    /// Its name.
    pub name: FileName,
    /// Its size.
    pub size: u64,
    /// The copy here.
    pub instance: InstanceId,
    /// Where the copy is (absolute).
    pub path: PathBuf,
    /// Remote copies whose peers re-verified them since the cut-off, intact.
    pub fresh_remote: u32,
    /// Remote copies not known to be damaged (whenever last verified).
    pub remote: u32,
    /// Other available copies here, on other stores.
    pub local_other: u32,
}

impl Catalog {
    /// The next at most `limit` available instances to scrub after `cursor` (of one
    /// store, or all), least recently verified first; only those not verified since
    /// `verified_before` (the start of the run: what it re-read is not read again).
    pub fn scrub_page(
        &self,
        store: Option<StoreId>,
        cursor: ScrubCursor,
        verified_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<(FileRow, InstanceRow)>> {
        let conn = self.conn();
        let ctx = "listing copies to scrub";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (store, before) = (store.map(|s| s.0), ts_to_sql(verified_before));
        let read = |r: &rusqlite::Row<'_>| Ok((file_from_row(r)?, instance_at(r, 9)?));
        let from = "FROM instances i JOIN stores s ON s.id = i.store_id JOIN files f ON f.id = i.file_id
                    WHERE i.state = 'ok' AND (?1 IS NULL OR i.store_id = ?1)";
        let mut out: Vec<(FileRow, InstanceRow)> = Vec::new();
        // Never verified first, by id; then by (verified_at, id), before the run began.
        let (after_id, after_verified) = match cursor {
            ScrubCursor::Start => (Some(-1), None),
            ScrubCursor::Unverified(id) => (Some(id), None),
            ScrubCursor::Verified(at, id) => (None, Some((ts_to_sql(at), id))),
        };
        if let Some(after) = after_id {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS_F}, {INSTANCE_COLUMNS} {from}
                       AND i.verified_at IS NULL AND i.id > ?2 ORDER BY i.id LIMIT ?3"
                ))
                .map_err(Error::db(ctx))?;
            let rows = stmt.query_map(params![store, after, limit], read).map_err(Error::db(ctx))?;
            out = rows.collect::<rusqlite::Result<_>>().map_err(Error::db(ctx))?;
        }
        let left = limit - i64::try_from(out.len()).unwrap_or(0);
        if left > 0 {
            let (at, id) = after_verified.unwrap_or((i64::MIN, -1));
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS_F}, {INSTANCE_COLUMNS} {from}
                       AND i.verified_at < ?4 AND (i.verified_at > ?2 OR (i.verified_at = ?2 AND i.id > ?3))
                     ORDER BY i.verified_at, i.id LIMIT ?5"
                ))
                .map_err(Error::db(ctx))?;
            let rows = stmt.query_map(params![store, at, id, before, left], read).map_err(Error::db(ctx))?;
            for r in rows {
                out.push(r.map_err(Error::db(ctx))?);
            }
        }
        Ok(out)
    }

    /// Put instance `id` in `state` (with why, at `now`). `Ok` also records it as
    /// verified at `now`; any state other than `Ok` makes it unavailable.
    pub fn set_instance_state(
        &self,
        id: InstanceId,
        state: InstanceState,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let ok = state == InstanceState::Ok;
        self.conn()
            .prepare_cached(
                "UPDATE instances SET state = ?2, available = ?3, state_reason = ?4, state_at = ?5,
                        verified_at = CASE WHEN ?3 THEN ?5 ELSE verified_at END
                 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id.0, state, ok, reason, ts_to_sql(now)]))
            .map_err(Error::db("recording the state of a copy"))?;
        Ok(())
    }

    /// Per store, how much was re-read since `cut_off` and what is damaged.
    pub fn coverage(&self, cut_off: Timestamp) -> Result<Vec<CoverageRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.name,
                        COALESCE(SUM(i.state = 'ok'), 0),
                        COALESCE(SUM(CASE WHEN i.state = 'ok' THEN f.size END), 0),
                        COALESCE(SUM(i.state = 'ok' AND (i.verified_at IS NULL OR i.verified_at < ?1)), 0),
                        COALESCE(SUM(CASE WHEN i.state = 'ok' AND (i.verified_at IS NULL OR i.verified_at < ?1)
                                          THEN f.size END), 0),
                        MIN(CASE WHEN i.state = 'ok' THEN i.verified_at END),
                        COALESCE(SUM(i.state IN ('corrupt', 'missing')), 0)
                 FROM stores s LEFT JOIN instances i ON i.store_id = s.id LEFT JOIN files f ON f.id = i.file_id
                 GROUP BY s.id ORDER BY s.name",
            )
            .map_err(Error::db("measuring scrub coverage"))?;
        let rows = stmt
            .query_map([ts_to_sql(cut_off)], |r| {
                Ok(CoverageRow {
                    store: r.get(0)?,
                    instances: u64_from_sql(r.get(1)?)?,
                    bytes: u64_from_sql(r.get(2)?)?,
                    overdue_instances: u64_from_sql(r.get(3)?)?,
                    overdue_bytes: u64_from_sql(r.get(4)?)?,
                    oldest_verified: r.get::<_, Option<i64>>(5)?.map(ts_from_sql).transpose()?,
                    damaged: u64_from_sql(r.get(6)?)?,
                })
            })
            .map_err(Error::db("measuring scrub coverage"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("measuring scrub coverage"))
    }

    /// Damaged (corrupt or missing) instances, with their files, by name.
    pub fn damaged_instances(&self) -> Result<Vec<(FileRow, InstanceRow)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {FILE_COLUMNS_F}, {INSTANCE_COLUMNS}
                 FROM instances i JOIN stores s ON s.id = i.store_id JOIN files f ON f.id = i.file_id
                 WHERE i.state IN ('corrupt', 'missing') ORDER BY f.name, i.id"
            ))
            .map_err(Error::db("listing damaged copies"))?;
        let rows = stmt
            .query_map([], |r| Ok((file_from_row(r)?, instance_at(r, 9)?)))
            .map_err(Error::db("listing damaged copies"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing damaged copies"))
    }

    /// What peer `librarian` answered about its copy of `file` at `now`: `Ok`
    /// records it as re-verified then. A copy the catalog did not know of (the peer
    /// holds it on a store we had no row for) is added when it is intact.
    pub fn record_remote_check(
        &self,
        file: FileId,
        librarian: &str,
        store: &str,
        state: RemoteState,
        now: Timestamp,
    ) -> Result<()> {
        let conn = self.conn();
        let t = ts_to_sql(now);
        let ok = state == RemoteState::Ok;
        let updated = conn
            .prepare_cached(
                "UPDATE remote_instances SET state = ?4, checked_at = ?5,
                        verified_at = CASE WHEN ?6 THEN ?5 ELSE verified_at END
                 WHERE file_id = ?1 AND librarian = ?2 AND store = ?3",
            )
            .and_then(|mut s| s.execute(params![file.0, librarian, store, state, t, ok]))
            .map_err(Error::db("recording a peer's verification"))?;
        if updated == 0 && ok {
            conn.prepare_cached(
                "INSERT INTO remote_instances (file_id, librarian, store, copied_at, verified_at, state, checked_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, 'ok', ?4)",
            )
            .and_then(|mut s| s.execute(params![file.0, librarian, store, t]))
            .map_err(Error::db("recording a peer's verification"))?;
        }
        Ok(())
    }

    /// Peer `librarian` answered that it holds no intact copy of `file` at all:
    /// every copy recorded there is marked `missing`.
    pub fn record_remote_absent(&self, file: FileId, librarian: &str, now: Timestamp) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE remote_instances SET state = 'missing', checked_at = ?3 WHERE file_id = ?1 AND librarian = ?2",
            )
            .and_then(|mut s| s.execute(params![file.0, librarian, ts_to_sql(now)]))
            .map_err(Error::db("recording a peer's verification"))?;
        Ok(())
    }

    /// The copies on `store` rolling deletion may consider: available, deletion
    /// allowed, made before `made_before`; oldest first, at most `limit`. Each comes
    /// with counts of the other copies (remote ones re-verified since `fresh_after`).
    /// Many candidates are counted with one scan of the remote and local copies
    /// each (a million in about a second); a few with one lookup per candidate.
    pub fn deletion_candidates(
        &self,
        store: StoreId,
        made_before: Timestamp,
        fresh_after: Timestamp,
        limit: usize,
    ) -> Result<Vec<DeletionCandidate>> {
        let conn = self.conn();
        let ctx = "planning rolling deletion";
        let root: String =
            conn.query_row("SELECT root FROM stores WHERE id = ?1", [store.0], |r| r.get(0)).map_err(Error::db(ctx))?;
        let root = PathBuf::from(root);
        let mut stmt = conn
            .prepare_cached(
                "SELECT f.id, f.name, f.size, i.id, i.path
                 FROM instances i JOIN files f ON f.id = i.file_id
                 WHERE i.store_id = ?1 AND i.state = 'ok' AND i.deletion_policy = 'allowed' AND i.created_at < ?2
                 ORDER BY i.created_at, i.id LIMIT ?3",
            )
            .map_err(Error::db(ctx))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![store.0, ts_to_sql(made_before), limit], |r| {
                let name = r.get_ref(1)?.as_str()?;
                Ok(DeletionCandidate {
                    file: FileId(r.get(0)?),
                    name: FileName::from_catalog(name).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                    size: u64_from_sql(r.get(2)?)?,
                    instance: InstanceId(r.get(3)?),
                    path: root.join(r.get_ref(4)?.as_str()?),
                    fresh_remote: 0,
                    remote: 0,
                    local_other: 0,
                })
            })
            .map_err(Error::db(ctx))?;
        let mut out: Vec<DeletionCandidate> = rows.collect::<rusqlite::Result<_>>().map_err(Error::db(ctx))?;
        let fresh = ts_to_sql(fresh_after);
        if out.len() > MANY_CANDIDATES {
            // (remote copies, fresh ones) and available copies, per file with more than one.
            let mut remote: HashMap<i64, (u32, u32)> = HashMap::new();
            let mut scan = conn
                .prepare_cached(
                    "SELECT file_id, COUNT(DISTINCT librarian),
                            COUNT(DISTINCT CASE WHEN verified_at >= ?1 THEN librarian END)
                     FROM remote_instances WHERE state = 'ok' GROUP BY file_id",
                )
                .map_err(Error::db(ctx))?;
            let mut rows = scan.query([fresh]).map_err(Error::db(ctx))?;
            while let Some(r) = rows.next().map_err(Error::db(ctx))? {
                remote.insert(
                    r.get(0).map_err(Error::db(ctx))?,
                    (r.get(1).map_err(Error::db(ctx))?, r.get(2).map_err(Error::db(ctx))?),
                );
            }
            let mut local: HashMap<i64, u32> = HashMap::new();
            let mut scan = conn
                .prepare_cached(
                    "SELECT file_id, COUNT(*) FROM instances WHERE state = 'ok' GROUP BY file_id HAVING COUNT(*) > 1",
                )
                .map_err(Error::db(ctx))?;
            let mut rows = scan.query([]).map_err(Error::db(ctx))?;
            while let Some(r) = rows.next().map_err(Error::db(ctx))? {
                local.insert(r.get(0).map_err(Error::db(ctx))?, r.get(1).map_err(Error::db(ctx))?);
            }
            for c in &mut out {
                (c.remote, c.fresh_remote) = remote.get(&c.file.0).copied().unwrap_or((0, 0));
                c.local_other = local.get(&c.file.0).map_or(0, |n| n.saturating_sub(1));
            }
        } else {
            let mut counts = conn
                .prepare_cached(
                    "SELECT (SELECT COUNT(DISTINCT librarian) FROM remote_instances r
                              WHERE r.file_id = ?1 AND r.state = 'ok'),
                            (SELECT COUNT(DISTINCT librarian) FROM remote_instances r
                              WHERE r.file_id = ?1 AND r.state = 'ok' AND r.verified_at >= ?2),
                            (SELECT COUNT(*) FROM instances o WHERE o.file_id = ?1 AND o.state = 'ok' AND o.id <> ?3)",
                )
                .map_err(Error::db(ctx))?;
            for c in &mut out {
                (c.remote, c.fresh_remote, c.local_other) = counts
                    .query_row(params![c.file.0, fresh, c.instance.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(Error::db(ctx))?;
            }
        }
        Ok(out)
    }

    /// The copies of `store` whose deletion was committed and whose bytes may still
    /// be there (`deleting`): (id, absolute path, reason).
    pub fn deleting_instances(&self, store: StoreId) -> Result<Vec<(InstanceId, PathBuf, String)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.id, s.root, i.path, COALESCE(i.state_reason, '') FROM instances i
                 JOIN stores s ON s.id = i.store_id WHERE i.store_id = ?1 AND i.state = 'deleting'",
            )
            .map_err(Error::db("listing copies being deleted"))?;
        let rows = stmt
            .query_map([store.0], |r| {
                Ok((
                    InstanceId(r.get(0)?),
                    PathBuf::from(r.get::<_, String>(1)?).join(r.get::<_, String>(2)?),
                    r.get(3)?,
                ))
            })
            .map_err(Error::db("listing copies being deleted"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing copies being deleted"))
    }

    /// Mark instance `id` deleted (`deleting`, until its bytes are removed), in one transaction that first counts again what
    /// makes that safe: it is still available, at least `min_fresh` remote copies
    /// were re-verified intact since `fresh_after`, and at least one other good copy
    /// exists (another available copy here, or a remote copy re-verified since
    /// `fresh_after`). Returns the counts (fresh remote, other local) and whether it
    /// was marked; when not, nothing changed.
    pub fn delete_instance_if_safe(
        &self,
        id: InstanceId,
        min_fresh: u32,
        fresh_after: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<(u32, u32, bool)> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::db("deleting a copy"))?;
        let counts: Option<(u32, u32)> = tx
            .query_row(
                "SELECT (SELECT COUNT(DISTINCT librarian) FROM remote_instances r
                          WHERE r.file_id = i.file_id AND r.state = 'ok' AND r.verified_at >= ?2),
                        (SELECT COUNT(*) FROM instances o WHERE o.file_id = i.file_id AND o.state = 'ok' AND o.id <> i.id)
                 FROM instances i WHERE i.id = ?1 AND i.state = 'ok'",
                params![id.0, ts_to_sql(fresh_after)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(Error::db("deleting a copy"))?;
        let Some((fresh, local)) = counts else { return Ok((0, 0, false)) };
        if fresh < min_fresh || fresh + local == 0 {
            return Ok((fresh, local, false));
        }
        tx.execute(
            "UPDATE instances SET state = 'deleting', available = 0, state_reason = ?2, state_at = ?3 WHERE id = ?1",
            params![id.0, reason, ts_to_sql(now)],
        )
        .map_err(Error::db("deleting a copy"))?;
        tx.commit().map_err(Error::db("deleting a copy"))?;
        Ok((fresh, local, true))
    }

    /// Add `delta` to the counter `name` (created at 0).
    pub fn add_counter(&self, name: &str, delta: u64) -> Result<()> {
        let delta = i64::try_from(delta).unwrap_or(i64::MAX);
        self.conn()
            .prepare_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            )
            .and_then(|mut s| s.execute(params![name, delta]))
            .map_err(Error::db("updating a counter"))?;
        Ok(())
    }

    /// Every counter, by name.
    pub fn counters(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT name, value FROM counters ORDER BY name")
            .map_err(Error::db("reading counters"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, u64_from_sql(r.get(1)?)?)))
            .map_err(Error::db("reading counters"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("reading counters"))
    }
}

/// `now` minus `d` (the epoch when that is before it).
pub(crate) fn before(now: Timestamp, d: SignedDuration) -> Timestamp {
    now.checked_sub(d).unwrap_or(Timestamp::UNIX_EPOCH)
}
