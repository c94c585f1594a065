//! Cloning between two real sites (`librarian serve` on loopback, `tasks run`
//! rounds): files and books reach B verified, A records remote instances, nothing is
//! left in staging, and the failure paths converge.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use librarian_e2e::pair::*;
use librarian_e2e::*;
use serde_json::Value;

fn files_at(site: &Site) -> usize {
    site.files().len()
}

fn assert_all_cloned(p: &ClonePair, expected: usize) {
    assert_eq!(files_at(&p.b), expected, "B holds every file");
    let verify = p.b.json(["verify"]);
    verify.ok();
    for f in p.a.files() {
        let remote = f["remote_instances"].as_array().unwrap();
        assert_eq!(remote.len(), 1, "A records one remote instance of {}: {f}", f["name"]);
        assert_eq!(remote[0]["librarian"], "site-b");
    }
    for site in [&p.a, &p.b] {
        assert!(
            no_files_under(&site.staging()),
            "staging leftovers at {}: {:?}",
            site.dir().display(),
            walk(&site.staging())
        );
        let out = ClonePair::transfers(site, None);
        assert!(out.iter().all(|t| t["status"] == "completed"), "{out:?}");
    }
}

#[test]
fn files_and_books_reach_b_verified_with_the_local_manager() {
    let p = ClonePair::new("managers = [\"local\"]\nbatch_files = 50", "");
    upload_files(&p.a, "run1", 60);
    upload_book(&p.a, "books/big", 300);
    upload_book(&p.a, "books/small", 3);
    let rounds = p.converge(6);
    assert!(rounds <= 3, "took {rounds} rounds");
    assert_all_cloned(&p, 62);
    let b_side = ClonePair::transfers(&p.b, Some("completed"));
    assert_eq!(b_side.len(), 62);
    assert!(b_side.iter().all(|t| t["direction"] == "incoming" && t["manager"] == "local"));
    // Nothing left to plan; another round sends nothing twice.
    p.round();
    assert_eq!(ClonePair::transfers(&p.a, None).len(), 62);
    // /metrics at A counts the completed transfers.
}

// ---------------------------------------------------------------------------------
// Helpers for the tests below.

/// The transfers of `site` about `file`.
fn of_file<'a>(transfers: &'a [Value], file: &str) -> Vec<&'a Value> {
    transfers.iter().filter(|t| t["file"] == file).collect()
}

/// Events at `site` (open ones, or all with `all`).
fn events(site: &Site, all: bool) -> Vec<Value> {
    let out = if all { site.json(["events", "list", "--all"]) } else { site.json(["events", "list"]) };
    out.ok();
    out.json().as_array().unwrap().clone()
}

/// The events of `category` (open ones, or all with `all`).
fn events_of(site: &Site, category: &str, all: bool) -> Vec<Value> {
    events(site, all).into_iter().filter(|e| e["category"] == category).collect()
}

/// One file's JSON (`info --json NAME`).
fn info(site: &Site, name: &str) -> Value {
    let out = site.json(["info", name]);
    out.ok();
    out.json()
}

/// An HTTP request to a site's shim, as `auth` (account, password), with an optional
/// `Idempotency-Key` and a JSON body (`None`: GET). Returns the status and the JSON
/// answer (`Null` when it is not JSON).
fn http(url: &str, auth: Option<(&str, &str)>, key: Option<&str>, body: Option<&str>) -> (u16, Value) {
    http_typed(url, auth, key, body, "application/json")
}

fn http_typed(
    url: &str,
    auth: Option<(&str, &str)>,
    key: Option<&str>,
    body: Option<&str>,
    content_type: &str,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let basic =
        auth.map(|(a, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{a}:{p}"))));
    let result = match body {
        None => {
            let mut req = agent.get(url);
            if let Some(b) = &basic {
                req = req.header("Authorization", b);
            }
            req.call()
        }
        Some(body) => {
            let mut req = agent.post(url).header("Content-Type", content_type);
            if let Some(b) = &basic {
                req = req.header("Authorization", b);
            }
            if let Some(k) = key {
                req = req.header("Idempotency-Key", k);
            }
            req.send(body.to_owned())
        }
    };
    let mut resp = result.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(64 << 20).read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn pw_file(site: &Site, name: &str, pw: &str) -> String {
    let p = site.tmp().join(name);
    write_secret(&p, &format!("{pw}\n"));
    p.to_str().unwrap().to_owned()
}

/// Add an account at `site` (`level`, tied to `peer` when given) with password `pw`.
fn add_account(site: &Site, name: &str, level: &str, peer: Option<&str>, pw: &str) {
    let file = pw_file(site, &format!("pw-{name}"), pw);
    let mut args = vec!["account", "add", name, "--level", level, "--password-file", &file];
    if let Some(p) = peer {
        args.extend(["--for-peer", p]);
    }
    site.run(args).ok();
}

/// Outgoing transfers at A and incoming ones at B that are not terminal.
fn active(site: &Site) -> Vec<Value> {
    ClonePair::transfers(site, None)
        .into_iter()
        .filter(|t| matches!(t["status"].as_str(), Some("initiated" | "ongoing" | "staged")))
        .collect()
}

/// Check the end state of a clone of `expected` files that went through failures:
/// B holds each of A's files once with A's checksum and verifies; A records one remote
/// instance at B for each; nothing is active or queued; B completed exactly one
/// incoming transfer per file and A exactly one outgoing transfer per file; no
/// staging leftovers (files) at either site.
fn assert_converged(p: &ClonePair, expected: usize) {
    let a_files = p.a.files();
    assert_eq!(a_files.len(), expected);
    let b_files = p.b.files();
    assert_eq!(b_files.len(), expected, "B holds every file, once");
    for f in &a_files {
        let name = f["name"].as_str().unwrap();
        let at_b: Vec<&Value> = b_files.iter().filter(|g| g["name"] == name).collect();
        assert_eq!(at_b.len(), 1, "{name} at B");
        assert_eq!((&at_b[0]["checksum"], &at_b[0]["size"]), (&f["checksum"], &f["size"]), "{name}");
        let remote = f["remote_instances"].as_array().unwrap();
        assert_eq!(remote.len(), 1, "A records one remote instance of {name}: {f}");
        assert_eq!(remote[0]["librarian"], "site-b");
    }
    let verify = p.b.json(["verify"]);
    verify.ok();
    assert_eq!(verify.json()["ok"], true, "{verify}");
    for (site, direction) in [(&p.a, "outgoing"), (&p.b, "incoming")] {
        let all = ClonePair::transfers(site, None);
        assert!(active(site).is_empty(), "active transfers at {direction} side: {:?}", active(site));
        assert!(all.iter().all(|t| t["direction"] == direction), "{all:?}");
        let completed: Vec<&Value> = all.iter().filter(|t| t["status"] == "completed").collect();
        let files: BTreeSet<&str> = completed.iter().map(|t| t["file"].as_str().unwrap()).collect();
        assert_eq!(
            (completed.len(), files.len()),
            (expected, expected),
            "one completed {direction} transfer per file, none twice"
        );
        assert_eq!(outbox_len(site), 0, "calls left in {}'s outbox", site.dir().display());
        assert!(no_files_under(&site.staging()), "staging leftovers: {:?}", walk(&site.staging()));
    }
}

// ---------------------------------------------------------------------------------
// 1. Acceptance volume.

fn volume_reaches_b(manager: &str) {
    let p = ClonePair::new(&format!("managers = [\"{manager}\"]\nbatch_files = 64"), "");
    upload_files(&p.a, "vol", 200);
    upload_book(&p.a, "books/b0", 1000);
    for i in 1..5 {
        upload_book(&p.a, &format!("books/b{i}"), 2 + 5 * i);
    }
    p.converge(80);
    assert_all_cloned(&p, 205);
    assert_converged(&p, 205);
    // Same bytes at B as at A, and the big book's 1,000 entries on B's disk.
    let a_files = p.a.files();
    let b_files = p.b.files();
    for f in &a_files {
        let g = b_files.iter().find(|g| g["name"] == f["name"]).unwrap();
        for field in ["checksum", "size", "kind", "uploader", "source"] {
            assert_eq!(f[field], g[field], "{field} of {}", f["name"]);
        }
    }
    let book = info(&p.b, "books/b0");
    let path = std::path::PathBuf::from(book["instances"][0]["path"].as_str().unwrap());
    assert_eq!(walk(&path).iter().filter(|p| p.is_file()).count(), 1000);
    // B received them with the manager asked for; A's transfers went in batches.
    let b_side = ClonePair::transfers(&p.b, None);
    assert!(b_side.iter().all(|t| t["manager"] == manager), "{:?}", b_side[0]);
    let a_side = ClonePair::transfers(&p.a, None);
    assert_eq!(a_side.len(), 205);
    assert!(a_side.iter().all(|t| t["manager"] == manager && t["batch"].is_i64()), "{:?}", a_side[0]);
    // Another round moves nothing.
    p.round();
    assert_eq!(ClonePair::transfers(&p.a, None).len(), 205);
    assert_eq!(ClonePair::transfers(&p.b, None).len(), 205);
}

#[test]
fn volume_of_files_and_books_reaches_b_with_the_local_manager() {
    volume_reaches_b("local");
}

#[test]
fn volume_of_files_and_books_reaches_b_with_the_rsync_manager() {
    if which("rsync").is_none() {
        skip("rsync is not installed: the rsync manager is not exercised");
        return;
    }
    volume_reaches_b("rsync");
}

// ---------------------------------------------------------------------------------
// 2. B down while A sends (and A down while B answers).

#[test]
fn b_down_while_a_sends_delays_but_loses_and_duplicates_nothing() {
    let mut p = ClonePair::new("managers = [\"local\"]\nbatch_files = 10", "");
    upload_files(&p.a, "run", 30);
    upload_book(&p.a, "books/down", 20);
    let total = 31;

    // B is down: A keeps running its tasks; offers fail, nothing crashes, nothing is
    // left half-done at A.
    drop(p.served_b.take());
    for _ in 0..3 {
        let out = ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]);
        assert_eq!(out.code(), Some(3), "B down: degraded, not failed: {out}");
        let v = out.json();
        assert_eq!((v[0]["task"].as_str(), v[0]["status"].as_str()), (Some("send-clones"), Some("degraded")), "{out}");
        assert!(v[0]["message"].as_str().unwrap().contains("skipped: site-b"), "{out}");
    }
    // Either A offers nothing to a peer that does not answer, or the offers fail
    // (and the files are planned again): nothing is left active.
    let a_side = ClonePair::transfers(&p.a, None);
    assert!(a_side.iter().all(|t| t["status"] == "failed" && t["error_code"] == "peer_unreachable"), "{a_side:?}");
    assert_eq!(outbox_len(&p.a), 0);
    assert_eq!(events_of(&p.a, "peer_unreachable", false).len(), 1);
    p.a.assert_consistent();
    assert!(ClonePair::transfers(&p.b, None).is_empty());

    // B is back for A's offer and copy; it goes down again before A tells it the data
    // is staged: the calls wait at A, the transfers stay staged, nothing is offered twice.
    p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    assert_eq!(ClonePair::transfers(&p.a, Some("staged")).len(), total);
    assert_eq!(outbox_len(&p.a), total);
    drop(p.served_b.take());
    for _ in 0..2 {
        ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).expect_code(3);
    }
    assert_eq!(outbox_len(&p.a), total, "nothing dropped while B is down");
    assert_eq!(ClonePair::transfers(&p.a, Some("staged")).len(), total);
    assert_eq!(ClonePair::transfers(&p.b, Some("initiated")).len(), total);
    ClonePair::tasks(&p.b, &["receive-clones", "deliver-outbox"]).ok();
    assert_eq!(p.b.files().len(), 0, "B commits nothing it was not told is staged");

    // B is back, A is down: A's calls arrive (after the operator skips the backoff),
    // B commits, and its `complete` calls wait for A.
    p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
    assert_eq!(p.a.json(["outbox", "retry", "--peer", "site-b"]).json()["rescheduled"], total);
    drop(p.served_a.take());
    ClonePair::tasks(&p.a, &["deliver-outbox"]).ok();
    assert_eq!(outbox_len(&p.a), 0);
    assert_eq!(ClonePair::transfers(&p.b, Some("staged")).len(), total);
    ClonePair::tasks(&p.b, &["receive-clones", "deliver-outbox"]).expect_code(3);
    assert_eq!(p.b.files().len(), total);
    assert_eq!(outbox_len(&p.b), total, "B's calls wait for A");
    let before = ClonePair::transfers(&p.a, None).len();
    ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok_or_degraded();
    assert_eq!(ClonePair::transfers(&p.a, None).len(), before, "nothing is offered twice");
    assert!(p.a.files().iter().all(|f| f["remote_instances"].as_array().unwrap().is_empty()));

    // A is back: everything converges.
    p.served_a = Some(Server::start_at(&p.a, &p.a_addr));
    p.b.json(["outbox", "retry"]).ok();
    p.converge(5);
    assert_converged(&p, total);
    let a_side = ClonePair::transfers(&p.a, None);
    assert!(a_side.iter().all(|t| t["status"] == "completed" || t["error_code"] == "peer_unreachable"), "{a_side:?}");
    assert_eq!(ClonePair::transfers(&p.b, None).len(), total, "B never accepted a file twice");
    assert!(events_of(&p.a, "peer_unreachable", false).is_empty(), "{:?}", events(&p.a, false));
    assert!(events_of(&p.b, "peer_unreachable", false).is_empty(), "{:?}", events(&p.b, false));
    p.b.assert_consistent();
}

// ---------------------------------------------------------------------------------
// 3. Staged data corrupted at B before it is received.

#[test]
fn corrupted_staged_data_fails_at_b_and_is_sent_again_intact() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    for i in 0..5 {
        let src = p.a.src(&format!("c{i}"));
        write_random(&src, 64 << 10, 100 + i);
        p.a.upload(&src, &format!("corrupt/f{i}"), &[]).ok();
    }
    upload_book(&p.a, "corrupt/book", 12);
    ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok();
    let staged = ClonePair::transfers(&p.b, Some("staged"));
    assert_eq!(staged.len(), 6);
    let staging_dirs: Vec<_> = list_dir(&p.b.staging())
        .into_iter()
        .filter(|d| d.file_name().unwrap().to_str().unwrap().starts_with("incoming-"))
        .collect();
    assert_eq!(staging_dirs.len(), 6, "{staging_dirs:?}");
    let dir_of = |file: &str| {
        let t = of_file(&staged, file)[0];
        std::path::PathBuf::from(t["local_path"].as_str().unwrap())
    };
    // One file and one entry of the book are damaged in B's staging area.
    let f2 = dir_of("corrupt/f2").join("data");
    assert!(staging_dirs.iter().any(|d| f2.starts_with(d)));
    flip_byte(&f2, 40_000);
    let entry = walk(&dir_of("corrupt/book").join("data")).into_iter().find(|p| p.is_file()).unwrap();
    flip_byte(&entry, 3);

    ClonePair::tasks(&p.b, &["receive-clones", "deliver-outbox"]).ok();
    let b_side = ClonePair::transfers(&p.b, None);
    for bad in ["corrupt/f2", "corrupt/book"] {
        let t = of_file(&b_side, bad);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0]["status"].as_str(), t[0]["error_code"].as_str()), (Some("failed"), Some("checksum_mismatch")));
        assert!(p.b.json(["info", bad]).code() != Some(0), "B did not catalogue the bad copy of {bad}");
        let ev: Vec<Value> = events_of(&p.b, "transfer_failed", false)
            .into_iter()
            .filter(|e| e["subject"].as_str().unwrap().ends_with(bad))
            .collect();
        assert_eq!(ev.len(), 1, "{:?}", events(&p.b, false));
        // The `fail` call reached A: its transfer failed; the file is planned again.
        let a_t = of_file(&ClonePair::transfers(&p.a, None), bad).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(a_t.len(), 1);
        assert_eq!(a_t[0]["status"], "failed", "{:?}", a_t[0]);
        assert!(info(&p.a, bad)["remote_instances"].as_array().unwrap().is_empty());
    }
    assert!(!f2.exists(), "the bad staged copy is removed");
    assert_eq!(p.b.files().len(), 4);
    let plan = p.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).json();
    let planned: BTreeSet<&str> =
        plan["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(planned, BTreeSet::from(["corrupt/f2", "corrupt/book"]));

    p.converge(5);
    // B now holds all six, intact; each bad file took two transfers on each side.
    let b_files = p.b.files();
    assert_eq!(b_files.len(), 6);
    let verify = p.b.json(["verify"]);
    verify.ok();
    for f in p.a.files() {
        let g = b_files.iter().find(|g| g["name"] == f["name"]).unwrap();
        assert_eq!(f["checksum"], g["checksum"]);
        assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "{f}");
    }
    for site in [&p.a, &p.b] {
        let all = ClonePair::transfers(site, None);
        assert_eq!(all.len(), 8, "{all:?}");
        assert_eq!(all.iter().filter(|t| t["status"] == "completed").count(), 6);
        assert_eq!(all.iter().filter(|t| t["status"] == "failed").count(), 2);
        assert!(no_files_under(&site.staging()), "{:?}", walk(&site.staging()));
    }
    p.b.assert_consistent();
}

// ---------------------------------------------------------------------------------
// 4. SIGKILL chaos.

#[test]
fn sigkilled_task_runs_at_random_moments_still_converge() {
    // Small batches and bounded runs, so that work is left for many runs and a kill
    // lands in the middle of some.
    let mut p = ClonePair::new("managers = [\"local\"]\nbatch_files = 6\nbatches_per_run = 2", "");
    append_config(&p.b, "[clone]\nreceive_per_run = 8");
    let mut rng = Rng::new(0x5EED_C10E);
    let big = 24;
    for i in 0..big {
        let src = p.a.src(&format!("k{i}"));
        write_random(&src, (1 << 20) + rng.below(3 << 20) as usize, 7000 + i as u64);
        p.a.upload(&src, &format!("chaos/f{i:02}"), &[]).ok();
    }
    upload_book(&p.a, "chaos/book", 200);
    upload_files(&p.a, "chaos/s", 120);
    let mut total = big + 1 + 120;

    let mut kills = 0;
    let mut server_kills = 0;
    let mut tries = 0;
    while kills < 24 && tries < 200 {
        tries += 1;
        if tries % 3 == 0 {
            // More work arrives at A while the chaos goes on.
            upload_files(&p.a, &format!("chaos/m{tries:03}"), 4);
            total += 4;
        }
        let action = rng.below(7);
        let (site, tasks): (&Site, &[&str]) = match action {
            0 | 6 => (&p.a, &["send-clones"]),
            1 => (&p.a, &["send-clones", "deliver-outbox"]),
            2 => (&p.b, &["receive-clones"]),
            3 => (&p.b, &["receive-clones", "deliver-outbox"]),
            4 => (&p.a, &["deliver-outbox"]),
            _ => (&p.b, &["deliver-outbox"]),
        };
        let mut cmd = site.cmd();
        cmd.args(["--json", "tasks", "run"]);
        for t in tasks {
            cmd.args(["--only", t]);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        if action == 6 {
            // B's server dies under A's offer or copy instead (SIGKILL), and comes back.
            drop(p.served_b.take());
            server_kills += 1;
            let status = child.wait().unwrap();
            assert!(status.code().is_some(), "{status:?}");
            p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
            continue;
        }
        match child.try_wait().unwrap() {
            Some(status) => assert!(status.code().is_some(), "{status:?}"),
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                // No lease clean-up here: the next run sees the killed run's lease
                // holder is gone and takes the lease over.
            }
        }
        if tries % 5 == 0 {
            p.a.json(["outbox", "retry"]).ok();
            p.b.json(["outbox", "retry"]).ok();
        }
    }
    assert!(kills >= 20, "only {kills} runs were killed mid-work in {tries} tries");
    eprintln!("{kills} task runs and {server_kills} servers killed in {tries} tries");

    // Clean rounds until nothing moves: the per-run bounds are lifted (so that it
    // takes a few rounds, not dozens), and each round starts with the product's
    // `reconcile-transfers` at both sites, with `stale_after` short enough that every
    // transfer a killed run left behind counts as stale.
    for (site, from, to) in [
        (&p.a, "batches_per_run = 2", "batches_per_run = 100\nstale_after = \"1s\""),
        (&p.b, "receive_per_run = 8", "receive_per_run = 10000\nstale_after = \"1s\""),
    ] {
        let config = std::fs::read_to_string(site.config()).unwrap();
        assert!(config.contains(from));
        std::fs::write(site.config(), config.replace(from, to)).unwrap();
    }
    p.a.json(["outbox", "retry"]).ok();
    p.b.json(["outbox", "retry"]).ok();
    let mut converged = false;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(1100));
        for site in [&p.a, &p.b] {
            let out = ClonePair::tasks(site, &["reconcile-transfers"]);
            out.ok();
            assert_eq!(out.json()[0]["status"], "ok", "{out}");
        }
        p.round();
        let planned =
            p.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).json()["files"].as_array().map_or(0, Vec::len);
        if active(&p.a).is_empty()
            && active(&p.b).is_empty()
            && outbox_len(&p.a) + outbox_len(&p.b) == 0
            && planned == 0
        {
            converged = true;
            break;
        }
    }
    let summary = |site: &Site| {
        active(site)
            .iter()
            .map(|t| {
                format!(
                    "  #{} {} {} remote_id={} batch={} updated_at={}\n",
                    t["id"], t["file"], t["status"], t["remote_id"], t["batch"], t["updated_at"]
                )
            })
            .collect::<String>()
    };
    assert!(
        converged,
        "no convergence after {kills} kills: transfers that no round moves any more\nat A:\n{}at B:\n{}A's outbox: {}, B's outbox: {}\nstill planned: {}",
        summary(&p.a),
        summary(&p.b),
        outbox_len(&p.a),
        outbox_len(&p.b),
        p.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).stdout
    );
    for site in [&p.a, &p.b] {
        ClonePair::tasks(site, &["cleanup-staging"]).ok();
    }
    assert_converged(&p, total);
    p.a.assert_consistent_after_kill();
    p.b.assert_consistent_after_kill();
}

// ---------------------------------------------------------------------------------
// 5. Replayed callbacks.

#[test]
fn replayed_complete_calls_change_nothing() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "replay", 8);
    upload_book(&p.a, "replay/book", 5);
    let total = 9;
    p.converge(5);
    assert_all_cloned(&p, total);
    let a_url = p.served_a.as_ref().unwrap().url.clone();
    let b_url = p.served_b.as_ref().unwrap().url.clone();
    let a_side = ClonePair::transfers(&p.a, None);
    assert_eq!(a_side.len(), total);

    // A remembers each `complete` it applied, by key; the answer names A's transfer.
    let rows = sql::rows(&p.a.db(), "SELECT call_key, response FROM received_calls WHERE kind = 'complete'");
    assert_eq!(rows.len(), total);
    let received_before = sql::count(&p.a.db(), "SELECT COUNT(*) FROM received_calls");
    for row in &rows {
        let [key, response] = row.as_slice() else { panic!("{row:?}") };
        let response: Value = serde_json::from_str(response).unwrap();
        let id = response["transfer_id"].as_i64().unwrap();
        let t = a_side.iter().find(|t| t["id"] == id).unwrap();
        let body = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"], "store": "main",
            "checksum": t["checksum"]
        })
        .to_string();
        let url = format!("{a_url}/api/v1/clone/complete");
        // The same key: answered as a replay, with the first answer.
        let (status, answer) = http(&url, Some(("site-b", B_AT_A)), Some(key.as_str()), Some(&body));
        assert_eq!((status, answer["replayed"].as_bool()), (200, Some(true)), "{answer}");
        assert_eq!((answer["transfer_id"].as_i64(), answer["status"].as_str()), (Some(id), Some("completed")));
        // A new key (a second `complete` for a completed transfer): a no-op success.
        let new_key = format!("replay-{id}");
        let (status, answer) = http(&url, Some(("site-b", B_AT_A)), Some(&new_key), Some(&body));
        assert_eq!((status, answer["replayed"].as_bool()), (200, Some(false)), "{answer}");
        assert_eq!(answer["status"], "completed");
        // Twice with that new key: a replay.
        let (status, answer) = http(&url, Some(("site-b", B_AT_A)), Some(&new_key), Some(&body));
        assert_eq!((status, answer["replayed"].as_bool()), (200, Some(true)), "{answer}");
        // A late `fail` cannot undo a completed transfer.
        let fail = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"], "reason": "late"
        })
        .to_string();
        let (status, answer) = http(
            &format!("{a_url}/api/v1/clone/fail"),
            Some(("site-b", B_AT_A)),
            Some(&format!("late-{id}")),
            Some(&fail),
        );
        assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("illegal_transition")), "{answer}");
        // A `complete` naming another transfer of B's is refused.
        let wrong = body.replace(&format!("\"peer_transfer_id\":{}", t["remote_id"]), "\"peer_transfer_id\":999999");
        assert_ne!(wrong, body);
        let (status, answer) = http(&url, Some(("site-b", B_AT_A)), Some(&format!("wrong-{id}")), Some(&wrong));
        assert_eq!(status, 400);
        // Plain values in the message, never Rust's `Some(5)`.
        let why = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(why.contains(&format!("belongs to site-b's transfer {}, not 999999", t["remote_id"])), "{answer}");
        assert!(!why.contains("Some("), "{answer}");
    }
    // B remembers A's `staged` calls the same way.
    let staged = sql::rows(&p.b.db(), "SELECT call_key, response FROM received_calls WHERE kind = 'staged'");
    assert_eq!(staged.len(), total);
    let b_side = ClonePair::transfers(&p.b, None);
    for row in &staged {
        let [key, response] = row.as_slice() else { panic!("{row:?}") };
        let id = serde_json::from_str::<Value>(response).unwrap()["transfer_id"].as_i64().unwrap();
        let t = b_side.iter().find(|t| t["id"] == id).unwrap();
        let body =
            serde_json::json!({ "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"] }).to_string();
        let url = format!("{b_url}/api/v1/clone/staged");
        let (status, answer) = http(&url, Some(("site-a", A_AT_B)), Some(key.as_str()), Some(&body));
        assert_eq!((status, answer["replayed"].as_bool()), (200, Some(true)), "{answer}");
        // A `staged` with a new key for a transfer B completed (a late call) cannot move
        // it back: it is acknowledged as a no-op (the transfers are compared below).
        let (status, answer) = http(&url, Some(("site-a", A_AT_B)), Some(&format!("again-{id}")), Some(&body));
        assert_eq!((status, answer["already_past"].as_bool()), (200, Some(true)), "{answer}");
        assert_eq!(answer["status"], "completed", "{answer}");
    }

    // Nothing changed: one remote instance per file, one completed transfer each.
    assert_all_cloned(&p, total);
    let after = ClonePair::transfers(&p.a, None);
    assert_eq!(after, a_side, "A's transfers are unchanged");
    assert_eq!(ClonePair::transfers(&p.b, None), b_side, "B's transfers are unchanged");
    let received_after = sql::count(&p.a.db(), "SELECT COUNT(*) FROM received_calls");
    assert_eq!(
        received_after,
        received_before + total as u64,
        "one new remembered call per new key, none for refused calls"
    );
    assert_eq!(sql::count(&p.a.db(), "SELECT COUNT(*) FROM remote_instances"), total as u64);
}

// ---------------------------------------------------------------------------------
// 6. The file is already at B: same checksum, or another one under the same name.

#[test]
fn a_file_b_already_holds_moves_no_data_and_a_conflict_is_never_offered_again() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let same = p.a.src("same");
    write_random(&same, 100_000, 1);
    p.a.upload(&same, "both/same", &[]).ok();
    let b_same = p.b.src("same");
    write_random(&b_same, 100_000, 1);
    p.b.upload(&b_same, "both/same", &[]).ok();
    let a_diff = p.a.src("diff");
    write_text(&a_diff, "A's bytes\n");
    p.a.upload(&a_diff, "both/diff", &[]).ok();
    let b_diff = p.b.src("diff");
    write_text(&b_diff, "B's bytes\n");
    p.b.upload(&b_diff, "both/diff", &[]).ok();
    upload_files(&p.a, "only-a", 2);
    let b_diff_before = info(&p.b, "both/diff");

    p.converge(5);
    let a_side = ClonePair::transfers(&p.a, None);
    let b_side = ClonePair::transfers(&p.b, None);
    // Same checksum: completed at A with no batch and no data; B has no transfer for it.
    let t = of_file(&a_side, "both/same");
    assert_eq!(t.len(), 1, "{a_side:?}");
    assert_eq!(t[0]["status"], "completed");
    assert!(t[0]["batch"].is_null(), "no data moved: {}", t[0]);
    assert!(of_file(&b_side, "both/same").is_empty(), "{b_side:?}");
    let remote = info(&p.a, "both/same")["remote_instances"].as_array().unwrap().clone();
    assert_eq!(remote.len(), 1);
    assert_eq!((remote[0]["librarian"].as_str(), remote[0]["store"].as_str()), (Some("site-b"), Some("main")));
    assert_eq!(info(&p.b, "both/same")["instances"].as_array().unwrap().len(), 1);

    // Other checksum: A's transfer failed as a conflict, an event on both sides, B's
    // file untouched, no remote instance at A.
    let t = of_file(&a_side, "both/diff");
    assert_eq!(t.len(), 1, "{a_side:?}");
    assert_eq!((t[0]["status"].as_str(), t[0]["error_code"].as_str()), (Some("failed"), Some("conflict")));
    assert!(of_file(&b_side, "both/diff").is_empty(), "{b_side:?}");
    for site in [&p.a, &p.b] {
        let ev = events_of(site, "conflict", false);
        assert_eq!(ev.len(), 1, "{:?}", events(site, true));
        assert_eq!(ev[0]["subject"], "both/diff");
    }
    assert_eq!(info(&p.b, "both/diff"), b_diff_before, "B's file is untouched");
    assert!(info(&p.a, "both/diff")["remote_instances"].as_array().unwrap().is_empty());
    p.b.json(["verify"]).ok();

    // The other files went normally; later rounds offer nothing again.
    for i in 0..2 {
        assert_eq!(of_file(&b_side, &format!("only-a/f{i:03}")).len(), 1);
    }
    assert_eq!(b_side.len(), 2);
    for _ in 0..3 {
        p.round();
    }
    assert_eq!(ClonePair::transfers(&p.a, None).len(), a_side.len(), "the conflict is not offered again");
    assert_eq!(ClonePair::transfers(&p.b, None).len(), 2);
    let plan = p.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).json();
    assert_eq!(plan["files"].as_array().unwrap().len(), 0, "{plan}");
    assert_eq!(events_of(&p.b, "conflict", false)[0]["count"], 1, "B was not asked again");
    p.a.assert_consistent();
    p.b.assert_consistent();
}

// ---------------------------------------------------------------------------------
// 7. Only the transfer's own peer (at a level allowed to) may act on it.

#[test]
fn another_peers_account_cannot_act_on_a_transfer() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "authz", 2);
    ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok();
    let a_url = p.served_a.as_ref().unwrap().url.clone();
    let staged = ClonePair::transfers(&p.a, None);
    assert_eq!(staged.len(), 2);
    assert!(staged.iter().all(|t| t["status"] == "staged"), "{staged:?}");

    // A third site C, a peer of A with its own callback account there.
    const C_AT_A: &str = "c-at-a-clone-secret";
    p.a.run([
        "peer",
        "add",
        "site-c",
        "--url",
        "http://127.0.0.1:9",
        "--account",
        "site-a",
        "--password-file",
        &pw_file(&p.a, "c-pw", "x"),
    ])
    .ok();
    add_account(&p.a, "site-c", "callback", Some("site-c"), C_AT_A);
    // More accounts at A: B's read-only account, B's read-append account, an admin of no peer.
    add_account(&p.a, "site-b-ro", "read-only", Some("site-b"), "ro-secret");
    add_account(&p.a, "site-b-rw", "read-append", Some("site-b"), "rw-secret");
    add_account(&p.a, "admin", "admin", None, "admin-secret");

    for t in &staged {
        let id = t["id"].as_i64().unwrap();
        let complete = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"], "store": "main",
            "checksum": t["checksum"]
        })
        .to_string();
        let fail = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"], "reason": "not yours"
        })
        .to_string();
        for (who, pw) in [("site-c", C_AT_A), ("site-b-ro", "ro-secret"), ("admin", "admin-secret")] {
            for (path, body) in [("complete", &complete), ("fail", &fail)] {
                let (status, answer) = http(
                    &format!("{a_url}/api/v1/clone/{path}"),
                    Some((who, pw)),
                    Some(&format!("{who}-{path}-{id}")),
                    Some(body),
                );
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (403, Some("forbidden")),
                    "{who} {path}: {answer}"
                );
            }
            let (status, answer) = http(&format!("{a_url}/api/v1/transfers/{id}"), Some((who, pw)), None, None);
            assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{who} GET: {answer}");
        }
        let (status, _) = http(&format!("{a_url}/api/v1/clone/complete"), None, Some("anon"), Some(&complete));
        assert_eq!(status, 401);
        let (status, _) =
            http(&format!("{a_url}/api/v1/clone/complete"), Some(("site-b", "wrong")), Some("k"), Some(&complete));
        assert_eq!(status, 401);
        // B's own callback account may read it.
        let (status, answer) = http(&format!("{a_url}/api/v1/transfers/{id}"), Some(("site-b", B_AT_A)), None, None);
        assert_eq!(
            (status, answer["id"].as_i64(), answer["status"].as_str()),
            (200, Some(id), Some("staged")),
            "{answer}"
        );
    }
    assert_eq!(ClonePair::transfers(&p.a, None), staged, "A's transfers are unchanged");
    assert!(p.a.files().iter().all(|f| f["remote_instances"].as_array().unwrap().is_empty()));
    assert_eq!(sql::count(&p.a.db(), "SELECT COUNT(*) FROM received_calls"), 0, "refused calls are not remembered");

    // The real flow still completes; then B's read-append account may repeat a
    // `complete` (a no-op), its read-only account still may not.
    p.converge(5);
    assert_all_cloned(&p, 2);
    let done = ClonePair::transfers(&p.a, None);
    for t in &done {
        let id = t["id"].as_i64().unwrap();
        let complete = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": t["remote_id"], "file": t["file"], "store": "main",
            "checksum": t["checksum"]
        })
        .to_string();
        let url = format!("{a_url}/api/v1/clone/complete");
        let (status, answer) = http(&url, Some(("site-b-rw", "rw-secret")), Some(&format!("rw-{id}")), Some(&complete));
        assert_eq!((status, answer["status"].as_str()), (200, Some("completed")), "{answer}");
        let (status, _) = http(&url, Some(("site-b-ro", "ro-secret")), Some(&format!("ro-{id}")), Some(&complete));
        assert_eq!(status, 403);
        let (status, _) = http(&url, Some(("site-c", C_AT_A)), Some(&format!("c-{id}")), Some(&complete));
        assert_eq!(status, 403);
    }
    assert_eq!(ClonePair::transfers(&p.a, None), done);
    assert_all_cloned(&p, 2);
}

// ---------------------------------------------------------------------------------
// 8. Bad input to `stage` at B.

#[test]
fn stage_refuses_bad_input_with_a_code() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let b_url = p.served_b.as_ref().unwrap().url.clone();
    let url = format!("{b_url}/api/v1/clone/stage");
    let a = Some(("site-a", A_AT_B));
    let checksum = format!("blake3:{}", "ab".repeat(32));
    let item = |id: i64, name: &str| {
        serde_json::json!({
            "transfer_id": id, "name": name, "size": 3, "checksum": checksum,
            "kind": "file", "uploader": "u", "source": "site-a"
        })
    };
    let request = |items: Vec<Value>| serde_json::json!({ "managers": ["local"], "items": items }).to_string();
    let good = request(vec![item(1, "ok/one")]);

    // Malformed or unexpected bodies: 400, nothing staged.
    let mut unknown_top: Value = serde_json::from_str(&good).unwrap();
    unknown_top["extra"] = Value::Bool(true);
    let mut unknown_item: Value = serde_json::from_str(&good).unwrap();
    unknown_item["items"][0]["extra"] = Value::from(1);
    let mut negative: Value = serde_json::from_str(&good).unwrap();
    negative["items"][0]["size"] = Value::from(-1);
    let mut missing: Value = serde_json::from_str(&good).unwrap();
    missing["items"][0].as_object_mut().unwrap().remove("checksum");
    for body in [
        "{not json".to_owned(),
        String::new(),
        "[]".to_owned(),
        r#"{"managers": ["local"]}"#.to_owned(),
        unknown_top.to_string(),
        unknown_item.to_string(),
        negative.to_string(),
        missing.to_string(),
    ] {
        let (status, answer) = http(&url, a, None, Some(&body));
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("bad_request")), "{body}: {answer}");
    }
    let (status, answer) = http_typed(&url, a, None, Some(&good), "text/plain");
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("bad_request")), "{answer}");
    let (status, _) = http(&url, a, None, None);
    assert_eq!(status, 405, "stage is POST only");

    // Too many items: more than 10,000 is refused whole; 10,000 is answered item by
    // item: the first `max_stage_items` (1000) are looked at (here all refused: their
    // names are invalid), the others refused as `too_many_items`.
    let tiny = |n: usize| {
        let one = r#"{"transfer_id":1,"name":"/","size":0,"checksum":"","kind":"","uploader":"","source":""}"#;
        format!(r#"{{"managers":["local"],"items":[{}]}}"#, vec![one; n].join(","))
    };
    let over = tiny(10_001);
    assert!(over.len() < 1 << 20, "the body stays under the server's size limit");
    let (status, answer) = http(&url, a, None, Some(&over));
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("bad_request")), "{answer}");
    let (status, answer) = http(&url, a, None, Some(&tiny(10_000)));
    assert_eq!(status, 200, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 10_000);
    assert!(items[..1000].iter().all(|i| i["result"] == "refused" && i["code"] == "invalid_name"), "{}", items[0]);
    assert!(items[1000..].iter().all(|i| i["result"] == "refused" && i["code"] == "too_many_items"), "{}", items[1000]);

    // Bad items are refused one by one with a code; good ones beside them are accepted.
    let bad_names = ["../escape", "/abs", "a//b", "a/./b", "a\\b", "", ".", "trailing/", "nul\0byte"];
    let mut items: Vec<Value> = bad_names.iter().enumerate().map(|(i, n)| item(100 + i as i64, n)).collect();
    items.push(item(200, "ok/two"));
    let mut bad_sum = item(201, "ok/bad-sum");
    bad_sum["checksum"] = Value::from("blake3:zz");
    items.push(bad_sum);
    let mut bad_kind = item(202, "ok/bad-kind");
    bad_kind["kind"] = Value::from("symlink");
    items.push(bad_kind);
    let (status, answer) = http(&url, a, None, Some(&request(items)));
    assert_eq!(status, 200, "{answer}");
    let results = answer["items"].as_array().unwrap();
    assert_eq!(results.len(), bad_names.len() + 3);
    for (i, name) in bad_names.iter().enumerate() {
        let r = &results[i];
        assert_eq!(
            (r["result"].as_str(), r["code"].as_str(), r["transfer_id"].as_i64()),
            (Some("refused"), Some("invalid_name"), Some(100 + i as i64)),
            "{name:?}: {r}"
        );
    }
    let n = bad_names.len();
    assert_eq!((results[n]["result"].as_str(), results[n]["transfer_id"].as_i64()), (Some("accepted"), Some(200)));
    assert_eq!(
        (results[n + 1]["result"].as_str(), results[n + 1]["code"].as_str()),
        (Some("refused"), Some("invalid_checksum"))
    );
    assert_eq!(results[n + 2]["result"], "refused", "{}", results[n + 2]);

    // Who may stage: only a peer's account at read-append or admin.
    add_account(&p.b, "nobody", "read-append", None, "nobody-secret");
    add_account(&p.b, "site-a-cb", "callback", Some("site-a"), "cb-secret");
    add_account(&p.b, "site-a-ro", "read-only", Some("site-a"), "ro-secret");
    for (who, pw) in [("nobody", "nobody-secret"), ("site-a-cb", "cb-secret"), ("site-a-ro", "ro-secret")] {
        let (status, answer) = http(&url, Some((who, pw)), None, Some(&good));
        assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{who}: {answer}");
    }
    let (status, _) = http(&url, None, None, Some(&good));
    assert_eq!(status, 401);
    let (status, _) = http(&url, Some(("site-a", "wrong")), None, Some(&good));
    assert_eq!(status, 401);

    // Only the one good item became an incoming transfer, with its staging directory.
    let b_side = ClonePair::transfers(&p.b, None);
    assert_eq!(b_side.len(), 1, "{b_side:?}");
    assert_eq!((b_side[0]["file"].as_str(), b_side[0]["status"].as_str()), (Some("ok/two"), Some("initiated")));
    let dirs = list_dir(&p.b.staging());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(p.b.files().is_empty());
}

#[test]
fn a_peer_with_transfers_on_record_is_refused_removal_naming_why_and_keeps_its_history() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "hist", 2);
    p.converge(5);
    // Its accounts go first (the existing rule), then the history blocks removal.
    p.a.run(["account", "remove", "site-b"]).ok();
    let out = p.a.json(["peer", "remove", "site-b"]);
    let msg = out.expect_error(2, "invalid_argument");
    assert!(msg.contains("2 transfer(s)") && msg.contains("peer disable site-b"), "{msg}");
    assert_eq!(ClonePair::transfers(&p.a, Some("completed")).len(), 2, "the history is kept");
    p.a.run(["peer", "disable", "site-b"]).ok();
    // A peer that never exchanged a file can still be removed.
    let pw = p.a.tmp().join("other-pw");
    write_secret(&pw, "x\n");
    p.a.run([
        "peer",
        "add",
        "site-c",
        "--url",
        "http://127.0.0.1:9",
        "--account",
        "a",
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .ok();
    p.a.run(["peer", "remove", "site-c"]).ok();
}

/// A receiver killed at each step of committing a staged transfer (through its fault
/// point, so every step is hit every run): the next rounds complete every transfer
/// once without sending any data again (the payload a dead run took out of the
/// peer-writable staging directory is found in `incoming-ID.taken`), B holds and
/// verifies every file, A records them, nothing is left over.
#[test]
fn a_receiver_killed_at_each_step_of_committing_converges() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["ingest.after-intent", "ingest.after-rename", "ingest.after-commit", "receive.after-ingest"] {
        let p = ClonePair::new("managers = [\"local\"]", "");
        upload_files(&p.a, "k", 3);
        upload_book(&p.a, "books/k", 4);
        ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]).ok();
        assert!(!ClonePair::transfers(&p.b, Some("staged")).is_empty(), "{point}: B has staged transfers");
        let killed = run_outcome(
            p.b.cmd().args(["--json", "tasks", "run", "--only", "receive-clones"]).env("LIBRARIAN_FAULT", point),
        );
        assert_eq!(killed.status.signal(), Some(libc::SIGKILL), "{point}: {killed}");
        p.converge(8);
        assert_converged(&p, 4);
        // The data that had arrived was committed, not thrown away and sent again.
        let at_b = ClonePair::transfers(&p.b, None);
        assert_eq!(at_b.len(), 4, "{point}: B failed and re-received a transfer: {at_b:?}");
    }
}

// ---------------------------------------------------------------------------------
// 9. Times and filters (issue 11).

fn ts(v: &Value) -> jiff::Timestamp {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Issue 11, bug 7: a file keeps its creation time at its origin when it is cloned;
/// the time it arrived is kept apart (`arrived_at`), so `search --since` at B means
/// the same as at A.
#[test]
fn creation_time_travels_with_the_file_and_arrival_is_kept_apart() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "times", 2);
    // B receives them more than a second after they were created at A.
    std::thread::sleep(Duration::from_millis(1200));
    p.converge(5);
    let mut latest = jiff::Timestamp::UNIX_EPOCH;
    for name in ["times/f000", "times/f001"] {
        let at_a = info(&p.a, name);
        let at_b = info(&p.b, name);
        assert_eq!(at_a["arrived_at"], at_a["created_at"], "a local upload arrives when it is created: {at_a}");
        assert_eq!(at_b["created_at"], at_a["created_at"], "B keeps A's creation time: {at_b}");
        let (created, arrived) = (ts(&at_b["created_at"]), ts(&at_b["arrived_at"]));
        assert!(arrived.duration_since(created).as_secs_f64() >= 1.2, "arrived_at is B's arrival: {at_b}");
        latest = latest.max(created);
    }
    // Searching by time at B finds the files by when they were created, not arrived.
    let since = |t: jiff::Timestamp| {
        let out = p.b.json(["search", "--since", &t.to_string()]);
        out.ok();
        out.json().as_array().unwrap().len()
    };
    assert_eq!(since(latest), 1);
    assert_eq!(since(latest + jiff::SignedDuration::from_millis(500)), 0, "nothing was created after that");
}

/// Issue 11, bug 8: `status` counts as waiting for a peer only the files the
/// `[clone.to.PEER]` filters let planning send; a filtered-out file is not a backlog
/// that never drains.
#[test]
fn status_backlog_counts_only_what_the_peer_filters_let_through() {
    let p = ClonePair::new("managers = [\"local\"]", "prefix = \"sent/\"\nstore = \"main\"");
    upload_files(&p.a, "sent", 3);
    upload_files(&p.a, "kept", 1);
    let other = p.a.tmp().join("other-store");
    p.a.run(["store", "add", "other", "--root", other.to_str().unwrap()]).ok();
    let src = p.a.src("elsewhere");
    write_text(&src, "on another store\n");
    p.a.upload(&src, "sent/elsewhere", &["--store", "other"]).ok();
    let backlog = |site: &Site| {
        let out = site.json(["status"]);
        out.ok();
        let peer = out.json()["peers"][0].clone();
        assert_eq!(peer["peer"], "site-b", "{out}");
        (peer["files_without_copy"].as_u64().unwrap(), peer["files_with_copy"].as_u64().unwrap())
    };
    assert_eq!(backlog(&p.a), (3, 0), "only sent/ files on store main would be sent");
    p.converge(5);
    assert_eq!(files_at(&p.b), 3);
    assert_eq!(backlog(&p.a), (0, 3), "everything eligible was sent: no backlog left");
    let text = p.a.run(["status"]);
    text.ok();
    assert!(text.stdout.contains("without a copy there: 0 files"), "{text}");
}

/// `clone remote --dry-run` needs no `--to` (docs/cloning.md): it plans the next
/// batch for every `[clone.to.*]` peer, skips a disabled one, and calls nobody (the
/// peer here listens nowhere).
#[test]
fn a_dry_run_without_to_plans_for_every_configured_peer() {
    let a = Site::named("site-a");
    let root = a.tmp().join("out");
    append_config(
        &a,
        &format!(
            "[clone]\nmanagers = [\"local\"]\n[clone.to.site-b]\ndestination_root = {root:?}\n\
             [clone.to.site-c]\ndestination_root = {root:?}\nprefix = \"c/\"\n"
        ),
    );
    let pw = a.tmp().join("pw");
    write_secret(&pw, "x\n");
    for peer in ["site-b", "site-c"] {
        let url = format!("http://{}", free_loopback_addr());
        a.run(["peer", "add", peer, "--url", &url, "--account", "a", "--password-file", pw.to_str().unwrap()]).ok();
    }
    upload_files(&a, "b", 2);
    upload_files(&a, "c", 1);
    let plan = a.json(["clone", "remote", "--dry-run"]);
    plan.ok();
    let plan = plan.json();
    let planned: BTreeSet<(String, String)> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["peer"].as_str().unwrap().to_owned(), f["name"].as_str().unwrap().to_owned()))
        .collect();
    let want: BTreeSet<(String, String)> =
        [("site-b", "b/f000"), ("site-b", "b/f001"), ("site-b", "c/f000"), ("site-c", "c/f000")]
            .iter()
            .map(|(p, n)| ((*p).to_owned(), (*n).to_owned()))
            .collect();
    assert_eq!(planned, want, "{plan}");
    assert_eq!(plan["skipped_peers"], serde_json::json!([]), "{plan}");
    // Human output names the peer of each line.
    let human = a.run(["clone", "remote", "--dry-run"]);
    human.ok();
    assert!(human.stdout.lines().any(|l| l.starts_with("site-c  c/f000")), "{human}");
    // --to still narrows it.
    let only = a.json(["clone", "remote", "--dry-run", "--to", "site-c"]).json();
    assert_eq!(only["files"].as_array().map(Vec::len), Some(1), "{only}");
    // A disabled peer gets nothing this round: said, not planned.
    a.run(["peer", "disable", "site-b"]).ok();
    let plan = a.json(["clone", "remote", "--dry-run"]).json();
    assert!(plan["files"].as_array().unwrap().iter().all(|f| f["peer"] == "site-c"), "{plan}");
    assert_eq!(plan["skipped_peers"], serde_json::json!(["site-b"]), "{plan}");
    // Nothing changed.
    assert!(ClonePair::transfers(&a, None).is_empty());
    assert!(outbox_len(&a) == 0);
    a.json(["clone", "remote", "--dry-run", "--to", "nope"]).expect_error(1, "not_found");
}
