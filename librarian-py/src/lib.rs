//! Python bindings of `librarian-core`: the extension module `librarian._librarian`,
//! re-exported by the pure-Python package `librarian`.
//!
//! No behaviour lives here: each method converts its arguments, makes one core call
//! with the GIL released, and converts the result (see `site.rs`).

use librarian_core::{
    Algorithm, CallKind, Category, CheckStatus, DeletionAction, DeletionPolicy, Direction, EntryProblemKind, FileKind,
    InFlightAction, InstanceState, Level, ManagerKind, ProblemKind, RemoteState, ScrubStop, Severity, TaskKind,
    TaskStatus, TransferStatus, UploadStatus,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

mod args;
mod errors;
mod site;
mod types;

#[pymodule]
fn _librarian(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<site::PyLibrarian>()?;
    m.add_class::<types::PyFile>()?;
    m.add_class::<types::PyUpload>()?;
    m.add_class::<types::PyRetrieved>()?;
    m.add_class::<types::PyInstance>()?;
    m.add_class::<types::PyRemoteInstance>()?;
    m.add_class::<types::PyStore>()?;
    m.add_class::<types::PySiteStatus>()?;
    m.add_class::<types::PyInstanceCheck>()?;
    m.add_class::<types::PyVerifyReport>()?;
    m.add_class::<types::PyAccount>()?;
    m.add_class::<types::PyPeer>()?;
    m.add_class::<types::PyTaskOutcome>()?;
    m.add_class::<types::PyEvent>()?;
    m.add_class::<types::PyOutboxCall>()?;
    m.add_class::<types::PyDeliveryReport>()?;
    m.add_class::<types::PyTransfer>()?;
    m.add_class::<types::PySendReport>()?;
    m.add_class::<types::PyPlannedFile>()?;
    m.add_class::<types::PyLocalCloneReport>()?;
    m.add_class::<types::PyExportReport>()?;
    m.add_class::<types::PyDriveProblem>()?;
    m.add_class::<types::PyDriveReport>()?;
    m.add_class::<types::PyImportReport>()?;
    m.add_class::<types::PyScrubReport>()?;
    m.add_class::<types::PyStoreCoverage>()?;
    m.add_class::<types::PyRepairReport>()?;
    m.add_class::<types::PyRepairedCopy>()?;
    m.add_class::<types::PyRepairFailure>()?;
    m.add_class::<types::PyDeletionReport>()?;
    m.add_class::<types::PyDeletionItem>()?;
    m.add_class::<types::PyFileVerification>()?;
    m.add_class::<types::PyCopyCheck>()?;
    m.add_class::<types::PyOriginalImportReport>()?;
    m.add_class::<types::PyImportTally>()?;
    m.add_class::<types::PySkippedRow>()?;
    m.add_class::<types::PyInFlight>()?;
    m.add_class::<types::PyImportConflict>()?;
    m.add_class::<site::PySearchIterator>()?;
    m.add_function(wrap_pyfunction!(site::verify_drive, m)?)?;
    errors::register(m)?;
    // `setattr`, not `add`: a private name, kept out of the module's `__all__`.
    m.setattr("_LITERALS", literals(m.py())?)?;
    Ok(())
}

/// `_LITERALS`: for each `Literal[...]` alias of `_librarian.pyi`, the strings the
/// module can return or accept there, from the core's `ALL` lists and `as_str` (the
/// same functions the getters use). `tests/test_stub_literals.py` compares each alias
/// with its entry, so a variant added in Rust fails the tests until the stub has it.
fn literals(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    fn put<'py, T: Copy>(
        d: &Bound<'py, PyDict>,
        alias: &str,
        all: &[T],
        as_str: fn(T) -> &'static str,
    ) -> PyResult<()> {
        d.set_item(alias, PyTuple::new(d.py(), all.iter().map(|v| as_str(*v)))?)
    }
    let d = PyDict::new(py);
    put(&d, "_Level", &Level::ALL, Level::as_str)?;
    put(&d, "_Severity", &Severity::ALL, Severity::as_str)?;
    put(&d, "_Category", &Category::ALL, Category::as_str)?;
    put(&d, "_TransferStatus", &TransferStatus::ALL, TransferStatus::as_str)?;
    put(&d, "_Direction", &Direction::ALL, Direction::as_str)?;
    put(&d, "_Manager", &ManagerKind::ALL, ManagerKind::as_str)?;
    put(&d, "_ProblemKind", &ProblemKind::ALL, ProblemKind::as_str)?;
    put(&d, "_CallKind", &CallKind::ALL, CallKind::as_str)?;
    put(&d, "_TaskName", &TaskKind::ALL, TaskKind::as_str)?;
    put(&d, "_TaskStatus", &TaskStatus::ALL, TaskStatus::as_str)?;
    put(&d, "_CheckStatus", &CheckStatus::ALL, CheckStatus::as_str)?;
    put(&d, "_EntryProblem", &EntryProblemKind::ALL, EntryProblemKind::as_str)?;
    put(&d, "_FileKind", &FileKind::ALL, FileKind::as_str)?;
    put(&d, "_DeletionPolicy", &DeletionPolicy::ALL, DeletionPolicy::as_str)?;
    put(&d, "_Algorithm", &Algorithm::ALL, Algorithm::as_str)?;
    put(&d, "_UploadStatus", &UploadStatus::ALL, UploadStatus::as_str)?;
    put(&d, "_InstanceState", &InstanceState::ALL, InstanceState::as_str)?;
    put(&d, "_RemoteState", &RemoteState::ALL, RemoteState::as_str)?;
    put(&d, "_ScrubStop", &ScrubStop::ALL, ScrubStop::as_str)?;
    put(&d, "_DeletionAction", &DeletionAction::ALL, DeletionAction::as_str)?;
    put(&d, "_InFlightAction", &InFlightAction::ALL, InFlightAction::as_str)?;
    put(&d, "_PeerProtocol", &librarian_core::PeerProtocol::ALL, librarian_core::PeerProtocol::as_str)?;
    Ok(d)
}
