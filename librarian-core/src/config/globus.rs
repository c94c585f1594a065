//! The `[globus]` table: the Globus transfer manager's services, credentials, task
//! settings, and which Globus collection shows each store (`[globus.stores.NAME]`).
//! See `docs/globus.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variable holding the confidential client's secret (instead of
/// `client_secret_file`).
pub const GLOBUS_SECRET_ENV: &str = "LIBRARIAN_GLOBUS_CLIENT_SECRET";
/// Environment variable holding a native app's refresh token (instead of
/// `refresh_token_file`).
pub const GLOBUS_REFRESH_ENV: &str = "LIBRARIAN_GLOBUS_REFRESH_TOKEN";
/// The Globus Auth service.
pub const DEFAULT_AUTH_URL: &str = "https://auth.globus.org";
/// The Globus Transfer service (the API version is appended).
pub const DEFAULT_TRANSFER_URL: &str = "https://transfer.api.globus.org";
/// Most items in one Globus task when `items_per_task` is unset.
pub const DEFAULT_ITEMS_PER_TASK: usize = 1000;
/// A task older than this is cancelled and failed when `max_task_age` is unset.
pub const DEFAULT_MAX_TASK_AGE: &str = "7d";

/// `[globus]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobusConfig {
    /// The Globus Auth client id (a UUID) this site acts as.
    pub client_id: String,
    /// A file holding the confidential client's secret (client-credentials grant);
    /// relative to the configuration file. Or set `LIBRARIAN_GLOBUS_CLIENT_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// A file holding a native app's refresh token (refresh-token grant, no client
    /// secret); relative to the configuration file. Or set
    /// `LIBRARIAN_GLOBUS_REFRESH_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_file: Option<PathBuf>,
    /// The Globus Auth base URL (default `https://auth.globus.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// The Globus Transfer base URL (default `https://transfer.api.globus.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_url: Option<String>,
    /// Most items (files and books) in one Globus task (default 1000); a batch with
    /// more is submitted as several tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_per_task: Option<usize>,
    /// A task still running after this long (e.g. `"7d"`) is cancelled and its batch
    /// failed (and started again per `[clone] max_batch_attempts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_age: Option<String>,
    /// A hard deadline given to Globus with each task, from its submission (e.g.
    /// `"3d"`); unset: Globus' own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Ask Globus to encrypt the data channel (default false).
    #[serde(default)]
    pub encrypt_data: bool,
    /// The collection that shows each store: `[globus.stores.main]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, StoreCollection>,
}

/// `[globus.stores.NAME]`: the Globus collection through which a store's data and
/// staging areas are reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCollection {
    /// The collection's UUID (a GCS v5 mapped or guest collection).
    pub collection: String,
    /// The collection's base path on this host: the local directory it shows as `/`
    /// (default `/`). The store's data and staging areas must lie below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_root: Option<PathBuf>,
    /// The collection is a GCS v5 mapped collection that needs the `data_access`
    /// consent: the token is asked for with its `data_access` scope as a dependency.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_access: bool,
}

impl StoreCollection {
    /// The local directory the collection shows as `/`.
    pub fn root(&self) -> &Path {
        self.collection_root.as_deref().unwrap_or(Path::new("/"))
    }

    /// The collection path of local `path`, if it lies below the collection's root.
    pub fn collection_path(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root()).ok()?;
        let mut out = String::from("/");
        for c in rel.components() {
            let std::path::Component::Normal(s) = c else { return None };
            if out.len() > 1 {
                out.push('/');
            }
            out.push_str(s.to_str()?);
        }
        Some(out)
    }
}

/// Which grant this site uses to get Globus tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobusGrant {
    /// A confidential client with a secret (a service account).
    ClientCredentials,
    /// A native app with a refresh token.
    RefreshToken,
}

impl GlobusConfig {
    /// The Auth base URL, without a trailing `/`.
    pub fn auth_base(&self) -> &str {
        self.auth_url.as_deref().unwrap_or(DEFAULT_AUTH_URL).trim_end_matches('/')
    }

    /// The Transfer base URL, without a trailing `/`.
    pub fn transfer_base(&self) -> &str {
        self.transfer_url.as_deref().unwrap_or(DEFAULT_TRANSFER_URL).trim_end_matches('/')
    }

    /// These settings with the defaults written out (`librarian config show --defaults`).
    pub fn filled(&self) -> GlobusConfig {
        GlobusConfig {
            auth_url: Some(self.auth_base().to_owned()),
            transfer_url: Some(self.transfer_base().to_owned()),
            items_per_task: Some(self.items_per_task()),
            max_task_age: Some(self.max_task_age.clone().unwrap_or_else(|| DEFAULT_MAX_TASK_AGE.into())),
            ..self.clone()
        }
    }

    /// Most items in one task.
    pub fn items_per_task(&self) -> usize {
        self.items_per_task.unwrap_or(DEFAULT_ITEMS_PER_TASK)
    }

    /// How long a task may run before it is cancelled.
    pub fn max_task_age(&self) -> Result<jiff::SignedDuration> {
        crate::model::parse_interval(self.max_task_age.as_deref().unwrap_or(DEFAULT_MAX_TASK_AGE))
    }

    /// The deadline given to each task, from its submission.
    pub fn deadline(&self) -> Result<Option<jiff::SignedDuration>> {
        self.deadline.as_deref().map(crate::model::parse_interval).transpose()
    }

    /// The grant the credentials call for.
    pub fn grant(&self) -> GlobusGrant {
        let refresh_file = self.refresh_token_file.is_some();
        let secret_given = self.client_secret_file.is_some() || std::env::var_os(GLOBUS_SECRET_ENV).is_some();
        if refresh_file || (!secret_given && std::env::var_os(GLOBUS_REFRESH_ENV).is_some()) {
            GlobusGrant::RefreshToken
        } else {
            GlobusGrant::ClientCredentials
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(Error::invalid(format!("globus.{key}"), why));
        if uuid::Uuid::parse_str(&self.client_id).is_err() {
            return bad("client_id", format!("globus.client_id {:?} is not a UUID", self.client_id));
        }
        if self.client_secret_file.is_some() && self.refresh_token_file.is_some() {
            return bad(
                "client_secret_file",
                "set globus.client_secret_file (a confidential client) or globus.refresh_token_file (a native app), \
                 not both"
                    .into(),
            );
        }
        for (key, url) in [("auth_url", self.auth_base()), ("transfer_url", self.transfer_base())] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(key, format!("globus.{key} {url:?} is not an http(s) URL"));
            }
            // Tokens and secrets never cross the network in clear.
            crate::model::check_transport(url)
                .or_else(|_| bad(key, format!("globus.{key} {url:?}: plain http:// is only for a loopback host")))?;
        }
        if self.items_per_task() == 0 || self.items_per_task() > 100_000 {
            return bad("items_per_task", "globus.items_per_task must be between 1 and 100000".into());
        }
        self.max_task_age()?;
        self.deadline()?;
        for (store, c) in &self.stores {
            crate::name::validate_store_name(store)?;
            if uuid::Uuid::parse_str(&c.collection).is_err() {
                return bad("stores", format!("[globus.stores.{store}] collection {:?} is not a UUID", c.collection));
            }
            if let Err(why) = super::plain_absolute(c.root()) {
                return bad("stores", format!("[globus.stores.{store}] collection_root: {why}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_paths_map_to_collection_paths_below_the_root_only() {
        let c = StoreCollection {
            collection: uuid::Uuid::nil().to_string(),
            collection_root: Some("/srv/gcs".into()),
            data_access: false,
        };
        assert_eq!(c.collection_path(Path::new("/srv/gcs/main/a b/é")).as_deref(), Some("/main/a b/é"));
        assert_eq!(c.collection_path(Path::new("/srv/gcs")).as_deref(), Some("/"));
        assert_eq!(c.collection_path(Path::new("/srv/gcsx/a")), None);
        assert_eq!(c.collection_path(Path::new("/srv/gcs/../etc")), None);
        let whole =
            StoreCollection { collection: uuid::Uuid::nil().to_string(), collection_root: None, data_access: false };
        assert_eq!(whole.collection_path(Path::new("/data/x")).as_deref(), Some("/data/x"));
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        let good = GlobusConfig { client_id: uuid::Uuid::nil().to_string(), ..Default::default() };
        good.validate().unwrap();
        let cases: Vec<(GlobusConfig, &str)> = vec![
            (GlobusConfig { client_id: "x".into(), ..good.clone() }, "client_id"),
            (GlobusConfig { auth_url: Some("http://auth.example.org".into()), ..good.clone() }, "auth_url"),
            (GlobusConfig { transfer_url: Some("ftp://x".into()), ..good.clone() }, "transfer_url"),
            (GlobusConfig { items_per_task: Some(0), ..good.clone() }, "items_per_task"),
            (GlobusConfig { max_task_age: Some("soon".into()), ..good.clone() }, "interval"),
            (
                GlobusConfig {
                    client_secret_file: Some("a".into()),
                    refresh_token_file: Some("b".into()),
                    ..good.clone()
                },
                "not both",
            ),
            (
                GlobusConfig {
                    stores: [(
                        "main".into(),
                        StoreCollection { collection: "nope".into(), collection_root: None, data_access: false },
                    )]
                    .into(),
                    ..good.clone()
                },
                "globus.stores.main",
            ),
            (
                GlobusConfig {
                    stores: [(
                        "main".into(),
                        StoreCollection {
                            collection: uuid::Uuid::nil().to_string(),
                            collection_root: Some("rel".into()),
                            data_access: false,
                        },
                    )]
                    .into(),
                    ..good.clone()
                },
                "collection_root",
            ),
        ];
        for (cfg, needle) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle}");
        }
        let local = GlobusConfig { auth_url: Some("http://127.0.0.1:9/".into()), ..good };
        local.validate().unwrap();
        assert_eq!(local.auth_base(), "http://127.0.0.1:9");
    }
}
