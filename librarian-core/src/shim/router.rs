//! Routing: which endpoint, what level it needs, and its handler.

use serde::Deserialize;

use super::auth::{CredentialCache, parse_basic};
use super::http::HttpRequest;
use super::response::{self, ApiError, Reply};
use crate::checksum::Checksum;
use crate::config::ServerConfig;
use crate::librarian::Librarian;
use crate::model::{Account, Level, Password};
use crate::model::{CallKind, HoldsCall};
use crate::model::{StageRequest, TransferCall, V2Endpoint};
use crate::name::FileName;

/// What every handler may use.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub cache: &'a CredentialCache,
    pub guard: &'a super::auth::Guard,
    pub settings: &'a ServerConfig,
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone.
    Open,
    /// Any account, whatever its level (`whoami`: proves credentials).
    Authenticated,
    /// An account whose level allows this one.
    Level(Level),
    /// `/metrics`: read-only unless the configuration opens it.
    Metrics,
    /// A peer's call about its own business: an account that belongs to a peer, at
    /// level `callback`, `read-append` or `admin`.
    PeerCall,
    /// A peer asking to write here (stage data): an account that belongs to a peer,
    /// at level `read-append` or `admin`.
    PeerWrite,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Ping,
    /// `GET /api/v1/whoami`: the calling account, for any valid credentials.
    Whoami,
    Status,
    FilesHas,
    /// `POST /api/v1/files/verify`: re-read our copies of named files.
    FilesVerify,
    /// `POST /api/v1/files/read`: the bytes of an intact copy, for a peer's repair.
    FilesRead,
    Metrics,
    CallbackHolds,
    CloneStage,
    CloneCall(CallKind),
    /// `GET /api/v1/transfers/ID`.
    Transfer(i64),
    /// The original Librarian's `/api/v2` (for peers still running it).
    V2(V2Endpoint),
}

impl Endpoint {
    fn access(self) -> Access {
        match self {
            Endpoint::Ping => Access::Open,
            Endpoint::Whoami => Access::Authenticated,
            Endpoint::Status | Endpoint::FilesHas => Access::Level(Level::ReadOnly),
            // Re-reading files costs disk time: only peers may ask.
            Endpoint::FilesVerify | Endpoint::FilesRead => Access::PeerCall,
            Endpoint::Metrics => Access::Metrics,
            Endpoint::CallbackHolds | Endpoint::CloneCall(_) | Endpoint::Transfer(_) => Access::PeerCall,
            Endpoint::CloneStage => Access::PeerWrite,
            Endpoint::V2(V2Endpoint::Ping) => Access::Open,
            Endpoint::V2(V2Endpoint::PingLogged) => Access::Authenticated,
            Endpoint::V2(V2Endpoint::BatchStage) => Access::PeerWrite,
            Endpoint::V2(_) => Access::PeerCall,
        }
    }
}

/// The endpoint for a method and path.
fn route(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    if let Some(v2) = V2Endpoint::from_path(path) {
        // The original's API: every endpoint is a POST.
        if method != "POST" {
            return Err(ApiError::new(405, "method_not_allowed", format!("{path} takes POST, not {method}")));
        }
        return Ok(Endpoint::V2(v2));
    }
    let (endpoint, allowed) = match path {
        "/api/v1/ping" => (Endpoint::Ping, "GET"),
        "/api/v1/whoami" => (Endpoint::Whoami, "GET"),
        "/api/v1/status" => (Endpoint::Status, "GET"),
        "/api/v1/files/has" => (Endpoint::FilesHas, "POST"),
        "/api/v1/files/verify" => (Endpoint::FilesVerify, "POST"),
        "/api/v1/files/read" => (Endpoint::FilesRead, "POST"),
        "/metrics" => (Endpoint::Metrics, "GET"),
        "/api/v1/callbacks/holds" => (Endpoint::CallbackHolds, "POST"),
        "/api/v1/clone/stage" => (Endpoint::CloneStage, "POST"),
        "/api/v1/clone/staged" => (Endpoint::CloneCall(CallKind::Staged), "POST"),
        "/api/v1/clone/complete" => (Endpoint::CloneCall(CallKind::Complete), "POST"),
        "/api/v1/clone/fail" => (Endpoint::CloneCall(CallKind::Fail), "POST"),
        _ => match path.strip_prefix("/api/v1/transfers/").map(str::parse::<i64>) {
            Some(Ok(id)) => (Endpoint::Transfer(id), "GET"),
            Some(Err(_)) => return Err(ApiError::bad_request(format!("{path}: a transfer id is a number"))),
            None => return Err(ApiError::new(404, "unknown_endpoint", format!("no endpoint {path}"))),
        },
    };
    if method != allowed {
        return Err(ApiError::new(405, "method_not_allowed", format!("{path} takes {allowed}, not {method}")));
    }
    Ok(endpoint)
}

/// The credentials to check before `req` is handled: `None` when its endpoint does
/// not need any (or does not exist), or when it brings none or malformed ones (then
/// [`handle`] answers as usual). The connection checks them with
/// [`CredentialCache::check`] before taking a catalog worker, so that argon2 never
/// holds one.
pub(crate) fn credentials(req: &HttpRequest, settings: &ServerConfig) -> Option<(String, Password)> {
    let access = route(&req.method, &req.path).ok()?.access();
    match access {
        Access::Open => return None,
        Access::Metrics if !settings.metrics_auth => return None,
        _ => {}
    }
    parse_basic(req.header("Authorization")).ok().flatten()
}

/// `checked`: the outcome of [`CredentialCache::check`] on [`credentials`], when it ran.
fn authorize(
    req: &HttpRequest,
    lib: &Librarian,
    ctx: &Context<'_>,
    access: Access,
    checked: Option<Result<Account, ApiError>>,
) -> Result<Option<Account>, ApiError> {
    let required = match access {
        Access::Open => return Ok(None),
        Access::Metrics if !ctx.settings.metrics_auth => return Ok(None),
        Access::Metrics | Access::PeerCall | Access::PeerWrite | Access::Authenticated => Level::ReadOnly,
        Access::Level(l) => l,
    };
    let account = match checked {
        Some(outcome) => outcome?,
        None => {
            let (name, password) = parse_basic(req.header("Authorization"))?.ok_or_else(ApiError::unauthorized)?;
            ctx.cache.authenticate(lib, &name, &password)?
        }
    };
    if let Access::Authenticated = access {
        return Ok(Some(account));
    }
    if let Access::PeerCall | Access::PeerWrite = access {
        let write = matches!(access, Access::PeerWrite);
        let level_ok = account.level.allows(Level::ReadAppend) || (!write && account.level == Level::Callback);
        if !level_ok || account.peer.is_none() {
            return Err(ApiError::forbidden(format!(
                "account {} ({}{}) may not make this peer call (needs an account that belongs to a peer, at level {})",
                account.name,
                account.level,
                if account.peer.is_none() { ", not tied to a peer" } else { "" },
                if write { "read-append or admin" } else { "callback, read-append or admin" }
            )));
        }
        return Ok(Some(account));
    }
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
    let found = lib.site().catalog().file(&name).map_err(ApiError::from)?;
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

/// The peer an account belongs to (authorize has checked there is one).
fn caller_peer(account: Option<&Account>) -> Result<&str, ApiError> {
    account
        .and_then(|a| a.peer.as_deref())
        .ok_or_else(|| ApiError::forbidden("this call must come from a peer's account".to_owned()))
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    Ok(req
        .header("Idempotency-Key")
        .ok_or_else(|| ApiError::bad_request("an Idempotency-Key header is required"))?
        .trim()
        .to_owned())
}

/// `POST /api/v1/callbacks/holds`: the calling peer holds a file.
fn callback_holds(req: &HttpRequest, lib: &Librarian, account: Option<&Account>) -> Result<Reply, ApiError> {
    let peer = caller_peer(account)?;
    let key = idempotency_key(req)?;
    let body: HoldsCall = json_body(req)?;
    let answer = lib.receive_holds(peer, &key, &body).map_err(ApiError::from)?;
    Ok(response::json(200, &answer))
}

/// `POST /api/v1/clone/stage`: the calling peer offers files.
fn clone_stage(req: &HttpRequest, lib: &Librarian, account: Option<&Account>) -> Result<Reply, ApiError> {
    let peer = caller_peer(account)?;
    let body: StageRequest = json_body(req)?;
    let answer = lib.stage_incoming(peer, &body).map_err(ApiError::from)?;
    Ok(response::json(200, &answer))
}

/// `POST /api/v1/clone/{staged,complete,fail}`: the calling peer reports on a transfer.
fn clone_call(
    req: &HttpRequest,
    lib: &Librarian,
    account: Option<&Account>,
    kind: CallKind,
) -> Result<Reply, ApiError> {
    let peer = caller_peer(account)?;
    let key = idempotency_key(req)?;
    let body: TransferCall = json_body(req)?;
    let answer = lib.receive_transfer_call(peer, &key, kind, &body).map_err(ApiError::from)?;
    Ok(response::json(200, &answer))
}

fn dispatch(
    req: &HttpRequest,
    lib: &Librarian,
    ctx: &Context<'_>,
    checked: Option<Result<Account, ApiError>>,
) -> Result<(Reply, Option<String>), ApiError> {
    let endpoint = route(&req.method, &req.path)?;
    let account = authorize(req, lib, ctx, endpoint.access(), checked)?;
    let reply = match endpoint {
        Endpoint::Ping => response::json(
            200,
            &serde_json::json!({
                "site": lib.config().name,
                "version": env!("CARGO_PKG_VERSION"),
                "features": crate::model::FEATURES,
            }),
        ),
        Endpoint::Whoami => {
            let a = account.as_ref().ok_or_else(ApiError::unauthorized)?;
            response::json(200, &serde_json::json!({ "account": a.name, "level": a.level.as_str(), "peer": a.peer }))
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
        Endpoint::FilesRead => {
            let body: crate::model::ReadRequest = json_body(req)?;
            let name = FileName::new(&body.name).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let served = lib.serve_copy(&name, body.entry.as_deref()).map_err(ApiError::from)?;
            response::file(served.file, served.size, vec![("X-Librarian-Digest", served.digest)])
        }
        Endpoint::FilesVerify => {
            let body: crate::model::VerifyRequest = json_body(req)?;
            response::json(200, &lib.answer_verify(&body).map_err(ApiError::from)?)
        }
        Endpoint::CallbackHolds => callback_holds(req, lib, account.as_ref())?,
        Endpoint::CloneStage => clone_stage(req, lib, account.as_ref())?,
        Endpoint::CloneCall(kind) => clone_call(req, lib, account.as_ref(), kind)?,
        Endpoint::Transfer(id) => {
            let t = lib.peer_transfer(caller_peer(account.as_ref())?, id).map_err(ApiError::from)?;
            // What the peer needs to reconcile; never this site's paths.
            response::json(
                200,
                &serde_json::json!({
                    "id": t.id, "direction": t.direction, "remote_id": t.remote_id, "file": t.file,
                    "checksum": t.checksum, "status": t.status, "store": t.store, "error_code": t.error_code,
                    "updated_at": t.updated_at,
                }),
            )
        }
        Endpoint::V2(v2) => {
            let peer = account.as_ref().and_then(|a| a.peer.as_deref());
            let a = lib.answer_original_v2(peer, v2, &req.body).map_err(ApiError::from)?;
            response::json(a.status, &a.body)
        }
        Endpoint::Metrics => response::text(
            200,
            crate::metrics::render(lib.site()).map_err(ApiError::from)?,
            "text/plain; version=0.0.4",
        ),
    };
    Ok((reply, account.map(|a| a.name)))
}

/// Handle one request: route, authenticate (unless `checked` already did), authorise,
/// answer; never panic.
pub(crate) fn handle(
    req: &HttpRequest,
    lib: &Librarian,
    ctx: &Context<'_>,
    checked: Option<Result<Account, ApiError>>,
) -> Reply {
    let (mut reply, who) = match dispatch(req, lib, ctx, checked) {
        Ok(ok) => ok,
        // The original's client reads `reason` from any failure; ours reads `error`.
        Err(e) if req.path.starts_with("/api/v2/") => (e.into_v2_response(), None),
        Err(e) => (e.into_response(), None),
    };
    reply.account = who;
    reply
}
