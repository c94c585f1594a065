"""Typed use of the API, for ``mypy --strict`` (``scripts/test-all`` runs it on this
file and ``examples/*.py``); not a pytest module, and never run.

The lines marked ``# type: ignore[...]`` are mistakes mypy must go on catching: with
``--strict`` (which warns about unused ignores) an ignore that is no longer needed fails
the check, so the stub's ``Literal`` types cannot quietly widen to ``str``."""

from __future__ import annotations

import datetime
import pathlib
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


def scrub_findings(lib: librarian.Librarian) -> list[tuple[str, str, str]]:
    report = lib.scrub("100GB", max_rate="200MB", store="main")
    if report.stopped == "bytes" and report.ok:
        return []
    return [(c.name, c.store, c.state) for c in report.problems if c.status == "mismatch"]


def both_limits(lib: librarian.Librarian) -> float:
    report = lib.scrub(budget_bytes=10**9, budget_time=datetime.timedelta(minutes=30), max_rate=200_000_000)
    return report.seconds + sum(c.covered for c in report.coverage)


def least_covered(lib: librarian.Librarian) -> datetime.datetime | None:
    return min((c for c in lib.coverage()), key=lambda c: c.covered).oldest_verified_at


def repair_outcome(lib: librarian.Librarian, name: str) -> list[str]:
    report = lib.repair(name)
    if report.ok:
        return [c.source for c in report.repaired if c.was == "corrupt"]
    return [f.reason for f in report.failed]


def deletions(lib: librarian.Librarian) -> int:
    plan = lib.drop("2026/obs", store="main", min_copies=0, dry_run=True)
    would = [i.instance for i in plan.items if i.action == "delete" and not i.done]
    done = lib.rolling_deletion("main", dry_run=False)
    return len(would) + done.deleted + done.bytes_freed + len(done.peers_asked)


def peer_copies(lib: librarian.Librarian) -> list[str]:
    return [c.state for f in lib.verify_remote("site-b", ["2026/obs"]) if f.intact for c in f.copies]


def damaged_copies(lib: librarian.Librarian) -> list[tuple[str, str]]:
    try:
        lib.verify()
    except librarian.ChecksumMismatch as e:
        if e.report is None:
            return []
        return [(c.name, c.store) for c in e.report.checked if c.state == "corrupt"]
    return [(i.store, i.state_reason or "") for i in lib.instances("2026/obs") if i.state == "missing"]


def remote_states(lib: librarian.Librarian) -> list[datetime.datetime | None]:
    return [r.checked_at for r in lib.remote_instances("2026/obs") if r.state == "corrupt"]


def import_original(lib: librarian.Librarian, fixture: pathlib.Path) -> list[str]:
    report = lib.import_original(
        fixture / "site-a.sqlite",
        original_config=fixture / "config" / "so-site-a.json",
        map_prefix={"/srv/so-librarian/so-site-a/main": fixture / "tree" / "so-site-a" / "main"},
        store_roots={"sneaker_drive": fixture / "drive" / "store"},
        remote_stores={"so-site-b:1": "main_store"},
        dry_run=True,
    )
    again = lib.import_original("site-a.sqlite", map_prefix=["/srv=/data"], peer_urls={"so-site-b": "http://b"})
    files: int = report.added.files + again.present.files + sum(report.instance_states.values())
    rows: int | None = report.source_rows["files"]
    assert files and rows is not None and report.original_site is not None
    resumed = [f.file for f in report.in_flight if f.action == "resumed"]
    return resumed + [c.name for c in report.conflicts] + [s.reason for s in report.skipped]


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
    lib.scrub(1.5)  # type: ignore[arg-type]
    lib.scrub(budget_time=60)  # type: ignore[arg-type]
    lib.drop("name", "main")  # type: ignore[call-arg]
    assert lib.scrub().stopped != "budget"  # type: ignore[comparison-overlap]
    for i in lib.instances("name"):
        assert i.state != "damaged"  # type: ignore[comparison-overlap]
    for item in lib.rolling_deletion("main").items:
        assert item.action != "deleted"  # type: ignore[comparison-overlap]
    for r in lib.remote_instances("name"):
        assert r.state != "deleted"  # type: ignore[comparison-overlap]
    report = lib.import_original("site-a.sqlite", dry_run=True)
    assert report.in_flight[0].action != "not carried"  # type: ignore[comparison-overlap]
    lib.import_original("site-a.sqlite", "config.json")  # type: ignore[call-arg]
