"""The installed package: exports, exception hierarchy and codes, and the typing
files (py.typed, _librarian.pyi) that must ship in the wheel and match the module."""

import ast
import importlib.metadata
import importlib.util
import pathlib
import pickle

import pytest

import librarian
from conftest import skip_or_fail
from librarian import _librarian

# Python class -> core Error::code(), one per core Error variant.
CODES = {
    "InvalidName": "invalid_name",
    "NotFound": "not_found",
    "AlreadyExists": "already_exists",
    "Conflict": "conflict",
    "ChecksumMismatch": "checksum_mismatch",
    "DataMissing": "data_missing",
    "StoreFull": "store_full",
    "InvalidChecksum": "invalid_checksum",
    "AlgorithmMismatch": "algorithm_mismatch",
    "UnsupportedEntry": "unsupported_entry",
    "CrossDevice": "cross_device",
    "Busy": "busy",
    "Unauthorized": "unauthorized",
    "ConfigError": "config",
    "SchemaTooNew": "schema_too_new",
    "InvalidArgument": "invalid_argument",
    "DatabaseError": "database",
    "IoError": "io",
    "PeerUnreachable": "peer_unreachable",
    "PeerRefused": "peer_refused",
    "IllegalTransition": "illegal_transition",
    "Forbidden": "forbidden",
    "CorruptData": "corrupt",
    "InternalError": "internal",
}
# The usage codes (the core's ERROR_CODES rows with usage = true; the CLI exits 2).
VALUE_ERRORS = {"InvalidName", "InvalidArgument", "InvalidChecksum", "AlgorithmMismatch"}
CLASSES = [
    "Librarian",
    "SearchIterator",
    "File",
    "Upload",
    "Retrieved",
    "Instance",
    "RemoteInstance",
    "Store",
    "SiteStatus",
    "InstanceCheck",
    "VerifyReport",
    "Account",
    "Peer",
    "TaskOutcome",
    "Event",
    "OutboxCall",
    "DeliveryReport",
    "Transfer",
    "SendReport",
    "PlannedFile",
    "LocalCloneReport",
    "ExportReport",
    "DriveProblem",
    "DriveReport",
    "ImportReport",
    "ScrubReport",
    "StoreCoverage",
    "RepairReport",
    "RepairedCopy",
    "RepairFailure",
    "DeletionReport",
    "DeletionItem",
    "FileVerification",
    "CopyCheck",
    "OriginalImportReport",
    "ImportTally",
    "SkippedRow",
    "InFlight",
    "ImportConflict",
]
FUNCTIONS = ["verify_drive"]


def package_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("librarian")
    assert spec is not None and spec.submodule_search_locations
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def test_version():
    assert isinstance(librarian.__version__, str)
    assert librarian.__version__.count(".") >= 2
    assert librarian.__version__ == importlib.metadata.version("librarian")


def test_all_is_complete_and_resolvable():
    expected = set(CODES) | {"LibrarianError", "__version__"} | set(CLASSES) | set(FUNCTIONS)
    assert set(librarian.__all__) == expected
    for name in librarian.__all__:
        assert hasattr(librarian, name), name


def test_exception_hierarchy():
    assert issubclass(librarian.LibrarianError, Exception)
    assert librarian.LibrarianError.__module__ == "librarian"
    for name, code in CODES.items():
        cls = getattr(librarian, name)
        assert issubclass(cls, librarian.LibrarianError), name
        assert cls.__module__ == "librarian", name
        assert cls.__name__ == name
        assert cls.code == code, name
        assert issubclass(cls, ValueError) == (name in VALUE_ERRORS), name
        assert cls.__doc__
    assert len(set(CODES.values())) == len(CODES)
    assert issubclass(librarian.NotFound, librarian.LibrarianError)
    assert not issubclass(librarian.NotFound, librarian.Conflict)


def test_a_catalog_row_that_does_not_parse_raises_corrupt_data(site, src):
    import sqlite3

    site.upload(src, "2026/obs")
    db = sqlite3.connect(site.status().database)
    with db:
        db.execute("UPDATE files SET checksum = 'nonsense' WHERE name = '2026/obs'")
    db.close()
    with pytest.raises(librarian.CorruptData) as e:
        site.file("2026/obs")
    assert e.value.code == "corrupt" and "nonsense" in str(e.value)
    # Not the caller's fault: no ValueError, and not the InvalidChecksum of a bad argument.
    assert not isinstance(e.value, ValueError)
    assert not isinstance(e.value, librarian.InvalidChecksum)


def test_exceptions_pickle_with_their_code(site):
    with pytest.raises(librarian.NotFound) as e:
        site.file("missing")
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is librarian.NotFound
    assert back.code == "not_found" and str(back) == str(e.value)


def test_result_classes_live_in_librarian():
    for name in CLASSES:
        assert getattr(librarian, name).__module__ == "librarian", name


def test_ships_py_typed_and_stub():
    d = package_dir()
    assert (d / "py.typed").is_file()
    assert (d / "py.typed").read_bytes() == b""
    assert (d / "_librarian.pyi").is_file()
    assert (d / "__init__.py").is_file()


def test_wheel_record_lists_typing_files():
    files = {str(f) for f in importlib.metadata.files("librarian") or []}
    if "librarian/__init__.py" not in files:
        skip_or_fail("editable install (maturin develop): the RECORD does not list the package's files")
    assert "librarian/py.typed" in files
    assert "librarian/_librarian.pyi" in files
    assert any(f.startswith("librarian/_librarian") and f.endswith(".so") for f in files)


def stub_tree() -> ast.Module:
    return ast.parse((package_dir() / "_librarian.pyi").read_text())


def stub_members(tree: ast.Module) -> "dict[str, set[str]]":
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            out[node.name] = members
    return out


def test_stub_declares_every_runtime_name_and_member():
    tree = stub_tree()
    members = stub_members(tree)
    top = (
        set(members)
        | {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target] if isinstance(t, ast.Name)}
        | {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    )
    runtime = {n for n in dir(_librarian) if not n.startswith("_")} | {"__version__"}
    assert runtime <= top, f"missing from the stub: {sorted(runtime - top)}"
    for name in CLASSES:
        public = {m for m in dir(getattr(_librarian, name)) if not m.startswith("_")}
        assert public <= members[name], f"{name}: missing from the stub: {sorted(public - members[name])}"
        extra = {m for m in members[name] if not m.startswith("_")} - public
        assert not extra, f"{name}: in the stub but not at runtime: {sorted(extra)}"


def test_stub_signatures_match_runtime():
    import inspect

    members = {
        n.name: {f.name: f for f in n.body if isinstance(f, ast.FunctionDef)}
        for n in stub_tree().body
        if isinstance(n, ast.ClassDef)
    }
    for meth, fn in members["Librarian"].items():
        if meth.startswith("_") or fn.decorator_list and any(
            isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list
        ):
            continue
        sig = inspect.signature(getattr(librarian.Librarian, meth))
        runtime = [p for p in sig.parameters if p not in ("self", "$self")]
        a = fn.args
        stub = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg != "self"]
        assert runtime == stub, f"Librarian.{meth}: runtime {runtime} vs stub {stub}"
    functions = {n.name: n for n in stub_tree().body if isinstance(n, ast.FunctionDef)}
    assert set(functions) == set(FUNCTIONS)
    for name, fn in functions.items():
        runtime = list(inspect.signature(getattr(librarian, name)).parameters)
        a = fn.args
        assert runtime == [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs], name
