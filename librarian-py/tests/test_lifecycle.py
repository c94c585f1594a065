"""The data life-cycle from Python, on real sites: a budgeted scrub finds a corrupt
file and a corrupt book entry, coverage per store, verify raising ChecksumMismatch /
DataMissing with the structured report, repair from a second local store (or its
failure report when no good copy exists), drop and rolling deletion that never lose
the last good copy, and a peer's re-verification (a real HTTP server on loopback
playing the peer's files/verify)."""

import datetime
import http.server
import json
import pathlib
import pickle
import subprocess
import sys
import threading
import time

import pytest

import librarian
from conftest import make_book, write_file

DAY_US = 86_400 * 1_000_000  # the catalog stores times in microseconds


def flip_byte(path: pathlib.Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def is_recent_utc(t: datetime.datetime) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return t.utcoffset() == datetime.timedelta(0) and abs(now - t) < datetime.timedelta(minutes=5)


def age_copies(lib: librarian.Librarian, days: int, name: "str | None" = None) -> None:
    """Pretend the copies (of `name`, or all) were last verified `days` ago.

    The catalog is edited by another process: Python's own sqlite3 in this process
    would share the process's POSIX locks with the core's SQLite, and closing it
    would drop the core's locks (the catalog's connection then reads stale pages)."""
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "with db:\n"
        "    if len(sys.argv) == 3:\n"
        "        db.execute('UPDATE instances SET verified_at = verified_at - ?', (int(sys.argv[2]),))\n"
        "    else:\n"
        "        db.execute('UPDATE instances SET verified_at = verified_at - ? WHERE file_id = '\n"
        "                   '(SELECT id FROM files WHERE name = ?)', (int(sys.argv[2]), sys.argv[3]))\n"
        "db.close()\n"
    )
    argv = [sys.executable, "-c", script, str(lib.status().database), str(days * DAY_US)]
    subprocess.run(argv + ([name] if name is not None else []), check=True)


def upload_five(lib: librarian.Librarian, tmp_path: pathlib.Path) -> "list[str]":
    """Five files of 10,000 bytes."""
    names = []
    for i in range(5):
        name = f"2026/f{i}.dat"
        lib.upload(write_file(tmp_path / "raw" / f"f{i}.dat", 10_000, seed=100 + i), name)
        names.append(name)
    return names


@pytest.fixture
def two_stores(site, tmp_path):
    """site-a with a file and a book on store "main" and verified copies of both on a
    second local store "spare" (made by clone_local)."""
    site.upload(write_file(tmp_path / "raw" / "obs.dat", 20_000, seed=3), "2026/obs.dat")
    site.upload(make_book(tmp_path / "raw" / "book", seed=20), "2026/book")
    site.add_store("spare", tmp_path / "spare")
    copied = site.clone_local("main", "spare")
    assert copied.copied == 2 and copied.failed == []
    return site


def corrupt_main(lib: librarian.Librarian) -> "tuple[pathlib.Path, pathlib.Path]":
    """Flip a byte of the file's and of one book entry's copies on store main."""
    f = next(i for i in lib.file("2026/obs.dat").instances if i.store == "main")
    b = next(i for i in lib.file("2026/book").instances if i.store == "main")
    flip_byte(f.path, 7_000)
    flip_byte(b.path / "sub" / "deeper" / "c.dat", 10)
    return f.path, b.path


# --- scrub and coverage -----------------------------------------------------------


def test_a_budgeted_scrub_finds_a_corrupt_file_and_a_corrupt_book_entry(two_stores):
    site = two_stores
    corrupt_main(site)
    report = site.scrub("10MB", store="main")
    assert isinstance(report, librarian.ScrubReport)
    assert report.ok is False and report.stopped == "done"
    assert report.instances == 2 and report.bytes == 20_000 + 6_000
    assert report.catalog_ok and report.catalog_problems == []
    assert report.seconds >= 0
    bad = {c.name: c for c in report.problems}
    assert set(bad) == {"2026/obs.dat", "2026/book"}
    for c in bad.values():
        assert isinstance(c, librarian.InstanceCheck)
        assert (c.store, c.status, c.state) == ("main", "mismatch", "corrupt")
        assert c.actual is not None and c.actual != c.expected
    assert bad["2026/book"].problems == [("sub/deeper/c.dat", "mismatch")]
    assert bad["2026/obs.dat"].problems == []
    # The copies are marked, with why, and no longer available; the spare ones are not.
    # (why, for a person: what the bytes hash to, or the bad entries of a book)
    for name, why in (("2026/obs.dat", "hash"), ("2026/book", "sub/deeper/c.dat")):
        by_store = {i.store: i for i in site.file(name).instances}
        assert (by_store["main"].state, by_store["main"].available) == ("corrupt", False)
        assert why in (by_store["main"].state_reason or "")
        assert (by_store["spare"].state, by_store["spare"].state_reason) == ("ok", None)
    events = {(e.category, e.subject) for e in site.events()}
    assert ("instance_corrupt", "main/2026/obs.dat") in events
    assert ("instance_corrupt", "main/2026/book") in events
    cover = {c.store: c for c in report.coverage}
    assert cover["main"].damaged == 2 and cover["spare"].damaged == 0
    assert "stopped='done'" in repr(report)


def test_a_byte_budget_reads_at_most_the_budget_plus_one_file(site, tmp_path):
    upload_five(site, tmp_path)
    report = site.scrub(15_000)
    assert (report.ok, report.stopped, report.instances, report.bytes) == (True, "bytes", 2, 20_000)
    assert report.bytes <= 15_000 + 10_000
    assert report.problems == []
    report = site.scrub(budget_bytes="25KB")
    assert (report.stopped, report.instances, report.bytes) == ("bytes", 3, 30_000)
    # No budget: everything.
    report = site.scrub()
    assert (report.stopped, report.instances, report.bytes) == ("done", 5, 50_000)


def test_repeated_budgeted_runs_reach_full_coverage_least_recently_verified_first(site, tmp_path):
    names = upload_five(site, tmp_path)
    [cover] = site.coverage()
    assert isinstance(cover, librarian.StoreCoverage)
    assert (cover.store, cover.instances, cover.bytes, cover.damaged) == ("main", 5, 50_000, 0)
    assert (cover.overdue_instances, cover.overdue_bytes, cover.covered) == (0, 0, 1.0)
    assert cover.oldest_verified_at is not None and is_recent_utc(cover.oldest_verified_at)

    age_copies(site, 60)
    age_copies(site, 30, names[3])  # f3 is the least recently verified (90 days)
    [cover] = site.coverage()
    assert (cover.overdue_instances, cover.overdue_bytes, cover.covered) == (5, 50_000, 0.0)
    oldest = cover.oldest_verified_at
    assert oldest is not None and oldest.utcoffset() == datetime.timedelta(0)
    assert datetime.timedelta(days=89) < datetime.datetime.now(datetime.timezone.utc) - oldest

    # A budget of one byte reads exactly one copy: the least recently verified.
    report = site.scrub(1)
    assert (report.instances, report.bytes, report.stopped) == (1, 10_000, "bytes")
    verified_at = site.file(names[3]).instances[0].verified_at
    assert verified_at is not None and is_recent_utc(verified_at)
    assert report.coverage == site.coverage()
    [cover] = report.coverage
    assert (cover.overdue_instances, cover.covered) == (4, pytest.approx(0.2))

    runs = 0
    while site.coverage()[0].covered < 1.0:
        runs += 1
        assert runs <= 2, "two runs of 2 copies each cover the 4 left"
        assert site.scrub(budget_bytes=15_000).instances == 2
    [cover] = site.coverage()
    assert (cover.overdue_instances, cover.overdue_bytes, cover.covered) == (0, 0, 1.0)
    assert cover.oldest_verified_at is not None and is_recent_utc(cover.oldest_verified_at)


def test_time_budgets_and_rates(site, tmp_path):
    upload_five(site, tmp_path)
    assert site.scrub(datetime.timedelta(minutes=5)).stopped == "done"
    assert site.scrub("30min").stopped == "done"
    assert site.scrub(budget_time="1h", budget_bytes=100).stopped == "bytes"
    # A rate of 100,000 bytes per second makes 50,000 bytes take about half a second.
    started = time.monotonic()
    report = site.scrub(max_rate=100_000)
    assert report.instances == 5 and time.monotonic() - started >= 0.35
    assert site.scrub(max_rate="1GB").instances == 5


def test_scrub_releases_the_gil(site, tmp_path):
    site.upload(write_file(tmp_path / "raw" / "big.dat", 1_000_000, seed=5), "2026/big.dat")
    ticks = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        started = time.monotonic()
        report = site.scrub(max_rate="2MB")  # about half a second, mostly sleeping in Rust
        ended = time.monotonic()
    finally:
        stop.set()
        counter.join()
    assert report.instances == 1 and ended - started >= 0.35
    inside = [t for t in ticks if started + 0.1 < t < ended - 0.1]
    assert len(inside) >= 20, f"the counter ticked {len(inside)} times during a {ended - started:.2f} s scrub"


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"budget": "10m"}, "budget"),  # mebibytes or minutes?
        ({"budget": "lots"}, "budget"),
        ({"budget": -1}, "budget"),
        ({"budget": datetime.timedelta(0)}, "budget"),
        ({"budget_bytes": "10 parsecs"}, "budget_bytes"),
        ({"budget_time": "soon"}, "budget_time"),
        ({"budget_time": datetime.timedelta(seconds=-5)}, "budget_time"),
        ({"budget": "10MB", "budget_bytes": 5}, "budget_bytes"),
        ({"budget": "30min", "budget_time": "1h"}, "budget_time"),
        ({"max_rate": 0}, "max_rate"),
        ({"max_rate": "fast"}, "max_rate"),
    ],
)
def test_bad_budgets_are_invalid_arguments(site, kwargs, argument):
    with pytest.raises(librarian.InvalidArgument) as e:
        site.scrub(**kwargs)
    assert e.value.code == "invalid_argument" and isinstance(e.value, ValueError)
    assert e.value.argument == argument
    if kwargs == {"budget": "10m"}:
        assert "ambiguous" in str(e.value) and "10min" in str(e.value)


def test_budgets_of_other_types_are_type_errors(site):
    for kwargs in ({"budget": 1.5}, {"budget": True}, {"budget_time": 60}, {"budget_bytes": [1]}, {"max_rate": 2.0}):
        with pytest.raises(TypeError):
            site.scrub(**kwargs)


def test_scrub_of_an_unknown_store_is_not_found(site):
    with pytest.raises(librarian.NotFound):
        site.scrub("1GB", store="nowhere")


# --- verify raises with the report ------------------------------------------------


def test_verify_raises_checksum_mismatch_carrying_the_report(two_stores):
    site = two_stores
    file_path, book_path = corrupt_main(site)
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.verify()
    report = e.value.report
    assert isinstance(report, librarian.VerifyReport)
    assert report.ok is False and report.catalog_ok
    assert len(report.checked) == 4  # two files, two copies each: intact ones are listed too
    bad = sorted((c.name, c.store, c.path, c.status, c.state) for c in report.checked if c.status != "ok")
    assert bad == [
        ("2026/book", "main", book_path, "mismatch", "corrupt"),
        ("2026/obs.dat", "main", file_path, "mismatch", "corrupt"),
    ]
    book_check = next(c for c in report.checked if c.name == "2026/book" and c.store == "main")
    assert book_check.problems == [("sub/deeper/c.dat", "mismatch")]
    assert book_check.actual != book_check.expected and book_check.error is None
    good = [c for c in report.checked if c.store == "spare"]
    assert [(c.status, c.state, c.problems) for c in good] == [("ok", "ok", [])] * 2
    assert "2026/obs.dat" in str(e.value) and e.value.code == "checksum_mismatch"


def test_verify_raises_data_missing_carrying_the_report(site, src):
    f = site.upload(src, "2026/obs")
    f.instances[0].path.unlink()
    with pytest.raises(librarian.DataMissing) as e:
        site.verify("2026/obs")
    report = e.value.report
    assert report is not None and not report.ok
    [check] = report.checked
    assert (check.name, check.status, check.state, check.actual) == ("2026/obs", "missing", "missing", None)


def test_the_report_is_none_when_the_error_comes_from_elsewhere(site, src):
    assert librarian.ChecksumMismatch.report is None and librarian.DataMissing.report is None
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.upload(src, "2026/obs", expect_checksum="blake3:" + "0" * 64)
    assert e.value.report is None


def test_a_mismatch_with_its_report_pickles_without_it(site, src):
    f = site.upload(src, "2026/obs")
    flip_byte(f.instances[0].path, 1)
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.verify()
    assert e.value.report is not None
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is librarian.ChecksumMismatch
    assert (back.code, str(back), back.report) == ("checksum_mismatch", str(e.value), None)


# --- repair ------------------------------------------------------------------------


def test_repair_from_another_local_store_then_verify_passes(two_stores, tmp_path):
    site = two_stores
    file_path, book_path = corrupt_main(site)
    assert len(site.scrub().problems) == 2
    for name in ("2026/obs.dat", "2026/book"):
        report = site.repair(name)
        assert isinstance(report, librarian.RepairReport)
        assert (report.name, report.ok, report.failed) == (name, True, [])
        [fixed] = report.repaired
        assert isinstance(fixed, librarian.RepairedCopy)
        assert (fixed.store, fixed.was, fixed.source) == ("main", "corrupt", "store spare")
        assert fixed.instance == next(i.id for i in site.file(name).instances if i.store == "main")
    assert site.verify().ok
    assert file_path.read_bytes() == (tmp_path / "raw" / "obs.dat").read_bytes()
    assert (book_path / "sub" / "deeper" / "c.dat").read_bytes() == (
        tmp_path / "raw" / "book" / "sub" / "deeper" / "c.dat"
    ).read_bytes()
    assert all(i.state == "ok" for n in ("2026/obs.dat", "2026/book") for i in site.file(n).instances)
    assert [e for e in site.events() if e.category == "instance_corrupt"] == []
    # Nothing left to repair.
    again = site.repair("2026/obs.dat")
    assert (again.ok, again.repaired, again.failed) == (True, [], [])


def test_repair_with_no_good_copy_reports_the_failure(site, src):
    f = site.upload(src, "2026/obs")
    flip_byte(f.instances[0].path, 9)
    site.scrub()
    report = site.repair("2026/obs")  # does not raise
    assert report.ok is False and report.repaired == []
    [failure] = report.failed
    assert isinstance(failure, librarian.RepairFailure)
    assert (failure.store, failure.instance) == ("main", f.instances[0].id)
    assert "no other copy" in failure.reason
    assert site.file("2026/obs").instances[0].state == "corrupt"
    assert "ok=False" in repr(report)


def test_repair_of_unknown_or_bad_names(site):
    with pytest.raises(librarian.NotFound):
        site.repair("2026/none")
    with pytest.raises(librarian.InvalidName):
        site.repair("../x")


# --- drop and rolling deletion -------------------------------------------------------


def test_drop_never_deletes_the_last_good_copy(site, src):
    f = site.upload(src, "2026/obs")
    report = site.drop("2026/obs", store="main", min_copies=0)  # kept: not raised
    assert isinstance(report, librarian.DeletionReport)
    assert (report.store, report.dry_run, report.min_copies, report.deleted, report.bytes_freed) == (
        "main", False, 0, 0, 0,
    )
    [item] = report.items
    assert isinstance(item, librarian.DeletionItem)
    assert (item.name, item.store, item.instance, item.size) == ("2026/obs", "main", f.instances[0].id, 10_000)
    assert (item.action, item.done, item.verified_copies, item.local_copies) == ("keep", False, 0, 0)
    assert "last good copy" in item.reason
    assert f.instances[0].path.read_bytes() == src.read_bytes()
    assert site.file("2026/obs").instances[0].state == "ok"
    # The default rule asks for one verified remote copy.
    default = site.drop("2026/obs", store="main")
    assert default.min_copies == 1 and default.items[0].action == "keep"
    assert site.file("2026/obs").instances[0].available


def test_drop_with_another_local_copy_dry_run_then_for_real(two_stores):
    site = two_stores
    before = site.file("2026/obs.dat")
    main = next(i for i in before.instances if i.store == "main")
    plan = site.drop("2026/obs.dat", store="main", min_copies=0, dry_run=True)
    assert plan.dry_run and plan.deleted == 0 and plan.bytes_freed == 0
    [item] = plan.items
    assert (item.action, item.done, item.local_copies) == ("delete", False, 1)
    assert main.path.exists() and site.file("2026/obs.dat") == before  # nothing changed

    done = site.drop("2026/obs.dat", store="main", min_copies=0)
    assert (done.dry_run, done.deleted, done.bytes_freed) == (False, 1, 20_000)
    assert (done.items[0].action, done.items[0].done) == ("delete", True)
    assert not main.path.exists()
    by_store = {i.store: i for i in site.file("2026/obs.dat").instances}
    assert (by_store["main"].state, by_store["main"].available) == ("deleted", False)
    assert by_store["main"].state_reason and by_store["main"].state_reason.startswith("deleted")
    # Now the spare copy is the last one: kept.
    last = site.drop("2026/obs.dat", store="spare", min_copies=0)
    assert (last.deleted, last.items[0].action) == (0, "keep")
    assert by_store["spare"].path.exists()
    # A copy that is not "ok" cannot be dropped again.
    with pytest.raises(librarian.InvalidArgument):
        site.drop("2026/obs.dat", store="main", min_copies=0)


def test_drop_bad_inputs(site, src):
    site.upload(src, "2026/obs")
    with pytest.raises(librarian.NotFound):
        site.drop("2026/obs", store="nowhere")
    with pytest.raises(librarian.NotFound):
        site.drop("2026/none", store="main")
    with pytest.raises(librarian.InvalidArgument):
        site.drop("2026/obs", store="main", min_copies=-1)
    with pytest.raises(TypeError):
        site.drop("2026/obs", "main")  # store is keyword-only


def test_rolling_deletion_dry_run_changes_nothing_then_deletes_old_copies(two_stores, tmp_path):
    site = two_stores
    site.upload(write_file(tmp_path / "raw" / "keep.dat", 3_000, seed=4), "2026/keep.dat")  # disallowed
    config = site.config_path
    with open(config, "a") as f:
        f.write('\n[deletion.main]\nafter = "1s"\nmin_copies = 0\n')
    site = librarian.Librarian(config)
    # Only copies whose deletion policy allows it; make main's allowed by uploading anew.
    allowed = site.upload(write_file(tmp_path / "raw" / "old.dat", 5_000, seed=6), "2026/old.dat",
                          deletion_policy="allowed")
    site.clone_local("main", "spare")
    time.sleep(1.2)  # older than `after`

    before = site.file("2026/old.dat")
    plan = site.rolling_deletion("main", dry_run=True)
    assert isinstance(plan, librarian.DeletionReport)
    assert (plan.store, plan.dry_run, plan.min_copies, plan.deleted) == ("main", True, 0, 0)
    assert [(i.name, i.action, i.done) for i in plan.items] == [("2026/old.dat", "delete", False)]
    assert allowed.instances[0].path.exists() and site.file("2026/old.dat") == before

    done = site.rolling_deletion("main")
    assert (done.deleted, done.bytes_freed, done.problems) == (1, 5_000, [])
    assert [(i.name, i.action, i.done) for i in done.items] == [("2026/old.dat", "delete", True)]
    assert not allowed.instances[0].path.exists()
    states = {i.store: i.state for i in site.file("2026/old.dat").instances}
    assert states == {"main": "deleted", "spare": "ok"}
    assert site.verify().ok  # the deleted copy is not checked; the rest is intact
    assert site.rolling_deletion("main").items == []


def test_rolling_deletion_needs_a_deletion_table(site):
    with pytest.raises(librarian.InvalidArgument) as e:
        site.rolling_deletion("main")
    assert "[deletion.main]" in str(e.value)


# --- a peer's re-verification ---------------------------------------------------------


class VerifyingPeer:
    """A real HTTP server on a loopback port playing site-b's files/verify: it answers
    for each name asked with ``self.copies`` (``[(store, status, state)]``) and the
    checksum in ``self.checksums``, or says it does not catalogue the name."""

    def __init__(self) -> None:
        self.checksums: "dict[str, str]" = {}
        self.copies = [("vault", "ok", "ok")]
        self.asked: "list[list[str]]" = []
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self.close_connection = True
                if self.path != "/api/v1/files/verify":
                    status, answer = 404, {"error": {"code": "not_found", "message": self.path}}
                else:
                    peer.asked.append(body["names"])
                    status, answer = 200, {"site": "site-b", "files": [peer.answer(n) for n in body["names"]]}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def answer(self, name: str) -> dict:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if name not in self.checksums:
            return {"name": name, "present": False, "checksum": None, "size": None, "copies": [], "verified_at": when}
        copies = [{"store": s, "status": st, "state": state} for s, st, state in self.copies]
        return {
            "name": name, "present": True, "checksum": self.checksums[name], "size": 10_000,
            "copies": copies, "verified_at": when,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer():
    p = VerifyingPeer()
    yield p
    p.close()


def test_verify_remote_records_the_answers_and_drop_counts_them(site, src, peer):
    f = site.upload(src, "2026/obs")
    site.add_peer("site-b", peer.url, "site-a", "pw")
    peer.checksums["2026/obs"] = f.checksum

    answers = site.verify_remote("site-b", ["2026/obs", "2026/unknown"])
    assert peer.asked == [["2026/obs", "2026/unknown"]]
    assert [type(a) for a in answers] == [librarian.FileVerification] * 2
    known, unknown = answers
    assert (known.name, known.present, known.checksum, known.size, known.intact) == (
        "2026/obs", True, f.checksum, 10_000, True,
    )
    assert is_recent_utc(known.verified_at)
    [copy] = known.copies
    assert isinstance(copy, librarian.CopyCheck)
    assert (copy.store, copy.status, copy.state) == ("vault", "ok", "ok")
    assert (unknown.present, unknown.checksum, unknown.copies, unknown.intact) == (False, None, [], False)
    [remote] = site.remote_instances("2026/obs")
    assert (remote.librarian, remote.store, remote.state) == ("site-b", "vault", "ok")
    assert remote.checked_at is not None and is_recent_utc(remote.checked_at)
    assert remote.verified_at is not None and is_recent_utc(remote.verified_at)

    # One remote copy re-verified now: the local copy may go.
    plan = site.drop("2026/obs", store="main", min_copies=1, dry_run=True)
    assert (plan.items[0].action, plan.items[0].verified_copies) == ("delete", 1)

    # The peer now finds its copy corrupt: recorded, and the local copy is kept.
    peer.copies = [("vault", "mismatch", "corrupt")]
    [again] = site.verify_remote("site-b", "2026/obs")
    assert (again.intact, again.copies[0].status, again.copies[0].state) == (False, "mismatch", "corrupt")
    [remote] = site.remote_instances("2026/obs")
    assert remote.state == "corrupt"
    kept = site.drop("2026/obs", store="main", min_copies=1)
    assert (kept.deleted, kept.items[0].action, kept.items[0].verified_copies) == (0, "keep", 0)
    assert f.instances[0].path.exists()


def test_verify_remote_of_an_unknown_or_unreachable_peer(site, src):
    site.upload(src, "2026/obs")
    with pytest.raises(librarian.NotFound):
        site.verify_remote("nobody", ["2026/obs"])
    site.add_peer("site-c", "http://127.0.0.1:9", "site-a", "pw")
    with pytest.raises(librarian.PeerUnreachable):
        site.verify_remote("site-c", ["2026/obs"])
