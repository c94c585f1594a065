"""file / search / instances / remote_instances: attributes, types and filters."""

import datetime
import pathlib
import time

import pytest

import librarian
from conftest import write_file

UTC = datetime.timezone.utc


def test_file_attributes_and_types(site, src):
    f = site.file(site.upload(src, "2026/11/obs_0001.dat", uploader="alice").name)
    assert isinstance(f.name, str) and f.name == "2026/11/obs_0001.dat"
    assert isinstance(f.size, int) and f.size == 10_000
    assert isinstance(f.checksum, str)
    assert f.kind == "file"
    assert f.uploader == "alice"
    assert f.source == "site-a"
    assert isinstance(f.created_at, datetime.datetime)
    assert f.created_at.tzinfo is UTC
    assert f.created_at.utcoffset() == datetime.timedelta(0)
    assert isinstance(f.arrived_at, datetime.datetime) and f.arrived_at.tzinfo is UTC
    assert f.arrived_at == f.created_at  # uploaded here: it arrived when it was created
    assert isinstance(f.instances, list) and len(f.instances) == 1
    assert isinstance(f.instances[0], librarian.Instance)
    assert f.remote_instances == []
    assert repr(f).startswith("File(name='2026/11/obs_0001.dat', size=10000, kind='file', checksum='blake3:")


def test_file_is_frozen(site, src):
    f = site.upload(src, "a")
    with pytest.raises(AttributeError):
        f.name = "b"
    with pytest.raises(AttributeError):
        f.instances[0].available = False


def test_file_not_found(site):
    with pytest.raises(librarian.NotFound) as e:
        site.file("2026/11/missing")
    assert e.value.code == "not_found"
    assert "2026/11/missing" in str(e.value)
    for call in (site.instances, site.remote_instances, site.verify):
        with pytest.raises(librarian.NotFound):
            call("2026/11/missing")


def test_instance_attributes_and_types(site, src):
    site.upload(src, "2026/obs")
    [inst] = site.instances("2026/obs")
    assert isinstance(inst.id, int)
    assert inst.store == "main"
    assert isinstance(inst.path, pathlib.Path)
    assert inst.path.is_absolute()
    assert inst.path.read_bytes() == src.read_bytes()
    assert inst.path.parts[-2:] == ("2026", "obs")
    assert inst.available is True
    assert inst.deletion_policy == "disallowed"
    assert isinstance(inst.created_at, datetime.datetime) and inst.created_at.tzinfo is UTC
    # the ingest itself verified the bytes it committed
    assert isinstance(inst.verified_at, datetime.datetime) and inst.verified_at.tzinfo is UTC
    assert inst.verified_at >= inst.created_at - datetime.timedelta(seconds=1)
    assert "store='main'" in repr(inst)

    time.sleep(0.01)
    report = site.verify("2026/obs")
    [after] = site.instances("2026/obs")
    assert isinstance(after.verified_at, datetime.datetime) and after.verified_at.tzinfo is UTC
    assert after.verified_at > inst.verified_at
    assert after.id == inst.id
    assert after != inst  # verified_at changed
    [check] = report.checked
    assert (check.name, check.store, check.instance, check.status) == ("2026/obs", "main", inst.id, "ok")
    assert check.path == inst.path and isinstance(check.path, pathlib.Path)
    assert check.expected == check.actual == site.file("2026/obs").checksum
    assert check.problems == [] and check.error is None


def test_remote_instances_empty_for_local_file(site, src):
    site.upload(src, "x")
    assert site.remote_instances("x") == []


@pytest.fixture
def populated(site, tmp_path):
    """Five files, uploaded in order with distinct creation times."""
    specs = [
        ("2026/10/obs_a", "alice"),
        ("2026/11/obs_b", "alice"),
        ("2026/11/obs_c", "bob"),
        ("2026/11/sub/obs_d", "alice"),
        ("2027/01/obs_e", "bob"),
    ]
    files = []
    for i, (name, who) in enumerate(specs):
        p = write_file(tmp_path / "in" / str(i), 100 + i, seed=100 + i)
        files.append(site.upload(p, name, uploader=who))
        time.sleep(0.01)
    return files


def names(files):
    return [f.name for f in files]


def test_search_all_sorted_by_name(site, populated):
    got = site.search()
    assert names(got) == sorted(names(populated))
    assert all(isinstance(f, librarian.File) for f in got)
    assert got == sorted(populated, key=lambda f: f.name)


def test_search_glob(site, populated):
    assert names(site.search(name="2026/11/*")) == ["2026/11/obs_b", "2026/11/obs_c", "2026/11/sub/obs_d"]
    # '*' also matches '/', so this takes every depth
    assert names(site.search(name="*/obs_?")) == sorted(names(populated))
    assert names(site.search(name="2026/11/obs_?")) == ["2026/11/obs_b", "2026/11/obs_c"]
    assert names(site.search(name="2026/1[0]/*")) == ["2026/10/obs_a"]
    assert names(site.search(name="2027/01/obs_e")) == ["2027/01/obs_e"]
    assert site.search(name="2028/*") == []
    assert site.search(name="2026/11/OBS_*") == []  # case-sensitive


def test_search_uploader_and_source(site, populated):
    assert names(site.search(uploader="bob")) == ["2026/11/obs_c", "2027/01/obs_e"]
    assert names(site.search(name="2026/*", uploader="alice")) == ["2026/10/obs_a", "2026/11/obs_b", "2026/11/sub/obs_d"]
    assert len(site.search(source="site-a")) == 5
    assert site.search(source="site-z") == []
    assert site.search(uploader="carol") == []


def test_search_limit(site, populated):
    assert names(site.search(limit=2)) == ["2026/10/obs_a", "2026/11/obs_b"]
    assert site.search(limit=0) == []
    assert len(site.search(limit=100)) == 5
    with pytest.raises(librarian.InvalidArgument):
        site.search(limit=-1)


def test_search_since_until(site, populated):
    ordered = sorted(populated, key=lambda f: f.created_at)
    assert names(ordered) == names(populated)  # uploaded in this order
    mid = ordered[2].created_at
    assert names(site.search(since=mid)) == sorted(names(ordered[2:]))
    assert names(site.search(until=mid)) == sorted(names(ordered[:2]))
    assert names(site.search(since=ordered[1].created_at, until=ordered[3].created_at)) == sorted(
        names(ordered[1:3])
    )
    # the same instant in another time zone selects the same files
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert names(site.search(since=mid.astimezone(plus2))) == sorted(names(ordered[2:]))
    future = datetime.datetime.now(UTC) + datetime.timedelta(days=1)
    assert site.search(since=future) == []
    assert len(site.search(until=future)) == 5


def test_search_rejects_naive_and_non_datetimes(site, populated):
    naive = datetime.datetime(2026, 1, 1)
    for kw in ("since", "until"):
        with pytest.raises(ValueError) as e:
            site.search(**{kw: naive})
        assert isinstance(e.value, librarian.InvalidArgument)
        assert kw in str(e.value) and "timezone-aware" in str(e.value)
        with pytest.raises(TypeError):
            site.search(**{kw: "2026-01-01T00:00:00Z"})
        with pytest.raises(TypeError):
            site.search(**{kw: datetime.date(2026, 1, 1)})


@pytest.fixture
def many(site, tmp_path):
    """305 catalogued files under ``many/`` (more than three default pages) and one
    elsewhere."""
    src = write_file(tmp_path / "raw" / "tiny", 16, seed=3)
    for i in range(305):
        site.upload(src, f"many/{i:04}")
    site.upload(src, "other/x")
    return [f"many/{i:04}" for i in range(305)]


def test_search_stops_at_its_limit_and_pages_with_after(site, many):
    first = site.search(name="many/*")
    assert names(first) == many[:100], "search keeps its limit of 100"
    second = site.search(name="many/*", after=first[-1].name)
    assert names(second) == many[100:200]
    assert names(site.search(name="many/*", after="many/0299z")) == many[300:]
    assert site.search(after="zzz") == []


def test_search_iter_returns_every_match(site, many):
    it = site.search_iter(name="many/*")
    assert isinstance(it, librarian.SearchIterator)
    assert iter(it) is it
    got = list(it)
    assert names(got) == many, "all 305, once each, by name"
    assert all(isinstance(f, librarian.File) for f in got)
    assert next(it, None) is None, "an exhausted iterator stays exhausted"
    # Small pages, a starting cursor, and the other filters.
    assert names(site.search_iter(name="many/*", page_size=7)) == many
    assert names(site.search_iter(name="many/*", after="many/0299", page_size=1)) == many[300:]
    assert len(list(site.search_iter())) == 306
    assert list(site.search_iter(uploader="nobody")) == []


def test_search_iter_sees_files_catalogued_meanwhile_once(site, many, tmp_path):
    it = site.search_iter(name="many/*", page_size=50)
    head = [next(it).name for _ in range(60)]
    src = write_file(tmp_path / "raw" / "late", 16, seed=4)
    site.upload(src, "many/0000a")  # before the cursor: not returned
    site.upload(src, "many/9999")  # after it: returned, at its place
    rest = [f.name for f in it]
    assert head + rest == many + ["many/9999"]


def test_search_iter_checks_its_arguments_at_once(site):
    for bad in (0, -1):
        with pytest.raises(librarian.InvalidArgument):
            site.search_iter(page_size=bad)
    with pytest.raises(librarian.InvalidArgument):
        site.search_iter(since=datetime.datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        site.search_iter(until="2026-01-01")
