//! Drives: export, check, import and filling.

use std::path::Path;

use librarian_core::LocalCloneReport;
use librarian_core::{DriveProblem, DriveReport, ExportReport, ImportReport};
use pyo3::prelude::*;

use super::{opt_r, r, rp};

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
