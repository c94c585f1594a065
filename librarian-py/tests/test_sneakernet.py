"""SneakerNet from Python: fill a drive store (upload or clone_local), export it to a
peer, check it offline with verify_drive, and import it at the peer. Two real sites
in temporary directories; the peers' URLs point at a closed port (no server is
needed: the callbacks only wait in the outbox)."""

import hashlib
import os
import pathlib
import stat

import pytest

import librarian
from conftest import all_files, make_book, write_file

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def site_a(tmp_path: pathlib.Path) -> librarian.Librarian:
    lib = librarian.Librarian.init(tmp_path / "a", name="site-a")
    lib.add_store("drive1", tmp_path / "drive1")
    lib.add_peer("site-b", NOWHERE, "site-a", "secret-a")
    return lib


@pytest.fixture
def site_b(tmp_path: pathlib.Path) -> librarian.Librarian:
    lib = librarian.Librarian.init(tmp_path / "b", name="site-b")
    lib.add_peer("site-a", NOWHERE, "site-b", "secret-b")
    return lib


@pytest.fixture
def loaded(site_a: librarian.Librarian, tmp_path: pathlib.Path) -> "list[str]":
    """Three files and a book uploaded onto the drive store of site A; their names."""
    names = []
    for i in range(3):
        src = write_file(tmp_path / "raw" / f"obs_{i}.dat", 5_000 + i, seed=i)
        names.append(site_a.upload(src, f"2026/obs_{i}.dat", store="drive1").name)
    book = make_book(tmp_path / "raw" / "book", seed=20)
    names.append(site_a.upload(book, "2026/book", store="drive1").name)
    return sorted(names)


def flip_byte(path: pathlib.Path, offset: int = 0) -> None:
    """Change one byte of `path` in place (stores keep their copies read-only)."""
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def snapshot(root: pathlib.Path) -> "dict[str, bytes]":
    return {str(p.relative_to(root)): p.read_bytes() for p in all_files(root)}


def test_export_writes_a_self_describing_drive(site_a, loaded):
    before = {s.name: s for s in site_a.stores()}["drive1"]
    assert before.enabled and before.files == len(loaded)

    rep = site_a.sneakernet_export("drive1", "site-b")
    assert isinstance(rep, librarian.ExportReport)
    assert rep.store == "drive1" and rep.destination == "site-b" and not rep.dry_run
    assert isinstance(rep.drive, pathlib.Path) and rep.drive == before.root
    assert sorted(rep.files) == loaded and rep.skipped == []
    assert rep.bytes == sum(site_a.file(n).size for n in loaded)
    assert repr(rep).startswith("ExportReport(store='drive1', destination='site-b', ")

    for f in (".librarian-manifest.json", ".librarian-manifest.json.b3", ".librarian-b3sums.txt",
              ".librarian-sha256sums.txt"):
        assert (rep.drive / f).is_file(), f
    # The SHA-256 list checks with nothing but hashlib (sha256sum --check would too).
    lines = (rep.drive / ".librarian-sha256sums.txt").read_text().splitlines()
    assert len(lines) == 3 + 3  # three files, and the book's three files
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((rep.drive / rel).read_bytes()).hexdigest() == digest, rel

    # The drive store is disabled; an outgoing transfer per file is recorded.
    assert not {s.name: s for s in site_a.stores()}["drive1"].enabled
    out = site_a.transfers(direction="outgoing", peer="site-b")
    assert sorted(t.file for t in out) == loaded
    assert all(t.manager == "sneakernet" for t in out)


def test_verify_drive_intact(site_a, loaded):
    rep = site_a.sneakernet_export("drive1", "site-b")
    report = librarian.verify_drive(rep.drive)
    assert isinstance(report, librarian.DriveReport)
    assert report.ok and report.problems == []
    assert report.manifest_ok is True and report.legacy is False
    assert (report.site, report.store, report.destination) == ("site-a", "drive1", "site-b")
    assert report.files == len(loaded) == report.intact
    assert report.bytes == rep.bytes
    assert report.drive == rep.drive
    assert str(report.drive) == str(rep.drive)  # str works as a path argument too
    assert librarian.verify_drive(str(rep.drive)) == report
    assert repr(report).startswith("DriveReport(drive=") and "ok=True" in repr(report)


def test_verify_drive_reports_each_problem(site_a, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    flip_byte(drive / "2026" / "obs_1.dat", 100)
    flip_byte(drive / "2026" / "book" / "sub" / "b.dat")
    (drive / "stray.txt").write_text("not shipped")

    report = librarian.verify_drive(drive)
    assert not report.ok
    assert report.intact == len(loaded) - 2
    by_name = {p.name: p for p in report.problems}
    assert set(by_name) == {"2026/obs_1.dat", "2026/book", "stray.txt"}

    altered = by_name["2026/obs_1.dat"]
    assert isinstance(altered, librarian.DriveProblem)
    assert altered.kind == "altered" and altered.entry is None and altered.detail
    assert by_name["2026/book"].kind == "altered" and by_name["2026/book"].entry == "sub/b.dat"
    assert by_name["stray.txt"].kind == "extra"
    assert repr(altered).startswith("DriveProblem(name='2026/obs_1.dat', entry=None, kind='altered', ")


def test_verify_drive_truncated_missing_and_manifest_altered(site_a, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    victim = drive / "2026" / "obs_0.dat"
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:
        f.truncate(10)
    gone = drive / "2026" / "obs_2.dat"
    os.chmod(gone.parent, 0o755)
    gone.unlink()
    kinds = {p.name: p.kind for p in librarian.verify_drive(drive).problems}
    assert kinds == {"2026/obs_0.dat": "truncated", "2026/obs_2.dat": "missing"}

    manifest = drive / ".librarian-manifest.json"
    os.chmod(manifest, 0o644)
    manifest.write_text(manifest.read_text().replace('"site-b"', '"site-c"'))
    report = librarian.verify_drive(drive)
    assert report.manifest_ok is False and not report.ok
    assert "manifest_altered" in {p.kind for p in report.problems}


def test_import_takes_the_good_refuses_the_bad_and_queues_callbacks(site_a, site_b, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    flip_byte(drive / "2026" / "obs_1.dat", 7)
    good = [n for n in loaded if n != "2026/obs_1.dat"]

    rep = site_b.sneakernet_import(drive)
    assert isinstance(rep, librarian.ImportReport)
    assert rep.site == "site-a" and rep.drive == drive and not rep.dry_run
    assert rep.manifest_ok is True and rep.legacy is False
    assert sorted(rep.imported) == good
    assert rep.already_present == [] and rep.already_imported == []
    assert [(p.name, p.kind) for p in rep.refused] == [("2026/obs_1.dat", "altered")]
    assert rep.ok is False
    assert rep.callbacks_queued == len(good)
    assert "ok=False" in repr(rep) and repr(rep).startswith("ImportReport(drive=")

    # The good files are catalogued at B, with A's checksums; the bad one is not.
    for n in good:
        assert site_b.file(n).checksum == site_a.file(n).checksum
        assert site_b.file(n).source == "site-a"
    with pytest.raises(librarian.NotFound):
        site_b.file("2026/obs_1.dat")
    assert site_b.verify().ok

    # One "complete" call per good file waits for site A.
    calls = site_b.outbox("site-a")
    assert len(calls) == len(good)
    assert {c.kind for c in calls} == {"complete"}

    # Importing the same drive again does nothing new.
    again = site_b.sneakernet_import(drive)
    assert again.imported == [] and again.callbacks_queued == 0
    assert sorted(again.already_imported) == good
    assert [p.name for p in again.refused] == ["2026/obs_1.dat"]
    assert len(site_b.outbox("site-a")) == len(good)
    assert site_b.status().files == len(good)


def test_import_of_an_intact_drive_is_ok(site_a, site_b, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    rep = site_b.sneakernet_import(drive, store="main")
    assert rep.ok and rep.refused == [] and sorted(rep.imported) == loaded
    assert all(i.store == "main" for n in loaded for i in site_b.instances(n))
    # The drive is left as it was: import copies, and the drive still checks.
    assert librarian.verify_drive(drive).ok


def test_dry_runs_change_nothing(site_a, site_b, loaded):
    drive_root = {s.name: s for s in site_a.stores()}["drive1"].root
    before = snapshot(drive_root)

    dry = site_a.sneakernet_export("drive1", "site-b", dry_run=True)
    assert dry.dry_run and sorted(dry.files) == loaded and dry.drive == drive_root
    assert snapshot(drive_root) == before
    assert {s.name: s for s in site_a.stores()}["drive1"].enabled
    assert site_a.transfers() == []
    with pytest.raises(librarian.NotFound):
        librarian.verify_drive(drive_root)  # no manifest yet

    drive = site_a.sneakernet_export("drive1", "site-b").drive
    flip_byte(drive / "2026" / "obs_0.dat")
    after_export = snapshot(drive)
    dry_in = site_b.sneakernet_import(drive, dry_run=True)
    assert dry_in.dry_run
    assert sorted(dry_in.imported) == [n for n in loaded if n != "2026/obs_0.dat"]
    assert [(p.name, p.kind) for p in dry_in.refused] == [("2026/obs_0.dat", "altered")]
    assert dry_in.callbacks_queued == 0
    assert site_b.search() == [] and site_b.outbox() == [] and site_b.transfers() == []
    assert snapshot(drive) == after_export


def test_unknown_store_peer_or_drive_raise_not_found(site_a, site_b, loaded, tmp_path):
    with pytest.raises(librarian.NotFound):
        site_a.sneakernet_export("nope", "site-b")
    with pytest.raises(librarian.NotFound):
        site_a.sneakernet_export("drive1", "nope")
    with pytest.raises(librarian.NotFound):
        site_a.sneakernet_export("drive1", "nope", dry_run=True)
    with pytest.raises(librarian.NotFound):
        librarian.verify_drive(tmp_path / "no-such-drive")
    with pytest.raises(librarian.NotFound):
        site_b.sneakernet_import(tmp_path)  # not a drive

    drive = site_a.sneakernet_export("drive1", "site-b").drive
    with pytest.raises(librarian.NotFound):
        site_b.sneakernet_import(drive, store="nope")
    stranger = librarian.Librarian.init(tmp_path / "c", name="site-c")
    with pytest.raises(librarian.NotFound) as e:
        stranger.sneakernet_import(drive)  # site-a is not its peer
    assert "site-a" in str(e.value)
    assert stranger.search() == []


def test_clone_local_fills_the_drive_then_export(site_a, site_b, tmp_path):
    for i in range(3):
        site_a.upload(write_file(tmp_path / "raw" / f"f{i}.dat", 4_000, seed=40 + i), f"main/f{i}.dat", store="main")
    site_a.upload(make_book(tmp_path / "raw" / "bk", seed=50), "main/bk", store="main")
    names = ["main/bk", "main/f0.dat", "main/f1.dat", "main/f2.dat"]

    plan = site_a.clone_local("main", "drive1", dry_run=True)
    assert isinstance(plan, librarian.LocalCloneReport)
    assert sorted(plan.planned) == names and plan.copied == 0
    assert {s.name: s for s in site_a.stores()}["drive1"].files == 0

    rep = site_a.clone_local("main", "drive1")
    assert rep.copied == 4 and rep.failed == [] and not rep.full and rep.planned == []
    assert rep.bytes == sum(site_a.file(n).size for n in names)
    assert repr(rep).startswith("LocalCloneReport(copied=4, ")
    again = site_a.clone_local("main", "drive1")
    assert again.copied == 0 and again.already_there == 4
    with pytest.raises(librarian.NotFound):
        site_a.clone_local("main", "nope")

    drive = site_a.sneakernet_export("drive1", "site-b").drive
    assert librarian.verify_drive(drive).ok
    imp = site_b.sneakernet_import(drive)
    assert imp.ok and sorted(imp.imported) == names and imp.callbacks_queued == 4


def test_results_compare_by_value(site_a, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    flip_byte(drive / "2026" / "obs_2.dat")
    a, b = librarian.verify_drive(drive), librarian.verify_drive(drive)
    assert a == b and a.problems == b.problems
    assert a.problems[0] == b.problems[0]
    with pytest.raises(AttributeError):
        a.ok = True  # frozen


def test_a_store_with_available_copies_is_neither_recycled_nor_removed(site_a, loaded, tmp_path):
    for call in (site_a.recycle_store, site_a.remove_store):
        with pytest.raises(librarian.InvalidArgument) as e:
            call("drive1")
        assert "available" in str(e.value)
        with pytest.raises(librarian.NotFound):
            call("no-such-store")
    assert all((tmp_path / "drive1" / n).exists() for n in loaded), "nothing was deleted"
    # An empty store: recycling removes nothing and enables it; removing forgets it.
    site_a.add_store("spare", tmp_path / "spare")
    site_a.disable_store("spare")
    assert site_a.recycle_store("spare") == 0
    assert [s.enabled for s in site_a.stores() if s.name == "spare"] == [True]
    site_a.remove_store("spare")
    assert "spare" not in [s.name for s in site_a.stores()]
    assert (tmp_path / "spare").is_dir(), "remove_store touches nothing on disk"


def test_import_keeps_the_creation_time_and_records_the_arrival(site_a, site_b, loaded):
    drive = site_a.sneakernet_export("drive1", "site-b").drive
    site_b.sneakernet_import(drive)
    for n in loaded:
        there, here = site_a.file(n), site_b.file(n)
        assert here.created_at == there.created_at  # the time it was created at site A
        assert here.arrived_at >= here.created_at and here.arrived_at > there.arrived_at


def test_export_sends_no_transfer_for_files_the_destination_holds(site_a, loaded):
    import sqlite3

    held = loaded[:2]
    # Site A learns that site-b holds two of them (as a `complete` call would record).
    db = sqlite3.connect(site_a.status().database)
    with db:
        db.executemany(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at)"
            " SELECT id, 'site-b', 'main', 0 FROM files WHERE name = ?",
            [(n,) for n in held],
        )
    db.close()

    dry = site_a.sneakernet_export("drive1", "site-b", dry_run=True)
    assert sorted(dry.held) == held and sorted(dry.files) == loaded
    asked = site_a.sneakernet_export("drive1", "site-b", dry_run=True, include_held=True)
    assert asked.held == [] and sorted(asked.files) == loaded
    assert "held=2" in repr(dry)

    rep = site_a.sneakernet_export("drive1", "site-b")
    assert sorted(rep.held) == held and sorted(rep.files) == loaded and rep.skipped == []
    out = site_a.transfers(direction="outgoing", peer="site-b")
    assert sorted(t.file for t in out) == loaded[2:]
    for n in held:
        assert [i.available for i in site_a.instances(n) if i.store == "drive1"] == [False]
    assert librarian.verify_drive(rep.drive).ok
