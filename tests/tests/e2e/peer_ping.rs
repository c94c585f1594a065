//! `librarian peer ping` between two real sites: one serves, the other calls it.
//! An unreachable peer and a peer that refuses are told apart.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use librarian_e2e::*;

fn pw_file(site: &Site, name: &str, pw: &str) -> String {
    let p = site.tmp().join(name);
    write_secret(&p, &format!("{pw}\n"));
    p.to_str().unwrap().to_owned()
}

#[test]
fn ping_tells_reachable_refusing_and_unreachable_peers_apart() {
    let a = Site::named("site-a");
    let b = Site::named("site-b");
    b.run(["account", "add", "site-a", "--level", "read-only", "--password-file", &pw_file(&b, "pw", "a-at-b-secret")])
        .ok();
    let served = Server::start(&b);

    let good = pw_file(&a, "good", "a-at-b-secret");
    let bad = pw_file(&a, "bad", "not-the-secret");
    a.run(["peer", "add", "site-b", "--url", &served.url, "--account", "site-a", "--password-file", &good]).ok();
    let ok = a.json(["peer", "ping", "site-b"]);
    ok.ok();
    let j = ok.json();
    assert_eq!(
        (j["peer"].as_str(), j["site"].as_str(), j["version"].as_str()),
        (Some("site-b"), Some("site-b"), Some("0.1.0"))
    );
    assert!(j["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{ok}");
    let text = a.run(["peer", "ping", "site-b"]);
    text.ok();
    assert!(text.stdout.contains("credentials accepted"), "{text}");

    // Reachable, but our password is wrong: refused, with the peer's own code.
    a.run(["peer", "add", "b-wrong-pw", "--url", &served.url, "--account", "site-a", "--password-file", &bad]).ok();
    let refused = a.json(["peer", "ping", "b-wrong-pw"]);
    // The peer answers as site-b, not b-wrong-pw: that is checked first.
    let msg = refused.expect_error(1, "peer_refused");
    assert!(msg.contains("wrong_site") && msg.contains("site-b"), "{refused}");
    // A correctly named peer with a wrong password: the peer's 401, passed on.
    let c = Site::named("site-c");
    c.run([
        "peer",
        "add",
        "site-b",
        "--url",
        &served.url,
        "--account",
        "site-a",
        "--password-file",
        &pw_file(&c, "bad", "nope"),
    ])
    .ok();
    let unauthorized = c.json(["peer", "ping", "site-b"]);
    let msg = unauthorized.expect_error(1, "peer_refused");
    assert!(msg.contains("401") && msg.contains("unauthorized"), "{unauthorized}");
    assert!(!unauthorized.stdout.contains("nope") && !unauthorized.stderr.contains("nope"), "a password leaked");

    // Nobody listening: unreachable, not refused.
    drop(served);
    let gone = a.json(["peer", "ping", "site-b"]);
    let msg = gone.expect_error(1, "peer_unreachable");
    assert!(msg.contains("site-b"), "{gone}");
    assert!(!gone.stdout.contains("a-at-b-secret") && !gone.stderr.contains("a-at-b-secret"), "a password leaked");
    a.json(["peer", "ping", "no-such-peer"]).expect_error(1, "not_found");
}

#[test]
fn ping_works_from_both_sides_of_the_documented_clone_set_up() {
    // docs/cloning.md: A's account at B is read-append, B's account at A is callback.
    // Ping proves the credentials with a call every account may make (whoami).
    let p = pair::ClonePair::new("managers = [\"local\"]", "");
    let a = p.a.json(["peer", "ping", "site-b"]);
    a.ok();
    assert_eq!(a.json()["site"], "site-b", "{a}");
    let b = p.b.json(["peer", "ping", "site-a"]);
    b.ok();
    assert_eq!(b.json()["site"], "site-a", "{b}");
    // Wrong credentials are still refused.
    let c = Site::named("site-c");
    let bad = c.tmp().join("bad-pw");
    write_secret(&bad, "not-the-password\n");
    let url = format!("http://{}", p.a_addr);
    c.run(["peer", "add", "site-a", "--url", &url, "--account", "site-b", "--password-file", bad.to_str().unwrap()])
        .ok();
    let refused = c.json(["peer", "ping", "site-a"]);
    assert_eq!(refused.error_code(), "peer_refused", "{refused}");
}
