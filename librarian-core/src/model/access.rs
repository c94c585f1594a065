//! Access as values: the accounts that may call this site's HTTP shim, their levels,
//! and passwords. (`crate::access` holds the flows over them, `catalog/access.rs` their SQL.)
//!
//! Passwords are stored only as argon2id PHC strings. A [`Password`] never prints its
//! contents (`Debug` and `Display` show `***`), so it cannot leak into logs or output.

use std::fmt;
use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, Result};

/// What an account may do. `Admin` ⊇ `ReadAppend` ⊇ `ReadOnly`; `Callback` may only
/// report on transfers that concern its own peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Everything.
    Admin,
    /// Read, and add data.
    ReadAppend,
    /// Read only.
    ReadOnly,
    /// Callbacks from one peer about its transfers.
    Callback,
}

impl Level {
    all_variants!(
        /// Every level, most powerful first.
        Admin, ReadAppend, ReadOnly, Callback
    );

    /// `admin`, `read-append`, `read-only` or `callback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Admin => "admin",
            Level::ReadAppend => "read-append",
            Level::ReadOnly => "read-only",
            Level::Callback => "callback",
        }
    }

    /// May an account of this level call an endpoint that requires `required`?
    pub fn allows(self, required: Level) -> bool {
        let rank = |l: Level| match l {
            Level::Admin => Some(3),
            Level::ReadAppend => Some(2),
            Level::ReadOnly => Some(1),
            Level::Callback => None,
        };
        match (rank(self), rank(required)) {
            (Some(have), Some(need)) => have >= need,
            (None, None) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(Level::Admin),
            "read-append" => Ok(Level::ReadAppend),
            "read-only" => Ok(Level::ReadOnly),
            "callback" => Ok(Level::Callback),
            other => Err(Error::invalid(
                "level",
                format!("level must be admin, read-append, read-only or callback, not {other:?}"),
            )),
        }
    }
}

/// A secret. Its contents never appear in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wrap a password: non-empty, at most 1024 bytes, no line breaks or NUL.
    pub fn new(secret: String) -> Result<Self> {
        if secret.is_empty() {
            return Err(Error::invalid("password", "the password is empty"));
        }
        if secret.len() > 1024 {
            return Err(Error::invalid("password", "the password is longer than 1024 bytes"));
        }
        if secret.contains(['\n', '\r', '\0']) {
            return Err(Error::invalid("password", "the password contains a line break or NUL"));
        }
        Ok(Password(secret))
    }

    /// Read a password from the first line of a file (a trailing newline is dropped).
    ///
    /// As ssh does with private keys, a file that its group or others may read or
    /// write is refused (on Unix): the error names the file and the fix, `chmod 600`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_private_file(path, "password file")?;
        let first = text.lines().next().unwrap_or("");
        Self::new(first.to_owned())
    }

    /// The secret itself, for hashing or for sending to a peer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An argon2id PHC string for `password` with a fresh random salt.
pub(crate) fn hash_password(password: &Password) -> Result<String> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("cannot hash the password: {e}")))
}

/// Does `password` match the PHC string `hash`? (False for a malformed hash.)
pub(crate) fn verify_password(hash: &str, password: &Password) -> bool {
    Argon2::default().verify_password(password.expose().as_bytes(), hash).is_ok()
}

/// An account (JSON object "Account"; the password hash is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Name used in HTTP Basic auth.
    pub name: String,
    /// What it may do.
    pub level: Level,
    /// The peer this account belongs to (required for `callback`).
    pub peer: Option<String>,
    /// When it was created (UTC).
    pub created_at: Timestamp,
}

/// Read a file holding a secret (`what` names it in errors: "password file", "Globus
/// secret file"). As ssh does with private keys, a file that its group or others may
/// read or write is refused (on Unix): the error names the file and the fix,
/// `chmod 600`, never its content.
pub(crate) fn read_private_file(path: &Path, what: &'static str) -> Result<String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(|e| Error::io("cannot read", path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::invalid(
                what,
                format!(
                    "{what} {} is accessible by its group or others (mode {:03o}); make it private with `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ),
            ));
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| Error::io("cannot read", path, e))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes the original (Python) Librarian wrote for its users (argon2-cffi,
    /// argon2id m=65536 t=3 p=4; tests/fixtures/so-librarian/site-a.sqlite), with the
    /// fixture's test passwords: imported as they are, they must keep working here.
    #[test]
    fn the_original_librarians_password_hashes_verify_unchanged() {
        let admin_a =
            "$argon2id$v=19$m=65536,t=3,p=4$FfpQKARkUco1zuypJ+kkqg$egKhcwTke61JZuXX0Xml6gL3ViGuDVJ/1EzbeLTfDTk";
        let alice = "$argon2id$v=19$m=65536,t=3,p=4$UacaDRvEqxj83ydGv84wZg$t/JFKvPwLeGsVhszl7enPjferlHyIqDi0DdiPoHrRDg";
        let pw = |p: &str| Password::new(p.to_owned()).expect("password");
        assert!(verify_password(admin_a, &pw("admin-a-pass")));
        assert!(!verify_password(admin_a, &pw("admin-b-pass")), "another site's admin password");
        assert!(verify_password(alice, &pw("alice-ra-pass")));
        assert!(!verify_password(alice, &pw("admin-a-pass")));
    }

    #[test]
    fn levels_order_and_callback_stands_apart() {
        assert!(Level::Admin.allows(Level::ReadAppend) && Level::Admin.allows(Level::ReadOnly));
        assert!(Level::ReadAppend.allows(Level::ReadOnly) && !Level::ReadAppend.allows(Level::Admin));
        assert!(!Level::ReadOnly.allows(Level::ReadAppend));
        assert!(Level::Callback.allows(Level::Callback));
        for l in [Level::Admin, Level::ReadAppend, Level::ReadOnly] {
            assert!(!Level::Callback.allows(l), "callback may not act as {l}");
            assert!(!l.allows(Level::Callback), "{l} is not a callback account");
            assert_eq!(l.as_str().parse::<Level>().ok(), Some(l));
        }
        assert!("root".parse::<Level>().is_err());
    }

    #[test]
    fn passwords_hash_verify_and_never_print() {
        let pw = Password::new("correct horse".into()).ok();
        let pw = pw.as_ref().map(|p| (p, hash_password(p)));
        let Some((pw, Ok(hash))) = pw else { panic!("hashing failed") };
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, pw));
        let wrong = Password::new("correct horsf".into()).ok();
        assert!(wrong.is_some_and(|w| !verify_password(&hash, &w)));
        assert!(!verify_password("not a phc string", pw));
        assert_eq!(format!("{pw:?} {pw}"), "Password(***) ***");
        assert!(Password::new(String::new()).is_err());
        assert!(Password::new("a\nb".into()).is_err());
    }
}
