//! The fake Globus (`fake-globus`, built from `tests/fake-globus`) as a real process,
//! and two sites that clone through it with the Globus manager.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::pair::ClonePair;
use crate::{Site, write_secret};

/// The confidential client both sites use.
pub const CLIENT_ID: &str = "6f1c2b4e-5d3a-4c7b-9e8f-0a1b2c3d4e5f";
/// Its secret: must never appear in any output, log line, event or metric.
pub const CLIENT_SECRET: &str = "fake-globus-client-secret-e2e-4d1c";
/// A native app (refresh-token grant) the fake knows.
pub const NATIVE_CLIENT_ID: &str = "7e2d3c5f-6e4b-4d8c-8f90-1b2c3d4e5f60";
/// Its refresh token.
pub const REFRESH_TOKEN: &str = "fake-globus-refresh-token-e2e-9a7b";
/// The collection showing site A's stores.
pub const COLLECTION_A: &str = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa";
/// The collection showing site B's stores.
pub const COLLECTION_B: &str = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb";

/// The `fake-globus` binary: `$FAKE_GLOBUS_BIN`, else next to the `librarian` binary.
pub fn fake_globus_bin() -> PathBuf {
    let path = match std::env::var_os("FAKE_GLOBUS_BIN") {
        Some(p) => PathBuf::from(p),
        None => crate::librarian_bin().with_file_name("fake-globus"),
    };
    assert!(
        path.is_file(),
        "the fake-globus binary is missing at {}: run `cargo build -p fake-globus` first (or set FAKE_GLOBUS_BIN)",
        path.display()
    );
    path
}

/// A running `fake-globus`, killed when dropped.
#[derive(Debug)]
pub struct FakeGlobus {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    args: Vec<String>,
    _state_dir: tempfile::TempDir,
}

impl FakeGlobus {
    /// Start a fake with `collections` (UUID, directory shown as `/`) and the test
    /// client, keeping its tasks in a state file so a restart keeps them.
    pub fn start(collections: &[(&str, &Path)]) -> FakeGlobus {
        let state_dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
        for (id, dir) in collections {
            args.push("--collection".into());
            args.push(format!("{id}={}", dir.display()));
        }
        args.push("--client".into());
        args.push(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        args.push("--refresh-token".into());
        args.push(format!("{NATIVE_CLIENT_ID}:{REFRESH_TOKEN}"));
        args.push("--state".into());
        args.push(state_dir.path().join("state.json").display().to_string());
        let (child, url) = spawn(&args);
        FakeGlobus { child, url, args, _state_dir: state_dir }
    }

    /// Kill it and start it again on the same port with the same state file.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.url.rsplit(':').next().expect("port").to_owned();
        let mut args = self.args.clone();
        args[1] = format!("127.0.0.1:{port}");
        // The port was just freed; another process could take it, but on loopback in
        // a test run that does not happen in practice. Try a few times.
        for attempt in 0..50 {
            match try_spawn(&args) {
                Some((child, url)) => {
                    self.child = child;
                    assert_eq!(url, self.url, "restarted on the same port");
                    return;
                }
                None if attempt < 49 => std::thread::sleep(std::time::Duration::from_millis(100)),
                None => panic!("fake-globus did not restart on {}", self.url),
            }
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).build().into()
    }

    /// GET a control path; its JSON.
    pub fn get(&self, path: &str) -> Value {
        let mut resp = Self::agent().get(&format!("{}{path}", self.url)).call().expect("fake-globus answers");
        serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("JSON")
    }

    /// POST JSON to a control path.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let mut resp = Self::agent()
            .post(&format!("{}{path}", self.url))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("fake-globus answers");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().expect("body");
        assert!((200..300).contains(&status), "{path}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Every API request so far.
    pub fn log(&self) -> Vec<Value> {
        self.get("/_fake/log").as_array().cloned().expect("a list")
    }

    /// Every task.
    pub fn tasks(&self) -> Vec<Value> {
        self.get("/_fake/tasks").as_array().cloned().expect("a list")
    }

    /// Set the scenario of the tasks created from now on.
    pub fn scenario(&self, s: Value) {
        self.post("/_fake/scenario", &s);
    }

    /// Queue an injected answer.
    pub fn inject(&self, s: Value) {
        self.post("/_fake/inject", &s);
    }

    /// Resume every INACTIVE task.
    pub fn resume(&self) {
        self.post("/_fake/resume", &json!({}));
    }

    /// Every token issued so far stops working.
    pub fn revoke(&self) {
        self.post("/_fake/revoke", &json!({}));
    }

    /// The `POST /v0.10/transfer` requests so far, with their answers' statuses.
    pub fn submissions(&self) -> Vec<Value> {
        self.log().into_iter().filter(|r| r["method"] == "POST" && r["path"] == "/v0.10/transfer").collect()
    }
}

impl Drop for FakeGlobus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn try_spawn(args: &[String]) -> Option<(Child, String)> {
    let mut child = Command::new(fake_globus_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fake-globus");
    let mut line = String::new();
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let mut reader = BufReader::new(stdout);
    if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
        let _ = child.wait();
        return None;
    }
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Some((child, line.trim().to_owned()))
}

fn spawn(args: &[String]) -> (Child, String) {
    try_spawn(args).expect("fake-globus printed its URL")
}

/// The `[globus]` tables of a site whose store `main` is shown by `collection`
/// rooted at `<site>/stores`, with the secret in a 0600 file.
pub fn globus_config(site: &Site, fake: &FakeGlobus, collection: &str, extra: &str) -> String {
    let secret = site.tmp().join("globus-secret");
    write_secret(&secret, &format!("{CLIENT_SECRET}\n"));
    format!(
        "[globus]\nclient_id = {CLIENT_ID:?}\nclient_secret_file = {:?}\nauth_url = {:?}\ntransfer_url = {:?}\n{extra}\n\
         [globus.stores.main]\ncollection = {collection:?}\ncollection_root = {:?}\n",
        secret.display().to_string(),
        fake.url,
        fake.url,
        site.dir().join("stores").display().to_string(),
    )
}

/// Two sites that clone A → B with the Globus manager through one fake Globus.
#[derive(Debug)]
pub struct GlobusPair {
    /// The sites.
    pub pair: ClonePair,
    /// The fake.
    pub fake: FakeGlobus,
}

impl GlobusPair {
    /// Sites and fake; `a_globus` is added to A's `[globus]` table, `clone` to A's
    /// `[clone]` table.
    pub fn new(clone: &str, a_globus: &str) -> GlobusPair {
        let mut fake = None;
        let pair = ClonePair::new_with(
            &format!("managers = [\"globus\"]\n{clone}"),
            &format!("destination_root = \"globus:{COLLECTION_B}:/main/staging\""),
            |a, b| {
                let f = FakeGlobus::start(&[
                    (COLLECTION_A, &a.dir().join("stores")),
                    (COLLECTION_B, &b.dir().join("stores")),
                ]);
                let a_more = globus_config(a, &f, COLLECTION_A, a_globus);
                let b_more = format!("[clone]\nmanagers = [\"globus\"]\n{}", globus_config(b, &f, COLLECTION_B, ""));
                fake = Some(f);
                (a_more, b_more)
            },
        );
        GlobusPair { pair, fake: fake.expect("fake started") }
    }
}
