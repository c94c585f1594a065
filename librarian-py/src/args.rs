//! Python arguments → core values. Validation itself is the core's; this only
//! unpacks Python objects (text goes through the core's parsers), and checks what
//! those parsers would have checked for values that arrive as Python types instead
//! of text (a `timedelta` budget must be positive, as `parse_interval` requires).

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use librarian_core::{Budget, Error, FileName, Password, parse_budget, parse_interval, parse_size};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDateTime, PyDelta, PyInt, PyMapping, PyString};

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

/// The limits of a scrub, from `Librarian.scrub(budget, budget_bytes=, budget_time=)`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScrubBudget {
    pub bytes: Option<u64>,
    pub time: Option<SignedDuration>,
}

/// `budget` (an `int` of bytes, a `timedelta`, or a `str` the core's
/// [`parse_budget`] reads as a size or a duration), `budget_bytes` (an `int` or a
/// size `str`) and `budget_time` (a `timedelta` or a duration `str`); one limit of
/// each kind at most.
pub fn scrub_budget(
    py: Python<'_>,
    budget: Option<&Bound<'_, PyAny>>,
    budget_bytes: Option<&Bound<'_, PyAny>>,
    budget_time: Option<&Bound<'_, PyAny>>,
) -> PyResult<ScrubBudget> {
    let mut out = ScrubBudget::default();
    if let Some(b) = budget {
        if b.is_instance_of::<PyInt>() && !b.is_instance_of::<PyBool>() {
            out.bytes = Some(byte_count(py, "budget", b)?);
        } else if b.is_instance_of::<PyDelta>() {
            out.time = Some(duration(py, "budget", b)?);
        } else if let Ok(text) = b.cast::<PyString>() {
            match parse_budget(&text.to_cow()?).or_raise(py)? {
                Budget::Bytes(n) => out.bytes = Some(n),
                Budget::Time(t) => out.time = Some(t),
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "budget must be an int (bytes), a str (\"100GB\", \"30min\") or a datetime.timedelta, not {}",
                type_name(b)
            )));
        }
    }
    if let Some(b) = budget_bytes {
        if out.bytes.is_some() {
            return Err(given_twice(py, "budget_bytes", "a byte limit"));
        }
        out.bytes = Some(size(py, "budget_bytes", b)?);
    }
    if let Some(t) = budget_time {
        if out.time.is_some() {
            return Err(given_twice(py, "budget_time", "a time limit"));
        }
        out.time = Some(if t.is_instance_of::<PyDelta>() {
            duration(py, "budget_time", t)?
        } else if let Ok(text) = t.cast::<PyString>() {
            parse_interval(&text.to_cow()?).map_err(|e| renamed(e, "budget_time")).or_raise(py)?
        } else {
            return Err(PyTypeError::new_err(format!(
                "budget_time must be a datetime.timedelta or a str (\"30min\"), not {}",
                type_name(t)
            )));
        });
    }
    Ok(out)
}

/// A number of bytes: an `int`, or a `str` the core's [`parse_size`] reads
/// (`"500MB"`, `"2GiB"`).
pub fn size(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return byte_count(py, what, obj);
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return parse_size(&text.to_cow()?).map_err(|e| renamed(e, what)).or_raise(py);
    }
    Err(PyTypeError::new_err(format!("{what} must be an int (bytes) or a str (\"500MB\"), not {}", type_name(obj))))
}

fn byte_count(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    match obj.extract::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => Err(to_py(py, Error::invalid(what, format!("{what} must be between 0 and {} bytes", u64::MAX)))),
    }
}

/// A positive `timedelta`.
fn duration(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<SignedDuration> {
    let d = obj.extract::<SignedDuration>()?;
    if d.is_negative() || d.is_zero() {
        return Err(to_py(py, Error::invalid(what, format!("{what} must be a positive duration"))));
    }
    Ok(d)
}

fn given_twice(py: Python<'_>, what: &str, kind: &str) -> PyErr {
    to_py(py, Error::invalid(what, format!("{kind} is given twice: by budget and by {what}")))
}

/// The core's parsers name their argument generically (`"size"`, `"interval"`):
/// name the Python parameter instead.
fn renamed(e: Error, what: &str) -> Error {
    match e {
        Error::InvalidArgument { reason, .. } => Error::InvalidArgument { argument: what.to_owned(), reason },
        other => other,
    }
}

/// A path the core takes as text: a `str` as it is (also a URL, for
/// `import_original`'s `source`), or an `os.PathLike` / `bytes` path; refused when it
/// is not UTF-8.
pub fn path_text(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return text(py, what, s);
    }
    let path = obj
        .extract::<PathBuf>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str or an os.PathLike, not {}", type_name(obj))))?;
    path.into_os_string().into_string().map_err(|p| to_py(py, Error::invalid(what, format!("{p:?} is not UTF-8"))))
}

fn text(py: Python<'_>, what: &str, s: &Bound<'_, PyString>) -> PyResult<String> {
    s.to_cow()
        .map(|t| t.into_owned())
        .map_err(|_| to_py(py, Error::invalid(what, "not valid Unicode (it holds a lone surrogate)")))
}

fn str_item(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let s =
        obj.cast::<PyString>().map_err(|_| PyTypeError::new_err(format!("{what}: {} is not a str", type_name(obj))))?;
    text(py, what, s)
}

/// What the values of a mapping of [`name_values`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// `str` only (URLs, names).
    Text,
    /// `str` or `os.PathLike` (directories).
    Paths,
}

/// `None` or a mapping `{NAME: VALUE}` as the core's `NAME=VALUE` strings, in the
/// mapping's order. A `NAME` holding `=` cannot be written so and is refused.
pub fn name_values(
    py: Python<'_>,
    what: &str,
    obj: Option<&Bound<'_, PyAny>>,
    values: Values,
) -> PyResult<Vec<String>> {
    let Some(obj) = obj else { return Ok(Vec::new()) };
    let map = obj
        .cast::<PyMapping>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a mapping (a dict), not {}", type_name(obj))))?;
    let mut out = Vec::new();
    for item in map.items()?.iter() {
        let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        let k = str_item(py, what, &k)?;
        let v = match values {
            Values::Text => str_item(py, what, &v)?,
            Values::Paths => path_text(py, what, &v)?,
        };
        out.push(joined(py, what, &k, &v)?);
    }
    Ok(out)
}

/// `import_original`'s `map_prefix`: `None`, a mapping `{OLD: NEW}` of paths (`str` or
/// `os.PathLike`), or a sequence of `"OLD=NEW"` strings (the CLI's form), as the
/// core's `OLD=NEW` strings. The core parses and checks them.
pub fn prefix_map(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    const WHAT: &str = "map_prefix";
    let Some(obj) = obj else { return Ok(Vec::new()) };
    if let Ok(map) = obj.cast::<PyMapping>() {
        let mut out = Vec::new();
        for item in map.items()?.iter() {
            let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
            let (old, new) = (path_text(py, WHAT, &k)?, path_text(py, WHAT, &v)?);
            out.push(joined(py, WHAT, &old, &new)?);
        }
        return Ok(out);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "map_prefix must be a mapping {OLD: NEW} or a sequence of \"OLD=NEW\" strings, not one string",
        ));
    }
    let iter = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "map_prefix must be a mapping {{OLD: NEW}} or a sequence of \"OLD=NEW\" strings, not {}",
            type_name(obj)
        ))
    })?;
    iter.map(|item| str_item(py, WHAT, &item?)).collect()
}

/// `NAME=VALUE`, for a `NAME` the core can split off again (it splits at the first `=`).
fn joined(py: Python<'_>, what: &str, name: &str, value: &str) -> PyResult<String> {
    if name.contains('=') {
        return Err(to_py(py, Error::invalid(what, format!("{name:?}: a key cannot hold '='"))));
    }
    Ok(format!("{name}={value}"))
}

/// The core's import names its options as the CLI spells them (`--map-prefix`): an
/// `InvalidArgument`'s `argument` names the Python parameter instead (its message is
/// the core's).
pub fn import_error(e: Error) -> Error {
    const PARAMETERS: [(&str, &str); 6] = [
        ("--original-config", "original_config"),
        ("--map-prefix", "map_prefix"),
        ("--store-root", "store_roots"),
        ("--store-staging", "store_staging"),
        ("--peer-url", "peer_urls"),
        ("--remote-store", "remote_stores"),
    ];
    match e {
        Error::InvalidArgument { argument, reason } => {
            let found = PARAMETERS.iter().find(|(cli, _)| *cli == argument).map(|(_, p)| (*p).to_owned());
            Error::InvalidArgument { argument: found.unwrap_or(argument), reason }
        }
        other => other,
    }
}
