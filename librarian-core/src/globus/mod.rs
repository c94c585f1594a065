//! A synchronous client for Globus Auth and the Globus Transfer API v0.10: the calls
//! the Globus transfer manager makes (submission ids, submit, task status, error
//! events, cancel), each retried as the official SDK retries
//! ([`http`]), with a cached token renewed once on 401 ([`auth`]).
//!
//! Failures come in three kinds that call for different action
//! ([`GlobusError`]): try again later (the service or the network is down), an
//! operator must fix the credentials, or Globus refused the request.
//! No secret or token ever appears in an error, a log line or an event.

pub(crate) mod auth;
mod http;
pub mod wire;

use std::path::Path;
use std::time::Duration;

use crate::config::GlobusConfig;
use crate::error::Result;
use crate::peer::ClientTls;
use auth::Credentials;
use wire::{CancelResult, EventList, SubmissionId, Task, TaskEvent, TransferDocument, TransferResult};

/// Time allowed to connect to Globus.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one call (cancel waits up to 10 s on the service side).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The Transfer API version.
const API: &str = "/v0.10";

/// Why a Globus call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobusError {
    /// The service or the network is down, or a collection reports an external
    /// error: nothing is known; try again at the next poll.
    Transient(String),
    /// Globus Auth refuses this site's credentials: an operator must act.
    Credentials(String),
    /// Transfer refused the request (a 4xx): its HTTP status, dotted code and message.
    Refused {
        /// HTTP status.
        status: u16,
        /// The Transfer error code (e.g. `ClientError.NotFound`, `PermissionDenied`).
        code: String,
        /// Its message, escaped and cut.
        message: String,
    },
}

impl std::fmt::Display for GlobusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GlobusError::Transient(m) | GlobusError::Credentials(m) => f.write_str(m),
            GlobusError::Refused { status, code, message } => {
                write!(f, "Globus refused (HTTP {status}, {code}): {message}")
            }
        }
    }
}

/// The dotted `code` of a Transfer error body, if it is one (both `code` and
/// `message` strings, as the SDK requires).
fn error_code(body: &str) -> Option<String> {
    serde_json::from_str::<wire::ApiError>(body).ok().map(|e| e.code)
}

/// A Globus client for this site's `[globus]` settings.
#[derive(Debug)]
pub struct GlobusClient {
    auth_base: String,
    transfer_base: String,
    creds: Credentials,
    scope: String,
    agent: ureq::Agent,
}

impl GlobusClient {
    /// A client for `cfg`, reading the credentials it names (see
    /// [`auth::Credentials::load`]); `https://` certificates are checked against `tls`.
    pub fn new(cfg: &GlobusConfig, config_path: &Path, tls: &ClientTls) -> Result<Self> {
        let creds = Credentials::load(cfg, config_path)?;
        let agent = crate::peer::http_agent(tls, CONNECT_TIMEOUT, CALL_TIMEOUT);
        let mut data_access: Vec<String> =
            cfg.stores.values().filter(|s| s.data_access).map(|s| s.collection.clone()).collect();
        data_access.sort();
        data_access.dedup();
        Ok(GlobusClient {
            auth_base: cfg.auth_base().to_owned(),
            transfer_base: cfg.transfer_base().to_owned(),
            creds,
            scope: auth::scope(&data_access),
            agent,
        })
    }

    /// Obtain a Transfer token (from the cache when it has more than a minute left):
    /// what `status` and `peer ping` use to show whether the credentials work.
    pub fn check_credentials(&self) -> std::result::Result<(), GlobusError> {
        auth::token(&self.agent, &self.auth_base, &self.creds, &self.scope, false).map(|_| ())
    }

    /// One Transfer call: with a Bearer token, retried, and once more with a new
    /// token after a 401. The 2xx body, parsed.
    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> std::result::Result<T, GlobusError> {
        let url = format!("{}{API}{path}", self.transfer_base);
        let mut renewed = false;
        loop {
            let token = auth::token(&self.agent, &self.auth_base, &self.creds, &self.scope, renewed)?;
            let bearer = format!("Bearer {}", token.expose());
            let (status, text) = http::with_retries("Globus Transfer", || match (method, body) {
                ("POST", Some(b)) => self
                    .agent
                    .post(&url)
                    .header("Authorization", &bearer)
                    .header("Content-Type", "application/json")
                    .send(b.to_string()),
                ("POST", None) => self.agent.post(&url).header("Authorization", &bearer).send_empty(),
                _ => self.agent.get(&url).header("Authorization", &bearer).call(),
            })?;
            if status == 401 && !renewed {
                log::info!("Globus Transfer refused the cached token (401); getting a new one");
                renewed = true;
                continue;
            }
            if (200..300).contains(&status) {
                return serde_json::from_str(&text).map_err(|e| {
                    GlobusError::Transient(format!("Globus Transfer answered {path} with an unreadable body: {e}"))
                });
            }
            let api = serde_json::from_str::<wire::ApiError>(&text).ok();
            let code = api.as_ref().map_or_else(|| format!("HTTP{status}"), |e| crate::text::service_code(&e.code));
            let message = api.map_or_else(
                || format!("HTTP {status} from {path}"),
                |e| crate::text::clean_free_text(&e.message, crate::text::MAX_REASON_CHARS),
            );
            if status == 401 {
                return Err(GlobusError::Credentials(format!(
                    "Globus Transfer refused a fresh token from Globus Auth ({code}): {message}"
                )));
            }
            // 409: a conflict such as the pending-task limit; it passes.
            if http::is_endpoint_error(&code) || status >= 500 || status == 409 {
                return Err(GlobusError::Transient(format!("Globus Transfer: {code}: {message}")));
            }
            return Err(GlobusError::Refused { status, code, message });
        }
    }

    /// `GET /submission_id`: a new submission id.
    pub fn submission_id(&self) -> std::result::Result<String, GlobusError> {
        let s: SubmissionId = self.call("GET", "/submission_id", None)?;
        Ok(s.value)
    }

    /// `POST /transfer`: submit (or resubmit, with the same submission id) a document.
    pub fn submit(&self, doc: &TransferDocument) -> std::result::Result<TransferResult, GlobusError> {
        let body = serde_json::to_value(doc)
            .map_err(|e| GlobusError::Transient(format!("cannot encode a transfer document: {e}")))?;
        let r: TransferResult = self.call("POST", "/transfer", Some(&body))?;
        if !is_task_id(&r.task_id) {
            return Err(GlobusError::Transient("Globus answered a submission with a task id that is no id".into()));
        }
        Ok(r)
    }

    /// `GET /task/ID`.
    pub fn task(&self, id: &str) -> std::result::Result<Task, GlobusError> {
        let task: Task = self.call("GET", &format!("/task/{}", path_segment(id)), None)?;
        if task.task_id != id {
            return Err(GlobusError::Transient(format!("Globus answered a request for task {id} about another task")));
        }
        Ok(task)
    }

    /// The newest error events of task `id` (at most `max`, one page).
    pub fn error_events(&self, id: &str, max: usize) -> std::result::Result<(Vec<TaskEvent>, u64), GlobusError> {
        let path = format!("/task/{}/event_list?filter=is_error:1&limit={}&offset=0", path_segment(id), max.min(1000));
        let list: EventList = self.call("GET", &path, None)?;
        Ok((list.data, list.total))
    }

    /// `POST /task/ID/cancel`: `Canceled`, `TaskComplete` or `CancelAccepted`.
    pub fn cancel(&self, id: &str) -> std::result::Result<String, GlobusError> {
        let r: CancelResult = self.call("POST", &format!("/task/{}/cancel", path_segment(id)), None)?;
        Ok(crate::text::service_code(&r.code))
    }
}

/// Whether `id` looks like a Globus task id: UUID characters only, at most 64 (what
/// is kept in a batch state, shown in messages and put into URLs).
fn is_task_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// A task id as it goes into a URL (a task id from a bad state could otherwise
/// change the path).
fn path_segment(id: &str) -> &str {
    if is_task_id(id) { id } else { "invalid" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_cannot_change_the_path() {
        assert_eq!(path_segment("b8872740-7edc-11ec-9f33-ed182a728dff"), "b8872740-7edc-11ec-9f33-ed182a728dff");
        assert_eq!(path_segment("../../v2/oauth2/token"), "invalid");
        assert_eq!(path_segment(""), "invalid");
        assert!(!is_task_id("a\u{1b}[2J") && !is_task_id(&"a".repeat(65)));
        assert_eq!(error_code(r#"{"code":"ExternalError.X","message":"m"}"#).as_deref(), Some("ExternalError.X"));
        assert_eq!(error_code("<html>500</html>"), None);
    }
}
