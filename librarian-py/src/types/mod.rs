//! Frozen Python views of the core's result types. Attributes are read-only and
//! converted on access: times to timezone-aware `datetime` (UTC), paths to
//! `pathlib.Path`, checksums and enums to their text form, JSON to Python objects.

mod catalog;
mod lifecycle;
mod operations;
mod original_import;
mod sneakernet;
mod transfers;

pub use catalog::*;
pub use lifecycle::*;
pub use operations::*;
pub use original_import::*;
pub use sneakernet::*;
pub use transfers::*;

use std::path::Path;

use pyo3::prelude::*;

/// Python `repr()` of a string (single quotes, escapes), for `__repr__`s.
pub(crate) fn r(py: Python<'_>, s: &str) -> String {
    pyo3::types::PyString::new(py, s).repr().map(|o| o.to_string()).unwrap_or_else(|_| format!("{s:?}"))
}

pub(crate) fn rp(py: Python<'_>, p: &Path) -> String {
    r(py, &p.to_string_lossy())
}

pub(crate) fn opt_r(py: Python<'_>, s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), |s| r(py, s))
}
