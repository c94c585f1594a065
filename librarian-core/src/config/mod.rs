//! The site's configuration file (TOML): process settings only. Stores, peers,
//! accounts and all catalog state live in the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod client;
mod clone;
mod outbox;
mod server;
mod tasks;

pub use client::ClientConfig;
pub use clone::{CloneConfig, LocalClone, SendTo};
pub(crate) use clone::{DestinationRoot, plain_absolute, plain_host};
pub use outbox::OutboxConfig;
#[cfg(test)]
pub(crate) use server::MAX_BODY_LIMIT;
pub use server::ServerConfig;
pub use tasks::TaskConfig;

use crate::error::{Error, ObjectKind, Result};
pub use crate::name::{validate_site_name, validate_store_name};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "LIBRARIAN_CONFIG";
/// Configuration file looked for in the current directory.
pub const DEFAULT_CONFIG: &str = "librarian.toml";

/// Contents of `librarian.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The site's name (letters, digits, `.`, `_`, `-`; at most 64 bytes).
    pub name: String,
    /// The catalog database; a relative path is relative to the configuration file.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Schedules of background tasks, by task name (`[tasks.cleanup-staging]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, TaskConfig>,
    /// Settings of `librarian serve` (`[server]`).
    #[serde(default, skip_serializing_if = "ServerConfig::is_default")]
    pub server: ServerConfig,
    /// How this site calls its peers (`[client]`): TLS trust roots.
    #[serde(default, skip_serializing_if = "ClientConfig::is_default")]
    pub client: ClientConfig,
    /// Delivery of calls to peers (`[outbox]`).
    #[serde(default, skip_serializing_if = "OutboxConfig::is_default")]
    pub outbox: OutboxConfig,
    /// Cloning to and from peers (`[clone]`, `[clone.to.PEER]`).
    #[serde(default, skip_serializing_if = "CloneConfig::is_default")]
    pub clone: CloneConfig,
}

fn default_database() -> PathBuf {
    PathBuf::from("librarian.db")
}

impl Config {
    /// A configuration for site `name` with the default database path.
    pub fn new(name: &str) -> Result<Self> {
        validate_site_name(name)?;
        Ok(Config {
            name: name.to_owned(),
            database: default_database(),
            tasks: BTreeMap::new(),
            server: ServerConfig::default(),
            client: ClientConfig::default(),
            outbox: OutboxConfig::default(),
            clone: CloneConfig::default(),
        })
    }

    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound { kind: ObjectKind::Config, name: path.display().to_string() }
            }
            _ => Error::Config { path: path.to_owned(), message: e.to_string() },
        })?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        validate_site_name(&cfg.name).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        tasks::validate_config(&cfg.tasks)
            .and_then(|()| cfg.server.validate())
            .and_then(|()| cfg.outbox.validate())
            .and_then(|()| cfg.clone.validate())
            .map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        Ok(cfg)
    }

    /// The database path, resolved against the directory of `config_path`.
    pub fn database_path(&self, config_path: &Path) -> PathBuf {
        resolve(config_path, &self.database)
    }

    /// The configuration text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::internal(format!("cannot encode the configuration: {e}")))
    }
}

/// A path from the configuration file: a relative one is relative to the directory
/// of `config_path`.
pub fn resolve(config_path: &Path, path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    }
}

/// Which configuration file to use: `explicit`, else `$LIBRARIAN_CONFIG`, else `./librarian.toml`.
pub fn locate(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_owned();
    }
    match std::env::var_os(CONFIG_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONFIG),
    }
}
