//! The outbox between two real sites: calls queued at A (`peer announce`) survive
//! while B is down and A's processes come and go, arrive exactly once when B is back
//! (by idempotency key, even when delivered twice), and a call B refuses for good
//! becomes an event instead of an endless retry.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use librarian_e2e::*;
use serde_json::Value;

const B_PW: &str = "a-at-b-outbox-secret";
const A_PW: &str = "b-at-a-outbox-secret";

fn pw_file(site: &Site, name: &str, pw: &str) -> String {
    let p = site.tmp().join(name);
    write_secret(&p, &format!("{pw}\n"));
    p.to_str().unwrap().to_owned()
}

fn file(site: &Site, rel: &str, text: &str) -> std::path::PathBuf {
    let p = site.src(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Two sites: A calls B at `b_addr` (nothing listens there yet) as account `site-a`,
/// which B knows as a callback account of its peer `site-a`.
fn pair(b_addr: &str) -> (Site, Site) {
    let a = Site::named("site-a");
    let b = Site::named("site-b");
    b.run([
        "peer",
        "add",
        "site-a",
        "--url",
        "http://127.0.0.1:9",
        "--account",
        "site-b",
        "--password-file",
        &pw_file(&b, "pa", A_PW),
    ])
    .ok();
    account_for_a(&b, "callback", true, "pw");
    let url = format!("http://{b_addr}");
    a.run(["peer", "add", "site-b", "--url", &url, "--account", "site-a", "--password-file", &pw_file(&a, "pw", B_PW)])
        .ok();
    (a, b)
}

/// B's account for site-a (A's password at B) at `level`, belonging to B's peer
/// `site-a` when `for_peer`; `tag` names the password file.
fn account_for_a(b: &Site, level: &str, for_peer: bool, tag: &str) {
    let pw = pw_file(b, tag, B_PW);
    let mut args = vec!["account", "add", "site-a", "--level", level, "--password-file", &pw];
    if for_peer {
        args.extend(["--for-peer", "site-a"]);
    }
    b.run(args).ok();
}

fn outbox(site: &Site) -> Vec<Value> {
    let out = site.json(["outbox", "list"]);
    out.ok();
    out.json().as_array().unwrap().clone()
}

fn events(site: &Site, all: bool) -> Vec<Value> {
    let out = if all { site.json(["events", "list", "--all"]) } else { site.json(["events", "list"]) };
    out.ok();
    out.json().as_array().unwrap().clone()
}

fn deliver(site: &Site) -> String {
    let out = site.json(["tasks", "run", "--only", "deliver-outbox"]);
    let v = out.json();
    assert_eq!(v[0]["task"], "deliver-outbox", "{out}");
    // An unreachable peer is not a failed task: "degraded" (exit 3) while calls to
    // a peer are failing, "ok" (exit 0) otherwise.
    match out.code() {
        Some(0) => assert_eq!(v[0]["status"], "ok", "{out}"),
        Some(3) => assert_eq!(v[0]["status"], "degraded", "{out}"),
        _ => panic!("deliver-outbox neither ok nor degraded: {out}"),
    }
    v[0]["message"].as_str().unwrap().to_owned()
}

/// POST a call to B's shim as `account`, like a peer would.
fn post_call(url: &str, account: &str, pw: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{account}:{pw}"));
    let mut req = agent
        .post(format!("{url}/api/v1/callbacks/holds"))
        .header("Authorization", format!("Basic {basic}"))
        .header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let mut resp = req.send(body.to_owned()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn queued_calls_survive_a_down_peer_and_arrive_exactly_once() {
    let b_addr = free_loopback_addr();
    let (a, b) = pair(&b_addr);
    let names: Vec<String> = (0..5).map(|i| format!("run/f{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        let text = format!("payload {i}\n");
        a.upload(&file(&a, &format!("a{i}"), &text), n, &[]).ok();
        b.upload(&file(&b, &format!("b{i}"), &text), n, &[]).ok();
    }
    // Same name, other bytes at B (a conflict); and a file B has never heard of.
    a.upload(&file(&a, "c", "A's version\n"), "run/conflict", &[]).ok();
    b.upload(&file(&b, "c", "B's version\n"), "run/conflict", &[]).ok();
    a.upload(&file(&a, "m", "only at A\n"), "run/missing", &[]).ok();

    let mut announce: Vec<&str> = vec!["peer", "announce", "site-b"];
    announce.extend(names.iter().map(String::as_str));
    announce.extend(["run/conflict", "run/missing"]);
    let queued = a.json(announce);
    queued.ok();
    assert_eq!(queued.json().as_array().unwrap().len(), 7, "{queued}");
    let calls = outbox(&a);
    assert_eq!(calls.len(), 7);
    let keys: std::collections::BTreeSet<&str> = calls.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 7, "every call has its own idempotency key");
    assert_eq!(calls[0]["body"]["name"], "run/f0", "calls keep their order");
    assert_eq!(calls[0]["kind"], "holds");

    // B is down: the calls wait, A's task does not fail, an event says why.
    let msg = deliver(&a);
    assert!(msg.contains("postponed 1") && msg.contains("site-b"), "{msg}");
    let calls = outbox(&a);
    assert_eq!(calls.len(), 7, "nothing is dropped while the peer is down");
    assert_eq!(calls[0]["attempts"], 1);
    assert_eq!(calls[1]["attempts"], 0, "later calls wait their turn");
    assert!(calls[0]["last_error"].as_str().unwrap().contains("site-b"), "{:?}", calls[0]);
    let ev = events(&a, false);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0]["category"].as_str(), ev[0]["subject"].as_str()), (Some("peer_unreachable"), Some("site-b")));
    // Backoff: an immediate second run (a new process: the sender "restarted") does
    // not hammer the peer.
    let msg = deliver(&a);
    assert!(msg.contains("delivered 0") && msg.contains("postponed 0") && msg.contains("waiting: site-b"), "{msg}");
    assert_eq!(outbox(&a)[0]["attempts"], 1);
    // A server process at A (its scheduler delivers too) killed with SIGKILL: still queued.
    // Its /metrics shows the queue and the open event (and no secret).
    let config = std::fs::read_to_string(a.config()).unwrap();
    std::fs::write(a.config(), format!("{config}\n[server]\nmetrics_auth = false\n")).unwrap();
    let mut server = Server::start(&a);
    let metrics = ureq::get(format!("{}/metrics", server.url)).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("librarian_outbox_calls{peer=\"site-b\"} 7"), "{metrics}");
    assert!(metrics.contains("librarian_events_open{severity=\"warning\"} 1"), "{metrics}");
    assert!(metrics.contains("librarian_outbox_oldest_age_seconds{peer=\"site-b\"}"), "{metrics}");
    assert!(!metrics.contains(B_PW));
    server.child.kill().unwrap();
    drop(server);
    assert_eq!(outbox(&a).len(), 7);

    // B is back. The operator skips the backoff; one run delivers everything.
    let served_b = Server::start_at(&b, &b_addr);
    let retried = a.json(["outbox", "retry", "--peer", "site-b"]);
    retried.ok();
    assert_eq!(retried.json()["rescheduled"], 7);
    let msg = deliver(&a);
    assert!(msg.contains("delivered 5") && msg.contains("refused 2"), "{msg}");
    assert!(outbox(&a).is_empty());

    // A: a remote instance needs nothing of A; B: five remote instances at site-a.
    for n in &names {
        let info = b.json(["info", n]);
        info.ok();
        let remote = info.json()["remote_instances"].as_array().unwrap().clone();
        assert_eq!(remote.len(), 1, "{info}");
        assert_eq!((remote[0]["librarian"].as_str(), remote[0]["store"].as_str()), (Some("site-a"), Some("main")));
    }
    assert_eq!(b.json(["info", "run/conflict"]).json()["remote_instances"].as_array().unwrap().len(), 0);
    // The refusals are events at A (one per call), the conflict an event at B too;
    // the peer_unreachable event cleared itself when B answered.
    let open = events(&a, false);
    let refused: Vec<&Value> = open.iter().filter(|e| e["category"] == "call_refused").collect();
    assert_eq!((open.len(), refused.len()), (2, 2), "{open:?}");
    assert!(refused.iter().any(|e| e["message"].as_str().unwrap().contains("run/missing")), "{refused:?}");
    assert!(refused.iter().any(|e| e["message"].as_str().unwrap().contains("conflict")), "{refused:?}");
    let all = events(&a, true);
    assert!(all.iter().any(|e| e["category"] == "peer_unreachable" && !e["cleared_at"].is_null()), "{all:?}");
    let b_events = events(&b, false);
    assert_eq!(b_events.len(), 1, "{b_events:?}");
    assert_eq!(
        (b_events[0]["category"].as_str(), b_events[0]["subject"].as_str()),
        (Some("conflict"), Some("run/conflict"))
    );
    // Nothing was delivered twice, nothing overwritten.
    let bdb = b.db();
    assert_eq!(sql::count(&bdb, "SELECT COUNT(*) FROM remote_instances"), 5);
    assert_eq!(sql::count(&bdb, "SELECT COUNT(*) FROM received_calls"), 5);

    // Exactly once by key: the same call again (an acknowledgement lost on the way)
    // is answered as a replay and changes nothing.
    let first = &calls[0];
    let body = first["body"].to_string();
    let key = first["key"].as_str().unwrap();
    let (status, answer) = post_call(&served_b.url, "site-a", B_PW, Some(key), &body);
    assert_eq!((status, answer["replayed"].as_bool()), (200, Some(true)), "{answer}");
    // A sender that crashed after B applied a call but before removing it from its
    // outbox sends it again: put it back (same key) and deliver.
    let body_sql = body.replace('\'', "''");
    sql::write(
        &a.db(),
        &format!(
            "INSERT INTO outbox (peer_id, call_key, kind, body, created_at, next_attempt_at)
             SELECT id, '{key}', 'holds', '{body_sql}', 0, 0 FROM peers WHERE name = 'site-b'"
        ),
    );
    let msg = deliver(&a);
    assert!(msg.contains("delivered 1"), "{msg}");
    assert!(outbox(&a).is_empty());
    assert_eq!(sql::count(&bdb, "SELECT COUNT(*) FROM remote_instances"), 5);
    assert_eq!(sql::count(&bdb, "SELECT COUNT(*) FROM received_calls"), 5);
    // The peer cannot be removed while calls are queued for it (there are none now).
    a.json(["peer", "announce", "site-b", "run/f0"]).ok();
    let refused = a.json(["peer", "remove", "site-b"]);
    let msg = refused.expect_error(2, "invalid_argument");
    assert!(msg.contains("queued"), "{refused}");
    // Secrets appear nowhere in what we printed.
    for out in [
        a.json(["outbox", "list"]),
        a.run(["outbox", "list"]),
        a.json(["events", "list", "--all"]),
        a.run(["events", "list"]),
    ] {
        assert!(!out.stdout.contains(B_PW) && !out.stderr.contains(B_PW), "a password leaked: {out}");
    }
}

#[test]
fn a_disabled_peer_or_refused_credentials_keep_the_calls() {
    let b_addr = free_loopback_addr();
    let (a, b) = pair(&b_addr);
    a.upload(&file(&a, "x", "x\n"), "x", &[]).ok();
    b.upload(&file(&b, "x", "x\n"), "x", &[]).ok();
    let _served = Server::start_at(&b, &b_addr);
    a.json(["peer", "announce", "site-b", "x"]).ok();

    // Disabled: nothing is attempted, nothing is lost.
    a.run(["peer", "disable", "site-b"]).ok();
    let msg = deliver(&a);
    assert!(msg.contains("delivered 0") && msg.contains("waiting: site-b"), "{msg}");
    assert_eq!(outbox(&a)[0]["attempts"], 0);
    a.run(["peer", "enable", "site-b"]).ok();

    // B no longer accepts our password: 401 is for an operator to fix, not a reason
    // to drop the call.
    b.run(["account", "remove", "site-a"]).ok();
    let msg = deliver(&a);
    assert!(msg.contains("postponed 1"), "{msg}");
    let calls = outbox(&a);
    assert_eq!((calls.len(), calls[0]["attempts"].as_u64()), (1, Some(1)));
    let ev = events(&a, false);
    assert_eq!((ev.len(), ev[0]["category"].as_str()), (1, Some("peer_refused")), "{ev:?}");
    assert!(!ev[0]["message"].as_str().unwrap().contains(B_PW));

    // A read-only account, or one that belongs to no peer, may not make a peer's calls.
    account_for_a(&b, "read-only", true, "p2");
    a.json(["outbox", "retry"]).ok();
    assert!(deliver(&a).contains("postponed 1"));
    assert_eq!(outbox(&a)[0]["last_error"].as_str().map(|e| e.contains("403")), Some(true), "{:?}", outbox(&a));
    b.run(["account", "remove", "site-a"]).ok();
    account_for_a(&b, "read-append", false, "p3");
    a.json(["outbox", "retry"]).ok();
    assert!(deliver(&a).contains("postponed 1"));
    assert!(outbox(&a)[0]["last_error"].as_str().unwrap().contains("403"));

    // Fixed: delivered, and the refusal event clears itself.
    b.run(["account", "remove", "site-a"]).ok();
    account_for_a(&b, "callback", true, "p4");
    a.json(["outbox", "retry"]).ok();
    assert!(deliver(&a).contains("delivered 1"));
    assert!(outbox(&a).is_empty());
    assert!(events(&a, false).is_empty());
    let remote = b.json(["info", "x"]).json()["remote_instances"].as_array().unwrap().clone();
    assert_eq!(remote.len(), 1);
}

#[test]
fn the_callback_endpoint_refuses_bad_calls_with_a_code() {
    let b_addr = free_loopback_addr();
    let (_a, b) = pair(&b_addr);
    b.upload(&file(&b, "x", "x\n"), "x", &[]).ok();
    let checksum = b.json(["info", "x"]).json()["checksum"].as_str().unwrap().to_owned();
    let served = Server::start_at(&b, &b_addr);
    let url = &served.url;
    let good =
        format!(r#"{{"name":"x","checksum":"{checksum}","size":2,"store":"main","copied_at":"2026-11-25T00:00:00Z"}}"#);
    let long_key = "k".repeat(129);
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, good.clone(), 400, "bad_request"),
        (Some("bad key!"), good.clone(), 400, "bad_request"),
        (Some(&long_key), good.clone(), 400, "bad_request"),
        (Some("k1"), "{not json".into(), 400, "bad_request"),
        (Some("k2"), r#"{"name":"x"}"#.into(), 400, "bad_request"),
        (Some("k3"), good.replace(r#""size":2"#, r#""size":2,"extra":1"#), 400, "bad_request"),
        (Some("k4"), good.replace(r#""name":"x""#, r#""name":"../x""#), 400, "bad_request"),
        (Some("k5"), good.replace(&checksum, "blake3:zz"), 400, "bad_request"),
        (Some("k6"), good.replace(r#""name":"x""#, r#""name":"y""#), 404, "not_found"),
        (Some("k7"), good.replace(&checksum[checksum.len() - 4..], "0000"), 409, "conflict"),
    ];
    for (key, body, status, code) in cases {
        let (got, answer) = post_call(url, "site-a", B_PW, key, &body);
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{key:?} {body}: {answer}");
    }
    let (got, answer) = post_call(url, "site-a", "wrong", Some("k8"), &good);
    assert_eq!((got, answer["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (got, answer) = post_call(url, "site-a", B_PW, Some("k9"), &good);
    assert_eq!((got, answer["replayed"].as_bool(), answer["recorded"].as_bool()), (200, Some(false), Some(true)));
    // None of the refused calls left a trace; the good one recorded one instance.
    let remote = b.json(["info", "x"]).json()["remote_instances"].as_array().unwrap().clone();
    assert_eq!(remote.len(), 1, "{remote:?}");
    assert_eq!((remote[0]["librarian"].as_str(), remote[0]["store"].as_str()), (Some("site-a"), Some("main")));
    assert_eq!(sql::count(&b.db(), "SELECT COUNT(*) FROM received_calls"), 1);
}

#[test]
fn an_operator_drops_a_call_the_peer_will_never_accept() {
    let b_addr = free_loopback_addr();
    let (a, b) = pair(&b_addr);
    a.upload(&file(&a, "x", "x\n"), "x", &[]).ok();
    a.upload(&file(&a, "y", "y\n"), "y", &[]).ok();
    b.upload(&file(&b, "y", "y\n"), "y", &[]).ok();
    let _served = Server::start_at(&b, &b_addr);
    b.run(["account", "remove", "site-a"]).ok();
    a.json(["peer", "announce", "site-b", "x", "y"]).ok();
    assert!(deliver(&a).contains("postponed 1"), "401: the calls wait");
    let calls = outbox(&a);
    let first = calls[0]["id"].as_i64().unwrap().to_string();
    let dropped = a.json(["outbox", "drop", &first]);
    dropped.ok();
    // One call, one JSON object (as Python's `drop_call` returns one OutboxCall).
    assert!(dropped.json().is_object(), "{dropped}");
    assert_eq!(dropped.json()["body"]["name"], "x", "{dropped}");
    assert_eq!(outbox(&a).len(), 1, "only the dropped call is gone");
    let ev = events(&a, false);
    let refused = ev
        .iter()
        .find(|e| e["category"] == "call_refused" && e["message"].as_str().unwrap().contains("dropped by an operator"))
        .unwrap_or_else(|| panic!("{ev:?}"));
    // Clearing it answers the one Event (as Python's `clear_event` does), cleared.
    let id = refused["id"].as_i64().unwrap().to_string();
    let cleared = a.json(["events", "clear", &id]);
    cleared.ok();
    let cleared = cleared.json();
    assert!(cleared.is_object(), "{cleared}");
    assert_eq!((&cleared["id"], &cleared["category"]), (&refused["id"], &refused["category"]), "{cleared}");
    assert!(cleared["cleared_at"].is_string(), "{cleared}");
    assert!(events(&a, false).iter().all(|e| e["id"] != refused["id"]), "still open");
    let human = a.run(["events", "list", "--all"]);
    human.ok();
    assert!(human.stdout.contains("cleared"), "{human}");
    a.json(["outbox", "drop", &first]).expect_error(1, "not_found");
    // The peer's calls behind it flow once the peer accepts us again.
    account_for_a(&b, "callback", true, "p9");
    a.json(["outbox", "retry"]).ok();
    assert!(deliver(&a).contains("delivered 1"));
    assert!(outbox(&a).is_empty());
}
