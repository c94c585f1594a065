"""Background tasks from Python: ``Librarian.run_tasks`` is ``librarian tasks run``."""

import datetime

import pytest

import librarian


def test_run_tasks_runs_due_tasks_once_and_on_request(tmp_path):
    lib = librarian.Librarian.init(tmp_path / "site", name="site-a")
    staging = lib.stores()[0].staging
    stale = staging / "dead-ingest"
    stale.mkdir()
    (stale / "data").write_bytes(b"partial")

    first = lib.run_tasks()
    assert [o.task for o in first] == [
        "cleanup-staging",
        "receive-clones",
        "send-clones",
        "deliver-outbox",
        "reconcile-transfers",
        "clone-local",
        "scrub",
        "rolling-deletion",
        "deliver-alerts",
    ]
    assert first[0].status == "ok", first
    assert "removed 1" in first[0].message
    assert first[0].started_at.tzinfo is not None and first[0].finished_at >= first[0].started_at
    assert not stale.exists()

    again = lib.run_tasks()
    assert again[0].status == "not_due"
    assert again[0].started_at is None

    forced = lib.run_tasks(only=["cleanup-staging"])
    assert forced[0].status == "ok"
    assert isinstance(forced[0].finished_at, datetime.datetime)
    assert "cleanup-staging" in repr(forced[0])


def test_unknown_task_is_invalid(tmp_path):
    lib = librarian.Librarian.init(tmp_path / "site", name="site-a")
    with pytest.raises(librarian.InvalidArgument) as e:
        lib.run_tasks(only=["no-such-task"])
    assert e.value.code == "invalid_argument"
