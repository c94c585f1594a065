//! `librarian serve`, the HTTP shim, end to end: real server processes on 127.0.0.1
//! (port 0), spoken to by a tiny HTTP/1.1 client written here over `TcpStream`, so
//! that requests can also be malformed, sent as raw bytes, trickled or left half-sent.
//!
//! The contract under test: Basic auth against the site's accounts (401 with
//! `WWW-Authenticate`, 403 for a level that is not enough, a `callback` account only
//! on callback endpoints), JSON errors `{"error": {"code", "message"}}` with the right
//! status and never a 500 for a client's mistake, a body limit (413), read timeouts
//! that drop silent clients without stopping anyone else, a graceful exit 0 on
//! SIGTERM/SIGINT, a credential cache that never accepts a removed or changed
//! account or a wrong password, no secret in any response, log or `/metrics`, and
//! Prometheus metrics.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use librarian_e2e::*;
use serde_json::Value;

const PING: &str = "/api/v1/ping";
const STATUS: &str = "/api/v1/status";
const HAS: &str = "/api/v1/files/has";
const METRICS: &str = "/metrics";

/// `max_body_bytes` in every test site.
const LIMIT: usize = 65536;
/// `io_timeout_secs` in every test site.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the test client waits on a socket before calling the server hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a SIGTERM/SIGINT may take to stop the server.
const STOP_LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// Sites, accounts, peers
// ---------------------------------------------------------------------------------

/// A site whose `librarian.toml` gets a `[server]` table with the test limits, plus
/// `extra` lines.
fn serve_site(name: &str, extra: &str) -> Site {
    site_with_server_table(
        name,
        &format!("max_body_bytes = {LIMIT}\nio_timeout_secs = {}\n{extra}", IO_TIMEOUT.as_secs()),
    )
}

/// A site whose `librarian.toml` ends with `[server]` and `lines`.
fn site_with_server_table(name: &str, lines: &str) -> Site {
    let site = Site::named(name);
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}\n[server]\n{lines}")).unwrap();
    site
}

fn secret_file(site: &Site, secret: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = site.tmp().join(format!("secret-{}.pw", N.fetch_add(1, Ordering::Relaxed)));
    write_secret(&p, &format!("{secret}\n"));
    p
}

/// `account add NAME --level LEVEL [--for-peer PEER] --password-file F`.
fn add_account(site: &Site, name: &str, level: &str, peer: Option<&str>, password: &str) -> Outcome {
    let pw = secret_file(site, password);
    let mut cmd = site.cmd();
    cmd.args(["--json", "account", "add", name, "--level", level]);
    if let Some(p) = peer {
        cmd.args(["--for-peer", p]);
    }
    let out = run_outcome(cmd.arg("--password-file").arg(pw));
    out.ok();
    out
}

/// `peer add NAME --url https://NAME.example:8443 --account ACCOUNT --password-file F`.
fn add_peer(site: &Site, name: &str, account: &str, password: &str) -> Outcome {
    let pw = secret_file(site, password);
    let url = format!("https://{name}.example:8443");
    let out = run_outcome(
        site.cmd()
            .args(["--json", "peer", "add", name, "--url", &url, "--account", account])
            .arg("--password-file")
            .arg(pw),
    );
    out.ok();
    out
}

/// Upload `text` as `name`; returns the file's checksum.
fn upload_text(site: &Site, name: &str, text: &str) -> String {
    let src = site.src(&name.replace('/', "_"));
    write_text(&src, text);
    let out = site.upload(&src, name, &[]);
    out.ok();
    out.json()["file"]["checksum"].as_str().unwrap().to_owned()
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

// ---------------------------------------------------------------------------------
// A tiny HTTP/1.1 client
// ---------------------------------------------------------------------------------

/// Standard base64 with padding (for Basic auth).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    s.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(s)
}

/// One request, built up and sent with `Connection: close`.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    chunked: bool,
    keep_alive: bool,
}

impl Req {
    fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            chunked: false,
            keep_alive: false,
        }
    }

    /// Leave out `Connection: close` (for [`Req::send_on`]).
    fn keep_alive(mut self) -> Req {
        self.keep_alive = true;
        self
    }

    /// Send on an open connection and read the response.
    fn send_on(&self, s: &mut TcpStream, addr: SocketAddr) -> io::Result<Response> {
        let mut bytes = self.head_bytes(addr);
        bytes.extend_from_slice(&self.body_bytes());
        s.write_all(&bytes)?;
        read_response(s)
    }

    fn get(path: &str) -> Req {
        Req::new("GET", path)
    }

    fn post(path: &str) -> Req {
        Req::new("POST", path)
    }

    fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn auth(self, user: &str, password: &str) -> Req {
        self.header("Authorization", &basic(user, password))
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = Some(body.into());
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    fn json(self, body: &str) -> Req {
        self.header("Content-Type", "application/json").body(body)
    }

    /// Send the body with `Transfer-Encoding: chunked` (8 KiB chunks) instead of a
    /// `Content-Length`.
    fn chunked(mut self) -> Req {
        self.chunked = true;
        self
    }

    /// The head alone (request line and headers, through the blank line).
    fn head_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut h = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", self.method, self.path);
        if !self.keep_alive {
            h.push_str("Connection: close\r\n");
        }
        for (k, v) in &self.headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        match (&self.body, self.chunked) {
            (Some(_), true) => h.push_str("Transfer-Encoding: chunked\r\n"),
            (Some(b), false) => h.push_str(&format!("Content-Length: {}\r\n", b.len())),
            (None, _) => {}
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    /// The body as sent on the wire.
    fn body_bytes(&self) -> Vec<u8> {
        let Some(body) = &self.body else { return Vec::new() };
        if !self.chunked {
            return body.clone();
        }
        let mut out = Vec::new();
        for c in body.chunks(8192) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    fn try_send(&self, addr: SocketAddr) -> io::Result<Response> {
        let mut bytes = self.head_bytes(addr);
        bytes.extend_from_slice(&self.body_bytes());
        exchange(addr, bytes)
    }

    #[track_caller]
    fn send(&self, addr: SocketAddr) -> Response {
        match self.try_send(addr) {
            Ok(r) => r,
            Err(e) => panic!("{} {}: no complete response: {e}", self.method, self.path),
        }
    }
}

/// Connect, write `bytes` (on a thread, so that a server answering before it has read
/// everything is heard), read one response.
fn exchange(addr: SocketAddr, bytes: Vec<u8>) -> io::Result<Response> {
    let mut s = connect(addr)?;
    let mut w = s.try_clone()?;
    let writer = thread::spawn(move || w.write_all(&bytes).and_then(|()| w.flush()));
    let resp = read_response(&mut s);
    let _ = s.shutdown(Shutdown::Both);
    let wrote = writer.join().unwrap_or(Ok(()));
    resp.map_err(|e| io::Error::new(e.kind(), format!("{e} (writing the request: {wrote:?})")))
}

/// A parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = self.text();
        let cut: String = body.chars().take(2000).collect();
        write!(f, "{}\r\n\r\n{cut}{}", self.head, if cut.len() < body.len() { " [...]" } else { "" })
    }
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Head and body, for secret scans.
    fn everything(&self) -> String {
        format!("{}\r\n\r\n{}", self.head, self.text())
    }

    #[track_caller]
    fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("the response body is not JSON ({e}):\n{self}"),
        }
    }

    /// Panic unless 200 with a JSON body; the body.
    #[track_caller]
    fn ok_json(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got:\n{self}");
        self.json()
    }

    /// Panic unless this is the JSON error `code` with `status` (and, for 401, the
    /// `WWW-Authenticate` challenge); returns the message.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str, ctx: &str) -> String {
        assert_eq!(self.status, status, "{ctx}: expected {status} `{code}`, got:\n{self}");
        let ct = self.header("Content-Type").unwrap_or("");
        assert!(
            ct.to_ascii_lowercase().starts_with("application/json"),
            "{ctx}: an error response must have Content-Type: application/json, got:\n{self}"
        );
        let v = self.json();
        assert_eq!(v["error"]["code"].as_str(), Some(code), "{ctx}: wrong error code in:\n{self}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{ctx}: error without a message:\n{self}");
        if status == 401 {
            let challenge = self.header("WWW-Authenticate").unwrap_or("");
            assert!(
                challenge.starts_with("Basic realm=\"librarian\""),
                "{ctx}: a 401 needs `WWW-Authenticate: Basic realm=\"librarian\"`, got:\n{self}"
            );
        }
        msg.to_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read more bytes into `buf`; `Ok(0)` at end of stream.
fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16384];
    loop {
        match s.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn eof(what: &str, got: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed {what}; received {:?}", String::from_utf8_lossy(got)),
    )
}

/// A complete chunked body in `data`, decoded; `None` while incomplete.
fn dechunk(data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed chunked response body");
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = find(&data[pos..], b"\r\n") else { return Ok(None) };
        let line = String::from_utf8_lossy(&data[pos..pos + eol]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        pos += eol + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            return Ok(find(&data[pos..], b"\r\n").map(|_| out));
        }
        if data.len() < pos + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[pos..pos + size]);
        if &data[pos + size..pos + size + 2] != b"\r\n" {
            return Err(bad());
        }
        pos += size + 2;
    }
}

/// Read one response (skipping any 1xx).
fn read_response(s: &mut TcpStream) -> io::Result<Response> {
    read_response_buffered(s, &mut Vec::new())
}

/// [`read_response`] for pipelined answers: starts with the bytes in `carry` (read
/// earlier past a previous response) and leaves there what it reads past this one.
fn read_response_buffered(s: &mut TcpStream, carry: &mut Vec<u8>) -> io::Result<Response> {
    let mut buf = std::mem::take(carry);
    loop {
        let end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            if read_more(s, &mut buf)? == 0 {
                return Err(eof("before a complete response head", &buf));
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut rest = buf.split_off(end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}")))?;
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        if (100..200).contains(&status) {
            buf = rest;
            continue;
        }
        let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let body = if get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            loop {
                if let Some(b) = dechunk(&rest)? {
                    break b;
                }
                if read_more(s, &mut rest)? == 0 {
                    return Err(eof("inside a chunked body", &rest));
                }
            }
        } else if let Some(len) = get("Content-Length") {
            let len: usize = len
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad Content-Length {len:?}")))?;
            while rest.len() < len {
                if read_more(s, &mut rest)? == 0 {
                    return Err(eof(&format!("after {} of {len} body bytes", rest.len()), &rest));
                }
            }
            *carry = rest.split_off(len);
            rest
        } else {
            while read_more(s, &mut rest)? > 0 {}
            rest
        };
        return Ok(Response { status, head, headers, body });
    }
}

/// Whether the server has closed `s` by `deadline` (EOF or a reset; any bytes it sent
/// first, such as a 408, are read and ignored). `Err` carries what was read.
fn closed_by(s: &mut TcpStream, deadline: Instant) -> Result<(), String> {
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("still open; it sent {:?}", String::from_utf8_lossy(&got)));
        }
        s.set_read_timeout(Some(left)).unwrap();
        match read_more(s, &mut got) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return Ok(()),
        }
    }
}

/// Whether `s` is still open with nothing to read (a non-blocking peek would block).
fn still_open_and_silent(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!(s.peek(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

/// `POST /api/v1/files/has` with a JSON body, as `user`.
fn has(addr: SocketAddr, user: &str, password: &str, body: &str) -> Response {
    Req::post(HAS).auth(user, password).json(body).send(addr)
}

// ---------------------------------------------------------------------------------
// 1. Ping, authentication, levels
// ---------------------------------------------------------------------------------

const READER_PW: &str = "reader-Qv37-password";
const BOSS_PW: &str = "boss-Tn52-password";
const APPEND_PW: &str = "append-Rw18-password";
const CB_PW: &str = "callback-Hd64-password";
const PEER_PW: &str = "peer-Yc09-password";

#[test]
fn ping_is_open_status_needs_valid_credentials_and_enough_level() {
    // Many wrong passwords follow from one address: no back-off here (it has its
    // own tests in hostile/http.rs).
    let site = serve_site("serve-auth", "auth_free_failures = 1000\n");
    upload_text(&site, "2026/obs.dat", "photons\n");
    add_account(&site, "reader", "read-only", None, READER_PW);
    add_account(&site, "boss", "admin", None, BOSS_PW);
    add_account(&site, "pipeline", "read-append", None, APPEND_PW);
    add_peer(&site, "site-b", "serve-auth", PEER_PW);
    add_account(&site, "cb", "callback", Some("site-b"), CB_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;

    let ping = Req::get(PING).send(addr).ok_json();
    assert_eq!((ping["site"].as_str(), ping["version"].as_str()), (Some("serve-auth"), Some("0.1.0")), "{ping}");
    assert_eq!(ping["features"], serde_json::json!(["stage_created_at"]), "{ping}");

    // No credentials, a wrong password (also: empty, another account's, a prefix and
    // an extension of the right one), an unknown account: 401 `unauthorized`.
    let short = &READER_PW[..READER_PW.len() - 1];
    let long = format!("{READER_PW}x");
    let refused = [
        ("no credentials", Req::get(STATUS)),
        ("wrong password", Req::get(STATUS).auth("reader", "wrong")),
        ("empty password", Req::get(STATUS).auth("reader", "")),
        ("another account's password", Req::get(STATUS).auth("reader", BOSS_PW)),
        ("the password less its last character", Req::get(STATUS).auth("reader", short)),
        ("the password plus a character", Req::get(STATUS).auth("reader", &long)),
        ("unknown account", Req::get(STATUS).auth("nobody", READER_PW)),
        ("the peer's name and password (a peer is not an account)", Req::get(STATUS).auth("site-b", PEER_PW)),
        ("callback account with a wrong password", Req::get(STATUS).auth("cb", "wrong")),
    ];
    for (what, req) in refused {
        req.send(addr).expect_error(401, "unauthorized", what);
    }

    // A malformed Authorization header is the client's mistake: 400.
    for (what, value) in [
        ("Basic with invalid base64", "Basic !!!not*base64!!!".to_owned()),
        ("Basic without a colon", format!("Basic {}", base64(b"readernocolon"))),
        ("Basic with a non-UTF-8 user", format!("Basic {}", base64(b"\xff\xfe:pw"))),
    ] {
        Req::get(STATUS).header("Authorization", &value).send(addr).expect_error(400, "bad_request", what);
    }
    // An unsupported scheme: refused with a JSON error either way.
    let bearer = Req::get(STATUS).header("Authorization", "Bearer abc.def").send(addr);
    match bearer.status {
        400 => bearer.expect_error(400, "bad_request", "Bearer scheme"),
        _ => bearer.expect_error(401, "unauthorized", "Bearer scheme"),
    };

    // Every level from read-only up may read the status.
    for (user, pw) in [("reader", READER_PW), ("pipeline", APPEND_PW), ("boss", BOSS_PW)] {
        let st = Req::get(STATUS).auth(user, pw).send(addr).ok_json();
        assert_eq!(st["site"], "serve-auth", "{user}: {st}");
        assert_eq!(st["files"], 1, "{user}: {st}");
        assert_eq!(st["bytes"], 8, "{user}: {st}");
        let stores = st["stores"].as_array().unwrap_or_else(|| panic!("no stores array: {st}"));
        assert_eq!(stores.len(), 1, "{st}");
        assert_eq!((stores[0]["name"].as_str(), stores[0]["files"].as_u64()), (Some("main"), Some(1)), "{st}");
        assert_eq!(stores[0]["used_bytes"], 8, "{st}");
        assert!(stores[0]["free_bytes"].as_u64().is_some_and(|f| f > 0), "{st}");
    }

    // The count is live: an upload through the CLI while the server runs shows up.
    upload_text(&site, "2026/obs2.dat", "more photons\n");
    let st = Req::get(STATUS).auth("reader", READER_PW).send(addr).ok_json();
    assert_eq!((st["files"].as_u64(), st["bytes"].as_u64()), (Some(2), Some(8 + 13)), "{st}");

    // A callback account is authenticated but may use no other endpoint.
    Req::get(STATUS).auth("cb", CB_PW).send(addr).expect_error(403, "forbidden", "callback account on /status");
    has(addr, "cb", CB_PW, r#"{"name": "2026/obs.dat"}"#).expect_error(
        403,
        "forbidden",
        "callback account on /files/has",
    );
    srv.stop_within(STOP_LIMIT);
}

// ---------------------------------------------------------------------------------
// 2. POST /api/v1/files/has and bad requests
// ---------------------------------------------------------------------------------

#[test]
fn files_has_answers_and_refuses_bad_requests_with_json_errors() {
    let site = serve_site("serve-has", "");
    let sum = upload_text(&site, "2026/obs.dat", "photons\n");
    add_account(&site, "reader", "read-only", None, READER_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;
    let q = |body: &str| has(addr, "reader", READER_PW, body);

    let other = format!("blake3:{}", "0".repeat(64));
    assert_ne!(sum, other);
    let v = q(&format!(r#"{{"name": "2026/obs.dat", "checksum": "{sum}"}}"#)).ok_json();
    assert_eq!(
        (&v["name"], &v["present"], v["checksum"].as_str(), &v["matches"]),
        (&Value::from("2026/obs.dat"), &Value::Bool(true), Some(sum.as_str()), &Value::Bool(true)),
        "present, same checksum: {v}"
    );
    let v = q(&format!(r#"{{"name": "2026/obs.dat", "checksum": "{other}"}}"#)).ok_json();
    assert_eq!(
        (&v["present"], v["checksum"].as_str(), &v["matches"]),
        (&Value::Bool(true), Some(sum.as_str()), &Value::Bool(false)),
        "present, other checksum: {v}"
    );
    let v = q(r#"{"name": "2026/obs.dat"}"#).ok_json();
    assert_eq!(
        (&v["present"], v["checksum"].as_str(), &v["matches"]),
        (&Value::Bool(true), Some(sum.as_str()), &Value::Null),
        "present, no checksum asked: {v}"
    );
    let v = q(&format!(r#"{{"name": "2026/absent.dat", "checksum": "{sum}"}}"#)).ok_json();
    assert_eq!(
        (&v["name"], &v["present"], &v["checksum"], &v["matches"]),
        (&Value::from("2026/absent.dat"), &Value::Bool(false), &Value::Null, &Value::Null),
        "absent: {v}"
    );

    // Malformed, wrongly typed or incomplete JSON, a wrong or missing content type,
    // an invalid name: 400 `bad_request`.
    let good = r#"{"name": "2026/obs.dat"}"#;
    let bad_json: [(&str, Req); 14] = [
        ("truncated JSON", Req::post(HAS).json(r#"{"name": "#)),
        ("not JSON at all", Req::post(HAS).json("name=2026/obs.dat")),
        ("empty body", Req::post(HAS).json("")),
        (
            "non-UTF-8 body",
            Req::post(HAS).header("Content-Type", "application/json").body(b"{\"name\": \"\xff\xfe\"}".to_vec()),
        ),
        ("a JSON array", Req::post(HAS).json("[]")),
        ("a JSON string", Req::post(HAS).json(r#""2026/obs.dat""#)),
        ("missing name", Req::post(HAS).json("{}")),
        ("name is a number", Req::post(HAS).json(r#"{"name": 5}"#)),
        ("name is null", Req::post(HAS).json(r#"{"name": null}"#)),
        ("checksum is a number", Req::post(HAS).json(r#"{"name": "2026/obs.dat", "checksum": 7}"#)),
        ("invalid name ../x", Req::post(HAS).json(r#"{"name": "../x"}"#)),
        ("invalid name /etc/passwd", Req::post(HAS).json(r#"{"name": "/etc/passwd"}"#)),
        ("Content-Type text/plain", Req::post(HAS).header("Content-Type", "text/plain").body(good)),
        ("no Content-Type", Req::post(HAS).body(good)),
    ];
    for (what, req) in bad_json {
        req.auth("reader", READER_PW).send(addr).expect_error(400, "bad_request", what);
    }

    // The body limit is max_body_bytes (65536): exactly that much is accepted, one
    // byte more is 413 `too_large`, with a Content-Length and chunked.
    let padded = |len: usize| {
        let skeleton = r#"{"name": "2026/obs.dat"}"#;
        let body = format!("{}{}}}", &skeleton[..skeleton.len() - 1], " ".repeat(len - skeleton.len()));
        assert_eq!(body.len(), len);
        body
    };
    let at = q(&padded(LIMIT));
    assert_eq!(at.ok_json()["present"], true, "a body of exactly max_body_bytes must be accepted:\n{at}");
    has(addr, "reader", READER_PW, &padded(LIMIT + 1)).expect_error(413, "too_large", "body one byte over the limit");
    has(addr, "reader", READER_PW, &padded(4 * LIMIT)).expect_error(413, "too_large", "body four times the limit");
    let small_chunked = Req::post(HAS).auth("reader", READER_PW).json(good).chunked().send(addr);
    assert_eq!(small_chunked.ok_json()["present"], true, "a small chunked body must be accepted:\n{small_chunked}");
    Req::post(HAS).auth("reader", READER_PW).json(&padded(LIMIT + 1)).chunked().send(addr).expect_error(
        413,
        "too_large",
        "chunked body one byte over the limit",
    );
    Req::post(HAS).auth("reader", READER_PW).json(&padded(8 * LIMIT)).chunked().send(addr).expect_error(
        413,
        "too_large",
        "chunked body eight times the limit",
    );
    // A Content-Length over the limit is refused from the header, before any body.
    let mut s = connect(addr).unwrap();
    let head = format!(
        "POST {HAS} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        basic("reader", READER_PW),
        100 * LIMIT
    );
    s.write_all(head.as_bytes()).unwrap();
    let asked = Instant::now();
    let early =
        read_response(&mut s).unwrap_or_else(|e| panic!("no answer to a huge Content-Length without a body: {e}"));
    early.expect_error(413, "too_large", "Content-Length over the limit, body not sent");
    let took = asked.elapsed();
    assert!(took < IO_TIMEOUT / 2, "the 413 came only after {took:?}: the server waited for the body");

    // Unknown paths: 404; known path, wrong method: 405.
    for path in ["/api/v1/nope", "/", "/api/v1", "/api/v1/ping/extra", "/api/v3/ping", "/api/v2/upload/stage"] {
        Req::get(path).auth("reader", READER_PW).send(addr).expect_error(404, "unknown_endpoint", path);
    }
    // The original Librarian's /api/v2 (for peers still running it) takes POST only.
    Req::get("/api/v2/ping").auth("reader", READER_PW).send(addr).expect_error(405, "method_not_allowed", "v2 GET");
    Req::post("/api/v1/nope").auth("reader", READER_PW).json(good).send(addr).expect_error(
        404,
        "unknown_endpoint",
        "POST to an unknown path",
    );
    Req::get(HAS).auth("reader", READER_PW).send(addr).expect_error(405, "method_not_allowed", "GET /files/has");
    Req::post(PING).json("{}").send(addr).expect_error(405, "method_not_allowed", "POST /ping");
    Req::new("DELETE", STATUS).auth("reader", READER_PW).send(addr).expect_error(
        405,
        "method_not_allowed",
        "DELETE /status",
    );

    // Garbage on the wire: no answer (a closed connection) or a JSON error with a 4xx
    // status (every error response is JSON; never a 5xx), and the server keeps serving.
    let garbage: [(&str, &[u8]); 7] = [
        ("binary noise", b"\x00\x01\x02\xff\xfe garbage\r\n\r\n"),
        ("no HTTP version", b"GET /api/v1/ping\r\n\r\n"),
        ("unknown HTTP version", b"GET /api/v1/ping HTTP/3.7\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("header without a colon", b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
        ("unknown Expect", b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n"),
        ("bad Content-Length", b"POST /api/v1/files/has HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        ("negative Content-Length", b"POST /api/v1/files/has HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ];
    let mut wrong = Vec::new();
    for (what, bytes) in garbage {
        let Ok(r) = exchange(addr, bytes.to_vec()) else { continue };
        let code =
            serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
        let json = r.header("Content-Type").is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
        if !(400..500).contains(&r.status) || !json || code.is_none() {
            wrong.push(format!("{what} ({:?}):\n{r}", String::from_utf8_lossy(bytes)));
        }
    }
    assert!(wrong.is_empty(), "answers to malformed requests that are not 4xx JSON errors:\n\n{}", wrong.join("\n\n"));
    assert_eq!(Req::get(PING).send(addr).status, 200, "the server stopped serving after garbage");
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn absurd_chunk_sizes_are_refused_without_a_panic() {
    let site = serve_site("serve-chunks", "");
    add_account(&site, "reader", "read-only", None, READER_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;
    let cases = [
        ("2^64-1 after one byte", "1\r\n{\r\nffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        ("2^64-16 after one byte", "1\r\n{\r\nfffffffffffffff0\r\nabc\r\n0\r\n\r\n"),
        ("2^64-1 first", "ffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        ("more than 64 bits", "1\r\n{\r\n10000000000000000\r\nabc\r\n0\r\n\r\n"),
        ("negative", "1\r\n{\r\n-1\r\nabc\r\n0\r\n\r\n"),
        ("not hex", "1\r\n{\r\nzz\r\nabc\r\n0\r\n\r\n"),
        ("empty size line", "1\r\n{\r\n\r\nabc\r\n0\r\n\r\n"),
        ("chunk longer than its size", "1\r\n{\"name\"\r\n0\r\n\r\n"),
    ];
    let mut wrong = Vec::new();
    for (what, body) in cases {
        let head = format!(
            "POST {HAS} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            basic("reader", READER_PW)
        );
        let answer = exchange(addr, format!("{head}{body}").into_bytes());
        let ok = answer.as_ref().is_ok_and(|r| {
            let code = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
            matches!((r.status, code.as_deref()), (400, Some("bad_request")) | (413, Some("too_large")))
        });
        if !ok {
            match answer {
                Ok(r) => wrong.push(format!("{what} ({body:?}):\n{r}")),
                Err(e) => wrong.push(format!("{what} ({body:?}): no response: {e}")),
            }
        }
    }
    let mut srv = srv;
    srv.assert_running("after absurd chunk sizes");
    assert!(
        wrong.is_empty(),
        "chunked bodies not refused with 400/413:\n\n{}\n--- server stderr\n{}",
        wrong.join("\n\n"),
        srv.stderr_text()
    );
    assert_eq!(Req::get(PING).send(addr).status, 200);
    // A connection thread that panicked shows here as a non-zero exit.
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn keep_alive_connections_serve_several_requests_and_do_not_delay_a_stop() {
    // io_timeout_secs = 30: an idle keep-alive connection must not hold up SIGTERM.
    let site = site_with_server_table("serve-keepalive", "io_timeout_secs = 30\n");
    upload_text(&site, "2026/obs.dat", "photons\n");
    add_account(&site, "reader", "read-only", None, READER_PW);
    let mut srv = Server::start(&site);
    let addr = srv.addr;
    let mut s = connect(addr).unwrap();
    let on = |s: &mut TcpStream, req: Req, what: &str| match req.keep_alive().send_on(s, addr) {
        Ok(r) => r,
        Err(e) => panic!("{what} on a kept-alive connection: {e}"),
    };
    assert_eq!(on(&mut s, Req::get(PING), "ping").ok_json()["site"], "serve-keepalive");
    assert_eq!(on(&mut s, Req::get(STATUS).auth("reader", READER_PW), "status").ok_json()["files"], 1);
    let r = on(&mut s, Req::post(HAS).auth("reader", READER_PW).json(r#"{"name": "2026/obs.dat"}"#), "has");
    assert_eq!(r.ok_json()["present"], true);
    on(&mut s, Req::get("/nope"), "unknown path").expect_error(
        404,
        "unknown_endpoint",
        "404 on a kept-alive connection",
    );
    on(&mut s, Req::get(STATUS), "no credentials").expect_error(401, "unauthorized", "401 on a kept-alive connection");
    assert_eq!(on(&mut s, Req::get(PING), "ping after errors").status, 200);

    // Two requests written at once (pipelined) get two responses, in order.
    let mut both = Req::get(STATUS).auth("reader", READER_PW).keep_alive().head_bytes(addr);
    both.extend_from_slice(&Req::get(PING).keep_alive().head_bytes(addr));
    s.write_all(&both).unwrap();
    let mut carry = Vec::new();
    let first = read_response_buffered(&mut s, &mut carry).unwrap();
    let second = read_response_buffered(&mut s, &mut carry).unwrap();
    assert_eq!(first.ok_json()["files"], 1, "{first}");
    assert_eq!(second.ok_json()["site"], "serve-keepalive", "{second}");

    // Connection: close is honoured.
    let mut c = connect(addr).unwrap();
    assert_eq!(Req::get(PING).send_on(&mut c, addr).unwrap().status, 200);
    if let Err(e) = closed_by(&mut c, Instant::now() + Duration::from_secs(5)) {
        panic!("the server kept the connection open after `Connection: close`: {e}");
    }

    // SIGTERM with `s` idle between requests: exit 0 promptly, `s` closed.
    thread::sleep(Duration::from_millis(200));
    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(STOP_LIMIT);
    assert!(
        status.is_some(),
        "no exit within {STOP_LIMIT:?} of SIGTERM with an idle keep-alive connection open (io_timeout_secs = 30)"
    );
    assert_eq!(status.unwrap().code(), Some(0), "--- stderr\n{}", srv.stderr_text());
    if let Err(e) = closed_by(&mut s, Instant::now() + Duration::from_secs(2)) {
        panic!("the idle keep-alive connection outlived the server: {e}");
    }
}

// ---------------------------------------------------------------------------------
// 3. Slow and silent clients
// ---------------------------------------------------------------------------------

#[test]
fn silent_clients_do_not_block_others_and_are_dropped_after_the_io_timeout() {
    let site = serve_site("serve-slow", "");
    let mut srv = Server::start(&site);
    let addr = srv.addr;

    let t0 = Instant::now();
    let mut stalled: Vec<(String, TcpStream)> = Vec::new();
    for i in 0..10 {
        stalled.push((format!("silent client {i}"), connect(addr).unwrap()));
    }
    for i in 0..2 {
        let mut s = connect(addr).unwrap();
        s.write_all(format!("GET {PING} HTTP/1.1\r\nHost: {addr}\r\nX-Half: ").as_bytes()).unwrap();
        stalled.push((format!("half-header client {i}"), s));
    }
    thread::sleep(Duration::from_millis(200));

    // An eleventh client, then eight at once, are served while all twelve hang on.
    let started = Instant::now();
    let r = Req::get(PING).send(addr);
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{r}");
    assert!(took < Duration::from_secs(5), "the 11th client waited {took:?} for a ping");
    let pings: Vec<JoinHandle<(io::Result<u16>, Duration)>> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                let t = Instant::now();
                (Req::get(PING).try_send(addr).map(|r| r.status), t.elapsed())
            })
        })
        .collect();
    for p in pings {
        let (status, took) = p.join().unwrap();
        assert_eq!(status.as_ref().ok(), Some(&200), "a concurrent ping: {status:?}");
        assert!(took < Duration::from_secs(5), "a concurrent ping waited {took:?}");
    }
    // All of that happened while the twelve were still held open, not after the
    // server dropped them at io_timeout_secs.
    let served_by = t0.elapsed();
    assert!(
        served_by < IO_TIMEOUT - Duration::from_millis(300),
        "the other clients were served only {served_by:?} after the stalled connections were opened \
         (io_timeout_secs = 2): they waited for the stalled ones to be dropped"
    );
    for (what, s) in &stalled {
        assert!(still_open_and_silent(s), "{what} was closed (or answered) before io_timeout_secs");
    }

    // After io_timeout_secs (2 s) the server closes them (allow up to 10 s).
    let deadline = t0 + Duration::from_secs(10);
    for (what, s) in &mut stalled {
        if let Err(e) = closed_by(s, deadline) {
            panic!("{what}: not closed by the server within 10 s (io_timeout_secs = 2): {e}");
        }
    }
    srv.assert_running("after the stalled connections were closed");
    assert_eq!(Req::get(PING).send(addr).status, 200);
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn an_idle_server_keeps_accepting_connections() {
    // io_timeout_secs bounds how long a connection may stay silent; it must not
    // also bound how long the listener may wait for the next connection.
    let site = serve_site("serve-idle", "");
    let mut srv = Server::start(&site);
    assert_eq!(Req::get(PING).send(srv.addr).status, 200);
    for round in 1..=2 {
        thread::sleep(IO_TIMEOUT + Duration::from_millis(700));
        srv.assert_running("idle server");
        match Req::get(PING).try_send(srv.addr) {
            Ok(r) => assert_eq!(r.status, 200, "ping after {round} idle spell(s) longer than io_timeout_secs:\n{r}"),
            Err(e) => panic!(
                "ping after {round} idle spell(s) longer than io_timeout_secs (2 s) with no connection: {e}\n--- server stderr\n{}",
                srv.stderr_text()
            ),
        }
    }
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn listen_comes_from_the_config_unless_overridden_and_unknown_keys_are_refused() {
    // `listen` in the config, no --listen.
    let site = serve_site("serve-listen", "listen = \"127.0.0.1:0\"\n");
    let srv = Server::spawn(&site, &[], &["serve"]);
    assert_eq!(srv.addr.ip(), std::net::Ipv4Addr::LOCALHOST, "the configured address");
    assert_eq!(Req::get(PING).send(srv.addr).ok_json()["site"], "serve-listen");
    srv.stop_within(STOP_LIMIT);

    // An address this host does not have in the config: --listen wins.
    let site = serve_site("serve-override", "listen = \"192.0.2.1:8420\"\n");
    let srv = Server::start(&site);
    assert_eq!(Req::get(PING).send(srv.addr).ok_json()["site"], "serve-override");
    srv.stop_within(STOP_LIMIT);

    // A typo in [server] is an error, not a silent default.
    let site = serve_site("serve-typo", "max_body_byte = 10\n");
    let out = run_outcome(site.cmd().args(["--json", "serve", "--listen", "127.0.0.1:0"]));
    let msg = out.expect_error(1, "config");
    assert!(msg.contains("max_body_byte"), "{out}");
}

#[test]
fn serve_json_prints_one_json_line_with_the_address() {
    // Scripts start `serve --json` and read its first line as JSON.
    let site = serve_site("serve-json", "");
    let srv = Server::spawn(&site, &[], &["--json", "serve", "--listen", "127.0.0.1:0"]);
    let first = srv.stdout_text().lines().next().unwrap_or_default().to_owned();
    let doc: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{first:?} is not JSON: {e}"));
    assert_eq!(doc["listening"], format!("http://{}", srv.addr), "{doc}");
    assert_eq!(doc["address"], srv.addr.to_string(), "{doc}");
    assert_eq!((doc["site"].as_str(), doc["tls"].as_bool()), (Some("serve-json"), Some(false)), "{doc}");
    assert_eq!(doc["pid"].as_u64(), Some(u64::from(srv.child.id())), "{doc}");
    assert_eq!(Req::get(PING).send(srv.addr).ok_json()["site"], "serve-json");
    let (out, _) = srv.stop_within(STOP_LIMIT);
    assert_eq!(out.lines().count(), 1, "nothing but the JSON line on stdout: {out:?}");
    // Without --json: the human line, unchanged.
    let srv = Server::start(&site);
    assert!(srv.stdout_text().starts_with(&format!("listening on {}\n", srv.addr)), "{}", srv.stdout_text());
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn slow_body_senders_do_not_block_others() {
    // Ten clients, one every 100 ms, send a complete head, then trickle an allowed
    // body (100 bytes every 500 ms: never silent for io_timeout_secs, done in about
    // 5 minutes; stopped after 8 s). An eleventh client must still be served.
    let site = serve_site("serve-slowbody", "");
    add_account(&site, "reader", "read-only", None, READER_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let body = format!(r#"{{"name": "2026/obs.dat"{}}}"#, " ".repeat(60_000));
    let senders: Vec<JoinHandle<()>> = (0..10)
        .map(|_| {
            thread::sleep(Duration::from_millis(100));
            let stop = Arc::clone(&stop);
            let ready = ready_tx.clone();
            let req = Req::post(HAS).auth("reader", READER_PW).json(&body);
            thread::spawn(move || {
                let mut s = connect(addr).unwrap();
                s.write_all(&req.head_bytes(addr)).unwrap();
                let _ = ready.send(());
                let until = Instant::now() + Duration::from_secs(8);
                for piece in req.body_bytes().chunks(100) {
                    if stop.load(Ordering::Relaxed) || Instant::now() > until || s.write_all(piece).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(500));
                }
            })
        })
        .collect();
    drop(ready_tx);
    for _ in 0..10 {
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("a slow sender did not start");
    }
    // Time for the server to read the last heads and hand the requests to workers.
    thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let r = Req::get(PING).try_send(addr);
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    for h in senders {
        h.join().unwrap();
    }
    match r {
        Ok(r) => {
            assert_eq!(r.status, 200, "ping while 10 clients trickle bodies:\n{r}");
            assert!(took < Duration::from_secs(5), "ping waited {took:?} behind 10 clients trickling bodies");
        }
        Err(e) => panic!("ping while 10 clients trickle bodies (waited {took:?}): {e}"),
    }
    srv.stop_within(STOP_LIMIT);
}

#[test]
fn trickling_clients_do_not_block_others() {
    let site = serve_site("serve-trickle", "");
    let srv = Server::start(&site);
    let addr = srv.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    // Ten clients each send one byte of a never-ending header every 300 ms: never
    // silent for io_timeout_secs, never done.
    let tricklers: Vec<JoinHandle<()>> = (0..10)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let ready = ready_tx.clone();
            thread::spawn(move || {
                let mut s = connect(addr).unwrap();
                let head = format!("GET {PING} HTTP/1.1\r\nHost: {addr}\r\nX-Trickle: {}", "a".repeat(200));
                let until = Instant::now() + Duration::from_secs(15);
                for (i, b) in head.bytes().enumerate() {
                    if stop.load(Ordering::Relaxed) || Instant::now() > until || s.write_all(&[b]).is_err() {
                        break;
                    }
                    if i == 20 {
                        let _ = ready.send(());
                    }
                    thread::sleep(Duration::from_millis(if i < 20 { 0 } else { 300 }));
                }
            })
        })
        .collect();
    drop(ready_tx);
    for _ in 0..10 {
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("a trickling client did not start");
    }
    thread::sleep(Duration::from_millis(300));
    for i in 0..3 {
        let t = Instant::now();
        let r = Req::get(PING).send(addr);
        assert_eq!(r.status, 200, "ping {i} while 10 clients trickle:\n{r}");
        assert!(t.elapsed() < Duration::from_secs(5), "ping {i} waited {:?} behind trickling clients", t.elapsed());
        thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tricklers {
        t.join().unwrap();
    }
    srv.stop_within(STOP_LIMIT);
}

// ---------------------------------------------------------------------------------
// 4. Graceful stop
// ---------------------------------------------------------------------------------

/// One ping of a looping client: when it ended, and its status and error code (or
/// the I/O error).
type PingResult = (Instant, Result<(u16, Option<String>), String>);

#[test]
fn sigterm_during_requests_finishes_them_and_exits_0() {
    let site = serve_site("serve-term", "");
    upload_text(&site, "2026/obs.dat", "photons\n");
    add_account(&site, "reader", "read-only", None, READER_PW);
    let mut srv = Server::start(&site);
    let addr = srv.addr;

    // Two clients send an allowed body slowly (60000 bytes in 12 pieces, 150 ms apart).
    let (sent_tx, sent_rx) = mpsc::channel();
    let body = format!(r#"{{"name": "2026/obs.dat"{}}}"#, " ".repeat(60_000));
    let slow: Vec<JoinHandle<io::Result<Response>>> = (0..2)
        .map(|_| {
            let req = Req::post(HAS).auth("reader", READER_PW).json(&body);
            let sent = sent_tx.clone();
            thread::spawn(move || {
                let mut s = connect(addr)?;
                s.write_all(&req.head_bytes(addr))?;
                let bytes = req.body_bytes();
                for (i, piece) in bytes.chunks(bytes.len() / 12 + 1).enumerate() {
                    s.write_all(piece)?;
                    if i == 0 {
                        let _ = sent.send(());
                    }
                    thread::sleep(Duration::from_millis(150));
                }
                read_response(&mut s)
            })
        })
        .collect();
    drop(sent_tx);
    // Two clients ping in a loop until the server is gone.
    let loops: Vec<JoinHandle<Vec<PingResult>>> = (0..2)
        .map(|_| {
            thread::spawn(move || {
                let mut results = Vec::new();
                let until = Instant::now() + Duration::from_secs(20);
                while Instant::now() < until {
                    match Req::get(PING).try_send(addr) {
                        Ok(r) => {
                            let code = serde_json::from_slice::<Value>(&r.body)
                                .ok()
                                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
                            results.push((Instant::now(), Ok((r.status, code))));
                        }
                        Err(e) => {
                            let refused = e.kind() == io::ErrorKind::ConnectionRefused;
                            results.push((Instant::now(), Err(e.to_string())));
                            if refused {
                                break;
                            }
                        }
                    }
                }
                results
            })
        })
        .collect();

    for _ in 0..2 {
        sent_rx.recv_timeout(Duration::from_secs(10)).expect("a slow client could not start sending");
    }
    thread::sleep(Duration::from_millis(150));
    let signalled = Instant::now();
    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(STOP_LIMIT);
    let (_, stderr) = match status {
        Some(_) => srv.drain(),
        None => {
            panic!("librarian serve did not exit within {STOP_LIMIT:?} of SIGTERM\n--- stderr\n{}", srv.stderr_text())
        }
    };
    let status = status.unwrap();
    assert_eq!(status.code(), Some(0), "librarian serve exited with {status} after SIGTERM\n--- stderr\n{stderr}");
    assert!(!stderr.contains("panicked"), "the server panicked:\n{stderr}");

    // The requests in flight when the signal came were finished.
    for (i, h) in slow.into_iter().enumerate() {
        match h.join().unwrap() {
            Ok(r) => {
                assert_eq!(r.ok_json()["present"], true, "slow client {i}: {r}");
            }
            Err(e) => panic!("slow client {i}, mid-body at SIGTERM, got no response: {e}\n--- stderr\n{stderr}"),
        }
    }
    let mut ok_before = 0;
    for (i, h) in loops.into_iter().enumerate() {
        for (at, res) in h.join().unwrap() {
            match res {
                Ok((200, _)) => ok_before += usize::from(at < signalled),
                Ok((503, Some(code))) if code == "shutting_down" && at >= signalled => {}
                Ok((status, code)) => {
                    panic!(
                        "pinging client {i}: status {status} ({code:?}) {:?} after SIGTERM",
                        at.checked_duration_since(signalled)
                    )
                }
                Err(e) => assert!(at >= signalled, "pinging client {i} failed before SIGTERM: {e}"),
            }
        }
    }
    assert!(ok_before > 0, "no ping succeeded before SIGTERM");
    let after = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(
        matches!(&after, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "connecting after the server exited: {after:?}"
    );

    // SIGINT stops it the same way.
    let mut srv = Server::start(&site);
    let addr = srv.addr;
    assert_eq!(Req::get(PING).send(addr).status, 200);
    srv.signal(libc::SIGINT);
    let status = srv.wait_exit(STOP_LIMIT);
    assert!(status.is_some(), "no exit within {STOP_LIMIT:?} of SIGINT\n--- stderr\n{}", srv.stderr_text());
    assert_eq!(status.unwrap().code(), Some(0), "exit after SIGINT\n--- stderr\n{}", srv.stderr_text());
    let after = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(matches!(&after, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused), "after SIGINT: {after:?}");
}

#[test]
fn sigterm_is_not_held_up_by_a_client_trickling_an_unfinished_request_head() {
    // The head never completes (one byte every 300 ms, never silent for
    // io_timeout_secs): there is no request in flight to finish, and the server must
    // still exit 0 within 10 s of SIGTERM.
    let site = serve_site("serve-term-trickle", "");
    let mut srv = Server::start(&site);
    let addr = srv.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut s = connect(addr).unwrap();
            let head = format!("GET {PING} HTTP/1.1\r\nHost: {addr}\r\nX-Trickle: {}", "a".repeat(200));
            let until = Instant::now() + Duration::from_secs(14);
            for (i, b) in head.bytes().enumerate() {
                if stop.load(Ordering::Relaxed) || Instant::now() > until || s.write_all(&[b]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(if i < 20 { 0 } else { 300 }));
            }
        })
    };
    thread::sleep(Duration::from_millis(800));
    assert_eq!(Req::get(PING).send(addr).status, 200);
    srv.signal(libc::SIGTERM);
    let status = srv.wait_exit(STOP_LIMIT);
    stop.store(true, Ordering::Relaxed);
    trickler.join().unwrap();
    let Some(status) = status else {
        panic!(
            "librarian serve was still running {STOP_LIMIT:?} after SIGTERM, held up by a client trickling a request \
             head that never completes\n--- stderr\n{}",
            srv.stderr_text()
        );
    };
    assert_eq!(status.code(), Some(0), "--- stderr\n{}", srv.stderr_text());
}

// ---------------------------------------------------------------------------------
// 5. Secrets
// ---------------------------------------------------------------------------------

#[test]
fn passwords_appear_in_no_response_log_or_metric() {
    const ADMIN: &str = "Adm1n-Zq81-Wobble-Secret";
    const READER: &str = "Rdr-Kx44-Marble-Secret";
    const PEER: &str = "Peer-Jh27-Pebble-Secret";
    const CB: &str = "Cb-Lm90-Gravel-Secret";
    let site = serve_site("serve-secrets", "");
    upload_text(&site, "2026/obs.dat", "photons\n");
    let mut cli = vec![
        add_account(&site, "boss", "admin", None, ADMIN),
        add_account(&site, "reader", "read-only", None, READER),
        add_peer(&site, "site-b", "serve-secrets", PEER),
        add_account(&site, "cb", "callback", Some("site-b"), CB),
    ];
    for args in
        [&["account", "list"][..], &["--json", "account", "list"], &["peer", "list"], &["--json", "peer", "list"]]
    {
        cli.push(run_outcome(site.cmd().env("LIBRARIAN_LOG", "debug").args(args)));
    }
    tasks_run_ok(&site);

    let srv = Server::start_with_env(&site, &[("LIBRARIAN_LOG", "debug")]);
    let addr = srv.addr;
    let reader_short = &READER[..READER.len() - 1];
    let reader_long = format!("{READER}-and-more");
    let creds: Vec<(&str, &str)> = vec![
        ("boss", ADMIN),
        ("reader", READER),
        ("reader", reader_short),
        ("reader", &reader_long),
        ("reader", ADMIN),
        ("boss", READER),
        ("nobody", READER),
        ("site-b", PEER),
        ("cb", CB),
        ("cb", PEER),
    ];
    let mut responses = Vec::new();
    for &(user, pw) in &creds {
        responses.push(Req::get(STATUS).auth(user, pw).send(addr));
        responses.push(has(addr, user, pw, r#"{"name": "2026/obs.dat"}"#));
        responses.push(has(addr, user, pw, r#"{"name": "../x"}"#));
        responses.push(Req::get(METRICS).auth(user, pw).send(addr));
    }
    // Make sure the right ones worked (else the scan proves little).
    assert_eq!(responses[0].status, 200, "{}", responses[0]);
    assert_eq!(responses[4].status, 200, "{}", responses[4]);
    let metrics = Req::get(METRICS).auth("reader", READER).send(addr);
    assert_eq!(metrics.status, 200, "{metrics}");
    responses.push(metrics);
    responses.push(Req::get(METRICS).send(addr));
    responses.push(Req::get(PING).send(addr));
    let (stdout, stderr) = srv.stop_within(STOP_LIMIT);
    // Logs go to stderr: stdout is the address line only.
    assert_eq!(stdout.lines().count(), 1, "stdout holds more than the `listening on` line:\n{stdout}");

    let mut needles: Vec<(String, String)> =
        [ADMIN, READER, reader_short, PEER, CB].iter().map(|s| (format!("password {s:?}"), (*s).to_owned())).collect();
    for &(user, pw) in &creds {
        let encoded = base64(format!("{user}:{pw}").as_bytes());
        needles.push((format!("base64 of {user}:{pw}"), encoded));
    }
    needles.push(("an argon2 hash".into(), "$argon2".into()));
    let check = |place: &str, text: &str| {
        for (what, needle) in &needles {
            assert!(!text.contains(needle.as_str()), "{what} appears in {place}:\n{text}");
        }
    };
    for r in &responses {
        check("a response", &r.everything());
    }
    check("the server's stdout", &stdout);
    check("the server's stderr (LIBRARIAN_LOG=debug)", &stderr);
    for out in &cli {
        check("CLI output", &format!("{out}"));
    }
    if stderr.trim().is_empty() {
        skip("the server logged nothing at LIBRARIAN_LOG=debug, so the log scan was vacuous");
    }
}

// ---------------------------------------------------------------------------------
// 6. The credential cache
// ---------------------------------------------------------------------------------

#[test]
fn the_credential_cache_never_accepts_a_removed_changed_or_wrong_credential() {
    const PW1: &str = "first-Password-4410";
    const PW2: &str = "second-Password-8832";
    let site = serve_site("serve-cache", "auth_cache_secs = 60\nauth_free_failures = 1000\n");
    add_account(&site, "alice", "read-only", None, PW1);
    add_account(&site, "bob", "read-only", None, PW2);
    add_peer(&site, "site-b", "serve-cache", PEER_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;
    let status = |user: &str, pw: &str| Req::get(STATUS).auth(user, pw).send(addr);

    // Right, then wrong, then right again, for one account.
    status("bob", PW2).ok_json();
    status("bob", PW2).ok_json();
    status("bob", PW1).expect_error(401, "unauthorized", "wrong password right after a success");
    status("bob", &format!("{PW2}x")).expect_error(
        401,
        "unauthorized",
        "password with an extra character after a success",
    );
    status("bob", &PW2[..PW2.len() - 1]).expect_error(401, "unauthorized", "a prefix of the password after a success");
    status("bob", PW2).ok_json();

    // Cached, then removed: refused at once.
    status("alice", PW1).ok_json();
    status("alice", PW1).ok_json();
    site.run(["account", "remove", "alice"]).ok();
    status("alice", PW1).expect_error(401, "unauthorized", "removed account, cached credential");

    // Re-added with another password: the old one is refused, the new one works.
    add_account(&site, "alice", "read-only", None, PW2);
    status("alice", PW1).expect_error(401, "unauthorized", "old password of a re-added account");
    status("alice", PW2).ok_json();

    // Re-added with the same password but a lower level: the new level applies.
    site.run(["account", "remove", "alice"]).ok();
    add_account(&site, "alice", "callback", Some("site-b"), PW2);
    status("alice", PW2).expect_error(403, "forbidden", "same password, account now a callback account");
    // And back: the old cached level is not resurrected by a removal either.
    site.run(["account", "remove", "alice"]).ok();
    status("alice", PW2).expect_error(401, "unauthorized", "removed again");
    srv.stop_within(STOP_LIMIT);
}

// ---------------------------------------------------------------------------------
// 7. Metrics
// ---------------------------------------------------------------------------------

fn tasks_run_ok(site: &Site) -> Value {
    let out = site.json(["tasks", "run"]);
    out.ok();
    out.json()
}

/// Samples (`name{labels}` → value) and the names declared by `# TYPE`; panics on a
/// line that is not Prometheus text format.
fn parse_metrics(r: &Response) -> (HashMap<String, f64>, HashSet<String>) {
    let text = r.text();
    let mut samples = HashMap::new();
    let mut types = HashSet::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            types.insert(rest.split_whitespace().next().unwrap_or("").to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let key_end = match line.find('{') {
            Some(open) if line[..open].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') => {
                line[open..].find('}').map(|c| open + c + 1)
            }
            _ => line.find(' '),
        };
        let Some(key_end) = key_end else { panic!("not a Prometheus sample line: {line:?}\n{text}") };
        let key = &line[..key_end];
        let value = line[key_end..].split_whitespace().next().unwrap_or("");
        let Ok(value) = value.parse::<f64>() else { panic!("sample {key} has no numeric value: {line:?}\n{text}") };
        assert!(samples.insert(key.to_owned(), value).is_none(), "sample {key} appears twice:\n{text}");
    }
    for key in samples.keys() {
        let name = key.split('{').next().unwrap();
        let family =
            ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|f| types.contains(*f));
        assert!(types.contains(name) || family.is_some(), "metric {name} has no `# TYPE` line:\n{text}");
    }
    (samples, types)
}

#[track_caller]
fn sample(samples: &HashMap<String, f64>, key: &str, r: &Response) -> f64 {
    match samples.get(key) {
        Some(v) => *v,
        None => panic!("/metrics has no sample `{key}`:\n{r}"),
    }
}

#[test]
fn metrics_report_files_bytes_free_space_and_tasks() {
    let site = serve_site("serve-metrics", "");
    let text = "x".repeat(1234);
    upload_text(&site, "2026/obs.dat", &text);
    let before = unix_now();
    let tasks = tasks_run_ok(&site);
    assert_eq!(tasks[0]["task"], "cleanup-staging", "{tasks}");
    assert_eq!(tasks[0]["status"], "ok", "{tasks}");
    add_account(&site, "reader", "read-only", None, READER_PW);
    add_peer(&site, "site-b", "serve-metrics", PEER_PW);
    add_account(&site, "cb", "callback", Some("site-b"), CB_PW);
    let srv = Server::start(&site);
    let addr = srv.addr;

    Req::get(METRICS).send(addr).expect_error(401, "unauthorized", "/metrics without credentials");
    Req::get(METRICS).auth("reader", "wrong").send(addr).expect_error(401, "unauthorized", "/metrics, wrong password");
    Req::get(METRICS).auth("cb", CB_PW).send(addr).expect_error(403, "forbidden", "/metrics as a callback account");

    let r = Req::get(METRICS).auth("reader", READER_PW).send(addr);
    assert_eq!(r.status, 200, "{r}");
    let ct = r.header("Content-Type").unwrap_or("").replace(' ', "");
    assert!(ct.starts_with("text/plain") && ct.contains("version=0.0.4"), "Content-Type {ct:?}:\n{r}");
    let (m, _) = parse_metrics(&r);
    assert_eq!(sample(&m, r#"librarian_files{store="main"}"#, &r), 1.0, "{r}");
    assert_eq!(sample(&m, r#"librarian_bytes{store="main"}"#, &r), 1234.0, "{r}");
    assert!(sample(&m, r#"librarian_store_free_bytes{store="main"}"#, &r) > 0.0, "{r}");
    let last_run = sample(&m, r#"librarian_task_last_run_timestamp_seconds{task="cleanup-staging"}"#, &r);
    let now = unix_now();
    assert!(
        last_run >= before - 1.0 && last_run <= now + 1.0,
        "last run {last_run} is not a Unix time in seconds between {before} and {now}:\n{r}"
    );
    assert_eq!(sample(&m, r#"librarian_task_last_success{task="cleanup-staging"}"#, &r), 1.0, "{r}");
    // Families are there before anything happened: a row for every task, a peer with
    // nothing queued (0) and a backlog of the one file, nothing transferred yet (0).
    for task in [
        "cleanup-staging",
        "receive-clones",
        "send-clones",
        "deliver-outbox",
        "reconcile-transfers",
        "clone-local",
        "deliver-alerts",
    ] {
        sample(&m, &format!("librarian_task_last_run_timestamp_seconds{{task=\"{task}\"}}"), &r);
        sample(&m, &format!("librarian_task_last_success{{task=\"{task}\"}}"), &r);
    }
    assert_eq!(sample(&m, r#"librarian_outbox_calls{peer="site-b"}"#, &r), 0.0, "{r}");
    assert_eq!(sample(&m, r#"librarian_outbox_oldest_age_seconds{peer="site-b"}"#, &r), 0.0, "{r}");
    assert_eq!(sample(&m, r#"librarian_backlog_files{peer="site-b"}"#, &r), 1.0, "{r}");
    assert_eq!(sample(&m, r#"librarian_backlog_bytes{peer="site-b"}"#, &r), 1234.0, "{r}");
    for d in ["outgoing", "incoming"] {
        assert_eq!(sample(&m, &format!("librarian_transferred_files_total{{direction=\"{d}\"}}"), &r), 0.0, "{r}");
        assert_eq!(sample(&m, &format!("librarian_transferred_bytes_total{{direction=\"{d}\"}}"), &r), 0.0, "{r}");
    }
    let version = format!("librarian_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
    assert_eq!(sample(&m, &version, &r), 1.0, "{r}");
    // The example Grafana dashboard only asks for families the server exports.
    let (_, families) = parse_metrics(&r);
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/grafana/librarian-dashboard.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("librarian_"))
            {
                assert!(
                    families.contains(name),
                    "the dashboard's {expr:?} asks for {name}, which /metrics does not export"
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 10, "the dashboard asks for {asked} metrics");

    // Live values: an upload while the server runs is counted.
    upload_text(&site, "2026/obs2.dat", "abc");
    let r = Req::get(METRICS).auth("reader", READER_PW).send(addr);
    let (m, _) = parse_metrics(&r);
    assert_eq!(sample(&m, r#"librarian_files{store="main"}"#, &r), 2.0, "{r}");
    assert_eq!(sample(&m, r#"librarian_bytes{store="main"}"#, &r), 1237.0, "{r}");
    srv.stop_within(STOP_LIMIT);

    // metrics_auth = false: /metrics is open, nothing else is.
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}metrics_auth = false\n")).unwrap();
    let srv = Server::start(&site);
    let r = Req::get(METRICS).send(srv.addr);
    assert_eq!(r.status, 200, "metrics_auth = false, no credentials:\n{r}");
    let (m, _) = parse_metrics(&r);
    assert_eq!(sample(&m, r#"librarian_files{store="main"}"#, &r), 2.0, "{r}");
    Req::get(STATUS).send(srv.addr).expect_error(401, "unauthorized", "/status with metrics_auth = false");
    srv.stop_within(STOP_LIMIT);
}

/// `-v --log-format json`: one JSON object per stderr line with a timestamp, the level,
/// the module and the message; each request makes one access-log line naming the
/// client's address, the account (or `-`), method, path, status and latency.
#[test]
fn the_access_log_names_client_account_path_status_and_latency_as_json() {
    let site = Site::new();
    add_account(&site, "reader", "read-only", None, "reader-password");
    let srv = Server::spawn(&site, &[], &["serve", "--listen", "127.0.0.1:0", "-v", "--log-format", "json"]);
    let addr = srv.local();
    assert_eq!(Req::get(STATUS).auth("reader", "reader-password").send(addr).status, 200);
    assert_eq!(Req::get(STATUS).send(addr).status, 401);
    let (_, stderr) = srv.stop();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l:?}")))
        .collect();
    for l in &lines {
        let ts = l["ts"].as_str().unwrap_or_default();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "a timestamp on every line: {l}");
        assert!(l["level"].is_string() && l["target"].is_string() && l["msg"].is_string(), "{l}");
    }
    let access: Vec<&str> =
        lines.iter().filter(|l| l["target"] == "librarian::access").map(|l| l["msg"].as_str().unwrap()).collect();
    assert!(
        access
            .iter()
            .any(|m| m.starts_with("client=127.0.0.1 account=reader method=GET path=/api/v1/status status=200 ms=")),
        "{access:?}"
    );
    assert!(
        access
            .iter()
            .any(|m| m.starts_with("client=127.0.0.1 account=- method=GET path=/api/v1/status status=401 ms=")),
        "{access:?}"
    );
}

/// Without `-v` the server logs warnings only (no access log), and `-q` silences
/// warnings too; text lines start with a UTC timestamp and the level.
#[test]
fn log_levels_follow_v_and_q_and_text_lines_have_a_time() {
    let site = Site::new();
    let quiet = Server::spawn(&site, &[], &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(Req::get(STATUS).send(quiet.local()).status, 401);
    let (_, stderr) = quiet.stop();
    assert!(!stderr.contains("librarian::access"), "no access log at the default level: {stderr}");
    let mut loud = Server::spawn(&site, &[], &["serve", "--listen", "127.0.0.1:0", "-v"]);
    assert_eq!(Req::get(STATUS).send(loud.local()).status, 401);
    // SIGHUP no longer kills a plain-HTTP server: there is nothing to reload.
    loud.signal(libc::SIGHUP);
    loud.wait_log("nothing to reload");
    loud.assert_running("after SIGHUP");
    let (_, stderr) = loud.stop();
    let line = stderr.lines().find(|l| l.contains("librarian::access")).unwrap_or_else(|| panic!("{stderr}"));
    let (ts, rest) = line.split_once(' ').unwrap();
    assert!(ts.parse::<jiff::Timestamp>().is_ok() && rest.starts_with("INFO "), "{line}");
    // -q and -v together are a usage error.
    let both = site.run(["-q", "-v", "status"]);
    assert_eq!(both.code(), Some(2), "{both}");
}
