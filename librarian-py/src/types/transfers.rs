//! Transfers between sites, and what sending and planning did.

use std::path::Path;

use jiff::Timestamp;
use librarian_core::PlanItem;
use librarian_core::{SendReport, Transfer};
use pyo3::prelude::*;

use super::{opt_r, r, rp};

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
