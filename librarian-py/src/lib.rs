//! Python bindings of `librarian-core`: the extension module `librarian._librarian`,
//! re-exported by the pure-Python package `librarian`.
//!
//! No behaviour lives here: each method converts its arguments, makes one core call
//! with the GIL released, and converts the result (see `site.rs`).

use pyo3::prelude::*;

mod args;
mod errors;
mod site;
mod types;

#[pymodule]
fn _librarian(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<site::PyLibrarian>()?;
    m.add_class::<types::PyFile>()?;
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
    m.add_class::<site::PySearchIterator>()?;
    m.add_function(wrap_pyfunction!(site::verify_drive, m)?)?;
    errors::register(m)?;
    Ok(())
}
