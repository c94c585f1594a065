//! Routing: which endpoint, what level it needs, and its handler.

use serde::Deserialize;

use super::ServerConfig;
use super::auth::{CredentialCache, parse_basic};
use super::http::HttpRequest;
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

/// The endpoint for a method and path.
fn route(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    let (endpoint, allowed) = match path {
        "/api/v1/ping" => (Endpoint::Ping, "GET"),
        "/api/v1/status" => (Endpoint::Status, "GET"),
        "/api/v1/files/has" => (Endpoint::FilesHas, "POST"),
        "/metrics" => (Endpoint::Metrics, "GET"),
        _ => return Err(ApiError::new(404, "not_found", format!("no endpoint {path}"))),
    };
    if method != allowed {
        return Err(ApiError::new(405, "method_not_allowed", format!("{path} takes {allowed}, not {method}")));
    }
    Ok(endpoint)
}

fn authorize(
    req: &HttpRequest,
    lib: &Librarian,
    ctx: &Context<'_>,
    access: Access,
) -> Result<Option<Account>, ApiError> {
    let required = match access {
        Access::Open => return Ok(None),
        Access::Metrics if !ctx.settings.metrics_auth => return Ok(None),
        Access::Metrics => Level::ReadOnly,
        Access::Level(l) => l,
    };
    let (name, password) = parse_basic(req.header("Authorization"))?.ok_or_else(ApiError::unauthorized)?;
    let account = ctx.cache.authenticate(lib, &name, &password)?;
    if !account.level.allows(required) {
        return Err(ApiError::forbidden(format!(
            "account {} ({}) may not call this endpoint (needs {required})",
            account.name, account.level
        )));
    }
    Ok(Some(account))
}

/// Parse a JSON body (the connection layer has already enforced the size limit).
fn json_body<T: for<'de> Deserialize<'de>>(req: &HttpRequest) -> Result<T, ApiError> {
    let is_json = req
        .header("Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::bad_request("the body must be JSON (Content-Type: application/json)"));
    }
    serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("malformed request: {e}")))
}

#[derive(Debug, Deserialize)]
struct HasRequest {
    name: String,
    checksum: Option<String>,
}

fn files_has(req: &HttpRequest, lib: &Librarian) -> Result<Reply, ApiError> {
    let body: HasRequest = json_body(req)?;
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

fn dispatch(req: &HttpRequest, lib: &Librarian, ctx: &Context<'_>) -> Result<(Reply, Option<String>), ApiError> {
    let endpoint = route(&req.method, &req.path)?;
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
        Endpoint::FilesHas => files_has(req, lib)?,
        Endpoint::Metrics => {
            response::text(200, metrics::render(lib).map_err(ApiError::from)?, "text/plain; version=0.0.4")
        }
    };
    Ok((reply, account))
}

/// Handle one request: route, authenticate, authorise, answer; never panic.
pub(crate) fn handle(req: &HttpRequest, lib: &Librarian, ctx: &Context<'_>) -> Reply {
    let (reply, who) = match dispatch(req, lib, ctx) {
        Ok(ok) => ok,
        Err(e) => (e.into_response(), None),
    };
    log::info!(
        "{} {} -> {}{}",
        req.method,
        req.path,
        reply.status,
        who.map(|w| format!(" (account {w})")).unwrap_or_default()
    );
    reply
}
