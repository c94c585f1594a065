//! An import of the original (Python) Librarian's catalog
//! (`Librarian.import_original()`): what it brought, skipped and could not carry over.

use std::collections::BTreeMap;

use librarian_core::{ImportConflict, ImportTally, InFlight, OriginalCounts, OriginalImportReport, SkippedRow};
use pyo3::prelude::*;

use super::{opt_r, r};

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// What `Librarian.import_original()` did (or, with `dry_run`, would do).
#[pyclass(frozen, eq, module = "librarian", name = "OriginalImportReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyOriginalImportReport(pub OriginalImportReport);

#[pymethods]
impl PyOriginalImportReport {
    /// The source (a URL without its password).
    #[getter]
    fn source(&self) -> String {
        self.0.source.clone()
    }
    /// The source's alembic head.
    #[getter]
    fn alembic_version(&self) -> String {
        self.0.alembic_version.clone()
    }
    /// The original site's name (from `original_config`), when given.
    #[getter]
    fn original_site(&self) -> Option<String> {
        self.0.original_site.clone()
    }
    /// Nothing was written.
    #[getter]
    fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// The rows of the source per table, by the JSON field names (`None`: no such
    /// table there); a new `dict` on each access.
    #[getter]
    fn source_rows(&self) -> BTreeMap<&'static str, Option<u64>> {
        // Destructured whole: a table added in the core fails to compile here.
        let OriginalCounts {
            files,
            instances,
            remote_instances,
            users,
            librarians,
            stores,
            incoming_transfers,
            outgoing_transfers,
            clone_transfers,
            send_queue,
            completed_transfers,
            corrupt_files,
            errors,
        } = self.0.source_rows;
        BTreeMap::from([
            ("files", files),
            ("instances", instances),
            ("remote_instances", remote_instances),
            ("users", users),
            ("librarians", librarians),
            ("stores", stores),
            ("incoming_transfers", incoming_transfers),
            ("outgoing_transfers", outgoing_transfers),
            ("clone_transfers", clone_transfers),
            ("send_queue", send_queue),
            ("completed_transfers", completed_transfers),
            ("corrupt_files", corrupt_files),
            ("errors", errors),
        ])
    }
    /// Rows added to this site (with `dry_run`: that would be).
    #[getter]
    fn added(&self) -> PyImportTally {
        PyImportTally(self.0.added)
    }
    /// Rows already here, identical (a second import adds nothing).
    #[getter]
    fn present(&self) -> PyImportTally {
        PyImportTally(self.0.present)
    }
    /// Instances added, per state; a new `dict` on each access.
    #[getter]
    fn instance_states(&self) -> BTreeMap<String, u64> {
        self.0.instance_states.clone()
    }
    /// Rows not imported, with why.
    #[getter]
    fn skipped(&self) -> Vec<PySkippedRow> {
        self.0.skipped.iter().cloned().map(PySkippedRow).collect()
    }
    /// Transfers in flight in the original, and what became of each.
    #[getter]
    fn in_flight(&self) -> Vec<PyInFlight> {
        self.0.in_flight.iter().cloned().map(PyInFlight).collect()
    }
    /// Kinds of rows this site has no place for, with their numbers.
    #[getter]
    fn not_carried(&self) -> Vec<(String, u64)> {
        self.0.not_carried.clone()
    }
    /// What an operator should know (mappings that change meaning).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.0.notes.clone()
    }
    /// Names this site holds differently (only ever non-empty in a dry run: a real
    /// import with conflicts raises `Conflict`).
    #[getter]
    fn conflicts(&self) -> Vec<PyImportConflict> {
        self.0.conflicts.iter().cloned().map(PyImportConflict).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "OriginalImportReport(source={}, original_site={}, dry_run={}, added={}, skipped={}, in_flight={}, \
             conflicts={})",
            r(py, &self.0.source),
            opt_r(py, self.0.original_site.as_deref()),
            py_bool(self.0.dry_run),
            tally_repr(&self.0.added),
            self.0.skipped.len(),
            self.0.in_flight.len(),
            self.0.conflicts.len(),
        )
    }
}

fn tally_repr(t: &ImportTally) -> String {
    format!(
        "ImportTally(stores={}, peers={}, accounts={}, files={}, books={}, instances={}, remote_instances={}, \
         transfers={}, events={})",
        t.stores, t.peers, t.accounts, t.files, t.books, t.instances, t.remote_instances, t.transfers, t.events
    )
}

/// Rows of each kind an import added or found present
/// (`OriginalImportReport.added`, `.present`).
#[pyclass(frozen, eq, module = "librarian", name = "ImportTally")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyImportTally(pub ImportTally);

#[pymethods]
impl PyImportTally {
    /// Stores.
    #[getter]
    fn stores(&self) -> u64 {
        self.0.stores
    }
    /// Peers.
    #[getter]
    fn peers(&self) -> u64 {
        self.0.peers
    }
    /// Accounts.
    #[getter]
    fn accounts(&self) -> u64 {
        self.0.accounts
    }
    /// Files (books included).
    #[getter]
    fn files(&self) -> u64 {
        self.0.files
    }
    /// Of them, books.
    #[getter]
    fn books(&self) -> u64 {
        self.0.books
    }
    /// Instances.
    #[getter]
    fn instances(&self) -> u64 {
        self.0.instances
    }
    /// Remote instances.
    #[getter]
    fn remote_instances(&self) -> u64 {
        self.0.remote_instances
    }
    /// Transfers (history and resumed).
    #[getter]
    fn transfers(&self) -> u64 {
        self.0.transfers
    }
    /// Events.
    #[getter]
    fn events(&self) -> u64 {
        self.0.events
    }
    fn __repr__(&self) -> String {
        tally_repr(&self.0)
    }
}

/// A row of the original not imported, and why (`OriginalImportReport.skipped`).
#[pyclass(frozen, eq, module = "librarian", name = "SkippedRow")]
#[derive(Debug, Clone, PartialEq)]
pub struct PySkippedRow(pub SkippedRow);

#[pymethods]
impl PySkippedRow {
    /// The original's table.
    #[getter]
    fn table(&self) -> String {
        self.0.table.clone()
    }
    /// The row (its id or name).
    #[getter]
    fn row(&self) -> String {
        self.0.row.clone()
    }
    /// Why.
    #[getter]
    fn reason(&self) -> String {
        self.0.reason.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "SkippedRow(table={}, row={}, reason={})",
            r(py, &self.0.table),
            r(py, &self.0.row),
            r(py, &self.0.reason),
        )
    }
}

/// A transfer in flight in the original at the import (`OriginalImportReport.in_flight`).
#[pyclass(frozen, eq, module = "librarian", name = "InFlight")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyInFlight(pub InFlight);

#[pymethods]
impl PyInFlight {
    /// `"outgoing"`, `"incoming"` (a clone received) or `"upload"`.
    #[getter]
    fn direction(&self) -> String {
        self.0.direction.clone()
    }
    /// Its id in the original.
    #[getter]
    fn original_id(&self) -> i64 {
        self.0.original_id
    }
    /// The file.
    #[getter]
    fn file(&self) -> String {
        self.0.file.clone()
    }
    /// The peer or uploading user.
    #[getter]
    fn party(&self) -> String {
        self.0.party.clone()
    }
    /// Its status there (the original's spelling).
    #[getter]
    fn status(&self) -> String {
        self.0.status.clone()
    }
    /// What the import did: `"resumed"`, `"failed"` or `"not_carried"`.
    #[getter]
    fn action(&self) -> &'static str {
        self.0.action.as_str()
    }
    /// Why, and what is left (a staging directory).
    #[getter]
    fn detail(&self) -> String {
        self.0.detail.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "InFlight(direction={}, original_id={}, file={}, party={}, status={}, action={})",
            r(py, &self.0.direction),
            self.0.original_id,
            r(py, &self.0.file),
            r(py, &self.0.party),
            r(py, &self.0.status),
            r(py, self.0.action.as_str()),
        )
    }
}

/// A name this site already holds differently (`OriginalImportReport.conflicts`).
#[pyclass(frozen, eq, module = "librarian", name = "ImportConflict")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyImportConflict(pub ImportConflict);

#[pymethods]
impl PyImportConflict {
    /// `"store"`, `"peer"`, `"account"`, `"file"` or `"transfer"`.
    #[getter]
    fn kind(&self) -> String {
        self.0.kind.clone()
    }
    /// Its name (or id).
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// What this site holds.
    #[getter]
    fn existing(&self) -> String {
        self.0.existing.clone()
    }
    /// What the original holds.
    #[getter]
    fn incoming(&self) -> String {
        self.0.incoming.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ImportConflict(kind={}, name={}, existing={}, incoming={})",
            r(py, &self.0.kind),
            r(py, &self.0.name),
            r(py, &self.0.existing),
            r(py, &self.0.incoming),
        )
    }
}
