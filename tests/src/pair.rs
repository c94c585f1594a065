//! Two sites that clone to each other: A sends to B. Both serve on loopback; their
//! background tasks are disabled in the configuration, so only the test's explicit
//! `tasks run --only ...` rounds move anything.

use std::path::Path;

use serde_json::Value;

use crate::{Outcome, Server, Site};

/// Password of A's account at B (B knows it as its peer `site-a`).
pub const A_AT_B: &str = "a-at-b-clone-secret";
/// Password of B's account at A (A knows it as its peer `site-b`).
pub const B_AT_A: &str = "b-at-a-clone-secret";

/// Every task (`tests/e2e/tasks.rs` checks the list against the core's).
pub const TASKS: [&str; 9] = [
    "cleanup-staging",
    "receive-clones",
    "send-clones",
    "deliver-outbox",
    "reconcile-transfers",
    "clone-local",
    "scrub",
    "rolling-deletion",
    "deliver-alerts",
];

/// `[tasks.NAME] enabled = false` for every task: a served site then runs only what a
/// test asks for (`tasks run --only ...`).
pub fn disabled_tasks() -> String {
    TASKS.iter().map(|t| format!("[tasks.{t}]\nenabled = false\n")).collect()
}

/// Sites A and B, served, with accounts and peers for cloning A → B.
#[derive(Debug)]
pub struct ClonePair {
    /// The sender.
    pub a: Site,
    /// The receiver.
    pub b: Site,
    /// A's server (B's callbacks arrive there).
    pub served_a: Option<Server>,
    /// B's server (A stages there).
    pub served_b: Option<Server>,
    /// B's address, kept to restart it on the same port.
    pub b_addr: String,
    /// A's address.
    pub a_addr: String,
}

fn pw_file(site: &Site, name: &str, pw: &str) -> String {
    let p = site.tmp().join(name);
    crate::write_secret(&p, &format!("{pw}\n"));
    p.to_str().expect("utf-8 path").to_owned()
}

/// Append `text` to a site's configuration.
pub fn append_config(site: &Site, text: &str) {
    let old = std::fs::read_to_string(site.config()).expect("read config");
    std::fs::write(site.config(), format!("{old}\n{text}\n")).expect("write config");
}

impl ClonePair {
    /// Two sites; A's `[clone.to.site-b]` gets `send_to` (TOML lines) and A's
    /// `[clone]` table `clone` (TOML lines).
    pub fn new(clone: &str, send_to: &str) -> ClonePair {
        Self::new_with(clone, send_to, |_, _| (String::new(), String::new()))
    }

    /// [`ClonePair::new`], with more configuration for A and for B (TOML tables,
    /// appended last) that `more` makes from the two sites before they are served.
    pub fn new_with(clone: &str, send_to: &str, more: impl FnOnce(&Site, &Site) -> (String, String)) -> ClonePair {
        let a = Site::named("site-a");
        let b = Site::named("site-b");
        let disabled = disabled_tasks();
        // A writes only below B's site directory (where B's staging is).
        let root = format!("destination_root = {:?}", b.dir().display().to_string());
        let send_to =
            if send_to.contains("destination_root") { send_to.to_owned() } else { format!("{root}\n{send_to}") };
        let (a_more, b_more) = more(&a, &b);
        append_config(&a, &format!("{disabled}[clone]\n{clone}\n[clone.to.site-b]\n{send_to}\n{a_more}"));
        append_config(&b, &format!("{disabled}{b_more}"));
        let served_a = Server::start(&a);
        let served_b = Server::start(&b);
        let a_addr = served_a.url.trim_start_matches("http://").to_owned();
        let b_addr = served_b.url.trim_start_matches("http://").to_owned();
        b.run([
            "peer",
            "add",
            "site-a",
            "--url",
            &served_a.url,
            "--account",
            "site-b",
            "--password-file",
            &pw_file(&b, "b-at-a", B_AT_A),
        ])
        .ok();
        b.run([
            "account",
            "add",
            "site-a",
            "--level",
            "read-append",
            "--for-peer",
            "site-a",
            "--password-file",
            &pw_file(&b, "a-at-b", A_AT_B),
        ])
        .ok();
        a.run([
            "peer",
            "add",
            "site-b",
            "--url",
            &served_b.url,
            "--account",
            "site-a",
            "--password-file",
            &pw_file(&a, "a-at-b", A_AT_B),
        ])
        .ok();
        a.run([
            "account",
            "add",
            "site-b",
            "--level",
            "callback",
            "--for-peer",
            "site-b",
            "--password-file",
            &pw_file(&a, "b-at-a", B_AT_A),
        ])
        .ok();
        ClonePair { a, b, served_a: Some(served_a), served_b: Some(served_b), b_addr, a_addr }
    }

    /// Run `tasks run --only TASKS` at `site`.
    pub fn tasks(site: &Site, tasks: &[&str]) -> Outcome {
        let mut args = vec!["tasks", "run"];
        for t in tasks {
            args.push("--only");
            args.push(t);
        }
        site.json(args)
    }

    /// One round: A sends and delivers its calls, B receives and delivers its calls.
    pub fn round(&self) {
        Self::tasks(&self.a, &["send-clones", "deliver-outbox"]).ok();
        Self::tasks(&self.b, &["receive-clones", "deliver-outbox"]).ok();
    }

    /// Transfers at `site` (JSON objects), optionally of one status.
    pub fn transfers(site: &Site, status: Option<&str>) -> Vec<Value> {
        let mut args = vec!["transfers", "list", "--limit", "100000"];
        if let Some(s) = status {
            args.extend(["--status", s]);
        }
        let out = site.json(args);
        out.ok();
        out.json().as_array().expect("a JSON array").clone()
    }

    /// Rounds until every outgoing transfer at A is terminal and A's outbox and
    /// B's outbox are empty, at most `max` rounds; returns the rounds used.
    pub fn converge(&self, max: usize) -> usize {
        for round in 1..=max {
            self.round();
            let active = Self::transfers(&self.a, None)
                .iter()
                .chain(Self::transfers(&self.b, None).iter())
                .filter(|t| matches!(t["status"].as_str(), Some("initiated" | "ongoing" | "staged")))
                .count();
            let queued = outbox_len(&self.a) + outbox_len(&self.b);
            let planned = self.a.json(["clone", "remote", "--to", "site-b", "--dry-run"]).json()["files"]
                .as_array()
                .map_or(0, Vec::len);
            if active == 0 && queued == 0 && planned == 0 {
                return round;
            }
        }
        let brief = |site: &Site| -> Vec<String> {
            Self::transfers(site, None)
                .iter()
                .map(|t| format!("{} {} {} {}", t["id"], t["file"], t["status"], t["error"]))
                .collect()
        };
        panic!(
            "no convergence after {max} rounds\nA transfers {:?}\nB transfers {:?}\nA outbox {}\nB outbox {}\nA events {}\nB events {}",
            brief(&self.a),
            brief(&self.b),
            self.a.json(["outbox", "list"]).stdout,
            self.b.json(["outbox", "list"]).stdout,
            self.a.json(["events", "list"]).stdout,
            self.b.json(["events", "list"]).stdout,
        );
    }
}

/// Calls waiting in a site's outbox.
pub fn outbox_len(site: &Site) -> usize {
    site.json(["outbox", "list"]).json().as_array().map_or(0, Vec::len)
}

/// Write `files` small files named `prefix/fNNN` at `site` and upload them.
pub fn upload_files(site: &Site, prefix: &str, files: usize) {
    for i in 0..files {
        let name = format!("{prefix}/f{i:03}");
        let src = site.src(&name);
        std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
        std::fs::write(&src, format!("{name} payload {}\n", i * 7919)).expect("write");
        site.upload(&src, &name, &[]).ok();
    }
}

/// Write a book of `entries` files (in a few subdirectories) at `site` and upload it.
pub fn upload_book(site: &Site, name: &str, entries: usize) {
    let src = site.src(name);
    for i in 0..entries {
        let p = src.join(format!("d{}/e{i:04}", i % 7));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("{name} entry {i}\n")).expect("write");
    }
    site.upload(&src, name, &[]).ok();
}

/// Whether `path` holds no files (directories only) or does not exist.
pub fn no_files_under(path: &Path) -> bool {
    crate::walk(path).iter().all(|p| p.is_dir())
}
