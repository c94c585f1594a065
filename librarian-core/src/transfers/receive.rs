//! The receiving side of a clone: `stage` (validate each item, make its staging
//! destination), the calls from the sender (`staged`, `fail`), and the
//! `receive-clones` task that re-hashes staged data, commits it and answers
//! `complete` (or `fail`) through the outbox.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::manager::clear_destination;
use super::payload::take_payload;
use crate::catalog::NewIncoming;
use crate::error::{Error, Result};
use crate::ingest::UploadOptions;
use crate::model::CallKind;
use crate::model::TransferEvent;
use crate::model::{Category, NewEvent, Severity};
use crate::model::{Direction, Transfer};
use crate::model::{MAX_STAGE_ITEMS, ManagerKind, StageRequest, StageResponse, StageResult, TransferCall, ValidItem};
use crate::progress::NoProgress;
use crate::site::Site;
use crate::store::staging::PAYLOAD;

fn refused(transfer_id: i64, code: &str, message: impl Into<String>) -> StageResult {
    StageResult::Refused { transfer_id, code: code.into(), message: message.into() }
}

/// Held while a `stage` call is answered: the per-peer limits are counted at the
/// start of a call, so calls answered at once (one peer opening many connections)
/// could each take a full share. Stage calls write the catalog anyway (one writer at a
/// time), so answering them one after the other costs little.
static STAGE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What one `stage` call may still take from its peer.
#[derive(Debug)]
struct Budget {
    /// Items of this call looked at so far.
    items: usize,
    /// The peer's unfinished incoming transfers, counting those this call made.
    transfers: u64,
    /// Their declared bytes.
    bytes: u64,
    /// Bytes accepted by this call (reserved on the stores).
    reserved: u64,
}

/// Answer a peer's `stage`: for each item, accept it (creating an incoming
/// transfer and an empty staging directory), say it is already here, or refuse it.
/// Over the `[clone]` receiving limits, items are refused with `too_many_items` or
/// `too_many_outstanding`: the sender offers them again in a later round.
pub(crate) fn stage_incoming(site: &Site, peer: &str, req: &StageRequest) -> Result<StageResponse> {
    if req.items.len() > MAX_STAGE_ITEMS {
        return Err(Error::invalid("items", format!("at most {MAX_STAGE_ITEMS} items per stage call")));
    }
    let cfg = &site.config().clone;
    let _one_at_a_time = STAGE_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let ours = cfg.manager_kinds()?;
    let theirs: Vec<ManagerKind> = req.managers.iter().filter_map(|m| m.parse().ok()).collect();
    let manager = ours.iter().copied().find(|m| theirs.contains(m));
    let (transfers, bytes) = site.catalog().incoming_outstanding(peer)?;
    let mut budget = Budget { items: 0, transfers, bytes, reserved: 0 };
    let mut out = Vec::with_capacity(req.items.len());
    for item in &req.items {
        budget.items += 1;
        if budget.items > cfg.max_stage_items {
            out.push(refused(
                item.transfer_id,
                "too_many_items",
                format!("at most {} items per stage call; offer the rest later", cfg.max_stage_items),
            ));
            continue;
        }
        let answer = match item.validate().and_then(|v| stage_one(site, peer, &v, manager, &mut budget)) {
            Ok(a) => a,
            Err(e) if e.is_usage() => refused(item.transfer_id, e.code(), e.to_string()),
            Err(e @ (Error::StoreFull { .. } | Error::CrossDevice { .. })) => {
                refused(item.transfer_id, "store_full", e.to_string())
            }
            Err(e) => return Err(e),
        };
        out.push(answer);
    }
    Ok(StageResponse { items: out })
}

fn stage_one(
    site: &Site,
    peer: &str,
    item: &ValidItem,
    manager: Option<ManagerKind>,
    budget: &mut Budget,
) -> Result<StageResult> {
    let id = item.transfer_id;
    let name = &item.name;
    let checksum = &item.checksum;
    if let Some(t) = site.catalog().incoming_by_remote(peer, id)? {
        // The same stage call again (the sender did not get our answer).
        return Ok(answer_for(site, &t));
    }
    if let Some(existing) = site.catalog().file(name)? {
        let same = existing.checksum.matches(checksum)?;
        if same && let Some(store) = store_holding(site, existing.id)? {
            return Ok(StageResult::AlreadyPresent { transfer_id: id, store });
        }
    }
    if let Some(existing) = site.catalog().file(name)?.filter(|e| !e.checksum.matches(checksum).unwrap_or(false)) {
        let message = format!("{peer} offers {name} with checksum {checksum}; this site has {}", existing.checksum);
        site.raise_event(&NewEvent {
            severity: Severity::Error,
            category: Category::Conflict,
            subject: name.to_string(),
            message: message.clone(),
        })?;
        return Ok(refused(id, "conflict", message));
    }
    site.catalog().check_nesting(name)?;
    let Some(manager) = manager else {
        return Ok(refused(
            id,
            "no_common_manager",
            format!("this site accepts {}", site.config().clone.managers.join(", ")),
        ));
    };
    let cfg = &site.config().clone;
    if budget.transfers >= cfg.max_outstanding_transfers {
        return Ok(refused(
            id,
            "too_many_outstanding",
            format!(
                "{peer} has {} unfinished transfers here (limit {}); offer it later",
                budget.transfers, cfg.max_outstanding_transfers
            ),
        ));
    }
    if budget.bytes.saturating_add(item.size) > cfg.max_outstanding_bytes {
        return Ok(refused(
            id,
            "too_many_outstanding",
            format!(
                "{peer}'s unfinished transfers here hold {} bytes; {} more would pass the limit of {}; offer it later",
                budget.bytes, item.size, cfg.max_outstanding_bytes
            ),
        ));
    }
    let (store_row, _store) =
        crate::ingest::choose_store(site.catalog().stores()?, None, item.size.saturating_add(budget.reserved), None)?;
    let dir = store_row.staging.join(format!("incoming-{}", uuid::Uuid::now_v7()));
    if manager == ManagerKind::Globus
        && let Err(why) = globus_destination(site, &store_row.name, &dir)
    {
        return Ok(refused(id, "no_common_manager", why));
    }
    std::fs::create_dir(&dir).map_err(|e| Error::io("cannot create staging directory", &dir, e))?;
    let new = NewIncoming {
        remote_id: id,
        name,
        size: item.size,
        checksum,
        kind: item.kind,
        uploader: &item.uploader,
        source: &item.source,
        // As the peer said; the commit takes a time after the arrival as the arrival.
        created_at: item.created_at,
        store: &store_row.name,
        local_path: &dir,
        manager,
    };
    let (t, stale) = match site.catalog().create_incoming(peer, &new, Timestamp::now()) {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
    };
    budget.reserved = budget.reserved.saturating_add(item.size);
    budget.bytes = budget.bytes.saturating_add(item.size);
    budget.transfers += 1;
    if let Some(stale) = stale {
        remove_staging(&stale);
    }
    Ok(answer_for(site, &t))
}

/// The store of the first available instance of `file`, if any: what this site
/// tells a peer that offers a file it already holds. A file catalogued with no
/// available copy here (a retired drive copy, remote copies only) is not "held".
pub(crate) fn store_holding(site: &Site, file: crate::catalog::FileId) -> Result<Option<String>> {
    Ok(site.catalog().instances(file)?.into_iter().find(|i| i.available).map(|i| i.store))
}

/// Where a Globus sender must put the data of staging directory `dir` on `store`:
/// `globus:UUID:/path/incoming-ID/data` in the store's collection
/// (`[globus.stores.NAME]`), or why there is no such place.
fn globus_destination(site: &Site, store: &str, dir: &std::path::Path) -> std::result::Result<String, String> {
    let Some(c) = site.config().globus.as_ref().and_then(|g| g.stores.get(store)) else {
        return Err(format!("store {store} of this site has no Globus collection ([globus.stores.{store}])"));
    };
    match c.collection_path(&dir.join(PAYLOAD)) {
        Some(path) => Ok(super::globus::format_destination(&c.collection, &path)),
        None => Err(format!(
            "the staging area of store {store} is not below the collection root {} of its Globus collection",
            c.root().display()
        )),
    }
}

/// The stage answer that describes incoming transfer `t`.
fn answer_for(site: &Site, t: &Transfer) -> StageResult {
    let remote = t.remote_id.unwrap_or_default();
    match (t.status.is_terminal(), &t.local_path, t.manager) {
        (false, Some(dir), Some(manager)) => {
            let data = dir.join(PAYLOAD);
            let destination = match (&site.config().clone.rsync_host, manager) {
                (Some(host), ManagerKind::Rsync) => format!("{host}:{}", data.display()),
                (_, ManagerKind::Globus) => {
                    match globus_destination(site, t.store.as_deref().unwrap_or_default(), dir) {
                        Ok(d) => d,
                        Err(why) => return refused(remote, "failed", why),
                    }
                }
                _ => data.display().to_string(),
            };
            StageResult::Accepted { transfer_id: remote, remote_id: t.id, destination, manager }
        }
        _ => refused(remote, "failed", format!("transfer {} is {}", t.id, t.status)),
    }
}

/// Apply a transfer call (`staged`, `complete`, `fail`) from `peer`, once per `key`.
/// The call is validated first ([`TransferCall::validate`]); the key is bound to
/// the call's kind and body, so the same key with another call is refused
/// ([`Error::Conflict`]).
pub(crate) fn receive_transfer_call(
    site: &Site,
    peer: &str,
    key: &str,
    kind: CallKind,
    call: &TransferCall,
) -> Result<serde_json::Value> {
    crate::model::validate_call_key(key)?;
    let call = call.validate(kind)?;
    let mut remove: Option<PathBuf> = None;
    let (mut answer, replayed) = site.catalog().apply_once(peer, key, kind, &call.digest, |c| {
        let (direction, event) = match kind {
            CallKind::Staged => (Some(Direction::Incoming), TransferEvent::Staged),
            CallKind::Complete => (Some(Direction::Outgoing), TransferEvent::Completed),
            CallKind::Fail => (None, TransferEvent::Failed),
            CallKind::Holds => {
                return Err(Error::invalid("kind", "holds is not a transfer call"));
            }
        };
        let t = c.transfer(call.transfer_id, direction)?;
        if let Some(theirs) = t.remote_id
            && theirs != call.peer_transfer_id
        {
            return Err(Error::invalid(
                "transfer",
                format!("transfer {} belongs to {}'s transfer {theirs}, not {}", t.id, t.peer, call.peer_transfer_id),
            ));
        }
        if call.file != t.file.as_str() {
            return Err(Error::invalid("file", format!("transfer {} is of {}, not {:?}", t.id, t.file, call.file)));
        }
        if let Some(theirs) = &call.checksum
            && !t.checksum.matches(theirs)?
        {
            return Err(Error::Conflict {
                name: t.file.to_string(),
                existing: t.checksum.to_string(),
                incoming: theirs.to_string(),
            });
        }
        // A callback that arrives after the state it announces was already passed
        // (a `staged` delayed in the sender's outbox while reconciliation moved
        // the transfer on and this site committed it) is acknowledged as a no-op:
        // both sides have converged, and refusing it would raise a false error.
        if kind == CallKind::Staged && t.status == super::TransferStatus::Completed {
            return Ok(serde_json::json!({ "transfer_id": t.id, "status": t.status, "already_past": true }));
        }
        let error = call.reason.as_deref().map(|r| ("peer_failed", r));
        let status = c.step(&t, event, error)?;
        if let (CallKind::Complete, Some(store)) = (kind, &call.store) {
            c.record_remote_instance(&t, store)?;
            if t.manager == Some(ManagerKind::Sneakernet) {
                c.finish_drive_copy(&t)?;
            }
        }
        if kind == CallKind::Fail && t.direction == Direction::Incoming {
            remove = t.local_path.clone();
        }
        Ok(serde_json::json!({ "transfer_id": t.id, "status": status }))
    })?;
    if let Some(dir) = remove {
        remove_staging(&dir);
    }
    if let Some(o) = answer.as_object_mut() {
        o.insert("replayed".into(), replayed.into());
    }
    Ok(answer)
}

/// Transfers, newest first (at most `limit`), optionally of one status, direction
/// or peer.
pub(crate) fn transfers(
    site: &Site,
    status: Option<super::TransferStatus>,
    direction: Option<Direction>,
    peer: Option<&str>,
    limit: usize,
) -> Result<Vec<Transfer>> {
    if let Some(p) = peer {
        crate::access::peer(site, p)?;
    }
    site.catalog().transfers(status, direction, peer, limit)
}

/// Every peer with its backlog (as [`peer_backlog`] counts it), its queued calls and
/// whether transfers to it are enabled (`librarian status`). Reads the whole catalog
/// once per peer.
pub(crate) fn peer_statuses(site: &Site) -> Result<Vec<serde_json::Value>> {
    let queues = site.catalog().outbox_peers()?;
    let mut out = Vec::new();
    for p in crate::access::peers(site)? {
        let backlog = crate::transfers::receive::peer_backlog(site, &p.name)?;
        let calls = queues.iter().find(|q| q.peer == p.name).map_or(0, |q| q.calls);
        out.push(serde_json::json!({
            "peer": p.name,
            "transfers_enabled": p.transfers_enabled,
            "sending": site.config().clone.to.contains_key(&p.name),
            "files_without_copy": backlog.files_without_copy,
            "bytes_without_copy": backlog.bytes_without_copy,
            "files_with_copy": backlog.files_with_copy,
            "active_transfers": backlog.active_transfers,
            "queued_calls": calls,
        }));
    }
    Ok(out)
}

/// Cancel transfer `id` (an operator's decision): it becomes `cancelled`, the peer
/// is told (`fail`, through the outbox) and an incoming transfer's staged data is
/// removed. A cancelled outgoing transfer's file is planned again by the next
/// send round unless the `[clone.to]` filters exclude it or the peer is disabled.
/// [`Error::IllegalTransition`] for a transfer that has already ended.
pub(crate) fn cancel_transfer(site: &Site, id: i64) -> Result<Transfer> {
    let reason = format!("cancelled by an operator at {}", site.config().name);
    let call = (CallKind::Fail, serde_json::json!({ "reason": reason }));
    let t = site.catalog().transfer_step(
        id,
        TransferEvent::Cancelled,
        Some(("cancelled", &reason)),
        Some(call),
        Timestamp::now(),
    )?;
    if let (Direction::Incoming, Some(dir)) = (t.direction, &t.local_path) {
        remove_staging(dir);
    }
    if let (Direction::Outgoing, Some(batch)) = (t.direction, t.batch) {
        super::send::stop_batch_if_cancelled(site, batch)?;
    }
    Ok(t)
}

/// How far `peer` is behind this site: of the files a send round may offer it (its
/// `[clone.to.PEER]` filters; every file for a peer without that table, as `clone
/// remote --to PEER` would), those without a copy there and their bytes.
pub(crate) fn peer_backlog(site: &Site, peer: &str) -> Result<crate::catalog::PeerBacklog> {
    let filter = crate::transfers::send::peer_filter(site, peer)?;
    site.catalog().peer_backlog(peer, &filter)
}

/// Our transfer `id`, if it is one of `peer`'s ([`Error::Forbidden`] otherwise).
pub(crate) fn peer_transfer(site: &Site, peer: &str, id: i64) -> Result<Transfer> {
    let t = site
        .catalog()
        .transfer(id)?
        .ok_or_else(|| Error::NotFound { kind: crate::error::ObjectKind::Transfer, name: id.to_string() })?;
    if t.peer != peer {
        return Err(Error::Forbidden(format!("transfer {id} is not one of {peer}'s transfers")));
    }
    Ok(t)
}

/// The `receive-clones` task: verify and commit incoming transfers whose data
/// has arrived. Returns (completed, failed).
pub(crate) fn receive_clones(site: &Site) -> Result<(u64, u64)> {
    let mut done = (0, 0);
    let mut first_error = None;
    for t in site.catalog().staged_incoming(site.config().clone.receive_per_run)? {
        match receive_one(site, &t) {
            Ok(true) => done.0 += 1,
            Ok(false) => done.1 += 1,
            Err(e) => {
                log::warn!("cannot receive transfer {} ({}): {e}", t.id, t.file);
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if done == (0, 0) => Err(e),
        _ => Ok(done),
    }
}

/// Verify and commit one staged transfer: true when completed, false when failed.
///
/// The payload is taken out of the peer-writable staging directory first
/// ([`take_payload`]: no link is followed, nothing but regular files and
/// directories is accepted, the entry itself is moved into a private directory),
/// so nothing outside staging is ever read, hashed or moved.
fn receive_one(site: &Site, t: &Transfer) -> Result<bool> {
    let Some(dir) = t.local_path.clone() else {
        return fail_incoming(
            site,
            t,
            &Error::DataMissing { name: t.file.to_string(), detail: "the transfer has no staging directory".into() },
        )
        .map(|()| false);
    };
    let store = t.store.clone().unwrap_or_default();
    let taken = match take_payload(&dir) {
        Ok(taken) => taken,
        Err(e @ Error::UnsupportedEntry { .. }) => {
            return fail_incoming(site, t, &e).map(|()| false);
        }
        Err(e) => return Err(e),
    };
    let Some(taken) = taken else {
        // Committed before a crash stopped us from completing the transfer?
        if let Some(f) = site.catalog().file(&t.file)?
            && f.checksum.matches(&t.checksum)?
            && !site.catalog().instances(f.id)?.is_empty()
        {
            return complete_incoming(site, t, &store, &dir).map(|()| true);
        }
        let e = Error::DataMissing {
            name: t.file.to_string(),
            detail: "no data arrived at the staging destination".into(),
        };
        return fail_incoming(site, t, &e).map(|()| false);
    };
    let opts = UploadOptions {
        store: t.store.clone(),
        move_source: taken.movable,
        expect_checksum: Some(t.checksum.clone()),
        uploader: Some(t.uploader.clone()),
        source: Some(t.source.clone()),
        created_at: t.file_created_at,
        ..Default::default()
    };
    let mut result = crate::ingest::upload(site, &taken.path(), &t.file, &opts, &NoProgress);
    if let Err(Error::CrossDevice { .. }) = result {
        let opts = UploadOptions { move_source: false, ..opts };
        result = crate::ingest::upload(site, &taken.path(), &t.file, &opts, &NoProgress);
    }
    log::debug!("received transfer {} from {} via {}", t.id, t.peer, taken.shown().display());
    drop(taken);
    match result {
        Ok(up) => {
            crate::fault::point("receive.after-ingest");
            let held = up.file.instances.first().map(|i| i.store.clone()).unwrap_or(store);
            complete_incoming(site, t, &held, &dir)?;
            Ok(true)
        }
        Err(e @ (Error::ChecksumMismatch { .. } | Error::Conflict { .. } | Error::UnsupportedEntry { .. })) => {
            fail_incoming(site, t, &e)?;
            Ok(false)
        }
        Err(e @ Error::NotFound { kind: crate::error::ObjectKind::Path, .. }) => {
            fail_incoming(site, t, &e)?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn complete_incoming(site: &Site, t: &Transfer, store: &str, dir: &Path) -> Result<()> {
    let call = (CallKind::Complete, serde_json::json!({ "store": store, "checksum": t.checksum.to_string() }));
    site.catalog().transfer_step(t.id, TransferEvent::Completed, None, Some(call), Timestamp::now())?;
    remove_staging(dir);
    Ok(())
}

/// Fail incoming transfer `t` because of `e`: remove its staged data, tell the
/// sender (with [`peer_reason`]: what went wrong, never what was found), and raise
/// an event with the whole story for this site's operators.
fn fail_incoming(site: &Site, t: &Transfer, e: &Error) -> Result<()> {
    let code = match e {
        Error::NotFound { .. } => "data_missing",
        other => other.code(),
    };
    let why = e.to_string();
    let call = (CallKind::Fail, serde_json::json!({ "reason": format!("{code}: {}", peer_reason(e)) }));
    site.catalog().transfer_step(t.id, TransferEvent::Failed, Some((code, &why)), Some(call), Timestamp::now())?;
    if let Some(dir) = &t.local_path {
        remove_staging(dir);
    }
    let category = if code == "conflict" { Category::Conflict } else { Category::TransferFailed };
    site.raise_event(&NewEvent {
        severity: Severity::Error,
        category,
        subject: format!("{}/{}", t.peer, t.file),
        message: format!("incoming transfer {} of {} from {} failed: {why}", t.id, t.file, t.peer),
    })?;
    Ok(())
}

/// What a peer is told when its transfer fails here: the kind of failure in words,
/// never a digest, a size or a path of what was found (a peer that could point our
/// receive at a file must not learn anything about that file from the answer).
fn peer_reason(e: &Error) -> &'static str {
    match e {
        Error::ChecksumMismatch { .. } => "the staged data does not hash to the checksum that was offered",
        Error::Conflict { .. } => "this site holds the name with another checksum",
        Error::UnsupportedEntry { .. } => {
            "the staged data is not only regular files and directories inside the staging directory \
             (links, hard links and special files are refused)"
        }
        Error::DataMissing { .. } | Error::NotFound { .. } => "no data arrived at the staging destination",
        _ => "the staged data could not be committed",
    }
}

/// Remove an incoming transfer's staging directory and anything in it.
fn remove_staging(dir: &Path) {
    if let Err(e) = clear_destination(dir) {
        log::warn!("cannot remove staging directory {}: {e}", dir.display());
    }
}
