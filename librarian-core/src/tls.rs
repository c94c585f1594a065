//! TLS files: PEM certificates and keys, the rustls configuration of `librarian serve`
//! (rustls, in process, with the `ring` provider) and the peer client's CA bundle.
//!
//! The certificate chain and private key are PEM files named by `[server] tls_cert`
//! and `tls_key`. They are read once, when the server binds; every problem with them
//! (missing, unreadable, not PEM, no certificate, no key, a key that does not belong
//! to the certificate) is an [`Error::Config`] naming the file, before anything
//! listens.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The server's certificate and key, read from their files and read again when asked
/// (`librarian serve` on SIGHUP): new connections get the new pair, connections
/// already open keep theirs. A pair that does not load keeps the old one in use.
#[derive(Debug)]
pub(crate) struct ServerCert {
    config_path: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    fn load(config_path: &Path, cert: &Path, key: &Path) -> Result<CertifiedKey> {
        let err = |message: String| Error::Config { path: config_path.to_owned(), message };
        let chain = load_certs(cert).map_err(|m| err(format!("server.tls_cert {}: {m}", cert.display())))?;
        let key_der = load_key(key).map_err(|m| err(format!("server.tls_key {}: {m}", key.display())))?;
        CertifiedKey::from_der(chain, key_der, &ring::default_provider()).map_err(|e| {
            err(format!("server.tls_key {} does not fit server.tls_cert {}: {e}", key.display(), cert.display()))
        })
    }

    /// Read the files again; on success new connections use the new pair.
    pub(crate) fn reload(&self) -> Result<()> {
        let fresh = Arc::new(Self::load(&self.config_path, &self.cert, &self.key)?);
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = match self.current.read() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(Arc::clone(&current))
    }
}

/// Load `cert` (a PEM chain, leaf first) and `key` (a PEM private key: PKCS#8, PKCS#1
/// or SEC1) into a rustls server configuration whose certificate can be reloaded
/// ([`ServerCert::reload`]). `config_path` is only used in errors.
pub(crate) fn server_config(
    config_path: &Path,
    cert: &Path,
    key: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ServerCert>)> {
    let err = |message: String| Error::Config { path: config_path.to_owned(), message };
    let first = ServerCert::load(config_path, cert, key)?;
    let resolver = Arc::new(ServerCert {
        config_path: config_path.to_owned(),
        cert: cert.to_owned(),
        key: key.to_owned(),
        current: std::sync::RwLock::new(Arc::new(first)),
    });
    let provider = Arc::new(ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("cannot set up TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
    Ok((Arc::new(config), resolver))
}

/// Every certificate in a PEM file (at least one).
pub(crate) fn load_certs(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    read_check(path)?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into());
    }
    Ok(certs)
}

/// The first private key in a PEM file.
fn load_key(path: &Path) -> std::result::Result<PrivateKeyDer<'static>, String> {
    read_check(path)?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => "no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC) in the file".into(),
        other => pem_error(other),
    })
}

/// Open the file once for a clear I/O message (pki-types reports "no such file" without
/// saying which, and treats a directory as an empty file).
fn read_check(path: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("is not a file".into());
    }
    std::fs::File::open(path).map(drop).map_err(|e| format!("cannot read: {e}"))
}

fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::Io(io) => format!("cannot read: {io}"),
        pem::Error::NoItemsFound => "no PEM item in the file".into(),
        other => format!("is not valid PEM: {other}"),
    }
}
