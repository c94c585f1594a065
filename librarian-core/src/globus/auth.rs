//! Globus Auth: the site's credentials (read from a file or the environment, never
//! shown), the two grants (client credentials for a confidential client, refresh
//! token for a native app), and a process-wide cache of the Transfer token, renewed
//! 60 s before it expires or at once when Transfer answers 401.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::GlobusError;
use super::wire::{OAuthError, TRANSFER_SCOPE, TokenResponse};
use crate::config::{GLOBUS_REFRESH_ENV, GLOBUS_SECRET_ENV, GlobusConfig, GlobusGrant};
use crate::error::{Error, Result};

/// Renew a token this long before Globus says it expires (as the SDK does).
const EXPIRES_ADJUST: Duration = Duration::from_secs(60);

/// A secret (client secret, refresh token, access token): never printed, not even by
/// `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, to send.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What the site proves itself with.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// A confidential client: id and secret (HTTP Basic), client-credentials grant.
    Client { id: String, secret: Secret },
    /// A native app: id and refresh token, refresh-token grant.
    Refresh { id: String, token: Secret },
}

impl Credentials {
    /// The credentials `[globus]` names: the secret (or refresh token) from its file,
    /// relative to the configuration file, or from the environment.
    /// [`Error::Config`] when it cannot be read or is empty (the message names the
    /// file or variable, never the content).
    pub(crate) fn load(cfg: &GlobusConfig, config_path: &Path) -> Result<Self> {
        let (file, env) = match cfg.grant() {
            GlobusGrant::ClientCredentials => (cfg.client_secret_file.as_deref(), GLOBUS_SECRET_ENV),
            GlobusGrant::RefreshToken => (cfg.refresh_token_file.as_deref(), GLOBUS_REFRESH_ENV),
        };
        let bad = |message: String| Error::Config { path: config_path.to_owned(), message };
        let value = match file {
            Some(f) => {
                let path = crate::config::resolve(config_path, f);
                crate::model::read_private_file(&path, "Globus secret file")
                    .map_err(|e| bad(format!("[globus]: {e}")))?
            }
            None => std::env::var(env).map_err(|_| {
                bad(format!(
                    "[globus] needs credentials: client_secret_file (or ${GLOBUS_SECRET_ENV}) for a confidential \
                     client, or refresh_token_file (or ${GLOBUS_REFRESH_ENV}) for a native app"
                ))
            })?,
        };
        let value = value.trim().to_owned();
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(bad(format!("[globus]: the {} is empty or not one word", secret_kind(cfg.grant()))));
        }
        let id = cfg.client_id.clone();
        Ok(match cfg.grant() {
            GlobusGrant::ClientCredentials => Credentials::Client { id, secret: Secret(value) },
            GlobusGrant::RefreshToken => Credentials::Refresh { id, token: Secret(value) },
        })
    }

    fn id(&self) -> &str {
        match self {
            Credentials::Client { id, .. } | Credentials::Refresh { id, .. } => id,
        }
    }
}

fn secret_kind(grant: GlobusGrant) -> &'static str {
    match grant {
        GlobusGrant::ClientCredentials => "client secret",
        GlobusGrant::RefreshToken => "refresh token",
    }
}

/// A Transfer token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// Tokens by (auth URL, client id, scope), for the whole process: every batch polled in one
/// run shares one grant.
static TOKENS: Mutex<Option<HashMap<TokenKey, Cached>>> = Mutex::new(None);

/// (auth URL, client id, scope).
type TokenKey = (String, String, String);

/// A Transfer token: the cached one while it has more than a minute to live, else a
/// new grant. `renew`: drop the cached one first (Transfer answered 401).
pub(crate) fn token(
    agent: &ureq::Agent,
    auth_base: &str,
    creds: &Credentials,
    scope: &str,
    renew: bool,
) -> std::result::Result<Secret, GlobusError> {
    let key = (auth_base.to_owned(), creds.id().to_owned(), scope.to_owned());
    {
        let mut cache = TOKENS.lock().unwrap_or_else(PoisonError::into_inner);
        let map = cache.get_or_insert_with(HashMap::new);
        if renew {
            map.remove(&key);
        } else if let Some(c) = map.get(&key)
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
    }
    let (token, lifetime) = grant(agent, auth_base, creds, scope)?;
    let renew_at = Instant::now() + Duration::from_secs(lifetime).saturating_sub(EXPIRES_ADJUST);
    let mut cache = TOKENS.lock().unwrap_or_else(PoisonError::into_inner);
    cache.get_or_insert_with(HashMap::new).insert(key, Cached { token: token.clone(), renew_at });
    Ok(token)
}

/// The scope asked for: Transfer, with the `data_access` scope of each collection
/// that needs it as an optional dependency
/// (`…transfer.api.globus.org:all[*https://auth.globus.org/scopes/UUID/data_access]`).
pub(crate) fn scope(data_access: &[String]) -> String {
    if data_access.is_empty() {
        return TRANSFER_SCOPE.to_owned();
    }
    let deps: Vec<String> =
        data_access.iter().map(|c| format!("*https://auth.globus.org/scopes/{c}/data_access")).collect();
    format!("{TRANSFER_SCOPE}[{}]", deps.join(" "))
}

/// One grant at `POST {auth}/v2/oauth2/token`, retried as any Globus call is.
fn grant(
    agent: &ureq::Agent,
    auth_base: &str,
    creds: &Credentials,
    scope: &str,
) -> std::result::Result<(Secret, u64), GlobusError> {
    let url = format!("{auth_base}/v2/oauth2/token");
    let form: Vec<(&str, &str)> = match creds {
        Credentials::Client { .. } => vec![("grant_type", "client_credentials"), ("scope", scope)],
        Credentials::Refresh { id, token } => {
            vec![("grant_type", "refresh_token"), ("refresh_token", token.expose()), ("client_id", id)]
        }
    };
    let basic = match creds {
        Credentials::Client { id, secret } => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{}", secret.expose()))
        )),
        Credentials::Refresh { .. } => None,
    };
    let (status, body) = super::http::with_retries("Globus Auth", || {
        let mut req = agent.post(&url);
        if let Some(b) = &basic {
            req = req.header("Authorization", b);
        }
        req.send_form(form.iter().copied())
    })?;
    if (200..300).contains(&status) {
        let answer: TokenResponse = serde_json::from_str(&body).map_err(|_| {
            GlobusError::Transient("Globus Auth answered a token request with an unreadable body".into())
        })?;
        return match answer.transfer_token() {
            Some((t, lifetime)) if !t.is_empty() => Ok((Secret(t.to_owned()), lifetime)),
            _ => Err(GlobusError::Credentials(
                "Globus Auth gave no token for the Transfer service (resource server transfer.api.globus.org)".into(),
            )),
        };
    }
    // Only the OAuth2 error code is kept: a plain word, never the request.
    let code = serde_json::from_str::<OAuthError>(&body)
        .map(|e| crate::text::service_code(&e.error))
        .unwrap_or_else(|_| format!("HTTP {status}"));
    if matches!(status, 400 | 401 | 403) {
        let hint = match creds {
            Credentials::Client { .. } => "check globus.client_id and the client secret",
            Credentials::Refresh { .. } => "check globus.client_id and the refresh token (it may have been revoked)",
        };
        return Err(GlobusError::Credentials(format!("Globus Auth refused this site's credentials ({code}): {hint}")));
    }
    Err(GlobusError::Transient(format!("Globus Auth answered HTTP {status} ({code})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_access_scopes_are_optional_dependencies_of_transfer() {
        assert_eq!(scope(&[]), TRANSFER_SCOPE);
        assert_eq!(
            scope(&["c1".into(), "c2".into()]),
            format!(
                "{TRANSFER_SCOPE}[*https://auth.globus.org/scopes/c1/data_access \
                 *https://auth.globus.org/scopes/c2/data_access]"
            )
        );
        assert_eq!(format!("{:?}", Secret("s3cr3t".into())), "Secret(<redacted>)");
    }
}
