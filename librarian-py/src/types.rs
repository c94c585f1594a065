//! Frozen Python views of the core's result types. Attributes are read-only and
//! converted on access: times to timezone-aware `datetime` (UTC), paths to
//! `pathlib.Path`, checksums and enums to their text form, JSON to Python objects.

use std::path::Path;

use jiff::Timestamp;
use librarian_core::PlanItem;
use librarian_core::{
    Account, CheckStatus, DeliveryReport, Event, File, Instance, InstanceCheck, LocalCloneReport, OutboxCall, Peer,
    RemoteInstance, SiteStatus, StoreStatus, TaskOutcome, VerifyReport,
};
use librarian_core::{DriveProblem, DriveReport, ExportReport, ImportReport};
use librarian_core::{SendReport, Transfer};
use pyo3::prelude::*;

/// Python `repr()` of a string (single quotes, escapes), for `__repr__`s.
fn r(py: Python<'_>, s: &str) -> String {
    pyo3::types::PyString::new(py, s).repr().map(|o| o.to_string()).unwrap_or_else(|_| format!("{s:?}"))
}

fn rp(py: Python<'_>, p: &Path) -> String {
    r(py, &p.to_string_lossy())
}

/// A catalogued file or book (design §2, "File").
#[pyclass(frozen, eq, module = "librarian", name = "File")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyFile(pub File);

#[pymethods]
impl PyFile {
    /// Unique name in the site's namespace.
    #[getter]
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    /// Size in bytes (sum of the entries for a book).
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// Checksum text, e.g. `blake3:<64 hex>`.
    #[getter]
    fn checksum(&self) -> String {
        self.0.checksum.to_string()
    }
    /// `"file"` or `"directory"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// Who uploaded it.
    #[getter]
    fn uploader(&self) -> String {
        self.0.uploader.clone()
    }
    /// The site it came from.
    #[getter]
    fn source(&self) -> String {
        self.0.source.clone()
    }
    /// When it was created (UTC) at its origin, the site that first ingested it; a
    /// clone or a drive keeps it. Never later than `arrived_at`.
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// When it was catalogued at this site (UTC): `created_at` for a file ingested
    /// here, its arrival for one that came from another site.
    #[getter]
    fn arrived_at(&self) -> Timestamp {
        self.0.arrived_at
    }
    /// Local copies.
    #[getter]
    fn instances(&self) -> Vec<PyInstance> {
        self.0.instances.iter().cloned().map(PyInstance).collect()
    }
    /// Copies known to exist at other Librarians.
    #[getter]
    fn remote_instances(&self) -> Vec<PyRemoteInstance> {
        self.0.remote_instances.iter().cloned().map(PyRemoteInstance).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "File(name={}, size={}, kind={}, checksum={}, created_at={})",
            r(py, self.0.name.as_str()),
            self.0.size,
            r(py, self.0.kind.as_str()),
            r(py, &self.0.checksum.to_string()),
            r(py, &self.0.created_at.to_string()),
        )
    }
}

/// A copy of a file on a local store (design §2, "Instance").
#[pyclass(frozen, eq, module = "librarian", name = "Instance")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyInstance(pub Instance);

#[pymethods]
impl PyInstance {
    /// Instance id.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id.0
    }
    /// Store name.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Absolute path of the copy (`pathlib.Path`).
    #[getter]
    fn path(&self) -> &Path {
        &self.0.path
    }
    /// Whether the copy is readable.
    #[getter]
    fn available(&self) -> bool {
        self.0.available
    }
    /// `"allowed"` or `"disallowed"`.
    #[getter]
    fn deletion_policy(&self) -> &'static str {
        self.0.deletion_policy.as_str()
    }
    /// When the copy was made (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// When it was last re-read and found intact (UTC), or `None`.
    #[getter]
    fn verified_at(&self) -> Option<Timestamp> {
        self.0.verified_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Instance(id={}, store={}, path={}, available={}, deletion_policy={})",
            self.0.id.0,
            r(py, &self.0.store),
            rp(py, &self.0.path),
            if self.0.available { "True" } else { "False" },
            r(py, self.0.deletion_policy.as_str()),
        )
    }
}

/// A copy of a file at another Librarian (design §2, "RemoteInstance").
#[pyclass(frozen, eq, module = "librarian", name = "RemoteInstance")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyRemoteInstance(pub RemoteInstance);

#[pymethods]
impl PyRemoteInstance {
    /// The other site.
    #[getter]
    fn librarian(&self) -> String {
        self.0.librarian.clone()
    }
    /// Its store.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// When it was copied there (UTC).
    #[getter]
    fn copied_at(&self) -> Timestamp {
        self.0.copied_at
    }
    /// When it was last verified there (UTC), or `None`.
    #[getter]
    fn verified_at(&self) -> Option<Timestamp> {
        self.0.verified_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RemoteInstance(librarian={}, store={}, copied_at={})",
            r(py, &self.0.librarian),
            r(py, &self.0.store),
            r(py, &self.0.copied_at.to_string()),
        )
    }
}

/// A store with its usage.
#[pyclass(frozen, eq, module = "librarian", name = "Store")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyStore(pub StoreStatus);

#[pymethods]
impl PyStore {
    /// Store name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// Data area.
    #[getter]
    fn root(&self) -> &Path {
        &self.0.root
    }
    /// Staging area.
    #[getter]
    fn staging(&self) -> &Path {
        &self.0.staging
    }
    /// New data may be ingested here.
    #[getter]
    fn ingestable(&self) -> bool {
        self.0.ingestable
    }
    /// Enabled.
    #[getter]
    fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Bytes of free space kept in reserve.
    #[getter]
    fn reserve_bytes(&self) -> u64 {
        self.0.reserve_bytes
    }
    /// Instances on the store.
    #[getter]
    fn files(&self) -> u64 {
        self.0.files
    }
    /// Bytes of those instances.
    #[getter]
    fn used_bytes(&self) -> u64 {
        self.0.used_bytes
    }
    /// Free bytes on its filesystem, or `None` when it cannot be reached.
    #[getter]
    fn free_bytes(&self) -> Option<u64> {
        self.0.free_bytes
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Store(name={}, root={}, enabled={}, ingestable={}, files={}, used_bytes={})",
            r(py, &self.0.name),
            rp(py, &self.0.root),
            if self.0.enabled { "True" } else { "False" },
            if self.0.ingestable { "True" } else { "False" },
            self.0.files,
            self.0.used_bytes,
        )
    }
}

/// The site at a glance.
#[pyclass(frozen, eq, module = "librarian", name = "SiteStatus")]
#[derive(Debug, Clone, PartialEq)]
pub struct PySiteStatus(pub SiteStatus);

#[pymethods]
impl PySiteStatus {
    /// Site name.
    #[getter]
    fn site(&self) -> String {
        self.0.site.clone()
    }
    /// The catalog database file.
    #[getter]
    fn database(&self) -> &Path {
        &self.0.database
    }
    /// Catalog schema version.
    #[getter]
    fn schema_version(&self) -> i64 {
        self.0.schema_version
    }
    /// Files catalogued.
    #[getter]
    fn files(&self) -> u64 {
        self.0.files
    }
    /// Their bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Ingests between data commit and catalog commit right now (normally 0).
    #[getter]
    fn ingests_in_progress(&self) -> usize {
        self.0.ingests_in_progress
    }
    /// The stores.
    #[getter]
    fn stores(&self) -> Vec<PyStore> {
        self.0.stores.iter().cloned().map(PyStore).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "SiteStatus(site={}, files={}, bytes={}, stores={})",
            r(py, &self.0.site),
            self.0.files,
            self.0.bytes,
            self.0.stores.len()
        )
    }
}

/// The check of one instance by `verify`.
#[pyclass(frozen, eq, module = "librarian", name = "InstanceCheck")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyInstanceCheck(pub InstanceCheck);

#[pymethods]
impl PyInstanceCheck {
    /// File name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    /// Store name.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Instance id.
    #[getter]
    fn instance(&self) -> i64 {
        self.0.instance.0
    }
    /// Path checked.
    #[getter]
    fn path(&self) -> &Path {
        &self.0.path
    }
    /// `"ok"`, `"mismatch"`, `"missing"` or `"unreadable"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// Checksum the catalog holds.
    #[getter]
    fn expected(&self) -> String {
        self.0.expected.to_string()
    }
    /// Checksum of what is on disk, when it could be computed.
    #[getter]
    fn actual(&self) -> Option<String> {
        self.0.actual.as_ref().map(ToString::to_string)
    }
    /// For books: `(entry, problem)` for each bad entry.
    #[getter]
    fn problems(&self) -> Vec<(String, &'static str)> {
        self.0.problems.iter().map(|p| (p.entry.clone(), p.problem.as_str())).collect()
    }
    /// Error text when the copy was unreadable.
    #[getter]
    fn error(&self) -> Option<String> {
        self.0.error.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "InstanceCheck(name={}, store={}, status={}, path={})",
            r(py, self.0.name.as_str()),
            r(py, &self.0.store),
            r(py, self.0.status.as_str()),
            rp(py, &self.0.path),
        )
    }
}

/// The result of `verify`.
#[pyclass(frozen, eq, module = "librarian", name = "VerifyReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyVerifyReport(pub VerifyReport);

#[pymethods]
impl PyVerifyReport {
    /// True when every instance checked is intact.
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok
    }
    /// One item per instance checked.
    #[getter]
    fn checked(&self) -> Vec<PyInstanceCheck> {
        self.0.checked.iter().cloned().map(PyInstanceCheck).collect()
    }
    /// True when the catalog database passed its own integrity check (`PRAGMA quick_check`).
    #[getter]
    fn catalog_ok(&self) -> bool {
        self.0.catalog.ok
    }
    /// What the catalog's integrity check found (empty when it passed).
    #[getter]
    fn catalog_problems(&self) -> Vec<String> {
        self.0.catalog.problems.clone()
    }
    fn __repr__(&self) -> String {
        let bad = self.0.checked.iter().filter(|c| c.status != CheckStatus::Ok).count();
        format!(
            "VerifyReport(ok={}, checked={}, bad={bad}, catalog_ok={})",
            if self.0.ok { "True" } else { "False" },
            self.0.checked.len(),
            if self.0.catalog.ok { "True" } else { "False" }
        )
    }
}

/// An account that may call this site (its password hash is never exposed).
#[pyclass(frozen, eq, module = "librarian", name = "Account")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyAccount(pub Account);

#[pymethods]
impl PyAccount {
    /// Account name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// `"admin"`, `"read-append"`, `"read-only"` or `"callback"`.
    #[getter]
    fn level(&self) -> &'static str {
        self.0.level.as_str()
    }
    /// The peer it belongs to, or `None`.
    #[getter]
    fn peer(&self) -> Option<String> {
        self.0.peer.clone()
    }
    /// When it was created (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Account(name={}, level={}, peer={}, created_at={})",
            r(py, &self.0.name),
            r(py, self.0.level.as_str()),
            self.0.peer.as_deref().map_or_else(|| "None".to_owned(), |p| r(py, p)),
            r(py, &self.0.created_at.to_string()),
        )
    }
}

/// Another Librarian this site calls (the password used there is never exposed).
#[pyclass(frozen, eq, module = "librarian", name = "Peer")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyPeer(pub Peer);

#[pymethods]
impl PyPeer {
    /// The peer's site name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// Base URL of its shim.
    #[getter]
    fn url(&self) -> String {
        self.0.url.clone()
    }
    /// The account this site uses there.
    #[getter]
    fn account(&self) -> String {
        self.0.account.clone()
    }
    /// Whether new transfers to it may start.
    #[getter]
    fn transfers_enabled(&self) -> bool {
        self.0.transfers_enabled
    }
    /// When it was added (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Peer(name={}, url={}, account={}, transfers_enabled={}, created_at={})",
            r(py, &self.0.name),
            r(py, &self.0.url),
            r(py, &self.0.account),
            if self.0.transfers_enabled { "True" } else { "False" },
            r(py, &self.0.created_at.to_string()),
        )
    }
}

/// How one background task's turn went in `Librarian.run_tasks()`.
#[pyclass(frozen, eq, module = "librarian", name = "TaskOutcome")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyTaskOutcome(pub TaskOutcome);

#[pymethods]
impl PyTaskOutcome {
    /// Task name, e.g. "cleanup-staging".
    #[getter]
    fn task(&self) -> String {
        self.0.task.clone()
    }
    /// "ok", "failed", "degraded" (it ran but could not make all its progress: a peer
    /// did not answer, every drive is full), "not_due", "busy" (another run holds it)
    /// or "disabled".
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// What the task reported, or why it did not run.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    /// When it started (UTC), or `None` if it did not run.
    #[getter]
    fn started_at(&self) -> Option<Timestamp> {
        self.0.started_at
    }
    /// When it finished (UTC), or `None` if it did not run.
    #[getter]
    fn finished_at(&self) -> Option<Timestamp> {
        self.0.finished_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "TaskOutcome(task={}, status={}, message={})",
            r(py, &self.0.task),
            r(py, self.0.status.as_str()),
            r(py, &self.0.message)
        )
    }
}

/// Something an operator must know about (`Librarian.events()`).
#[pyclass(frozen, eq, module = "librarian", name = "Event")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyEvent(pub Event);

#[pymethods]
impl PyEvent {
    /// Event id (for `Librarian.clear_event`).
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// "info", "warning" or "error".
    #[getter]
    fn severity(&self) -> &'static str {
        self.0.severity.as_str()
    }
    /// "peer_unreachable", "peer_refused", "call_refused", "conflict", "transfer_failed",
    /// "store_full", "drive_done" or "catalog_corrupt".
    #[getter]
    fn category(&self) -> &'static str {
        self.0.category.as_str()
    }
    /// Which object: a peer, a file name, or `peer/key`.
    #[getter]
    fn subject(&self) -> String {
        self.0.subject.clone()
    }
    /// What happened (the latest occurrence), for a person.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    /// How many times it happened while open.
    #[getter]
    fn count(&self) -> u64 {
        self.0.count
    }
    /// First seen (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// Last seen (UTC).
    #[getter]
    fn last_seen_at(&self) -> Timestamp {
        self.0.last_seen_at
    }
    /// When it was cleared (UTC), or `None` while open.
    #[getter]
    fn cleared_at(&self) -> Option<Timestamp> {
        self.0.cleared_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Event(id={}, severity={}, category={}, subject={}, count={}, cleared={})",
            self.0.id,
            r(py, self.0.severity.as_str()),
            r(py, self.0.category.as_str()),
            r(py, &self.0.subject),
            self.0.count,
            if self.0.cleared_at.is_some() { "True" } else { "False" },
        )
    }
}

/// A call to a peer waiting in the outbox (`Librarian.outbox()`).
#[pyclass(frozen, eq, module = "librarian", name = "OutboxCall")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyOutboxCall(pub OutboxCall);

#[pymethods]
impl PyOutboxCall {
    /// Its position in the outbox (calls to one peer go in this order).
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The peer it goes to.
    #[getter]
    fn peer(&self) -> String {
        self.0.peer.clone()
    }
    /// Its idempotency key.
    #[getter]
    fn key(&self) -> String {
        self.0.key.clone()
    }
    /// What it asks, e.g. "holds".
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// The JSON body sent, as Python objects (a new `dict` on each access).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.0.body.to_string(),))
    }
    /// When it was queued (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// Failed delivery attempts so far.
    #[getter]
    fn attempts(&self) -> u64 {
        self.0.attempts
    }
    /// Not sent before this time (UTC).
    #[getter]
    fn next_attempt_at(&self) -> Timestamp {
        self.0.next_attempt_at
    }
    /// Why the last attempt failed, or `None`.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.0.last_error.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "OutboxCall(id={}, peer={}, kind={}, key={}, attempts={}, next_attempt_at={})",
            self.0.id,
            r(py, &self.0.peer),
            r(py, self.0.kind.as_str()),
            r(py, &self.0.key),
            self.0.attempts,
            r(py, &self.0.next_attempt_at.to_string()),
        )
    }
}

/// What one `Librarian.deliver_outbox()` run did.
#[pyclass(frozen, eq, module = "librarian", name = "DeliveryReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDeliveryReport(pub DeliveryReport);

#[pymethods]
impl PyDeliveryReport {
    /// Calls acknowledged by their peer and removed.
    #[getter]
    fn delivered(&self) -> u64 {
        self.0.delivered
    }
    /// Calls refused for good, dropped and turned into events.
    #[getter]
    fn refused(&self) -> u64 {
        self.0.refused
    }
    /// Calls postponed: their peer did not answer or refused us for now.
    #[getter]
    fn postponed(&self) -> u64 {
        self.0.postponed
    }
    /// Peers whose calls wait for a later attempt, or whose transfers are disabled.
    #[getter]
    fn waiting_peers(&self) -> Vec<String> {
        self.0.waiting_peers.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let waiting: Vec<String> = self.0.waiting_peers.iter().map(|p| r(py, p)).collect();
        format!(
            "DeliveryReport(delivered={}, refused={}, postponed={}, waiting_peers=[{}])",
            self.0.delivered,
            self.0.refused,
            self.0.postponed,
            waiting.join(", "),
        )
    }
}

fn opt_r(py: Python<'_>, s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), |s| r(py, s))
}

/// One file's transfer between this site and a peer (`Librarian.transfers()`).
#[pyclass(frozen, eq, module = "librarian", name = "Transfer")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyTransfer(pub Transfer);

#[pymethods]
impl PyTransfer {
    /// Its id here.
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// "outgoing" or "incoming".
    #[getter]
    fn direction(&self) -> &'static str {
        self.0.direction.as_str()
    }
    /// The other site.
    #[getter]
    fn peer(&self) -> String {
        self.0.peer.clone()
    }
    /// The id of the same transfer at the peer, once known.
    #[getter]
    fn remote_id(&self) -> Option<i64> {
        self.0.remote_id
    }
    /// The file's name.
    #[getter]
    fn file(&self) -> String {
        self.0.file.to_string()
    }
    /// Its size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// Its checksum text.
    #[getter]
    fn checksum(&self) -> String {
        self.0.checksum.to_string()
    }
    /// `"file"` or `"directory"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// Who uploaded it at its source.
    #[getter]
    fn uploader(&self) -> String {
        self.0.uploader.clone()
    }
    /// The site where it was first ingested.
    #[getter]
    fn source(&self) -> String {
        self.0.source.clone()
    }
    /// When the file was created there (UTC), if known, as the sender gave it: what
    /// the receiver records as its `created_at`, unless later than its arrival (then
    /// the arrival). `None`: an older sender did not say.
    #[getter]
    fn file_created_at(&self) -> Option<Timestamp> {
        self.0.file_created_at
    }
    /// "initiated", "ongoing", "staged", "completed", "failed" or "cancelled".
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// What moves (moved) the bytes: "local", "rsync" or "sneakernet", or `None`.
    #[getter]
    fn manager(&self) -> Option<&'static str> {
        self.0.manager.map(|m| m.as_str())
    }
    /// The store here, or `None`.
    #[getter]
    fn store(&self) -> Option<String> {
        self.0.store.clone()
    }
    /// Outgoing: the instance read; incoming: the staging directory (`pathlib.Path`).
    #[getter]
    fn local_path(&self) -> Option<&Path> {
        self.0.local_path.as_deref()
    }
    /// Outgoing: where the peer wants the data.
    #[getter]
    fn remote_path(&self) -> Option<String> {
        self.0.remote_path.clone()
    }
    /// The batch moving it (outgoing), or `None`.
    #[getter]
    fn batch(&self) -> Option<i64> {
        self.0.batch
    }
    /// Created (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// Last changed (UTC).
    #[getter]
    fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }
    /// Why it failed, as a stable code, or `None`.
    #[getter]
    fn error_code(&self) -> Option<String> {
        self.0.error_code.clone()
    }
    /// Why it failed, for a person, or `None`.
    #[getter]
    fn error(&self) -> Option<String> {
        self.0.error.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Transfer(id={}, direction={}, peer={}, file={}, status={}, error_code={})",
            self.0.id,
            r(py, self.0.direction.as_str()),
            r(py, &self.0.peer),
            r(py, self.0.file.as_str()),
            r(py, self.0.status.as_str()),
            opt_r(py, self.0.error_code.as_deref()),
        )
    }
}

/// What one `Librarian.send_clones()` run did.
#[pyclass(frozen, eq, module = "librarian", name = "SendReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PySendReport(pub SendReport);

#[pymethods]
impl PySendReport {
    /// Transfers offered to peers.
    #[getter]
    fn offered(&self) -> u64 {
        self.0.offered
    }
    /// Of those, already held by the peer (completed with no data moved).
    #[getter]
    fn already_present(&self) -> u64 {
        self.0.already_present
    }
    /// Of those, refused by the peer.
    #[getter]
    fn refused(&self) -> u64 {
        self.0.refused
    }
    /// Batches started.
    #[getter]
    fn batches_started(&self) -> u64 {
        self.0.batches_started
    }
    /// Transfers whose data reached the peer's staging area.
    #[getter]
    fn staged(&self) -> u64 {
        self.0.staged
    }
    /// Transfers that failed in a batch.
    #[getter]
    fn failed(&self) -> u64 {
        self.0.failed
    }
    /// Batches still running.
    #[getter]
    fn running(&self) -> u64 {
        self.0.running
    }
    /// Peers skipped: transfers disabled, unreachable, or refusing the offer.
    #[getter]
    fn skipped_peers(&self) -> Vec<String> {
        self.0.skipped_peers.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let skipped: Vec<String> = self.0.skipped_peers.iter().map(|p| r(py, p)).collect();
        format!(
            concat!(
                "SendReport(offered={}, already_present={}, refused={}, batches_started={}, staged={}, ",
                "failed={}, running={}, skipped_peers=[{}])"
            ),
            self.0.offered,
            self.0.already_present,
            self.0.refused,
            self.0.batches_started,
            self.0.staged,
            self.0.failed,
            self.0.running,
            skipped.join(", "),
        )
    }
}

/// A file the next batch to a peer would send (`Librarian.plan_clones()`).
#[pyclass(frozen, eq, module = "librarian", name = "PlannedFile")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyPlannedFile(pub PlanItem);

#[pymethods]
impl PyPlannedFile {
    /// The file's name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    /// Its size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// Its checksum text.
    #[getter]
    fn checksum(&self) -> String {
        self.0.checksum.to_string()
    }
    /// `"file"` or `"directory"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// The store of the instance that would be sent.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// That instance's absolute path (`pathlib.Path`).
    #[getter]
    fn path(&self) -> &Path {
        &self.0.path
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "PlannedFile(name={}, size={}, kind={}, store={}, path={})",
            r(py, self.0.name.as_str()),
            self.0.size,
            r(py, self.0.kind.as_str()),
            r(py, &self.0.store),
            rp(py, &self.0.path),
        )
    }
}

/// What `Librarian.sneakernet_export()` did (or, for a dry run, would do).
#[pyclass(frozen, eq, module = "librarian", name = "ExportReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyExportReport(pub ExportReport);

#[pymethods]
impl PyExportReport {
    /// The drive's store.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// The peer the drive goes to.
    #[getter]
    fn destination(&self) -> String {
        self.0.destination.clone()
    }
    /// The drive directory (the store's data area), where the manifest is (`pathlib.Path`).
    #[getter]
    fn drive(&self) -> &Path {
        &self.0.drive
    }
    /// Files and books in the manifest.
    #[getter]
    fn files(&self) -> Vec<String> {
        self.0.files.clone()
    }
    /// Their bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Files with no transfer: already on their way to the destination by the network.
    #[getter]
    fn skipped(&self) -> Vec<String> {
        self.0.skipped.clone()
    }
    /// Files with no transfer: the destination already holds them (their drive copies
    /// are retired); empty with `include_held=True`.
    #[getter]
    fn held(&self) -> Vec<String> {
        self.0.held.clone()
    }
    /// Nothing was written or changed.
    #[getter]
    fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ExportReport(store={}, destination={}, drive={}, files={}, bytes={}, skipped={}, held={}, dry_run={})",
            r(py, &self.0.store),
            r(py, &self.0.destination),
            rp(py, &self.0.drive),
            self.0.files.len(),
            self.0.bytes,
            self.0.skipped.len(),
            self.0.held.len(),
            py_bool(self.0.dry_run),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn opt_bool(b: Option<bool>) -> &'static str {
    b.map_or("None", py_bool)
}

/// One problem found on a drive (`DriveReport.problems`, `ImportReport.refused`).
#[pyclass(frozen, eq, module = "librarian", name = "DriveProblem")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDriveProblem(pub DriveProblem);

#[pymethods]
impl PyDriveProblem {
    /// The catalog name (or the drive path, for extra files).
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// The entry inside a book, if the problem is there.
    #[getter]
    fn entry(&self) -> Option<String> {
        self.0.entry.clone()
    }
    /// "manifest_altered", "bad_entry", "missing", "extra", "truncated", "grown",
    /// "altered", "wrong_kind" or "unreadable".
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// Details for a person.
    #[getter]
    fn detail(&self) -> String {
        self.0.detail.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DriveProblem(name={}, entry={}, kind={}, detail={})",
            r(py, &self.0.name),
            opt_r(py, self.0.entry.as_deref()),
            r(py, self.0.kind.as_str()),
            r(py, &self.0.detail),
        )
    }
}

/// The result of checking a drive against its manifest (`librarian.verify_drive()`).
#[pyclass(frozen, eq, module = "librarian", name = "DriveReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDriveReport(pub DriveReport);

#[pymethods]
impl PyDriveReport {
    /// The drive directory checked (`pathlib.Path`).
    #[getter]
    fn drive(&self) -> &Path {
        &self.0.drive
    }
    /// The exporting site.
    #[getter]
    fn site(&self) -> String {
        self.0.site.clone()
    }
    /// Its store (the drive).
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Where the drive goes (empty for a legacy manifest).
    #[getter]
    fn destination(&self) -> String {
        self.0.destination.clone()
    }
    /// Read from the existing Librarian's manifest format.
    #[getter]
    fn legacy(&self) -> bool {
        self.0.legacy
    }
    /// Whether the manifest matched its stored digest (`None` for a legacy manifest).
    #[getter]
    fn manifest_ok(&self) -> Option<bool> {
        self.0.manifest_ok
    }
    /// Files and books in the manifest.
    #[getter]
    fn files(&self) -> u64 {
        self.0.files
    }
    /// Their bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Files and books found intact.
    #[getter]
    fn intact(&self) -> u64 {
        self.0.intact
    }
    /// Every problem found.
    #[getter]
    fn problems(&self) -> Vec<PyDriveProblem> {
        self.0.problems.iter().cloned().map(PyDriveProblem).collect()
    }
    /// True when nothing is wrong.
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DriveReport(drive={}, site={}, store={}, ok={}, files={}, intact={}, problems={})",
            rp(py, &self.0.drive),
            r(py, &self.0.site),
            r(py, &self.0.store),
            py_bool(self.0.ok),
            self.0.files,
            self.0.intact,
            self.0.problems.len(),
        )
    }
}

/// What `Librarian.sneakernet_import()` did (or, for a dry run, would do).
#[pyclass(frozen, eq, module = "librarian", name = "ImportReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyImportReport(pub ImportReport);

#[pymethods]
impl PyImportReport {
    /// The drive directory (`pathlib.Path`).
    #[getter]
    fn drive(&self) -> &Path {
        &self.0.drive
    }
    /// The exporting site.
    #[getter]
    fn site(&self) -> String {
        self.0.site.clone()
    }
    /// Read from the existing Librarian's manifest format.
    #[getter]
    fn legacy(&self) -> bool {
        self.0.legacy
    }
    /// Whether the manifest matched its digest (`None` for a legacy manifest).
    #[getter]
    fn manifest_ok(&self) -> Option<bool> {
        self.0.manifest_ok
    }
    /// Files and books ingested now (for a dry run: that would be).
    #[getter]
    fn imported(&self) -> Vec<String> {
        self.0.imported.clone()
    }
    /// Already catalogued here with the same checksum (counted as done).
    #[getter]
    fn already_present(&self) -> Vec<String> {
        self.0.already_present.clone()
    }
    /// Imported by an earlier run of this import (nothing done).
    #[getter]
    fn already_imported(&self) -> Vec<String> {
        self.0.already_imported.clone()
    }
    /// Refused, with why (bad data, conflicts, bad manifest lines).
    #[getter]
    fn refused(&self) -> Vec<PyDriveProblem> {
        self.0.refused.iter().cloned().map(PyDriveProblem).collect()
    }
    /// `complete` calls queued to the exporting site.
    #[getter]
    fn callbacks_queued(&self) -> u64 {
        self.0.callbacks_queued
    }
    /// Nothing was changed.
    #[getter]
    fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// True when nothing was refused and the manifest was intact.
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            concat!(
                "ImportReport(drive={}, site={}, ok={}, manifest_ok={}, imported={}, already_present={}, ",
                "already_imported={}, refused={}, callbacks_queued={}, dry_run={})"
            ),
            rp(py, &self.0.drive),
            r(py, &self.0.site),
            py_bool(self.0.ok()),
            opt_bool(self.0.manifest_ok),
            self.0.imported.len(),
            self.0.already_present.len(),
            self.0.already_imported.len(),
            self.0.refused.len(),
            self.0.callbacks_queued,
            py_bool(self.0.dry_run),
        )
    }
}

/// What `Librarian.clone_local()` did (or, for a dry run, would do).
#[pyclass(frozen, eq, module = "librarian", name = "LocalCloneReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyLocalCloneReport(pub LocalCloneReport);

#[pymethods]
impl PyLocalCloneReport {
    /// Files copied (and verified) onto the target store.
    #[getter]
    fn copied(&self) -> u64 {
        self.0.copied
    }
    /// Their bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Files of the source store the target already held.
    #[getter]
    fn already_there(&self) -> u64 {
        self.0.already_there
    }
    /// Files that did not fit above the target's reserve (they wait for the next drive).
    #[getter]
    fn left_for_next_drive(&self) -> u64 {
        self.0.left_for_next_drive
    }
    /// `(name, why)` for each file that could not be copied.
    #[getter]
    fn failed(&self) -> Vec<(String, String)> {
        self.0.failed.clone()
    }
    /// The target reached its reserve (or ran out of space) before every file fitted.
    #[getter]
    fn full(&self) -> bool {
        self.0.full
    }
    /// Dry run: the names that would be copied, in order.
    #[getter]
    fn planned(&self) -> Vec<String> {
        self.0.planned.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "LocalCloneReport(copied={}, bytes={}, already_there={}, left_for_next_drive={}, failed={}, full={}, planned={})",
            self.0.copied,
            self.0.bytes,
            self.0.already_there,
            self.0.left_for_next_drive,
            self.0.failed.len(),
            py_bool(self.0.full),
            self.0.planned.len(),
        )
    }
}
