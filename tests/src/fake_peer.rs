//! A fake peer: a plain HTTP/1.1 server on loopback (std `TcpListener`, one
//! connection at a time, `Connection: close`) whose answers a test chooses byte for
//! byte, so a real site can be made to call a peer that lies. Every request it gets
//! is kept for assertions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// Longest the fake waits on a silent client (so a broken test cannot hang it).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body the fake reads.
const MAX_BODY: usize = 16 << 20;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target, e.g. `/api/v1/files/read`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the test's handler answers: the raw bytes to write (status line, headers and
/// body, exactly as they go on the wire), after which the connection is closed; or
/// `None` for the default answer (`ping` as `site-b`, anything else a 404).
pub type Answer = Option<Vec<u8>>;

/// A running fake peer; stopped when dropped.
pub struct FakePeer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePeer").field("url", &self.url).finish()
    }
}

impl FakePeer {
    /// Serve on a free loopback port, answering each request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Answer + Send + 'static) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake peer");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (flag, kept) = (Arc::clone(&stop), Arc::clone(&requests));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let Some(req) = read_request(&stream) else { continue };
                let answer = handler(&req).unwrap_or_else(|| default_answer(&req));
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(req);
                let mut s = stream;
                // The client may hang up first (a body over its limit): not an error here.
                let _ = s.write_all(&answer).and_then(|()| s.flush());
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        });
        FakePeer { url, requests, stop, thread: Some(thread) }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests received so far for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Forget the requests received so far.
    pub fn clear(&self) {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut len, mut authorization) = (0usize, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            } else if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_owned());
            }
        }
    }
    let mut body = vec![0u8; len.min(MAX_BODY)];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, authorization, body })
}

fn default_answer(req: &Request) -> Vec<u8> {
    match req.path.as_str() {
        "/api/v1/ping" => json_response(200, &serde_json::json!({"site": "site-b", "version": "fake", "features": []})),
        _ => json_response(
            404,
            &serde_json::json!({"error": {"code": "unknown_endpoint", "message": "no such endpoint"}}),
        ),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

/// A complete response with a JSON body.
pub fn json_response(status: u16, body: &Value) -> Vec<u8> {
    let text = body.to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        text.len()
    )
    .into_bytes();
    out.extend_from_slice(text.as_bytes());
    out
}

/// A 200 response of bytes that *says* its body is `content_length` bytes long
/// (whatever `body` really is: a lie when they differ), with `headers` added.
pub fn bytes_response(content_length: usize, body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {content_length}\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 response of bytes in chunked encoding (no length announced at all).
pub fn chunked_response(body: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for chunk in body.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
