//! A minimal HTTP/1.1 server layer: requests with a `Content-Length` or chunked body,
//! keep-alive, and hard limits on everything a client controls: header size, body
//! size (checked before reading a declared length, and while reading chunks), and how
//! long a connection may stay silent or stalled (socket read/write timeouts on every
//! accepted connection).
//!
//! It is generic over the stream: a `TcpStream` for plain HTTP, a rustls
//! `StreamOwned` over one for HTTPS (the timeouts stay on the TCP socket).
//!
//! tiny_http was tried first: it offers no way to time out a connection, and timeouts
//! set on its listening socket also make its `accept` fail, which ends its accept loop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest request line plus headers accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 64;

/// A request with its body read.
#[derive(Debug)]
pub(crate) struct HttpRequest {
    /// False for HTTP/1.0 without `Connection: keep-alive`, or `Connection: close`.
    pub keep_alive: bool,
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response to write.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection closed (or timed out) cleanly between requests.
    Closed,
    /// Answer with this status and close: malformed (400), too large (413/431),
    /// unsupported expectation (417).
    Reject(u16, &'static str, String),
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Set the read and write timeouts of an accepted connection.
pub(crate) fn configure(stream: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)
}

/// Read one line of the head, counting bytes against the limit.
fn read_line<R: BufRead>(r: &mut R, used: &mut usize) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let limit = (MAX_HEAD_BYTES - *used) as u64 + 1;
    let n = r.by_ref().take(limit).read_until(b'\n', &mut buf).map_err(|_| ReadError::Closed)?;
    if n == 0 {
        return Ok(None);
    }
    *used += n;
    if *used > MAX_HEAD_BYTES || !buf.ends_with(b"\n") {
        if *used > MAX_HEAD_BYTES {
            return Err(ReadError::Reject(431, "too_large", format!("request head over {MAX_HEAD_BYTES} bytes")));
        }
        return Err(ReadError::Closed);
    }
    let text = String::from_utf8(buf)
        .map_err(|_| ReadError::Reject(400, "bad_request", "request head is not UTF-8".into()))?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Read the next request from a keep-alive connection. The body is read only when it
/// fits `max_body`; a bigger declared body is rejected with 413 before reading it.
/// `head_done` is called once the request line and headers are in.
pub(crate) fn read_request<S: Read + Write>(
    r: &mut BufReader<S>,
    max_body: u64,
    head_done: &dyn Fn(),
) -> Result<HttpRequest, ReadError> {
    let mut used = 0;
    let bad = |m: &str| ReadError::Reject(400, "bad_request", m.to_owned());
    // Tolerate blank lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(r, &mut used)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(bad("malformed request line"));
    }
    let mut headers = Vec::new();
    loop {
        let Some(l) = read_line(r, &mut used)? else { return Err(ReadError::Closed) };
        if l.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::Reject(431, "too_large", format!("more than {MAX_HEADERS} header lines")));
        }
        let (k, v) = l.split_once(':').ok_or_else(|| bad("malformed header line"))?;
        if k.is_empty() || k.contains([' ', '\t']) {
            return Err(bad("malformed header name"));
        }
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
    head_done();
    let req_headers =
        HttpRequest { keep_alive: true, method: String::new(), path: String::new(), headers, body: Vec::new() };
    let connection = req_headers.header("Connection").map(str::to_ascii_lowercase);
    let keep_alive = match connection.as_deref() {
        Some("close") => false,
        Some("keep-alive") => true,
        _ => version != "HTTP/1.0",
    };
    let too_large = || ReadError::Reject(413, "too_large", format!("request bodies are limited to {max_body} bytes"));
    match req_headers.header("Expect") {
        None => {}
        Some(e) if e.eq_ignore_ascii_case("100-continue") => {
            // The client waits for this before sending its body. (A body over the
            // limit is refused below, before reading it, with the final status.)
            let declared = req_headers.header("Content-Length").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if declared <= max_body {
                let w = r.get_mut();
                w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .and_then(|()| w.flush())
                    .map_err(|_| ReadError::Closed)?;
            }
        }
        Some(other) => {
            return Err(ReadError::Reject(417, "expectation_failed", format!("unsupported Expect: {other}")));
        }
    }
    let body = match req_headers.header("Transfer-Encoding") {
        Some(te) if te.eq_ignore_ascii_case("chunked") => read_chunked(r, max_body, &mut used)?,
        Some(_) => return Err(bad("unsupported Transfer-Encoding (only chunked)")),
        None => {
            let length: u64 = match req_headers.header("Content-Length") {
                None => 0,
                Some(v) => v.parse().map_err(|_| bad("malformed Content-Length"))?,
            };
            if length > max_body {
                return Err(too_large());
            }
            let mut body = vec![0u8; length as usize];
            r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
            body
        }
    };
    let path = target.split('?').next().unwrap_or("").to_owned();
    Ok(HttpRequest { keep_alive, method: method.to_owned(), path, headers: req_headers.headers, body })
}

/// Read a chunked body, refusing it as soon as it passes `max_body`.
fn read_chunked<R: BufRead>(r: &mut R, max_body: u64, used: &mut usize) -> Result<Vec<u8>, ReadError> {
    let bad = |m: &str| ReadError::Reject(400, "bad_request", m.to_owned());
    let mut body = Vec::new();
    loop {
        // Chunk-size lines count against the head limit too, so they stay small.
        *used = 0;
        let Some(line) = read_line(r, used)? else { return Err(ReadError::Closed) };
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16).map_err(|_| bad("malformed chunk size"))?;
        if size == 0 {
            // Trailer fields, then the blank line.
            loop {
                match read_line(r, used)? {
                    None => return Err(ReadError::Closed),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if size > max_body.saturating_sub(body.len() as u64) {
            return Err(ReadError::Reject(413, "too_large", format!("request bodies are limited to {max_body} bytes")));
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        r.read_exact(&mut body[start..]).map_err(|_| ReadError::Closed)?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).map_err(|_| ReadError::Closed)?;
        if &crlf != b"\r\n" {
            return Err(bad("malformed chunk"));
        }
    }
}

/// Write a response; `close` adds `Connection: close`.
pub(crate) fn write_response<W: Write>(w: &mut W, resp: &HttpResponse, close: bool) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&resp.body);
    w.write_all(&out)?;
    w.flush()
}
