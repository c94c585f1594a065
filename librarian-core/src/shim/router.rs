//! Routing: which endpoint, what level it needs, and its handler.

use std::io::Read;

use serde::Deserialize;
use tiny_http::{Method, Request};

use super::ServerConfig;
use super::auth::{CredentialCache, parse_basic};
use super::metrics;
use super::response::{self, ApiError, Reply};
use crate::account::{Account, Level};
use crate::checksum::Checksum;
use crate::librarian::Librarian;
use crate::name::FileName;

/// What every handler may use.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub cache: &'a CredentialCache,
    pub settings: &'a ServerConfig,
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone.
    Open,
    /// An account whose level allows this one.
    Level(Level),
    /// `/metrics`: read-only unless the configuration opens it.
    Metrics,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Ping,
    Status,
    FilesHas,
    Metrics,
}

impl Endpoint {
    fn access(self) -> Access {
        match self {
            Endpoint::Ping => Access::Open,
            Endpoint::Status | Endpoint::FilesHas => Access::Level(Level::ReadOnly),
            Endpoint::Metrics => Access::Metrics,
        }
    }
}

/// The endpoint for a method and path (query strings ignored).
fn route(method: &Method, url: &str) -> Result<Endpoint, ApiError> {
    let path = url.split('?').next().unwrap_or("");
    let (endpoint, allowed) = match path {
        "/api/v1/ping" => (Endpoint::Ping, Method::Get),
        "/api/v1/status" => (Endpoint::Status, Method::Get),
        "/api/v1/files/has" => (Endpoint::FilesHas, Method::Post),
        "/metrics" => (Endpoint::Metrics, Method::Get),
        _ => return Err(ApiError::new(404, "not_found", format!("no endpoint {path}"))),
    };
    if *method != allowed {
        return Err(ApiError::new(405, "method_not_allowed", format!("{path} takes {allowed}, not {method}")));
    }
    Ok(endpoint)
}

fn header<'r>(req: &'r Request, name: &'static str) -> Option<&'r str> {
    req.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

fn authorize(req: &Request, lib: &Librarian, ctx: &Context<'_>, access: Access) -> Result<Option<Account>, ApiError> {
    let required = match access {
        Access::Open => return Ok(None),
        Access::Metrics if !ctx.settings.metrics_auth => return Ok(None),
        Access::Metrics => Level::ReadOnly,
        Access::Level(l) => l,
    };
    let (name, password) = parse_basic(header(req, "Authorization"))?.ok_or_else(ApiError::unauthorized)?;
    let account = ctx.cache.authenticate(lib, &name, &password)?;
    if !account.level.allows(required) {
        return Err(ApiError::forbidden(format!(
            "account {} ({}) may not call this endpoint (needs {required})",
            account.name, account.level
        )));
    }
    Ok(Some(account))
}

/// Read a JSON body: the content type must be JSON and the body within the limit.
fn json_body<T: for<'de> Deserialize<'de>>(req: &mut Request, ctx: &Context<'_>) -> Result<T, ApiError> {
    let limit = ctx.settings.max_body_bytes;
    let too_large = || ApiError::new(413, "too_large", format!("request bodies are limited to {limit} bytes"));
    if req.body_length().is_some_and(|n| n as u64 > limit) {
        return Err(too_large());
    }
    let is_json = header(req, "Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::bad_request("the body must be JSON (Content-Type: application/json)"));
    }
    let mut body = Vec::new();
    req.as_reader()
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
    if body.len() as u64 > limit {
        return Err(too_large());
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("malformed request: {e}")))
}

#[derive(Debug, Deserialize)]
struct HasRequest {
    name: String,
    checksum: Option<String>,
}

fn files_has(req: &mut Request, lib: &Librarian, ctx: &Context<'_>) -> Result<Reply, ApiError> {
    let body: HasRequest = json_body(req, ctx)?;
    let name = FileName::new(&body.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let asked = body.checksum.as_deref().map(Checksum::parse).transpose().map_err(ApiError::from)?;
    let found = lib.catalog().file(&name).map_err(ApiError::from)?;
    let matches = match (&found, &asked) {
        (Some(f), Some(c)) => Some(f.checksum.matches(c).map_err(ApiError::from)?),
        _ => None,
    };
    Ok(response::json(
        200,
        &serde_json::json!({
            "name": name,
            "present": found.is_some(),
            "checksum": found.map(|f| f.checksum.to_string()),
            "matches": matches,
        }),
    ))
}

fn dispatch(req: &mut Request, lib: &Librarian, ctx: &Context<'_>) -> Result<(Reply, Option<String>), ApiError> {
    let endpoint = route(req.method(), req.url())?;
    let account = authorize(req, lib, ctx, endpoint.access())?.map(|a| a.name);
    let reply = match endpoint {
        Endpoint::Ping => {
            response::json(200, &serde_json::json!({ "site": lib.config().name, "version": env!("CARGO_PKG_VERSION") }))
        }
        Endpoint::Status => {
            let s = lib.status().map_err(ApiError::from)?;
            let stores: Vec<serde_json::Value> = s
                .stores
                .iter()
                .map(|st| {
                    serde_json::json!({
                        "name": st.name, "enabled": st.enabled, "ingestable": st.ingestable,
                        "files": st.files, "used_bytes": st.used_bytes, "free_bytes": st.free_bytes,
                    })
                })
                .collect();
            response::json(
                200,
                &serde_json::json!({ "site": s.site, "files": s.files, "bytes": s.bytes, "stores": stores }),
            )
        }
        Endpoint::FilesHas => files_has(req, lib, ctx)?,
        Endpoint::Metrics => {
            response::text(200, metrics::render(lib).map_err(ApiError::from)?, "text/plain; version=0.0.4")
        }
    };
    Ok((reply, account))
}

/// Handle one request: route, authenticate, authorise, answer; never panic.
pub(crate) fn handle(mut req: Request, lib: &Librarian, ctx: &Context<'_>) {
    let (method, url) = (req.method().to_string(), req.url().split('?').next().unwrap_or("").to_owned());
    let (reply, status, who) = match dispatch(&mut req, lib, ctx) {
        Ok((reply, who)) => {
            let code = reply.status_code().0;
            (reply, code, who)
        }
        Err(e) => {
            let code = e.status;
            (e.into_response(), code, None)
        }
    };
    log::info!("{method} {url} -> {status}{}", who.map(|w| format!(" (account {w})")).unwrap_or_default());
    response::send(req, reply);
}
