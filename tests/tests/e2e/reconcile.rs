//! Reconciliation between two real sites: transfers stuck because a call was lost
//! converge by asking the other side (`reconcile-transfers`).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use librarian_e2e::pair::*;
use librarian_e2e::*;

fn statuses(site: &Site) -> Vec<String> {
    let mut s: Vec<String> =
        ClonePair::transfers(site, None).iter().map(|t| t["status"].as_str().unwrap().to_owned()).collect();
    s.sort();
    s
}

fn reconcile(site: &Site) -> String {
    let out = ClonePair::tasks(site, &["reconcile-transfers"]);
    out.ok();
    out.json()[0]["message"].as_str().unwrap().to_owned()
}

#[test]
fn a_lost_staged_call_is_sent_again_and_the_clone_completes() {
    let p = ClonePair::new("managers = [\"local\"]\nstale_after = \"1s\"", "");
    upload_files(&p.a, "lost", 3);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    assert_eq!(statuses(&p.a), ["staged"; 3]);
    // The `staged` calls are lost (an operator deleted them, a disk was restored...).
    sql::write(&p.a.db(), "DELETE FROM outbox");
    // Before the threshold nothing is stale.
    assert!(reconcile(&p.a).contains("examined 0"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let msg = reconcile(&p.a);
    assert!(msg.contains("examined 3") && msg.contains("resumed 3"), "{msg}");
    assert_eq!(outbox_len(&p.a), 3, "the staged calls are queued again");
    p.converge(4);
    assert_eq!(statuses(&p.a), ["completed"; 3]);
    assert_eq!(statuses(&p.b), ["completed"; 3]);
    assert!(p.a.files().iter().all(|f| f["remote_instances"].as_array().unwrap().len() == 1));
}

#[test]
fn a_transfer_the_other_side_forgot_fails_and_is_planned_again() {
    let p = ClonePair::new("managers = [\"local\"]\nstale_after = \"1s\"", "");
    upload_files(&p.a, "gone", 2);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    // B loses its incoming transfers (say, a restored backup of its catalog).
    sql::write(&p.b.db(), "DELETE FROM transfers");
    sql::write(&p.a.db(), "DELETE FROM outbox");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let msg = reconcile(&p.a);
    assert!(msg.contains("failed 2"), "{msg}");
    assert_eq!(statuses(&p.a), ["failed"; 2]);
    // Why, in plain words (not Rust's debug text of the answer).
    for t in ClonePair::transfers(&p.a, Some("failed")) {
        assert_eq!(t["error"], "reconciliation: site-b has no such transfer", "{t}");
    }
    let human = p.a.run(["transfers", "list", "--status", "failed"]);
    human.ok();
    assert!(human.stdout.contains("(reconciliation: site-b has no such transfer)"), "{human}");
    // B's view: an unreachable peer is skipped, not failed.
    let b_served = p.served_b.as_ref().map(|s| s.url.clone());
    assert!(b_served.is_some());
    // The files are planned again and arrive.
    p.converge(4);
    let done: Vec<String> = statuses(&p.a).into_iter().filter(|s| s == "completed").collect();
    assert_eq!(done.len(), 2);
    assert_eq!(p.b.files().len(), 2);
}

#[test]
fn an_unreachable_peer_is_skipped_not_failed() {
    let mut p = ClonePair::new("managers = [\"local\"]\nstale_after = \"1s\"", "");
    upload_files(&p.a, "wait", 2);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    drop(p.served_b.take());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Not failed: degraded (exit 3), naming the peer it could not ask.
    let out = ClonePair::tasks(&p.a, &["reconcile-transfers"]);
    out.expect_code(3);
    let msg = out.json()[0]["message"].as_str().unwrap().to_owned();
    assert_eq!(out.json()[0]["status"], "degraded", "{out}");
    assert!(msg.contains("unchanged 2") && msg.contains("failed 0") && msg.contains("site-b"), "{msg}");
    assert_eq!(statuses(&p.a), ["staged"; 2]);
    // `status` shows what waits for the peer.
    let status = p.a.json(["status"]);
    status.ok();
    let peer = &status.json()["peers"][0];
    assert_eq!(peer["peer"], "site-b", "{status}");
    assert_eq!(
        (peer["files_without_copy"].as_u64(), peer["active_transfers"].as_u64()),
        (Some(2), Some(2)),
        "{status}"
    );
    assert_eq!((peer["sending"].as_bool(), peer["queued_calls"].as_u64()), (Some(true), Some(2)), "{status}");
    assert!(peer["bytes_without_copy"].as_u64().unwrap() > 0);
}

#[test]
fn a_drive_in_transit_is_never_failed_for_being_slow_and_a_lost_complete_is_found() {
    let p = ClonePair::new("managers = [\"local\"]\nstale_after = \"1s\"", "");
    let drive = p.a.tmp().join("drive1");
    p.a.run(["store", "add", "drive1", "--root", drive.to_str().unwrap()]).ok();
    for i in 0..2 {
        let src = p.a.src(&format!("d{i}"));
        std::fs::write(&src, format!("on the drive {i}\n")).unwrap();
        p.a.upload(&src, &format!("drive/f{i}"), &["--store", "drive1"]).ok();
    }
    p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]).ok();
    assert_eq!(statuses(&p.a), ["ongoing"; 2]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let msg = reconcile(&p.a);
    assert!(msg.contains("examined 2") && msg.contains("unchanged 2"), "{msg}");
    assert_eq!(statuses(&p.a), ["ongoing"; 2], "weeks on a truck are not a failure");
    // B imports, but its `complete` calls are lost.
    p.b.json(["sneakernet", "import", drive.to_str().unwrap()]).ok();
    sql::write(&p.b.db(), "DELETE FROM outbox");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let msg = reconcile(&p.a);
    assert!(msg.contains("completed 2"), "{msg}");
    assert_eq!(statuses(&p.a), ["completed"; 2]);
    for i in 0..2 {
        let f = p.a.json(["info", &format!("drive/f{i}")]).json();
        assert_eq!(f["remote_instances"][0]["librarian"], "site-b", "{f}");
        assert_eq!(f["instances"][0]["available"], false, "the drive copy is retired: {f}");
    }
    let events = p.a.json(["events", "list"]).json();
    assert!(
        events.as_array().unwrap().iter().any(|e| e["category"] == "drive_done" && e["subject"] == "drive1"),
        "{events}"
    );

    // The drive is done: recycle it for the next round (its delivered copies and
    // manifest deleted, the store enabled again), or remove it from the catalog.
    let main_copy = p.a.src("m");
    std::fs::write(&main_copy, "stays on main\n").unwrap();
    p.a.upload(&main_copy, "main/only", &[]).ok();
    let recycled = p.a.json(["store", "recycle", "drive1"]);
    recycled.ok();
    assert_eq!(recycled.json()["copies_deleted"], 2, "{recycled}");
    // Nothing is left: no data, no manifest, and no directory the data needed (the
    // store's root stays, empty, for the next round).
    assert!(walk(&drive).is_empty(), "data, manifest or empty directories left on the drive: {:?}", walk(&drive));
    assert!(drive.is_dir(), "the store's root was removed");
    let stores = p.a.json(["store", "list"]).json();
    let d = stores.as_array().unwrap().iter().find(|s| s["name"] == "drive1").unwrap().clone();
    assert_eq!((d["enabled"].as_bool(), d["files"].as_u64()), (Some(true), Some(0)), "{d}");
    for i in 0..2 {
        let f = p.a.json(["info", &format!("drive/f{i}")]).json();
        let inst = f["instances"].as_array().unwrap();
        assert_eq!((inst.len(), inst[0]["available"].as_bool()), (1, Some(false)), "a record, unavailable: {f}");
        assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "the copy at B stays known: {f}");
    }
    // Filling the recycled drive again does not copy what it already carried.
    let refill = p.a.json(["clone", "local", "--from", "main", "--to", "drive1"]);
    refill.ok();
    assert_eq!(refill.json()["copied"], 1, "only main/only, never the delivered files: {refill}");
    // A store holding available copies is neither recycled nor removed.
    p.a.run(["store", "add", "drive2", "--root", p.a.tmp().join("drive2").to_str().unwrap()]).ok();
    p.a.upload(&main_copy, "main/other", &["--store", "drive2"]).ok();
    let refused = p.a.json(["store", "remove", "drive2"]);
    assert!(refused.expect_error(2, "invalid_argument").contains("available"), "{refused}");
    p.a.json(["store", "recycle", "drive2"]).expect_error(2, "invalid_argument");
    assert!(p.a.tmp().join("drive2/main/other").exists(), "nothing was deleted");
    p.a.json(["store", "remove", "drive1"]).expect_error(2, "invalid_argument");
    // An empty store is removed; its directory stays.
    let spare = p.a.tmp().join("spare");
    p.a.run(["store", "add", "spare", "--root", spare.to_str().unwrap()]).ok();
    p.a.json(["store", "remove", "spare"]).ok();
    assert!(!p.a.json(["store", "list"]).stdout.contains("\"spare\""));
    assert!(spare.is_dir());
    p.a.json(["store", "remove", "spare"]).expect_error(1, "not_found");
}

#[test]
fn an_operator_cancels_a_transfer_and_the_peer_is_told() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "cancel", 2);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    let staged = ClonePair::transfers(&p.a, Some("staged"));
    assert_eq!(staged.len(), 2);
    let victim = staged.iter().find(|t| t["file"] == "cancel/f000").unwrap();
    let id = victim["id"].as_i64().unwrap().to_string();
    let out = p.a.json(["transfers", "cancel", &id]);
    out.ok();
    assert_eq!(
        (out.json()["status"].as_str(), out.json()["error_code"].as_str()),
        (Some("cancelled"), Some("cancelled"))
    );
    // Cancelling again changes nothing (idempotent); an unknown transfer is not found.
    let again = p.a.json(["transfers", "cancel", &id]);
    again.ok();
    assert_eq!(again.json()["status"], "cancelled");
    assert_eq!(outbox_len(&p.a), 3, "two staged calls and one fail call, not two fails");
    p.a.json(["transfers", "cancel", "999999"]).expect_error(1, "not_found");
    // B hears of it: its incoming transfer fails and its staged data goes.
    ClonePair::tasks(&p.a, &["deliver-outbox"]).ok();
    let at_b = ClonePair::transfers(&p.b, None);
    let b_victim = at_b.iter().find(|t| t["file"] == "cancel/f000").unwrap();
    assert_eq!(b_victim["status"], "failed", "{at_b:?}");
    assert!(!std::path::Path::new(b_victim["local_path"].as_str().unwrap()).exists());
    // The other file completes; the cancelled one is planned again and arrives.
    p.converge(4);
    assert_eq!(p.b.files().len(), 2);
    let a_final = ClonePair::transfers(&p.a, None);
    let mut s: Vec<&str> = a_final.iter().map(|t| t["status"].as_str().unwrap()).collect();
    s.sort();
    assert_eq!(s, ["cancelled", "completed", "completed"], "{a_final:?}");
    // A transfer that ended otherwise cannot be cancelled.
    let done = a_final.iter().find(|t| t["status"] == "completed").unwrap()["id"].as_i64().unwrap().to_string();
    p.a.json(["transfers", "cancel", &done]).expect_error(1, "illegal_transition");
}

#[test]
fn a_file_already_on_its_way_by_the_network_rides_the_drive_without_a_transfer() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "both", 2);
    let drive = p.a.tmp().join("drive1");
    p.a.run(["store", "add", "drive1", "--root", drive.to_str().unwrap(), "--no-ingest"]).ok();
    p.a.json(["clone", "local", "--from", "main", "--to", "drive1"]).ok();
    // Both files are offered by the network and staged at B (not yet complete).
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    assert_eq!(statuses(&p.a), ["staged"; 2]);
    let out = p.a.json(["sneakernet", "export", "--store", "drive1", "--to", "site-b"]);
    out.ok();
    let r = out.json();
    assert_eq!(r["skipped"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(r["files"].as_array().unwrap().len(), 2, "still on the drive and in the manifest: {out}");
    // The drive checks out whole; the manifest names no transfer for them.
    run_outcome(bare_librarian().args(["sneakernet", "verify"]).arg(&drive)).ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(drive.join(".librarian-manifest.json")).unwrap()).unwrap();
    assert!(manifest["files"].as_array().unwrap().iter().all(|f| f["transfer_id"].is_null()), "{manifest}");
    assert_eq!(statuses(&p.a), ["staged"; 2], "no sneakernet transfer was added");
    // B imports the drive (already present or new), twice: no callbacks, no transfer rows.
    for _ in 0..2 {
        let imp = p.b.json(["sneakernet", "import", drive.to_str().unwrap()]);
        imp.ok();
        assert_eq!(imp.json()["callbacks_queued"], 0, "{imp}");
    }
    p.converge(4);
    assert_eq!(p.b.files().len(), 2);
}

#[test]
fn a_late_staged_call_after_reconciliation_is_acknowledged_not_an_error() {
    // B reconciles and commits before A's `staged` calls arrive; when they do, both
    // sides have converged: the calls are acknowledged, and no error is raised.
    let p = ClonePair::new("managers = [\"local\"]", "");
    append_config(&p.b, "[clone]\nstale_after = \"1s\"");
    upload_files(&p.a, "late", 2);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    assert_eq!(statuses(&p.a), ["staged"; 2]);
    assert_eq!(outbox_len(&p.a), 2, "A's staged calls wait in its outbox");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let msg = reconcile(&p.b);
    assert!(msg.contains("resumed 2"), "{msg}");
    ClonePair::tasks(&p.b, &["receive-clones"]).ok();
    assert_eq!(statuses(&p.b), ["completed"; 2]);
    // Now A's late calls arrive.
    ClonePair::tasks(&p.a, &["deliver-outbox"]).ok();
    assert_eq!(outbox_len(&p.a), 0, "acknowledged, not kept or dropped as refused");
    let events = p.a.json(["events", "list"]);
    events.ok();
    assert!(!events.stdout.contains("call_refused"), "a false error was raised: {}", events.stdout);
    p.converge(3);
    assert_eq!(statuses(&p.a), ["completed"; 2]);
}
