//! The data life-cycle: scrub reports and coverage, repairs, deletions, and a peer's
//! re-verification of its copies.

use jiff::Timestamp;
use librarian_core::{
    CopyCheck, DeletionItem, DeletionReport, FileVerification, RepairFailure, RepairReport, RepairedCopy, ScrubReport,
    StoreCoverage,
};
use pyo3::prelude::*;

use super::{PyInstanceCheck, opt_r, r};

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// What one `Librarian.scrub()` run read and found.
#[pyclass(frozen, eq, module = "librarian", name = "ScrubReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyScrubReport(pub ScrubReport);

#[pymethods]
impl PyScrubReport {
    /// True when every copy read was intact and the catalog passed its own check.
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok
    }
    /// Copies re-read.
    #[getter]
    fn instances(&self) -> u64 {
        self.0.instances
    }
    /// Bytes re-read.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Seconds the run took.
    #[getter]
    fn seconds(&self) -> f64 {
        self.0.seconds
    }
    /// Why it stopped: `"done"`, `"bytes"` or `"time"`.
    #[getter]
    fn stopped(&self) -> &'static str {
        self.0.stopped.as_str()
    }
    /// The copies found damaged (or unreadable), one check each.
    #[getter]
    fn problems(&self) -> Vec<PyInstanceCheck> {
        self.0.problems.iter().cloned().map(PyInstanceCheck).collect()
    }
    /// True when the catalog database passed `PRAGMA quick_check`.
    #[getter]
    fn catalog_ok(&self) -> bool {
        self.0.catalog.ok
    }
    /// What the catalog's integrity check found (empty when it passed).
    #[getter]
    fn catalog_problems(&self) -> Vec<String> {
        self.0.catalog.problems.clone()
    }
    /// Coverage per store after the run.
    #[getter]
    fn coverage(&self) -> Vec<PyStoreCoverage> {
        self.0.coverage.iter().cloned().map(PyStoreCoverage).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ScrubReport(ok={}, instances={}, bytes={}, stopped={}, problems={})",
            py_bool(self.0.ok),
            self.0.instances,
            self.0.bytes,
            r(py, self.0.stopped.as_str()),
            self.0.problems.len(),
        )
    }
}

/// One store's scrub coverage (`Librarian.coverage()`, `ScrubReport.coverage`).
#[pyclass(frozen, eq, module = "librarian", name = "StoreCoverage")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyStoreCoverage(pub StoreCoverage);

#[pymethods]
impl PyStoreCoverage {
    /// The store.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Available copies on it.
    #[getter]
    fn instances(&self) -> u64 {
        self.0.instances
    }
    /// Their bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// Copies not re-read within the coverage target (`[scrub] cover_every`).
    #[getter]
    fn overdue_instances(&self) -> u64 {
        self.0.overdue_instances
    }
    /// Their bytes.
    #[getter]
    fn overdue_bytes(&self) -> u64 {
        self.0.overdue_bytes
    }
    /// When its least recently verified copy was last re-read (UTC), or `None`.
    #[getter]
    fn oldest_verified_at(&self) -> Option<Timestamp> {
        self.0.oldest_verified_at
    }
    /// Fraction of its bytes re-read within the coverage target (1.0 when empty).
    #[getter]
    fn covered(&self) -> f64 {
        self.0.covered
    }
    /// Copies found corrupt or missing, waiting for a repair.
    #[getter]
    fn damaged(&self) -> u64 {
        self.0.damaged
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "StoreCoverage(store={}, instances={}, bytes={}, covered={:?}, overdue_instances={}, damaged={})",
            r(py, &self.0.store),
            self.0.instances,
            self.0.bytes,
            self.0.covered,
            self.0.overdue_instances,
            self.0.damaged,
        )
    }
}

/// What `Librarian.repair()` did.
#[pyclass(frozen, eq, module = "librarian", name = "RepairReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyRepairReport(pub RepairReport);

#[pymethods]
impl PyRepairReport {
    /// The file.
    #[getter]
    fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// True when every damaged copy was repaired (or there was none).
    #[getter]
    fn ok(&self) -> bool {
        self.0.ok
    }
    /// The copies replaced with verified bytes.
    #[getter]
    fn repaired(&self) -> Vec<PyRepairedCopy> {
        self.0.repaired.iter().cloned().map(PyRepairedCopy).collect()
    }
    /// The copies still damaged, with why.
    #[getter]
    fn failed(&self) -> Vec<PyRepairFailure> {
        self.0.failed.iter().cloned().map(PyRepairFailure).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RepairReport(name={}, ok={}, repaired={}, failed={})",
            r(py, self.0.name.as_str()),
            py_bool(self.0.ok),
            self.0.repaired.len(),
            self.0.failed.len(),
        )
    }
}

/// One damaged copy a repair replaced.
#[pyclass(frozen, eq, module = "librarian", name = "RepairedCopy")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyRepairedCopy(pub RepairedCopy);

#[pymethods]
impl PyRepairedCopy {
    /// The store of the copy.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Its instance id.
    #[getter]
    fn instance(&self) -> i64 {
        self.0.instance.0
    }
    /// What it was before: `"corrupt"` or `"missing"`.
    #[getter]
    fn was(&self) -> &'static str {
        self.0.was.as_str()
    }
    /// Where the good bytes came from: `"store NAME"` here, or `"peer NAME"` (the
    /// JSON field `from`).
    #[getter]
    fn source(&self) -> String {
        self.0.from.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RepairedCopy(store={}, instance={}, was={}, source={})",
            r(py, &self.0.store),
            self.0.instance.0,
            r(py, self.0.was.as_str()),
            r(py, &self.0.from),
        )
    }
}

/// A damaged copy a repair could not replace.
#[pyclass(frozen, eq, module = "librarian", name = "RepairFailure")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyRepairFailure(pub RepairFailure);

#[pymethods]
impl PyRepairFailure {
    /// The store of the copy.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Its instance id.
    #[getter]
    fn instance(&self) -> i64 {
        self.0.instance.0
    }
    /// Why: every source tried and what went wrong with it.
    #[getter]
    fn reason(&self) -> String {
        self.0.reason.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RepairFailure(store={}, instance={}, reason={})",
            r(py, &self.0.store),
            self.0.instance.0,
            r(py, &self.0.reason),
        )
    }
}

/// What `Librarian.drop()` or `Librarian.rolling_deletion()` did (or, with
/// `dry_run`, would do).
#[pyclass(frozen, eq, module = "librarian", name = "DeletionReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDeletionReport(pub DeletionReport);

#[pymethods]
impl PyDeletionReport {
    /// The store.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// Nothing was changed.
    #[getter]
    fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// Remote copies required, re-verified within the window.
    #[getter]
    fn min_copies(&self) -> u32 {
        self.0.min_copies
    }
    /// Every copy considered, oldest first.
    #[getter]
    fn items(&self) -> Vec<PyDeletionItem> {
        self.0.items.iter().cloned().map(PyDeletionItem).collect()
    }
    /// Copies deleted.
    #[getter]
    fn deleted(&self) -> u64 {
        self.0.deleted
    }
    /// Their bytes.
    #[getter]
    fn bytes_freed(&self) -> u64 {
        self.0.bytes_freed
    }
    /// Peers asked to re-verify their copies (in a dry run: that would be asked).
    #[getter]
    fn peers_asked(&self) -> Vec<String> {
        self.0.peers_asked.clone()
    }
    /// What went wrong on the way (a peer that did not answer, bytes that could not
    /// be removed).
    #[getter]
    fn problems(&self) -> Vec<String> {
        self.0.problems.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DeletionReport(store={}, dry_run={}, min_copies={}, items={}, deleted={}, bytes_freed={})",
            r(py, &self.0.store),
            py_bool(self.0.dry_run),
            self.0.min_copies,
            self.0.items.len(),
            self.0.deleted,
            self.0.bytes_freed,
        )
    }
}

/// One copy considered for deletion.
#[pyclass(frozen, eq, module = "librarian", name = "DeletionItem")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDeletionItem(pub DeletionItem);

#[pymethods]
impl PyDeletionItem {
    /// The file.
    #[getter]
    fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// The store of the copy.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// The copy's instance id.
    #[getter]
    fn instance(&self) -> i64 {
        self.0.instance.0
    }
    /// Its bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// `"delete"`, `"keep"` or `"verify"` (dry run: deleted if the peers confirm).
    #[getter]
    fn action(&self) -> &'static str {
        self.0.action.as_str()
    }
    /// True when the copy was deleted (never in a dry run).
    #[getter]
    fn done(&self) -> bool {
        self.0.done
    }
    /// Why.
    #[getter]
    fn reason(&self) -> String {
        self.0.reason.clone()
    }
    /// Remote copies re-verified intact within the window.
    #[getter]
    fn verified_copies(&self) -> u32 {
        self.0.verified_copies
    }
    /// Other available copies on this site's other stores.
    #[getter]
    fn local_copies(&self) -> u32 {
        self.0.local_copies
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "DeletionItem(name={}, store={}, action={}, done={}, reason={})",
            r(py, self.0.name.as_str()),
            r(py, &self.0.store),
            r(py, self.0.action.as_str()),
            py_bool(self.0.done),
            r(py, &self.0.reason),
        )
    }
}

/// A peer's answer about one file (`Librarian.verify_remote()`).
#[pyclass(frozen, eq, module = "librarian", name = "FileVerification")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyFileVerification(pub FileVerification);

#[pymethods]
impl PyFileVerification {
    /// The name asked about.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// Whether the peer catalogues the file.
    #[getter]
    fn present(&self) -> bool {
        self.0.present
    }
    /// Its checksum there, or `None`.
    #[getter]
    fn checksum(&self) -> Option<String> {
        self.0.checksum.clone()
    }
    /// Its size there, or `None`.
    #[getter]
    fn size(&self) -> Option<u64> {
        self.0.size
    }
    /// Each copy the peer holds (damaged ones included), checked now.
    #[getter]
    fn copies(&self) -> Vec<PyCopyCheck> {
        self.0.copies.iter().cloned().map(PyCopyCheck).collect()
    }
    /// When the peer ran the checks (UTC).
    #[getter]
    fn verified_at(&self) -> Timestamp {
        self.0.verified_at
    }
    /// True when at least one copy there was found intact.
    #[getter]
    fn intact(&self) -> bool {
        self.0.intact()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "FileVerification(name={}, present={}, checksum={}, copies={}, intact={})",
            r(py, &self.0.name),
            py_bool(self.0.present),
            opt_r(py, self.0.checksum.as_deref()),
            self.0.copies.len(),
            py_bool(self.0.intact()),
        )
    }
}

/// One copy at a peer, as the peer just found it (`FileVerification.copies`).
#[pyclass(frozen, eq, module = "librarian", name = "CopyCheck")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyCopyCheck(pub CopyCheck);

#[pymethods]
impl PyCopyCheck {
    /// The store there.
    #[getter]
    fn store(&self) -> String {
        self.0.store.clone()
    }
    /// What re-reading it found: `"ok"`, `"mismatch"`, `"missing"` or `"unreadable"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// The copy's state there after the check.
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CopyCheck(store={}, status={}, state={})",
            r(py, &self.0.store),
            r(py, self.0.status.as_str()),
            r(py, self.0.state.as_str()),
        )
    }
}
