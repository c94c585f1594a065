//! Files, their copies, stores, the site status and verification.

use std::path::Path;

use jiff::Timestamp;
use librarian_core::{
    CheckStatus, File, Instance, InstanceCheck, RemoteInstance, SiteStatus, StoreStatus, VerifyReport,
};
use pyo3::prelude::*;

use super::{r, rp};

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
    /// What is known of its bytes: `"ok"` (then `available`), `"corrupt"`,
    /// `"missing"` (found so by a verify, scrub or get; kept until repaired),
    /// `"deleted"` (by `drop` or rolling deletion) or `"retired"` (a delivered drive copy).
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }
    /// Why it is not `"ok"`, when it is not.
    #[getter]
    fn state_reason(&self) -> Option<String> {
        self.0.state_reason.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Instance(id={}, store={}, path={}, available={}, deletion_policy={}, state={})",
            self.0.id.0,
            r(py, &self.0.store),
            rp(py, &self.0.path),
            if self.0.available { "True" } else { "False" },
            r(py, self.0.deletion_policy.as_str()),
            r(py, self.0.state.as_str()),
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
    /// What the peer last answered when asked to re-verify it: `"ok"` (also when
    /// never asked: it arrived intact), `"corrupt"` or `"missing"`.
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }
    /// When the peer was last asked (UTC), whatever it answered, or `None`.
    #[getter]
    fn checked_at(&self) -> Option<Timestamp> {
        self.0.checked_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RemoteInstance(librarian={}, store={}, copied_at={}, state={})",
            r(py, &self.0.librarian),
            r(py, &self.0.store),
            r(py, &self.0.copied_at.to_string()),
            r(py, self.0.state.as_str()),
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
    /// The copy's state after the check, as recorded: `"ok"`, or `"corrupt"` /
    /// `"missing"` when the check found it so (a store that cannot be reached leaves
    /// the state as it was).
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "InstanceCheck(name={}, store={}, status={}, state={}, path={})",
            r(py, self.0.name.as_str()),
            r(py, &self.0.store),
            r(py, self.0.status.as_str()),
            r(py, self.0.state.as_str()),
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

/// What `Librarian.upload(..., report=True)` did: `status` says whether new data was
/// committed (`"ingested"`) or the same bytes were already catalogued under the name
/// (`"already_present"`: nothing changed); `file` is the catalogued file either way.
#[pyclass(frozen, eq, module = "librarian", name = "Upload")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyUpload(pub librarian_core::Upload);

#[pymethods]
impl PyUpload {
    /// `"ingested"` or `"already_present"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// The catalogued file.
    #[getter]
    fn file(&self) -> PyFile {
        PyFile(self.0.file.clone())
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Upload(status={}, file={})", r(py, self.0.status.as_str()), r(py, self.0.file.name.as_str()))
    }
}

/// What `Librarian.get(name, dest)` copied, and from where.
#[pyclass(frozen, eq, module = "librarian", name = "Retrieved")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyRetrieved(pub librarian_core::Retrieved);

#[pymethods]
impl PyRetrieved {
    /// The file's name.
    #[getter]
    fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// `"file"` or `"directory"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// Size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// The checksum the copy was found to hash to (the catalog's).
    #[getter]
    fn checksum(&self) -> String {
        self.0.checksum.to_string()
    }
    /// The store of the instance read.
    #[getter]
    fn store(&self) -> &str {
        &self.0.store
    }
    /// Where the copy is.
    #[getter]
    fn dest(&self) -> &Path {
        &self.0.dest
    }
    /// Instances tried first whose bytes did not match: (store, what they hashed to).
    #[getter]
    fn bad_instances(&self) -> Vec<(String, String)> {
        self.0.bad_instances.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Retrieved(name={}, store={}, dest={})",
            r(py, self.0.name.as_str()),
            r(py, &self.0.store),
            rp(py, &self.0.dest)
        )
    }
}
