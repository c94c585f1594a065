//! Globus Auth's token endpoint (`POST /v2/oauth2/token`, reference §1) and the Bearer
//! check of the Transfer API (§6.2). Access tokens live in memory only: a restarted
//! fake answers 401 to the tokens of its previous run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{Request, Response, decode_form};

pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
pub const TRANSFER_RESOURCE_SERVER: &str = "transfer.api.globus.org";

/// Clients, refresh tokens and the access tokens issued so far.
#[derive(Debug)]
pub struct Auth {
    /// Confidential clients: id to secret.
    clients: HashMap<String, String>,
    /// Refresh tokens: token to the client id it was issued to.
    refresh_tokens: HashMap<String, String>,
    lifetime: Duration,
    /// Live access tokens: token to (client id, expiry).
    tokens: HashMap<String, (String, Instant)>,
}

impl Auth {
    pub fn new(clients: &[(String, String)], refresh_tokens: &[(String, String)], lifetime: Duration) -> Self {
        Auth {
            clients: clients.iter().cloned().collect(),
            refresh_tokens: refresh_tokens.iter().map(|(client, token)| (token.clone(), client.clone())).collect(),
            lifetime,
            tokens: HashMap::new(),
        }
    }

    /// The client id behind a live `Authorization: Bearer` token.
    pub fn bearer_client(&self, request: &Request) -> Option<String> {
        let header = request.header("authorization")?;
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let (client, expires) = self.tokens.get(token.trim())?;
        (Instant::now() < *expires).then(|| client.clone())
    }

    /// Every access token issued so far stops working. Returns how many were live.
    pub fn revoke_all(&mut self) -> usize {
        let now = Instant::now();
        let live = self.tokens.values().filter(|(_, expires)| now < *expires).count();
        self.tokens.clear();
        live
    }

    /// `POST /v2/oauth2/token`.
    pub fn token_endpoint(&mut self, request: &Request) -> Response {
        match self.grant(request) {
            Ok(body) => Response::json(200, &body),
            Err((status, error)) => Response::json(status, &json!({"error": error})),
        }
    }

    fn grant(&mut self, request: &Request) -> Result<Value, (u16, &'static str)> {
        if request.method != "POST" {
            return Err((405, "invalid_request"));
        }
        if request.media_type().as_deref() != Some("application/x-www-form-urlencoded") {
            return Err((400, "invalid_request"));
        }
        let form: HashMap<String, String> = decode_form(&String::from_utf8_lossy(&request.body)).into_iter().collect();
        let field = |name: &str| form.get(name).map(String::as_str);
        let client = match field("grant_type") {
            Some("client_credentials") => {
                let client = self.confidential_client(request, &form)?.ok_or((401, "invalid_client"))?;
                if !field("scope").unwrap_or("").contains(TRANSFER_SCOPE) {
                    return Err((400, "invalid_scope"));
                }
                client
            }
            Some("refresh_token") => {
                let client = match self.confidential_client(request, &form)? {
                    Some(client) => client,
                    // A native app names itself in the body and has no secret.
                    None => match field("client_id") {
                        Some(id) if !self.clients.contains_key(id) => id.to_string(),
                        _ => return Err((401, "invalid_client")),
                    },
                };
                let token = field("refresh_token").unwrap_or("");
                if self.refresh_tokens.get(token) != Some(&client) {
                    return Err((400, "invalid_grant"));
                }
                client
            }
            Some(_) => return Err((400, "unsupported_grant_type")),
            None => return Err((400, "invalid_request")),
        };
        let scope = match field("scope") {
            Some(scope) if !scope.trim().is_empty() => scope.to_string(),
            _ => TRANSFER_SCOPE.to_string(),
        };
        let token = random_token();
        self.tokens.insert(token.clone(), (client, Instant::now() + self.lifetime));
        Ok(json!({
            "access_token": token,
            "scope": scope,
            "expires_in": self.lifetime.as_secs(),
            "token_type": "Bearer",
            "resource_server": TRANSFER_RESOURCE_SERVER,
            "other_tokens": [],
        }))
    }

    /// The confidential client the request authenticates as: HTTP Basic, or
    /// `client_id` + `client_secret` in the body. `Ok(None)` when it presents no
    /// secret at all; `Err` when what it presents is wrong.
    fn confidential_client(
        &self,
        request: &Request,
        form: &HashMap<String, String>,
    ) -> Result<Option<String>, (u16, &'static str)> {
        let (id, secret) = if let Some(header) = request.header("authorization") {
            basic_credentials(header).ok_or((401, "invalid_client"))?
        } else if let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) {
            (id.clone(), secret.clone())
        } else {
            return Ok(None);
        };
        match self.clients.get(&id) {
            Some(expected) if *expected == secret => Ok(Some(id)),
            _ => Err((401, "invalid_client")),
        }
    }
}

/// `Basic base64(id:secret)` to (id, secret).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// A fresh random access token (256 bits, hex).
fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_request(authorization: Option<&str>, form: &str) -> Request {
        let mut headers = vec![("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string())];
        if let Some(value) = authorization {
            headers.push(("Authorization".into(), value.into()));
        }
        Request {
            method: "POST".into(),
            path: "/v2/oauth2/token".into(),
            query: None,
            headers,
            body: form.as_bytes().to_vec(),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn grants_and_refusals() {
        let mut auth = Auth::new(
            &[("conf".into(), "s3cret".into())],
            &[("native".into(), "rt-1".into()), ("conf".into(), "rt-2".into())],
            Duration::from_secs(60),
        );
        let scope = "grant_type=client_credentials&scope=urn%3Aglobus%3Aauth%3Ascope%3Atransfer.api.globus.org%3Aall";
        assert_eq!(auth.token_endpoint(&token_request(Some(&basic("conf", "s3cret")), scope)).status, 200);
        assert_eq!(auth.token_endpoint(&token_request(Some(&basic("conf", "wrong")), scope)).status, 401);
        assert_eq!(auth.token_endpoint(&token_request(None, scope)).status, 401);
        let native = "grant_type=refresh_token&refresh_token=rt-1&client_id=native";
        assert_eq!(auth.token_endpoint(&token_request(None, native)).status, 200);
        let stolen = "grant_type=refresh_token&refresh_token=rt-2&client_id=native";
        assert_eq!(auth.token_endpoint(&token_request(None, stolen)).status, 400);
        let confidential_refresh = "grant_type=refresh_token&refresh_token=rt-2";
        assert_eq!(
            auth.token_endpoint(&token_request(Some(&basic("conf", "s3cret")), confidential_refresh)).status,
            200
        );
        let confidential_without_secret = "grant_type=refresh_token&refresh_token=rt-2&client_id=conf";
        assert_eq!(auth.token_endpoint(&token_request(None, confidential_without_secret)).status, 401);
        let password = "grant_type=password&username=a&password=b";
        assert_eq!(auth.token_endpoint(&token_request(Some(&basic("conf", "s3cret")), password)).status, 400);
    }
}
