//! Printing results: human text on stdout, or one JSON document with `--json`.
//! Diagnostics go to stderr.
//!
//! Human output is printed with [`say!`] (and [`say_err!`]): every control or
//! formatting character in the line (an ESC from a hostile name, uploader, store or
//! reason that reached a catalog, a U+202E) is shown as an escape such as `\x1b`, so
//! nothing printed can drive the terminal. JSON output escapes control characters
//! by itself.

/// `println!` for human output: the line is printed with every control or
/// formatting character escaped (see [`librarian_core::escape`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_line(&librarian_core::escape(&format!($($arg)*)))
    };
}

/// `println!` that ends the process quietly (exit 0) when stdout is a closed pipe
/// (`librarian search | head -5`): the reader wanted no more, so there is nothing to
/// report and nothing to panic about. Every line the CLI prints goes through here.
pub(crate) fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// `println!` for text that needs no escaping (JSON, fixed words), through [`print_line`].
macro_rules! put {
    ($($arg:tt)*) => {
        $crate::output::print_line(&format!($($arg)*))
    };
}
pub(crate) use put;
/// `eprintln!` for human diagnostics, escaped like [`say!`].
macro_rules! say_err {
    ($($arg:tt)*) => {
        eprintln!("{}", librarian_core::escape(&format!($($arg)*)))
    };
}
pub(crate) use say;

use std::path::PathBuf;

use librarian_core::TaskRecord;
use librarian_core::{
    Account, CheckStatus, File, GlobusAuthState, GlobusCheck, Librarian, Peer, PeerPing, Retrieved, SearchPage,
    SiteStatus, StoreStatus, TaskKind, TaskOutcome, TaskStatus, Upload, UploadStatus, VerifyReport,
};
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::table::{Align, Table};

/// `text` as one POSIX shell word: in single quotes unless it needs none.
fn shell_quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Where results go.
#[derive(Debug)]
pub struct Out {
    json: bool,
}

/// How a check's outcome is shown in the text output of `verify` and its kin.
pub(crate) fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Ok => "ok",
        CheckStatus::Mismatch => "CHECKSUM MISMATCH",
        CheckStatus::Missing => "MISSING",
        CheckStatus::Unreadable => "UNREADABLE",
    }
}

pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

impl Out {
    pub fn new(json: bool) -> Self {
        Out { json }
    }

    fn emit<T: Serialize>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        print_line(&text);
        Ok(())
    }

    pub fn error(&self, e: &CliError) {
        if self.json {
            let doc = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
            put!("{doc}");
        }
        say_err!("librarian: error: {e}");
    }

    pub fn init(&self, lib: &Librarian) -> Result<()> {
        let status = lib.status()?;
        if self.json {
            return self.emit(&serde_json::json!({
                "config": lib.config_path(),
                "site": status.site,
                "database": status.database,
                "stores": status.stores,
            }));
        }
        say!("created site {} ({})", status.site, lib.config_path().display());
        for s in &status.stores {
            say!("  store {}: data {} staging {}", s.name, s.root.display(), s.staging.display());
        }
        Ok(())
    }

    pub fn store(&self, s: &StoreStatus) -> Result<()> {
        if self.json {
            return self.emit(s);
        }
        self.stores(std::slice::from_ref(s))
    }

    pub fn stores(&self, stores: &[StoreStatus]) -> Result<()> {
        if self.json {
            return self.emit(&stores);
        }
        let mut t = Table::new(&[Align::Left, Align::Right, Align::Right, Align::Right]);
        for s in stores {
            let flags = format!(
                "[{}{}]",
                if s.enabled { "enabled" } else { "DISABLED" },
                if s.ingestable { "" } else { ", no-ingest" }
            );
            let free = s.free_bytes.map(bytes).unwrap_or_else(|| "unavailable".into());
            t.row([
                s.name.clone(),
                format!("{} files", s.files),
                format!("{} used", bytes(s.used_bytes)),
                format!("{free} free"),
                flags,
                s.root.display().to_string(),
            ]);
        }
        t.print();
        Ok(())
    }

    pub fn upload(&self, up: &Upload) -> Result<()> {
        if self.json {
            return self.emit(up);
        }
        match up.status {
            UploadStatus::Ingested => {
                say!("ingested {} ({}, {})", up.file.name, bytes(up.file.size), up.file.checksum)
            }
            UploadStatus::AlreadyPresent => {
                say!("already present: {} with the same checksum {}; nothing changed", up.file.name, up.file.checksum)
            }
        }
        Ok(())
    }

    pub fn retrieved(&self, r: &Retrieved) -> Result<()> {
        if self.json {
            return self.emit(r);
        }
        for (store, got) in &r.bad_instances {
            say_err!("librarian: the instance of {} on store {store} hashes to {got}: run `librarian verify`", r.name);
        }
        say!("copied {} ({}, {}) from store {} to {}", r.name, bytes(r.size), r.checksum, r.store, r.dest.display());
        Ok(())
    }

    pub fn file(&self, f: &File) -> Result<()> {
        if self.json {
            return self.emit(f);
        }
        say!("name:       {}", f.name);
        say!("kind:       {}", f.kind.as_str());
        say!("size:       {} ({})", f.size, bytes(f.size));
        say!("checksum:   {}", f.checksum);
        say!("uploader:   {}", f.uploader);
        say!("source:     {}", f.source);
        say!("created_at: {}", f.created_at);
        say!("arrived_at: {}", f.arrived_at);
        for i in &f.instances {
            let verified = i.verified_at.map(|t| t.to_string()).unwrap_or_else(|| "never".into());
            say!(
                "instance {}: store {} path {} available={} deletion={} verified {}",
                i.id,
                i.store,
                i.path.display(),
                i.available,
                i.deletion_policy.as_str(),
                verified
            );
        }
        for r in &f.remote_instances {
            say!("remote: {} store {} copied {}", r.librarian, r.store, r.copied_at);
        }
        Ok(())
    }

    pub fn files(&self, files: &[File]) -> Result<()> {
        if self.json {
            return self.emit(&files);
        }
        let mut t = Table::new(&[Align::Left, Align::Right]);
        for f in files {
            t.row([f.created_at.to_string(), f.size.to_string(), f.checksum.to_string(), f.name.to_string()]);
        }
        t.print();
        if files.is_empty() {
            say_err!("no files match");
        }
        Ok(())
    }

    /// A search: the bare array (or, with `as_page`, the whole page object) in JSON, the
    /// listing in text; a cut answer is said on stderr either way, with the cursor.
    pub fn search_page(&self, page: &SearchPage, limit: u32, as_page: bool) -> Result<()> {
        if self.json && as_page {
            self.emit(page)?;
        } else {
            self.files(&page.files)?;
        }
        if page.truncated {
            // On stderr, so the JSON array and the listing stay what they were.
            let next = match &page.next {
                Some(n) => format!("continue with --after {}, ", shell_quoted(n)),
                None => String::new(),
            };
            say_err!(
                "search: showing the first {limit} matches; there are more ({next}raise --limit, or narrow the query)"
            );
        }
        Ok(())
    }

    pub fn verify(&self, r: &VerifyReport) -> Result<()> {
        if self.json {
            return self.emit(r);
        }
        for c in &r.checked {
            let word = status_word(c.status);
            say!("{word:<17} {} (store {}, {})", c.name, c.store, c.path.display());
            for p in &c.problems {
                let what = match p.problem {
                    librarian_core::EntryProblemKind::Missing => "missing",
                    librarian_core::EntryProblemKind::Mismatch => "checksum mismatch",
                    librarian_core::EntryProblemKind::Unexpected => "unexpected entry",
                    librarian_core::EntryProblemKind::Unreadable => "unreadable",
                };
                say!("    entry {}: {what}", p.entry);
            }
            if let Some(e) = &c.error {
                say!("    {e}");
            }
        }
        if !r.catalog.ok {
            say!("CATALOG DAMAGED    {} failed PRAGMA quick_check:", r.catalog.database.display());
            for p in &r.catalog.problems {
                say!("    {p}");
            }
            eprintln!(
                "librarian: the catalog database is damaged: restore it from a backup \
                 (see docs/operations.md); nothing it says can be trusted"
            );
        }
        let bad = r.checked.iter().filter(|c| c.status != CheckStatus::Ok).count();
        if bad > 0 {
            say_err!("librarian: verify found {bad} bad instance(s) of {}", r.checked.len());
        } else {
            say!("{} instance(s) verified", r.checked.len());
        }
        Ok(())
    }

    pub fn status(&self, s: &SiteStatus, peers: &[serde_json::Value], globus: Option<&GlobusCheck>) -> Result<()> {
        if self.json {
            let mut v = serde_json::to_value(s)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("peers".into(), serde_json::Value::from(peers.to_vec()));
                if let Some(g) = globus {
                    o.insert("globus".into(), serde_json::to_value(g)?);
                }
            }
            return self.emit(&v);
        }
        say!("site {}: {} files, {}", s.site, s.files, bytes(s.bytes));
        say!("database {} (schema {})", s.database.display(), s.schema_version);
        if s.ingests_in_progress > 0 {
            say!("ingests in progress: {}", s.ingests_in_progress);
        }
        self.stores(&s.stores)?;
        if let Some(g) = globus {
            say!("{}", globus_line(g));
        }
        let mut t = Table::new(&[Align::Left]);
        for p in peers {
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            t.row([
                format!("peer {}", p["peer"].as_str().unwrap_or("")),
                format!(
                    "{}{}",
                    if p["transfers_enabled"] == true { "" } else { "[TRANSFERS DISABLED] " },
                    if p["sending"] == true { "[sending]" } else { "[not sending]" }
                ),
                format!(
                    "without a copy there: {} files, {}; {} transfer(s) active, {} call(s) queued",
                    n("files_without_copy"),
                    bytes(n("bytes_without_copy")),
                    n("active_transfers"),
                    n("queued_calls")
                ),
            ]);
        }
        t.print();
        Ok(())
    }

    pub fn cleanup(&self, removed: &[PathBuf]) -> Result<()> {
        if self.json {
            return self.emit(&serde_json::json!({ "removed": removed }));
        }
        say!("removed {} stale staging director{}", removed.len(), if removed.len() == 1 { "y" } else { "ies" });
        for p in removed {
            say!("  {}", p.display());
        }
        Ok(())
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn emit_value(&self, v: &serde_json::Value) -> Result<()> {
        self.emit(v)
    }

    pub fn account(&self, a: &Account) -> Result<()> {
        if self.json {
            return self.emit(a);
        }
        self.accounts(std::slice::from_ref(a))
    }

    pub fn accounts(&self, accounts: &[Account]) -> Result<()> {
        if self.json {
            return self.emit(&accounts);
        }
        let mut t = Table::new(&[Align::Left]);
        for a in accounts {
            let peer = a.peer.as_deref().map(|p| format!("peer {p}")).unwrap_or_default();
            t.row([a.name.clone(), a.level.as_str().to_owned(), peer, format!("created {}", a.created_at)]);
        }
        t.print();
        if accounts.is_empty() {
            say_err!("no accounts");
        }
        Ok(())
    }

    pub fn peer(&self, p: &Peer) -> Result<()> {
        if self.json {
            return self.emit(p);
        }
        self.peers(std::slice::from_ref(p))
    }

    pub fn peers(&self, peers: &[Peer]) -> Result<()> {
        if self.json {
            return self.emit(&peers);
        }
        let mut t = Table::new(&[Align::Left]);
        for p in peers {
            let state = if p.transfers_enabled { "transfers enabled" } else { "TRANSFERS DISABLED" };
            let protocol = match p.protocol {
                librarian_core::PeerProtocol::Librarian => String::new(),
                other => format!(" [speaks {other}]"),
            };
            t.row([p.name.clone(), p.url.to_string(), format!("as {}", p.account), format!("[{state}]{protocol}")]);
        }
        t.print();
        if peers.is_empty() {
            say_err!("no peers");
        }
        Ok(())
    }

    pub fn removed(&self, what: &str, name: &str) -> Result<()> {
        if self.json {
            return self.emit(&serde_json::json!({ "removed": { "kind": what, "name": name } }));
        }
        say!("removed {what} {name}");
        Ok(())
    }

    pub fn task_outcomes(&self, outcomes: &[TaskOutcome]) -> Result<()> {
        if self.json {
            return self.emit(&outcomes);
        }
        let mut t = Table::new(&[Align::Left]);
        for o in outcomes {
            let word = match o.status {
                TaskStatus::Ok => "ok",
                TaskStatus::Failed => "FAILED",
                TaskStatus::Degraded => "DEGRADED",
                TaskStatus::NotDue => "not due",
                TaskStatus::Busy => "busy",
                TaskStatus::Disabled => "disabled",
            };
            t.row([o.task.clone(), word.to_owned(), o.message.clone()]);
        }
        t.print();
        Ok(())
    }

    pub fn task_list(&self, lib: &Librarian, records: &[TaskRecord]) -> Result<()> {
        let rows: Vec<serde_json::Value> = TaskKind::ALL
            .iter()
            .map(|t| {
                let (every, enabled) = lib.task_schedule(*t);
                let rec = records.iter().find(|r| r.task == t.as_str());
                serde_json::json!({
                    "task": t.as_str(),
                    "every_seconds": every.as_secs(),
                    "enabled": enabled,
                    "last_started": rec.and_then(|r| r.last_started),
                    "last_finished": rec.and_then(|r| r.last_finished),
                    "last_result": rec.and_then(|r| r.last_ok).map(|ok| if ok { "ok" } else { "failed" }),
                    "last_message": rec.and_then(|r| r.last_message.clone()),
                    "running_until": rec.and_then(|r| r.lease_until),
                })
            })
            .collect();
        if self.json {
            return self.emit(&rows);
        }
        let mut t = Table::new(&[Align::Left]);
        for r in &rows {
            t.row([
                r["task"].as_str().unwrap_or("").to_owned(),
                format!(
                    "every {}",
                    librarian_core::format_interval(jiff::SignedDuration::from_secs(
                        r["every_seconds"].as_i64().unwrap_or(0)
                    ))
                ),
                (if r["enabled"] == true { "enabled" } else { "DISABLED" }).to_owned(),
                format!("last: {}", r["last_finished"].as_str().unwrap_or("never")),
                r["last_message"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        t.print();
        Ok(())
    }

    pub fn peer_ping(&self, p: &PeerPing, globus: Option<&GlobusCheck>) -> Result<()> {
        if self.json {
            let mut v = serde_json::to_value(p)?;
            if let (Some(o), Some(g)) = (v.as_object_mut(), globus) {
                o.insert("globus".into(), serde_json::to_value(g)?);
            }
            return self.emit(&v);
        }
        say!("{} at {}: librarian {}, our credentials accepted, ping {:.1} ms", p.site, p.url, p.version, p.latency_ms);
        if let Some(g) = globus {
            say!("{}", globus_line(g));
        }
        Ok(())
    }
}

/// The line `status` and `peer ping` print about the Globus credentials.
fn globus_line(g: &GlobusCheck) -> String {
    let what = match g.state {
        GlobusAuthState::Ok => "credentials work",
        GlobusAuthState::Refused => "CREDENTIALS REFUSED",
        GlobusAuthState::Unreachable => "GLOBUS AUTH UNREACHABLE",
        GlobusAuthState::Misconfigured => "CREDENTIALS UNREADABLE",
    };
    format!("globus: {what} (client {} at {}): {}", g.client_id, g.auth_url, g.detail)
}
