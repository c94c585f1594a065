"""Cloning from Python: transfers, plans, a sending round and a receiving round, with
real sites. Peers are played two real ways: a loopback port where nothing listens (an
unreachable peer: a round pings it first and creates no transfers), and a small HTTP
server started by the test that answers the ping but refuses every offer (so the
offered transfers fail, the way a peer that is shutting down makes them fail)."""

import base64
import datetime
import http.server
import json
import pathlib
import threading

import pytest

import librarian

# Nothing listens on the discard port; http:// is allowed for loopback peers only.
UNREACHABLE = "http://127.0.0.1:9"
NAMES = ["2026/obs_1.dat", "2026/obs_2.dat"]


def is_recent_utc(t: datetime.datetime) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return t.utcoffset() == datetime.timedelta(0) and abs(now - t) < datetime.timedelta(minutes=5)


class FakePeer:
    """A real HTTP server on a loopback port, playing site-b's shim.

    In mode ``"refusing"`` it answers ``GET /api/v1/ping`` and refuses
    ``POST /api/v1/clone/stage`` with HTTP 503 ``shutting_down``; in mode ``"down"`` it
    closes every connection without answering (the peer cannot be reached). Every
    request is recorded as ``(method, path, headers with lowercase names, json body or
    None)``."""

    def __init__(self) -> None:
        self.mode = "refusing"
        self.requests: "list[tuple[str, str, dict, object]]" = []
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                peer.requests.append((method, self.path, headers, json.loads(raw) if raw else None))
                self.close_connection = True
                if peer.mode == "down":
                    return  # no answer at all
                if (method, self.path) == ("GET", "/api/v1/ping"):
                    self._answer(200, {"site": "site-b", "version": "x"})
                elif (method, self.path) == ("POST", "/api/v1/clone/stage"):
                    self._answer(
                        503, {"error": {"code": "shutting_down", "message": "site-b is shutting down, try later"}}
                    )
                else:
                    self._answer(404, {"error": {"code": "not_found", "message": f"no route {self.path}"}})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def calls(self, method: str, path: str) -> "list[tuple[str, str, dict, object]]":
        return [r for r in self.requests if (r[0], r[1]) == (method, path)]


@pytest.fixture
def fake_peer():
    peer = FakePeer()
    yield peer
    peer.close()


def make_site_a(tmp_path: pathlib.Path, url: str) -> librarian.Librarian:
    """site-a, which clones to site-b (at `url`) and holds two files."""
    a = librarian.Librarian.init(tmp_path / "a", name="site-a")
    a.add_peer("site-b", url, "site-a", "pw-a-at-b")
    with open(a.config_path, "a") as f:
        # A writes only below the test's directory (where site-b's staging is).
        f.write(f'\n[clone]\nmanagers = ["local"]\n[clone.to.site-b]\ndestination_root = "{tmp_path}"\n')
    a = librarian.Librarian(a.config_path)
    raw = tmp_path / "raw"
    raw.mkdir()
    for i, name in enumerate(NAMES, start=1):
        src = raw / f"obs_{i}.dat"
        src.write_bytes(bytes([i]) * (1000 * i))
        a.upload(src, name)
    return a


@pytest.fixture
def site_a(tmp_path: pathlib.Path) -> librarian.Librarian:
    """site-a, cloning to site-b, which cannot be reached."""
    return make_site_a(tmp_path, UNREACHABLE)


@pytest.fixture
def refused_a(tmp_path: pathlib.Path, fake_peer: FakePeer) -> librarian.Librarian:
    """site-a, cloning to site-b, which answers the ping but refuses every offer."""
    return make_site_a(tmp_path, fake_peer.url)


def test_a_new_site_has_no_transfers(site):
    assert site.transfers() == []
    assert site.transfers(status="completed", direction="incoming", limit=5) == []
    site.add_peer("site-b", UNREACHABLE, "site-a", "pw-a-at-b")
    assert site.transfers(status="completed", direction="incoming", peer="site-b", limit=5) == []
    assert site.receive_clones() == (0, 0)
    report = site.send_clones()
    assert isinstance(report, librarian.SendReport)
    assert (report.offered, report.already_present, report.refused) == (0, 0, 0)
    assert (report.batches_started, report.staged, report.failed, report.running) == (0, 0, 0, 0)
    assert report.skipped_peers == []
    # No [clone.to.*] peer: nobody was even pinged, so nothing was raised.
    assert site.events() == []


def test_bad_filters_are_invalid(site):
    with pytest.raises(librarian.InvalidArgument) as e:
        site.transfers(status="done")
    assert e.value.code == "invalid_argument"
    assert isinstance(e.value, ValueError)
    assert "done" in str(e.value)
    with pytest.raises(librarian.InvalidArgument) as e:
        site.transfers(direction="sideways")
    assert "sideways" in str(e.value)
    with pytest.raises(librarian.InvalidArgument):
        site.transfers(limit=-1)


def test_plan_lists_the_files_the_peer_lacks(site_a):
    plan = site_a.plan_clones("site-b")
    assert [type(p) for p in plan] == [librarian.PlannedFile] * 2
    assert [p.name for p in plan] == NAMES
    for p in plan:
        f = site_a.file(p.name)
        [inst] = f.instances
        assert (p.size, p.checksum, p.kind, p.store) == (f.size, f.checksum, "file", "main")
        assert isinstance(p.path, pathlib.Path) and p.path == inst.path
    assert plan == site_a.plan_clones("site-b")
    assert repr(plan[0]) == (
        f"PlannedFile(name='2026/obs_1.dat', size=1000, kind='file', store='main', path={str(plan[0].path)!r})"
    )
    public = {m for m in dir(plan[0]) if not m.startswith("_")}
    assert public == {"name", "size", "checksum", "kind", "store", "path"}
    with pytest.raises(AttributeError):
        plan[0].size = 0

    # Planning changes nothing, and does not call the peer.
    assert site_a.transfers() == []
    assert site_a.events() == []


def test_an_unreachable_peer_gets_no_transfers(site_a):
    report = site_a.send_clones()
    assert (report.offered, report.already_present, report.refused, report.batches_started) == (0, 0, 0, 0)
    assert (report.staged, report.failed, report.running) == (0, 0, 0)
    assert report.skipped_peers == ["site-b"]
    assert repr(report) == (
        "SendReport(offered=0, already_present=0, refused=0, batches_started=0, staged=0, failed=0, running=0, "
        "skipped_peers=['site-b'])"
    )

    # Nothing was created: the files are still to be sent, all of them.
    assert site_a.transfers() == []
    assert [p.name for p in site_a.plan_clones("site-b")] == NAMES

    # The unreachable peer is an event an operator sees.
    [event] = site_a.events()
    assert (event.severity, event.category, event.subject) == ("warning", "peer_unreachable", "site-b")
    assert event.count == 1 and event.cleared_at is None and "site-b" in event.message
    assert is_recent_utc(event.created_at) and is_recent_utc(event.last_seen_at)

    # A second round (by name, too) still creates nothing; the open event is counted,
    # not repeated.
    again = site_a.send_clones(to="site-b")
    assert (again.offered, again.skipped_peers) == (0, ["site-b"])
    assert site_a.transfers() == []
    [event2] = site_a.events()
    assert (event2.id, event2.category, event2.subject) == (event.id, "peer_unreachable", "site-b")
    assert event2.count == 2 and event2.last_seen_at >= event.last_seen_at
    assert [p.name for p in site_a.plan_clones("site-b")] == NAMES


def test_a_peer_that_refuses_the_offer_fails_the_transfers(refused_a, fake_peer):
    report = refused_a.send_clones()
    assert report.offered == 2
    assert report.skipped_peers == ["site-b"]
    # Refused as a whole (the call), not item by item.
    assert (report.already_present, report.refused, report.batches_started) == (0, 0, 0)
    assert (report.staged, report.failed, report.running) == (0, 0, 0)
    assert repr(report) == (
        "SendReport(offered=2, already_present=0, refused=0, batches_started=0, staged=0, failed=0, running=0, "
        "skipped_peers=['site-b'])"
    )

    # The peer was pinged (without credentials), then offered both files in one call.
    assert [(m, p) for m, p, _, _ in fake_peer.requests] == [
        ("GET", "/api/v1/ping"),
        ("POST", "/api/v1/clone/stage"),
    ]
    [(_, _, ping_headers, _)] = fake_peer.calls("GET", "/api/v1/ping")
    assert "authorization" not in ping_headers
    [(_, _, headers, body)] = fake_peer.calls("POST", "/api/v1/clone/stage")
    expected_auth = "Basic " + base64.b64encode(b"site-a:pw-a-at-b").decode()
    assert headers["authorization"] == expected_auth
    assert headers["idempotency-key"]
    assert body["managers"] == ["local"]

    transfers = refused_a.transfers(direction="outgoing")
    assert [type(t) for t in transfers] == [librarian.Transfer] * 2
    # Newest first.
    assert [t.file for t in transfers] == list(reversed(NAMES))
    assert transfers[0].id > transfers[1].id
    # What was offered is what was recorded, item for item.
    offered = {item["transfer_id"]: item for item in body["items"]}
    assert sorted(offered) == sorted(t.id for t in transfers)
    for t in transfers:
        f = refused_a.file(t.file)
        [inst] = f.instances
        item = offered[t.id]
        assert (item["name"], item["size"], item["checksum"], item["kind"]) == (t.file, t.size, t.checksum, t.kind)
        assert (item["uploader"], item["source"]) == (t.uploader, t.source)
        # Its ping lists no "features" (an older peer): it is not sent the creation
        # time, a field such a peer would refuse.
        assert "created_at" not in item
        assert (t.direction, t.peer, t.status) == ("outgoing", "site-b", "failed")
        assert t.error_code == "peer_refused"
        assert t.error and "site-b" in t.error and "503" in t.error and "shutting_down" in t.error
        assert (t.size, t.checksum, t.kind) == (f.size, f.checksum, f.kind)
        assert (t.uploader, t.source) == (f.uploader, "site-a")
        assert t.store == "main"
        assert isinstance(t.local_path, pathlib.Path) and t.local_path == inst.path
        # The peer never agreed: nothing about its side is known.
        assert (t.remote_id, t.remote_path, t.manager, t.batch) == (None, None, None, None)
        assert is_recent_utc(t.created_at) and is_recent_utc(t.updated_at)
        assert t.updated_at >= t.created_at
        assert t.file_created_at == refused_a.file(t.file).created_at
    assert repr(transfers[0]) == (
        f"Transfer(id={transfers[0].id}, direction='outgoing', peer='site-b', file='2026/obs_2.dat', "
        "status='failed', error_code='peer_refused')"
    )
    public = {m for m in dir(transfers[0]) if not m.startswith("_")}
    assert public == set(
        "id direction peer remote_id file size checksum kind uploader source file_created_at status manager "
        "store local_path remote_path batch created_at updated_at error_code error".split()
    )
    with pytest.raises(AttributeError):
        transfers[0].status = "completed"

    # Listed again, equal by value; failed transfers are planned again.
    assert refused_a.transfers() == transfers
    assert [p.name for p in refused_a.plan_clones("site-b")] == NAMES

    # The refusal is an event an operator sees, about the peer.
    [event] = refused_a.events()
    assert (event.severity, event.category, event.subject) == ("error", "peer_refused", "site-b")
    assert "shutting_down" in event.message
    # Refused again next round: the same event, counted (not a new one per round).
    refused_a.send_clones()
    [again] = refused_a.events()
    assert (again.id, again.count) == (event.id, 2)


def test_transfer_filters(refused_a, fake_peer):
    refused_a.send_clones()
    failed = refused_a.transfers(status="failed", peer="site-b")
    assert [t.file for t in failed] == list(reversed(NAMES))
    assert refused_a.transfers(status="failed", direction="outgoing", peer="site-b") == failed
    assert refused_a.transfers(peer="site-b") == failed
    assert refused_a.transfers(status="completed") == []
    assert refused_a.transfers(status="initiated") == []
    assert refused_a.transfers(status="completed", peer="site-b") == []
    assert refused_a.transfers(direction="incoming") == []
    assert refused_a.transfers(direction="incoming", peer="site-b") == []
    assert refused_a.transfers(limit=1) == failed[:1]
    assert refused_a.transfers(limit=0) == []

    # A name that is not a peer is an error (as for the outbox), not an empty list.
    with pytest.raises(librarian.NotFound) as e:
        refused_a.transfers(peer="site-c")
    assert e.value.code == "not_found"
    assert "site-c" in str(e.value)

    # A second round offers the files again: new transfers, failed the same way.
    again = refused_a.send_clones(to="site-b")
    assert (again.offered, again.skipped_peers) == (2, ["site-b"])
    assert len(fake_peer.calls("POST", "/api/v1/clone/stage")) == 2
    everything = refused_a.transfers(status="failed")
    assert len(everything) == 4
    assert all(t.error_code == "peer_refused" for t in everything)
    assert [t.id for t in everything] == sorted((t.id for t in everything), reverse=True)
    assert everything[2:] == failed
    assert refused_a.transfers(status="failed", limit=3) == everything[:3]
    assert refused_a.transfers(peer="site-b", limit=2) == everything[:2]


def test_a_peer_that_answers_again_gets_offers(refused_a, fake_peer):
    fake_peer.mode = "down"
    report = refused_a.send_clones()
    assert (report.offered, report.skipped_peers) == (0, ["site-b"])
    # Pinged only: nothing was offered.
    assert [(m, p) for m, p, _, _ in fake_peer.requests] == [("GET", "/api/v1/ping")]
    assert refused_a.transfers() == []
    [down] = refused_a.events()
    assert (down.category, down.subject) == ("peer_unreachable", "site-b")

    # It answers again: the unreachable event is cleared, and the files are offered.
    fake_peer.mode = "refusing"
    report = refused_a.send_clones()
    assert report.offered == 2
    assert [(m, p) for m, p, _, _ in fake_peer.requests][1:] == [
        ("GET", "/api/v1/ping"),
        ("POST", "/api/v1/clone/stage"),
    ]
    assert [t.error_code for t in refused_a.transfers()] == ["peer_refused"] * 2
    [cleared] = [e for e in refused_a.events(all=True) if e.id == down.id]
    assert cleared.cleared_at is not None and cleared.count == 1
    assert down.id not in [e.id for e in refused_a.events()]


def test_unknown_peers_are_not_found(site_a):
    with pytest.raises(librarian.NotFound) as e:
        site_a.plan_clones("site-c")
    assert e.value.code == "not_found"
    with pytest.raises(librarian.NotFound):
        site_a.send_clones(to="site-c")
    with pytest.raises(librarian.NotFound):
        site_a.transfers(peer="site-c")
    with pytest.raises(librarian.NotFound):
        site_a.transfers(status="failed", direction="outgoing", peer="site-c", limit=5)
    assert site_a.transfers() == []
    assert site_a.events() == []


def test_a_disabled_peer_is_skipped_without_calls(refused_a, fake_peer):
    refused_a.disable_peer("site-b")
    report = refused_a.send_clones()
    assert (report.offered, report.skipped_peers) == (0, ["site-b"])
    # Not even pinged.
    assert fake_peer.requests == []
    assert refused_a.transfers() == []
    assert refused_a.events() == []


def test_send_to_a_peer_without_a_clone_section(tmp_path, site, fake_peer):
    site.add_peer("site-b", fake_peer.url, "site-a", "pw-a-at-b")
    site.add_peer("site-u", UNREACHABLE, "site-a", "pw-a-at-u")
    site.upload(pathlib.Path(__file__), "tests/test_transfers.py")
    # Not [clone.to.*] peers: the scheduled round leaves them alone (not even a ping)...
    report = site.send_clones()
    assert (report.offered, report.skipped_peers) == (0, [])
    assert fake_peer.requests == []
    # ...but they can be sent to by name, and planned for.
    assert [p.name for p in site.plan_clones("site-b")] == ["tests/test_transfers.py"]
    report = site.send_clones(to="site-b")
    assert (report.offered, report.skipped_peers) == (1, ["site-b"])
    [t] = site.transfers()
    assert (t.file, t.peer, t.status, t.error_code) == ("tests/test_transfers.py", "site-b", "failed", "peer_refused")
    # By name, an unreachable peer gets nothing, like in a scheduled round.
    report = site.send_clones(to="site-u")
    assert (report.offered, report.skipped_peers) == (0, ["site-u"])
    assert site.transfers(peer="site-u") == []
    assert [(e.category, e.subject) for e in site.events() if e.subject == "site-u"] == [
        ("peer_unreachable", "site-u")
    ]


def test_receive_with_nothing_staged(refused_a):
    assert refused_a.receive_clones() == (0, 0)
    refused_a.send_clones()
    # Outgoing transfers are not received.
    assert refused_a.receive_clones() == (0, 0)
    transfers = refused_a.transfers()
    assert len(transfers) == 2 and all(t.status == "failed" for t in transfers)


def test_run_tasks_runs_the_clone_tasks(site_a):
    outcomes = site_a.run_tasks()
    tasks = [o.task for o in outcomes]
    clone_tasks = ["cleanup-staging", "receive-clones", "send-clones", "deliver-outbox"]
    # These run in this order (other tasks may run too).
    assert [t for t in tasks if t in clone_tasks] == clone_tasks, tasks
    by_task = {o.task: o for o in outcomes}
    receive, send = by_task["receive-clones"], by_task["send-clones"]
    # The peer cannot be reached: send-clones is not failed but "degraded" (it could
    # not make progress), offers nothing and says so; the others are fine.
    assert send.status == "degraded", outcomes
    assert all(o.status == "ok" for o in outcomes if o.task != "send-clones"), outcomes
    assert "completed 0, failed 0" in receive.message
    assert "offered 0" in send.message and "skipped: site-b" in send.message
    assert site_a.transfers() == []
    [event] = site_a.events()
    assert (event.category, event.subject, event.count) == ("peer_unreachable", "site-b", 1)

    forced = site_a.run_tasks(only=["send-clones", "receive-clones"])
    assert sorted(o.task for o in forced) == ["receive-clones", "send-clones"]
    assert {o.task: o.status for o in forced} == {"receive-clones": "ok", "send-clones": "degraded"}, forced
    assert site_a.transfers() == []
    [event] = site_a.events()
    assert event.count == 2


def test_run_tasks_with_a_refusing_peer(refused_a):
    outcomes = refused_a.run_tasks(only=["send-clones"])
    [send] = outcomes
    assert send.status == "degraded", outcomes
    assert "offered 2" in send.message and "site-b" in send.message
    assert len(refused_a.transfers(status="failed", peer="site-b")) == 2
    refused_a.run_tasks(only=["send-clones"])
    assert len(refused_a.transfers(status="failed")) == 4


def test_cancel_transfer_refuses_ended_and_unknown_transfers(refused_a, fake_peer):
    refused_a.send_clones()
    failed = refused_a.transfers(status="failed")
    assert failed
    with pytest.raises(librarian.IllegalTransition) as e:
        refused_a.cancel_transfer(failed[0].id)
    assert e.value.code == "illegal_transition"
    with pytest.raises(librarian.NotFound):
        refused_a.cancel_transfer(987654)
    assert refused_a.transfers(status="failed") == failed, "nothing changed"
