"""Typed use of the API, for ``mypy --strict`` (``scripts/test-all`` runs it on this
file and ``examples/*.py``); not a pytest module, and never run.

The lines marked ``# type: ignore[...]`` are mistakes mypy must go on catching: with
``--strict`` (which warns about unused ignores) an ignore that is no longer needed fails
the check, so the stub's ``Literal`` types cannot quietly widen to ``str``."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import librarian


def every_name(lib: librarian.Librarian) -> list[str]:
    return [f.name for f in lib.search_iter(name="2026/*", page_size=500)]


def as_iterator(lib: librarian.Librarian) -> Iterator[librarian.File]:
    return lib.search_iter(since=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))


def next_page(lib: librarian.Librarian, cursor: str | None) -> list[librarian.File]:
    return lib.search(name="2026/*", limit=100, after=cursor)


def failed_by_rsync(lib: librarian.Librarian) -> list[int]:
    return [t.id for t in lib.transfers(status="failed", direction="outgoing") if t.manager == "rsync"]


def cleanup_went_well(lib: librarian.Librarian) -> bool:
    return all(o.status == "ok" and o.task == "cleanup-staging" for o in lib.run_tasks(only=["cleanup-staging"]))


def open_errors(lib: librarian.Librarian) -> list[str]:
    return [e.subject for e in lib.events() if e.severity == "error" and e.category != "drive_done"]


def bad_entries(report: librarian.VerifyReport) -> list[str]:
    return [entry for c in report.checked if c.status != "ok" for entry, problem in c.problems if problem == "missing"]


def mistakes(lib: librarian.Librarian) -> None:
    lib.run_tasks(only=["cleanup"])  # type: ignore[list-item]
    lib.transfers(status="complete")  # type: ignore[arg-type]
    lib.add_account("a", "read-write", "pw")  # type: ignore[arg-type]
    lib.upload("src", "name", algorithm="sha1")  # type: ignore[call-overload]
    up = lib.upload("src", "name", report=True)
    assert up.status != "uploaded"  # type: ignore[comparison-overlap]
    assert lib.upload("src", "name").checksum
    got = lib.get("name", "out.dat")
    assert got.kind != "book"  # type: ignore[comparison-overlap]
    assert got.dest.name and got.bad_instances == [("main", "blake3:00")]
    for t in lib.transfers():
        assert t.status != "complete"  # type: ignore[comparison-overlap]
    for o in lib.outbox():
        assert o.kind != "hold"  # type: ignore[comparison-overlap]
    lib.search(after=3)  # type: ignore[arg-type]
