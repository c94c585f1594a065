//! Peering with sites that still run the original (Python) Librarian (issue 14,
//! item 2): its `/api/v2` calls about clones, answered for peers whose protocol is
//! `original-v2` (off by default), on top of this site's own receiving machinery.
//!
//! Receiving from an original sender: `clone/batch_stage` stages its files exactly
//! as our `stage` does (same checks, limits, staging directories; all-or-nothing,
//! as the original's receiver answers a batch); its sender copies the bytes to the
//! `staging_location`s with its own transfer manager and says so with
//! `checkin/update` (`ONGOING`, then `STAGED`); the `receive-clones` task verifies
//! and commits them as any clone, and the outbox answers with `clone/complete` (or
//! `checkin/update FAILED`) in the original's form. `clone/fail` and
//! `checkin/status` are answered too. Sending to an original receiver answers its
//! `clone/complete` and `checkin/update` about our outgoing transfers.
//!
//! Every call is applied through [`crate::transfers::receive::receive_transfer_call`]
//! with a key made from the call (the original sends none), so a repeated call
//! changes nothing, and the checks of our own protocol hold: a transfer belongs to
//! the calling peer, a transition must be legal.

use crate::error::{Error, Result};
use crate::model::{
    CallKind, Direction, PeerProtocol, StageItem, StageRequest, StageResult, TransferCall, TransferStatus,
    V2BatchStage, V2CheckinStatus, V2CheckinUpdate, V2CloneComplete, V2CloneFail, V2Endpoint, v2_failure,
};
use crate::site::Site;

/// An answer: its HTTP status and JSON body, in the original's shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct V2Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

fn answer(status: u16, body: serde_json::Value) -> V2Answer {
    V2Answer { status, body }
}

/// The calling peer must speak `original-v2` here; otherwise its `/api/v2` calls do
/// not exist for it.
pub(crate) fn require_v2(site: &Site, peer: &str) -> Result<()> {
    let p = crate::access::peer(site, peer)?;
    if p.protocol != PeerProtocol::OriginalV2 {
        return Err(Error::Forbidden(format!(
            "peer {peer} speaks {}; /api/v2 is answered only for peers set to original-v2 \
             (`librarian peer set-protocol {peer} original-v2`)",
            p.protocol
        )));
    }
    Ok(())
}

/// Answer `endpoint` for `peer` (the caller's peer, when its account belongs to
/// one) with the JSON `body`.
pub(crate) fn dispatch(site: &Site, peer: Option<&str>, endpoint: V2Endpoint, body: &[u8]) -> Result<V2Answer> {
    fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::result::Result<T, V2Answer> {
        serde_json::from_slice(body).map_err(|e| {
            answer(422, v2_failure(format!("malformed request: {e}"), "Send the body the original Librarian sends."))
        })
    }
    let peer = || peer.ok_or_else(|| Error::Forbidden("this call must come from a peer's account".to_owned()));
    match endpoint {
        V2Endpoint::Ping | V2Endpoint::PingLogged => Ok(ping(site)),
        V2Endpoint::BatchStage => match parse(body) {
            Ok(r) => batch_stage(site, peer()?, &r),
            Err(refusal) => Ok(refusal),
        },
        V2Endpoint::CheckinUpdate => match parse(body) {
            Ok(r) => checkin_update(site, peer()?, &r),
            Err(refusal) => Ok(refusal),
        },
        V2Endpoint::CheckinStatus => match parse(body) {
            Ok(r) => checkin_status(site, peer()?, &r),
            Err(refusal) => Ok(refusal),
        },
        V2Endpoint::CloneFail => match parse(body) {
            Ok(r) => clone_fail(site, peer()?, &r),
            Err(refusal) => Ok(refusal),
        },
        V2Endpoint::CloneComplete => match parse(body) {
            Ok(r) => clone_complete(site, peer()?, &r),
            Err(refusal) => Ok(refusal),
        },
    }
}

/// `POST /api/v2/ping/`: the original's liveness answer.
pub(crate) fn ping(site: &Site) -> V2Answer {
    let name = &site.config().name;
    answer(200, serde_json::json!({ "name": name, "description": format!("librarian site {name}") }))
}

/// The transfer managers offered to an original sender.
fn providers(site: &Site) -> serde_json::Value {
    match &site.config().clone.original_providers {
        Some(p) => serde_json::to_value(p).unwrap_or_default(),
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".to_owned());
            serde_json::json!({ "local": { "available": true, "hostnames": [host] } })
        }
    }
}

fn batch_failure(status: u16, reason: &str, remedy: &str, ids: &[i64]) -> V2Answer {
    answer(
        status,
        serde_json::json!({
            "reason": reason,
            "suggested_remedy": remedy,
            "source_transfer_ids": ids,
            "destination_transfer_ids": vec![-1; ids.len()],
        }),
    )
}

/// `POST /api/v2/clone/batch_stage` from `peer`.
pub(crate) fn batch_stage(site: &Site, peer: &str, req: &V2BatchStage) -> Result<V2Answer> {
    require_v2(site, peer)?;
    if req.source != peer {
        return Ok(answer(
            400,
            v2_failure(
                format!("source {:?} is not the calling site {peer:?}", req.source),
                "Send as the site whose account you use.",
            ),
        ));
    }
    let negative: Vec<i64> = req.uploads.iter().filter(|u| u.upload_size < 0).map(|u| u.source_transfer_id).collect();
    if req.total_size < 0 || !negative.is_empty() {
        return Ok(batch_failure(
            400,
            "Upload size must be positive.",
            "Check you are trying to upload a valid file.",
            &negative,
        ));
    }
    if req.uploads.is_empty() {
        return Ok(batch_failure(400, "The batch is empty.", "Send at least one file.", &[]));
    }
    // Files already here: the original answers 409 for the whole batch, naming them
    // (its sender then records them as held and sends the rest in a later batch).
    let mut exist = Vec::new();
    for u in &req.uploads {
        if let Ok(name) = crate::name::FileName::new(&u.destination_location)
            && site.catalog().file(&name)?.is_some()
        {
            exist.push(u.source_transfer_id);
        }
    }
    if !exist.is_empty() {
        return Ok(batch_failure(
            409,
            "File already exists on librarian.",
            "Check the file is not already present.",
            &exist,
        ));
    }
    let items = req
        .uploads
        .iter()
        .map(|u| StageItem {
            transfer_id: u.source_transfer_id,
            name: u.destination_location.clone(),
            size: u64::try_from(u.upload_size).unwrap_or(0),
            // Our spelling (`xxh3:<hex>`); a checksum that does not parse is refused
            // by the item's validation, as in our own protocol.
            checksum: crate::checksum::Checksum::parse(&u.upload_checksum)
                .map(|c| c.to_string())
                .unwrap_or_else(|_| u.upload_checksum.clone()),
            kind: "file".into(),
            uploader: u.uploader.clone(),
            source: peer.to_owned(),
            created_at: None,
        })
        .collect();
    let managers = site.config().clone.managers.clone();
    let staged = crate::transfers::receive::stage_incoming(site, peer, &StageRequest { managers, items })?;
    let mut accepted = Vec::new();
    let mut refused: Vec<(i64, String, String)> = Vec::new();
    for r in &staged.items {
        match r {
            StageResult::Accepted { transfer_id, remote_id, .. } => accepted.push((*transfer_id, *remote_id)),
            StageResult::AlreadyPresent { transfer_id, .. } => {
                refused.push((*transfer_id, "already_present".into(), "already here".into()))
            }
            StageResult::Refused { transfer_id, code, message } => {
                refused.push((*transfer_id, code.clone(), message.clone()))
            }
        }
    }
    if !refused.is_empty() {
        // All or nothing, as the original's receiver: what was staged for this call
        // is failed again (nothing arrived yet), and the batch is refused.
        for (_, ours) in &accepted {
            let _ = site.catalog().transfer_step(
                *ours,
                crate::model::TransferEvent::Failed,
                Some(("batch_refused", "another file of the original sender's batch was refused")),
                None,
                jiff::Timestamp::now(),
            );
            if let Ok(Some(t)) = site.catalog().transfer(*ours)
                && let Some(dir) = &t.local_path
            {
                let _ = crate::transfers::manager::clear_destination(dir);
            }
        }
        let ids: Vec<i64> = refused.iter().map(|r| r.0).collect();
        let (status, reason) = match refused[0].1.as_str() {
            "store_full" => (413, "No stores available for upload. Your upload is too large.".to_owned()),
            "too_many_items" | "too_many_outstanding" => (425, format!("Transfer is ongoing: {}", refused[0].2)),
            "already_present" | "conflict" => (409, "File already exists on librarian.".to_owned()),
            _ => (400, refused[0].2.clone()),
        };
        return Ok(batch_failure(status, &reason, "Please try again later.", &ids));
    }
    let mut uploads = Vec::new();
    let mut store_name = String::new();
    let mut available = 0u64;
    for ((theirs, ours), u) in accepted.iter().zip(&req.uploads) {
        let t = site
            .catalog()
            .transfer(*ours)?
            .ok_or_else(|| Error::internal(format!("transfer {ours} staged and gone")))?;
        let dir = t.local_path.clone().unwrap_or_default();
        if store_name.is_empty() {
            store_name = t.store.clone().unwrap_or_default();
            available = crate::store::posix::free_bytes_at(&dir).unwrap_or(0);
        }
        uploads.push(serde_json::json!({
            "staging_name": dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "staging_location": dir.join(crate::store::staging::PAYLOAD),
            "upload_name": u.upload_name,
            "destination_location": u.destination_location,
            "source_transfer_id": theirs,
            "destination_transfer_id": ours,
        }));
    }
    Ok(answer(
        201,
        serde_json::json!({
            "available_bytes_on_store": available,
            "store_name": store_name,
            "uploads": uploads,
            "async_transfer_providers": providers(site),
        }),
    ))
}

/// Apply one call about transfer `id` (ours) of `direction`, keyed by what it says.
fn apply(site: &Site, peer: &str, kind: CallKind, id: i64, direction: Direction, extra: Extra) -> Result<()> {
    let t = site
        .catalog()
        .transfer(id)?
        .filter(|t| t.peer == peer && t.direction == direction)
        .ok_or_else(|| Error::NotFound { kind: crate::error::ObjectKind::Transfer, name: id.to_string() })?;
    let call = TransferCall {
        transfer_id: id,
        peer_transfer_id: t.remote_id.unwrap_or(-1),
        file: t.file.to_string(),
        store: extra.store,
        reason: extra.reason,
        checksum: (kind == CallKind::Complete).then(|| t.checksum.to_string()),
    };
    let key = format!("v2:{}:{}:{id}", kind.as_str(), direction.as_str());
    crate::transfers::receive::receive_transfer_call(site, peer, &key, kind, &call).map(|_| ())
}

#[derive(Debug, Default)]
struct Extra {
    store: Option<String>,
    reason: Option<String>,
}

/// `POST /api/v2/checkin/update` from `peer`: its sender moving our incoming
/// transfers (`destination_transfer_ids`: `ONGOING`, `STAGED`, `FAILED`,
/// `CANCELLED`), or its receiver failing our outgoing ones (`source_transfer_ids`).
/// Always 200, with what was and was not changed, as the original answers.
pub(crate) fn checkin_update(site: &Site, peer: &str, req: &V2CheckinUpdate) -> Result<V2Answer> {
    require_v2(site, peer)?;
    let status = crate::model::map_status(&req.new_status);
    let mut out = serde_json::json!({
        "modified_source_transfer_ids": [], "modified_destination_transfer_ids": [],
        "unmodified_source_transfer_ids": [], "unmodified_destination_transfer_ids": [], "reasons": [],
    });
    let mut reasons = std::collections::BTreeSet::new();
    for (ids, direction, modified, unmodified) in [
        (
            &req.source_transfer_ids,
            Direction::Outgoing,
            "modified_source_transfer_ids",
            "unmodified_source_transfer_ids",
        ),
        (
            &req.destination_transfer_ids,
            Direction::Incoming,
            "modified_destination_transfer_ids",
            "unmodified_destination_transfer_ids",
        ),
    ] {
        for &id in ids {
            let outcome = match (status, direction) {
                (Some(TransferStatus::Staged), Direction::Incoming) => {
                    apply(site, peer, CallKind::Staged, id, direction, Extra::default())
                }
                (Some(TransferStatus::Ongoing), Direction::Incoming) => site
                    .catalog()
                    .transfer(id)?
                    .filter(|t| t.peer == peer && t.direction == direction && !t.status.is_terminal())
                    .map(|_| ())
                    .ok_or_else(|| Error::invalid("new_status", format!("transfer {id} cannot become ONGOING"))),
                (Some(s @ (TransferStatus::Failed | TransferStatus::Cancelled)), _) => apply(
                    site,
                    peer,
                    CallKind::Fail,
                    id,
                    direction,
                    Extra {
                        reason: Some(format!("{s} by {peer} (the original Librarian's checkin/update)")),
                        ..Default::default()
                    },
                ),
                _ => Err(Error::invalid("new_status", format!("Transition to {} is not permitted.", req.new_status))),
            };
            let slot = if outcome.is_ok() { modified } else { unmodified };
            if let Some(a) = out[slot].as_array_mut() {
                a.push(id.into());
            }
            if let Err(e) = outcome {
                reasons.insert(match e {
                    Error::NotFound { .. } => "No destination transfer with the appropriate ID was found.".to_owned(),
                    other => other.to_string(),
                });
            }
        }
    }
    out["reasons"] = reasons.into_iter().collect::<Vec<_>>().into();
    Ok(answer(200, out))
}

/// `POST /api/v2/clone/fail` from `peer` (its sender gives up on our incoming transfer).
pub(crate) fn clone_fail(site: &Site, peer: &str, req: &V2CloneFail) -> Result<V2Answer> {
    require_v2(site, peer)?;
    let reason = if req.reason.is_empty() { "failed by the sender".to_owned() } else { req.reason.clone() };
    let extra = Extra {
        reason: Some(crate::text::clean_free_text(&reason, crate::text::MAX_REASON_CHARS)),
        ..Default::default()
    };
    match apply(site, peer, CallKind::Fail, req.destination_transfer_id, Direction::Incoming, extra) {
        Ok(()) => Ok(answer(
            200,
            serde_json::json!({
                "source_transfer_id": req.source_transfer_id,
                "destination_transfer_id": req.destination_transfer_id,
                "success": true,
            }),
        )),
        Err(Error::NotFound { .. }) => Ok(answer(
            404,
            v2_failure(
                format!("Could not find transfer with ID {}.", req.destination_transfer_id),
                "Please try again later.",
            ),
        )),
        Err(e) => Err(e),
    }
}

/// `POST /api/v2/clone/complete` from `peer` (its receiver committed our transfer).
pub(crate) fn clone_complete(site: &Site, peer: &str, req: &V2CloneComplete) -> Result<V2Answer> {
    require_v2(site, peer)?;
    let extra = Extra { store: Some(format!("original-store-{}", req.store_id)), ..Default::default() };
    match apply(site, peer, CallKind::Complete, req.source_transfer_id, Direction::Outgoing, extra) {
        Ok(()) => Ok(answer(
            200,
            serde_json::json!({
                "source_transfer_id": req.source_transfer_id,
                "destination_transfer_id": req.destination_transfer_id,
            }),
        )),
        Err(Error::NotFound { .. }) => {
            Ok(answer(400, v2_failure("Could not find transfer.", "Please try again later.")))
        }
        Err(e @ Error::IllegalTransition { .. }) => Ok(answer(
            406,
            v2_failure(format!("Transfer is not in ONGOING or STAGED status: {e}"), "Please try again later."),
        )),
        Err(e) => Err(e),
    }
}

/// `POST /api/v2/checkin/status` from `peer`: the status of its transfers here, by
/// our ids (`null` for one that is not its).
pub(crate) fn checkin_status(site: &Site, peer: &str, req: &V2CheckinStatus) -> Result<V2Answer> {
    require_v2(site, peer)?;
    let by = |ids: &[i64], direction: Direction| -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut m = serde_json::Map::new();
        for &id in ids {
            let s = site
                .catalog()
                .transfer(id)?
                .filter(|t| t.peer == peer && t.direction == direction)
                .map(|t| serde_json::Value::from(t.status.as_str().to_ascii_uppercase()));
            m.insert(id.to_string(), s.unwrap_or(serde_json::Value::Null));
        }
        Ok(m)
    };
    Ok(answer(
        200,
        serde_json::json!({
            "source_transfer_status": by(&req.source_transfer_ids, Direction::Outgoing)?,
            "destination_transfer_status": by(&req.destination_transfer_ids, Direction::Incoming)?,
        }),
    ))
}
