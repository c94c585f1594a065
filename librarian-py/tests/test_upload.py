"""Uploads: files and books, idempotence, conflicts, expected checksums, options,
and failures that must leave nothing behind."""

import datetime
import hashlib
import os
import pathlib
import socket

import pytest

import librarian
from conftest import all_files, make_book, write_file


def assert_nothing_left(lib: librarian.Librarian, name: str) -> None:
    """No catalog row, no data in any data area, nothing in any staging area."""
    with pytest.raises(librarian.NotFound):
        lib.file(name)
    assert lib.search() == []
    for store in lib.stores():
        assert all_files(store.root) == [], f"data left in {store.root}"
        assert list(store.staging.iterdir()) == [], f"staging left in {store.staging}"
    assert lib.status().files == 0


def test_upload_file(site, src):
    before = datetime.datetime.now(datetime.timezone.utc)
    f = site.upload(src, "2026/11/obs_0001.dat")
    after = datetime.datetime.now(datetime.timezone.utc)
    assert isinstance(f, librarian.File)
    assert f.name == "2026/11/obs_0001.dat"
    assert f.size == 10_000
    assert f.kind == "file"
    assert f.checksum.startswith("blake3:") and len(f.checksum) == len("blake3:") + 64
    assert f.source == "site-a"
    assert before - datetime.timedelta(seconds=1) <= f.created_at <= after
    [inst] = f.instances
    assert inst.store == "main"
    assert inst.path.read_bytes() == src.read_bytes()
    assert f.remote_instances == []
    assert src.exists(), "a plain upload copies; the source stays"
    assert site.file("2026/11/obs_0001.dat") == f


def test_upload_book(site, book):
    f = site.upload(book, "2026/11/book_0001")
    assert f.kind == "directory"
    assert f.size == 1000 + 2000 + 3000
    assert f.checksum.startswith("blake3:")
    [inst] = f.instances
    assert inst.path.is_dir()
    for rel in ("a.dat", "sub/b.dat", "sub/deeper/c.dat"):
        assert (inst.path / rel).read_bytes() == (book / rel).read_bytes()
    assert (inst.path / "empty").is_dir()
    site.verify("2026/11/book_0001")


def test_book_digest_depends_on_layout(site, tmp_path):
    a = make_book(tmp_path / "a", seed=3)
    b = make_book(tmp_path / "b", seed=3)
    (b / "a.dat").rename(b / "renamed.dat")
    fa = site.upload(a, "books/a")
    fb = site.upload(b, "books/b")
    assert fa.size == fb.size
    assert fa.checksum != fb.checksum


def test_upload_accepts_path_like_and_str(site, src):
    class P:
        def __fspath__(self):
            return str(src)

    f1 = site.upload(str(src), "by/str")
    f2 = site.upload(P(), "by/pathlike")
    assert f1.checksum == f2.checksum


def test_reupload_same_bytes_is_idempotent(site, src, tmp_path):
    first = site.upload(src, "2026/obs")
    again = site.upload(src, "2026/obs")
    assert again == first
    assert again.created_at == first.created_at
    copy = write_file(tmp_path / "elsewhere" / "copy.dat", 10_000, seed=1)
    assert site.upload(copy, "2026/obs") == first
    assert len(site.instances("2026/obs")) == 1
    assert [f.name for f in site.search()] == ["2026/obs"]


def test_same_name_different_bytes_is_conflict(site, src, tmp_path):
    first = site.upload(src, "2026/obs")
    other = write_file(tmp_path / "other.dat", 10_000, seed=2)
    with pytest.raises(librarian.Conflict) as e:
        site.upload(other, "2026/obs")
    assert e.value.code == "conflict"
    assert first.checksum in str(e.value)
    assert site.file("2026/obs") == first
    assert first.instances[0].path.read_bytes() == src.read_bytes()
    site.verify("2026/obs")


def test_expect_checksum_match(site, src):
    digest = "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()
    f = site.upload(src, "2026/obs", expect_checksum=digest)
    assert f.checksum == digest


def test_expect_checksum_mismatch_leaves_nothing(site, src):
    wrong = "sha256:" + "0" * 64
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.upload(src, "2026/obs", expect_checksum=wrong)
    assert e.value.code == "checksum_mismatch"
    assert "2026/obs" in str(e.value)
    assert_nothing_left(site, "2026/obs")
    assert src.exists()


def test_expect_checksum_mismatch_of_book_leaves_nothing(site, book):
    with pytest.raises(librarian.ChecksumMismatch):
        site.upload(book, "2026/book", expect_checksum="blake3:" + "f" * 64)
    assert_nothing_left(site, "2026/book")


def test_algorithm_sha256(site, src):
    f = site.upload(src, "2026/obs", algorithm="sha256")
    assert f.checksum == "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()


def test_algorithm_legacy(site, src):
    # The older Librarian's algorithms are computed too (docs/checksums.md).
    f = site.upload(src, "2026/obs-md5", algorithm="md5")
    assert f.checksum == "md5:" + hashlib.md5(src.read_bytes()).hexdigest()
    g = site.upload(src, "2026/obs-xxh3", algorithm="xxh3")
    assert g.checksum.startswith("xxh3:") and len(g.checksum) == len("xxh3:") + 32
    # Its own text form ("md5:::<hex>") is accepted as an expectation.
    h = site.upload(src, "2026/obs-md5", expect_checksum="md5:::" + f.checksum[len("md5:"):])
    assert h.checksum == f.checksum


def test_bad_checksum_and_algorithm_arguments(site, src):
    with pytest.raises(librarian.InvalidChecksum) as e:
        site.upload(src, "x", expect_checksum="nonsense")
    assert isinstance(e.value, ValueError) and e.value.code == "invalid_checksum"
    with pytest.raises(librarian.InvalidArgument):
        site.upload(src, "x", algorithm="crc32")
    with pytest.raises(librarian.AlgorithmMismatch) as e:
        site.upload(src, "x", algorithm="sha256", expect_checksum="blake3:" + "0" * 64)
    assert e.value.code == "algorithm_mismatch" and isinstance(e.value, ValueError)
    assert_nothing_left(site, "x")


def test_deletion_policy(site, src, tmp_path):
    assert site.upload(src, "a").instances[0].deletion_policy == "disallowed"
    other = write_file(tmp_path / "o.dat", 10, seed=5)
    assert site.upload(other, "b", deletion_policy="allowed").instances[0].deletion_policy == "allowed"
    with pytest.raises(librarian.InvalidArgument) as e:
        site.upload(other, "c", deletion_policy="sometimes")
    assert "sometimes" in str(e.value)


def test_uploader(site, src):
    assert site.upload(src, "a", uploader="alice").uploader == "alice"


def test_move_renames_the_source_into_the_store(site, src):
    data = src.read_bytes()
    f = site.upload(src, "moved/obs", move=True)
    assert not src.exists()
    assert f.instances[0].path.read_bytes() == data
    site.verify("moved/obs")


def test_missing_source_is_not_found(site, tmp_path):
    with pytest.raises(librarian.NotFound) as e:
        site.upload(tmp_path / "nope.dat", "x")
    assert "nope.dat" in str(e.value)


def test_unknown_store_is_not_found(site, src):
    with pytest.raises(librarian.NotFound) as e:
        site.upload(src, "x", store="nowhere")
    assert "nowhere" in str(e.value)


def test_symlink_inside_book_is_unsupported_entry(site, book):
    os.symlink(book / "a.dat", book / "sub" / "link.dat")
    with pytest.raises(librarian.UnsupportedEntry) as e:
        site.upload(book, "2026/book")
    assert e.value.code == "unsupported_entry"
    assert "sub/link.dat" in str(e.value)
    assert_nothing_left(site, "2026/book")


def test_socket_inside_book_is_unsupported_entry(site, tmp_path):
    book = make_book(tmp_path / "b")  # short path: AF_UNIX paths are limited to 108 bytes
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(book / "sock"))
        with pytest.raises(librarian.UnsupportedEntry) as e:
            site.upload(book, "2026/book")
        assert "sock" in str(e.value)
    finally:
        s.close()
    assert_nothing_left(site, "2026/book")


def test_store_full_via_reserve(site, src, tmp_path):
    site.disable_store("main")
    tiny = site.add_store("tiny", tmp_path / "tiny" / "data", reserve=2**62)
    assert tiny.reserve_bytes == 2**62
    with pytest.raises(librarian.StoreFull) as e:
        site.upload(src, "2026/obs")
    assert e.value.code == "store_full"
    assert "tiny" in str(e.value) and "main: disabled" in str(e.value)
    with pytest.raises(librarian.StoreFull):
        site.upload(src, "2026/obs", store="tiny")
    assert_nothing_left(site, "2026/obs")
    site.enable_store("main")
    assert site.upload(src, "2026/obs").instances[0].store == "main"


def test_upload_to_a_chosen_store(site, src, tmp_path):
    store = site.add_store("second", tmp_path / "second" / "data", staging=tmp_path / "second" / "staging")
    assert store.root == (tmp_path / "second" / "data").resolve()
    assert store.staging == (tmp_path / "second" / "staging").resolve()
    f = site.upload(src, "2026/obs", store="second")
    [inst] = f.instances
    assert inst.store == "second"
    assert inst.path.is_relative_to(store.root)


def test_non_ingestable_store_is_skipped(site, src, tmp_path):
    site.disable_store("main")
    site.add_store("ro", tmp_path / "ro" / "data", ingestable=False)
    with pytest.raises(librarian.StoreFull) as e:
        site.upload(src, "x")
    assert "not ingestable" in str(e.value)


def test_store_management(site, src, tmp_path):
    site.upload(src, "x")
    [main] = site.stores()
    assert isinstance(main, librarian.Store)
    assert (main.name, main.enabled, main.ingestable, main.files, main.used_bytes) == ("main", True, True, 1, 10_000)
    assert isinstance(main.root, pathlib.Path) and isinstance(main.staging, pathlib.Path)
    assert main.free_bytes is not None and main.free_bytes > 0
    assert site.disable_store("main").enabled is False
    assert site.stores()[0].enabled is False
    assert site.enable_store("main").enabled is True
    with pytest.raises(librarian.NotFound):
        site.enable_store("nope")
    with pytest.raises(librarian.AlreadyExists):
        site.add_store("main", tmp_path / "again")
    with pytest.raises(librarian.InvalidArgument):
        site.add_store("bad name", tmp_path / "bad")
    status = site.status()
    assert isinstance(status, librarian.SiteStatus)
    assert (status.site, status.files, status.bytes, status.ingests_in_progress) == ("site-a", 1, 10_000, 0)
    assert [s.name for s in status.stores] == ["main"]
    assert status.database.is_file()


def test_cleanup_staging_removes_stale_directories(site):
    staging = site.stores()[0].staging
    stale = staging / "stale-leftover"
    stale.mkdir()
    (stale / "payload").write_bytes(b"half written")
    two_hours_ago = datetime.datetime.now().timestamp() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = staging / "just-created"  # may belong to an ingest that is starting up
    fresh.mkdir()
    removed = site.cleanup_staging()
    assert all(isinstance(p, pathlib.Path) for p in removed)
    assert removed == [stale]
    assert not stale.exists()
    assert fresh.exists()
    assert site.cleanup_staging() == []
