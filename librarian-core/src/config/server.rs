//! The `[server]` table: how `librarian serve` listens, its limits and its TLS files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `[server]` table of `librarian.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`--listen` overrides it). Without TLS it must be a
    /// loopback address (unless `insecure_plain_http`).
    pub listen: String,
    /// Worker threads (requests handled at once).
    pub workers: usize,
    /// Largest request body accepted: a number of bytes or a size such as `"4M"`.
    #[serde(deserialize_with = "crate::model::size_serde::deserialize")]
    pub max_body_bytes: u64,
    /// Seconds a connection may stay silent (reading) or stalled (writing).
    pub io_timeout_secs: u64,
    /// Seconds for a whole request head to arrive (for a connection's first request,
    /// counted from the end of the TLS handshake, or from the connection); also the
    /// limit for a whole TLS handshake, and the grace before a body must keep up
    /// `min_body_rate`.
    pub head_timeout_secs: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    pub idle_timeout_secs: u64,
    /// Bytes per second a request body must average (after `head_timeout_secs` of
    /// grace).
    pub min_body_rate: u64,
    /// Connections open at once; over it, the oldest connection still waiting for a
    /// request head is closed to make room, or (none) the new one is answered 503
    /// `busy`.
    pub max_connections: u64,
    /// Connections from one client address (IPv6: one /64) that may wait for a
    /// request head at once; a new one over it closes the oldest of them.
    pub max_waiting_per_client: u64,
    /// Seconds a verified credential is trusted without re-running argon2.
    pub auth_cache_secs: u64,
    /// Failed authentications a client (an address; IPv6: its /64) may have before
    /// its further attempts are slowed down (1 s, 2 s, 4 s, ... up to 60 s between
    /// failures, answered 429 in between).
    pub auth_free_failures: u32,
    /// Whether `/metrics` needs a read-only account.
    pub metrics_auth: bool,
    /// PEM certificate chain (leaf first) to serve HTTPS with; relative to the
    /// configuration file's directory. Set together with `tls_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1); relative to the
    /// configuration file's directory. Keep it readable by the server's user only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address that is not loopback. Only for a TLS-terminating
    /// proxy on the same host, or a private network you trust: HTTP Basic credentials
    /// cross the network in clear otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_plain_http: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8420".into(),
            workers: 8,
            max_body_bytes: 1 << 20,
            io_timeout_secs: 30,
            head_timeout_secs: 10,
            idle_timeout_secs: 15,
            min_body_rate: 1024,
            max_connections: 512,
            max_waiting_per_client: 64,
            auth_cache_secs: 60,
            auth_free_failures: 5,
            metrics_auth: true,
            tls_cert: None,
            tls_key: None,
            insecure_plain_http: false,
        }
    }
}

impl ServerConfig {
    /// True when nothing differs from the defaults (then `init` writes no table).
    pub fn is_default(&self) -> bool {
        *self == ServerConfig::default()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.workers == 0 || self.workers > 256 {
            return Err(Error::invalid("server.workers", "must be between 1 and 256"));
        }
        for (name, secs) in [
            ("io_timeout_secs", self.io_timeout_secs),
            ("head_timeout_secs", self.head_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if secs == 0 || secs > 3600 {
                return Err(Error::invalid(format!("server.{name}"), "must be between 1 and 3600"));
            }
        }
        if self.max_body_bytes > MAX_BODY_LIMIT {
            return Err(Error::invalid(
                "server.max_body_bytes",
                format!(
                    "{} is too large: at most {MAX_BODY_LIMIT} (64 MiB); requests to the server are small JSON \
                     documents",
                    self.max_body_bytes
                ),
            ));
        }
        if self.auth_cache_secs > 86_400 {
            return Err(Error::invalid("server.auth_cache_secs", "must be at most 86400 (a day)"));
        }
        if self.min_body_rate == 0 {
            return Err(Error::invalid("server.min_body_rate", "must be at least 1 (bytes per second)"));
        }
        if self.max_connections == 0 || self.max_connections > 10_000 {
            return Err(Error::invalid("server.max_connections", "must be between 1 and 10000"));
        }
        // (More than max_connections is allowed: it then never applies.)
        if self.max_waiting_per_client == 0 {
            return Err(Error::invalid("server.max_waiting_per_client", "must be at least 1"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Error::invalid(
                "server.tls_cert",
                "server.tls_cert and server.tls_key must be set together (or neither, for plain HTTP)",
            ));
        }
        Ok(())
    }
}

/// The largest `max_body_bytes` accepted.
pub const MAX_BODY_LIMIT: u64 = 64 << 20;
