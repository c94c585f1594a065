//! The Globus Auth and Transfer API v0.10 documents this site sends and reads, as the
//! official SDK and the Globus docs define them (`docs/globus.md` cites them). Fields
//! we do not use are ignored: Globus adds fields to its documents over time.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

/// The resource server of the Transfer service in a token answer.
pub const TRANSFER_RESOURCE_SERVER: &str = "transfer.api.globus.org";
/// The scope that lets a token use the Transfer API.
pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";

/// `POST /v2/oauth2/token`'s answer (client credentials or refresh token).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The token for `resource_server`.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: u64,
    /// Which service it is for.
    #[serde(default)]
    pub resource_server: String,
    /// Tokens for other resource servers, when several were asked for.
    #[serde(default)]
    pub other_tokens: Vec<OtherToken>,
}

/// One of [`TokenResponse::other_tokens`].
#[derive(Debug, Clone, Deserialize)]
pub struct OtherToken {
    /// The token.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: u64,
    /// Which service it is for.
    #[serde(default)]
    pub resource_server: String,
}

impl TokenResponse {
    /// The Transfer token and its lifetime, wherever the answer put it (the top level
    /// holds the first scope asked for, `other_tokens` the rest).
    pub fn transfer_token(&self) -> Option<(&str, u64)> {
        if self.resource_server == TRANSFER_RESOURCE_SERVER {
            return Some((&self.access_token, self.expires_in));
        }
        self.other_tokens
            .iter()
            .find(|t| t.resource_server == TRANSFER_RESOURCE_SERVER)
            .map(|t| (t.access_token.as_str(), t.expires_in))
    }
}

/// `GET /submission_id`.
#[derive(Debug, Clone, Deserialize)]
pub struct SubmissionId {
    /// The id (a UUID).
    pub value: String,
}

/// A `POST /transfer` document. Fields unset are omitted, as the SDK does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferDocument {
    /// Always `transfer`.
    #[serde(rename = "DATA_TYPE")]
    pub data_type: String,
    /// The id that makes a resubmission answer `Duplicate`.
    pub submission_id: String,
    /// The source collection's UUID.
    pub source_endpoint: String,
    /// The destination collection's UUID.
    pub destination_endpoint: String,
    /// A label: letters, digits, space, `-`, `_` and `,` only, at most 128 characters.
    pub label: String,
    /// 0 (`exists`): a file already at the destination is not sent again.
    pub sync_level: u8,
    /// Globus compares checksums after copying and copies again on a mismatch.
    pub verify_checksum: bool,
    /// Keep modification times.
    pub preserve_timestamp: bool,
    /// Encrypt the data channel.
    pub encrypt_data: bool,
    /// No mail when it succeeds.
    pub notify_on_succeeded: bool,
    /// No mail when it fails (the site raises its own events).
    pub notify_on_failed: bool,
    /// Fail rather than skip a source that cannot be read.
    pub skip_source_errors: bool,
    /// A full destination fails the task instead of retrying until the deadline.
    pub fail_on_quota_errors: bool,
    /// A hard deadline (`2026-12-03T10:00:00+00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// The items.
    #[serde(rename = "DATA")]
    pub data: Vec<TransferItem>,
}

/// One item of a [`TransferDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferItem {
    /// Always `transfer_item`.
    #[serde(rename = "DATA_TYPE")]
    pub data_type: String,
    /// The source collection path (a directory ends in `/`).
    pub source_path: String,
    /// The destination collection path (a directory ends in `/`).
    pub destination_path: String,
    /// A directory: its contents go inside the destination directory.
    pub recursive: bool,
}

/// `POST /transfer`'s answer (`Accepted` or `Duplicate`).
#[derive(Debug, Clone, Deserialize)]
pub struct TransferResult {
    /// `Accepted` (a new task) or `Duplicate` (this submission id was seen: the
    /// original task).
    pub code: String,
    /// The task.
    pub task_id: String,
    /// The submission id.
    #[serde(default)]
    pub submission_id: Option<String>,
}

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Moving (faults may be retried).
    Active,
    /// Suspended until someone acts (expired credentials, paused).
    Inactive,
    /// Done.
    Succeeded,
    /// Failed, expired or cancelled.
    Failed,
    /// A status this client does not know (treated as still running).
    Other,
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "ACTIVE" => TaskStatus::Active,
            "INACTIVE" => TaskStatus::Inactive,
            "SUCCEEDED" => TaskStatus::Succeeded,
            "FAILED" => TaskStatus::Failed,
            _ => TaskStatus::Other,
        })
    }
}

/// A task's `fatal_error`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FatalError {
    /// The event code (`PERMISSION_DENIED`, `FILE_NOT_FOUND`, `CANCELED`, `EXPIRED`…).
    #[serde(default)]
    pub code: String,
    /// What happened.
    #[serde(default)]
    pub description: String,
}

/// `GET /task/ID` (and the entries of `task_list`).
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    /// The task id.
    pub task_id: String,
    /// Its status.
    pub status: TaskStatus,
    /// When it was submitted.
    #[serde(default, deserialize_with = "globus_time")]
    pub request_time: Option<Timestamp>,
    /// When it ended.
    #[serde(default, deserialize_with = "globus_time")]
    pub completion_time: Option<Timestamp>,
    /// Errors met so far (not all fatal).
    #[serde(default, deserialize_with = "count")]
    pub faults: u64,
    /// Why a FAILED task failed.
    #[serde(default)]
    pub fatal_error: Option<FatalError>,
    /// `OK`, `Queued`, or the error being retried (`Creds Expired`…) while it runs.
    #[serde(default)]
    pub nice_status: Option<String>,
    /// Bytes moved so far.
    #[serde(default, deserialize_with = "count")]
    pub bytes_transferred: u64,
    /// Files moved so far.
    #[serde(default, deserialize_with = "count")]
    pub files_transferred: u64,
    /// Per-file history was deleted (after 30 days): no events to read.
    #[serde(default)]
    pub history_deleted: bool,
}

/// `GET /task/ID/event_list`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventList {
    /// The events, newest first.
    #[serde(rename = "DATA", default)]
    pub data: Vec<TaskEvent>,
    /// How many there are (a number, or a string in older answers).
    #[serde(default, deserialize_with = "count")]
    pub total: u64,
}

/// One task event.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskEvent {
    /// Its code (`FILE_NOT_FOUND`, `CONNECTION_RESET`, `PROGRESS`…).
    #[serde(default)]
    pub code: String,
    /// Whether it is an error.
    #[serde(default)]
    pub is_error: bool,
    /// What happened.
    #[serde(default)]
    pub description: Option<String>,
    /// When (`2014-07-08 18:50:18+00:00`).
    #[serde(default, deserialize_with = "globus_time")]
    pub time: Option<Timestamp>,
}

/// `GET /task_list` (read by the tests of the SDK's canned answers only).
#[cfg(test)]
#[derive(Debug, Clone, Deserialize)]
pub struct TaskList {
    /// The tasks.
    #[serde(rename = "DATA", default)]
    pub data: Vec<Task>,
    /// How many match.
    #[serde(default, deserialize_with = "count")]
    pub total: u64,
}

/// `POST /task/ID/cancel`'s answer: `Canceled`, `TaskComplete` or `CancelAccepted`.
#[derive(Debug, Clone, Deserialize)]
pub struct CancelResult {
    /// The code.
    pub code: String,
}

/// A Transfer error body (`{"code": "ClientError.NotFound", "message": …}`): taken as
/// one only when both are strings, as the SDK does.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    /// The dotted code.
    pub code: String,
    /// For a person.
    pub message: String,
}

/// An OAuth2 error body from Globus Auth (`{"error": "invalid_client"}`).
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthError {
    /// The OAuth2 error code.
    pub error: String,
}

/// A Globus time: `2022-01-26T19:18:20+00:00`, or with a space for the `T` (events,
/// older documents); null or unreadable is none.
fn globus_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.and_then(|s| parse_time(&s)))
}

/// Parse a Globus time (see [`globus_time`]).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let fixed = match s.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &s[..10], &s[11..]),
        _ => s.to_owned(),
    };
    fixed.parse::<Timestamp>().ok().or_else(|| format!("{fixed}Z").parse().ok())
}

/// A count sent as a number or, in older answers, a string; null is 0.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => Ok(n.as_u64().unwrap_or(0)),
        Some(serde_json::Value::String(s)) => Ok(s.trim().parse().unwrap_or(0)),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The official SDK's own canned answers (`globus_sdk/testing/data`, the ones its
    /// tests use), read through `$LIBRARIAN_GLOBUS_PYTHON` (a Python with
    /// globus-sdk 4.10.0 and `responses`; `scripts/test-all` makes one).
    const DUMP_CANNED: &str = r#"
import json, importlib
out = {}
for mod in ["transfer.submit_transfer", "transfer.get_submission_id", "transfer.cancel_task",
            "transfer.task_list", "auth.oauth2_client_credentials_tokens", "auth.oauth2_exchange_code_for_tokens"]:
    rs = importlib.import_module("globus_sdk.testing.data." + mod).RESPONSES
    out[mod] = {case: {"status": rs.lookup(case).status, "json": rs.lookup(case).json} for case in rs.cases()}
print(json.dumps(out, default=str))
"#;

    fn canned() -> Option<serde_json::Value> {
        let Some(py) = std::env::var_os("LIBRARIAN_GLOBUS_PYTHON") else {
            let what = "the SDK's canned answers need LIBRARIAN_GLOBUS_PYTHON (a Python with globus-sdk==4.10.0 \
                        and responses; scripts/test-all makes target/venv-globus)";
            assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "{what}: not skipped because CI is set");
            eprintln!("SKIPPED: {what}");
            return None;
        };
        let out = std::process::Command::new(py).args(["-c", DUMP_CANNED]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Some(serde_json::from_slice(&out.stdout).unwrap())
    }

    #[test]
    fn the_official_sdks_canned_answers_parse() {
        let Some(c) = canned() else { return };
        let submit: TransferResult =
            serde_json::from_value(c["transfer.submit_transfer"]["default"]["json"].clone()).unwrap();
        assert_eq!(submit.code, "Accepted");
        assert!(!submit.task_id.is_empty() && submit.submission_id.is_some());
        let failure: ApiError =
            serde_json::from_value(c["transfer.submit_transfer"]["failure"]["json"].clone()).unwrap();
        assert_eq!(failure.code, "ClientError.BadRequest.NoTransferItems");
        assert!(!crate::globus::http::is_endpoint_error(&failure.code));
        let id: SubmissionId =
            serde_json::from_value(c["transfer.get_submission_id"]["default"]["json"].clone()).unwrap();
        assert!(uuid::Uuid::parse_str(&id.value).is_ok(), "{}", id.value);
        let cancel: CancelResult =
            serde_json::from_value(c["transfer.cancel_task"]["default"]["json"].clone()).unwrap();
        assert_eq!(cancel.code, "Canceled");
        let list: TaskList = serde_json::from_value(c["transfer.task_list"]["default"]["json"].clone()).unwrap();
        assert!(!list.data.is_empty() && list.total >= list.data.len() as u64);
        for (raw, task) in c["transfer.task_list"]["default"]["json"]["DATA"].as_array().unwrap().iter().zip(&list.data)
        {
            assert_eq!(task.task_id, raw["task_id"].as_str().unwrap());
            let status = raw["status"].as_str().unwrap();
            let expect = match status {
                "ACTIVE" => TaskStatus::Active,
                "INACTIVE" => TaskStatus::Inactive,
                "SUCCEEDED" => TaskStatus::Succeeded,
                "FAILED" => TaskStatus::Failed,
                _ => TaskStatus::Other,
            };
            assert_eq!(task.status, expect);
            assert_eq!(task.request_time.is_some(), raw["request_time"].is_string(), "{raw}");
            assert_eq!(task.completion_time.is_some(), raw["completion_time"].is_string(), "{raw}");
            assert_eq!(task.bytes_transferred, raw["bytes_transferred"].as_u64().unwrap_or(0));
        }
        let token: TokenResponse =
            serde_json::from_value(c["auth.oauth2_client_credentials_tokens"]["default"]["json"].clone()).unwrap();
        assert_eq!(token.transfer_token(), Some(("DUMMY_TRANSFER_TOKEN_FROM_THE_INTERTUBES", 172_800)));
        // An answer for another resource server gives no Transfer token.
        let openid: TokenResponse =
            serde_json::from_value(c["auth.oauth2_client_credentials_tokens"]["openid"]["json"].clone()).unwrap();
        assert_eq!(openid.transfer_token(), None);
        let refused: OAuthError =
            serde_json::from_value(c["auth.oauth2_exchange_code_for_tokens"]["invalid_grant"]["json"].clone()).unwrap();
        assert_eq!(refused.error, "invalid_grant");
    }

    #[test]
    fn both_time_forms_parse() {
        let a = parse_time("2022-01-26T19:18:20+00:00").unwrap();
        let b = parse_time("2022-01-26 19:18:20+00:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_time("2017-10-12 09:30Z").is_some() || parse_time("2017-10-12T09:30:00Z").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn a_task_with_strings_nulls_and_unknown_fields_parses() {
        let t: Task = serde_json::from_value(serde_json::json!({
            "DATA_TYPE": "task", "task_id": "t", "status": "FAILED", "faults": "3", "files_transferred": null,
            "fatal_error": {"code": "PERMISSION_DENIED", "description": "no"}, "nice_status": null,
            "request_time": "2022-01-26T19:18:20+00:00", "completion_time": null, "something_new": [1, 2]
        }))
        .unwrap();
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(t.faults, 3);
        assert_eq!(t.fatal_error.unwrap().code, "PERMISSION_DENIED");
        assert!(t.request_time.is_some() && t.completion_time.is_none());
        let t: Task = serde_json::from_value(serde_json::json!({"task_id": "t", "status": "PAUSED_SOMEHOW"})).unwrap();
        assert_eq!(t.status, TaskStatus::Other);
    }

    #[test]
    fn the_transfer_token_is_found_at_the_top_or_among_the_others() {
        let top: TokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "A", "expires_in": 10, "resource_server": "transfer.api.globus.org", "other_tokens": []
        }))
        .unwrap();
        assert_eq!(top.transfer_token(), Some(("A", 10)));
        let other: TokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "X", "expires_in": 10, "resource_server": "auth.globus.org",
            "other_tokens": [{"access_token": "T", "expires_in": 20, "resource_server": "transfer.api.globus.org"}]
        }))
        .unwrap();
        assert_eq!(other.transfer_token(), Some(("T", 20)));
    }
}
