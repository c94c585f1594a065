"""Shared fixtures: a fresh site in a temporary directory, and helpers that write
real files and books (directories) to upload."""

import os
import pathlib
import random

import pytest

import librarian


def skip_or_fail(why: str) -> None:
    """The one way a test gives up on a check its environment cannot run: with `CI`
    set (`.ci/run` sets it) the test fails, otherwise it is skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}: not skipped because CI is set")
    pytest.skip(why)


def write_file(path: pathlib.Path, size: int, seed: int = 0) -> pathlib.Path:
    """Write `size` pseudo-random bytes (deterministic per seed) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def make_book(root: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """A small book: files at several depths and an empty directory."""
    write_file(root / "a.dat", 1000, seed)
    write_file(root / "sub" / "b.dat", 2000, seed + 1)
    write_file(root / "sub" / "deeper" / "c.dat", 3000, seed + 2)
    (root / "empty").mkdir(parents=True)
    return root


def all_files(root: pathlib.Path) -> "list[pathlib.Path]":
    """Every non-directory under `root` (symlinks included, not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(pathlib.Path(dirpath, n) for n in filenames)
    return out


@pytest.fixture
def site(tmp_path: pathlib.Path) -> librarian.Librarian:
    return librarian.Librarian.init(tmp_path / "site", name="site-a")


@pytest.fixture
def src(tmp_path: pathlib.Path) -> pathlib.Path:
    """A 10 KB file to upload."""
    return write_file(tmp_path / "raw" / "obs_0001.dat", 10_000, seed=1)


@pytest.fixture
def book(tmp_path: pathlib.Path) -> pathlib.Path:
    return make_book(tmp_path / "raw" / "book_0001", seed=10)
