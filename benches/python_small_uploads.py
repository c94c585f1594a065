"""Benchmark (d): many small uploads from one Python process.

1,000 separate `Librarian.upload` calls of distinct 4 KiB files into one site, each
a full verified ingest (copy while hashing, fsync, atomic commit, catalog
transaction). Prints files/s and the ratio to the 500 files/s target (the existing
Python Librarian manages about 4 per second). Not a test: it always exits 0 unless
the uploads themselves fail.

For context it also prints, measured in the same run on the same filesystem:
- the latency of one `write(4 KiB) + fsync` (the physical floor: a durable upload
  needs a few of these: data, directory, catalog commit);
- the cost of one `lib.file(name)` call (binding + catalog lookup, no I/O to
  speak of), i.e. the Python-side overhead per call;
- the rate of idempotent re-uploads of the same files (hash + lookup, no commit).

    python benches/python_small_uploads.py [--count N] [--size BYTES] [--dir DIR]

DIR (default: a temporary directory under $TMPDIR) holds the sources and the site,
so both are on one filesystem; pick the filesystem you want to measure.
"""

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import librarian

TARGET_FILES_PER_S = 500.0


def fsync_latency(d: pathlib.Path, n: int = 100) -> float:
    """Median seconds of write(4 KiB) + fsync on a fresh file in `d`."""
    times = []
    for i in range(n):
        p = d / f"fsync_probe_{i}"
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            t = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - t)
        finally:
            os.close(fd)
        p.unlink()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--dir", type=pathlib.Path, default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = pathlib.Path(tmp)
        raw = d / "raw"
        raw.mkdir()
        sources = []
        for i in range(args.count):
            p = raw / f"obs_{i:05d}.dat"
            # distinct content: a counter prefix, then random bytes
            p.write_bytes(i.to_bytes(8, "little") + os.urandom(args.size - 8))
            sources.append(p)
        lib = librarian.Librarian.init(d / "site", name="bench")
        fsync_before = fsync_latency(d)

        names = [f"2026/11/small/obs_{i:05d}.dat" for i in range(args.count)]

        start = time.perf_counter()
        for p, name in zip(sources, names):
            lib.upload(p, name)
        elapsed = time.perf_counter() - start

        if lib.status().files != args.count:
            raise SystemExit(f"expected {args.count} files in the catalog, found {lib.status().files}")

        start = time.perf_counter()
        for p, name in zip(sources, names):
            lib.upload(p, name)
        again = time.perf_counter() - start

        start = time.perf_counter()
        for name in names:
            lib.file(name)
        lookups = time.perf_counter() - start

        fsync = (fsync_before + fsync_latency(d)) / 2

    rate = args.count / elapsed
    per = elapsed / args.count
    print(f"(d) {args.count} uploads of {args.size} B files from one Python process")
    print(f"    {elapsed:.3f} s, {rate:.0f} files/s, {1000 * per:.2f} ms per upload")
    print(
        f"    ratio to the {TARGET_FILES_PER_S:.0f} files/s target: {rate / TARGET_FILES_PER_S:.2f}x "
        f"({'met' if rate >= TARGET_FILES_PER_S else 'NOT met'})"
    )
    print(
        f"    context: write(4 KiB)+fsync here takes {1000 * fsync:.2f} ms (median of the probes before and "
        f"after: {1000 * fsync_before:.2f} ms before); one upload = {per / fsync:.1f} of those"
    )
    print(f"    context: lib.file() {1e6 * lookups / args.count:.0f} us per call (binding + catalog lookup)")
    print(f"    context: idempotent re-upload {args.count / again:.0f} files/s (hash + lookup, nothing committed)")


if __name__ == "__main__":
    main()
