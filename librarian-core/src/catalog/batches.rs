//! SQL for transfer batches: the answers to a `stage` call, and the batches a manager
//! runs (their persisted state, restarts, results).

use jiff::Timestamp;
use rusqlite::{TransactionBehavior, params};

use super::events::raise;
use super::transfers::{TRANSFER_SELECT, get_transfer, queue_call, record_remote_instance, step, transfer_from_row};
use super::{Catalog, peer_id, ts_to_sql};
use crate::error::{Error, Result};
use crate::model::CallKind;
use crate::model::NewEvent;
use crate::model::{ManagerKind, Transfer, TransferEvent, TransferStatus};

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

impl Catalog {
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
                    tx.prepare_cached(
                        "UPDATE transfers SET remote_id = ?2, remote_path = ?3, manager = ?4, batch_id = ?5 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![t.id, remote_id, destination, manager.as_str(), batch.0]))
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

    /// Whether any transfer of the batch is still `ongoing` (one indexed lookup, not
    /// the rows).
    pub fn batch_has_ongoing(&self, batch: i64) -> Result<bool> {
        self.conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM transfers WHERE batch_id = ?1 AND status = 'ongoing')")
            .and_then(|mut s| s.query_row([batch], |r| r.get(0)))
            .map_err(Error::db("reading a batch"))
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
}
