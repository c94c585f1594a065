//! The `[client]` table: how this site checks its peers' certificates.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[client]` table of `librarian.toml`: how this site calls its peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// PEM file of the CA certificates that peers' `https://` certificates must chain
    /// to; relative to the configuration file's directory. When set, these are the
    /// only trust roots. When unset, the Mozilla roots built into librarian
    /// (webpki-roots) are used; the system's trust store is not read (name it here,
    /// e.g. `/etc/ssl/certs/ca-certificates.crt`, to use it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
}

impl ClientConfig {
    /// True when nothing differs from the defaults (then no table is written).
    pub fn is_default(&self) -> bool {
        *self == ClientConfig::default()
    }
}
