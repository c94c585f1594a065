//! An original catalog in PostgreSQL (the original's production backend): read
//! through the sync `postgres` client, inside one read-only REPEATABLE READ
//! transaction (one snapshot, nothing written), never committed.
//!
//! Without TLS, so only over a Unix socket or a loopback address: anything else
//! would carry the database password unencrypted, and is refused before connecting.

use std::error::Error as _;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, Config, NoTls, Row};

use super::{Cell, OriginalDb};
use crate::error::{Error, Result};

/// How long connecting may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's socket is when the URL names no host (Debian's packages, and
/// so the original's deployments: `postgresql:///librarian` on the database host).
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// A read-only connection to the original's PostgreSQL database.
pub(super) struct PgSource {
    client: Client,
    /// The URL without its password, for messages.
    shown: String,
}

impl std::fmt::Debug for PgSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSource").field("source", &self.shown).finish_non_exhaustive()
    }
}

impl PgSource {
    /// Connect to `url` (a Unix socket or loopback host only) and open the snapshot.
    pub(super) fn open(url: &str) -> Result<Self> {
        let shown = redact(url);
        let mut config = Config::from_str(url)
            .map_err(|e| Error::invalid("source", format!("{shown} is not a usable PostgreSQL URL: {}", chain(&e))))?;
        check_local(&config, &shown)?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            config.host_path(DEFAULT_SOCKET_DIR);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("librarian import-original");
        }
        let password = config.get_password().map(<[u8]>::to_vec);
        let scrub = |text: String| hide_password(text, password.as_deref());
        let mut client = config.connect(NoTls).map_err(|e| {
            Error::invalid("source", scrub(format!("cannot connect to the original catalog {shown}: {}", chain(&e))))
        })?;
        drop(config);
        // One snapshot for every later query, and nothing can be written in it. Never
        // committed: the transaction ends with the connection.
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").map_err(|e| {
            Error::invalid("source", scrub(format!("cannot open a read-only snapshot of {shown}: {}", chain(&e))))
        })?;
        Ok(PgSource { client, shown })
    }

    fn failed(&self, doing: &str, e: &postgres::Error) -> Error {
        Error::invalid("source", format!("{} failed while {doing}: {}", self.shown, chain(e)))
    }
}

/// Refuse, before connecting, any host that is neither a Unix socket nor a loopback
/// address: without TLS the password would cross the network in the clear.
fn check_local(config: &Config, shown: &str) -> Result<()> {
    let remote = config
        .get_hosts()
        .iter()
        .filter_map(|h| match h {
            Host::Unix(path) if path.is_absolute() => None,
            Host::Unix(path) => Some(path.display().to_string()),
            Host::Tcp(name) if is_loopback_name(name) => None,
            Host::Tcp(name) => Some(name.clone()),
        })
        .chain(config.get_hostaddrs().iter().filter(|a| !is_loopback_ip(**a)).map(IpAddr::to_string))
        .collect::<Vec<_>>();
    if remote.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "source",
        format!(
            "{shown}: refusing to connect to {}: the connection has no TLS, so it would carry the database \
             password unencrypted over the network. Run the import on the database host (a Unix socket, \
             e.g. postgresql:///librarian?host=/var/run/postgresql, or 127.0.0.1) or through a local \
             tunnel (ssh -L 5433:localhost:5432 dbhost, then postgresql://user@127.0.0.1:5433/librarian)",
            remote.join(", ")
        ),
    ))
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// An error and its causes, one line (`postgres::Error` shows only its kind).
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.replace('\n', "; ")
}

/// `text` with every occurrence of `password` (when it is not empty) replaced, in
/// case a server or library message quotes it.
fn hide_password(text: String, password: Option<&[u8]>) -> String {
    match password.map(String::from_utf8_lossy) {
        Some(p) if !p.is_empty() => text.replace(p.as_ref(), "***"),
        _ => text,
    }
}

/// `url` without its password, to show: the password of the user part of a URL,
/// the value of any `password=` parameter of its query, and of a `password=` pair of
/// a `key=value` connection string. An unencoded `@`, `?` or `&` in a password makes
/// a URL ambiguous; every reading's password is hidden then (more, never less).
pub(super) fn redact(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return redact_keywords(url);
    };
    let start = s + 3;
    let mut hidden = vec![false; url.len()];
    // The user part: up to an '@' (the parser takes the first, a reader may mean the
    // last: hide up to the last), its password after the first ':'.
    if let Some(at) = url[start..].rfind('@').map(|i| start + i)
        && let Some(colon) = url[start..at].find(':').map(|i| start + i)
    {
        hidden[colon + 1..at].fill(true);
    }
    // Query parameters: a key after '?' or '&', its value up to the next '&'.
    for (i, _) in url.match_indices(['?', '&']).filter(|(i, _)| *i >= start) {
        let key_start = i + 1;
        let value_end = url[key_start..].find('&').map_or(url.len(), |j| key_start + j);
        if let Some(eq) = url[key_start..value_end].find('=').map(|j| key_start + j)
            && percent_decoded(&url[key_start..eq]).trim().eq_ignore_ascii_case("password")
        {
            hidden[eq + 1..value_end].fill(true);
        }
    }
    let mut out = String::with_capacity(url.len());
    let mut in_hidden = false;
    for (i, c) in url.char_indices() {
        if hidden[i] {
            if !in_hidden {
                out.push_str("***");
            }
            in_hidden = true;
        } else {
            in_hidden = false;
            out.push(c);
        }
    }
    out
}

/// A `key=value` connection string with the value of `password` hidden (quoted with
/// `'...'` and backslash escapes, or up to the next space).
fn redact_keywords(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let key_end = from + found + "password".len();
        let after = &s[key_end..];
        let eq = after.len() - after.trim_start().len();
        if !after[eq..].starts_with('=') {
            out.push_str(&s[from..key_end]);
            from = key_end;
            continue;
        }
        let value_start = key_end + eq + 1;
        let value = &s[value_start..];
        let skip = value.len() - value.trim_start().len();
        let value = &value[skip..];
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let mut end = value.len();
            for (i, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '\'' => {
                        end = i + 2;
                        break;
                    }
                    _ => {}
                }
            }
            end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str(&s[from..value_start + skip]);
        out.push_str("***");
        from = value_start + skip + len;
    }
    out.push_str(&s[from..]);
    out
}

fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl OriginalDb for PgSource {
    fn tables(&mut self) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
                &[],
            )
            .map_err(|e| self.failed("listing its tables", &e))?;
        rows.iter().map(|r| r.try_get::<_, String>(0).map_err(|e| self.failed("listing its tables", &e))).collect()
    }

    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .map_err(|e| self.failed("listing the columns of a table", &e))?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).map_err(|e| self.failed("listing the columns of a table", &e)))
            .collect()
    }

    fn query(&mut self, sql: &str, each: &mut dyn FnMut(&[Cell]) -> Result<()>) -> Result<()> {
        let shown = &self.shown;
        let failed =
            |e: postgres::Error| Error::invalid("source", format!("{shown} failed while reading: {}", chain(&e)));
        // Streamed: one row at a time, however many there are.
        let mut rows = self.client.query_raw(sql, std::iter::empty::<&(dyn ToSql + Sync)>()).map_err(failed)?;
        let mut cells = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            cells.clear();
            for i in 0..row.len() {
                cells.push(cell(&row, i).map_err(|e| match e {
                    CellError::Type(ty) => {
                        Error::corrupt("the original catalog", format!("column {i} has type {ty}, which is not read"))
                    }
                    CellError::Decode(e) => failed(e),
                })?);
            }
            each(&cells)?;
        }
        Ok(())
    }
}

enum CellError {
    /// A type this reader does not map (the queries cast every value).
    Type(String),
    Decode(postgres::Error),
}

/// Column `i` of `row` as a [`Cell`], by its type.
fn cell(row: &Row, i: usize) -> std::result::Result<Cell, CellError> {
    fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> std::result::Result<Option<T>, CellError> {
        row.try_get::<_, Option<T>>(i).map_err(CellError::Decode)
    }
    let ty = row.columns().get(i).map(|c| c.type_().clone()).unwrap_or(Type::UNKNOWN);
    let cell = match ty {
        Type::INT2 => get::<i16>(row, i)?.map(|v| Cell::Int(v.into())),
        Type::INT4 => get::<i32>(row, i)?.map(|v| Cell::Int(v.into())),
        Type::INT8 => get::<i64>(row, i)?.map(Cell::Int),
        Type::BOOL => get::<bool>(row, i)?.map(|v| Cell::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get::<String>(row, i)?.map(Cell::Text),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(Cell::Bytes),
        Type::FLOAT4 => get::<f32>(row, i)?.map(|v| Cell::Text(v.to_string())),
        Type::FLOAT8 => get::<f64>(row, i)?.map(|v| Cell::Text(v.to_string())),
        Type::NUMERIC => get::<NumericText>(row, i)?.map(|v| Cell::Text(v.0)),
        other => return Err(CellError::Type(other.to_string())),
    };
    Ok(cell.unwrap_or(Cell::Null))
}

/// A NUMERIC value as its decimal text (as PostgreSQL prints it: `dscale` digits
/// after the point), decoded from the binary form: digit count, weight (of the first
/// base-10000 digit), sign, display scale, then the base-10000 digits.
struct NumericText(String);

impl<'a> FromSql<'a> for NumericText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        numeric_text(raw).map(NumericText).ok_or_else(|| "malformed NUMERIC value".into())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

fn numeric_text(raw: &[u8]) -> Option<String> {
    let word = |at: usize| raw.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = i64::from(word(6)?);
    let digits = (0..ndigits).map(|k| word(8 + 2 * k)).collect::<Option<Vec<u16>>>()?;
    if raw.len() != 8 + 2 * ndigits || digits.iter().any(|d| *d > 9999) {
        return None;
    }
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let digit = |k: i64| usize::try_from(k).ok().and_then(|k| digits.get(k)).copied().unwrap_or(0);
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        text.push_str(&digit(0).to_string());
        for k in 1..=weight {
            text.push_str(&format!("{:04}", digit(k)));
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut k = weight + 1;
        while i64::try_from(fraction.len()).ok()? < dscale {
            fraction.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        fraction.truncate(usize::try_from(dscale).ok()?);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_pg_redact_hides_every_password() {
        for (url, shown) in [
            ("postgresql://u:secret@db.example.org/x", "postgresql://u:***@db.example.org/x"),
            ("postgres://u@localhost/x", "postgres://u@localhost/x"),
            ("postgresql:///x?host=/run/pg&user=u", "postgresql:///x?host=/run/pg&user=u"),
            ("postgresql:///x?user=u&password=secret&port=5", "postgresql:///x?user=u&password=***&port=5"),
            ("postgresql://h/x?pass%77ord=secret", "postgresql://h/x?pass%77ord=***"),
            ("postgresql://u:se@cret@h/x", "postgresql://u:***@h/x"),
            ("postgresql://h/x?password=se@cret", "postgresql://h/x?password=***"),
            ("postgresql://h:5/x?password=se@cret&a=b", "postgresql://h:***&a=b"),
            ("postgresql://h/x?password=se?cret&a=b", "postgresql://h/x?password=***&a=b"),
            ("host=/tmp password=secret user=u", "host=/tmp password=*** user=u"),
            ("host=/tmp password = 'se cr\\'et' user=u", "host=/tmp password = *** user=u"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        // An '@' in the query is taken as the end of the user part: hiding more, never less.
        assert!(!redact("postgresql://u:secret@h/x?options=a@b").contains("secret"));
    }

    #[test]
    fn original_pg_refuses_remote_hosts_before_connecting() {
        for url in [
            "postgresql://u:secret@db.example.org/x",
            "postgresql://u:secret@10.1.2.3:5432/x",
            "postgresql://u:secret@localhost/x?hostaddr=10.1.2.3",
            "postgresql://u:secret@127.0.0.1,db.example.org/x",
            "postgresql:///x?host=db.example.org&password=secret",
        ] {
            let e = PgSource::open(url).expect_err(url);
            let text = e.to_string();
            assert_eq!(e.code(), "invalid_argument", "{text}");
            assert!(text.contains("unencrypted") && text.contains("ssh -L"), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
        for url in ["postgresql://[::1]/x", "postgresql://LocalHost/x", "postgresql://127.8.9.10/x"] {
            let config = Config::from_str(url).expect(url);
            assert!(check_local(&config, url).is_ok(), "{url}");
        }
    }

    #[test]
    fn original_pg_numeric_text() {
        let enc = |ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]| {
            let mut v = Vec::new();
            for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
                v.extend_from_slice(&w.to_be_bytes());
            }
            v
        };
        assert_eq!(numeric_text(&enc(0, 0, 0, 0, &[])).as_deref(), Some("0"));
        assert_eq!(numeric_text(&enc(2, 0, 0, 2, &[1, 5000])).as_deref(), Some("1.50"));
        assert_eq!(numeric_text(&enc(2, 1, 0x4000, 0, &[12, 3456])).as_deref(), Some("-123456"));
        assert_eq!(numeric_text(&enc(1, -1, 0, 5, &[42])).as_deref(), Some("0.00420"));
        assert_eq!(numeric_text(&enc(1, 2, 0, 0, &[7])).as_deref(), Some("700000000"));
        assert_eq!(numeric_text(&enc(0, 0, 0xC000, 0, &[])).as_deref(), Some("NaN"));
        assert_eq!(numeric_text(&enc(1, 0, 0, 0, &[10000])), None);
        assert_eq!(numeric_text(&[0, 1]), None);
    }
}
