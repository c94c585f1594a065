//! Other Librarians we call: their address, the credentials we use there, and the
//! HTTP client ([`client`]).

pub mod client;

use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, Result};

/// A peer (JSON object "Peer"; the password we use there is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// The peer's site name.
    pub name: String,
    /// Base URL of its shim, e.g. `https://librarian.example.org:8443`.
    pub url: String,
    /// The account we use at the peer.
    pub account: String,
    /// Whether new transfers to this peer may start.
    pub transfers_enabled: bool,
    /// When it was added (UTC).
    pub created_at: Timestamp,
}

/// Check a peer's base URL: `http://` or `https://`, a host, no credentials, no
/// query or fragment, no whitespace. A trailing `/` is removed.
pub fn normalise_url(url: &str) -> Result<String> {
    let shown = redact_userinfo(url);
    let bad = |why: &str| Error::InvalidArgument(format!("peer URL {shown:?} {why}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or control characters"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry credentials (use --account and a password file)"));
    }
    if url.contains(['?', '#']) {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `url` with any `user:password@` part replaced by `***@`, for messages.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalise_url("https://a.example:8443/").ok().as_deref(), Some("https://a.example:8443"));
        assert_eq!(normalise_url("http://127.0.0.1:1234/lib").ok().as_deref(), Some("http://127.0.0.1:1234/lib"));
        for bad in ["ftp://x", "https://", "https://u:p@host", "http://h/?a=1", "http://h x", "host:80", ""] {
            assert!(normalise_url(bad).is_err(), "{bad}");
        }
        let msg = normalise_url("https://user:hunter2@host/x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("https://***@host/x") && !msg.contains("hunter2"), "{msg}");
    }
}
