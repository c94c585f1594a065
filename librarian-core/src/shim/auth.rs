//! HTTP Basic authentication against the site's accounts, with a cache so argon2
//! does not run on every request.
//!
//! A cache entry remembers, for one account name: a keyed BLAKE3 digest of the
//! password that was verified (the key is random per process, so the digest is
//! useless outside it), the account's stored argon2 hash at that time, and an expiry.
//! A request is accepted from the cache only if the account still exists with the
//! *same* stored hash (so a removed account, or a changed password, is re-checked)
//! and the supplied password has the same digest (so a wrong password is never
//! accepted). Everything else goes through argon2.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::response::ApiError;
use crate::account::{Account, Password};
use crate::librarian::Librarian;

/// Verified credentials, per account name.
#[derive(Debug)]
pub(crate) struct CredentialCache {
    ttl: Duration,
    key: [u8; 32],
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    digest: [u8; 32],
    stored_hash: String,
    account: Account,
    expires: Instant,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        CredentialCache { ttl, key, entries: Mutex::new(HashMap::new()) }
    }

    fn digest(&self, password: &Password) -> [u8; 32] {
        *blake3::keyed_hash(&self.key, password.expose().as_bytes()).as_bytes()
    }

    /// Authenticate `name`/`password`: from the cache when it is safe, else argon2.
    pub fn authenticate(&self, lib: &Librarian, name: &str, password: &Password) -> Result<Account, ApiError> {
        let Some((_, stored_hash)) = lib.catalog().account_with_hash(name).map_err(ApiError::from)? else {
            // Same work as a wrong password, so unknown names cannot be told apart.
            let _ = lib.authenticate(name, password);
            return Err(ApiError::unauthorized());
        };
        let digest = self.digest(password);
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get(name)
                && e.stored_hash == stored_hash
                && e.digest == digest
                && e.expires > Instant::now()
            {
                return Ok(e.account.clone());
            }
        }
        let account = lib.authenticate(name, password).map_err(ApiError::from)?;
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.insert(
                name.to_owned(),
                Entry { digest, stored_hash, account: account.clone(), expires: Instant::now() + self.ttl },
            );
        }
        Ok(account)
    }
}

/// The `(account, password)` of an `Authorization: Basic ...` header value. `None`
/// when the header is absent; an error when it is malformed.
pub(crate) fn parse_basic(value: Option<&str>) -> Result<Option<(String, Password)>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let malformed = || ApiError::bad_request("malformed Authorization header: expected Basic base64(account:password)");
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    // The password may contain ':'; the account name may not.
    let (name, password) = text.split_once(':').ok_or_else(malformed)?;
    let password = Password::new(password.to_owned()).map_err(|_| ApiError::unauthorized())?;
    Ok(Some((name.to_owned(), password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn basic_headers() {
        assert!(matches!(parse_basic(None), Ok(None)));
        let ok = parse_basic(Some(&format!("Basic {}", b64("alice:pa:ss")))).ok().flatten();
        assert_eq!(ok.map(|(n, p)| (n, p.expose().to_owned())), Some(("alice".into(), "pa:ss".into())));
        for bad in ["Basic", "Basic !!!", &format!("Basic {}", b64("no-colon"))] {
            assert!(matches!(parse_basic(Some(bad)), Err(ApiError { status: 400, .. })), "{bad}");
        }
        assert!(matches!(parse_basic(Some("Bearer x")), Err(ApiError { status: 401, .. })));
    }
}
