//! Other Librarians as values: a peer record and the rules for its URL.

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
    /// How it is spoken to: this librarian's protocol, or the original Librarian's
    /// `/api/v2` (a site that still runs it).
    pub protocol: PeerProtocol,
    /// When it was added (UTC).
    pub created_at: Timestamp,
}

/// The protocol a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PeerProtocol {
    /// This librarian's `/api/v1` (the default).
    #[serde(rename = "librarian")]
    Librarian,
    /// The original (Python) Librarian's `/api/v2`: a site that has not migrated yet.
    /// Its calls to us are answered under `/api/v2`, ours to it go there.
    #[serde(rename = "original-v2")]
    OriginalV2,
}

impl PeerProtocol {
    all_variants!(
        /// Every protocol.
        Librarian, OriginalV2
    );

    /// The spelling in the catalog, the configuration, the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerProtocol::Librarian => "librarian",
            PeerProtocol::OriginalV2 => "original-v2",
        }
    }
}

impl std::fmt::Display for PeerProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PeerProtocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PeerProtocol::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| Error::invalid("protocol", format!("protocol {s:?} is not one of: librarian, original-v2")))
    }
}

/// Check a peer's base URL: `https://` (or `http://` to a loopback host only:
/// `localhost`, `127.0.0.0/8`, `[::1]`), a host, no credentials, no query or
/// fragment, no whitespace. A trailing `/` is removed.
pub fn normalise_url(url: &str) -> Result<String> {
    let shown = redact_userinfo(url);
    let bad = |why: &str| Error::invalid("peer URL", format!("{shown:?} {why}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// (or http:// for a peer on this host)"))?;
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
    check_transport(url)?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// Refuse a plain `http://` URL whose host is not loopback: our password would cross
/// the network in clear with every call.
pub(crate) fn check_transport(url: &str) -> Result<()> {
    let Some(rest) = url.strip_prefix("http://") else { return Ok(()) };
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if is_loopback_host(authority) {
        return Ok(());
    }
    Err(Error::invalid(
        "peer URL",
        format!(
            "{:?} uses plain http:// to a host that is not loopback; our password would cross the network in \
             clear: use https:// (plain http:// is only for localhost, 127.0.0.0/8 and [::1])",
            redact_userinfo(url)
        ),
    ))
}

/// Whether `authority` (`host`, `host:port`, `[v6]`, `[v6]:port`) names this host.
fn is_loopback_host(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, _)) => h,
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
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
        for ok in
            ["http://localhost", "http://LOCALHOST:80/x", "http://127.9.8.7:1", "http://[::1]:8420", "http://[::1]"]
        {
            assert!(normalise_url(ok).is_ok(), "{ok}");
        }
        for clear in [
            "http://b.example.org:8443",
            "http://10.0.0.1:8420",
            "http://0.0.0.0:8420",
            "http://[::2]:1",
            "http://localhost.example.org",
            "http://128.0.0.1",
            "http://[::1",
        ] {
            let msg = normalise_url(clear).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains("https://") && msg.contains("loopback"), "{clear}: {msg}");
        }
        assert!(normalise_url("https://b.example.org:8443").is_ok());
        let msg = normalise_url("https://user:hunter2@host/x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("https://***@host/x") && !msg.contains("hunter2"), "{msg}");
    }
}
