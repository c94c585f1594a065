//! A small HTTP/1.1 server on `std::net::TcpListener`: one thread per connection,
//! keep-alive, `Content-Length` and chunked request bodies. Written by hand (not a
//! server crate) because the fault injection needs the raw socket: "drop after
//! commit" closes the connection with no response at all.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Longest request line or header line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// A keep-alive connection with no request for this long is closed.
const IDLE: Duration = Duration::from_secs(300);

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path as sent, without the query.
    pub path: String,
    /// The raw query string (after `?`), if any.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type of the body, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    /// The query parameters, percent-decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query.as_deref().map(decode_form).unwrap_or_default()
    }

    /// The value of the first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// One response to send.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What the handler wants done with a request.
#[derive(Debug)]
pub enum Outcome {
    Respond(Response),
    /// Close the connection without sending anything.
    Drop,
}

/// The request handler shared by every connection thread.
pub type Handler = Arc<dyn Fn(&Request) -> Outcome + Send + Sync>;

/// Accepts connections forever, each served on its own thread.
pub fn serve(listener: TcpListener, handler: Handler) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handler = Arc::clone(&handler);
        std::thread::spawn(move || {
            // A broken connection only ends this connection.
            let _ = serve_connection(stream, &handler);
        });
    }
}

fn serve_connection(stream: TcpStream, handler: &Handler) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(e) => {
                let body = serde_json::json!({"code": "ClientError.BadRequest", "message": e.to_string()});
                let mut response = Response::json(400, &body);
                response.headers.push(("Connection".into(), "close".into()));
                return write_response(&mut writer, &response);
            }
        };
        let close = wants_close(&request);
        match handler(&request) {
            Outcome::Drop => {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            Outcome::Respond(mut response) => {
                response.headers.push(("Connection".into(), if close { "close" } else { "keep-alive" }.into()));
                write_response(&mut writer, &response)?;
            }
        }
        if close {
            return Ok(());
        }
    }
}

fn wants_close(request: &Request) -> bool {
    request.header("connection").is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads one line without its CRLF; `None` at a clean end of stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(bad("line too long"));
    }
    if buf.last() != Some(&b'\n') {
        return Err(bad("connection closed in the middle of a line"));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| bad("request line or header is not UTF-8"))
}

fn read_request(reader: &mut impl BufRead, writer: &mut impl Write) -> io::Result<Option<Request>> {
    // Skip blank lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(reader) {
            Ok(None) => return Ok(None),
            Ok(Some(line)) if line.is_empty() => continue,
            Ok(Some(line)) => break line,
            // An idle keep-alive connection timing out is a normal end.
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("malformed request line: {line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("unsupported HTTP version {version:?}")));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else { return Err(bad("connection closed inside the headers")) };
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let Some((name, value)) = line.split_once(':') else { return Err(bad(format!("malformed header {line:?}"))) };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request { method: method.to_string(), path, query, headers, body: Vec::new() };
    if version == "HTTP/1.0" && !request.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")) {
        request.headers.push(("Connection".into(), "close".into()));
    }
    if request.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let chunked = request.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("bad Content-Length"))?;
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    Ok(Some(request))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else { return Err(bad("connection closed inside a chunked body")) };
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            while let Some(line) = read_line(reader)? {
                if line.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if size > MAX_BODY - body.len() {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if read_line(reader)?.is_none_or(|l| !l.is_empty()) {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

fn write_response(writer: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", response.body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&response.body);
    writer.write_all(&out)?;
    writer.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Decodes `application/x-www-form-urlencoded` text (also used for query strings).
pub fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed() {
        let raw = b"POST /v0.10/transfer?a=1 HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}\
GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext\r\nde\r\n0\r\n\r\n\
GET /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        let mut reader = io::Cursor::new(&raw[..]);
        let mut written = Vec::new();
        let first = read_request(&mut reader, &mut written).unwrap().unwrap();
        assert_eq!(
            (first.method.as_str(), first.path.as_str(), first.query.as_deref()),
            ("POST", "/v0.10/transfer", Some("a=1"))
        );
        assert_eq!(first.body, b"{}");
        assert_eq!(written, b"HTTP/1.1 100 Continue\r\n\r\n");
        let second = read_request(&mut reader, &mut written).unwrap().unwrap();
        assert_eq!(second.body, b"abcde");
        assert!(read_request(&mut reader, &mut written).is_err(), "a chunk larger than any body");
        assert!(read_request(&mut io::Cursor::new(&b""[..]), &mut written).unwrap().is_none());
        assert!(read_request(&mut io::Cursor::new(&b"NONSENSE\r\n\r\n"[..]), &mut written).is_err());
    }

    #[test]
    fn form_decoding() {
        let pairs = decode_form("grant_type=client_credentials&scope=urn%3Aglobus+x%2Fy&empty=&flag");
        assert_eq!(
            pairs,
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "urn:globus x/y".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%e2%9c%93%2"), "✓%2");
    }
}
