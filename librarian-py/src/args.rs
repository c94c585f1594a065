//! Python arguments → core values. Validation itself is the core's; this only
//! unpacks Python objects.

use jiff::Timestamp;
use librarian_core::{Error, FileName, Password};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyString};

use crate::errors::{OrRaise, to_py};

/// A catalog name: a `str` (lone surrogates, e.g. from `os.fsdecode`, are passed on
/// as their bytes so the core reports the name as not UTF-8) or `bytes`.
pub fn file_name(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<FileName> {
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow() {
            Ok(text) => FileName::new(&text).or_raise(py),
            Err(_) => {
                let raw = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
                FileName::from_bytes(raw.cast::<PyBytes>()?.as_bytes()).or_raise(py)
            }
        };
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return FileName::from_bytes(b.as_bytes()).or_raise(py);
    }
    Err(PyTypeError::new_err(format!("a name must be str or bytes, not {}", type_name(obj))))
}

/// `None`, one name, or an iterable of names.
pub fn file_names(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<FileName>> {
    let Some(obj) = obj else { return Ok(Vec::new()) };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Ok(vec![file_name(py, obj)?]);
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("names must be a str or an iterable of str, not {}", type_name(obj)))
    })?;
    iter.map(|item| file_name(py, &item?)).collect()
}

/// A password: a `str`, checked by the core. No error raised here quotes it (a `str`
/// that is not valid Unicode is refused without chaining the codec error, whose
/// `object` would hold it).
pub fn password(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Password> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("a password must be str, not {}", type_name(obj))))?;
    let text = s
        .to_cow()
        .map_err(|_| to_py(py, Error::invalid("password", "not valid Unicode (it holds a lone surrogate)")))?;
    Password::new(text.into_owned()).or_raise(py)
}

/// A timezone-aware `datetime` (naive ones are refused: their meaning is ambiguous).
pub fn instant(py: Python<'_>, what: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Timestamp>> {
    let Some(obj) = obj else { return Ok(None) };
    let dt = obj
        .cast::<PyDateTime>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a datetime.datetime, not {}", type_name(obj))))?;
    if dt.call_method0("utcoffset")?.is_none() {
        return Err(to_py(
            py,
            Error::invalid(
                what,
                "must be a timezone-aware datetime (e.g. datetime.now(timezone.utc)), not a naive one",
            ),
        ));
    }
    Ok(Some(dt.extract::<Timestamp>()?))
}

/// A count that must fit in `u32`.
pub fn count(py: Python<'_>, what: &str, n: i64) -> PyResult<u32> {
    u32::try_from(n)
        .map_err(|_| to_py(py, Error::invalid(what, format!("must be between 0 and {}, not {n}", u32::MAX))))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}
