//! Starting the real `fake-globus` binary on a free port with two temporary
//! collections, and talking to it with `ureq`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const SRC: &str = "aa752cea-8222-5bc8-acd9-555b090c0ccb";
pub const DST: &str = "313ce13e-b597-5858-ae13-29e46fea26e6";
pub const CLIENT_ID: &str = "7d0f3a4e-6b0a-4b43-9d0c-0c4c4c2a1f11";
pub const CLIENT_SECRET: &str = "s3cret/with+odd=chars";
pub const OTHER_CLIENT_ID: &str = "other-client";
pub const OTHER_CLIENT_SECRET: &str = "other-secret";
pub const NATIVE_CLIENT_ID: &str = "5e1a7c2b-8f3d-4e6a-9b0c-1d2e3f4a5b6c";
pub const REFRESH_TOKEN: &str = "refresh-token-1";
pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";

/// What to start the fake with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub token_lifetime: Option<u64>,
    pub max_pending: Option<usize>,
    pub state: Option<PathBuf>,
}

/// A running fake with its two collection directories.
#[derive(Debug)]
pub struct Fake {
    child: Child,
    _stdout: ChildStdout,
    pub url: String,
    pub src: PathBuf,
    pub dst: PathBuf,
    /// Holds the collection directories (and anything else a test puts there).
    pub root: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// An answer: status, headers and body (JSON when it parses, else `Null`, with the
/// text kept).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn reply(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.expect("the request got an HTTP answer");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let text = response.body_mut().read_to_string().expect("a readable body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, text, json }
}

impl Fake {
    /// A fake in a fresh temporary directory.
    pub fn start() -> Fake {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Fake {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().to_path_buf();
        Self::start_in(&root, options, Some(dir))
    }

    /// A fake whose collections are `root/src` and `root/dst` (created if missing).
    pub fn start_in(root: &Path, options: Options, dir: Option<tempfile::TempDir>) -> Fake {
        let (src, dst) = (root.join("src"), root.join("dst"));
        std::fs::create_dir_all(&src).expect("src collection");
        std::fs::create_dir_all(&dst).expect("dst collection");
        let mut command = Command::new(env!("CARGO_BIN_EXE_fake-globus"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .arg("--collection")
            .arg(format!("{SRC}={}", src.display()))
            .arg("--collection")
            .arg(format!("{DST}={}", dst.display()))
            .args(["--client", &format!("{CLIENT_ID}:{CLIENT_SECRET}")])
            .args(["--client", &format!("{OTHER_CLIENT_ID}:{OTHER_CLIENT_SECRET}")])
            .args(["--refresh-token", &format!("{NATIVE_CLIENT_ID}:{REFRESH_TOKEN}")]);
        if let Some(seconds) = options.token_lifetime {
            command.args(["--token-lifetime", &seconds.to_string()]);
        }
        if let Some(n) = options.max_pending {
            command.args(["--max-pending", &n.to_string()]);
        }
        if let Some(state) = &options.state {
            command.arg("--state").arg(state);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("fake-globus starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("fake-globus prints its URL");
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "first line {url:?}");
        Fake { child, _stdout: stdout.into_inner(), url, src, dst, root: root.to_path_buf(), _dir: dir }
    }

    /// Stops the fake (as a crash would: SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = agent().get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        reply(request.call())
    }

    /// A GET with this exact `Authorization` header.
    pub fn get_with_authorization(&self, path: &str, authorization: &str) -> Reply {
        reply(agent().get(format!("{}{path}", self.url)).header("Authorization", authorization).call())
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut request = agent().post(format!("{}{path}", self.url)).content_type("application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        reply(request.send(body.to_string()))
    }

    /// `POST /v2/oauth2/token` with this form and optional Basic credentials.
    pub fn token_request(&self, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> Reply {
        let mut request =
            agent().post(format!("{}/v2/oauth2/token", self.url)).content_type("application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("Authorization", format!("Basic {encoded}"));
        }
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        reply(request.send(body.join("&")))
    }

    /// A fresh access token of the main confidential client.
    pub fn token(&self) -> String {
        self.token_of(CLIENT_ID, CLIENT_SECRET)
    }

    pub fn token_of(&self, id: &str, secret: &str) -> String {
        let reply =
            self.token_request(Some((id, secret)), &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)]);
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json["access_token"].as_str().expect("access_token").to_string()
    }

    /// A `/_fake/` control call that must succeed.
    pub fn control(&self, path: &str, body: &Value) -> Value {
        let reply = self.post_json(&format!("/_fake/{path}"), None, body);
        assert_eq!(reply.status, 200, "/_fake/{path}: {}", reply.text);
        reply.json
    }

    pub fn log(&self) -> Vec<Value> {
        self.get("/_fake/log", None).json.as_array().cloned().expect("the log is a list")
    }

    pub fn tasks(&self) -> Vec<Value> {
        self.get("/_fake/tasks", None).json.as_array().cloned().expect("the tasks are a list")
    }

    pub fn submission_id(&self, token: &str) -> String {
        let reply = self.get("/v0.10/submission_id", Some(token));
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json["value"].as_str().expect("value").to_string()
    }

    /// Submits `items` from the source to the destination collection with a fresh
    /// submission id; `extra` fields are merged into the document.
    pub fn submit(&self, token: &str, items: Value, extra: Value) -> Reply {
        let mut doc = transfer_document(&self.submission_id(token), items);
        if let Some(extra) = extra.as_object() {
            for (k, v) in extra {
                doc[k] = v.clone();
            }
        }
        self.post_json("/v0.10/transfer", Some(token), &doc)
    }

    /// Submits and returns the new task id (asserting 202 Accepted).
    pub fn submit_ok(&self, token: &str, items: Value, extra: Value) -> String {
        let reply = self.submit(token, items, extra);
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert_eq!(reply.json["code"], "Accepted");
        reply.json["task_id"].as_str().expect("task_id").to_string()
    }

    pub fn task(&self, token: &str, task_id: &str) -> Value {
        let reply = self.get(&format!("/v0.10/task/{task_id}"), Some(token));
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json
    }

    /// Polls the task until `done` holds (or panics after `timeout`).
    pub fn wait_for(&self, token: &str, task_id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let task = self.task(token, task_id);
            if done(&task) {
                return task;
            }
            assert!(start.elapsed() < timeout, "task never got there: {task:#}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Polls until the task is SUCCEEDED or FAILED.
    pub fn wait_terminal(&self, token: &str, task_id: &str) -> Value {
        self.wait_for(token, task_id, Duration::from_secs(20), |t| {
            t["status"] == "SUCCEEDED" || t["status"] == "FAILED"
        })
    }

    pub fn events(&self, token: &str, task_id: &str, query: &str) -> Reply {
        self.get(&format!("/v0.10/task/{task_id}/event_list{query}"), Some(token))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A transfer document from the source to the destination collection.
pub fn transfer_document(submission_id: &str, items: Value) -> Value {
    json!({
        "DATA_TYPE": "transfer",
        "submission_id": submission_id,
        "source_endpoint": SRC,
        "destination_endpoint": DST,
        "DATA": items,
    })
}

pub fn file_item(source: &str, destination: &str) -> Value {
    json!({"DATA_TYPE": "transfer_item", "source_path": source, "destination_path": destination, "recursive": false})
}

pub fn dir_item(source: &str, destination: &str) -> Value {
    json!({"DATA_TYPE": "transfer_item", "source_path": source, "destination_path": destination, "recursive": true})
}

/// Form-urlencodes one value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Writes `content` at `root/relative`, creating parents.
pub fn write(root: &Path, relative: &str, content: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("parents");
    std::fs::write(path, content).expect("write");
}

/// Every regular file below `dir` (relative path, bytes), sorted; symbolic links are
/// neither followed nor listed.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let (path, kind) = (entry.path(), entry.file_type().expect("file type"));
            if kind.is_symlink() {
                continue;
            } else if kind.is_dir() {
                walk(base, &path, out);
            } else {
                let relative = path.strip_prefix(base).expect("below base").to_string_lossy().into_owned();
                out.push((relative, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
