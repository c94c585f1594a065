//! Responses: JSON bodies, and errors as `{"error": {"code", "message"}}`.

use super::http::HttpResponse;
use crate::error::Error;

pub(crate) type Reply = HttpResponse;

/// A JSON response.
pub(crate) fn json(status: u16, value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => HttpResponse {
            account: None,
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body,
            stream: None,
        },
        Err(e) => ApiError::new(500, "internal", format!("cannot encode the answer: {e}")).into_response(),
    }
}

/// A plain-text response with the given content type.
pub(crate) fn text(status: u16, body: String, content_type: &str) -> Reply {
    HttpResponse {
        account: None,
        status,
        headers: vec![("Content-Type", content_type.to_owned())],
        body: body.into_bytes(),
        stream: None,
    }
}

/// The bytes of an open file (`len` of them), streamed.
pub(crate) fn file(file: std::fs::File, len: u64, headers: Vec<(&'static str, String)>) -> Reply {
    let mut headers = headers;
    headers.push(("Content-Type", "application/octet-stream".into()));
    HttpResponse { account: None, status: 200, headers, body: Vec::new(), stream: Some((file, len)) }
}

/// An error the client sees: status, stable code, message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    /// The same error with a `Retry-After` of `secs` (at least 1).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }
    /// The server has no room for this connection or check now.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(503, "busy", message).retry_after(1)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "valid credentials are required (HTTP Basic auth)")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }
    pub fn shutting_down() -> Self {
        Self::new(503, "shutting_down", "the server is shutting down; try again later")
    }

    /// [`ApiError::into_response`] with the original Librarian's failure fields
    /// (`reason`, `suggested_remedy`) beside `error`, for its `/api/v2` callers.
    pub fn into_v2_response(self) -> Reply {
        let body = serde_json::json!({
            "reason": self.message,
            "suggested_remedy": "",
            "error": { "code": self.code, "message": self.message },
        });
        let mut r = json(self.status, &body);
        if self.status == 401 {
            r.headers.push(("WWW-Authenticate", "Basic realm=\"librarian\"".into()));
        }
        r
    }

    pub fn into_response(self) -> Reply {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut r = json(self.status, &body);
        if self.status == 401 {
            r.headers.push(("WWW-Authenticate", "Basic realm=\"librarian\"".into()));
        }
        if let Some(secs) = self.retry_after {
            r.headers.push(("Retry-After", secs.to_string()));
        }
        r
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            // The caller's input was wrong: the usage rows of `ERROR_CODES`.
            e if e.is_usage() => 400,
            Error::Unauthorized { .. } => return ApiError::unauthorized(),
            Error::NotFound { .. } => 404,
            Error::Forbidden(_) => 403,
            Error::AlreadyExists { .. } | Error::Conflict { .. } | Error::IllegalTransition { .. } => 409,
            _ => 500,
        };
        let code = if status == 400 { "bad_request" } else { e.code() };
        if status == 500 {
            log::error!("request failed: {e}");
        }
        ApiError::new(status, code, e.to_string())
    }
}
