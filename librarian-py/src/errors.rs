//! The exception hierarchy: `librarian.LibrarianError` and one subclass per core
//! [`Error`] variant.
//!
//! The classes are made with `type(name, bases, dict)` when the module loads, so that
//! `InvalidName`, `InvalidArgument` and `InvalidChecksum` can also subclass
//! `ValueError` (`create_exception!` allows one base only). Each class has a `code`
//! class attribute, and each raised instance a `code` attribute, equal to
//! [`Error::code`].

use librarian_core::Error;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// A Python exception class of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exc {
    Base,
    InvalidName,
    NotFound,
    AlreadyExists,
    Conflict,
    ChecksumMismatch,
    DataMissing,
    StoreFull,
    InvalidChecksum,
    AlgorithmMismatch,
    UnsupportedEntry,
    CrossDevice,
    Busy,
    Unauthorized,
    ConfigError,
    SchemaTooNew,
    InvalidArgument,
    DatabaseError,
    IoError,
    PeerUnreachable,
    PeerRefused,
    IllegalTransition,
    Forbidden,
}

/// Python name, `code`, whether it also subclasses `ValueError`, docstring.
type Spec = (&'static str, &'static str, bool, &'static str);

impl Exc {
    /// Every class, base first (the order the classes are built and stored in).
    const ALL: [Exc; 23] = [
        Exc::Base,
        Exc::InvalidName,
        Exc::NotFound,
        Exc::AlreadyExists,
        Exc::Conflict,
        Exc::ChecksumMismatch,
        Exc::DataMissing,
        Exc::StoreFull,
        Exc::InvalidChecksum,
        Exc::AlgorithmMismatch,
        Exc::UnsupportedEntry,
        Exc::CrossDevice,
        Exc::Busy,
        Exc::Unauthorized,
        Exc::ConfigError,
        Exc::SchemaTooNew,
        Exc::InvalidArgument,
        Exc::DatabaseError,
        Exc::IoError,
        Exc::PeerUnreachable,
        Exc::PeerRefused,
        Exc::IllegalTransition,
        Exc::Forbidden,
    ];

    fn spec(self) -> Spec {
        match self {
            Exc::Base => ("LibrarianError", "error", false, "Base class of every error raised by librarian."),
            Exc::InvalidName => ("InvalidName", "invalid_name", true, "A name broke the naming rules."),
            Exc::NotFound => ("NotFound", "not_found", false, "The file, store, path or configuration does not exist."),
            Exc::AlreadyExists => ("AlreadyExists", "already_exists", false, "The object exists already."),
            Exc::Conflict => {
                ("Conflict", "conflict", false, "The name is already catalogued with a different checksum.")
            }
            Exc::ChecksumMismatch => {
                ("ChecksumMismatch", "checksum_mismatch", false, "Data did not hash to the checksum it should have.")
            }
            Exc::DataMissing => ("DataMissing", "data_missing", false, "A catalogued copy (or entry) is missing."),
            Exc::StoreFull => ("StoreFull", "store_full", false, "No enabled, ingestable store has room."),
            Exc::InvalidChecksum => {
                ("InvalidChecksum", "invalid_checksum", true, "A checksum string could not be parsed.")
            }
            Exc::AlgorithmMismatch => {
                ("AlgorithmMismatch", "algorithm_mismatch", false, "Checksums of different algorithms were compared.")
            }
            Exc::UnsupportedEntry => {
                ("UnsupportedEntry", "unsupported_entry", false, "A book holds a symlink, socket, device or bad name.")
            }
            Exc::CrossDevice => {
                ("CrossDevice", "cross_device", false, "move=True but the source is on another filesystem.")
            }
            Exc::Busy => ("Busy", "busy", false, "Another live process is ingesting the same name."),
            Exc::Unauthorized => ("Unauthorized", "unauthorized", false, "A name and password did not authenticate."),
            Exc::ConfigError => ("ConfigError", "config", false, "A configuration file is missing or malformed."),
            Exc::SchemaTooNew => {
                ("SchemaTooNew", "schema_too_new", false, "The database was written by a newer librarian.")
            }
            Exc::InvalidArgument => {
                ("InvalidArgument", "invalid_argument", true, "An argument is out of range or inconsistent.")
            }
            Exc::DatabaseError => ("DatabaseError", "database", false, "The catalog database failed."),
            Exc::IoError => ("IoError", "io", false, "A filesystem operation failed."),
            Exc::PeerUnreachable => {
                ("PeerUnreachable", "peer_unreachable", false, "Another Librarian could not be reached.")
            }
            Exc::PeerRefused => ("PeerRefused", "peer_refused", false, "Another Librarian answered and refused."),
            Exc::Forbidden => ("Forbidden", "forbidden", false, "The caller may not do this."),
            Exc::IllegalTransition => {
                ("IllegalTransition", "illegal_transition", false, "A transfer cannot take this step from its state.")
            }
        }
    }

    /// The class for a core error: one-to-one, the base class for variants added
    /// to the core after this module was written.
    fn of(e: &Error) -> Exc {
        match e {
            Error::InvalidName { .. } => Exc::InvalidName,
            Error::NotFound { .. } => Exc::NotFound,
            Error::AlreadyExists { .. } => Exc::AlreadyExists,
            Error::Conflict { .. } => Exc::Conflict,
            Error::ChecksumMismatch { .. } => Exc::ChecksumMismatch,
            Error::DataMissing { .. } => Exc::DataMissing,
            Error::StoreFull { .. } => Exc::StoreFull,
            Error::InvalidChecksum { .. } => Exc::InvalidChecksum,
            Error::AlgorithmMismatch { .. } => Exc::AlgorithmMismatch,
            Error::UnsupportedEntry { .. } => Exc::UnsupportedEntry,
            Error::CrossDevice { .. } => Exc::CrossDevice,
            Error::Busy { .. } => Exc::Busy,
            Error::Unauthorized { .. } => Exc::Unauthorized,
            Error::Config { .. } => Exc::ConfigError,
            Error::SchemaTooNew { .. } => Exc::SchemaTooNew,
            Error::InvalidArgument(_) => Exc::InvalidArgument,
            Error::Database { .. } => Exc::DatabaseError,
            Error::Io { .. } => Exc::IoError,
            Error::PeerUnreachable { .. } => Exc::PeerUnreachable,
            Error::PeerRefused { .. } => Exc::PeerRefused,
            Error::IllegalTransition { .. } => Exc::IllegalTransition,
            Error::Forbidden(_) => Exc::Forbidden,
            _ => Exc::Base,
        }
    }
}

static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&'static [Py<PyType>]> {
    CLASSES.get_or_try_init(py, || build(py)).map(Vec::as_slice)
}

fn build(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let metaclass = py.get_type::<PyType>();
    let mut out: Vec<Py<PyType>> = Vec::with_capacity(Exc::ALL.len());
    for exc in Exc::ALL {
        let (name, code, value_error, doc) = exc.spec();
        let base = match out.first() {
            Some(b) => b.bind(py).clone(),
            None => py.get_type::<PyException>(),
        };
        let bases = if value_error {
            PyTuple::new(py, [base, py.get_type::<PyValueError>()])?
        } else {
            PyTuple::new(py, [base])?
        };
        let dict = PyDict::new(py);
        dict.set_item("__module__", "librarian")?;
        dict.set_item("__doc__", doc)?;
        dict.set_item("code", code)?;
        let class = metaclass.call1((name, bases, dict))?.cast_into::<PyType>()?;
        out.push(class.unbind());
    }
    Ok(out)
}

fn class(py: Python<'_>, exc: Exc) -> PyResult<Bound<'_, PyType>> {
    let all = classes(py)?;
    let pos = Exc::ALL.iter().position(|e| *e == exc).unwrap_or(0);
    match all.get(pos) {
        Some(c) => Ok(c.bind(py).clone()),
        None => Err(PyException::new_err("librarian: exception classes are not initialised")),
    }
}

/// Add every exception class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for (exc, class) in Exc::ALL.iter().zip(classes(m.py())?) {
        m.add(exc.spec().0, class.bind(m.py()))?;
    }
    Ok(())
}

/// The Python exception for a core error, with `.code` set to [`Error::code`].
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let value = class(py, Exc::of(&e))?.call1((e.to_string(),))?;
        value.setattr("code", e.code())?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

/// `Result<T, core::Error>` → `PyResult<T>`.
pub trait OrRaise<T> {
    /// Convert the error with [`to_py`].
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for librarian_core::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
