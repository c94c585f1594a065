//! Transfer API error answers: `{"code","message","request_id","resource"}` with the
//! code also in `X-Transfer-API-Error` (reference §3), and the request ids they carry.

use serde_json::json;

use crate::http::Response;

/// A refusal, turned into a response by [`ApiError::response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.to_string(), message: message.into() }
    }

    /// 400 `ClientError.BadRequest` with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "ClientError.BadRequest", message)
    }

    /// The Globus-style answer for a request to `resource` (the request path).
    pub fn response(&self, resource: &str) -> Response {
        error_response(self.status, &self.code, &self.message, resource)
    }
}

/// A Globus-style error answer.
pub fn error_response(status: u16, code: &str, message: &str, resource: &str) -> Response {
    let body = json!({
        "DATA_TYPE": "error",
        "code": code,
        "message": message,
        "request_id": request_id(),
        "resource": resource,
    });
    Response::json(status, &body).with_header("X-Transfer-API-Error", code)
}

/// A request id shaped like Globus' (`"7HgMVYazI"`): nine random letters and digits.
pub fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uuid::Uuid::new_v4().as_bytes().iter().take(9).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// The code a Globus-style error of this status carries when a test injects the status
/// without a body. Only `ExternalError.DirListingFailed.GCDisconnected` (502) and
/// `ServiceUnavailable` (503) are seen in sources; the others are our choice
/// (unverified).
pub fn default_code(status: u16) -> &'static str {
    match status {
        400 => "ClientError.BadRequest",
        401 => "AuthenticationFailed",
        403 => "PermissionDenied",
        404 => "ClientError.NotFound",
        409 => "Conflict",
        429 => "RateLimited",
        502 => "ExternalError.DirListingFailed.GCDisconnected",
        503 => "ServiceUnavailable",
        504 => "ServerError.GatewayTimeout",
        s if s >= 500 => "ServerError.InternalError",
        _ => "ClientError",
    }
}
