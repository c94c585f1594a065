"""Quickstart for the Python API: create a site in a temporary directory, upload a
file and a book (a directory), search, and verify. Exits non-zero on any failure.

    pip install ./librarian-py && python examples/python_quickstart.py
"""

import pathlib
import sys
import tempfile

import librarian


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"quickstart failed: {what}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        (d / "obs_0001.dat").write_bytes(b"photons" * 1000)
        book = d / "book_0001"
        (book / "tod").mkdir(parents=True)
        (book / "meta.json").write_text('{"telescope": "SAT1"}\n')
        (book / "tod" / "det_000.bin").write_bytes(bytes(range(256)) * 64)

        lib = librarian.Librarian.init(d / "site", name="site-a")
        f = lib.upload(d / "obs_0001.dat", "2026/11/obs_0001.dat")
        print(f.name, f.size, f.checksum, f.created_at)  # created_at: datetime in UTC
        b = lib.upload(book, "2026/11/book_0001")
        print(b.name, b.kind, b.size, b.checksum)

        # Uploading the same bytes again is a no-op; different bytes are a conflict.
        check(lib.upload(d / "obs_0001.dat", "2026/11/obs_0001.dat") == f, "re-upload is idempotent")
        (d / "other.dat").write_bytes(b"different")
        try:
            lib.upload(d / "other.dat", "2026/11/obs_0001.dat")
            check(False, "expected a Conflict")
        except librarian.Conflict as e:
            print("refused:", e.code)

        found = lib.search(name="2026/11/*")
        print("found:", [x.name for x in found])
        check([x.name for x in found] == ["2026/11/book_0001", "2026/11/obs_0001.dat"], "search")
        # search() returns at most `limit` (100) files; search_iter() yields every match,
        # reading the catalog a page at a time.
        every = [x.name for x in lib.search_iter(name="2026/*")]
        check(every == [x.name for x in found], "search_iter")
        for inst in lib.instances("2026/11/book_0001"):
            print("copy on", inst.store, "at", inst.path)

        report = lib.verify("2026/11/obs_0001.dat")  # raises librarian.ChecksumMismatch on corruption
        check(report.ok, "verify")
        report = lib.verify()  # every file
        print("verified", len(report.checked), "copies")

        try:
            lib.file("2026/11/missing")
            check(False, "expected NotFound")
        except librarian.NotFound as e:
            print("not found:", e.code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
