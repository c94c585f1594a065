//! The exception hierarchy: `librarian.LibrarianError` and one subclass per row of
//! the core's [`ERROR_CODES`] table (one per core [`Error`] code).
//!
//! The classes are made from that table with `type(name, bases, dict)` when the
//! module loads, so that the classes of usage codes (`InvalidName`,
//! `InvalidArgument`, `InvalidChecksum`, `AlgorithmMismatch`) can also subclass
//! `ValueError` (`create_exception!` allows one base only). Each class has a `code`
//! class attribute, and each raised instance a `code` attribute, equal to
//! [`Error::code`].
//!
//! The classes of [`REPORT_CODES`] also have a `report` attribute: `None` on the
//! class, and on an instance raised by `Librarian.verify` the structured report of
//! that verify ([`with_report`]). It is left out when the exception is pickled (the
//! report classes are not picklable): `report` is `None` after a round trip.

use librarian_core::{ERROR_CODES, Error, ErrorCode};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The base class: no row of its own.
const BASE: ErrorCode = ErrorCode {
    code: "error",
    usage: false,
    python_class: "LibrarianError",
    meaning: "Base class of every error raised by librarian.",
};

/// The codes whose classes carry a `report` (the errors `VerifyReport::into_result`
/// turns a report into).
pub const REPORT_CODES: &[&str] = &["checksum_mismatch", "data_missing"];

/// `__reduce__` of the classes of [`REPORT_CODES`]: `BaseException`'s (class, args,
/// instance dict), less the `report`, which cannot be pickled.
const REDUCE_WITHOUT_REPORT: &std::ffi::CStr = c"
def __reduce__(self):
    state = {k: v for k, v in self.__dict__.items() if k != 'report'}
    return (type(self), self.args, state)
";

/// Every class, base first (the order the classes are built and stored in).
fn specs() -> impl Iterator<Item = &'static ErrorCode> {
    std::iter::once(&BASE).chain(ERROR_CODES)
}

/// Where the class of `code` is in [`classes`]: the base class for a code this
/// module does not know (none, while it is built from the table).
fn position(code: &str) -> usize {
    ERROR_CODES.iter().position(|c| c.code == code).map_or(0, |i| i + 1)
}

static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&'static [Py<PyType>]> {
    CLASSES.get_or_try_init(py, || build(py)).map(Vec::as_slice)
}

fn build(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let metaclass = py.get_type::<PyType>();
    // Defined in a namespace of its own (not a module in `sys.modules`), as a
    // function of module `librarian`.
    let namespace = PyDict::new(py);
    namespace.set_item("__name__", "librarian")?;
    py.run(REDUCE_WITHOUT_REPORT, Some(&namespace), None)?;
    let reduce = namespace
        .get_item("__reduce__")?
        .ok_or_else(|| PyException::new_err("librarian: the exceptions' __reduce__ could not be defined"))?;
    let mut out: Vec<Py<PyType>> = Vec::with_capacity(ERROR_CODES.len() + 1);
    for spec in specs() {
        let base = match out.first() {
            Some(b) => b.bind(py).clone(),
            None => py.get_type::<PyException>(),
        };
        let bases = if spec.usage {
            PyTuple::new(py, [base, py.get_type::<PyValueError>()])?
        } else {
            PyTuple::new(py, [base])?
        };
        let dict = PyDict::new(py);
        dict.set_item("__module__", "librarian")?;
        dict.set_item("__doc__", spec.meaning)?;
        dict.set_item("code", spec.code)?;
        if REPORT_CODES.contains(&spec.code) {
            dict.set_item("report", py.None())?;
            dict.set_item("__reduce__", &reduce)?;
        }
        let class = metaclass.call1((spec.python_class, bases, dict))?.cast_into::<PyType>()?;
        out.push(class.unbind());
    }
    Ok(out)
}

fn class<'py>(py: Python<'py>, code: &str) -> PyResult<Bound<'py, PyType>> {
    match classes(py)?.get(position(code)) {
        Some(c) => Ok(c.bind(py).clone()),
        None => Err(PyException::new_err("librarian: exception classes are not initialised")),
    }
}

/// Add every exception class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for (spec, class) in specs().zip(classes(m.py())?) {
        m.add(spec.python_class, class.bind(m.py()))?;
    }
    Ok(())
}

/// The Python exception for a core error, with `.code` set to [`Error::code`].
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let value = class(py, e.code())?.call1((e.to_string(),))?;
        value.setattr("code", e.code())?;
        if let Error::InvalidArgument { argument, .. } = &e {
            value.setattr("argument", argument)?;
        }
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

/// The Python exception for a core error raised from `report` (a verify's): as
/// [`to_py`], with the `report` attribute set when the error's class has one
/// ([`REPORT_CODES`]).
pub fn with_report<'py>(py: Python<'py>, e: Error, report: impl IntoPyObject<'py>) -> PyErr {
    let carries = REPORT_CODES.contains(&e.code());
    let err = to_py(py, e);
    if carries && let Err(failed) = err.value(py).setattr("report", report) {
        return failed;
    }
    err
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use librarian_core::ObjectKind;

    use super::*;

    /// The module's classes, as Python sees them, against the core's table: one class
    /// per code, named as the table says, `ValueError` exactly for usage codes.
    #[test]
    fn the_classes_are_the_core_table_one_to_one() -> PyResult<()> {
        Python::initialize();
        Python::attach(|py| {
            let m = PyModule::new(py, "librarian")?;
            register(&m)?;
            let base = m.getattr("LibrarianError")?.cast_into::<PyType>()?;
            let value_error = py.get_type::<PyValueError>();
            let mut seen = BTreeSet::new();
            for name in m.dir()?.iter().map(|n| n.extract::<String>()).collect::<PyResult<Vec<_>>>()? {
                let Ok(class) = m.getattr(name.as_str())?.cast_into::<PyType>() else { continue };
                if !class.is_subclass(&base)? || class.is(&base) {
                    continue;
                }
                let code: String = class.getattr("code")?.extract()?;
                let row = ERROR_CODES.iter().find(|r| r.code == code);
                let Some(row) = row else { panic!("class {name} has code {code:?}, which is not in ERROR_CODES") };
                assert_eq!(row.python_class, name, "the class of {code:?}");
                assert_eq!(class.name()?.to_string(), name);
                assert_eq!(class.getattr("__module__")?.extract::<String>()?, "librarian");
                assert_eq!(class.is_subclass(&value_error)?, row.usage, "{name}: ValueError iff a usage code");
                assert!(seen.insert(code.clone()), "two classes for {code:?}");
            }
            let table: BTreeSet<String> = ERROR_CODES.iter().map(|r| r.code.to_owned()).collect();
            assert_eq!(seen, table, "every code of ERROR_CODES has exactly one class");
            assert!(!base.is_subclass(&value_error)?);
            assert_eq!(base.getattr("code")?.extract::<String>()?, "error");

            // A raised error is an instance of its row's class, with its code.
            for e in [
                Error::corrupt_row("files.kind", "symlink"),
                Error::internal("cannot hash the password"),
                Error::invalid("limit", "must be at least 1"),
                Error::NotFound { kind: ObjectKind::File, name: "x".into() },
            ] {
                let (code, usage) = (e.code(), e.is_usage());
                let err = to_py(py, e);
                let value = err.value(py);
                let class = m.getattr(e_class(code))?.cast_into::<PyType>()?;
                assert!(value.is_instance(&class)?, "{code}");
                assert_eq!(value.is_instance(&value_error)?, usage, "{code}");
                assert_eq!(value.getattr("code")?.extract::<String>()?, code);
            }
            Ok(())
        })
    }

    /// The classes of `REPORT_CODES` (codes of the table) have `report = None`; the
    /// others have no `report`. `with_report` sets it on those classes only.
    #[test]
    fn report_classes_carry_the_report() -> PyResult<()> {
        Python::initialize();
        Python::attach(|py| {
            let m = PyModule::new(py, "librarian")?;
            register(&m)?;
            for code in REPORT_CODES {
                assert!(ERROR_CODES.iter().any(|r| r.code == *code), "{code} is not a code of ERROR_CODES");
            }
            for row in ERROR_CODES {
                let class = m.getattr(row.python_class)?;
                let carries = REPORT_CODES.contains(&row.code);
                assert_eq!(class.hasattr("report")?, carries, "{}", row.python_class);
                if carries {
                    assert!(class.getattr("report")?.is_none(), "{}", row.python_class);
                }
            }
            let mismatch = Error::ChecksumMismatch { name: "a".into(), detail: "x".into() };
            let err = with_report(py, mismatch, "the report");
            assert_eq!(err.value(py).getattr("report")?.extract::<String>()?, "the report");
            let other = with_report(py, Error::invalid("limit", "too big"), "the report");
            assert!(!other.value(py).hasattr("report")?);
            Ok(())
        })
    }

    fn e_class(code: &str) -> &'static str {
        ERROR_CODES.iter().find(|r| r.code == code).map_or("LibrarianError", |r| r.python_class)
    }

    /// The hand-written typing stub and the package's `__init__.py` declare the same
    /// classes as the table, with the same bases and codes.
    #[test]
    fn the_stub_and_the_package_list_every_class() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/librarian");
        let stub = std::fs::read_to_string(dir.join("_librarian.pyi")).unwrap_or_default();
        let init = std::fs::read_to_string(dir.join("__init__.py")).unwrap_or_default();
        assert!(stub.contains("class LibrarianError(Exception):"), "stub not found in {}", dir.display());
        let declared: BTreeSet<&str> = stub
            .lines()
            .filter(|l| l.starts_with("class ") && l.contains("(LibrarianError"))
            .filter_map(|l| l.strip_prefix("class ")?.split('(').next())
            .collect();
        let table: BTreeSet<&str> = ERROR_CODES.iter().map(|r| r.python_class).collect();
        assert_eq!(declared, table, "_librarian.pyi's exception classes");
        for row in ERROR_CODES {
            let bases = if row.usage { "(LibrarianError, ValueError):" } else { "(LibrarianError):" };
            let head = format!("class {}{bases}", row.python_class);
            let Some(at) = stub.find(&head) else { panic!("_librarian.pyi: no `{head}`") };
            let body = stub[at + head.len()..].split("\nclass ").next().unwrap_or("");
            assert!(body.contains(&format!("``code == \"{}\"``", row.code)), "{head}: docstring lacks its code");
            let quoted = format!("\"{}\",", row.python_class);
            assert_eq!(stub.matches(&quoted).count(), 1, "_librarian.pyi __all__: {}", row.python_class);
            assert_eq!(init.matches(&quoted).count(), 1, "__init__.py __all__: {}", row.python_class);
            assert!(init.contains(&format!("    {},\n", row.python_class)), "__init__.py import: {}", row.python_class);
        }
    }
}
