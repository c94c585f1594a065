//! Python bindings (placeholder; filled in by the Python work).
use pyo3::prelude::*;

#[pymodule]
fn _librarian(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
