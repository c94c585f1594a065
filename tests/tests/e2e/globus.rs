//! Cloning through the Globus manager (issue 12): two real sites, a real fake Globus
//! process (`fake-globus`) that really copies between the directories behind its
//! collections, and the crash, failure and outage cases. The fake's request log
//! proves there is exactly one Globus task per batch in every crash case.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use librarian_e2e::globus::{CLIENT_SECRET, GlobusPair};
use librarian_e2e::pair::{ClonePair, outbox_len, upload_book, upload_files};
use librarian_e2e::{Outcome, Site, run_outcome, walk};
use serde_json::{Value, json};

/// Rounds (A sends, B receives, both deliver) until everything A holds is at B, or
/// panic after `limit`. Unlike `ClonePair::converge` it waits between rounds: the
/// fake copies in the background.
fn converge(g: &GlobusPair, limit: Duration) -> Vec<Outcome> {
    let p = &g.pair;
    let started = Instant::now();
    let mut outs = Vec::new();
    loop {
        outs.push(ClonePair::tasks(&p.a, &["send-clones", "deliver-outbox"]));
        outs.push(ClonePair::tasks(&p.b, &["receive-clones", "deliver-outbox"]));
        let active = ClonePair::transfers(&p.a, None)
            .iter()
            .chain(ClonePair::transfers(&p.b, None).iter())
            .filter(|t| matches!(t["status"].as_str(), Some("initiated" | "ongoing" | "staged")))
            .count();
        let planned =
            p.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).json()["files"].as_array().map_or(0, Vec::len);
        if active == 0 && planned == 0 && outbox_len(&p.a) + outbox_len(&p.b) == 0 {
            return outs;
        }
        assert!(
            started.elapsed() < limit,
            "no convergence in {limit:?}\nA transfers {:?}\nB transfers {:?}\nA events {}\nfake tasks {:?}",
            ClonePair::transfers(&p.a, None),
            ClonePair::transfers(&p.b, None),
            p.a.json(["events", "list"]).stdout,
            g.fake.tasks(),
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// B holds every file of A, once, verified; A records the copies.
fn assert_all_at_b(p: &ClonePair, expected: usize) {
    let a_files = p.a.files();
    assert_eq!(a_files.len(), expected);
    let b_files = p.b.files();
    assert_eq!(b_files.len(), expected, "B holds every file, once");
    for f in &a_files {
        let at_b: Vec<&Value> = b_files.iter().filter(|g| g["name"] == f["name"]).collect();
        assert_eq!(at_b.len(), 1, "{} at B", f["name"]);
        assert_eq!((&at_b[0]["checksum"], &at_b[0]["size"]), (&f["checksum"], &f["size"]));
        assert_eq!(f["remote_instances"][0]["librarian"], "site-b", "A records B's copy: {f}");
    }
    let verify = p.b.json(["verify"]);
    verify.ok();
    assert_eq!(verify.json()["ok"], true, "{verify}");
    p.b.assert_consistent();
    assert!(walk(&p.b.staging()).iter().all(|x| x.is_dir()), "staging leftovers at B: {:?}", walk(&p.b.staging()));
}

/// The number of distinct tasks the fake holds, and that no submission id made two.
fn tasks_by_submission(g: &GlobusPair) -> usize {
    let tasks = g.fake.tasks();
    let subs: BTreeSet<&str> = tasks.iter().map(|t| t["submission_id"].as_str().expect("submission_id")).collect();
    assert_eq!(subs.len(), tasks.len(), "one task per submission id: {tasks:?}");
    tasks.len()
}

/// Nothing this test ran printed or stored the client secret or a token.
fn assert_no_secret(g: &GlobusPair, outs: &[Outcome]) {
    let tokens: Vec<String> = g
        .fake
        .log()
        .iter()
        .filter_map(|r| r["authorization"].as_str().and_then(|a| a.strip_prefix("Bearer ")).map(str::to_owned))
        .collect();
    assert!(!tokens.is_empty(), "the sites used tokens");
    let mut texts: Vec<String> = outs.iter().map(|o| format!("{}\n{}", o.stdout, o.stderr)).collect();
    for site in [&g.pair.a, &g.pair.b] {
        texts.push(site.json(["events", "list", "--all"]).stdout);
        texts.push(site.json(["transfers", "list"]).stdout);
        let status = site.run(["-vv", "status"]);
        texts.push(format!("{}\n{}", status.stdout, status.stderr));
        texts.push(std::fs::read_to_string(site.config()).expect("config"));
    }
    if let Some(s) = &g.pair.served_a {
        texts.push(
            ureq::get(&format!("{}/metrics", s.url))
                .call()
                .map_or(String::new(), |mut r| r.body_mut().read_to_string().unwrap_or_default()),
        );
    }
    for t in &texts {
        assert!(!t.contains(CLIENT_SECRET), "the client secret leaked: {t}");
        for tok in &tokens {
            assert!(!t.contains(tok.as_str()), "a token leaked: {t}");
        }
    }
    // Only the token endpoint ever sees the secret (in HTTP Basic), never Transfer.
    for r in g.fake.log() {
        if r["path"].as_str().is_some_and(|p| p.starts_with("/v0.10")) {
            assert!(r["authorization"].as_str().is_some_and(|a| a.starts_with("Bearer ")), "Bearer on {r}");
            assert!(!r.to_string().contains(CLIENT_SECRET), "the secret went to Transfer: {r}");
        }
    }
}

/// Names with spaces and non-ASCII letters.
fn upload_awkward(site: &Site) {
    for name in ["obs 2026/größe à.dat", "obs 2026/x y z.fits"] {
        let src = site.src(name);
        std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
        std::fs::write(&src, format!("{name}\n").repeat(100)).expect("write");
        site.upload(&src, name, &[]).ok();
    }
    let book = site.src("books/raum à/b1");
    std::fs::create_dir_all(book.join("sub dir")).expect("mkdir");
    std::fs::write(book.join("sub dir/é 1"), b"entry one").expect("write");
    std::fs::write(book.join("two"), b"entry two").expect("write");
    site.upload(&book, "books/raum à/b1", &[]).ok();
}

#[test]
fn files_and_books_clone_through_globus_with_one_task_per_batch_and_no_secret_shown() {
    let g = GlobusPair::new("batch_files = 4", "");
    let p = &g.pair;
    upload_files(&p.a, "g", 5);
    upload_book(&p.a, "books/g", 12);
    upload_awkward(&p.a);
    let status = p.a.json(["status"]);
    status.ok();
    assert_eq!(status.json()["globus"]["ok"], true, "{status}");
    let ping = p.a.run(["peer", "ping", "site-b"]);
    ping.ok();
    assert!(ping.stdout.contains("globus: credentials work"), "{ping}");
    assert_eq!(status.json()["globus"]["state"], "ok", "{status}");
    let outs = converge(&g, Duration::from_secs(90));
    assert_all_at_b(p, 9);
    // 9 files in batches of at most 4: three batches, three tasks, each submitted once.
    assert_eq!(tasks_by_submission(&g), 3);
    assert_eq!(g.fake.submissions().len(), 3, "no resubmission without a crash");
    for t in g.fake.tasks() {
        assert_eq!(t["status"], "SUCCEEDED", "{t}");
        assert_eq!(t["source_endpoint_id"], librarian_e2e::globus::COLLECTION_A);
        assert_eq!(t["destination_endpoint_id"], librarian_e2e::globus::COLLECTION_B);
        for item in t["items"].as_array().expect("items") {
            let (src, dst) = (item["source_path"].as_str().unwrap(), item["destination_path"].as_str().unwrap());
            // Collection paths, rooted at <site>/stores: never a host path.
            assert!(src.starts_with("/main/data/") && dst.starts_with("/main/staging/incoming-"), "{item}");
            let recursive = item["recursive"].as_bool().unwrap();
            assert_eq!(recursive, src.ends_with('/'), "{item}");
            assert_eq!(recursive, dst.ends_with('/'), "{item}");
            assert_eq!(recursive, src.contains("/books/"), "books are directories, files are not: {item}");
        }
    }
    for r in g.fake.submissions() {
        let doc = &r["body"];
        assert_eq!(doc["DATA_TYPE"], "transfer");
        assert_eq!(doc["sync_level"], 0, "sync level exists, as an integer: {doc}");
        assert_eq!(doc["verify_checksum"], true);
        assert!(doc["label"].as_str().unwrap().chars().all(|c| c.is_ascii_alphanumeric() || " -_,".contains(c)));
    }
    // One grant served every call of a run (the token is cached within a process).
    let grants = g.fake.log().iter().filter(|r| r["path"] == "/v2/oauth2/token").count();
    let runs = outs.len() + 2;
    assert!(grants <= runs, "{grants} grants for {runs} processes");
    assert_no_secret(&g, &outs);
}

/// The sender killed (SIGKILL, at a fault point) after the submission id was saved
/// but before posting, and after Globus accepted the task but before its id was
/// saved: the next round posts the same document with the same id (Globus answers
/// Duplicate to the second) and there is exactly one task for the batch.
#[test]
fn a_sender_killed_around_the_submission_never_makes_two_tasks() {
    for point in ["globus.before-submit", "globus.after-submit"] {
        let g = GlobusPair::new("", "");
        let p = &g.pair;
        upload_files(&p.a, "k", 3);
        upload_book(&p.a, "books/k", 5);
        let killed = run_outcome(
            p.a.cmd().args(["--json", "tasks", "run", "--only", "send-clones"]).env("LIBRARIAN_FAULT", point),
        );
        assert_eq!(killed.status.signal(), Some(libc::SIGKILL), "{point}: {killed}");
        let before = g.fake.submissions().len();
        assert_eq!(before, usize::from(point == "globus.after-submit"), "{point}");
        converge(&g, Duration::from_secs(60));
        assert_all_at_b(p, 4);
        assert_eq!(tasks_by_submission(&g), 1, "{point}: one task for the batch");
        let subs = g.fake.submissions();
        let ids: BTreeSet<&str> = subs.iter().map(|r| r["body"]["submission_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 1, "{point}: the same submission id every time: {subs:?}");
        if point == "globus.after-submit" {
            assert_eq!(subs.len(), 2, "resubmitted once");
            assert_eq!(subs[1]["status"], 200, "the second is a Duplicate (200), not a new task (202): {subs:?}");
        }
    }
}

/// The sender killed while its task is ACTIVE, and the fake restarted (it forgets
/// every token): the batch is polled again by the next run, with a new token, and
/// completes; still one task.
#[test]
fn a_sender_killed_while_the_task_runs_and_a_restarted_globus_still_converge() {
    let mut g = GlobusPair::new("", "");
    g.fake.scenario(json!({"mode": "slow", "seconds": 3}));
    upload_files(&g.pair.a, "s", 4);
    let killed = run_outcome(
        g.pair
            .a
            .cmd()
            .args(["--json", "tasks", "run", "--only", "send-clones"])
            .env("LIBRARIAN_FAULT", "globus.task-active"),
    );
    assert_eq!(killed.status.signal(), Some(libc::SIGKILL), "{killed}");
    assert_eq!(g.fake.tasks().len(), 1);
    g.fake.restart();
    let outs = converge(&g, Duration::from_secs(60));
    assert_all_at_b(&g.pair, 4);
    assert_eq!(tasks_by_submission(&g), 1);
    assert_no_secret(&g, &outs);
}

/// A task that fails (Globus' fatal error): the transfers fail with Globus' reason
/// after `max_batch_attempts` tasks, the files are planned again, and a later round
/// sends them.
#[test]
fn a_failed_task_fails_the_transfers_with_the_globus_reason_and_is_retried() {
    let g = GlobusPair::new("max_batch_attempts = 2", "");
    let p = &g.pair;
    g.fake.scenario(json!({"mode": "fail", "code": "PERMISSION_DENIED", "description": "no write access to /main"}));
    upload_files(&p.a, "f", 2);
    let started = Instant::now();
    while ClonePair::transfers(&p.a, Some("failed")).len() < 2 {
        ClonePair::tasks(&p.a, &["send-clones"]).ok_or_degraded();
        assert!(started.elapsed() < Duration::from_secs(60), "{:?}", ClonePair::transfers(&p.a, None));
        std::thread::sleep(Duration::from_millis(300));
    }
    let failed = ClonePair::transfers(&p.a, Some("failed"));
    for t in &failed {
        let e = t["error"].as_str().unwrap_or_default();
        assert!(e.contains("PERMISSION_DENIED") && e.contains("no write access"), "{t}");
    }
    // One task per attempt (two for the batch), and the round that gave the batch up
    // may already have offered the files again in a new batch.
    assert!((2..=3).contains(&tasks_by_submission(&g)), "{:?}", g.fake.tasks());
    // The first attempt writes into fresh staging paths (sync level exists); the
    // restart replaces whatever differs there (sync level checksum).
    let levels: Vec<i64> = g.fake.submissions().iter().map(|r| r["body"]["sync_level"].as_i64().unwrap()).collect();
    assert_eq!(&levels[..2], [0, 3], "{levels:?}");
    let events = p.a.json(["events", "list"]).json();
    assert!(events.as_array().unwrap().iter().any(|e| e["category"] == "transfer_failed"), "{events}");
    g.fake.scenario(json!({"mode": "ok"}));
    converge(&g, Duration::from_secs(60));
    assert_all_at_b(p, 2);
}

/// A source that Globus cannot find (the site's collection_root points elsewhere
/// than the collection's real base path): FILE_NOT_FOUND from Globus, with the
/// path, in the transfer's failure.
#[test]
fn a_wrong_collection_root_fails_with_file_not_found_from_globus() {
    let g = GlobusPair::new("max_batch_attempts = 1", "");
    let p = &g.pair;
    let text = std::fs::read_to_string(p.a.config()).unwrap();
    let stores = p.a.dir().join("stores").display().to_string();
    let wrong = text.replace(
        &format!("collection_root = {stores:?}"),
        &format!("collection_root = {:?}", p.a.dir().display().to_string()),
    );
    assert_ne!(text, wrong);
    std::fs::write(p.a.config(), wrong).unwrap();
    upload_files(&p.a, "w", 1);
    let started = Instant::now();
    while ClonePair::transfers(&p.a, Some("failed")).is_empty() {
        ClonePair::tasks(&p.a, &["send-clones"]).ok_or_degraded();
        assert!(started.elapsed() < Duration::from_secs(60), "{:?}", ClonePair::transfers(&p.a, None));
        std::thread::sleep(Duration::from_millis(300));
    }
    let t = &ClonePair::transfers(&p.a, Some("failed"))[0];
    assert!(t["error"].as_str().unwrap().contains("FILE_NOT_FOUND"), "{t}");
}

/// An INACTIVE task (expired credentials on a collection) raises `needs_attention`,
/// makes `tasks run` report degraded (exit 3), keeps the batch, and completes once
/// resumed; the event clears itself.
#[test]
fn an_inactive_task_needs_attention_and_completes_after_resume() {
    let g = GlobusPair::new("", "");
    let p = &g.pair;
    g.fake.scenario(json!({"mode": "inactive"}));
    upload_files(&p.a, "i", 2);
    let started = Instant::now();
    let run = loop {
        let run = ClonePair::tasks(&p.a, &["send-clones"]);
        if run.code() == Some(3) {
            break run;
        }
        run.ok();
        assert!(started.elapsed() < Duration::from_secs(30), "never INACTIVE: {:?}", g.fake.tasks());
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(run.stdout.contains("stuck") || run.stderr.contains("stuck"), "{run}");
    let events = p.a.json(["events", "list"]).json();
    let open: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["category"] == "needs_attention").collect();
    assert_eq!(open.len(), 1, "{events}");
    assert!(open[0]["message"].as_str().unwrap().contains("INACTIVE"), "{events}");
    assert!(ClonePair::transfers(&p.a, Some("failed")).is_empty(), "nothing failed for it");
    g.fake.resume();
    converge(&g, Duration::from_secs(60));
    assert_all_at_b(p, 2);
    let events = p.a.json(["events", "list"]).json();
    assert!(!events.as_array().unwrap().iter().any(|e| e["category"] == "needs_attention"), "cleared: {events}");
    assert_eq!(tasks_by_submission(&g), 1);
}

/// Bursts of 429 (with Retry-After) and 502/503, a 500 with an HTML body, and a
/// connection dropped right after Globus committed a submission: the client retries
/// as the SDK does (the dropped submission is posted again with the same id and
/// answered Duplicate), and there is one task.
#[test]
fn rate_limits_outages_and_a_lost_submission_answer_are_retried_without_a_second_task() {
    let g = GlobusPair::new("", "");
    let p = &g.pair;
    g.fake.inject(
        json!({"method": "POST", "path_prefix": "/v2/oauth2/token", "status": 503, "count": 1, "retry_after": 1}),
    );
    g.fake.inject(json!({"method": "GET", "path_prefix": "/v0.10/submission_id", "status": 502, "count": 2}));
    g.fake.inject(json!({"method": "POST", "path_prefix": "/v0.10/transfer", "drop_after_commit": true, "count": 1}));
    g.fake.inject(json!({"method": "GET", "path_prefix": "/v0.10/task/", "status": 429, "count": 2, "retry_after": 1}));
    g.fake.inject(json!({"method": "GET", "path_prefix": "/v0.10/task/", "status": 500, "count": 1, "html": true}));
    // A token refused in the middle of a run: renewed once and the call made again.
    g.fake.inject(json!({"method": "GET", "path_prefix": "/v0.10/task/", "status": 401, "count": 1}));
    upload_files(&p.a, "r", 3);
    converge(&g, Duration::from_secs(90));
    assert_all_at_b(p, 3);
    assert_eq!(tasks_by_submission(&g), 1, "the dropped answer did not make a second task");
    let subs = g.fake.submissions();
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert!(subs[0]["status"].is_null() && subs[1]["status"] == 200, "dropped, then Duplicate: {subs:?}");
    let log = g.fake.log();
    let at = log.iter().position(|r| r["status"] == 401).expect("the injected 401");
    assert_eq!(log[at + 1]["path"], "/v2/oauth2/token", "a new token right after the 401: {:?}", &log[at..]);
    assert!(log[at + 2]["path"].as_str().unwrap().starts_with("/v0.10/task/"), "then the same call: {:?}", &log[at..]);
    assert_eq!(log[at + 2]["status"], 200);
}

/// Credentials Globus Auth refuses: `status` says so, the batch waits with a
/// `needs_attention` event instead of failing, and once the secret is fixed the
/// same batch goes through. A revoked token is simply renewed.
#[test]
fn refused_credentials_need_attention_and_nothing_fails_until_they_are_fixed() {
    let g = GlobusPair::new("", "");
    let p = &g.pair;
    let secret = p.a.tmp().join("globus-secret");
    librarian_e2e::write_secret(&secret, "not-the-secret\n");
    let status = p.a.json(["status"]);
    status.ok();
    assert_eq!(status.json()["globus"]["ok"], false, "{status}");
    assert!(status.json()["globus"]["detail"].as_str().unwrap().contains("invalid_client"), "{status}");
    assert_eq!(status.json()["globus"]["state"], "refused", "{status}");
    upload_files(&p.a, "c", 2);
    let run = ClonePair::tasks(&p.a, &["send-clones"]);
    assert_eq!(run.code(), Some(3), "degraded: {run}");
    let events = p.a.json(["events", "list"]).json();
    assert!(
        events.as_array().unwrap().iter().any(|e| e["category"] == "needs_attention"
            && e["message"].as_str().unwrap().contains("refused this site's credentials")),
        "{events}"
    );
    assert!(ClonePair::transfers(&p.a, Some("failed")).is_empty());
    assert!(g.fake.tasks().is_empty());
    librarian_e2e::write_secret(&secret, &format!("{CLIENT_SECRET}\n"));
    g.fake.revoke();
    let outs = converge(&g, Duration::from_secs(60));
    assert_all_at_b(p, 2);
    assert_eq!(tasks_by_submission(&g), 1);
    assert_no_secret(&g, &outs);
}

/// `transfers cancel` of every transfer of a running batch cancels its Globus task
/// (`POST /task/ID/cancel`); a task running longer than `max_task_age` is
/// cancelled and its batch failed.
#[test]
fn operator_cancel_and_max_task_age_cancel_the_globus_task() {
    let g = GlobusPair::new("max_batch_attempts = 1", "");
    let p = &g.pair;
    g.fake.scenario(json!({"mode": "slow", "seconds": 60}));
    upload_files(&p.a, "x", 2);
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    let ongoing = ClonePair::transfers(&p.a, Some("ongoing"));
    assert_eq!(ongoing.len(), 2);
    for t in &ongoing {
        p.a.run(["transfers", "cancel", &t["id"].to_string()]).ok();
    }
    let tasks = g.fake.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "FAILED", "{tasks:?}");
    assert_eq!(tasks[0]["fatal_error"]["code"], "CANCELED");
    assert!(g.fake.log().iter().any(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/cancel")));

    // max_task_age: a 60 s task is given up after 2 s.
    let text = std::fs::read_to_string(p.a.config()).unwrap();
    std::fs::write(p.a.config(), text.replace("[globus]\n", "[globus]\nmax_task_age = \"2s\"\n")).unwrap();
    upload_files(&p.a, "y", 1);
    let started = Instant::now();
    loop {
        ClonePair::tasks(&p.a, &["send-clones"]).ok_or_degraded();
        let failed: Vec<Value> = ClonePair::transfers(&p.a, Some("failed"))
            .into_iter()
            .filter(|t| t["file"].as_str().unwrap().starts_with("y/"))
            .collect();
        if let Some(t) = failed.first() {
            assert!(t["error"].as_str().unwrap().contains("max_task_age"), "{t}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", ClonePair::transfers(&p.a, None));
        std::thread::sleep(Duration::from_millis(500));
    }
    let tasks = g.fake.tasks();
    let with_y: Vec<&Value> = tasks.iter().filter(|t| t["items"].to_string().contains("/y/")).collect();
    // The first task with y was cancelled (a later round may have offered y again).
    let first = with_y.first().unwrap_or_else(|| panic!("{tasks:?}"));
    assert_eq!((&first["status"], &first["fatal_error"]["code"]), (&json!("FAILED"), &json!("CANCELED")), "{first}");
}

/// `librarian demo --globus`: the two-site demo through the Globus manager and the
/// fake Globus; without the fake binary it fails naming what is missing.
#[test]
fn the_demo_runs_over_the_fake_globus() {
    let fake = librarian_e2e::globus::fake_globus_bin();
    let json =
        run_outcome(librarian_e2e::bare_librarian().args(["--json", "demo", "--globus"]).env("FAKE_GLOBUS_BIN", &fake));
    json.ok();
    let v = json.json();
    assert_eq!((v["ok"].as_bool(), v["manager"].as_str()), (Some(true), Some("globus")), "{json}");
    let uploaded = v["uploads"].as_array().unwrap().len();
    assert_eq!(v["remote_copies_recorded"].as_u64(), Some(uploaded as u64), "{json}");
    let missing = run_outcome(
        librarian_e2e::bare_librarian().args(["demo", "--globus"]).env("FAKE_GLOBUS_BIN", "/nonexistent/fake-globus"),
    );
    assert_eq!(missing.code(), Some(1), "{missing}");
    assert!(missing.stderr.contains("cargo build -p fake-globus"), "{missing}");
}

/// A native app's refresh-token grant (no client secret): `status` obtains a token
/// with it; a refresh token Globus Auth does not know is reported, not printed.
#[test]
fn the_refresh_token_grant_works_and_a_bad_token_is_reported_without_showing_it() {
    use librarian_e2e::globus::{FakeGlobus, NATIVE_CLIENT_ID, REFRESH_TOKEN};
    let site = Site::named("site-a");
    let fake = FakeGlobus::start(&[(librarian_e2e::globus::COLLECTION_A, &site.dir().join("stores"))]);
    let token_file = site.tmp().join("globus-refresh");
    librarian_e2e::write_secret(&token_file, &format!("{REFRESH_TOKEN}\n"));
    librarian_e2e::pair::append_config(
        &site,
        &format!(
            "[globus]\nclient_id = {NATIVE_CLIENT_ID:?}\nrefresh_token_file = {:?}\nauth_url = {:?}\ntransfer_url = {:?}\n",
            token_file.display().to_string(),
            fake.url,
            fake.url
        ),
    );
    let status = site.json(["status"]);
    status.ok();
    assert_eq!(status.json()["globus"]["ok"], true, "{status}");
    let grant = fake.log().into_iter().find(|r| r["path"] == "/v2/oauth2/token").expect("a grant");
    assert_eq!(grant["body"]["grant_type"], "refresh_token", "{grant}");
    assert_eq!(grant["body"]["client_id"], NATIVE_CLIENT_ID, "{grant}");
    assert!(grant["authorization"].is_null(), "a native app sends no Basic credentials: {grant}");
    librarian_e2e::write_secret(&token_file, "revoked-refresh-token\n");
    let status = site.run(["-vv", "status"]);
    status.ok();
    assert!(status.stdout.contains("CREDENTIALS REFUSED") && status.stdout.contains("invalid_grant"), "{status}");
    assert!(!status.stdout.contains("revoked-refresh-token") && !status.stderr.contains("revoked-refresh-token"));
}

/// `items_per_task`, `deadline`, `encrypt_data` and a collection's `data_access`
/// consent reach Globus as the settings say: a batch of 5 in tasks of at most 2, each
/// with a deadline a day away and encryption, the token asked with the collection's
/// `data_access` scope as a dependency.
#[test]
fn task_settings_reach_globus() {
    let g = GlobusPair::new("", "items_per_task = 2\ndeadline = \"1d\"\nencrypt_data = true");
    let p = &g.pair;
    librarian_e2e::pair::append_config(&p.a, "data_access = true");
    upload_files(&p.a, "t", 5);
    converge(&g, Duration::from_secs(60));
    assert_all_at_b(p, 5);
    let subs = g.fake.submissions();
    let sizes: Vec<usize> = subs.iter().map(|r| r["body"]["DATA"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [2, 2, 1], "{subs:?}");
    let labels: BTreeSet<&str> = subs.iter().map(|r| r["body"]["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 3, "each part labelled apart: {labels:?}");
    for r in &subs {
        let doc = &r["body"];
        assert_eq!(doc["encrypt_data"], true, "{doc}");
        let deadline: jiff::Timestamp = doc["deadline"].as_str().unwrap().parse().unwrap();
        let ahead = deadline.duration_since(jiff::Timestamp::now()).as_secs();
        assert!((23 * 3600..=24 * 3600).contains(&ahead), "deadline {deadline} is {ahead} s away");
    }
    let grant = g.fake.log().into_iter().find(|r| r["path"] == "/v2/oauth2/token").unwrap();
    let scope = grant["body"]["scope"].as_str().unwrap();
    let dep = format!("[*https://auth.globus.org/scopes/{}/data_access]", librarian_e2e::globus::COLLECTION_A);
    assert!(scope.starts_with("urn:globus:auth:scope:transfer.api.globus.org:all") && scope.ends_with(&dep), "{scope}");
}

/// A sender killed after Globus accepted its task but before the task id was saved,
/// then the operator cancels the transfers: the task is found (the same document
/// posted again answers Duplicate) and cancelled, so nothing keeps writing into B's
/// staging area.
#[test]
fn cancelling_a_batch_whose_task_id_was_never_saved_cancels_that_task() {
    let g = GlobusPair::new("", "");
    let p = &g.pair;
    g.fake.scenario(json!({"mode": "slow", "seconds": 60}));
    upload_files(&p.a, "u", 2);
    let killed = run_outcome(
        p.a.cmd()
            .args(["--json", "tasks", "run", "--only", "send-clones"])
            .env("LIBRARIAN_FAULT", "globus.after-submit"),
    );
    assert_eq!(killed.status.signal(), Some(libc::SIGKILL), "{killed}");
    for t in ClonePair::transfers(&p.a, Some("ongoing")) {
        p.a.run(["transfers", "cancel", &t["id"].to_string()]).ok();
    }
    let tasks = g.fake.tasks();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!((&tasks[0]["status"], &tasks[0]["fatal_error"]["code"]), (&json!("FAILED"), &json!("CANCELED")));
    let subs = g.fake.submissions();
    assert_eq!((subs.len(), &subs[1]["status"]), (2, &json!(200)), "posted again, answered Duplicate: {subs:?}");
}

/// A secret file others may read is refused before anything is offered, naming the
/// file and the fix, never its content; a receiver whose store has no Globus
/// collection refuses the offer (`no_common_manager`) instead of naming a path.
#[test]
fn an_unsafe_secret_file_and_a_store_without_a_collection_are_refused_clearly() {
    use std::os::unix::fs::PermissionsExt;
    let g = GlobusPair::new("", "");
    let p = &g.pair;
    upload_files(&p.a, "v", 1);
    let secret = p.a.tmp().join("globus-secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = ClonePair::tasks(&p.a, &["send-clones"]);
    assert_ne!(run.code(), Some(0), "{run}");
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("chmod 600") && text.contains("globus-secret"), "{run}");
    assert!(!text.contains(CLIENT_SECRET), "{run}");
    assert!(ClonePair::transfers(&p.b, None).is_empty(), "nothing was offered to B");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

    // B's store loses its collection (B restarted with the new configuration).
    let b_text = std::fs::read_to_string(p.b.config()).unwrap();
    let cut = b_text.find("[globus.stores.main]").unwrap();
    std::fs::write(p.b.config(), &b_text[..cut]).unwrap();
    let mut p = g.pair;
    p.served_b = None;
    p.served_b = Some(librarian_e2e::Server::start_at(&p.b, &p.b_addr));
    ClonePair::tasks(&p.a, &["send-clones"]).ok_or_degraded();
    let failed = ClonePair::transfers(&p.a, Some("failed"));
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["error_code"], "no_common_manager", "{}", failed[0]);
    assert!(failed[0]["error"].as_str().unwrap().contains("[globus.stores.main]"), "{}", failed[0]);
}
