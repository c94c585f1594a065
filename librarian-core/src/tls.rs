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
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// Load `cert` (a PEM chain, leaf first) and `key` (a PEM private key: PKCS#8, PKCS#1
/// or SEC1) into a rustls server configuration. `config_path` is only used in errors.
pub(crate) fn server_config(config_path: &Path, cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let err = |message: String| Error::Config { path: config_path.to_owned(), message };
    let chain = load_certs(cert).map_err(|m| err(format!("server.tls_cert {}: {m}", cert.display())))?;
    let key_der = load_key(key).map_err(|m| err(format!("server.tls_key {}: {m}", key.display())))?;
    let provider = Arc::new(ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("cannot set up TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            err(format!("server.tls_key {} does not fit server.tls_cert {}: {e}", key.display(), cert.display()))
        })?;
    Ok(Arc::new(config))
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
