//! `librarian tasks run` / `tasks list`: due tasks run once, schedules come from the
//! configuration, and two overlapping runs (real processes) never run the same task
//! at the same time.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use librarian_e2e::*;
use serde_json::Value;

/// A staging directory left by a dead ingest: unlocked, not empty.
fn stale_staging(site: &Site, name: &str, files: usize) {
    let dir = site.staging().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..files {
        std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
    }
}

/// The outcome of `cleanup-staging` in a `tasks run --json` answer.
fn outcome(out: &Outcome) -> Value {
    let v = out.json();
    let arr = v.as_array().unwrap_or_else(|| panic!("not an array: {out}"));
    let mine: Vec<&Value> = arr.iter().filter(|o| o["task"] == "cleanup-staging").collect();
    assert_eq!(mine.len(), 1, "{out}");
    mine[0].clone()
}

/// `tasks run --help` and `tasks list` name every task there is (both come from the
/// core's `TaskKind::ALL`, so a new task cannot be left out).
#[test]
fn tasks_help_and_list_name_every_task() {
    let help = run_outcome(bare_librarian().args(["tasks", "run", "--help"]));
    help.ok();
    let site = Site::new();
    let list = site.json(["tasks", "list"]);
    list.ok();
    let listed: Vec<String> =
        list.json().as_array().unwrap().iter().map(|r| r["task"].as_str().unwrap().to_owned()).collect();
    let all: Vec<&str> = librarian_core::TaskKind::ALL.iter().map(|t| t.as_str()).collect();
    for task in &all {
        assert!(help.stdout.contains(task), "tasks run --help does not name {task}: {help}");
    }
    assert_eq!(listed, all, "tasks list: {list}");
    assert_eq!(librarian_e2e::pair::TASKS.to_vec(), all, "the tests' list of tasks to disable (tests/src/pair.rs)");
}

#[test]
fn due_tasks_run_once_then_wait_for_their_interval() {
    let site = Site::new();
    stale_staging(&site, "dead-ingest", 3);
    let first = site.json(["tasks", "run"]);
    first.ok();
    let o = outcome(&first);
    assert_eq!((o["task"].as_str(), o["status"].as_str()), (Some("cleanup-staging"), Some("ok")), "{first}");
    assert!(o["message"].as_str().unwrap().contains("removed 1"), "{first}");
    assert!(list_dir(&site.staging()).is_empty());

    let second = site.json(["tasks", "run"]);
    second.ok();
    assert_eq!(outcome(&second)["status"], "not_due", "{second}");

    stale_staging(&site, "another", 1);
    let forced = site.json(["tasks", "run", "--only", "cleanup-staging"]);
    forced.ok();
    assert_eq!(outcome(&forced)["status"], "ok");
    assert!(list_dir(&site.staging()).is_empty());

    let list = site.json(["tasks", "list"]);
    let rows = list.json();
    let row = rows.as_array().unwrap().iter().find(|r| r["task"] == "cleanup-staging").unwrap();
    assert_eq!((row["task"].as_str(), row["last_result"].as_str()), (Some("cleanup-staging"), Some("ok")), "{list}");
    assert_eq!(row["every_seconds"], 3600);
    assert_eq!(row["running_until"], Value::Null);

    site.json(["tasks", "run", "--only", "no-such-task"]).expect_error(2, "invalid_argument");
}

#[test]
fn schedules_come_from_the_configuration() {
    let site = Site::new();
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}\n[tasks.cleanup-staging]\nenabled = false\n")).unwrap();
    stale_staging(&site, "dead", 1);
    let off = site.json(["tasks", "run"]);
    off.ok();
    assert_eq!(outcome(&off)["status"], "disabled", "{off}");
    assert_eq!(list_dir(&site.staging()).len(), 1, "a disabled task does not run");

    std::fs::write(site.config(), format!("{base}\n[tasks.cleanup-staging]\nevery = \"30s\"\n")).unwrap();
    let list = site.json(["tasks", "list"]);
    assert_eq!(list.json()[0]["every_seconds"], 30, "{list}");
    // Intervals the way people write them.
    for (every, secs) in [("1h30m", 5400), ("5 minutes", 300), ("2d", 172_800)] {
        std::fs::write(site.config(), format!("{base}\n[tasks.cleanup-staging]\nevery = \"{every}\"\n")).unwrap();
        let list = site.json(["tasks", "list"]);
        assert_eq!(list.json()[0]["every_seconds"], secs, "{every}: {list}");
    }

    for bad in ["every = \"soon\"", "often = true"] {
        std::fs::write(site.config(), format!("{base}\n[tasks.cleanup-staging]\n{bad}\n")).unwrap();
        site.json(["tasks", "run"]).expect_error(1, "config");
    }
    std::fs::write(site.config(), format!("{base}\n[tasks.no-such-task]\nevery = \"1h\"\n")).unwrap();
    let unknown = site.json(["tasks", "run"]);
    assert!(unknown.expect_error(1, "config").contains("no-such-task"), "{unknown}");
}

#[test]
fn overlapping_runs_never_run_a_task_at_the_same_time() {
    let site = Site::new();
    for round in 0..3 {
        // Enough stale data that a run takes a while.
        for d in 0..60 {
            stale_staging(&site, &format!("r{round}-d{d}"), 50);
        }
        let children: Vec<_> = (0..6)
            .map(|_| {
                site.cmd()
                    .args(["--json", "tasks", "run", "--only", "cleanup-staging"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut ran = Vec::new();
        let mut busy = 0;
        for c in children {
            let out = wait_outcome(c, "tasks run".into());
            out.ok();
            let o = outcome(&out);
            match o["status"].as_str() {
                Some("ok") => {
                    let t = |k: &str| o[k].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
                    ran.push((t("started_at"), t("finished_at")));
                }
                Some("busy") => busy += 1,
                other => panic!("unexpected status {other:?}: {out}"),
            }
        }
        assert!(!ran.is_empty(), "round {round}: nobody ran the task");
        ran.sort();
        for w in ran.windows(2) {
            assert!(w[0].1 <= w[1].0, "round {round}: two runs overlapped: {:?} and {:?}", w[0], w[1]);
        }
        assert_eq!(ran.len() + busy, 6);
        assert!(list_dir(&site.staging()).is_empty(), "round {round}: stale directories remain");
    }

    // A lease held by someone else (a run on another machine, or one that is still
    // going) makes the task busy until it expires.
    let far = jiff::Timestamp::now().as_microsecond() + 3_600_000_000;
    sql::write(
        &site.db(),
        &format!("UPDATE task_runs SET lease_owner = 'elsewhere', lease_until = {far} WHERE task = 'cleanup-staging'"),
    );
    stale_staging(&site, "waiting", 1);
    let held = site.json(["tasks", "run", "--only", "cleanup-staging"]);
    held.ok();
    assert_eq!(outcome(&held)["status"], "busy", "{held}");
    assert_eq!(list_dir(&site.staging()).len(), 1, "a busy task does not run");

    // A lease held by a live process of this machine (this test) is respected...
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_owned();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let start = after_comm.split_whitespace().nth(19).unwrap();
    let me = std::process::id();
    let lease = |owner: &str| {
        sql::write(
            &site.db(),
            &format!(
                "UPDATE task_runs SET lease_owner = '{owner}', lease_until = {far} WHERE task = 'cleanup-staging'"
            ),
        );
    };
    lease(&format!("x@{me}:{start}:{boot}"));
    let held = site.json(["tasks", "run", "--only", "cleanup-staging"]);
    assert_eq!(outcome(&held)["status"], "busy", "a live holder: {held}");
    // ...but one held by a process that died (killed mid-run) is taken over at once,
    // not after the 15-minute lease: a pid with another start time is another
    // process, and a pid with no process is gone.
    for dead in [format!("x@{me}:1:{boot}"), format!("x@4194303:1:{boot}")] {
        lease(&dead);
        stale_staging(&site, "orphan", 1);
        let taken = site.json(["tasks", "run", "--only", "cleanup-staging"]);
        assert_eq!(outcome(&taken)["status"], "ok", "{dead}: {taken}");
        assert!(list_dir(&site.staging()).is_empty(), "the task ran");
    }
    // Another machine's (another boot's) lease is respected: its process cannot be checked.
    lease(&format!("x@{me}:1:another-boot"));
    let held = site.json(["tasks", "run", "--only", "cleanup-staging"]);
    assert_eq!(outcome(&held)["status"], "busy", "{held}");
}

#[test]
fn serve_runs_due_tasks_on_their_schedule() {
    let site = Site::new();
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}\n[tasks.cleanup-staging]\nevery = \"1s\"\n")).unwrap();
    let mut served = Server::start(&site);
    // Stale data appearing while the server runs is cleaned up by its scheduler,
    // without any `tasks run`.
    stale_staging(&site, "dead-while-serving", 2);
    let started = std::time::Instant::now();
    while !list_dir(&site.staging()).is_empty() {
        if started.elapsed() > std::time::Duration::from_secs(15) {
            panic!("the server's scheduler did not clean the staging area");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(served.child.id() as libc::pid_t, libc::SIGTERM) };
    let status = served.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "serve exited with {status}");
    let list = site.json(["tasks", "list"]);
    assert_eq!(list.json()[0]["last_result"], "ok", "{list}");
}

/// `tasks run` tells a cron wrapper when work is stuck: a peer that does not answer
/// makes `send-clones` and `deliver-outbox` "degraded" and the run exit 3 (1 stays for
/// a task that failed, 0 for a run where everything progressed); the outcome names
/// the peer. A peer an operator disabled is not "stuck": exit 0.
#[test]
fn a_run_that_cannot_reach_a_peer_exits_3_naming_it() {
    let site = Site::named("site-a");
    let pw = site.tmp().join("pw");
    write_secret(&pw, "secret-for-a-dead-peer\n");
    site.run([
        "peer",
        "add",
        "site-b",
        "--url",
        "http://127.0.0.1:9",
        "--account",
        "x",
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .ok();
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}\n[clone.to.site-b]\ndestination_root = \"/srv/b\"\n")).unwrap();
    let src = site.src("obs.dat");
    write_random(&src, 1000, 1);
    site.upload(&src, "obs.dat", &[]).ok();

    let send = site.json(["tasks", "run", "--only", "send-clones"]);
    assert_eq!(send.code(), Some(3), "{send}");
    let o = send.json()[0].clone();
    assert_eq!(o["status"], "degraded", "{send}");
    assert!(o["message"].as_str().unwrap().contains("site-b"), "{send}");

    site.run(["peer", "announce", "site-b", "obs.dat"]).ok();
    for attempt in ["first attempt", "waiting out the backoff"] {
        let deliver = site.json(["tasks", "run", "--only", "deliver-outbox"]);
        assert_eq!(deliver.code(), Some(3), "{attempt}: {deliver}");
        assert_eq!(deliver.json()[0]["status"], "degraded", "{attempt}: {deliver}");
    }
    let text = site.run(["tasks", "run", "--only", "deliver-outbox"]);
    assert_eq!(text.code(), Some(3), "{text}");
    assert!(text.stdout.contains("DEGRADED") && text.stdout.contains("site-b"), "{text}");

    // Disabled by an operator: waiting is what was asked for.
    site.run(["peer", "disable", "site-b"]).ok();
    let quiet = site.json(["tasks", "run", "--only", "send-clones", "--only", "deliver-outbox"]);
    assert_eq!(quiet.code(), Some(0), "{quiet}");
    // Cleanup has nothing to do with peers.
    site.json(["tasks", "run", "--only", "cleanup-staging"]).ok();
}

/// The column (in characters: task names and words are ASCII) where the `n`th
/// space-separated field of `line` starts, fields being separated by runs of spaces.
fn field_start(line: &str, n: usize) -> Option<usize> {
    let b = line.as_bytes();
    let mut field = 0;
    for i in 1..b.len() {
        if b[i - 1] == b' ' && b[i] != b' ' {
            field += 1;
            if field == n {
                return Some(i);
            }
        }
    }
    None
}

#[test]
fn the_human_tables_are_aligned() {
    // `reconcile-transfers` is longer than the other task names: every column after
    // the name still starts at one column in every line.
    let site = Site::new();
    let run = site.run(["tasks", "run"]);
    run.ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.len() >= 6 && lines.iter().any(|l| l.starts_with("reconcile-transfers ")), "{run}");
    let status: Vec<Option<usize>> = lines.iter().map(|l| field_start(l, 1)).collect();
    assert!(status.iter().all(|c| c.is_some() && *c == status[0]), "status column out of line: {run}");
    let message: Vec<Option<usize>> = lines.iter().map(|l| field_start(l, 2)).collect();
    assert!(message.iter().all(|c| c.is_some() && *c == message[0]), "message column out of line: {run}");

    let list = site.run(["tasks", "list"]);
    list.ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), librarian_core::TaskKind::ALL.len(), "{list}");
    for word in ["every", "enabled", "last:"] {
        let at: Vec<Option<usize>> = lines.iter().map(|l| l.find(word)).collect();
        assert!(at.iter().all(|c| c.is_some() && *c == at[0]), "{word:?} out of line: {list}");
    }
}
