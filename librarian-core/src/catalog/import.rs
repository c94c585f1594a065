//! SQL for importing an original Librarian's catalog (issue 14): the whole plan
//! written in one `BEGIN IMMEDIATE` transaction. A row already here and identical
//! counts as present (a second import adds nothing); a name held differently is a
//! conflict, and any conflict rolls everything back. A dry run is the same
//! transaction, always rolled back, so it reports exactly what the import would do.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::files::insert_entries;
use super::{Catalog, DeletionPolicy, FileKind, InstanceState, ts_to_sql, u64_to_sql};
use crate::checksum::{Checksum, Entry};
use crate::error::{Error, Result};
use crate::model::{
    Category, Direction, ImportConflict, ImportTally, Level, ManagerKind, Password, Severity, TransferStatus,
};
use crate::name::FileName;

/// A store to bring.
#[derive(Debug, Clone)]
pub struct ImportStore {
    /// Its name.
    pub name: String,
    /// Data area (absolute).
    pub root: PathBuf,
    /// Staging area (absolute).
    pub staging: PathBuf,
    /// Accepts uploads.
    pub ingestable: bool,
    /// In use.
    pub enabled: bool,
    /// Free space kept in reserve.
    pub reserve_bytes: u64,
}

/// A peer to bring.
#[derive(Debug, Clone)]
pub struct ImportPeer {
    /// Its site name.
    pub name: String,
    /// Its URL (normalised).
    pub url: String,
    /// Our account there.
    pub account: String,
    /// Its password.
    pub password: Password,
    /// Transfers to it enabled.
    pub transfers_enabled: bool,
}

/// An account to bring, its password hash unchanged.
#[derive(Debug, Clone)]
pub struct ImportAccount {
    /// Its name.
    pub name: String,
    /// The argon2id PHC string.
    pub hash: String,
    /// Its level.
    pub level: Level,
    /// The peer it belongs to.
    pub peer: Option<String>,
}

/// A file to bring.
#[derive(Debug, Clone)]
pub struct ImportFile {
    /// Its name.
    pub name: FileName,
    /// Bytes.
    pub size: u64,
    /// Its checksum, canonical.
    pub checksum: Checksum,
    /// The original's exact text of it.
    pub original_checksum: String,
    /// File or book.
    pub kind: FileKind,
    /// Who uploaded it.
    pub uploader: String,
    /// Where it came from.
    pub source: String,
    /// When the original catalogued it.
    pub created_at: Timestamp,
    /// A book's entries.
    pub entries: Vec<Entry>,
    /// `blake3:<hex>` recorded beside a legacy checksum (`--verify`).
    pub blake3: Option<String>,
}

/// An event to raise with an instance, if the instance is new.
#[derive(Debug, Clone)]
pub struct ImportEvent {
    /// How bad.
    pub severity: Severity,
    /// About what.
    pub category: Category,
    /// Which object.
    pub subject: String,
    /// What happened.
    pub message: String,
    /// How many times it happened.
    pub count: u64,
    /// When first.
    pub at: Timestamp,
}

/// An instance to bring.
#[derive(Debug, Clone)]
pub struct ImportInstance {
    /// Its file (index into the plan's files).
    pub file: usize,
    /// Its store (index into the plan's stores).
    pub store: usize,
    /// Path below the store's root.
    pub rel: PathBuf,
    /// Deletion policy.
    pub policy: DeletionPolicy,
    /// When made.
    pub created_at: Timestamp,
    /// When last found intact.
    pub verified_at: Option<Timestamp>,
    /// Its state here.
    pub state: InstanceState,
    /// Why it is not ok.
    pub reason: Option<String>,
    /// An event raised with it (a corrupt-file record of the original).
    pub event: Option<ImportEvent>,
}

/// A remote instance to bring.
#[derive(Debug, Clone)]
pub struct ImportRemote {
    /// Its file (index into the plan's files).
    pub file: usize,
    /// The peer.
    pub librarian: String,
    /// The store there.
    pub store: String,
    /// When copied.
    pub copied_at: Timestamp,
}

/// A transfer to bring.
#[derive(Debug, Clone)]
pub struct ImportTransfer {
    /// `original:<site>:<in|out>:<id>`.
    pub key: String,
    /// The id to keep (a resumed drive copy: its manifest quotes it).
    pub keep_id: Option<i64>,
    /// Which way.
    pub direction: Direction,
    /// The peer (by name).
    pub peer: String,
    /// The same transfer's id at the peer.
    pub remote_id: Option<i64>,
    /// The file's name.
    pub file_name: String,
    /// Its bytes.
    pub size: u64,
    /// Its checksum, canonical.
    pub checksum: Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Who uploaded it.
    pub uploader: String,
    /// Where it came from.
    pub source: String,
    /// When it was created at its origin, when known.
    pub file_created_at: Option<Timestamp>,
    /// Its status.
    pub status: TransferStatus,
    /// Its manager.
    pub manager: Option<ManagerKind>,
    /// Its store (index into the plan's stores).
    pub store: Option<usize>,
    /// Outgoing: the copy read.
    pub local_path: Option<String>,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// A failure's code.
    pub error_code: Option<String>,
    /// A failure's reason.
    pub error: Option<String>,
}

/// Everything an import writes.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Stores.
    pub stores: Vec<ImportStore>,
    /// Peers.
    pub peers: Vec<ImportPeer>,
    /// Accounts.
    pub accounts: Vec<ImportAccount>,
    /// Files.
    pub files: Vec<ImportFile>,
    /// Instances.
    pub instances: Vec<ImportInstance>,
    /// Remote instances.
    pub remotes: Vec<ImportRemote>,
    /// Transfers (those keeping their id first).
    pub transfers: Vec<ImportTransfer>,
    /// Events raised when at least one transfer is added (summaries).
    pub transfer_events: Vec<ImportEvent>,
    /// Events raised when the import adds anything at all (the original's open errors).
    pub events: Vec<ImportEvent>,
}

/// What an import wrote (or would write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Rows added.
    pub added: ImportTally,
    /// Rows already here.
    pub present: ImportTally,
    /// Instances added per state.
    pub instance_states: std::collections::BTreeMap<String, u64>,
    /// Names held differently here (nothing is written when there are any).
    pub conflicts: Vec<ImportConflict>,
}

fn db(e: rusqlite::Error) -> Error {
    Error::db("importing the original catalog")(e)
}

fn text(p: &std::path::Path) -> Result<&str> {
    p.to_str().ok_or_else(|| Error::invalid("path", format!("{} is not UTF-8", p.display())))
}

fn conflict(kind: &str, name: &str, existing: String, incoming: String) -> ImportConflict {
    ImportConflict { kind: kind.to_owned(), name: name.to_owned(), existing, incoming }
}

impl Catalog {
    /// Write `plan` in one transaction; with `dry_run`, or when a name conflicts, roll
    /// it back. Returns what was (or would be) added and what was already here.
    pub fn apply_import(&self, plan: &ImportPlan, dry_run: bool, now: Timestamp) -> Result<ImportOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut out = ImportOutcome::default();
        let stores = import_stores(&tx, plan, now, &mut out)?;
        let peers = import_peers(&tx, plan, now, &mut out)?;
        import_accounts(&tx, plan, &peers, now, &mut out)?;
        let files = import_files(&tx, plan, &mut out)?;
        if out.conflicts.is_empty() {
            import_instances(&tx, plan, &stores, &files, &mut out)?;
            import_remotes(&tx, plan, &files, &mut out)?;
            import_transfers(&tx, plan, &stores, &peers, &mut out)?;
            let mut events = Vec::new();
            if out.added.transfers > 0 {
                events.extend(plan.transfer_events.iter());
            }
            if out.added != ImportTally::default() {
                events.extend(plan.events.iter());
            }
            for e in events {
                if insert_event(&tx, e)? {
                    out.added.events += 1;
                }
            }
        }
        if dry_run || !out.conflicts.is_empty() {
            tx.rollback().map_err(db)?;
        } else {
            tx.commit().map_err(db)?;
        }
        Ok(out)
    }
}

fn import_stores(tx: &Transaction<'_>, plan: &ImportPlan, now: Timestamp, out: &mut ImportOutcome) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(plan.stores.len());
    for s in &plan.stores {
        let found: Option<(i64, String)> = tx
            .query_row("SELECT id, root FROM stores WHERE name = ?1", [&s.name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        match found {
            Some((id, root)) if root == text(&s.root)? => {
                out.present.stores += 1;
                ids.push(id);
            }
            Some((id, root)) => {
                out.conflicts.push(conflict(
                    "store",
                    &s.name,
                    format!("root {root}"),
                    format!("root {}", s.root.display()),
                ));
                ids.push(id);
            }
            None => {
                tx.execute(
                    "INSERT INTO stores (name, root, staging, ingestable, enabled, reserve_bytes, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        s.name,
                        text(&s.root)?,
                        text(&s.staging)?,
                        s.ingestable,
                        s.enabled,
                        u64_to_sql(s.reserve_bytes)?,
                        ts_to_sql(now)
                    ],
                )
                .map_err(db)?;
                out.added.stores += 1;
                ids.push(tx.last_insert_rowid());
            }
        }
    }
    Ok(ids)
}

fn import_peers(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    now: Timestamp,
    out: &mut ImportOutcome,
) -> Result<HashMap<String, i64>> {
    let mut ids = HashMap::new();
    for p in &plan.peers {
        let found: Option<(i64, String, String)> = tx
            .query_row("SELECT id, url, account FROM peers WHERE name = ?1", [&p.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(db)?;
        match found {
            // The URL may have been changed since (`peer set-url`, after a first
            // import): the same peer with the same account is present.
            Some((id, _, account)) if account == p.account => {
                out.present.peers += 1;
                ids.insert(p.name.clone(), id);
            }
            Some((id, url, account)) => {
                out.conflicts.push(conflict(
                    "peer",
                    &p.name,
                    format!("{url} as {account}"),
                    format!("{} as {}", p.url, p.account),
                ));
                ids.insert(p.name.clone(), id);
            }
            None => {
                tx.execute(
                    "INSERT INTO peers (name, url, account, password, transfers_enabled, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![p.name, p.url, p.account, p.password.expose(), p.transfers_enabled, ts_to_sql(now)],
                )
                .map_err(db)?;
                out.added.peers += 1;
                ids.insert(p.name.clone(), tx.last_insert_rowid());
            }
        }
    }
    Ok(ids)
}

fn import_accounts(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    peers: &HashMap<String, i64>,
    now: Timestamp,
    out: &mut ImportOutcome,
) -> Result<()> {
    for a in &plan.accounts {
        let peer_id = match &a.peer {
            Some(p) => Some(
                *peers
                    .get(p)
                    .ok_or_else(|| Error::internal(format!("account {} names peer {p}, not in the plan", a.name)))?,
            ),
            None => None,
        };
        let found: Option<(String, String, Option<i64>)> = tx
            .query_row("SELECT password_hash, level, peer_id FROM accounts WHERE name = ?1", [&a.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(db)?;
        match found {
            Some((hash, level, pid)) if hash == a.hash && level == a.level.as_str() && pid == peer_id => {
                out.present.accounts += 1;
            }
            Some((hash, level, _)) => {
                let what = if hash == a.hash { "the same password" } else { "another password" };
                out.conflicts.push(conflict(
                    "account",
                    &a.name,
                    format!("level {level}"),
                    format!("level {} with {what}", a.level.as_str()),
                ));
            }
            None => {
                tx.execute(
                    "INSERT INTO accounts (name, password_hash, level, peer_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![a.name, a.hash, a.level.as_str(), peer_id, ts_to_sql(now)],
                )
                .map_err(db)?;
                out.added.accounts += 1;
            }
        }
    }
    Ok(())
}

/// The id of each planned file here (`None`: conflicting).
fn import_files(tx: &Transaction<'_>, plan: &ImportPlan, out: &mut ImportOutcome) -> Result<Vec<Option<i64>>> {
    let mut ids = Vec::with_capacity(plan.files.len());
    let mut find = tx.prepare_cached("SELECT id, checksum FROM files WHERE name = ?1").map_err(db)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO files (name, size, checksum, kind, uploader, source, created_at, arrived_at,
                                original_checksum, blake3)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
             ON CONFLICT (name) DO NOTHING",
        )
        .map_err(db)?;
    for f in &plan.files {
        // Insert first: on a new site every name is new, and a look-up would miss.
        let inserted = insert
            .execute(params![
                f.name.as_str(),
                u64_to_sql(f.size)?,
                f.checksum.to_string(),
                f.kind.as_str(),
                f.uploader,
                f.source,
                ts_to_sql(f.created_at),
                f.original_checksum,
                f.blake3,
            ])
            .map_err(db)?;
        if inserted == 1 {
            let id = tx.last_insert_rowid();
            insert_entries(tx, super::FileId(id), &f.entries)?;
            out.added.files += 1;
            if f.kind == FileKind::Directory {
                out.added.books += 1;
            }
            ids.push(Some(id));
            continue;
        }
        let (id, sum): (i64, String) = find.query_row([f.name.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
        if Checksum::parse(&sum).ok().is_some_and(|c| c == f.checksum) {
            out.present.files += 1;
            if f.kind == FileKind::Directory {
                out.present.books += 1;
            }
            ids.push(Some(id));
        } else {
            out.conflicts.push(conflict("file", f.name.as_str(), sum, f.checksum.to_string()));
            ids.push(None);
        }
    }
    Ok(ids)
}

fn file_id(files: &[Option<i64>], i: usize) -> Result<i64> {
    files.get(i).copied().flatten().ok_or_else(|| Error::internal(format!("file {i} of the import plan has no id")))
}

fn store_id(stores: &[i64], i: usize) -> Result<i64> {
    stores.get(i).copied().ok_or_else(|| Error::internal(format!("store {i} is not in the import plan")))
}

fn import_instances(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    stores: &[i64],
    files: &[Option<i64>],
    out: &mut ImportOutcome,
) -> Result<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at, verified_at,
                                    state, state_reason, state_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (store_id, path) DO NOTHING",
        )
        .map_err(db)?;
    for i in &plan.instances {
        let state_at =
            (i.state != InstanceState::Ok).then(|| ts_to_sql(i.event.as_ref().map_or(i.created_at, |e| e.at)));
        let n = insert
            .execute(params![
                file_id(files, i.file)?,
                store_id(stores, i.store)?,
                text(&i.rel)?,
                i.state == InstanceState::Ok,
                i.policy.as_str(),
                ts_to_sql(i.created_at),
                i.verified_at.map(ts_to_sql),
                i.state.as_str(),
                i.reason,
                state_at,
            ])
            .map_err(db)?;
        if n == 0 {
            out.present.instances += 1;
            continue;
        }
        out.added.instances += 1;
        *out.instance_states.entry(i.state.as_str().to_owned()).or_default() += 1;
        if let Some(e) = &i.event
            && insert_event(tx, e)?
        {
            out.added.events += 1;
        }
    }
    Ok(())
}

fn import_remotes(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    files: &[Option<i64>],
    out: &mut ImportOutcome,
) -> Result<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (file_id, librarian, store) DO NOTHING",
        )
        .map_err(db)?;
    for r in &plan.remotes {
        let n = insert
            .execute(params![file_id(files, r.file)?, r.librarian, r.store, ts_to_sql(r.copied_at)])
            .map_err(db)?;
        if n == 0 {
            out.present.remote_instances += 1;
        } else {
            out.added.remote_instances += 1;
        }
    }
    Ok(())
}

fn import_transfers(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    stores: &[i64],
    peers: &HashMap<String, i64>,
    out: &mut ImportOutcome,
) -> Result<()> {
    let mut find = tx.prepare_cached("SELECT id FROM transfers WHERE import_key = ?1").map_err(db)?;
    let mut taken = tx.prepare_cached("SELECT import_key, file_name FROM transfers WHERE id = ?1").map_err(db)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO transfers (id, direction, peer_id, remote_id, file_name, size, checksum, kind, uploader,
                                    source, status, manager, store_id, local_path, created_at, updated_at,
                                    error_code, error, file_created_at, import_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )
        .map_err(db)?;
    for t in &plan.transfers {
        if find.query_row([&t.key], |r| r.get::<_, i64>(0)).optional().map_err(db)?.is_some() {
            out.present.transfers += 1;
            continue;
        }
        if let Some(id) = t.keep_id {
            let other: Option<(Option<String>, String)> =
                taken.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(db)?;
            if let Some((key, file)) = other {
                out.conflicts.push(conflict(
                    "transfer",
                    &id.to_string(),
                    format!("transfer {id} of {file} ({})", key.as_deref().unwrap_or("made here")),
                    format!("{} (its id is quoted by a drive's manifest)", t.key),
                ));
                continue;
            }
        }
        let peer = *peers
            .get(&t.peer)
            .ok_or_else(|| Error::internal(format!("transfer {} names peer {}, not in the plan", t.key, t.peer)))?;
        let store = t.store.map(|s| store_id(stores, s)).transpose()?;
        insert
            .execute(params![
                t.keep_id,
                t.direction.as_str(),
                peer,
                t.remote_id,
                t.file_name,
                u64_to_sql(t.size)?,
                t.checksum.to_string(),
                t.kind.as_str(),
                t.uploader,
                t.source,
                t.status.as_str(),
                t.manager.map(ManagerKind::as_str),
                store,
                t.local_path,
                ts_to_sql(t.created_at),
                ts_to_sql(t.updated_at),
                t.error_code,
                t.error,
                t.file_created_at.map(ts_to_sql),
                t.key,
            ])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    Error::internal(format!(
                        "transfer {} conflicts with an active transfer of the same file to {}",
                        t.key, t.peer
                    ))
                }
                other => db(other),
            })?;
        out.added.transfers += 1;
    }
    Ok(())
}

/// Raise `e` unless the same event is open; true when it was raised.
fn insert_event(tx: &Transaction<'_>, e: &ImportEvent) -> Result<bool> {
    let n = tx
        .execute(
            "INSERT INTO events (severity, category, subject, message, count, created_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (category, subject) WHERE cleared_at IS NULL DO NOTHING",
            params![
                e.severity.as_str(),
                e.category.as_str(),
                e.subject,
                e.message,
                u64_to_sql(e.count.max(1))?,
                ts_to_sql(e.at)
            ],
        )
        .map_err(db)?;
    Ok(n > 0)
}
