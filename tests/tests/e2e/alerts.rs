//! Alerts end to end: the real `librarian` binary sends events to a real HTTP
//! receiver on 127.0.0.1 (`librarian_e2e::receiver`) and to a command hook. An event
//! is alerted once, however often it repeats, and its clearing once; a receiver that
//! is down (refusing connections, then answering 503) gets each alert exactly once
//! when it is back; the Prometheus textfile is written after `tasks run`; bad
//! `[alerts]` settings are refused with a `config` error.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use librarian_e2e::receiver::Receiver;
use librarian_e2e::*;
use serde_json::Value;

/// A site `site-a` with a file and the peers `peers` at a loopback port where nothing
/// listens, and `alerts` appended to its configuration (retries after 1 s).
fn site_with(peers: &[&str], alerts: &str) -> Site {
    let site = Site::named("site-a");
    let pw = site.tmp().join("pw");
    write_secret(&pw, "secret-for-a-dead-peer\n");
    let src = site.src("obs.dat");
    write_text(&src, "photons\n");
    site.upload(&src, "obs.dat", &[]).ok();
    for peer in peers {
        let dead = format!("http://{}", free_loopback_addr());
        site.run(["peer", "add", peer, "--url", &dead, "--account", "x", "--password-file", pw.to_str().unwrap()]).ok();
        // A call that cannot be delivered: `deliver-outbox` raises peer_unreachable.
        site.run(["peer", "announce", peer, "obs.dat"]).ok();
    }
    let config = std::fs::read_to_string(site.config()).unwrap();
    let extra = format!("\n[alerts]\nretry_initial = \"1s\"\nretry_max = \"1s\"\n{alerts}");
    std::fs::write(site.config(), format!("{config}{extra}")).unwrap();
    site
}

/// `[[alerts.webhook]]` named `name` for `url`.
fn webhook(name: &str, url: &str, format: &str) -> String {
    format!("[[alerts.webhook]]\nname = \"{name}\"\nurl = \"{url}\"\nformat = \"{format}\"\n")
}

/// Try the queued calls now: each unreachable peer raises (or counts again) its
/// `peer_unreachable` event. Returns the open events.
fn raise_events(site: &Site) -> Vec<Value> {
    site.run(["outbox", "retry"]).ok();
    site.json(["tasks", "run", "--only", "deliver-outbox"]).expect_code(3);
    let out = site.json(["events", "list"]);
    out.ok();
    out.json().as_array().unwrap().clone()
}

/// `tasks run --only deliver-alerts`: its outcome.
fn deliver(site: &Site) -> (Option<i32>, Value) {
    let out = site.json(["tasks", "run", "--only", "deliver-alerts"]);
    let v = out.json();
    assert_eq!(v[0]["task"], "deliver-alerts", "{out}");
    match out.code() {
        Some(0) => assert_eq!(v[0]["status"], "ok", "{out}"),
        Some(3) => assert_eq!(v[0]["status"], "degraded", "{out}"),
        _ => panic!("deliver-alerts neither ok nor degraded: {out}"),
    }
    (out.code(), v[0].clone())
}

/// `alerts list --json [--all]`.
fn listed(site: &Site, all: bool) -> Vec<Value> {
    let out = if all { site.json(["alerts", "list", "--all"]) } else { site.json(["alerts", "list"]) };
    out.ok();
    out.json().as_array().unwrap().clone()
}

/// (event id, state) of each JSON alert accepted at `path`, in order.
fn received(r: &Receiver, path: &str) -> Vec<(i64, String)> {
    r.accepted(path)
        .iter()
        .map(|q| q.json())
        .map(|v| (v["id"].as_i64().unwrap(), v["state"].as_str().unwrap().to_owned()))
        .collect()
}

fn id_of(event: &Value) -> i64 {
    event["id"].as_i64().unwrap()
}

#[test]
fn alerts_an_event_once_and_its_clearing_once_in_both_formats() {
    let r = Receiver::start();
    let sinks = format!("{}{}", webhook("chat", &r.url("/slack"), "slack"), webhook("ops", &r.url("/json"), "json"));
    let site = site_with(&["site-b"], &sinks);
    let events = raise_events(&site);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!((event["category"].as_str(), event["severity"].as_str()), (Some("peer_unreachable"), Some("warning")));

    let (code, outcome) = deliver(&site);
    assert_eq!(code, Some(0), "{outcome}");
    assert!(outcome["message"].as_str().unwrap().contains("delivered 2"), "{outcome}");
    let slack = r.accepted("/slack");
    assert_eq!(slack.len(), 1, "{:?}", r.requests());
    let body = slack[0].json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["text"], "a Slack body is {{\"text\": ...}} only: {body}");
    let text = body["text"].as_str().unwrap();
    assert!(!text.contains('\n') && text.starts_with("[site-a] WARNING peer_unreachable site-b: "), "{text}");
    assert_eq!(slack[0].method, "POST");
    assert_eq!(slack[0].header("content-type"), Some("application/json"));
    let json = r.accepted("/json");
    assert_eq!(json.len(), 1);
    let v = json[0].json();
    assert_eq!(v["id"], event["id"], "{v}");
    for (k, want) in [("state", "open"), ("site", "site-a"), ("severity", "warning"), ("category", "peer_unreachable")]
    {
        assert_eq!(v[k], want, "{k}: {v}");
    }
    assert_eq!((v["subject"].as_str(), v["count"].as_u64()), (Some("site-b"), Some(1)), "{v}");
    assert_eq!((&v["created_at"], &v["message"]), (&event["created_at"], &event["message"]), "{v}");
    assert!(v["cleared_at"].is_null(), "{v}");
    let key = json[0].header("idempotency-key").unwrap().to_owned();

    // The same event again is counted, not alerted again; nor is anything sent twice.
    let again = raise_events(&site);
    assert_eq!((again.len(), id_of(&again[0]), again[0]["count"].as_u64()), (1, id_of(event), Some(2)));
    deliver(&site);
    site.json(["tasks", "run"]).ok_or_degraded();
    assert_eq!((r.accepted("/slack").len(), r.accepted("/json").len()), (1, 1), "{:?}", r.requests());

    // Cleared: one alert saying so, and never again.
    site.run(["events", "clear", &event["id"].to_string()]).ok();
    deliver(&site);
    deliver(&site);
    let slack = r.accepted("/slack");
    assert_eq!(slack.len(), 2, "{:?}", r.requests());
    let text = slack[1].json()["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("[site-a] CLEARED warning peer_unreachable site-b"), "{text}");
    let json = r.accepted("/json");
    assert_eq!(json.len(), 2);
    let v = json[1].json();
    assert_eq!(
        (v["id"].as_i64(), v["state"].as_str(), v["count"].as_u64()),
        (Some(id_of(event)), Some("cleared"), Some(2))
    );
    assert!(v["cleared_at"].is_string(), "{v}");
    assert_ne!(json[1].header("idempotency-key").unwrap(), key, "each alert has its own key");
    assert!(listed(&site, false).is_empty(), "nothing waits");
    let all = listed(&site, true);
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.iter().all(|a| a["delivered_at"].is_string() && a["event"] == event["id"]), "{all:?}");
    assert_eq!(r.requests().len(), 4, "nothing was refused or repeated: {:?}", r.requests());

    let human = site.run(["alerts", "list", "--all"]);
    human.ok();
    assert!(human.stdout.contains("chat") && human.stdout.contains("cleared"), "{human}");
}

#[test]
fn a_receiver_that_was_down_gets_each_alert_exactly_once_when_it_is_back() {
    let mut r = Receiver::start();
    let site = site_with(&["site-b", "site-c"], &webhook("ops", &r.url("/hook"), "json"));
    r.stop();
    let events = raise_events(&site);
    assert_eq!(events.len(), 2, "{events:?}");
    // Down: connections refused, over several runs. Degraded, never failed; the queue
    // keeps everything, with the reason.
    let (code, outcome) = deliver(&site);
    assert_eq!(code, Some(3), "{outcome}");
    assert!(outcome["message"].as_str().unwrap().contains("ops"), "names the sink: {outcome}");
    let queue = listed(&site, false);
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert_eq!(queue[0]["attempts"], 1, "{queue:?}");
    assert!(queue[0]["last_error"].as_str().is_some_and(|e| !e.contains("/hook")), "the URL is not shown: {queue:?}");
    // One of them ends while the receiver is down: its clearing is owed too.
    site.run(["events", "clear", &events[0]["id"].to_string()]).ok();
    for _ in 0..3 {
        assert_eq!(deliver(&site).0, Some(3));
    }
    // Back, but answering 503 for a while.
    r.answer(503);
    r.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !r.requests().iter().any(|q| q.status == 503) {
        assert!(Instant::now() < deadline, "no attempt reached the receiver: {:?}", listed(&site, false));
        assert_eq!(deliver(&site).0, Some(3));
        std::thread::sleep(Duration::from_millis(200));
    }
    let queue = listed(&site, false);
    assert_eq!(queue.len(), 3, "open, open, cleared: {queue:?}");
    assert!(queue[0]["last_error"].as_str().is_some_and(|e| e.contains("503")), "{queue:?}");
    // Up: every alert arrives, once, in order.
    r.answer(200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !listed(&site, false).is_empty() {
        assert!(Instant::now() < deadline, "alerts still wait: {:?}", listed(&site, false));
        deliver(&site);
        std::thread::sleep(Duration::from_millis(200));
    }
    for _ in 0..2 {
        assert_eq!(deliver(&site).0, Some(0));
    }
    let got = received(&r, "/hook");
    // `events` is newest first: the first one is the event that was cleared.
    let (gone, open) = (id_of(&events[0]), id_of(&events[1]));
    let alert = |id: i64, state: &str| (id, state.to_owned());
    let want: BTreeSet<(i64, String)> = [alert(gone, "open"), alert(open, "open"), alert(gone, "cleared")].into();
    assert_eq!(got.len(), 3, "each alert exactly once: {got:?}");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want, "{got:?}");
    let opened = got.iter().position(|g| *g == alert(gone, "open")).unwrap();
    let cleared = got.iter().position(|g| *g == alert(gone, "cleared")).unwrap();
    assert!(opened < cleared, "an event's clearing comes after its opening: {got:?}");
}

/// A hook script that appends its standard input as one line to `log`, and fails
/// (exit 7, a word on stderr) while `flag` exists.
fn hook(dir: &Path, log: &Path, flag: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("hook.sh");
    write_text(
        &script,
        &format!(
            "#!/bin/sh\nif [ -e '{}' ]; then echo 'pager down' >&2; exit 7; fi\ncat >> \"$1\"\necho >> \"$1\"\n",
            flag.display()
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "[[alerts.command]]\nname = \"pager\"\nargv = [{:?}, {:?}]\n",
        script.display().to_string(),
        log.display().to_string()
    )
}

fn lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON alert per line ({e}): {l}")))
        .collect()
}

#[test]
fn a_command_hook_gets_the_alert_on_stdin_and_a_failing_one_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (log, flag) = (dir.path().join("alerts.log"), dir.path().join("fail"));
    write_text(&flag, "");
    let site = site_with(&["site-b"], &hook(dir.path(), &log, &flag));
    let event = raise_events(&site).remove(0);
    assert_eq!(deliver(&site).0, Some(3));
    let queue = listed(&site, false);
    assert_eq!(queue.len(), 1);
    let why = queue[0]["last_error"].as_str().unwrap();
    assert!(why.contains("7") && why.contains("pager down"), "{why}");
    let test = site.json(["alerts", "test"]);
    test.expect_code(1);
    assert_eq!(test.json()[0]["delivered"], false, "{test}");

    std::fs::remove_file(&flag).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&log).is_empty() {
        assert!(Instant::now() < deadline, "the hook was not run again: {:?}", listed(&site, false));
        deliver(&site);
        std::thread::sleep(Duration::from_millis(200));
    }
    deliver(&site);
    let got = lines(&log);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((&got[0]["id"], got[0]["state"].as_str()), (&event["id"], Some("open")), "{got:?}");
    assert_eq!((got[0]["site"].as_str(), got[0]["test"].as_bool()), (Some("site-a"), Some(false)));

    let test = site.json(["alerts", "test", "--sink", "pager"]);
    test.ok();
    assert_eq!((test.json()[0]["sink"].as_str(), test.json()[0]["delivered"].as_bool()), (Some("pager"), Some(true)));
    let got = lines(&log);
    assert_eq!((got.len(), got[1]["test"].as_bool(), got[1]["severity"].as_str()), (2, Some(true), Some("info")));
    let human = site.run(["alerts", "test"]);
    human.ok();
    assert!(human.stdout.contains("pager") && human.stdout.contains("delivered"), "{human}");
    site.json(["alerts", "test", "--sink", "nope"]).expect_error(2, "invalid_argument");
}

/// The sample lines of Prometheus text: (name, labels, value). Panics on a line that
/// is not `name{labels} value` or `name value` (no timestamps).
fn samples(text: &str) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            assert!(rest.starts_with(" HELP ") || rest.starts_with(" TYPE "), "a stray comment: {line:?}");
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("no value: {line:?}"),
        };
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let (labels, value) = match rest.strip_prefix('{') {
            Some(inner) => {
                let close = inner.rfind("} ").unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                (inner[..close].to_owned(), &inner[close + 2..])
            }
            None => (String::new(), &rest[1..]),
        };
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label {pair:?} in {line:?}"));
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !v.contains('\n'), "{line:?}");
        }
        assert!(!value.contains(' '), "a sample has no timestamp: {line:?}");
        let v: f64 = value.parse().unwrap_or_else(|e| panic!("value of {line:?}: {e}"));
        out.push((name.to_owned(), labels, v));
    }
    out
}

#[test]
fn the_textfile_is_written_after_tasks_run_for_node_exporter() {
    let r = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("librarian.prom");
    let alerts = format!("textfile = {:?}\n{}", prom.display().to_string(), webhook("ops", &r.url("/"), "json"));
    let site = site_with(&[], &alerts);
    site.run(["tasks", "run"]).ok();
    let text = std::fs::read_to_string(&prom).expect("the textfile after tasks run");
    let s = samples(&text);
    let has = |name: &str, labels: &str| s.iter().find(|(n, l, _)| n == name && l == labels).map(|x| x.2);
    assert!(has("librarian_task_last_run_timestamp_seconds", "task=\"deliver-alerts\"").is_some_and(|t| t > 0.0));
    assert_eq!(has("librarian_catalog_files", ""), Some(1.0), "{text}");
    assert_eq!(has("librarian_alerts_queued", "sink=\"ops\""), Some(0.0), "{text}");
    assert!(has("librarian_build_info", &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))).is_some(), "{text}");
    let names: Vec<String> =
        list_dir(dir.path()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["librarian.prom"], "no temporary file beside it");
    // Another run replaces it (a reader sees one whole file or the other).
    site.run(["tasks", "run", "--only", "cleanup-staging"]).ok();
    let again = std::fs::read_to_string(&prom).unwrap();
    assert!(samples(&again).len() == s.len() && again.contains("librarian_task_last_success"), "{again}");
    assert_eq!(list_dir(dir.path()).len(), 1);
}

#[test]
fn bad_alert_settings_are_a_config_error_naming_the_problem() {
    let cases = [
        (webhook("x", "http://hooks.example.org/services/T0/B0/secret", "slack"), "plain http://"),
        (webhook("x", "https://hooks.example.org/x", "xml"), "unknown variant"),
        ("[[alerts.command]]\nargv = []\n".to_owned(), "argv is empty"),
        ("textfile = \"/var/lib/node_exporter/librarian.txt\"\n".to_owned(), ".prom"),
        (
            format!("{}{}", webhook("x", "https://a.example/1", "json"), webhook("x", "https://b.example/2", "json")),
            "two alert sinks",
        ),
    ];
    for (alerts, needle) in cases {
        let site = site_with(&[], &alerts);
        let message = site.json(["alerts", "list"]).expect_error(1, "config");
        assert!(message.contains(needle), "{alerts}: {message:?} should say {needle:?}");
        assert!(!message.contains("secret"), "a webhook URL's path is never shown: {message}");
        site.json(["tasks", "run"]).expect_error(1, "config");
    }
    let site = site_with(&[], "");
    site.json(["alerts", "test"]).expect_error(2, "invalid_argument");
    assert!(listed(&site, true).is_empty());
}
