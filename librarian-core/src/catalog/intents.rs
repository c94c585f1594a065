//! SQL for ingest intents: the write-ahead record that makes an ingest's rename into
//! the data area recoverable (see `docs/architecture.md`, "Ingest").

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::files::{insert_entries, insert_file, insert_instance};
use super::{Catalog, DeletionPolicy, FileId, FileRow, IntentId, IntentRow, NewFile, StoreId, ts_from_sql, ts_to_sql};
use crate::checksum::Entry;
use crate::error::{Error, Result};
use crate::name::FileName;

/// The answer to [`Catalog::claim_name`].
#[derive(Debug)]
pub enum IntentClaim {
    /// The name is ours until [`Catalog::commit_ingest`] or [`Catalog::drop_intent`].
    Claimed(IntentId),
    /// The name is already catalogued.
    Catalogued(FileRow),
    /// Another ingest holds the name (it may be alive, or dead and awaiting recovery).
    Held(IntentRow),
}

fn intent_from_row(r: &Row<'_>) -> rusqlite::Result<IntentRow> {
    Ok(IntentRow {
        id: IntentId(r.get(0)?),
        name: r.get(1)?,
        store_id: StoreId(r.get(2)?),
        staging_dir: PathBuf::from(r.get::<_, String>(3)?),
        moved_from: r.get::<_, Option<String>>(4)?.map(PathBuf::from),
        created_at: ts_from_sql(r.get(5)?)?,
    })
}

const INTENT_COLUMNS: &str = "id, name, store_id, staging_dir, moved_from, created_at";

fn utf8(p: &Path) -> Result<&str> {
    p.to_str().ok_or_else(|| Error::invalid("path", format!("path {} is not valid UTF-8", p.display())))
}

/// Names may not nest: `a/b` cannot be catalogued while `a` is (it would land inside
/// book `a`, or under file `a`), nor `a` while `a/b` is. Ingests in progress count.
fn check_nesting(conn: &rusqlite::Connection, name: &FileName) -> Result<()> {
    let mut prefix = String::new();
    let mut outer = Vec::new();
    for seg in name.segments() {
        if !prefix.is_empty() {
            outer.push(prefix.clone());
            prefix.push('/');
        }
        prefix.push_str(seg);
    }
    let ctx = "checking that the name does not nest in another";
    for p in &outer {
        let hit: Option<String> = conn
            .query_row(
                "SELECT name FROM files WHERE name = ?1 UNION ALL SELECT name FROM ingest_intents WHERE name = ?1",
                [p],
                |r| r.get(0),
            )
            .optional()
            .map_err(Error::db(ctx))?;
        if let Some(hit) = hit {
            return Err(nesting_error(name, &hit));
        }
    }
    // Names below `name`: those in ['name/', 'name0'), '0' being the byte after '/'.
    let inner: Option<String> = conn
        .query_row(
            "SELECT name FROM files WHERE name >= ?1 || '/' AND name < ?1 || '0'
             UNION ALL SELECT name FROM ingest_intents WHERE name >= ?1 || '/' AND name < ?1 || '0' LIMIT 1",
            [name.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::db(ctx))?;
    match inner {
        Some(hit) => Err(nesting_error(name, &hit)),
        None => Ok(()),
    }
}

fn nesting_error(name: &FileName, other: &str) -> Error {
    Error::invalid(
        "name",
        format!(
            "cannot catalogue {name}: {other} is already catalogued (or being ingested), and one name cannot lie inside another"
        ),
    )
}

/// Delete our intent and commit `tx`; if the intent is gone, someone recovered it as
/// if we were dead, so nothing is committed.
fn release_and_commit(tx: rusqlite::Transaction<'_>, intent: IntentId, name: &str) -> Result<()> {
    let gone = tx
        .execute("DELETE FROM ingest_intents WHERE id = ?1", [intent.0])
        .map_err(Error::db("dropping an ingest intent"))?;
    if gone != 1 {
        return Err(Error::Busy { name: name.to_owned() });
    }
    tx.commit().map_err(Error::db("committing an ingest"))
}

impl Catalog {
    /// Fail unless `name` can be catalogued without nesting in, or around, another name.
    pub fn check_nesting(&self, name: &FileName) -> Result<()> {
        check_nesting(&self.conn(), name)
    }

    /// Atomically: if `name` is neither catalogued nor held by another ingest, record
    /// an intent to commit it from `staging_dir` onto `store`.
    pub fn claim_name(
        &self,
        name: &FileName,
        store: StoreId,
        staging_dir: &Path,
        moved_from: Option<&Path>,
        now: Timestamp,
    ) -> Result<IntentClaim> {
        self.claim(None, name, store, staging_dir, moved_from, now)
    }

    /// Like [`Catalog::claim_name`], for adding the first local copy of a file that is
    /// catalogued with remote copies only: claimed while `file` still has no local
    /// instance and no other ingest holds the name; `Catalogued` once it has one.
    pub fn claim_local_copy(
        &self,
        file: FileId,
        name: &FileName,
        store: StoreId,
        staging_dir: &Path,
        moved_from: Option<&Path>,
        now: Timestamp,
    ) -> Result<IntentClaim> {
        self.claim(Some(file), name, store, staging_dir, moved_from, now)
    }

    /// The claim of a new name (`copy_of` = `None`) or of a first local copy.
    fn claim(
        &self,
        copy_of: Option<FileId>,
        name: &FileName,
        store: StoreId,
        staging_dir: &Path,
        moved_from: Option<&Path>,
        now: Timestamp,
    ) -> Result<IntentClaim> {
        let moved_from = moved_from.map(utf8).transpose()?;
        let staging_dir = utf8(staging_dir)?;
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("starting an ingest"))?;
        let done = match copy_of {
            None => tx
                .query_row("SELECT 1 FROM files WHERE name = ?1", [name.as_str()], |_| Ok(()))
                .optional()
                .map_err(Error::db("checking the name"))?
                .is_some(),
            Some(file) => tx
                .query_row("SELECT 1 FROM instances WHERE file_id = ?1 LIMIT 1", [file.0], |_| Ok(()))
                .optional()
                .map_err(Error::db("checking local copies"))?
                .is_some(),
        };
        if done {
            drop(tx);
            drop(conn);
            return Ok(IntentClaim::Catalogued(self.require_file(name)?));
        }
        let held = tx
            .query_row(
                &format!("SELECT {INTENT_COLUMNS} FROM ingest_intents WHERE name = ?1"),
                [name.as_str()],
                intent_from_row,
            )
            .optional()
            .map_err(Error::db("checking the name"))?;
        if let Some(h) = held {
            return Ok(IntentClaim::Held(h));
        }
        if copy_of.is_none() {
            check_nesting(&tx, name)?;
        }
        tx.execute(
            "INSERT INTO ingest_intents (name, store_id, staging_dir, moved_from, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name.as_str(), store.0, staging_dir, moved_from, ts_to_sql(now)],
        )
        .map_err(Error::db("recording an ingest intent"))?;
        let id = IntentId(tx.last_insert_rowid());
        tx.commit().map_err(Error::db("recording an ingest intent"))?;
        Ok(IntentClaim::Claimed(id))
    }

    /// In one transaction: add a local instance of the catalogued `file`, record the
    /// book's `entries` if none were recorded, and drop the intent.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_local_copy(
        &self,
        intent: IntentId,
        file: FileId,
        entries: &[Entry],
        store: StoreId,
        rel_path: &Path,
        policy: DeletionPolicy,
        now: Timestamp,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::db("committing an ingest"))?;
        let recorded: i64 = tx
            .query_row("SELECT COUNT(*) FROM file_entries WHERE file_id = ?1", [file.0], |r| r.get(0))
            .map_err(Error::db("counting entries"))?;
        if recorded == 0 {
            insert_entries(&tx, file, entries)?;
        }
        insert_instance(&tx, file, store, rel_path, policy, now)?;
        release_and_commit(tx, intent, &rel_path.display().to_string())
    }

    /// In one transaction: insert the file, its entries and its instance, and drop the intent.
    pub fn commit_ingest(
        &self,
        intent: IntentId,
        file: &NewFile<'_>,
        store: StoreId,
        rel_path: &Path,
        policy: DeletionPolicy,
        now: Timestamp,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::db("committing an ingest"))?;
        let file_id = insert_file(&tx, file, now)?;
        insert_instance(&tx, file_id, store, rel_path, policy, now)?;
        release_and_commit(tx, intent, file.name.as_str())
    }

    /// Forget an intent (its ingest finished or was rolled back).
    pub fn drop_intent(&self, intent: IntentId) -> Result<()> {
        self.conn()
            .execute("DELETE FROM ingest_intents WHERE id = ?1", [intent.0])
            .map_err(Error::db("dropping an ingest intent"))?;
        Ok(())
    }

    /// All open intents, oldest first.
    pub fn intents(&self) -> Result<Vec<IntentRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {INTENT_COLUMNS} FROM ingest_intents ORDER BY id"))
            .map_err(Error::db("listing ingest intents"))?;
        let rows = stmt.query_map([], intent_from_row).map_err(Error::db("listing ingest intents"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(Error::db("listing ingest intents"))
    }

    /// Is there an instance of any file at `rel_path` on `store`?
    pub fn instance_at(&self, store: StoreId, rel_path: &str) -> Result<bool> {
        self.conn()
            .query_row("SELECT 1 FROM instances WHERE store_id = ?1 AND path = ?2", params![store.0, rel_path], |_| {
                Ok(())
            })
            .optional()
            .map(|o| o.is_some())
            .map_err(Error::db("looking up an instance"))
    }
}
