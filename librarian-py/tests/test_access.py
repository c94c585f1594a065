"""Accounts (who may call this site) and peers (whom this site calls): adding,
listing, removing, authenticating, the errors, and that no password ever shows."""

import datetime

import pytest

import librarian

LEVELS = ["admin", "read-append", "read-only", "callback"]


def is_recent_utc(t: datetime.datetime) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc)
    return t.utcoffset() == datetime.timedelta(0) and abs(now - t) < datetime.timedelta(minutes=5)


# --- accounts -----------------------------------------------------------------


def test_add_list_remove_accounts(site):
    assert site.accounts() == []
    bob = site.add_account("bob", "read-only", "pw-bob")
    alice = site.add_account("alice", "read-append", "pw-alice")
    root = site.add_account("root", "admin", "pw-root")
    assert isinstance(alice, librarian.Account)
    assert (alice.name, alice.level, alice.peer) == ("alice", "read-append", None)
    assert (bob.level, root.level) == ("read-only", "admin")
    assert is_recent_utc(alice.created_at)

    listed = site.accounts()
    assert [a.name for a in listed] == ["alice", "bob", "root"]  # ordered by name
    assert listed == [alice, bob, root]  # compare equal by value

    site.remove_account("bob")
    assert [a.name for a in site.accounts()] == ["alice", "root"]
    with pytest.raises(librarian.NotFound) as e:
        site.remove_account("bob")
    assert e.value.code == "not_found"


def test_account_is_frozen_and_has_no_password(site):
    a = site.add_account("alice", "admin", "pw-alice")
    with pytest.raises(AttributeError):
        a.name = "mallory"
    public = {m for m in dir(a) if not m.startswith("_")}
    assert public == {"name", "level", "peer", "created_at"}
    assert repr(a).startswith("Account(name='alice', level='admin', peer=None, created_at=")


def test_every_level(site):
    site.add_peer("site-b", "https://b.example:8443", "site-a", "pw-at-b")
    for level in LEVELS:
        a = site.add_account(f"acct-{level}", level, "pw", for_peer="site-b")
        assert a.level == level and a.peer == "site-b"


def test_bad_level_name_and_password(site):
    # Each refusal names the argument it refused (``.argument``).
    with pytest.raises(librarian.InvalidArgument) as e:
        site.add_account("alice", "root", "pw")
    assert e.value.argument == "level" and e.value.code == "invalid_argument"
    with pytest.raises(librarian.InvalidArgument) as e:
        site.add_account("bad name", "admin", "pw")
    assert e.value.argument == "account name"
    with pytest.raises(librarian.InvalidArgument) as e:
        site.add_account("alice", "admin", "")
    assert e.value.argument == "password"
    with pytest.raises(librarian.InvalidArgument):
        site.add_account("alice", "admin", "two\nlines")
    with pytest.raises(librarian.InvalidArgument):
        site.add_account("alice", "admin", "x" * 1025)
    with pytest.raises(TypeError):
        site.add_account("alice", "admin", b"bytes")
    assert site.accounts() == []


def test_for_peer_is_keyword_only(site):
    with pytest.raises(TypeError):
        site.add_account("alice", "admin", "pw", "site-b")


def test_duplicate_account(site):
    site.add_account("alice", "admin", "pw-1")
    with pytest.raises(librarian.AlreadyExists) as e:
        site.add_account("alice", "read-only", "pw-2")
    assert e.value.code == "already_exists"
    assert [(a.name, a.level) for a in site.accounts()] == [("alice", "admin")]


def test_callback_needs_an_existing_peer(site):
    with pytest.raises(librarian.InvalidArgument) as e:
        site.add_account("cb", "callback", "pw")
    assert isinstance(e.value, ValueError)
    with pytest.raises(librarian.NotFound):
        site.add_account("cb", "callback", "pw", for_peer="site-b")
    with pytest.raises(librarian.NotFound):
        site.add_account("ro", "read-only", "pw", for_peer="site-b")
    assert site.accounts() == []
    site.add_peer("site-b", "https://b.example", "site-a", "pw-at-b")
    cb = site.add_account("cb", "callback", "pw", for_peer="site-b")
    assert (cb.level, cb.peer) == ("callback", "site-b")
    assert repr(cb).startswith("Account(name='cb', level='callback', peer='site-b', ")


# --- authenticate ---------------------------------------------------------------


def test_authenticate_ok(site):
    added = site.add_account("alice", "read-append", "correct horse")
    got = site.authenticate("alice", "correct horse")
    assert isinstance(got, librarian.Account)
    assert got == added


@pytest.mark.parametrize(
    "name, password",
    [("alice", "correct horsf"), ("alice", "Correct horse"), ("nobody", "correct horse"), ("", "x")],
)
def test_authenticate_refused(site, name, password):
    site.add_account("alice", "admin", "correct horse")
    with pytest.raises(librarian.Unauthorized) as e:
        site.authenticate(name, password)
    assert isinstance(e.value, librarian.LibrarianError)
    assert not isinstance(e.value, ValueError)
    assert e.value.code == "unauthorized"
    assert type(e.value).code == "unauthorized"
    assert password not in str(e.value)


def test_wrong_password_and_unknown_account_look_alike(site):
    site.add_account("alice", "admin", "correct horse")
    with pytest.raises(librarian.Unauthorized) as wrong:
        site.authenticate("alice", "nope")
    with pytest.raises(librarian.Unauthorized) as unknown:
        site.authenticate("alicf", "nope")
    assert str(wrong.value).replace("alice", "X") == str(unknown.value).replace("alicf", "X")


def test_removed_account_no_longer_authenticates(site):
    site.add_account("alice", "admin", "correct horse")
    site.remove_account("alice")
    with pytest.raises(librarian.Unauthorized):
        site.authenticate("alice", "correct horse")


def test_authenticate_with_an_impossible_password(site):
    site.add_account("alice", "admin", "correct horse")
    with pytest.raises(librarian.InvalidArgument):
        site.authenticate("alice", "")
    with pytest.raises(TypeError):
        site.authenticate("alice", None)


def test_accounts_survive_reopening(site):
    site.add_account("alice", "admin", "correct horse")
    again = librarian.Librarian(site.config_path)
    assert [a.name for a in again.accounts()] == ["alice"]
    assert again.authenticate("alice", "correct horse").level == "admin"


# --- peers ----------------------------------------------------------------------


def test_add_list_enable_disable_remove_peers(site):
    assert site.peers() == []
    b = site.add_peer("site-b", "https://b.example:8443/", "site-a-at-b", "pw-at-b")
    c = site.add_peer("site-c", "http://127.0.0.1:1234/lib", "site-a-at-c", "pw-at-c")
    assert isinstance(b, librarian.Peer)
    assert (b.name, b.url, b.account, b.transfers_enabled) == (
        "site-b",
        "https://b.example:8443",  # trailing / removed
        "site-a-at-b",
        True,
    )
    assert c.url == "http://127.0.0.1:1234/lib"
    assert is_recent_utc(b.created_at)
    assert site.peers() == [b, c]
    assert repr(b).startswith(
        "Peer(name='site-b', url='https://b.example:8443', account='site-a-at-b', transfers_enabled=True, "
        "protocol='librarian', created_at='"
    )
    assert {m for m in dir(b) if not m.startswith("_")} == {
        "name",
        "url",
        "account",
        "transfers_enabled",
        "protocol",
        "created_at",
    }
    assert b.protocol == "librarian"

    off = site.disable_peer("site-b")
    assert isinstance(off, librarian.Peer)
    assert off.transfers_enabled is False
    assert (off.name, off.url, off.created_at) == (b.name, b.url, b.created_at)
    assert "transfers_enabled=False" in repr(off)
    assert [p.transfers_enabled for p in site.peers()] == [False, True]
    assert site.disable_peer("site-b").transfers_enabled is False  # idempotent
    on = site.enable_peer("site-b")
    assert on.transfers_enabled is True and on == b

    moved = site.set_peer_url("site-b", "https://b2.example:9443/")
    assert (moved.url, moved.account, moved.created_at) == ("https://b2.example:9443", b.account, b.created_at)
    with pytest.raises(librarian.InvalidArgument):
        site.set_peer_url("site-b", "http://b.example")  # plain http off this host
    v2 = site.set_peer_protocol("site-b", "original-v2")
    assert v2.protocol == "original-v2" and "protocol='original-v2'" in repr(v2)
    with pytest.raises(librarian.InvalidArgument):
        site.set_peer_protocol("site-b", "v3")  # type: ignore[arg-type]
    assert site.set_peer_protocol("site-b", "librarian").protocol == "librarian"

    site.remove_peer("site-b")
    assert [p.name for p in site.peers()] == ["site-c"]
    for call in (site.remove_peer, site.enable_peer, site.disable_peer):
        with pytest.raises(librarian.NotFound):
            call("site-b")
    with pytest.raises(librarian.NotFound):
        site.set_peer_url("site-b", "https://b.example")
    with pytest.raises(librarian.NotFound):
        site.set_peer_protocol("site-b", "original-v2")


def test_duplicate_peer(site):
    site.add_peer("site-b", "https://b.example", "a", "pw-1")
    with pytest.raises(librarian.AlreadyExists):
        site.add_peer("site-b", "https://other.example", "a", "pw-2")
    assert [p.url for p in site.peers()] == ["https://b.example"]


@pytest.mark.parametrize(
    "url",
    ["ftp://b.example", "https://", "https://u:p@b.example", "http://b.example/?a=1", "http://b x", "b.example:80", ""],
)
def test_bad_peer_url(site, url):
    with pytest.raises(librarian.InvalidArgument) as e:
        site.add_peer("site-b", url, "a", "pw")
    assert e.value.code == "invalid_argument"
    assert site.peers() == []


def test_bad_peer_name_account_or_password(site):
    with pytest.raises(librarian.InvalidArgument):
        site.add_peer("site b", "https://b.example", "a", "pw")
    with pytest.raises(librarian.InvalidArgument):
        site.add_peer("site-b", "https://b.example", "bad account", "pw")
    with pytest.raises(librarian.InvalidArgument):
        site.add_peer("site-b", "https://b.example", "a", "")
    with pytest.raises(TypeError):
        site.add_peer("site-b", "https://b.example", "a", 1234)
    assert site.peers() == []


def test_peer_with_accounts_cannot_be_removed(site):
    site.add_peer("site-b", "https://b.example", "a", "pw-at-b")
    site.add_account("cb", "callback", "pw-cb", for_peer="site-b")
    site.add_account("ro", "read-only", "pw-ro", for_peer="site-b")
    with pytest.raises(librarian.InvalidArgument) as e:
        site.remove_peer("site-b")
    assert "cb" in str(e.value) and "ro" in str(e.value)
    assert [p.name for p in site.peers()] == ["site-b"]
    site.remove_account("cb")
    with pytest.raises(librarian.InvalidArgument):
        site.remove_peer("site-b")
    site.remove_account("ro")
    site.remove_peer("site-b")
    assert site.peers() == []


# --- secrets --------------------------------------------------------------------


def texts_of_exception(e: BaseException) -> "list[str]":
    """str() and repr() of an exception, its args, and of every exception chained to it."""
    out: "list[str]" = []
    seen: "set[int]" = set()
    todo: "list[BaseException]" = [e]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        out += [str(x), repr(x), repr(x.args), repr(getattr(x, "__notes__", None))]
        out += [repr(v) for k, v in vars(x).items()] if hasattr(x, "__dict__") else []
        todo += [c for c in (x.__cause__, x.__context__) if c is not None]
    return out


def texts_of_object(obj: object) -> "list[str]":
    """repr() and str() of an object and of each of its public attributes."""
    out = [repr(obj), str(obj)]
    for name in dir(obj):
        if not name.startswith("_"):
            value = getattr(obj, name)
            if not callable(value):
                out += [repr(value), str(value)]
    return out


def test_no_password_ever_shows(site):
    secrets = {
        "alice": "Tr0ub4dor-ALICE-5e1b9c",
        "root": "Tr0ub4dor-ROOT-77a0f3",
        "cb": "Tr0ub4dor-CALLBACK-0d2e44",
        "peer-b": "Tr0ub4dor-PEER-B-9f81aa",
        "peer-c": "Tr0ub4dor-PEER-C-3c6d20",
        "bad-url": "Tr0ub4dor-BADURL-41e7b2",
        "dup": "Tr0ub4dor-DUPLICATE-a09c55",
        "wrong": "Tr0ub4dor-WRONG-e3f118",
        "rejected": "Tr0ub4dor-REJECTED-6b74d0",
        "surrogate": "Tr0ub4dor-SURROGATE-8ca2e1",
    }
    texts: "list[str]" = []
    raised: "list[str]" = []

    def expect(exc, call, *args, **kwargs):
        with pytest.raises(exc) as e:
            call(*args, **kwargs)
        raised.append(type(e.value).__name__)
        texts.extend(texts_of_exception(e.value))

    b = site.add_peer("site-b", "https://b.example:8443", "site-a-at-b", secrets["peer-b"])
    c = site.add_peer("site-c", "http://127.0.0.1:1234", "site-a-at-c", secrets["peer-c"])
    alice = site.add_account("alice", "read-append", secrets["alice"])
    root = site.add_account("root", "admin", secrets["root"], for_peer="site-c")
    cb = site.add_account("cb", "callback", secrets["cb"], for_peer="site-b")
    good = [
        site.authenticate("alice", secrets["alice"]),
        site.authenticate("root", secrets["root"]),
        site.authenticate("cb", secrets["cb"]),
    ]
    toggled = [site.disable_peer("site-b"), site.enable_peer("site-b")]

    expect(librarian.Unauthorized, site.authenticate, "alice", secrets["wrong"])
    expect(librarian.Unauthorized, site.authenticate, "alice", secrets["root"])
    expect(librarian.Unauthorized, site.authenticate, "nobody", secrets["alice"])
    expect(librarian.AlreadyExists, site.add_account, "alice", "admin", secrets["dup"])
    expect(librarian.AlreadyExists, site.add_peer, "site-b", "https://b.example", "x", secrets["dup"])
    expect(librarian.InvalidArgument, site.add_peer, "site-d", "ftp://d.example", "x", secrets["bad-url"])
    expect(librarian.InvalidArgument, site.add_peer, "site d", "https://d.example", "x", secrets["bad-url"])
    expect(librarian.InvalidArgument, site.add_account, "cb2", "callback", secrets["dup"])
    expect(librarian.InvalidArgument, site.add_account, "eve", "superuser", secrets["dup"])
    expect(librarian.NotFound, site.add_account, "cb2", "callback", secrets["dup"], for_peer="site-z")
    expect(librarian.InvalidArgument, site.add_account, "eve", "admin", secrets["rejected"] + "\n")
    expect(librarian.InvalidArgument, site.add_account, "eve", "admin", secrets["rejected"] + "\0")
    expect(librarian.InvalidArgument, site.add_account, "eve", "admin", secrets["rejected"] * 100)
    expect(librarian.InvalidArgument, site.authenticate, "alice", "\r" + secrets["rejected"])
    # A str that cannot be UTF-8: refused without chaining the codec error (whose
    # .object would hold the whole password).
    expect(librarian.InvalidArgument, site.add_account, "eve", "admin", secrets["surrogate"] + "\udc80")
    expect(librarian.InvalidArgument, site.authenticate, "alice", "\ud800" + secrets["surrogate"])
    expect(librarian.InvalidArgument, site.add_peer, "site-d", "https://d.example", "x", secrets["surrogate"] + "\udfff")
    expect(librarian.InvalidArgument, site.remove_peer, "site-b")
    assert "Unauthorized" in raised and "InvalidArgument" in raised

    results = [b, c, alice, root, cb, *good, *toggled, *site.accounts(), *site.peers()]
    for obj in results:
        texts.extend(texts_of_object(obj))
    texts += [repr(site.accounts()), str(site.accounts()), repr(site.peers()), str(site.peers()), repr(site)]

    assert len(texts) > 100
    for secret in secrets.values():
        for text in texts:
            assert secret not in text, f"password {secret!r} shows in {text!r}"
            assert secret[-6:] not in text, f"part of password {secret!r} shows in {text!r}"

    # The secrets are still good: nothing above changed them.
    assert site.authenticate("alice", secrets["alice"]) == alice
    with pytest.raises(librarian.Unauthorized):
        site.authenticate("eve", secrets["rejected"])
