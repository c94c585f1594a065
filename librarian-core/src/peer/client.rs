//! The HTTP client for other Librarians' shims (ureq, synchronous).
//!
//! Failures are split in two, because they call for different action: the peer could
//! not be reached at all ([`Error::PeerUnreachable`]: retry later, nothing is lost), or
//! it answered and refused ([`Error::PeerRefused`], with its status and error code).
//! A TLS failure (a certificate that does not chain to our trust roots, a name that
//! does not match, a peer that does not speak TLS) is `PeerUnreachable` with a detail
//! that says so: nothing was sent, and fixing the certificate or `[client] ca_bundle`
//! makes the same call work.

use std::time::Duration;

use base64::Engine as _;

use super::ClientTls;
use crate::error::{Error, Result};
use crate::model::Password;
use crate::model::Peer;

/// Time allowed to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole call.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for `files/verify`, where the peer re-reads whole files first.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A peer's answer to `ping`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingAnswer {
    /// The site name it answers as.
    pub site: String,
    /// Its version.
    pub version: String,
    /// The protocol features it understands (e.g. [`crate::model::STAGE_CREATED_AT`]);
    /// none for an older peer.
    pub features: Vec<String>,
}

impl PingAnswer {
    /// Does the peer understand `feature`?
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// A client for one peer, with the credentials we use there.
pub struct PeerClient {
    pub(super) peer: Peer,
    pub(super) authorization: String,
    pub(super) agent: ureq::Agent,
    /// For calls that wait on the peer's disks (`files/verify`).
    slow_agent: ureq::Agent,
    /// Where the trust roots come from, for messages.
    roots: String,
    /// This site's name (the original Librarian's calls carry the sender's name).
    pub(super) local_site: String,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient").field("peer", &self.peer.name).field("url", &self.peer.url).finish()
    }
}

impl PeerClient {
    /// A client for `peer`, authenticating as `peer.account` with `password`, checking
    /// `https://` certificates against `tls` (see [`ClientTls::load`], or
    /// `Librarian::peer_client`, which loads it from the site's `[client]` table).
    /// A plain `http://` URL to a host that is not loopback is refused
    /// ([`Error::InvalidArgument`]): the password would cross the network in clear.
    pub fn new(peer: Peer, password: &Password, tls: &ClientTls) -> Result<Self> {
        crate::model::check_transport(&peer.url)?;
        let credentials = format!("{}:{}", peer.account, password.expose());
        let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
        Ok(PeerClient {
            peer,
            authorization,
            agent: agent(tls),
            slow_agent: http_agent(tls, CONNECT_TIMEOUT, VERIFY_TIMEOUT),
            roots: tls.describe(),
            local_site: String::new(),
        })
    }

    /// The same client, saying it calls as site `name` where a protocol needs it.
    pub fn calling_as(mut self, name: &str) -> Self {
        self.local_site = name.to_owned();
        self
    }

    fn speaks_v2(&self) -> bool {
        self.peer.protocol == crate::model::PeerProtocol::OriginalV2
    }

    /// The peer this client calls.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    pub(super) fn unreachable(&self, e: ureq::Error) -> Error {
        let detail = match tls_error(&e) {
            Some(rustls::Error::InvalidCertificate(why)) => format!(
                "TLS certificate problem: the certificate of {} was rejected ({why}); it must be valid for that \
                 host name, not expired, and chain to a CA in {}",
                self.peer.url, self.roots
            ),
            Some(other) => format!("TLS handshake with {} failed: {other}", self.peer.url),
            None => e.to_string(),
        };
        Error::PeerUnreachable { peer: self.peer.name.clone(), detail }
    }

    /// GET `path`, with credentials when `auth`; the JSON body of a 2xx answer.
    fn get(&self, path: &str, auth: bool) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.peer.url);
        let mut req = self.agent.get(&url);
        if auth {
            req = req.header("Authorization", &self.authorization);
        }
        let resp = req.call().map_err(|e| self.unreachable(e))?;
        self.answer(path, resp)
    }

    /// POST the JSON `body` to `path` with our credentials and an `Idempotency-Key`
    /// header, so that the peer applies a repeated call once; the JSON of a 2xx answer.
    pub fn post_call(&self, path: &str, key: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        self.post_with(&self.agent, path, key, body)
    }

    fn post_with(
        &self,
        agent: &ureq::Agent,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.peer.url);
        let resp = agent
            .post(&url)
            .header("Authorization", &self.authorization)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| self.unreachable(e))?;
        self.answer(path, resp)
    }

    /// The JSON of a 2xx answer, or the peer's refusal with its status and code.
    pub(super) fn answer(&self, path: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<serde_json::Value> {
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().map_err(|e| self.unreachable(e))?;
        let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| Error::PeerRefused {
                peer: self.peer.name.clone(),
                status,
                code: "bad_response".into(),
                message: format!("{path} answered with something that is not JSON"),
            });
        }
        let field = |k: &str| json.as_ref().and_then(|j| j["error"][k].as_str()).map(str::to_owned);
        Err(Error::PeerRefused {
            peer: self.peer.name.clone(),
            status,
            // What the peer says is stored in events and printed: codes kept only if
            // plain, messages escaped and cut.
            code: field("code").map_or_else(|| "unknown".into(), |c| crate::text::peer_code(&c)),
            // The original Librarian's failures say `reason`, or `detail` (a string,
            // JSON in a string, or an object with a `reason`).
            message: field("message").or_else(|| original_reason(json.as_ref())).map_or_else(
                || format!("HTTP {status} from {path}"),
                |m| crate::text::clean_free_text(&m, crate::text::MAX_REASON_CHARS),
            ),
        })
    }

    /// `GET /api/v1/ping` (no credentials): the peer's site name, version and
    /// protocol features.
    pub fn ping(&self) -> Result<PingAnswer> {
        if self.speaks_v2() {
            return self.ping_v2();
        }
        let j = self.get("/api/v1/ping", false)?;
        let text = |k: &str| j[k].as_str().unwrap_or("").to_owned();
        // An older peer lists no features; only plain codes are kept.
        let features = j["features"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f.as_str()).map(crate::text::peer_code).collect())
            .unwrap_or_default();
        Ok(PingAnswer { site: text("site"), version: text("version"), features })
    }

    /// `GET /api/v1/whoami` with our credentials: proves they are accepted, whatever
    /// the level of our account there (a `callback` account included).
    pub fn whoami(&self) -> Result<serde_json::Value> {
        if self.speaks_v2() {
            // The original's logged-in ping proves the credentials (READONLY and up).
            self.post_v2_ok("/api/v2/ping/logged", &serde_json::json!({}))?;
            return Ok(serde_json::json!({ "account": self.peer.account }));
        }
        self.get("/api/v1/whoami", true)
    }

    /// `POST /api/v1/clone/stage`: offer files; one answer per item.
    pub fn stage(&self, req: &crate::model::StageRequest) -> Result<crate::model::StageResponse> {
        if self.speaks_v2() {
            return self.stage_v2(req);
        }
        let body =
            serde_json::to_value(req).map_err(|e| Error::internal(format!("cannot encode the stage call: {e}")))?;
        let answer = self.post_call("/api/v1/clone/stage", &uuid::Uuid::now_v7().to_string(), &body)?;
        let resp: crate::model::StageResponse = serde_json::from_value(answer).map_err(|e| Error::PeerRefused {
            peer: self.peer.name.clone(),
            status: 200,
            code: "bad_response".into(),
            message: crate::text::clean_free_text(
                &format!("unreadable answer to stage: {e}"),
                crate::text::MAX_REASON_CHARS,
            ),
        })?;
        if resp.items.len() != req.items.len() {
            return Err(Error::PeerRefused {
                peer: self.peer.name.clone(),
                status: 200,
                code: "bad_response".into(),
                message: format!("stage answered {} items for {}", resp.items.len(), req.items.len()),
            });
        }
        Ok(resp)
    }

    /// `POST /api/v1/files/has`: whether the peer holds `name` with `checksum`.
    pub fn has(&self, name: &str, checksum: &str) -> Result<bool> {
        if self.speaks_v2() {
            return self.has_v2(name, checksum);
        }
        let body = serde_json::json!({ "name": name, "checksum": checksum });
        let j = self.post_call("/api/v1/files/has", &uuid::Uuid::now_v7().to_string(), &body)?;
        Ok(j["present"].as_bool() == Some(true) && j["matches"].as_bool() == Some(true))
    }

    /// `POST /api/v1/files/verify`: the peer re-reads its copies of `names` (at most
    /// [`crate::model::MAX_VERIFY_NAMES`]) and answers per file, in order. An answer
    /// that does not match the question (other names, another count) is refused;
    /// store names that are not plain names are dropped with their copies, and a
    /// checksum that is not a checksum is dropped (the copies then count as another
    /// file's). What the peer wrote reaches messages escaped and cut.
    pub fn verify(&self, names: &[crate::name::FileName]) -> Result<crate::model::VerifyAnswer> {
        let req = crate::model::VerifyRequest { names: names.iter().map(|n| n.as_str().to_owned()).collect() };
        let body =
            serde_json::to_value(&req).map_err(|e| Error::internal(format!("cannot encode the verify call: {e}")))?;
        let answer =
            self.post_with(&self.slow_agent, "/api/v1/files/verify", &uuid::Uuid::now_v7().to_string(), &body)?;
        // A decoding error quotes the peer's text (an unknown status, say).
        let bad = |message: String| Error::PeerRefused {
            peer: self.peer.name.clone(),
            status: 200,
            code: "bad_response".into(),
            message: crate::text::clean_free_text(&message, crate::text::MAX_REASON_CHARS),
        };
        let mut resp: crate::model::VerifyAnswer =
            serde_json::from_value(answer).map_err(|e| bad(format!("unreadable answer to files/verify: {e}")))?;
        if resp.files.len() != names.len() || resp.files.iter().zip(names).any(|(f, n)| f.name != n.as_str()) {
            return Err(bad("files/verify answered about other files than those asked".into()));
        }
        for f in &mut resp.files {
            f.copies.retain(|c| crate::name::validate_store_name(&c.store).is_ok());
            f.checksum =
                f.checksum.as_deref().and_then(|c| crate::checksum::Checksum::parse(c).ok()).map(|c| c.to_string());
        }
        Ok(resp)
    }

    /// `POST /api/v1/files/read`: the bytes of the peer's intact copy of `name` (or
    /// of the book entry `entry`), which it re-reads first; at most `limit` bytes are
    /// accepted (more is an error while reading). Returns the body as a reader and
    /// the digest the peer says the bytes have (checked by the caller, which hashes
    /// them as it writes them).
    pub fn read(&self, name: &str, entry: Option<&str>, limit: u64) -> Result<(ureq::BodyReader<'static>, String)> {
        let req = crate::model::ReadRequest { name: name.to_owned(), entry: entry.map(str::to_owned) };
        let body =
            serde_json::to_value(&req).map_err(|e| Error::internal(format!("cannot encode the read call: {e}")))?;
        let url = format!("{}/api/v1/files/read", self.peer.url);
        let resp = self
            .slow_agent
            .post(&url)
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&resp.status().as_u16()) {
            return Err(self.answer("/api/v1/files/read", resp).err().unwrap_or_else(|| Error::PeerRefused {
                peer: self.peer.name.clone(),
                status: 200,
                code: "bad_response".into(),
                message: "files/read answered JSON instead of bytes".into(),
            }));
        }
        let digest = resp
            .headers()
            .get("X-Librarian-Digest")
            .and_then(|v| v.to_str().ok())
            .map(|d| crate::text::clean_free_text(d, 200))
            .unwrap_or_default();
        Ok((resp.into_body().into_with_config().limit(limit).reader(), digest))
    }

    /// `GET /api/v1/transfers/ID`: the peer's transfer `id` (one of ours there).
    pub fn transfer(&self, id: i64) -> Result<serde_json::Value> {
        self.get(&format!("/api/v1/transfers/{id}"), true)
    }
}

/// The HTTP agent for peers.
fn agent(tls: &ClientTls) -> ureq::Agent {
    http_agent(tls, CONNECT_TIMEOUT, CALL_TIMEOUT)
}

/// An HTTP agent for calls to other services (peers, Globus): the one place where
/// redirects (never followed: one could lead to plain http) and TLS trust are set.
pub(crate) fn http_agent(tls: &ClientTls, connect: Duration, call: Duration) -> ureq::Agent {
    let tls_config = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(tls.roots.clone())
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .timeout_connect(Some(connect))
        .timeout_global(Some(call))
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls_config)
        .user_agent(format!("librarian/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The rustls error behind a failed call, if TLS is what failed.
/// The reason in a failure body of the original Librarian, if any.
fn original_reason(json: Option<&serde_json::Value>) -> Option<String> {
    let j = json?;
    if let Some(r) = j.get("reason").and_then(serde_json::Value::as_str) {
        return Some(r.to_owned());
    }
    match j.get("detail")? {
        serde_json::Value::String(d) => Some(
            serde_json::from_str::<serde_json::Value>(d)
                .ok()
                .and_then(|inner| inner.get("reason").and_then(serde_json::Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| d.clone()),
        ),
        other => other.get("reason").and_then(serde_json::Value::as_str).map(str::to_owned),
    }
}

fn tls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}
