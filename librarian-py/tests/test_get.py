"""Getting data out: `Librarian.get(name, dest)` copies a file or a book from the
stores, hashed while copied; `dest` appears only when the bytes match the catalog."""

import pathlib

import pytest

import librarian
from conftest import all_files


def flip_byte(path: pathlib.Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def test_get_copies_files_and_books_byte_for_byte(site, src, book, tmp_path):
    site.upload(src, "2026/obs")
    site.upload(book, "2026/book")
    out = site.get("2026/obs", tmp_path / "out.dat")
    assert isinstance(out, librarian.Retrieved)
    assert (out.name, out.kind, out.store, out.bad_instances) == ("2026/obs", "file", "main", [])
    assert out.size == 10_000 and out.checksum == site.file("2026/obs").checksum
    assert out.dest == tmp_path / "out.dat"
    assert (tmp_path / "out.dat").read_bytes() == src.read_bytes()
    site.get("2026/book", str(tmp_path / "book"))
    got = sorted(p.relative_to(tmp_path / "book") for p in all_files(tmp_path / "book"))
    want = sorted(p.relative_to(book) for p in all_files(book))
    assert got == want
    for rel in want:
        assert (tmp_path / "book" / rel).read_bytes() == (book / rel).read_bytes()
    assert (tmp_path / "book" / "empty").is_dir()


def test_get_of_a_corrupt_copy_raises_and_leaves_nothing(site, src, tmp_path):
    up = site.upload(src, "2026/obs")
    flip_byte(pathlib.Path(up.instances[0].path), 5000)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(librarian.ChecksumMismatch) as e:
        site.get("2026/obs", dest / "obs.dat")
    assert "2026/obs" in str(e.value) and "store main" in str(e.value)
    assert list(dest.iterdir()) == [], "no partial file, no temporary file"


def test_get_refuses_an_existing_dest_and_unknown_names(site, src, tmp_path):
    site.upload(src, "2026/obs")
    taken = tmp_path / "taken"
    taken.write_bytes(b"mine")
    with pytest.raises(librarian.AlreadyExists):
        site.get("2026/obs", taken)
    assert taken.read_bytes() == b"mine"
    with pytest.raises(librarian.NotFound):
        site.get("2026/none", tmp_path / "x")
    with pytest.raises(librarian.InvalidName):
        site.get("../etc", tmp_path / "y")
