//! Values of the original (Python) Librarian that a site migrating from it brings
//! along (issue 14): its peers' credentials, stored as Fernet tokens of
//! `user:password` under the `encryption_key` of its server config.

use base64::Engine as _;

use super::Password;
use crate::error::{Error, Result};

/// Decrypt a peer's `authenticator` (a Fernet token) with `key` (the original
/// server config's `encryption_key`: url-safe base64 of 32 bytes) into the account
/// and password this site uses at that peer. The token's own time is not checked
/// (the original host's clock may have been off), its HMAC is. The plaintext is split
/// on its first `:` (the original split on every `:` and lost the rest of a
/// password holding one).
pub fn decrypt_authenticator(key: &str, token: &str) -> Result<(String, Password)> {
    let fernet = fernet::Fernet::new(key.trim()).ok_or_else(|| {
        Error::invalid("encryption_key", "the encryption_key is not a Fernet key (url-safe base64 of 32 bytes)")
    })?;
    let token = token.trim();
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')))
        .map_err(|_| Error::invalid("authenticator", "a peer's authenticator is not a Fernet token (base64)"))?;
    let when = raw
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .filter(|_| raw.first() == Some(&0x80))
        .ok_or_else(|| Error::invalid("authenticator", "a peer's authenticator is not a Fernet token (version)"))?;
    let plain = fernet.decrypt_at_time(token, None, when).map_err(|_| {
        Error::invalid(
            "authenticator",
            "a peer's authenticator does not decrypt with this encryption_key: the wrong key, or an altered token",
        )
    })?;
    let text = String::from_utf8(plain)
        .map_err(|_| Error::invalid("authenticator", "a peer's authenticator does not hold text"))?;
    let Some((user, password)) = text.split_once(':') else {
        return Err(Error::invalid("authenticator", "a peer's authenticator holds no user:password"));
    };
    Ok((user.to_owned(), Password::new(password.to_owned())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture sites' keys and tokens (tests/fixtures/so-librarian: config/*.json
    /// `encryption_key`, `librarians.authenticator`), written by the original.
    const KEY_A: &str = "c28tc2l0ZS1hIGZpeHR1cmUgdGVzdCBrZXkgMDAwMDE=";
    const KEY_B: &str = "c28tc2l0ZS1iIGZpeHR1cmUgdGVzdCBrZXkgMDAwMDI=";
    const TOKEN_A: &str = "gAAAAABrD447npkZz9dJ-9PfB9LAKD2MKP7jnNIyLcIU6r2vlmMp9Ya80OqTQtTLYvzhrE6NpMLdOlWEITs3ViEzVvlHTcqQCh6AZ3kvsEi1TtWCAOoyads=";
    const TOKEN_B: &str = "gAAAAABrD448rZuJwP97Pm6exReFzSuBcZbTOCxpNn8CNg9IqyipEcF-x6EwYe2R48mkzBaRmkN9d1miaRiMZrVmglOYq5sGQPUMXbypSdWDJ8aYHXxLYDY=";

    #[test]
    fn the_original_sites_peer_credentials_decrypt_with_their_keys() {
        let (user, pw) = decrypt_authenticator(KEY_A, TOKEN_A).expect("A's token");
        assert_eq!((user.as_str(), pw.expose()), ("so-site-a", "a-to-b-append-pass"));
        let (user, pw) = decrypt_authenticator(KEY_B, TOKEN_B).expect("B's token");
        assert_eq!((user.as_str(), pw.expose()), ("so-site-b", "b-to-a-callback-pass"));
    }

    #[test]
    fn a_wrong_key_an_altered_token_or_no_key_is_a_clear_error() {
        let wrong = decrypt_authenticator(KEY_B, TOKEN_A).expect_err("A's token with B's key");
        assert_eq!(wrong.code(), "invalid_argument");
        assert!(wrong.to_string().contains("wrong key"), "{wrong}");
        // One character of the token changed: the HMAC no longer matches.
        let mut altered = TOKEN_A.to_owned();
        altered.replace_range(40..41, if &TOKEN_A[40..41] == "A" { "B" } else { "A" });
        assert!(decrypt_authenticator(KEY_A, &altered).is_err());
        assert!(decrypt_authenticator("not a key", TOKEN_A).is_err());
        assert!(decrypt_authenticator(KEY_A, "not a token!").is_err());
        assert!(decrypt_authenticator(KEY_A, "").is_err());
    }

    #[test]
    fn a_password_holding_a_colon_survives_and_the_tokens_time_is_not_checked() {
        // A token made far in the future (a skewed clock on the original's host).
        let key = fernet::Fernet::new(KEY_A).expect("key");
        let future = 4_102_444_800; // 2100-01-01
        let token = key.encrypt_at_time(b"site-x:pa:ss:word", future);
        let (user, pw) = decrypt_authenticator(KEY_A, &token).expect("decrypts");
        assert_eq!((user.as_str(), pw.expose()), ("site-x", "pa:ss:word"));
    }
}
