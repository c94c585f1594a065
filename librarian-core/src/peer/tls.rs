//! How this site checks its peers' certificates: the `[client]` table of
//! `librarian.toml`, and the trust roots loaded from it for the peer client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ClientConfig;
use crate::error::{Error, Result};

/// The trust roots for peers' `https://` URLs, loaded from a [`ClientConfig`].
#[derive(Clone)]
pub struct ClientTls {
    pub(crate) roots: ureq::tls::RootCerts,
    /// The CA bundle the roots came from (`None`: no bundle).
    pub(crate) bundle: Option<PathBuf>,
    /// How many roots came from the system's CA store (`None`: not asked for).
    pub(crate) system: Option<usize>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("bundle", &self.bundle).field("system", &self.system).finish()
    }
}

impl Default for ClientTls {
    /// The built-in Mozilla roots.
    fn default() -> Self {
        ClientTls { roots: ureq::tls::RootCerts::WebPki, bundle: None, system: None }
    }
}

impl ClientTls {
    /// Load the trust roots `config` names; `config_path` is the configuration file
    /// (relative paths are relative to its directory; it is named in errors). A
    /// bundle that is missing, unreadable, or holds no certificate is an
    /// [`Error::Config`] naming it.
    pub fn load(config: &ClientConfig, config_path: &Path) -> Result<Self> {
        if config.ca_bundle.is_none() && !config.system_roots {
            return Ok(ClientTls::default());
        }
        let mut certs: Vec<ureq::tls::Certificate<'static>> = Vec::new();
        let mut bundle = None;
        if let Some(b) = &config.ca_bundle {
            let path = crate::config::resolve(config_path, b);
            let found = crate::tls::load_certs(&path).map_err(|m| Error::Config {
                path: config_path.to_owned(),
                message: format!("client.ca_bundle {}: {m}", path.display()),
            })?;
            certs.extend(found.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()));
            bundle = Some(path);
        }
        let mut system = None;
        if config.system_roots {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::warn!("the system's CA store: {e}");
            }
            if found.certs.is_empty() {
                return Err(Error::Config {
                    path: config_path.to_owned(),
                    message: "client.system_roots: the system's CA store holds no certificate (install \
                              ca-certificates, or set SSL_CERT_FILE)"
                        .into(),
                });
            }
            system = Some(found.certs.len());
            certs.extend(found.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()));
        }
        Ok(ClientTls { roots: ureq::tls::RootCerts::Specific(Arc::new(certs)), bundle, system })
    }

    /// Where the roots come from, for messages.
    pub(crate) fn describe(&self) -> String {
        match (&self.bundle, self.system) {
            (Some(p), None) => format!("[client] ca_bundle {}", p.display()),
            (Some(p), Some(n)) => format!("[client] ca_bundle {} and the system's CA store ({n} roots)", p.display()),
            (None, Some(n)) => format!("the system's CA store ({n} roots, [client] system_roots)"),
            (None, None) => "the built-in Mozilla roots ([client] ca_bundle and system_roots are not set)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn ca_bundle_paths_are_relative_to_the_config_and_errors_name_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("librarian.toml");
        assert!(ClientTls::load(&ClientConfig::default(), &config_path).is_ok_and(|t| t.bundle.is_none()));

        let cfg = ClientConfig { ca_bundle: Some(PathBuf::from("tls/ca.pem")), system_roots: false };
        let msg = ClientTls::load(&cfg, &config_path).err().map(|e| e.to_string()).unwrap_or_default();
        let want = dir.path().join("tls/ca.pem").display().to_string();
        assert!(msg.contains("client.ca_bundle") && msg.contains(&want), "{msg}");

        std::fs::create_dir(dir.path().join("tls")).expect("mkdir");
        std::fs::write(dir.path().join("tls/ca.pem"), "no certificate here\n").expect("write");
        let msg = ClientTls::load(&cfg, &config_path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("no PEM certificate"), "{msg}");
    }

    #[test]
    fn client_and_tls_settings_round_trip_through_toml() {
        let mut cfg = Config::new("site-a").expect("config");
        assert!(!cfg.to_toml().expect("toml").contains("[client]"));
        cfg.client.ca_bundle = Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        cfg.server.tls_cert = Some(PathBuf::from("tls/cert.pem"));
        cfg.server.tls_key = Some(PathBuf::from("tls/key.pem"));
        let text = cfg.to_toml().expect("toml");
        assert!(text.contains("[client]") && !text.contains("insecure_plain_http"), "{text}");
        let back: Config = toml::from_str(&text).expect("parse");
        assert_eq!(back, cfg);
        assert!(toml::from_str::<Config>("name = \"a\"\n[client]\nca_bundel = \"x\"\n").is_err());
    }
}
