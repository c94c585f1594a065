//! Accounts (who may call this site) and peers (whom this site calls) through the
//! CLI: passwords come only from a file, the environment or a terminal prompt, are
//! stored hashed (accounts) and never appear in any output or log.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use librarian_e2e::*;
use serde_json::Value;

const ALICE_PW: &str = "alice-Pa55word-7731";
const PEER_PW: &str = "peer-Secret-0042";
const CB_PW: &str = "callback-Secret-9913";

fn secret_file(site: &Site, name: &str, secret: &str) -> std::path::PathBuf {
    let p = site.tmp().join(name);
    write_secret(&p, &format!("{secret}\n"));
    p
}

/// Every output of `out` (text and JSON, stdout and stderr) is free of the secrets.
fn no_secrets(out: &Outcome) {
    for s in [ALICE_PW, PEER_PW, CB_PW] {
        assert!(!out.stdout.contains(s) && !out.stderr.contains(s), "a password leaked: {out}");
    }
    assert!(!out.stdout.contains("$argon2") && !out.stderr.contains("$argon2"), "a hash leaked: {out}");
}

fn run_traced(site: &Site, args: &[&str]) -> Outcome {
    run_outcome(site.cmd().env("LIBRARIAN_LOG", "trace").args(args))
}

#[test]
fn accounts_and_peers_round_trip_without_leaking_secrets() {
    let site = Site::new();
    let alice = secret_file(&site, "alice.pw", ALICE_PW);
    let peer_pw = secret_file(&site, "peer.pw", PEER_PW);
    let cb = secret_file(&site, "cb.pw", CB_PW);
    let mut seen = Vec::new();

    let add = run_traced(
        &site,
        &["--json", "account", "add", "alice", "--level", "read-append", "--password-file", alice.to_str().unwrap()],
    );
    add.ok();
    let a = add.json();
    assert_eq!(
        (a["name"].as_str(), a["level"].as_str(), &a["peer"]),
        (Some("alice"), Some("read-append"), &Value::Null)
    );
    assert!(a.get("password").is_none() && a.get("password_hash").is_none(), "{a}");
    seen.push(add);

    let peer = run_traced(
        &site,
        &[
            "--json",
            "peer",
            "add",
            "site-b",
            "--url",
            "https://b.example:8443/",
            "--account",
            "site-a",
            "--password-file",
            peer_pw.to_str().unwrap(),
        ],
    );
    peer.ok();
    let p = peer.json();
    assert_eq!(p["url"], "https://b.example:8443");
    assert_eq!(p["account"], "site-a");
    assert_eq!(p["transfers_enabled"], true);
    assert!(p.get("password").is_none(), "{p}");
    seen.push(peer);

    // A callback account needs its peer, given explicitly.
    let no_peer = run_traced(
        &site,
        &["--json", "account", "add", "cb", "--level", "callback", "--password-file", cb.to_str().unwrap()],
    );
    no_peer.expect_error(2, "invalid_argument");
    seen.push(no_peer);
    let unknown = run_traced(
        &site,
        &[
            "--json",
            "account",
            "add",
            "cb",
            "--level",
            "callback",
            "--for-peer",
            "nobody",
            "--password-file",
            cb.to_str().unwrap(),
        ],
    );
    unknown.expect_error(1, "not_found");
    seen.push(unknown);
    let cb_ok = run_traced(
        &site,
        &[
            "--json",
            "account",
            "add",
            "cb",
            "--level",
            "callback",
            "--for-peer",
            "site-b",
            "--password-file",
            cb.to_str().unwrap(),
        ],
    );
    cb_ok.ok();
    assert_eq!(cb_ok.json()["peer"], "site-b");
    seen.push(cb_ok);

    for args in [
        &["account", "list"][..],
        &["--json", "account", "list"],
        &["peer", "list"],
        &["--json", "peer", "list"],
        &["status"],
        &["--json", "status"],
    ] {
        let out = run_traced(&site, args);
        out.ok();
        seen.push(out);
    }
    let list = run_traced(&site, &["--json", "account", "list"]).json();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "cb"]);

    // A peer with accounts cannot go; disable/enable; then remove in order.
    let busy = run_traced(&site, &["--json", "peer", "remove", "site-b"]);
    let msg = busy.expect_error(2, "invalid_argument");
    assert!(msg.contains("cb"), "{busy}");
    seen.push(busy);
    let off = run_traced(&site, &["--json", "peer", "disable", "site-b"]);
    assert_eq!(off.json()["transfers_enabled"], false);
    seen.push(off);
    let text = run_traced(&site, &["peer", "list"]);
    assert!(text.stdout.contains("TRANSFERS DISABLED"), "{text}");
    seen.push(text);
    run_traced(&site, &["peer", "enable", "site-b"]).ok();
    run_traced(&site, &["account", "remove", "cb"]).ok();
    run_traced(&site, &["peer", "remove", "site-b"]).ok();
    let gone = run_traced(&site, &["--json", "peer", "remove", "site-b"]);
    gone.expect_error(1, "not_found");
    seen.push(gone);

    for out in &seen {
        no_secrets(out);
    }

    // The catalog keeps an argon2id hash, never the account password.
    let rows = sql::column(&site.db(), "SELECT password_hash FROM accounts WHERE name = 'alice'");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("$argon2id$"), "{rows:?}");
    assert!(!rows[0].contains(ALICE_PW));
}

#[test]
fn passwords_come_from_a_file_the_environment_or_a_terminal_never_argv() {
    let site = Site::new();
    // There is no --password flag at all.
    let argv = site.run(["account", "add", "x", "--level", "admin", "--password", "hunter2"]);
    argv.expect_code(2);

    // Not a terminal, no file, no environment: a usage error naming the ways.
    let none = run_outcome(
        site.cmd()
            .env_remove("LIBRARIAN_PASSWORD")
            .args(["--json", "account", "add", "x", "--level", "admin"])
            .stdin(Stdio::null()),
    );
    let msg = none.expect_error(2, "invalid_argument");
    assert!(msg.contains("--password-file") && msg.contains("LIBRARIAN_PASSWORD"), "{none}");

    let env = run_outcome(
        site.cmd().env("LIBRARIAN_PASSWORD", ALICE_PW).args(["--json", "account", "add", "x", "--level", "admin"]),
    );
    env.ok();
    no_secrets(&env);

    // Empty password file: refused, nothing added.
    let empty = site.tmp().join("empty.pw");
    write_secret(&empty, "\n");
    let bad = site.json(["account", "add", "y", "--level", "admin", "--password-file", empty.to_str().unwrap()]);
    bad.expect_error(2, "invalid_argument");
    let names: Vec<String> = site
        .json(["account", "list"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["x"]);

    // Bad levels, names and URLs are usage errors.
    site.run(["account", "add", "z", "--level", "root"]).expect_code(2);
    let pw = site.tmp().join("pw");
    write_secret(&pw, "pw\n");
    site.json(["account", "add", "bad name", "--level", "admin", "--password-file", pw.to_str().unwrap()])
        .expect_error(2, "invalid_argument");
    for url in ["ftp://b.example", "https://user:pw@b.example", "b.example:8443"] {
        site.json(["peer", "add", "b", "--url", url, "--account", "a", "--password-file", pw.to_str().unwrap()])
            .expect_error(2, "invalid_argument");
    }
}
