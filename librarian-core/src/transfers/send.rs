//! The sending side of a clone: the `send-clones` task polls running batches, then
//! plans files that lack a copy at each configured peer, offers them (`stage`),
//! records the answers and starts a batch per manager.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use super::globus::{GlobusManager, parse_destination};
use super::manager::{AsyncTransferManager, BatchItem, BatchProgress, LocalManager, Synchronous};
use super::rsync::RsyncManager;
use crate::catalog::{BatchRow, PlanFilter, StageAnswer};
use crate::config::{DestinationRoot, SendTo, plain_absolute, plain_host};
use crate::error::{Error, Result};
use crate::model::ManagerKind;
use crate::model::Transfer;
use crate::model::{Category, NewEvent, Severity};
use crate::model::{STAGE_CREATED_AT, StageItem, StageRequest, StageResult};
use crate::site::Site;

/// What one run of `send-clones` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// Transfers offered to peers.
    pub offered: u64,
    /// Of those, already held by the peer (completed with no data moved).
    pub already_present: u64,
    /// Of those, refused by the peer.
    pub refused: u64,
    /// Batches started.
    pub batches_started: u64,
    /// Transfers whose data reached the peer's staging area.
    pub staged: u64,
    /// Transfers that failed.
    pub failed: u64,
    /// Batches still running.
    pub running: u64,
    /// Peers skipped: transfers disabled, unreachable, or refusing the offer.
    pub skipped_peers: Vec<String>,
    /// Of those, the peers that could not be reached or refused us (not the ones an
    /// operator disabled): `tasks run` reports the task `degraded`.
    pub unreachable_peers: Vec<String>,
    /// Running batches that are stuck (need attention) or whose manager could not be
    /// asked (e.g. Globus is down): `tasks run` reports the task `degraded`.
    pub stalled_batches: Vec<i64>,
    /// Globus Auth refused this site's credentials: `tasks run` reports the task
    /// `degraded`.
    pub globus_refused: bool,
}

impl std::fmt::Display for SendReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "offered {}, already present {}, refused {}, batches started {}, staged {}, failed {}, running {}",
            self.offered,
            self.already_present,
            self.refused,
            self.batches_started,
            self.staged,
            self.failed,
            self.running
        )?;
        if !self.skipped_peers.is_empty() {
            write!(f, "; skipped: {}", self.skipped_peers.join(", "))?;
        }
        Ok(())
    }
}

/// The state of a batch recorded but not started yet: who is starting it.
fn starting() -> serde_json::Value {
    let who = crate::process::ProcessId::current().map(|p| p.to_string()).unwrap_or_default();
    serde_json::json!({ "starting": who })
}

/// The manager for `kind`, for this site (the Globus manager reads `[globus]`, its
/// credentials and the stores' collections).
pub(crate) fn manager_for(site: &Site, kind: ManagerKind) -> Result<Box<dyn AsyncTransferManager>> {
    match kind {
        ManagerKind::Local => Ok(Box::new(Synchronous(LocalManager))),
        ManagerKind::Rsync => Ok(Box::new(RsyncManager::default())),
        ManagerKind::Globus => Ok(Box::new(globus_manager(site)?)),
        ManagerKind::Sneakernet => Err(Error::internal("sneakernet transfers move on drives, not through a manager")),
    }
}

/// The site's Globus manager. [`Error::Config`] without a `[globus]` table or when
/// its credentials cannot be read.
pub(crate) fn globus_manager(site: &Site) -> Result<GlobusManager> {
    let cfg = site.config().globus.clone().ok_or_else(|| Error::Config {
        path: site.config_path().to_owned(),
        message: "the globus manager needs a [globus] table (docs/globus.md)".into(),
    })?;
    let tls = crate::peer::ClientTls::load(&site.config().client, site.config_path())?;
    let client = crate::globus::GlobusClient::new(&cfg, site.config_path(), &tls)?;
    let sources = site
        .catalog()
        .stores()?
        .into_iter()
        .filter_map(|st| cfg.stores.get(&st.name).map(|c| (st.root, c.clone())))
        .collect();
    Ok(GlobusManager::new(client, cfg, sources))
}

/// The managers of one round, each made once (the Globus one reads credentials).
pub(crate) struct Managers<'a> {
    site: &'a Site,
    made: Vec<(ManagerKind, Box<dyn AsyncTransferManager>)>,
}

impl<'a> Managers<'a> {
    pub(crate) fn new(site: &'a Site) -> Self {
        Managers { site, made: Vec::new() }
    }

    pub(crate) fn get(&mut self, kind: ManagerKind) -> Result<&dyn AsyncTransferManager> {
        let at = match self.made.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.made.push((kind, manager_for(self.site, kind)?));
                self.made.len() - 1
            }
        };
        Ok(self.made[at].1.as_ref())
    }
}

/// A destination a peer gave is only ever a fresh staging path below the root this
/// site was configured with for that peer (`[clone.to.PEER] destination_root`):
/// absolute, no `.`/`..` components, ending in `incoming-<id>/data` (what `stage`
/// makes), strictly below the root, and for rsync over ssh on the root's host.
/// Anything else could make this site's manager write a path of the peer's choosing.
pub(crate) fn check_destination(
    destination: &str,
    manager: ManagerKind,
    root: Option<&DestinationRoot>,
) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("refusing destination {destination:?} from the peer: {why}"));
    let Some(root) = root else {
        return bad("no destination_root is configured for this peer in [clone.to.PEER]");
    };
    if manager == ManagerKind::Globus || root.collection.is_some() {
        let Some((collection, path)) = parse_destination(destination).filter(|_| manager == ManagerKind::Globus) else {
            return bad("not a Globus destination (globus:UUID:/path) for a Globus destination_root");
        };
        if root.collection.as_deref() != Some(collection.as_str()) {
            return bad("not in the Globus collection of the configured destination_root");
        }
        return check_staging_path(std::path::Path::new(&path), &root.path).or_else(|why| bad(&why));
    }
    let (host, path) = match destination.split_once(':') {
        Some((host, path)) if manager == ManagerKind::Rsync && !destination.starts_with('/') => {
            if !plain_host(host) {
                return bad("not a plain host name");
            }
            (Some(host), path)
        }
        _ => (None, destination),
    };
    if host != root.host.as_deref() {
        return bad("not on the host of the configured destination_root");
    }
    check_staging_path(std::path::Path::new(path), &root.path).or_else(|why| bad(&why))
}

/// A staging location given by a peer that runs the original Librarian: a plain
/// local path `ROOT/…/<staging dir>/<name>` strictly below `destination_root`, where
/// `<name>` is the file's name (the original stages every file as its name inside
/// a fresh directory of its own).
fn check_original_destination(
    destination: &str,
    manager: ManagerKind,
    root: Option<&DestinationRoot>,
    name: &str,
) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("refusing destination {destination:?} from the peer: {why}"));
    let Some(root) = root.filter(|r| r.host.is_none() && r.collection.is_none()) else {
        return bad("no local destination_root is configured for this peer in [clone.to.PEER]");
    };
    if manager == ManagerKind::Globus {
        return bad("the original's staging locations are local paths");
    }
    let p = std::path::Path::new(destination);
    plain_absolute(p).or_else(&bad)?;
    let Some(dir) = destination.strip_suffix(name).and_then(|d| d.strip_suffix('/')) else {
        return bad("it does not end with the file's name");
    };
    let dir = std::path::Path::new(dir);
    if !dir.starts_with(&root.path) || dir == root.path {
        return bad("not in a staging directory below the configured destination_root");
    }
    Ok(())
}

/// `p` is a plain absolute path strictly below `root`, ending in `incoming-ID/data`.
fn check_staging_path(p: &std::path::Path, root: &std::path::Path) -> std::result::Result<(), String> {
    plain_absolute(p).map_err(str::to_owned)?;
    if !p.starts_with(root) || p == root {
        return Err("not below the configured destination_root".into());
    }
    let mut tail = p.components().rev();
    let (Some(last), Some(parent)) = (tail.next(), tail.next()) else { return Err("too short".into()) };
    let parent = parent.as_os_str().to_string_lossy();
    if last.as_os_str() != crate::store::staging::PAYLOAD || !parent.starts_with("incoming-") {
        return Err("not an incoming staging path (…/incoming-ID/data)".into());
    }
    Ok(())
}

fn batch_item(t: &Transfer, root: Option<&DestinationRoot>, fresh: bool) -> Option<BatchItem> {
    Some(BatchItem {
        transfer: t.id,
        source: t.local_path.clone()?,
        destination: t.remote_path.clone()?,
        destination_root: root.filter(|r| r.host.is_none() && r.collection.is_none()).map(|r| r.path.clone()),
        kind: t.kind,
        checksum: t.checksum.clone(),
        size: t.size,
        fresh,
    })
}

/// A fresh directory for a batch's manager files, under the site directory.
fn batch_dir(site: &Site) -> Result<PathBuf> {
    let base = site.config_path().parent().map(|p| p.join("batches")).unwrap_or_else(|| PathBuf::from("batches"));
    let dir = base.join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create batch directory", &dir, e))?;
    Ok(dir)
}

/// `[clone.to.PEER] destination_root`, parsed (validated when the config loaded).
fn destination_root(site: &Site, peer: &str) -> Result<Option<DestinationRoot>> {
    site.config().clone.to.get(peer).and_then(|t| t.destination_root.as_deref()).map(DestinationRoot::parse).transpose()
}

/// The `send-clones` task: poll running batches, then send to every `[clone.to.*]` peer.
pub(crate) fn send_clones(site: &Site) -> Result<SendReport> {
    send_clones_to(site, None)
}

/// What one batch to `peer` would hold now (`clone remote --dry-run`): nothing changes.
pub(crate) fn plan_clones(site: &Site, peer: &str) -> Result<Vec<crate::catalog::PlanItem>> {
    let cfg = &site.config().clone;
    let filter = peer_filter(site, peer)?;
    site.catalog().plan_outgoing(peer, &filter, cfg.batch_files, cfg.batch_bytes)
}

/// The files a send round may offer `peer`: its `[clone.to.PEER]` filters, or every
/// file for a peer without that table (what `clone remote --to PEER` sends). Planning
/// and the backlog `status` shows both use it.
pub(crate) fn peer_filter(site: &Site, peer: &str) -> Result<PlanFilter> {
    let to = site.config().clone.to.get(peer).cloned().unwrap_or_default();
    plan_filter(site, &to)
}

/// What a sending round would offer (`clone remote --dry-run`): for each peer it
/// would send to, the files of its next batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClonePlan {
    /// The peers a round would send to, in name order, each with its next batch.
    pub peers: Vec<PeerPlan>,
    /// Peers whose transfers are disabled: a round sends them nothing.
    pub skipped_peers: Vec<String>,
}

/// The next batch for one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPlan {
    /// The peer.
    pub peer: String,
    /// The files of its next batch, in the order they would be offered.
    pub files: Vec<crate::catalog::PlanItem>,
}

/// The peers a round sends to: `only` (configured in `[clone.to]` or not), or every
/// peer of `[clone.to]`; each must be a known peer.
fn targets(site: &Site, only: Option<&str>) -> Result<Vec<(crate::model::Peer, SendTo)>> {
    let cfg = &site.config().clone;
    let peers = crate::access::peers(site)?;
    let wanted: Vec<(String, SendTo)> = match only {
        Some(p) => vec![(p.to_owned(), cfg.to.get(p).cloned().unwrap_or_default())],
        None => cfg.to.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    wanted
        .into_iter()
        .map(|(name, to)| match peers.iter().find(|p| p.name == name) {
            Some(peer) => Ok((peer.clone(), to)),
            None => Err(Error::NotFound { kind: crate::error::ObjectKind::Peer, name }),
        })
        .collect()
}

/// Plan without sending (`clone remote --dry-run`): the next batch for `only`, or for
/// every peer of `[clone.to]`, as a round would choose them (peers whose transfers
/// are disabled are skipped); nothing changes and no peer is called.
pub(crate) fn plan_clones_to(site: &Site, only: Option<&str>) -> Result<ClonePlan> {
    let mut plan = ClonePlan::default();
    for (peer, _) in targets(site, only)? {
        if !peer.transfers_enabled {
            plan.skipped_peers.push(peer.name);
            continue;
        }
        let files = plan_clones(site, &peer.name)?;
        plan.peers.push(PeerPlan { peer: peer.name, files });
    }
    Ok(plan)
}

fn plan_filter(_site: &Site, to: &SendTo) -> Result<PlanFilter> {
    let since = match &to.max_age {
        Some(age) => {
            let d = crate::model::parse_interval(age)?;
            Some(Timestamp::now().checked_sub(d).unwrap_or(Timestamp::UNIX_EPOCH))
        }
        None => None,
    };
    Ok(PlanFilter { prefix: to.prefix.clone(), store: to.store.clone(), since })
}

/// One sending round now (`librarian clone remote`): poll running batches, then
/// send to `only` (configured in `[clone.to]` or not), or to every configured peer.
pub(crate) fn send_clones_to(site: &Site, only: Option<&str>) -> Result<SendReport> {
    let mut report = SendReport::default();
    let mut managers = Managers::new(site);
    for b in site.catalog().running_batches()? {
        poll_batch(site, &mut managers, &b, &mut report)?;
    }
    let cfg = &site.config().clone;
    let kinds = cfg.manager_kinds()?;
    // Every manager can be made (its settings and credentials read) before anything
    // is offered: a broken configuration fails the round before a peer stages.
    for kind in &kinds {
        managers.get(*kind)?;
    }
    if kinds.contains(&ManagerKind::Globus) && !globus_usable(site, &kinds, &mut report)? {
        return Ok(report);
    }
    for (peer, to) in &targets(site, only)? {
        let name = &peer.name;
        if !peer.transfers_enabled {
            report.skipped_peers.push(name.clone());
            continue;
        }
        let filter = plan_filter(site, to)?;
        // Ask first: a peer that is down gets no transfers at all this round
        // (rather than a failed transfer per file per round).
        let answer = match crate::access::peer_client(site, name).and_then(|c| c.ping()) {
            Ok(a) => a,
            Err(e) => {
                log::warn!("not sending to {name} this round: {e}");
                site.raise_event(&NewEvent {
                    severity: Severity::Warning,
                    category: Category::PeerUnreachable,
                    subject: name.clone(),
                    message: format!("cannot offer files to {name}: {e}"),
                })?;
                report.skipped_peers.push(name.clone());
                report.unreachable_peers.push(name.clone());
                continue;
            }
        };
        site.catalog().resolve_event(Category::PeerUnreachable, name, Timestamp::now())?;
        // An older peer refuses stage items with fields it does not know.
        let offer = Offer { peer: name, managers: &kinds, created_at: answer.has(STAGE_CREATED_AT) };
        let mut after = 0;
        let mut stranded_done = false;
        for _ in 0..cfg.batches_per_run {
            let round = if stranded_done {
                send_batch(site, &mut managers, &offer, &filter, &mut after, &mut report)
            } else {
                stranded_done = true;
                offer_stranded(site, &mut managers, &offer, &mut report)
                    .and_then(|_| send_batch(site, &mut managers, &offer, &filter, &mut after, &mut report))
            };
            match round {
                Ok(true) => {}
                Ok(false) => break,
                Err(e @ (Error::PeerUnreachable { .. } | Error::PeerRefused { .. })) => {
                    log::warn!("sending to {name} stopped: {e}");
                    let (severity, category) = match e {
                        Error::PeerRefused { .. } => (Severity::Error, Category::PeerRefused),
                        _ => (Severity::Warning, Category::PeerUnreachable),
                    };
                    site.raise_event(&NewEvent {
                        severity,
                        category,
                        subject: name.clone(),
                        message: format!("cannot offer files to {name}: {e}"),
                    })?;
                    report.skipped_peers.push(name.clone());
                    report.unreachable_peers.push(name.clone());
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(report)
}

/// Whether the Globus credentials work well enough to offer files this round. When
/// Globus Auth refuses them and Globus is this site's only manager, nothing is
/// offered (no batch could move) and a `needs_attention` event (subject `globus`)
/// says why; it clears when they work again. An unreachable Globus Auth does not
/// stop the round (it may be back by the time the batches start).
fn globus_usable(site: &Site, kinds: &[ManagerKind], report: &mut SendReport) -> Result<bool> {
    use crate::model::GlobusAuthState as State;
    let Some(check) = super::globus::check_credentials(site)? else { return Ok(true) };
    match check.state {
        State::Ok | State::Unreachable => {
            site.catalog().resolve_event(Category::NeedsAttention, "globus", Timestamp::now())?;
            Ok(true)
        }
        State::Refused | State::Misconfigured => {
            site.raise_event(&NewEvent {
                severity: Severity::Error,
                category: Category::NeedsAttention,
                subject: "globus".into(),
                message: format!("Globus credentials do not work: {}", check.detail),
            })?;
            report.globus_refused = true;
            Ok(kinds.len() > 1)
        }
    }
}

/// To whom and how this round offers files.
struct Offer<'a> {
    /// The peer.
    peer: &'a str,
    /// The managers this site can send with, by preference.
    managers: &'a [ManagerKind],
    /// The peer takes a stage item's `created_at` (its `ping` lists
    /// [`STAGE_CREATED_AT`]).
    created_at: bool,
}

impl Offer<'_> {
    /// The stage item offering transfer `t`.
    fn item(&self, t: &Transfer) -> StageItem {
        StageItem {
            transfer_id: t.id,
            name: t.file.to_string(),
            size: t.size,
            checksum: t.checksum.to_string(),
            kind: t.kind.as_str().to_owned(),
            uploader: t.uploader.clone(),
            source: t.source.clone(),
            created_at: t.file_created_at.filter(|_| self.created_at).map(|c| c.to_string()),
        }
    }
}

/// Plan, offer and start one batch to the peer; false when nothing is left to send.
fn send_batch(
    site: &Site,
    managers: &mut Managers<'_>,
    offer: &Offer<'_>,
    filter: &PlanFilter,
    after: &mut i64,
    report: &mut SendReport,
) -> Result<bool> {
    let cfg = &site.config().clone;
    let plan = site.catalog().plan_outgoing_after(offer.peer, filter, *after, cfg.batch_files, cfg.batch_bytes)?;
    let Some(last) = plan.last() else { return Ok(false) };
    *after = last.file_id;
    let now = Timestamp::now();
    let transfers = site.catalog().create_outgoing(offer.peer, &plan, now)?;
    if transfers.is_empty() {
        return Ok(false);
    }
    self::offer(site, managers, offer, &transfers, report)
}

/// Offer again the transfers to `peer` whose answer was never recorded (the run
/// that offered them was killed between the peer's answer and recording it). The
/// peer answers a repeated offer from its records (the same incoming transfer and
/// destination), so both sides pick up where they were, in this round, without
/// waiting for reconciliation. Returns false when there were none.
fn offer_stranded(
    site: &Site,
    managers: &mut Managers<'_>,
    offer: &Offer<'_>,
    report: &mut SendReport,
) -> Result<bool> {
    let peer = offer.peer;
    let stranded = site.catalog().stranded_outgoing(peer, site.config().clone.batch_files)?;
    if stranded.is_empty() {
        return Ok(false);
    }
    log::info!("offering {} transfer(s) to {peer} again: their answer was never recorded", stranded.len());
    self::offer(site, managers, offer, &stranded, report)
}

/// Offer `transfers` (outgoing, `initiated`) to the peer, record the answers and
/// start a batch per manager; false when the peer cannot take anything now.
fn offer(
    site: &Site,
    managers: &mut Managers<'_>,
    offer: &Offer<'_>,
    transfers: &[Transfer],
    report: &mut SendReport,
) -> Result<bool> {
    let peer = offer.peer;
    let client = crate::access::peer_client(site, peer)?;
    let req = StageRequest {
        managers: offer.managers.iter().map(|m| m.as_str().to_owned()).collect(),
        items: transfers.iter().map(|t| offer.item(t)).collect(),
    };
    report.offered += transfers.len() as u64;
    let resp = match client.stage(&req) {
        Ok(r) => r,
        Err(e) => {
            // The peer did not take the batch: these transfers end here (the
            // files are planned again next time). A stage the peer did record
            // is superseded by the next offer of the same file.
            let answers: Vec<(i64, StageAnswer)> = transfers
                .iter()
                .map(|t| (t.id, StageAnswer::Refused { code: e.code().into(), message: e.to_string() }))
                .collect();
            site.catalog().apply_stage_answers(peer, &answers, &[], &starting(), Timestamp::now())?;
            return Err(e);
        }
    };
    crate::fault::point("send.after-stage-answer");
    site.catalog().resolve_event(Category::PeerRefused, peer, Timestamp::now())?;
    let root = destination_root(site, peer)?;
    let original = client.peer().protocol == crate::model::PeerProtocol::OriginalV2;
    let mut answers = Vec::with_capacity(transfers.len());
    let mut events = Vec::new();
    for (t, r) in transfers.iter().zip(resp.items) {
        let answer = match r {
            StageResult::Accepted { transfer_id, remote_id, destination, manager } if transfer_id == t.id => {
                let checked = if original {
                    check_original_destination(&destination, manager, root.as_ref(), t.file.as_str())
                } else {
                    check_destination(&destination, manager, root.as_ref())
                };
                match checked {
                    Ok(()) => StageAnswer::Accepted { remote_id, destination, manager },
                    Err(message) => {
                        report.refused += 1;
                        StageAnswer::Refused { code: "bad_destination".into(), message }
                    }
                }
            }
            StageResult::AlreadyPresent { transfer_id, store }
                if transfer_id == t.id && crate::config::validate_store_name(&store).is_ok() =>
            {
                report.already_present += 1;
                StageAnswer::AlreadyPresent { store }
            }
            StageResult::Refused { transfer_id, code, message } if transfer_id == t.id => {
                report.refused += 1;
                // The peer's words reach the catalog and the terminal: made safe here.
                let code = crate::text::peer_code(&code);
                let message = crate::text::clean_free_text(&message, crate::text::MAX_REASON_CHARS);
                if code == "conflict" {
                    events.push(NewEvent {
                        severity: Severity::Error,
                        category: Category::Conflict,
                        subject: t.file.to_string(),
                        message: format!("{peer} holds {} with another checksum: {message}", t.file),
                    });
                }
                StageAnswer::Refused { code, message }
            }
            other => {
                report.refused += 1;
                let why = match &other {
                    StageResult::AlreadyPresent { transfer_id, store } if *transfer_id == t.id => {
                        format!("the peer names a store that is no store name: {store:?}")
                    }
                    StageResult::Accepted { transfer_id, .. }
                    | StageResult::AlreadyPresent { transfer_id, .. }
                    | StageResult::Refused { transfer_id, .. } => {
                        format!("answer out of order: it is about transfer {transfer_id}, not {}", t.id)
                    }
                };
                StageAnswer::Refused {
                    code: "bad_response".into(),
                    message: crate::text::clean_free_text(&why, crate::text::MAX_REASON_CHARS),
                }
            }
        };
        answers.push((t.id, answer));
    }
    let batches = site.catalog().apply_stage_answers(peer, &answers, &events, &starting(), Timestamp::now())?;
    // The peer cannot take anything now (no room, no common manager): stop this
    // round for it instead of offering batch after batch.
    let peer_level = |a: &StageAnswer| {
        matches!(a, StageAnswer::Refused { code, .. }
            if matches!(code.as_str(), "store_full" | "no_common_manager" | "too_many_outstanding" | "too_many_items"))
    };
    if answers.iter().all(|(_, a)| peer_level(a)) {
        log::warn!("{peer} refused a whole batch ({}); not offering more this round", answers.len());
        return Ok(false);
    }
    for (batch, kind, _) in batches {
        let items: Vec<BatchItem> =
            site.catalog().batch_transfers(batch)?.iter().filter_map(|t| batch_item(t, root.as_ref(), true)).collect();
        let save = |v: &serde_json::Value| site.catalog().set_batch_state(batch, v, Timestamp::now());
        let state = managers.get(kind)?.start(&batch_dir(site)?, &save, &items)?;
        save(&state)?;
        report.batches_started += 1;
        let row = BatchRow { id: batch, peer: peer.to_owned(), manager: kind, state, attempts: 1 };
        poll_batch(site, managers, &row, report)?;
    }
    Ok(true)
}

/// A running batch none of whose transfers is still going (the operator cancelled
/// its last one) is stopped: its manager cancels it (the rsync processes killed, the
/// Globus tasks cancelled) and it is recorded as failed.
pub(crate) fn stop_batch_if_cancelled(site: &Site, batch: i64) -> Result<()> {
    match site.catalog().running_batches()?.into_iter().find(|b| b.id == batch) {
        Some(b) if is_started(&b) && !site.catalog().batch_has_ongoing(batch)? => {
            stop_batch(site, &b, manager_for(site, b.manager)?.as_ref())
        }
        _ => Ok(()),
    }
}

/// Whether a batch's manager has started it (its state is the manager's, not the
/// placeholder of a run that is starting it).
fn is_started(b: &BatchRow) -> bool {
    b.state.get("starting").is_none() && !b.state.is_null()
}

/// Stop batch `b`, none of whose transfers is still going: its manager cancels it and
/// it is recorded as failed; when the manager cannot, a `needs_attention` event says
/// so and the next poll tries again.
fn stop_batch(site: &Site, b: &BatchRow, manager: &dyn AsyncTransferManager) -> Result<()> {
    let batch = b.id;
    if let Err(e) = manager.cancel(&b.state) {
        log::warn!("cannot stop batch {batch} ({}): {e}", b.manager);
        site.raise_event(&NewEvent {
            severity: Severity::Error,
            category: Category::NeedsAttention,
            subject: format!("{}/batch {batch}", b.peer),
            message: format!(
                "batch {batch} to {} was cancelled but its {} transfer could not be stopped: {e}",
                b.peer, b.manager
            ),
        })?;
        return Ok(());
    }
    site.catalog().finish_batch(batch, &[], true, Timestamp::now())
}

/// Check a running batch: finish it, restart it, or leave it running.
fn poll_batch(site: &Site, managers: &mut Managers<'_>, b: &BatchRow, report: &mut SendReport) -> Result<()> {
    let manager = managers.get(b.manager)?;
    let now = Timestamp::now();
    let save = |v: &serde_json::Value| site.catalog().set_batch_state(b.id, v, Timestamp::now());
    let subject = format!("{}/batch {}", b.peer, b.id);
    // Recorded, but not started yet: the run that starts it is still at it (leave
    // it), or died first (start it again).
    let mut state = b.state.clone();
    // Every transfer of the batch was cancelled, but stopping it failed before: again.
    if is_started(b) && !site.catalog().batch_has_ongoing(b.id)? {
        return stop_batch(site, b, manager);
    }
    let progress = match b.state.get("starting") {
        Some(who) => {
            let alive = who.as_str().and_then(crate::process::ProcessId::parse).is_some_and(|p| !p.is_gone());
            if alive {
                report.running += 1;
                return Ok(());
            }
            BatchProgress::Failed("the run that was to start the batch stopped before it did".into())
        }
        None if b.state.is_null() => {
            BatchProgress::Failed("the run that was to start the batch stopped before it did".into())
        }
        None => {
            let p = manager.poll(&mut state, &save)?;
            if state != b.state {
                save(&state)?;
            }
            p
        }
    };
    if !matches!(progress, BatchProgress::NeedsAttention(_) | BatchProgress::Unknown(_)) {
        site.catalog().resolve_event(Category::NeedsAttention, &subject, now)?;
    }
    match progress {
        BatchProgress::Running => report.running += 1,
        BatchProgress::NeedsAttention(why) => {
            log::warn!("batch {} to {} needs attention: {why}", b.id, b.peer);
            site.raise_event(&NewEvent {
                severity: Severity::Error,
                category: Category::NeedsAttention,
                subject,
                message: format!("batch {} to {} ({}) is stuck: {why}", b.id, b.peer, b.manager),
            })?;
            report.running += 1;
            report.stalled_batches.push(b.id);
        }
        BatchProgress::Unknown(why) => {
            log::warn!("cannot tell how batch {} to {} is doing; asking again next round: {why}", b.id, b.peer);
            report.running += 1;
            report.stalled_batches.push(b.id);
        }
        BatchProgress::Done => {
            let failed = manager.failed_items(&state);
            let total = site.catalog().batch_transfers(b.id)?.len() as u64;
            report.failed += failed.len() as u64;
            report.staged += total.saturating_sub(failed.len() as u64);
            site.catalog().finish_batch(b.id, &failed, false, now)?;
            if let Some((_, why)) = failed.first() {
                site.raise_event(&NewEvent {
                    severity: Severity::Error,
                    category: Category::TransferFailed,
                    subject: format!("{}/batch {}", b.peer, b.id),
                    message: format!(
                        "{} of {total} transfers of batch {} to {} failed (the files will be planned again); first: {why}",
                        failed.len(),
                        b.id,
                        b.peer
                    ),
                })?;
            }
        }
        BatchProgress::Failed(why) => {
            let transfers = site.catalog().batch_transfers(b.id)?;
            if b.attempts < site.config().clone.max_batch_attempts {
                log::warn!("batch {} to {} failed (attempt {}), starting it again: {why}", b.id, b.peer, b.attempts);
                let root = destination_root(site, &b.peer)?;
                let items: Vec<BatchItem> =
                    transfers.iter().filter_map(|t| batch_item(t, root.as_ref(), false)).collect();
                let state = manager.start(&batch_dir(site)?, &save, &items)?;
                site.catalog().restart_batch(b.id, &state, now)?;
                report.running += 1;
            } else {
                let failed: Vec<(i64, String)> = transfers.iter().map(|t| (t.id, why.clone())).collect();
                report.failed += failed.len() as u64;
                site.catalog().finish_batch(b.id, &failed, true, now)?;
                site.raise_event(&NewEvent {
                    severity: Severity::Error,
                    category: Category::TransferFailed,
                    subject: format!("{}/batch {}", b.peer, b.id),
                    message: format!(
                        "batch {} of {} transfers to {} failed {} times and was given up (the files will be planned again): {why}",
                        b.id,
                        failed.len(),
                        b.peer,
                        b.attempts
                    ),
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_original_peers_staging_location_must_be_its_own_directory_below_the_root_ending_with_the_name() {
        let root = DestinationRoot { host: None, collection: None, path: PathBuf::from("/srv/b/staging") };
        let ok = |d: &str, name: &str| check_original_destination(d, ManagerKind::Local, Some(&root), name);
        assert_eq!(ok("/srv/b/staging/0d3c/a/b.dat", "a/b.dat"), Ok(()));
        for (d, name) in [
            ("/srv/b/staging/a/b.dat", "a/b.dat"),       // no staging directory of its own
            ("/srv/b/other/0d3c/a/b.dat", "a/b.dat"),    // outside the root
            ("/srv/b/staging/../x/0d3c/b.dat", "b.dat"), // not plain
            ("/srv/b/staging/0d3c/c.dat", "b.dat"),      // another name
            ("relative/0d3c/b.dat", "b.dat"),
            ("/srv/b/staging/0d3cb.dat", "b.dat"),
        ] {
            assert!(ok(d, name).is_err(), "{d}");
        }
        assert!(check_original_destination("/srv/b/staging/u/b", ManagerKind::Local, None, "b").is_err());
        let remote = DestinationRoot { host: Some("h".into()), collection: None, path: PathBuf::from("/srv") };
        assert!(check_original_destination("/srv/u/b", ManagerKind::Rsync, Some(&remote), "b").is_err());
    }

    #[test]
    fn only_fresh_staging_paths_below_the_root_are_accepted_as_destinations() {
        let local = DestinationRoot::parse("/srv/b").unwrap();
        let remote = DestinationRoot::parse("b.example.org:/srv").unwrap();
        let user = DestinationRoot::parse("user@b-1.example:/s").unwrap();
        for (dest, manager, root) in [
            ("/srv/b/stores/main/staging/incoming-0193/data", ManagerKind::Local, &local),
            ("/srv/b/incoming-1/data", ManagerKind::Rsync, &local),
            ("b.example.org:/srv/staging/incoming-1/data", ManagerKind::Rsync, &remote),
            ("user@b-1.example:/s/incoming-x/data", ManagerKind::Rsync, &user),
        ] {
            assert_eq!(check_destination(dest, manager, Some(root)), Ok(()), "{dest}");
        }
        for (dest, manager, root) in [
            ("/srv/a/stores/main/data", ManagerKind::Local, &local),
            ("/srv/bb/incoming-1/data", ManagerKind::Local, &local),
            ("/srv/other/incoming-1/data", ManagerKind::Local, &local),
            ("/home/a/incoming-1/data", ManagerKind::Local, &local),
            ("/", ManagerKind::Local, &local),
            ("relative/incoming-1/data", ManagerKind::Local, &local),
            ("/srv/b/incoming-1/../../etc/data", ManagerKind::Local, &local),
            ("/srv/b/x/incoming-1/data/..", ManagerKind::Local, &local),
            ("-oProxyCommand=evil:/s/incoming-1/data", ManagerKind::Rsync, &user),
            ("host with space:/s/incoming-1/data", ManagerKind::Rsync, &user),
            ("b:/srv/b/incoming-1/data", ManagerKind::Local, &local),
            ("localhost:/srv/incoming-1/data", ManagerKind::Rsync, &remote),
            ("b.example.org:/srv/staging/incoming-1/data", ManagerKind::Rsync, &local),
            ("/srv/staging/incoming-1/data", ManagerKind::Rsync, &remote),
            ("/srv/b/staging/other-1/data", ManagerKind::Local, &local),
        ] {
            assert!(check_destination(dest, manager, Some(root)).is_err(), "{dest}");
        }
        assert!(check_destination("/srv/b/incoming-1/data", ManagerKind::Local, None).is_err(), "no root, no send");
        // Globus: only the configured collection, below the configured path.
        let c = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb";
        let other = "cccccccc-2222-4222-8222-bbbbbbbbbbbb";
        let globus = DestinationRoot::parse(&format!("globus:{c}:/main/staging")).unwrap();
        let good = format!("globus:{c}:/main/staging/incoming-01/data");
        assert_eq!(check_destination(&good, ManagerKind::Globus, Some(&globus)), Ok(()));
        for bad in [
            format!("globus:{other}:/main/staging/incoming-01/data"),
            format!("globus:{c}:/main/data/incoming-01/data"),
            format!("globus:{c}:/main/staging/../data/incoming-1/data"),
            format!("globus:{c}:main/staging/incoming-1/data"),
            format!("globus:{c}:/main/staging/incoming-1/other"),
            format!("globus:{c}:/main/staging"),
            "globus:not-a-uuid:/main/staging/incoming-1/data".to_owned(),
            "/main/staging/incoming-1/data".to_owned(),
        ] {
            assert!(check_destination(&bad, ManagerKind::Globus, Some(&globus)).is_err(), "{bad}");
        }
        // A Globus destination never goes to a local or ssh root, nor the reverse.
        assert!(check_destination(&good, ManagerKind::Globus, Some(&local)).is_err());
        assert!(check_destination("/main/staging/incoming-1/data", ManagerKind::Local, Some(&globus)).is_err());
        assert!(check_destination(&good, ManagerKind::Rsync, Some(&globus)).is_err());
        for bad in ["globus:x:/s", "globus:/s", &format!("globus:{c}:rel"), &format!("globus:{c}:/a/../b")] {
            assert!(DestinationRoot::parse(bad).is_err(), "{bad}");
        }
        for bad in ["relative", "/srv/../etc", "-x:/srv", "h:relative", ""] {
            assert!(DestinationRoot::parse(bad).is_err(), "{bad}");
        }
    }
}
