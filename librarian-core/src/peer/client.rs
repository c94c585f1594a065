//! The HTTP client for other Librarians' shims (ureq, synchronous).
//!
//! Failures are split in two, because they call for different action: the peer could
//! not be reached at all ([`Error::PeerUnreachable`]: retry later, nothing is lost), or
//! it answered and refused ([`Error::PeerRefused`], with its status and error code).

use std::time::Duration;

use base64::Engine as _;

use super::Peer;
use crate::account::Password;
use crate::error::{Error, Result};

/// Time allowed to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole call.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for one peer, with the credentials we use there.
pub struct PeerClient {
    peer: Peer,
    authorization: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient").field("peer", &self.peer.name).field("url", &self.peer.url).finish()
    }
}

impl PeerClient {
    /// A client for `peer`, authenticating as `peer.account` with `password`.
    pub fn new(peer: Peer, password: &Password) -> Self {
        let credentials = format!("{}:{}", peer.account, password.expose());
        let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(format!("librarian/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        PeerClient { peer, authorization, agent }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> Error {
        Error::PeerUnreachable { peer: self.peer.name.clone(), detail: e.to_string() }
    }

    /// GET `path`, with credentials when `auth`; the JSON body of a 2xx answer.
    fn get(&self, path: &str, auth: bool) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.peer.url);
        let mut req = self.agent.get(&url);
        if auth {
            req = req.header("Authorization", &self.authorization);
        }
        let mut resp = req.call().map_err(|e| self.unreachable(e))?;
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
            code: field("code").unwrap_or_else(|| "unknown".into()),
            message: field("message").unwrap_or_else(|| format!("HTTP {status} from {path}")),
        })
    }

    /// `GET /api/v1/ping` (no credentials): the peer's site name and version.
    pub fn ping(&self) -> Result<(String, String)> {
        let j = self.get("/api/v1/ping", false)?;
        let text = |k: &str| j[k].as_str().unwrap_or("").to_owned();
        Ok((text("site"), text("version")))
    }

    /// `GET /api/v1/status` with our credentials: proves they are accepted.
    pub fn status(&self) -> Result<serde_json::Value> {
        self.get("/api/v1/status", true)
    }
}
