"""Corruption and loss are detected by re-reading from disk: ChecksumMismatch when
bytes differ (naming the file, and the entry of a book), DataMissing when a copy or
an entry is gone."""

import shutil

import pytest

import librarian
from conftest import write_file


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def test_verify_intact(site, src, book):
    site.upload(src, "2026/obs")
    site.upload(book, "2026/book")
    report = site.verify()
    assert isinstance(report, librarian.VerifyReport)
    assert report.ok is True
    assert sorted(c.name for c in report.checked) == ["2026/book", "2026/obs"]
    assert all(isinstance(c, librarian.InstanceCheck) and c.status == "ok" for c in report.checked)
    assert [c.name for c in site.verify("2026/obs").checked] == ["2026/obs"]
    assert [c.name for c in site.verify(["2026/obs", "2026/book"]).checked] == ["2026/obs", "2026/book"]
    assert len(site.verify(("2026/obs",)).checked) == 1
    assert len(site.verify(store="main").checked) == 2
    assert "ok=True" in repr(report)


def test_flipped_byte_in_file_is_checksum_mismatch(site, src, tmp_path):
    f = site.upload(src, "2026/11/obs_0001.dat")
    other = site.upload(write_file(tmp_path / "o.dat", 500, seed=9), "2026/11/obs_0002.dat")
    flip_byte(f.instances[0].path, 5_000)
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.verify("2026/11/obs_0001.dat")
    assert isinstance(e.value, librarian.LibrarianError)
    assert e.value.code == "checksum_mismatch"
    assert "2026/11/obs_0001.dat" in str(e.value)
    assert f.checksum in str(e.value) or "checksum mismatch" in str(e.value)
    with pytest.raises(librarian.ChecksumMismatch):
        site.verify()  # all files
    with pytest.raises(librarian.ChecksumMismatch):
        site.verify(["2026/11/obs_0002.dat", "2026/11/obs_0001.dat"])
    assert site.verify(other.name).ok  # the intact one still verifies


def test_flipped_byte_in_book_entry_names_the_entry(site, book):
    f = site.upload(book, "2026/11/book_0001")
    flip_byte(f.instances[0].path / "sub" / "deeper" / "c.dat", 0)
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.verify("2026/11/book_0001")
    msg = str(e.value)
    assert "2026/11/book_0001" in msg
    assert "sub/deeper/c.dat" in msg
    assert "sub/b.dat" not in msg  # only the bad entry is named


def test_deleted_copy_is_data_missing(site, src):
    f = site.upload(src, "2026/obs")
    f.instances[0].path.unlink()
    with pytest.raises(librarian.DataMissing) as e:
        site.verify("2026/obs")
    assert e.value.code == "data_missing"
    assert "2026/obs" in str(e.value)
    assert not isinstance(e.value, librarian.ChecksumMismatch)


def test_deleted_book_is_data_missing(site, book):
    f = site.upload(book, "2026/book")
    shutil.rmtree(f.instances[0].path)
    with pytest.raises(librarian.DataMissing):
        site.verify("2026/book")


def test_deleted_book_entry_is_data_missing_naming_it(site, book):
    f = site.upload(book, "2026/book")
    (f.instances[0].path / "sub" / "b.dat").unlink()
    with pytest.raises(librarian.DataMissing) as e:
        site.verify("2026/book")
    assert "sub/b.dat" in str(e.value)


def test_mismatch_wins_over_missing(site, src, book):
    f = site.upload(src, "2026/obs")
    b = site.upload(book, "2026/book")
    flip_byte(f.instances[0].path, 1)
    shutil.rmtree(b.instances[0].path)
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.verify()
    assert "2026/obs" in str(e.value) and "2026/book" in str(e.value)


def test_verify_unknown_store_or_bad_argument(site, src):
    site.upload(src, "a")
    with pytest.raises(librarian.NotFound):
        site.verify(store="nowhere")
    with pytest.raises(TypeError):
        site.verify(42)
