//! A minimal, strict HTTP/1.1 server layer: requests with a `Content-Length` or a
//! chunked body, keep-alive, and hard limits on everything a client controls.
//!
//! Framing follows RFC 9112 strictly, because a lenient reading is how requests get
//! smuggled past a proxy: anything a recipient could read two ways is refused (400)
//! and the connection is closed.
//! In particular:
//!
//! - lines end with CRLF; a bare LF or a stray CR anywhere in the head is refused;
//! - the request line is `token SP origin-form SP HTTP/1.0|HTTP/1.1` exactly;
//! - a header name is a token, followed directly by `:` (no whitespace before it);
//!   obs-fold (a line starting with SP or HTAB) and control bytes in values are
//!   refused;
//! - `Content-Length` appears at most once, as 1 to 19 ASCII digits (no sign, no
//!   list, no spaces inside); `Transfer-Encoding` appears at most once, is exactly
//!   `chunked`, never together with `Content-Length` and never in HTTP/1.0;
//! - a chunk size is 1 to 16 hex digits (no sign, no spaces), optionally followed by
//!   well-formed `;name[=value]` extensions, then CRLF; chunk data ends with CRLF;
//!   trailer fields follow the header rules and are ignored.
//!
//! The body buffer grows as bytes arrive: a declared length is only a promise, and is
//! never used to allocate.
//!
//! It is generic over the stream: a `TcpStream` (wrapped by the caller to enforce
//! deadlines) for plain HTTP, a rustls `StreamOwned` over one for HTTPS.
//!
//! tiny_http was tried first: it offers no way to time out a connection, and timeouts
//! set on its listening socket also make its `accept` fail, which ends its accept loop.
//! hyper was considered for issue 9 and not taken: see docs/security.md, "The HTTP
//! layer".

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Largest request line plus headers accepted (also the limit for trailers).
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 64;
/// Longest chunk-size line (size and extensions).
const MAX_CHUNK_LINE: usize = 1024;

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
    /// The client's address (set by the connection, not parsed).
    pub peer: Option<IpAddr>,
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
    /// The account that made the request, for the access log (never sent).
    pub account: Option<String>,
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// A body read from a file instead (`files/read`): exactly this many bytes of
    /// it, streamed; `body` is then empty.
    pub stream: Option<(std::fs::File, u64)>,
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
        429 => "Too Many Requests",
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

/// The deadlines of one connection, on top of the per-read timeout: one for the
/// current phase (TLS handshake, request head, keep-alive idle wait) and, while a body
/// arrives, a minimum rate (`grace` plus one second per `min_rate` bytes received).
#[derive(Debug)]
pub(crate) struct Clock {
    io_timeout: Duration,
    grace: Duration,
    min_rate: u64,
    deadline: Cell<Option<Instant>>,
    /// When the body began, and the bytes read by then.
    body: Cell<Option<(Instant, u64)>>,
    read: Cell<u64>,
}

impl Clock {
    pub fn new(io_timeout: Duration, grace: Duration, min_rate: u64) -> Rc<Clock> {
        Rc::new(Clock {
            io_timeout,
            grace,
            min_rate: min_rate.max(1),
            deadline: Cell::new(None),
            body: Cell::new(None),
            read: Cell::new(0),
        })
    }

    /// Everything read from now on must arrive by `deadline`.
    pub fn set_deadline(&self, deadline: Instant) {
        self.body.set(None);
        self.deadline.set(Some(deadline));
    }

    /// From now on, bytes must keep arriving at the minimum body rate.
    pub fn start_body(&self) {
        self.deadline.set(None);
        self.body.set(Some((Instant::now(), self.read.get())));
    }

    /// No deadline (only the per-read timeout).
    pub fn clear(&self) {
        self.deadline.set(None);
        self.body.set(None);
    }

    /// The timeout for the next read, or an error when a deadline has passed.
    fn next_timeout(&self) -> std::io::Result<Duration> {
        let mut limit = self.deadline.get();
        if let Some((start, at)) = self.body.get() {
            let earned = self.read.get().saturating_sub(at) as f64 / self.min_rate as f64;
            // (Past what an Instant can hold: no body deadline, the per-read timeout
            // still applies.)
            let d = Duration::try_from_secs_f64(earned)
                .ok()
                .and_then(|earned| start.checked_add(self.grace)?.checked_add(earned));
            if let Some(d) = d {
                limit = Some(limit.map_or(d, |l| l.min(d)));
            }
        }
        let Some(limit) = limit else { return Ok(self.io_timeout) };
        let left = limit.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline passed"));
        }
        Ok(left.min(self.io_timeout))
    }
}

/// An accepted TCP connection whose reads obey a [`Clock`].
#[derive(Debug)]
pub(crate) struct Conn {
    pub tcp: TcpStream,
    clock: Rc<Clock>,
    /// The read timeout last set on the socket.
    timeout: Option<Duration>,
}

impl Conn {
    pub fn new(tcp: TcpStream, clock: Rc<Clock>) -> Conn {
        Conn { tcp, clock, timeout: None }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let timeout = self.clock.next_timeout()?;
        // A system call only when the timeout changes by more than 10 ms.
        if self.timeout.is_none_or(|t| t.abs_diff(timeout) > Duration::from_millis(10)) {
            self.tcp.set_read_timeout(Some(timeout))?;
            self.timeout = Some(timeout);
        }
        let n = self.tcp.read(buf)?;
        self.clock.read.set(self.clock.read.get() + n as u64);
        Ok(n)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// Close a connection politely after an error answer: stop sending, then read and
/// drop what the client still sends (for at most a second and 64 KiB), so that
/// closing with unread input (a TCP reset) does not destroy the answer before the
/// client reads it.
pub(crate) fn linger(tcp: &TcpStream) {
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut drained = 0usize;
    let mut buf = [0u8; 4096];
    let mut r = tcp;
    while drained < 64 * 1024 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || r.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError::Reject(400, "bad_request", message.into())
}

fn head_too_large() -> ReadError {
    ReadError::Reject(431, "too_large", format!("request head over {MAX_HEAD_BYTES} bytes"))
}

/// Which bytes are a `tchar` of RFC 9110 §5.6.2.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        i += 1;
    }
    t
};

fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `s` without leading and trailing SP/HTAB.
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn skip_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Read one CRLF-terminated line of at most `limit` bytes (CRLF included) and return
/// it without its CRLF; `Ok(None)` at a clean end of stream before any byte. A bare
/// LF, or a CR anywhere but before the final LF, is refused.
fn read_line<R: BufRead>(
    r: &mut R,
    limit: usize,
    too_long: &dyn Fn() -> ReadError,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(limit as u64 + 1).read_until(b'\n', &mut buf).map_err(|_| ReadError::Closed)?;
    if n == 0 {
        return Ok(None);
    }
    if n > limit {
        return Err(too_long());
    }
    if buf.pop() != Some(b'\n') {
        // End of stream (or a timeout) in the middle of a line.
        return Err(ReadError::Closed);
    }
    if buf.pop() != Some(b'\r') {
        return Err(bad("a line ends with a bare LF (HTTP needs CRLF)"));
    }
    if buf.contains(&b'\r') {
        return Err(bad("a stray CR in the request"));
    }
    Ok(Some(buf))
}

/// One field line (`name: value`) of a head or trailer section.
fn parse_field(line: &[u8]) -> Result<(String, String), ReadError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(bad("obsolete line folding (a header line starting with whitespace)"));
    }
    let colon = line.iter().position(|&b| b == b':').ok_or_else(|| bad("malformed header line (no colon)"))?;
    let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
    if !is_token(name) {
        return Err(bad("malformed header name (a token, directly followed by a colon)"));
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad("a control character in a header value"));
    }
    let value = std::str::from_utf8(value).map_err(|_| bad("a header value is not UTF-8"))?;
    // `name` is a token, hence ASCII.
    Ok((String::from_utf8_lossy(name).into_owned(), value.to_owned()))
}

/// The value of `Content-Length`: 1 to 19 ASCII digits. Longer (but all digits) is
/// too large for any limit: 413.
fn parse_content_length(v: &str) -> Result<u64, ReadError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("malformed Content-Length (only ASCII digits)"));
    }
    if v.len() > 19 {
        return Err(ReadError::Reject(413, "too_large", "Content-Length is absurdly large".into()));
    }
    v.parse().map_err(|_| bad("malformed Content-Length"))
}

/// The size of a chunk-size line, checking its extensions are well-formed.
fn parse_chunk_size(line: &[u8]) -> Result<u64, ReadError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(bad("malformed chunk size (hex digits expected)"));
    }
    let significant = line[..digits].iter().skip_while(|&&b| b == b'0').count();
    if significant > 16 {
        return Err(bad("chunk size overflows"));
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|_| bad("malformed chunk size"))?;
    let size = u64::from_str_radix(text, 16).map_err(|_| bad("malformed chunk size"))?;
    parse_chunk_extensions(&line[digits..])?;
    Ok(size)
}

/// `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )`, then nothing.
fn parse_chunk_extensions(mut s: &[u8]) -> Result<(), ReadError> {
    let malformed = || bad("malformed chunk extension");
    loop {
        s = skip_ws(s);
        let [b';', rest @ ..] = s else {
            return if s.is_empty() { Ok(()) } else { Err(malformed()) };
        };
        s = skip_ws(rest);
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        if n == 0 {
            return Err(malformed());
        }
        s = &s[n..];
        let after = skip_ws(s);
        let [b'=', rest @ ..] = after else { continue };
        s = skip_ws(rest);
        if let [b'"', rest @ ..] = s {
            s = rest;
            loop {
                match s {
                    [b'"', rest @ ..] => {
                        s = rest;
                        break;
                    }
                    [b'\\', c, rest @ ..] if *c == b'\t' || (0x20..0x7f).contains(c) || *c >= 0x80 => s = rest,
                    [c, rest @ ..] if *c == b'\t' || ((0x20..0x7f).contains(c) && *c != b'\\') || *c >= 0x80 => {
                        s = rest;
                    }
                    _ => return Err(malformed()),
                }
            }
        } else {
            let n = s.iter().take_while(|&&b| is_tchar(b)).count();
            if n == 0 {
                return Err(malformed());
            }
            s = &s[n..];
        }
    }
}

/// How much of a body is read (and held) at a time.
const BODY_STEP: u64 = 64 * 1024;

/// Read `n` more body bytes into `body`, [`BODY_STEP`] at a time, each step allowed by
/// `hold` first (the server's budget for bodies held in memory): 503 `busy` when it
/// refuses.
fn read_body<R: Read>(r: &mut R, body: &mut Vec<u8>, n: u64, hold: &dyn Fn(u64) -> bool) -> Result<(), ReadError> {
    let mut left = n;
    while left > 0 {
        let step = left.min(BODY_STEP);
        if !hold(step) {
            return Err(ReadError::Reject(
                503,
                "busy",
                "the server holds too many request bodies at once; try again later".into(),
            ));
        }
        let got = r.by_ref().take(step).read_to_end(body).map_err(|_| ReadError::Closed)?;
        if got as u64 != step {
            return Err(ReadError::Closed);
        }
        left -= step;
    }
    Ok(())
}

/// Read the next request from a keep-alive connection. The body is read only when it
/// fits `max_body`; a bigger declared body is rejected with 413 before reading it.
/// `head_done` is called once the request line and headers are in and well-formed;
/// `hold` before each step of the body is read (false: 503 `busy`).
pub(crate) fn read_request<S: Read + Write>(
    r: &mut BufReader<S>,
    max_body: u64,
    head_done: &dyn Fn(),
    hold: &dyn Fn(u64) -> bool,
) -> Result<HttpRequest, ReadError> {
    let mut used = 0usize;
    // Tolerate blank lines before a request (RFC 9112 §2.2); they count against the
    // head limit.
    let line = loop {
        match read_line(r, MAX_HEAD_BYTES - used, &head_too_large)? {
            None => return Err(ReadError::Closed),
            Some(l) => {
                used += l.len() + 2;
                if !l.is_empty() {
                    break l;
                }
            }
        }
    };
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line (METHOD SP /path SP HTTP/1.1)"));
    };
    if !is_token(method) || !target.starts_with(b"/") || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(bad("malformed request line (METHOD SP /path SP HTTP/1.1)"));
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        // A well-formed but other version (HTTP/1.9, HTTP/2.0) is refused like a
        // malformed one: 400, not 505, since the contract is no 5xx for a client's
        // mistake.
        _ => return Err(bad("unsupported HTTP version (only HTTP/1.1 and HTTP/1.0)")),
    };
    let mut headers = Vec::new();
    loop {
        let Some(l) = read_line(r, MAX_HEAD_BYTES - used, &head_too_large)? else { return Err(ReadError::Closed) };
        used += l.len() + 2;
        if l.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::Reject(431, "too_large", format!("more than {MAX_HEADERS} header lines")));
        }
        headers.push(parse_field(&l)?);
    }
    // Framing (RFC 9112 §6): exactly one way to find the end of the body.
    let mut content_length = None;
    let mut chunked = false;
    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive_token = false;
    for (k, v) in &headers {
        if k.eq_ignore_ascii_case("Content-Length") {
            if content_length.is_some() {
                return Err(bad("more than one Content-Length"));
            }
            content_length = Some(parse_content_length(v)?);
        } else if k.eq_ignore_ascii_case("Transfer-Encoding") {
            if chunked {
                return Err(bad("more than one Transfer-Encoding"));
            }
            if !v.eq_ignore_ascii_case("chunked") {
                return Err(bad("unsupported Transfer-Encoding (only exactly `chunked`)"));
            }
            chunked = true;
        } else if k.eq_ignore_ascii_case("Host") {
            hosts += 1;
        } else if k.eq_ignore_ascii_case("Connection") {
            for token in v.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive_token |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    if chunked && content_length.is_some() {
        return Err(bad("both Transfer-Encoding and Content-Length"));
    }
    if chunked && http10 {
        return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
    }
    if hosts > 1 {
        return Err(bad("more than one Host"));
    }
    head_done();
    let keep_alive = !close && (!http10 || keep_alive_token);
    let req_headers =
        HttpRequest { keep_alive, method: String::new(), path: String::new(), headers, body: Vec::new(), peer: None };
    let too_large = || ReadError::Reject(413, "too_large", format!("request bodies are limited to {max_body} bytes"));
    let declared = content_length.unwrap_or(0);
    match req_headers.header("Expect") {
        None => {}
        // The client waits for this before sending its body. (A body over the limit
        // is refused below, before reading it, with the final status.)
        Some(e) if e.eq_ignore_ascii_case("100-continue") && declared <= max_body => {
            let w = r.get_mut();
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").and_then(|()| w.flush()).map_err(|_| ReadError::Closed)?;
        }
        Some(e) if e.eq_ignore_ascii_case("100-continue") => {}
        Some(other) => {
            return Err(ReadError::Reject(417, "expectation_failed", format!("unsupported Expect: {other}")));
        }
    }
    let body = if chunked {
        read_chunked(r, max_body, hold)?
    } else {
        if declared > max_body {
            return Err(too_large());
        }
        // Grow as bytes arrive: the declared length is a promise, not an allocation.
        let mut body = Vec::new();
        read_body(r, &mut body, declared, hold)?;
        body
    };
    let target = String::from_utf8_lossy(target);
    let path = target.split('?').next().unwrap_or("").to_owned();
    let method = String::from_utf8_lossy(method).into_owned();
    Ok(HttpRequest { method, path, body, ..req_headers })
}

/// Read a chunked body, refusing it as soon as it passes `max_body`.
fn read_chunked<R: BufRead>(r: &mut R, max_body: u64, hold: &dyn Fn(u64) -> bool) -> Result<Vec<u8>, ReadError> {
    let chunk_line_too_long = || bad(format!("chunk-size line over {MAX_CHUNK_LINE} bytes"));
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(r, MAX_CHUNK_LINE, &chunk_line_too_long)? else { return Err(ReadError::Closed) };
        let size = parse_chunk_size(&line)?;
        if size == 0 {
            // Trailer fields (checked like headers, then ignored), then the blank line.
            let mut used = 0usize;
            let mut fields = 0usize;
            loop {
                let Some(l) = read_line(r, MAX_HEAD_BYTES - used, &head_too_large)? else {
                    return Err(ReadError::Closed);
                };
                used += l.len() + 2;
                if l.is_empty() {
                    return Ok(body);
                }
                fields += 1;
                if fields > MAX_HEADERS {
                    return Err(ReadError::Reject(431, "too_large", format!("more than {MAX_HEADERS} trailer lines")));
                }
                parse_field(&l)?;
            }
        }
        if size > max_body.saturating_sub(body.len() as u64) {
            return Err(ReadError::Reject(413, "too_large", format!("request bodies are limited to {max_body} bytes")));
        }
        read_body(r, &mut body, size, hold)?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).map_err(|_| ReadError::Closed)?;
        if &crlf != b"\r\n" {
            return Err(bad("malformed chunk (data not followed by CRLF)"));
        }
    }
}

/// Write a response; `close` adds `Connection: close`.
pub(crate) fn write_response<W: Write>(w: &mut W, resp: &HttpResponse, close: bool) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let length = resp.stream.as_ref().map_or(resp.body.len() as u64, |(_, n)| *n);
    head.push_str(&format!("Content-Length: {length}\r\n"));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some((file, n)) = &resp.stream {
        w.write_all(&out)?;
        let sent = std::io::copy(&mut std::io::Read::take(file, *n), w)?;
        if sent != *n {
            // The file shrank under us: the client sees a short body and refuses it.
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ended early"));
        }
        return w.flush();
    }
    out.extend_from_slice(&resp.body);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A connection made of `input`, keeping what the server writes.
    struct Duplex {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const MAX_BODY: u64 = 1 << 16;

    /// Every request read from `input` the way a connection does (stopping at the
    /// first error, which closes it), and how that ended.
    fn requests(input: &[u8]) -> (Vec<HttpRequest>, Option<ReadError>) {
        let mut r = BufReader::new(Duplex { input: std::io::Cursor::new(input.to_vec()), output: Vec::new() });
        let mut out = Vec::new();
        loop {
            match read_request(&mut r, MAX_BODY, &|| {}, &|_| true) {
                Ok(req) => {
                    let keep = req.keep_alive;
                    out.push(req);
                    if !keep {
                        return (out, None);
                    }
                }
                Err(ReadError::Closed) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn status(input: &[u8]) -> u16 {
        match requests(input) {
            (reqs, None) if !reqs.is_empty() => 200,
            (_, Some(ReadError::Reject(status, _, _))) => status,
            _ => 0,
        }
    }

    const SMUGGLED: &[u8] = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn well_formed_requests_are_read() {
        let (reqs, err) = requests(
            b"\r\nPOST /a?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\
              Transfer-Encoding: chunked\r\n\r\n5;name=\"v\\\"al\" ; x\r\nhello\r\n0\r\nTrailer: y\r\n\r\n\
              GET /c HTTP/1.0\r\n\r\n",
        );
        assert!(err.is_none(), "{err:?}");
        let got: Vec<_> = reqs.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.body.as_slice())).collect();
        assert_eq!(got, [("POST", "/a", &b"hello"[..]), ("GET", "/b", b"hello"), ("GET", "/c", b"")]);
        assert!(!reqs[2].keep_alive, "HTTP/1.0 without keep-alive closes");
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: 0005\r\n\r\nhello"), 200);
        assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\tb \r\n\r\n"), 200);
    }

    #[test]
    fn ambiguous_framing_is_refused_and_nothing_follows() {
        let cases: &[&[u8]] = &[
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: -0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0x0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length : 0\r\n\r\n",
            b"POST / HTTP/1.1\r\n Content-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nX: y\r\n Content-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0;\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0;a b\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0;a=\"b\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0garbage\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n",
            b"POST / HTTP/1.1\nContent-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\n",
            b"POST / HTTP/1.1\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nX\x01: y\r\n\r\n",
            b"POST / HTTP/1.1\r\nX: y\x00z\r\n\r\n",
            b"POST / HTTP/1.1\r\n: y\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1x\r\n\r\n",
            b"GET / HTTP/1.9\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET * HTTP/1.1\r\n\r\n",
            b"GET http://x/ HTTP/1.1\r\n\r\n",
        ];
        for case in cases {
            let mut input = case.to_vec();
            input.extend_from_slice(SMUGGLED);
            let (reqs, err) = requests(&input);
            let text = String::from_utf8_lossy(case);
            assert!(reqs.is_empty(), "{text:?} yielded {} request(s)", reqs.len());
            let Some(ReadError::Reject(status, ..)) = err else { panic!("{text:?}: not refused: {err:?}") };
            assert_eq!(status, 400, "{text:?}");
        }
        assert_eq!(status(b"GET / HTTP/1.9\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1x\r\n\r\n"), 400);
    }

    #[test]
    fn huge_declared_lengths_are_refused_before_any_allocation() {
        for len in ["200000000000", "18446744073709551615", "99999999999999999999999999", "65537"] {
            let input = format!("POST / HTTP/1.1\r\nContent-Length: {len}\r\n\r\nabc");
            assert_eq!(status(input.as_bytes()), 413, "{len}");
        }
        for size in ["ffffffffffffffff", "10001", "0000000000000000000000000000010001"] {
            let input = format!("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabc");
            assert_eq!(status(input.as_bytes()), 413, "{size}");
        }
        // A declared length within the limit, with fewer bytes sent: the connection
        // closes (no request), and only what arrived was buffered.
        let (reqs, err) = requests(b"POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\nabc");
        assert!(reqs.is_empty() && err.is_none());
    }

    #[test]
    fn bodies_are_held_only_within_the_budget() {
        let held = Cell::new(0u64);
        let budget = |n: u64| {
            let ok = held.get() + n <= 170_000;
            if ok {
                held.set(held.get() + n);
            }
            ok
        };
        let body = "x".repeat(100_000);
        let input = format!("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n{body}");
        let read = |input: &str| {
            let mut r =
                BufReader::new(Duplex { input: std::io::Cursor::new(input.as_bytes().to_vec()), output: Vec::new() });
            read_request(&mut r, 1 << 20, &|| {}, &budget)
        };
        assert!(read(&input).is_ok());
        assert_eq!(held.get(), 100_000);
        let refused = read(&input);
        assert!(matches!(refused, Err(ReadError::Reject(503, "busy", _))), "{refused:?}");
        assert_eq!(held.get(), 100_000 + BODY_STEP, "the first step fitted, the second did not");
    }

    #[test]
    fn heads_are_limited() {
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(status(long.as_bytes()), 431);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X{i}: y\r\n")).collect();
        assert_eq!(status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 431);
        let blank = format!("{}GET / HTTP/1.1\r\n\r\n", "\r\n".repeat(MAX_HEAD_BYTES));
        assert_eq!(status(blank.as_bytes()), 431);
    }

    /// A valid request with its framing headers written in some way, and a body.
    fn framed(te: &str, cl: &str, extra_te: bool, extra_cl: bool, body: &str) -> Vec<u8> {
        let mut h = String::from("POST /api/v1/files/has HTTP/1.1\r\nHost: x\r\n");
        h.push_str(&format!("Transfer-Encoding:{te}\r\n"));
        if extra_cl {
            h.push_str(&format!("Content-Length:{cl}\r\n"));
        }
        if extra_te {
            h.push_str(&format!("Transfer-Encoding:{te}\r\n"));
        }
        h.push_str("\r\n");
        h.push_str(body);
        h.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes: no panic, and every request that is read is well-framed.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = requests(&input);
        }

        /// A valid request with random bytes changed, inserted or removed, followed by
        /// a second request: no panic, and if the mutation touched the framing headers
        /// so that it is ambiguous, nothing is served.
        #[test]
        fn mutated_requests_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
            chunked in any::<bool>(),
        ) {
            let mut input: Vec<u8> = if chunked {
                b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;e=v\r\nhello\r\n0\r\nT: t\r\n\r\n".to_vec()
            } else {
                b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello".to_vec()
            };
            for (at, byte, op) in edits {
                let i = at.index(input.len() + 1);
                match op {
                    0 if i < input.len() => input[i] = byte,
                    1 if i < input.len() => { input.remove(i); }
                    _ => input.insert(i, byte),
                }
            }
            input.extend_from_slice(SMUGGLED);
            let (reqs, _) = requests(&input);
            // Whatever was accepted, each request's framing was unambiguous: at most
            // the original and the smuggled one (plus blank-line-separated pieces can
            // never make more than the bytes allow).
            prop_assert!(reqs.len() <= 3);
            for r in &reqs {
                let cl = r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).count();
                let te = r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding")).count();
                prop_assert!(cl + te <= 1, "a request with {} CL and {} TE headers was accepted", cl, te);
                for (k, _) in &r.headers {
                    prop_assert!(is_token(k.as_bytes()), "header name {:?}", k);
                }
            }
        }

        /// Transfer-Encoding with Content-Length, duplicated framing headers, or
        /// anything but exactly `chunked`: refused, and the request after it never
        /// served.
        #[test]
        fn ambiguous_framing_never_yields_a_request(
            te in prop::sample::select(vec![
                " chunked", "chunked", "Chunked", " chunked ", "chunked,", "chunked, chunked", "gzip, chunked",
                "identity", "\tchunked", " chunked\t", "", "chunk", "chunked;q=1",
            ]),
            cl in prop::sample::select(vec![" 0", " 5", "+5", " 05", " 5,5", "", " -1", " 18446744073709551616"]),
            extra_te in any::<bool>(),
            extra_cl in any::<bool>(),
        ) {
            let exactly_chunked = te.trim_matches([' ', '\t']).eq_ignore_ascii_case("chunked");
            let mut input = framed(te, cl, extra_te, extra_cl, "0\r\n\r\n");
            input.extend_from_slice(SMUGGLED);
            let (reqs, err) = requests(&input);
            if exactly_chunked && !extra_te && !extra_cl {
                prop_assert_eq!(reqs.len(), 2);
            } else {
                prop_assert!(reqs.is_empty(), "{} request(s) from an ambiguous input", reqs.len());
                prop_assert!(matches!(err, Some(ReadError::Reject(400 | 413, ..))), "{:?}", err);
            }
        }

        /// Random chunk-size lines: a size is read only from 1-16 hex digits, optionally
        /// followed by well-formed extensions.
        #[test]
        fn chunk_size_lines(line in "[0-9a-fA-F+\\-x ;=\"\\\\a-z\t]{0,24}") {
            let got = parse_chunk_size(line.as_bytes());
            if let Ok(size) = got {
                let digits: String = line.chars().take_while(char::is_ascii_hexdigit).collect();
                prop_assert_eq!(Some(size), u64::from_str_radix(&digits, 16).ok());
                let rest = line[digits.len()..].trim_start_matches([' ', '\t']);
                prop_assert!(rest.is_empty() || rest.starts_with(';'), "{:?}", line);
            }
        }
    }
}
