"""``Librarian.import_original`` on the catalogs the original (Python) Librarian wrote
itself (``tests/fixtures/so-librarian``, copied: the fixture is never written): a dry
run writes nothing; the import brings every file, book and instance with its state
and reports the transfers in flight; a second import adds nothing; a conflicting
target and a missing store root are refused before anything is written; the
imported copies verify with their legacy checksums, the corrupt one excepted."""

import pathlib
import shutil

import pytest

import librarian

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "so-librarian"
TALLY = ["stores", "peers", "accounts", "files", "books", "instances", "remote_instances", "transfers", "events"]


@pytest.fixture
def fx(tmp_path: pathlib.Path) -> pathlib.Path:
    """A writable copy of the fixture (catalogs, configs, trees, drive)."""
    return pathlib.Path(shutil.copytree(FIXTURE, tmp_path / "so"))


@pytest.fixture
def target(tmp_path: pathlib.Path) -> librarian.Librarian:
    """A fresh site to import into."""
    return librarian.Librarian.init(tmp_path / "site", name="so-site-a")


def options(fx: pathlib.Path) -> dict:
    """What site A of the fixture needs: its config, where its /srv paths are now,
    and the name of the store its peer's copies are on."""
    return {
        "original_config": fx / "config" / "so-site-a.json",
        "map_prefix": {
            "/srv/so-librarian/so-site-a/main": fx / "tree" / "so-site-a" / "main",
            "/srv/so-librarian/so-site-a/drive": fx / "drive",
        },
        "remote_stores": {"so-site-b:1": "main_store"},
    }


def test_dry_run_then_import_then_again(target, fx):
    source = fx / "site-a.sqlite"
    dry = target.import_original(source, dry_run=True, **options(fx))
    assert isinstance(dry, librarian.OriginalImportReport)
    assert dry.dry_run is True
    assert isinstance(dry.added, librarian.ImportTally)
    assert dry.added.files == 28 and dry.added.books == 2
    assert dry.conflicts == []
    # Nothing written: no file, no store, no staging directory.
    assert target.search() == []
    assert [s.name for s in target.stores()] == ["main"]
    assert target.status().files == 0
    assert not (fx / "drive" / "staging").exists()

    r = target.import_original(str(source), **options(fx))
    assert r.dry_run is False
    assert r.source == str(source)
    assert r.alembic_version == "84785333a677"
    assert r.original_site == "so-site-a"
    assert r.source_rows["files"] == 28 and r.source_rows["users"] == 6
    assert set(r.source_rows) >= {"files", "instances", "stores", "corrupt_files", "errors"}
    assert (r.added.files, r.added.books, r.added.stores, r.added.accounts) == (28, 2, 2, 6)
    assert (r.added.instances, r.added.remote_instances, r.added.transfers) == (56, 8, 45)
    assert r.added == dry.added, "the dry run said what the import did"
    assert all(getattr(r.present, k) == 0 for k in TALLY)
    assert r.instance_states == {"ok": 27, "corrupt": 1, "retired": 28}
    assert r.skipped == [] and r.conflicts == []
    actions = [f.action for f in r.in_flight]
    assert (actions.count("resumed"), actions.count("failed"), actions.count("not_carried")) == (28, 5, 1)
    assert all(isinstance(f, librarian.InFlight) for f in r.in_flight)
    upload = next(f for f in r.in_flight if f.action == "not_carried")
    assert (upload.direction, upload.file, upload.party, upload.status) == (
        "upload",
        "abandoned.bin",
        "alice",
        "INITIATED",
    )
    resumed = [f for f in r.in_flight if f.action == "resumed"]
    assert {f.direction for f in resumed} == {"outgoing"} and {f.party for f in resumed} == {"so-site-b"}
    assert sorted(f.original_id for f in resumed) == list(range(18, 46))
    assert all(isinstance(what, str) and n > 0 for what, n in r.not_carried)
    assert any("cathy" in n for n in r.notes)
    assert "OriginalImportReport(" in repr(r) and "files=28" in repr(r) and "dry_run=False" in repr(r)
    assert "action='resumed'" in repr(resumed[0])

    # The catalog holds it: files with their legacy checksums, books, stores.
    assert target.status().files == 28
    assert len(target.search(limit=100)) == 28
    assert target.file("readme.txt").checksum == "xxh3:817dc5adeca1420b4d66e2ebb73fd65d"
    assert target.file("books/obs_book_1700000400").kind == "directory"
    assert sorted(s.name for s in target.stores()) == ["main", "main_store", "sneaker_drive"]
    states = sorted(i.state for i in target.instances("corrupt_me.dat"))
    assert states == ["corrupt", "retired"]
    assert [(p.name, p.url) for p in target.peers()] == [("so-site-b", "http://127.0.0.1:18902")]
    assert [(x.librarian, x.store) for x in target.remote_instances("empty.dat")] == [("so-site-b", "main_store")]

    # Again: nothing added, everything present.
    again = target.import_original(source, **options(fx))
    assert all(getattr(again.added, k) == 0 for k in TALLY), again.added
    assert again.present.files == 28 and again.present.transfers == 45
    assert again.instance_states == {}
    assert target.status().files == 28


def test_map_prefix_as_old_equals_new_strings(target, fx):
    opts = options(fx)
    opts["map_prefix"] = [f"{old}={new}" for old, new in opts["map_prefix"].items()]
    r = target.import_original(fx / "site-a.sqlite", dry_run=True, **opts)
    assert r.added.files == 28 and r.conflicts == []


def test_imported_copies_verify_and_the_corrupt_one_is_found(target, fx):
    target.import_original(fx / "site-a.sqlite", **options(fx))
    with pytest.raises(librarian.ChecksumMismatch) as e:
        target.verify()
    assert "corrupt_me.dat" in str(e.value)
    report = e.value.report
    assert report is not None
    assert len(report.checked) == 28
    bad = [c for c in report.checked if c.status != "ok"]
    assert [(c.name, c.store, c.status) for c in bad] == [("corrupt_me.dat", "main_store", "mismatch")]
    assert target.verify("readme.txt").ok


def test_a_conflicting_target_refuses_the_whole_import(target, fx, tmp_path):
    mine = tmp_path / "readme.txt"
    mine.write_bytes(b"not the original's readme")
    target.upload(mine, "readme.txt")
    with pytest.raises(librarian.Conflict) as e:
        target.import_original(fx / "site-a.sqlite", **options(fx))
    assert e.value.code == "conflict"
    assert "readme.txt" in str(e.value)
    assert [f.name for f in target.search()] == ["readme.txt"], "nothing of a refused import is written"
    assert [s.name for s in target.stores()] == ["main"]
    # A dry run lists the conflict instead of raising.
    dry = target.import_original(fx / "site-a.sqlite", dry_run=True, **options(fx))
    assert len(dry.conflicts) == 1
    c = dry.conflicts[0]
    assert isinstance(c, librarian.ImportConflict)
    assert (c.kind, c.name) == ("file", "readme.txt")
    assert c.existing != c.incoming
    assert "ImportConflict(kind='file'" in repr(c)


def test_a_missing_root_and_bad_arguments_are_refused(target, fx):
    source = fx / "site-a.sqlite"
    config = fx / "config" / "so-site-a.json"
    # No map_prefix: the original's /srv paths are not here.
    with pytest.raises(librarian.InvalidArgument) as e:
        target.import_original(source, original_config=config)
    assert isinstance(e.value, ValueError)
    assert e.value.argument == "map_prefix"
    assert "/srv/so-librarian/so-site-a/main/store" in str(e.value)
    # A mapping's key cannot hold "=", a relative path is refused by the core, and one
    # str is not a sequence of prefixes.
    with pytest.raises(librarian.InvalidArgument) as e:
        target.import_original(source, original_config=config, map_prefix={"/srv/a=b": "/x"})
    assert e.value.argument == "map_prefix"
    with pytest.raises(librarian.InvalidArgument):
        target.import_original(source, original_config=config, map_prefix={"srv": "/x"})
    with pytest.raises(TypeError):
        target.import_original(source, map_prefix="/srv=/x")
    with pytest.raises(TypeError):
        target.import_original(source, peer_urls=["so-site-b=http://x"])
    # A bad NAME=VALUE option names the Python parameter.
    opts = options(fx)
    opts["remote_stores"] = {"so-site-b": "main_store"}
    with pytest.raises(librarian.InvalidArgument) as e:
        target.import_original(source, **opts)
    assert e.value.argument == "remote_stores" and "PEER:ID" in str(e.value)
    # Not an original catalog.
    with pytest.raises(librarian.InvalidArgument):
        target.import_original(target.status().database)
    assert target.status().files == 0 and [s.name for s in target.stores()] == ["main"]


def test_verify_rehashes_and_records_blake3_beside_the_legacy_checksums(target, fx, tmp_path):
    import sqlite3

    r = target.import_original(fx / "site-a.sqlite", verify=True, **options(fx))
    assert r.instance_states == {"ok": 27, "corrupt": 1, "retired": 28}
    assert any("--verify" in n for n in r.notes)
    db = tmp_path / "site" / "librarian.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (with_b3,) = conn.execute("SELECT COUNT(*) FROM files WHERE blake3 LIKE 'blake3:%'").fetchone()
        (legacy,) = conn.execute("SELECT COUNT(*) FROM files WHERE checksum LIKE 'xxh3:%' OR checksum LIKE 'md5:%'").fetchone()
    assert (with_b3, legacy) == (27, 28), "every file with an intact copy keeps both digests"
