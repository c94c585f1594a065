//! One catalog, many processes: a `librarian serve` process (several connections)
//! and short-lived CLI processes share the database safely. Regression test: the
//! catalog used to open and close an extra descriptor of the database file at every
//! open, which (POSIX lock semantics) dropped the shared locks of the server's other
//! connections; the next CLI process to exit then thought it was the last user,
//! checkpointed and deleted the WAL, and the server's later commits went to a
//! deleted file that no other process could see.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use librarian_e2e::*;
use serde_json::Value;

fn last_started(site: &Site) -> Option<String> {
    let out = site.json(["tasks", "list"]);
    out.ok();
    let rows: Value = out.json();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == "deliver-outbox")
        .and_then(|r| r["last_started"].as_str().map(str::to_owned))
}

#[test]
fn the_servers_commits_stay_visible_to_other_processes() {
    let site = Site::new();
    let config = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{config}\n[tasks.deliver-outbox]\nevery = \"1s\"\n")).unwrap();
    let _served = Server::start(&site);
    let wal = site.db().with_extension("db-wal");
    // Other processes come and go while the server runs (and writes every second):
    // the CLI, and an outside SQLite writer (this test process).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "the server's task runs stopped being visible: {seen:?}");
        site.json(["status"]).ok();
        // An operator's look with another SQLite (a write, so it checkpoints on close
        // if it believes it is the last user), as the stock sqlite3 CLI would do it.
        sql::write(&site.db(), "UPDATE stores SET name = name WHERE 0;");
        assert!(wal.exists(), "another process deleted the WAL of a database the server has open");
        if let Some(t) = last_started(&site)
            && seen.last() != Some(&t)
        {
            seen.push(t);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
