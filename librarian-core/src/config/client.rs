//! The `[client]` table: how this site checks its peers' certificates.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[client]` table of `librarian.toml`: how this site calls its peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// PEM file of the CA certificates that peers' `https://` certificates must chain
    /// to; relative to the configuration file's directory. With neither this nor
    /// `system_roots`, the Mozilla roots built into librarian (webpki-roots) are used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// Trust the system's CA store (the distribution's bundle, or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` when set), in addition to `ca_bundle` if that is set too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub system_roots: bool,
}

impl ClientConfig {
    /// True when nothing differs from the defaults (then no table is written).
    pub fn is_default(&self) -> bool {
        *self == ClientConfig::default()
    }
}
