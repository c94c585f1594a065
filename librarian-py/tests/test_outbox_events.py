"""The outbox (calls to peers that must not be lost) and events (what an operator must
know about), from Python, with real sites: the peer is a loopback port where nothing
listens, so every delivery attempt fails the way an unreachable peer does."""

import datetime
import pathlib

import pytest

import librarian

# Nothing listens on the discard port; http:// is allowed for loopback peers only.
UNREACHABLE = "http://127.0.0.1:9"


def is_recent_utc(t: datetime.datetime) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return t.utcoffset() == datetime.timedelta(0) and abs(now - t) < datetime.timedelta(minutes=5)


@pytest.fixture
def sites(tmp_path: pathlib.Path) -> "tuple[librarian.Librarian, librarian.Librarian]":
    """site-a, which calls site-b (unreachable), and site-b, which lets site-a call
    it back. site-a holds two files."""
    a = librarian.Librarian.init(tmp_path / "a", name="site-a")
    b = librarian.Librarian.init(tmp_path / "b", name="site-b")
    a.add_peer("site-b", UNREACHABLE, "site-a", "pw-a-at-b")
    b.add_peer("site-a", "http://127.0.0.1:9", "site-b", "pw-b-at-a")
    b.add_account("site-a", "callback", "pw-a-at-b", for_peer="site-a")
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in (1, 2):
        src = raw / f"obs_{i}.dat"
        src.write_bytes(bytes([i]) * (1000 * i))
        a.upload(src, f"2026/obs_{i}.dat")
    return a, b


def test_announce_queues_holds_calls_in_order(sites):
    a, b = sites
    assert a.outbox() == []
    calls = a.announce("site-b", ["2026/obs_1.dat", "2026/obs_2.dat"])
    assert [type(c) for c in calls] == [librarian.OutboxCall] * 2
    assert [c.kind for c in calls] == ["holds", "holds"]
    assert [c.peer for c in calls] == ["site-b", "site-b"]
    assert calls[0].id < calls[1].id
    assert len({c.key for c in calls}) == 2 and all(c.key for c in calls)
    for c, n in zip(calls, ("2026/obs_1.dat", "2026/obs_2.dat")):
        f = a.file(n)
        assert isinstance(c.body, dict)
        assert c.body["name"] == n
        assert c.body["checksum"] == f.checksum
        assert c.body["size"] == f.size
        assert c.body["store"] == "main"
        assert (c.attempts, c.last_error) == (0, None)
        assert is_recent_utc(c.created_at) and is_recent_utc(c.next_attempt_at)

    # The outbox lists them, oldest first; equal by value to what announce returned.
    assert a.outbox() == calls
    assert a.outbox("site-b") == calls
    assert b.outbox() == []

    # The body is a fresh copy on each access: changing it changes nothing queued.
    body = calls[0].body
    body["name"] = "changed"
    assert calls[0].body["name"] == "2026/obs_1.dat"

    # Frozen, with a readable repr.
    with pytest.raises(AttributeError):
        calls[0].attempts = 5
    assert repr(calls[0]).startswith(f"OutboxCall(id={calls[0].id}, peer='site-b', kind='holds', key=")
    public = {m for m in dir(calls[0]) if not m.startswith("_")}
    assert public == {"id", "peer", "key", "kind", "body", "created_at", "attempts", "next_attempt_at", "last_error"}

    # A single name is accepted too; nothing is announced for an empty list.
    one = a.announce("site-b", "2026/obs_1.dat")
    assert len(one) == 1 and one[0].key not in {c.key for c in calls}
    assert a.announce("site-b", []) == []
    assert [c.id for c in a.outbox()] == [calls[0].id, calls[1].id, one[0].id]


def test_delivery_to_an_unreachable_peer_is_postponed_and_raises_an_event(sites):
    a, _ = sites
    calls = a.announce("site-b", ["2026/obs_1.dat", "2026/obs_2.dat"])
    assert a.events() == []

    report = a.deliver_outbox()
    assert isinstance(report, librarian.DeliveryReport)
    assert (report.delivered, report.refused, report.postponed) == (0, 0, 1)
    assert report.waiting_peers == ["site-b"]
    assert repr(report) == "DeliveryReport(delivered=0, refused=0, postponed=1, waiting_peers=['site-b'])"

    # Only the head was tried; it failed once and waits; the call after it waits its turn.
    first, second = a.outbox()
    assert [first.key, second.key] == [c.key for c in calls]
    assert first.attempts == 1 and first.last_error
    assert first.next_attempt_at > datetime.datetime.now(datetime.timezone.utc)
    assert (second.attempts, second.last_error) == (0, None)

    [event] = a.events()
    assert isinstance(event, librarian.Event)
    assert (event.severity, event.category, event.subject) == ("warning", "peer_unreachable", "site-b")
    assert event.count == 1 and event.cleared_at is None and "site-b" in event.message
    assert is_recent_utc(event.created_at) and is_recent_utc(event.last_seen_at)
    assert repr(event).startswith(f"Event(id={event.id}, severity='warning', category='peer_unreachable'")

    # The head is not due yet (backoff): the next run tries nothing.
    again = a.deliver_outbox()
    assert (again.delivered, again.refused, again.postponed) == (0, 0, 0)
    assert again.waiting_peers == ["site-b"]
    assert a.outbox()[0].attempts == 1

    # retry_outbox makes every queued call due now; the next run tries again, and the
    # open event is counted, not repeated.
    assert a.retry_outbox() == 2
    assert a.retry_outbox("site-b") == 2
    assert a.deliver_outbox().postponed == 1
    assert a.outbox()[0].attempts == 2
    [event2] = a.events()
    assert event2.id == event.id and event2.count == 2
    assert event2.last_seen_at >= event.last_seen_at


def test_clear_event(sites):
    a, _ = sites
    a.announce("site-b", ["2026/obs_1.dat"])
    a.deliver_outbox()
    [event] = a.events()

    cleared = a.clear_event(event.id)
    assert cleared.id == event.id
    assert cleared.cleared_at is not None and is_recent_utc(cleared.cleared_at)
    assert a.events() == []
    assert a.events(all=True) == [cleared]
    with pytest.raises(AttributeError):
        cleared.count = 0

    with pytest.raises(librarian.NotFound) as e:
        a.clear_event(event.id)
    assert e.value.code == "not_found"
    with pytest.raises(librarian.NotFound):
        a.clear_event(999_999)

    # The outbox is untouched: the call still waits for the peer.
    assert len(a.outbox()) == 1


def test_announce_errors_queue_nothing(sites):
    a, _ = sites
    with pytest.raises(librarian.NotFound) as e:
        a.announce("site-b", ["2026/obs_1.dat", "2026/no_such.dat"])
    assert e.value.code == "not_found"
    assert a.outbox() == []

    with pytest.raises(librarian.NotFound):
        a.announce("site-c", ["2026/obs_1.dat"])
    with pytest.raises(librarian.InvalidName):
        a.announce("site-b", ["../escape"])
    with pytest.raises(TypeError):
        a.announce("site-b", 42)
    assert a.outbox() == []

    with pytest.raises(librarian.NotFound):
        a.outbox("site-c")
    with pytest.raises(librarian.NotFound):
        a.retry_outbox("site-c")
    assert a.retry_outbox() == 0


def test_deliver_with_an_empty_outbox(site):
    report = site.deliver_outbox()
    assert (report.delivered, report.refused, report.postponed, report.waiting_peers) == (0, 0, 0, [])
    assert site.events() == [] and site.events(all=True) == []


def test_run_tasks_delivers_the_outbox(sites):
    a, _ = sites
    a.announce("site-b", ["2026/obs_1.dat"])
    outcomes = a.run_tasks()
    by_task = {o.task: o for o in outcomes}
    assert len(by_task) == len(outcomes) and "deliver-outbox" in by_task
    deliver = by_task["deliver-outbox"]
    # The peer did not answer: not a failure, but the task could not make progress.
    assert deliver.status == "degraded", outcomes
    assert "postponed 1" in deliver.message and "site-b" in deliver.message
    assert a.outbox()[0].attempts == 1
    assert [e.category for e in a.events()] == ["peer_unreachable"]

    forced = a.run_tasks(only=["deliver-outbox"])
    assert [o.task for o in forced] == ["deliver-outbox"]
    assert forced[0].status == "degraded"  # still waiting out the backoff


def test_drop_call_removes_one_queued_call_and_records_it(sites):
    a, _ = sites
    queued = a.announce("site-b", ["2026/obs_1.dat", "2026/obs_2.dat"])
    dropped = a.drop_call(queued[0].id)
    assert dropped == queued[0]
    assert a.outbox() == queued[1:]
    [event] = [e for e in a.events() if e.category == "call_refused"]
    assert queued[0].key in event.subject and "dropped by an operator" in event.message
    with pytest.raises(librarian.NotFound):
        a.drop_call(queued[0].id)
