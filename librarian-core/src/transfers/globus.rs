//! The Globus transfer manager: a batch becomes one Globus transfer task per
//! (source collection, destination collection) pair and per `items_per_task` items.
//!
//! # Never two tasks for one batch
//!
//! Each task's submission id is obtained from Globus and **saved in the catalog**
//! (the batch state) before the document is posted; the task id is saved after.
//! After a crash or a lost answer between the two, the next poll posts the very same
//! document (kept in the state) with the same submission id, and Globus answers
//! `Duplicate` with the original task: one task per batch, however often a process
//! dies. (HTTP-level retries of a lost answer are covered the same way.)
//!
//! # Polling
//!
//! One `GET /task/ID` per unfinished task per poll (cost proportional to tasks, not
//! files). `SUCCEEDED` → the task's transfers are staged; `FAILED` → they fail with
//! the task's `fatal_error` and a summary of its error events; `ACTIVE` with faults
//! is still running (Globus retries them); `INACTIVE` is
//! [`BatchProgress::NeedsAttention`]; a task running longer than `max_task_age` is
//! cancelled, read again (it may have succeeded meanwhile) and failed. A batch whose
//! every task failed is [`BatchProgress::Failed`] (started again per
//! `max_batch_attempts`); with some tasks succeeded, only the failed tasks'
//! transfers fail ([`AsyncTransferManager::failed_items`]). An outage of Globus Auth
//! or Transfer is [`BatchProgress::Unknown`]: nothing is failed for it.
//!
//! # Paths
//!
//! A source instance is reached through the collection of its store
//! (`[globus.stores.NAME]`, `collection_root` being the collection's base path on
//! this host); the destination is what the receiver gave: `globus:UUID:/path`, a
//! fresh staging path in its collection: the first attempt uses sync level `exists`
//! there, a restart after a failed attempt `checksum` (partial files are replaced,
//! complete ones kept). Books
//! (directories, decided from the local object) are sent recursively with trailing
//! `/` on both paths.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::manager::{AsyncTransferManager, BatchItem, BatchProgress, SaveState};
use crate::config::{GlobusConfig, StoreCollection};
use crate::error::{Error, Result};
use crate::globus::wire::{Task, TaskStatus, TransferDocument, TransferItem};
use crate::globus::{GlobusClient, GlobusError};
use crate::model::{FileKind, ManagerKind};

/// The version of [`GlobusState`].
const STATE_VERSION: u32 = 1;
/// Globus sync level `exists`: a file already at the destination is skipped.
const SYNC_EXISTS: u8 = 0;
/// Globus sync level `checksum`: a file is sent when the checksums differ.
const SYNC_CHECKSUM: u8 = 3;
/// Error events quoted in a failure.
const EVENTS_QUOTED: usize = 10;

/// A `globus:UUID:/path` destination (or destination root): the collection and the
/// path in it.
pub(crate) fn parse_destination(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("globus:")?;
    let (collection, path) = rest.split_once(':')?;
    let collection = uuid::Uuid::parse_str(collection).ok()?.hyphenated().to_string();
    Some((collection, path.to_owned()))
}

/// A destination for the collection `collection` and its path `path`.
pub(crate) fn format_destination(collection: &str, path: &str) -> String {
    format!("globus:{collection}:{path}")
}

/// A (source, destination) pair of collection UUIDs: items between the same pair
/// can share a task.
type Collections = (String, String);

/// How one task of the batch ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Succeeded,
    Failed(String),
}

/// One Globus task of the batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskState {
    /// The transfers it moves.
    transfers: Vec<i64>,
    /// The document (its `submission_id` set once obtained): resubmitted unchanged.
    document: TransferDocument,
    /// Saved before the document is first posted.
    #[serde(default)]
    submission_id: Option<String>,
    /// Saved once Globus answered the submission.
    #[serde(default)]
    task_id: Option<String>,
    /// When it was first posted.
    #[serde(default)]
    submitted_at: Option<Timestamp>,
    /// How it ended (none while running).
    #[serde(default)]
    outcome: Option<Outcome>,
}

/// A Globus batch's persisted state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GlobusState {
    globus: u32,
    tasks: Vec<TaskState>,
    /// Items that could not be submitted at all (transfer id, why).
    #[serde(default)]
    failed: Vec<(i64, String)>,
}

impl GlobusState {
    fn from_value(v: &serde_json::Value) -> Result<Self> {
        let s: GlobusState = serde_json::from_value(v.clone())
            .map_err(|e| Error::corrupt("a globus batch state in the catalog", e.to_string()))?;
        if s.globus != STATE_VERSION {
            return Err(Error::corrupt("a globus batch state in the catalog", format!("version {}", s.globus)));
        }
        Ok(s)
    }

    fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::internal(format!("cannot encode a globus batch state: {e}")))
    }
}

/// The Globus manager of a site.
#[derive(Debug)]
pub struct GlobusManager {
    client: GlobusClient,
    cfg: GlobusConfig,
    /// Each store's data area with the collection that shows it.
    sources: Vec<(PathBuf, StoreCollection)>,
}

impl GlobusManager {
    /// A manager with `client`, for `cfg`; `sources` are the stores' data areas and
    /// their collections.
    pub(crate) fn new(client: GlobusClient, cfg: GlobusConfig, sources: Vec<(PathBuf, StoreCollection)>) -> Self {
        GlobusManager { client, cfg, sources }
    }

    /// The source collection and path of a local instance.
    fn source_of(&self, path: &Path) -> std::result::Result<(String, String), String> {
        let Some((_, c)) = self.sources.iter().find(|(root, _)| path.starts_with(root)) else {
            return Err(format!(
                "{} is on no store with a Globus collection ([globus.stores.NAME] in librarian.toml)",
                path.display()
            ));
        };
        let p = c.collection_path(path).ok_or_else(|| {
            format!("{} is not below the collection root {} of its store", path.display(), c.root().display())
        })?;
        Ok((c.collection.clone(), p))
    }

    /// The tasks for `items` (no ids yet) and the items that cannot be sent.
    fn plan(&self, items: &[BatchItem]) -> (Vec<TaskState>, Vec<(i64, String)>) {
        let mut failed = Vec::new();
        // (source collection, destination collection) → items, in order.
        let mut groups: Vec<(Collections, Vec<(i64, TransferItem)>)> = Vec::new();
        // Into fresh staging paths, what is there already is this attempt's own
        // (`exists`); after a failed attempt, what differs is sent again (`checksum`).
        let sync_level = if items.iter().all(|i| i.fresh) { SYNC_EXISTS } else { SYNC_CHECKSUM };
        for item in items {
            match self.transfer_item(item) {
                Ok((key, ti)) => match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push((item.transfer, ti)),
                    None => groups.push((key, vec![(item.transfer, ti)])),
                },
                Err(why) => failed.push((item.transfer, why)),
            }
        }
        let deadline = self.cfg.deadline().ok().flatten().and_then(|d| Timestamp::now().checked_add(d).ok());
        let mut tasks = Vec::new();
        for ((src, dst), items) in groups {
            let parts = items.len().div_ceil(self.cfg.items_per_task());
            for (k, chunk) in items.chunks(self.cfg.items_per_task()).enumerate() {
                let first = chunk.first().map_or(0, |c| c.0);
                let last = chunk.last().map_or(0, |c| c.0);
                let label = if parts > 1 {
                    format!("librarian transfers {first} to {last}, part {} of {parts}", k + 1)
                } else {
                    format!("librarian transfers {first} to {last}")
                };
                tasks.push(TaskState {
                    transfers: chunk.iter().map(|c| c.0).collect(),
                    document: TransferDocument {
                        data_type: "transfer".into(),
                        submission_id: String::new(),
                        source_endpoint: src.clone(),
                        destination_endpoint: dst.clone(),
                        label,
                        sync_level,
                        verify_checksum: true,
                        preserve_timestamp: true,
                        encrypt_data: self.cfg.encrypt_data,
                        notify_on_succeeded: false,
                        notify_on_failed: false,
                        skip_source_errors: false,
                        fail_on_quota_errors: true,
                        deadline: deadline.map(globus_time),
                        data: chunk.iter().map(|c| c.1.clone()).collect(),
                    },
                    submission_id: None,
                    task_id: None,
                    submitted_at: None,
                    outcome: None,
                });
            }
        }
        (tasks, failed)
    }

    /// The document item for `item`, with its (source, destination) collections.
    fn transfer_item(&self, item: &BatchItem) -> std::result::Result<(Collections, TransferItem), String> {
        let (dst, dst_path) = parse_destination(&item.destination)
            .ok_or_else(|| format!("{:?} is not a Globus destination (globus:UUID:/path)", item.destination))?;
        let (src, src_path) = self.source_of(&item.source)?;
        // Decided from the object itself, never from the catalog alone.
        let meta = std::fs::symlink_metadata(&item.source)
            .map_err(|e| format!("cannot read the source {}: {e}", item.source.display()))?;
        let recursive = match (meta.file_type(), item.kind) {
            (t, FileKind::Directory) if t.is_dir() => true,
            (t, FileKind::File) if t.is_file() => false,
            _ => {
                return Err(format!(
                    "the source {} is not the {} the catalog says",
                    item.source.display(),
                    item.kind.as_str()
                ));
            }
        };
        let slash = |p: String| if recursive && !p.ends_with('/') { format!("{p}/") } else { p };
        Ok((
            (src, dst),
            TransferItem {
                data_type: "transfer_item".into(),
                source_path: slash(src_path),
                destination_path: slash(dst_path),
                recursive,
            },
        ))
    }

    /// Obtain a submission id for every task without one and post every task that
    /// has one but no task id, saving the state after each step. Returns the last
    /// error that leaves a task waiting (service down, credentials refused).
    fn submit_pending(&self, s: &mut GlobusState, save: SaveState<'_>) -> Result<Option<GlobusError>> {
        let mut trouble = None;
        for k in 0..s.tasks.len() {
            if s.tasks[k].outcome.is_some() || s.tasks[k].task_id.is_some() {
                continue;
            }
            if s.tasks[k].submission_id.is_none() {
                match self.client.submission_id() {
                    Ok(id) => {
                        s.tasks[k].document.submission_id.clone_from(&id);
                        s.tasks[k].submission_id = Some(id);
                        // Saved before it is ever used: a resubmission is a duplicate.
                        save(&s.to_value()?)?;
                        crate::fault::point("globus.before-submit");
                    }
                    Err(e) => {
                        log::warn!("cannot obtain a Globus submission id: {e}");
                        trouble = Some(e);
                        continue;
                    }
                }
            }
            let t = &mut s.tasks[k];
            match self.client.submit(&t.document) {
                Ok(r) => {
                    crate::fault::point("globus.after-submit");
                    if r.submission_id.as_deref().is_some_and(|id| id != t.document.submission_id) {
                        log::warn!(
                            "Globus answered submission {} about submission {:?}",
                            t.document.submission_id,
                            r.submission_id
                        );
                    }
                    if r.code == "Duplicate" {
                        log::info!("Globus already had submission {}: task {}", t.document.submission_id, r.task_id);
                    }
                    t.task_id = Some(r.task_id);
                    t.submitted_at.get_or_insert_with(Timestamp::now);
                    save(&s.to_value()?)?;
                }
                Err(GlobusError::Refused { status, code, message }) => {
                    t.outcome = Some(Outcome::Failed(format!(
                        "Globus refused the transfer task (HTTP {status}, {code}): {message}"
                    )));
                    save(&s.to_value()?)?;
                }
                Err(e) => {
                    log::warn!("cannot submit a Globus task (it will be submitted again): {e}");
                    trouble = Some(e);
                }
            }
        }
        Ok(trouble)
    }

    /// Why a FAILED task failed: its fatal error and its error events.
    fn failure(&self, task: &Task) -> String {
        let mut why = match &task.fatal_error {
            Some(f) => format!(
                "Globus task {} FAILED: {}: {}",
                task.task_id,
                crate::text::service_code(&f.code),
                crate::text::clean_free_text(&f.description, 300)
            ),
            None => format!("Globus task {} FAILED", task.task_id),
        };
        if !task.history_deleted
            && let Ok((events, total)) = self.client.error_events(&task.task_id, EVENTS_QUOTED)
            && !events.is_empty()
        {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for e in events.iter().filter(|e| e.is_error) {
                let code = crate::text::service_code(&e.code);
                match counts.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((code, 1)),
                }
            }
            let list: Vec<String> = counts.iter().map(|(c, n)| format!("{c} x{n}")).collect();
            why.push_str(&format!("; error events ({} in all): {}", total.max(events.len() as u64), list.join(", ")));
            if let Some(e) = events.iter().find(|e| e.is_error && e.description.is_some()) {
                let when = e.time.map(|t| format!(" at {t}")).unwrap_or_default();
                let d = e.description.as_deref().unwrap_or_default();
                why.push_str(&format!("; latest{when}: {}", crate::text::clean_free_text(d, 200)));
            }
        }
        crate::text::clean_free_text(&why, crate::text::MAX_REASON_CHARS)
    }

    /// Cancel a task that ran too long, read it again (it may have finished
    /// meanwhile) and say how it ended.
    fn give_up(&self, id: &str, age: jiff::SignedDuration) -> std::result::Result<Outcome, GlobusError> {
        let code = self.client.cancel(id)?;
        log::warn!("cancelled Globus task {id} after {age:#}: {code}");
        let task = self.client.task(id)?;
        Ok(match task.status {
            TaskStatus::Succeeded => Outcome::Succeeded,
            _ => Outcome::Failed(format!(
                "Globus task {id} was cancelled after running {} (longer than globus.max_task_age)",
                crate::model::format_interval(age)
            )),
        })
    }
}

/// Whether the site's Globus credentials work: `None` without a `[globus]` table.
pub(crate) fn check_credentials(site: &crate::site::Site) -> Result<Option<crate::model::GlobusCheck>> {
    let Some(cfg) = site.config().globus.as_ref() else { return Ok(None) };
    use crate::model::GlobusAuthState as State;
    let check = |state: State, detail: String| crate::model::GlobusCheck {
        ok: state == State::Ok,
        state,
        auth_url: cfg.auth_base().to_owned(),
        client_id: cfg.client_id.clone(),
        detail,
    };
    let tls = crate::peer::ClientTls::load(&site.config().client, site.config_path())?;
    let client = match GlobusClient::new(cfg, site.config_path(), &tls) {
        Ok(c) => c,
        Err(e) => return Ok(Some(check(State::Misconfigured, e.to_string()))),
    };
    Ok(Some(match client.check_credentials() {
        Ok(()) => check(State::Ok, "a Transfer token was obtained".into()),
        Err(e @ GlobusError::Credentials(_)) => check(State::Refused, e.to_string()),
        Err(e) => check(State::Unreachable, e.to_string()),
    }))
}

/// A time as Globus writes it: `2026-12-03T10:00:00+00:00`.
fn globus_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

impl AsyncTransferManager for GlobusManager {
    fn kind(&self) -> ManagerKind {
        ManagerKind::Globus
    }

    fn start(&self, _work_dir: &Path, save: SaveState<'_>, items: &[BatchItem]) -> Result<serde_json::Value> {
        let (tasks, failed) = self.plan(items);
        for (id, why) in &failed {
            log::warn!("globus transfer {id} cannot be sent: {why}");
        }
        let mut s = GlobusState { globus: STATE_VERSION, tasks, failed };
        self.submit_pending(&mut s, save)?;
        s.to_value()
    }

    fn poll(&self, state: &mut serde_json::Value, save: SaveState<'_>) -> Result<BatchProgress> {
        let mut s = GlobusState::from_value(state)?;
        let mut trouble = self.submit_pending(&mut s, save)?;
        let mut attention = Vec::new();
        let max_age = self.cfg.max_task_age()?;
        let mut changed = false;
        for t in s.tasks.iter_mut().filter(|t| t.outcome.is_none()) {
            let Some(id) = t.task_id.clone() else { continue };
            let task = match self.client.task(&id) {
                Ok(task) => task,
                Err(GlobusError::Refused { status: 404, code, .. }) => {
                    t.outcome = Some(Outcome::Failed(format!("Globus does not know task {id} ({code})")));
                    changed = true;
                    continue;
                }
                Err(GlobusError::Refused { status, code, message }) => {
                    attention.push(format!("Globus refuses to show task {id} (HTTP {status}, {code}): {message}"));
                    continue;
                }
                Err(e) => {
                    trouble = Some(e);
                    continue;
                }
            };
            log::debug!(
                "Globus task {id}: {:?} {}, {} files, {} bytes, {} faults",
                task.status,
                task.nice_status.as_deref().unwrap_or(""),
                task.files_transferred,
                task.bytes_transferred,
                task.faults
            );
            match task.status {
                TaskStatus::Succeeded => {
                    if let Some(done) = task.completion_time {
                        log::info!("Globus task {id} succeeded at {done}: {} bytes", task.bytes_transferred);
                    }
                    t.outcome = Some(Outcome::Succeeded);
                }
                TaskStatus::Failed => t.outcome = Some(Outcome::Failed(self.failure(&task))),
                TaskStatus::Inactive => attention.push(format!(
                    "Globus task {id} is INACTIVE ({}): it will not continue until resumed (renew the \
                     collection's credentials or consent, or resume it in Globus)",
                    crate::text::clean_free_text(task.nice_status.as_deref().unwrap_or("no reason given"), 100)
                )),
                TaskStatus::Active | TaskStatus::Other => {
                    let since = task.request_time.or(t.submitted_at).unwrap_or_else(Timestamp::now);
                    let age = Timestamp::now().duration_since(since);
                    if age > max_age {
                        match self.give_up(&id, age) {
                            Ok(o) => t.outcome = Some(o),
                            Err(e) => trouble = Some(e),
                        }
                    } else {
                        crate::fault::point("globus.task-active");
                    }
                }
            }
            changed |= t.outcome.is_some();
        }
        if changed {
            save(&s.to_value()?)?;
        }
        *state = s.to_value()?;
        if s.tasks.iter().all(|t| t.outcome.is_some()) {
            let failures: Vec<&str> = s
                .tasks
                .iter()
                .filter_map(|t| match &t.outcome {
                    Some(Outcome::Failed(why)) => Some(why.as_str()),
                    _ => None,
                })
                .collect();
            if !s.tasks.is_empty() && failures.len() == s.tasks.len() {
                return Ok(BatchProgress::Failed(failures.join("; ")));
            }
            return Ok(BatchProgress::Done);
        }
        Ok(match trouble {
            Some(GlobusError::Credentials(m)) => BatchProgress::NeedsAttention(m),
            _ if !attention.is_empty() => BatchProgress::NeedsAttention(attention.join("; ")),
            Some(e) => BatchProgress::Unknown(e.to_string()),
            None => BatchProgress::Running,
        })
    }

    fn cancel(&self, state: &serde_json::Value) -> Result<()> {
        let s = GlobusState::from_value(state)?;
        let unreachable = |e: GlobusError, what: String| Error::PeerUnreachable {
            peer: "globus".into(),
            detail: format!("cannot cancel {what}: {e}"),
        };
        for t in s.tasks.iter().filter(|t| t.outcome.is_none()) {
            let id = match (&t.task_id, &t.submission_id) {
                (Some(id), _) => id.clone(),
                // Posted, but killed before its task id was saved: posting the same
                // document again answers with that task (Duplicate) so it can be
                // cancelled; had it never arrived, the new task is cancelled at once.
                (None, Some(sub)) => {
                    self.client.submit(&t.document).map_err(|e| unreachable(e, format!("submission {sub}")))?.task_id
                }
                (None, None) => continue,
            };
            let code = self.client.cancel(&id).map_err(|e| unreachable(e, format!("Globus task {id}")))?;
            log::info!("cancelled Globus task {id}: {code}");
        }
        Ok(())
    }

    fn failed_items(&self, state: &serde_json::Value) -> Vec<(i64, String)> {
        let Ok(s) = GlobusState::from_value(state) else { return Vec::new() };
        let mut out = s.failed.clone();
        for t in &s.tasks {
            if let Some(Outcome::Failed(why)) = &t.outcome {
                out.extend(t.transfers.iter().map(|id| (*id, why.clone())));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_only_with_a_uuid_and_keep_their_path() {
        let u = "b8872740-7edc-11ec-9f33-ed182a728dff";
        assert_eq!(
            parse_destination(&format!("globus:{u}:/s/a b/incoming-1/data")),
            Some((u.into(), "/s/a b/incoming-1/data".into()))
        );
        assert_eq!(parse_destination("globus:nope:/x"), None);
        assert_eq!(parse_destination(&format!("rsync:{u}:/x")), None);
        assert_eq!(parse_destination(&format_destination(u, "/p")), Some((u.into(), "/p".into())));
        assert_eq!(globus_time(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
    }
}
