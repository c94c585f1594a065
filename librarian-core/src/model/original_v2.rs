//! The original (Python) Librarian's `/api/v2` bodies that a site still running it
//! sends us or expects from us (issue 14, item 2), with its field names. Unknown
//! fields are ignored, as the original's pydantic models ignore them.

use serde::{Deserialize, Serialize};

/// One file of `POST /api/v2/clone/batch_stage`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct V2StageItem {
    /// Bytes.
    pub upload_size: i64,
    /// `xxh3:::<hex>`, `md5:::<hex>`, a bare md5, or ours.
    pub upload_checksum: String,
    /// The file's name (what the sender calls it).
    pub upload_name: String,
    /// Where it goes: the file's name here.
    pub destination_location: String,
    /// Who uploaded it at its origin.
    pub uploader: String,
    /// The sender's outgoing transfer id.
    pub source_transfer_id: i64,
}

/// `POST /api/v2/clone/batch_stage`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct V2BatchStage {
    /// The files.
    pub uploads: Vec<V2StageItem>,
    /// The sending site's name.
    pub source: String,
    /// Their total size.
    pub total_size: i64,
}

/// `POST /api/v2/checkin/update`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct V2CheckinUpdate {
    /// Outgoing transfers of the site called (ours, when we sent).
    #[serde(default)]
    pub source_transfer_ids: Vec<i64>,
    /// Incoming transfers of the site called (ours, when we receive).
    #[serde(default)]
    pub destination_transfer_ids: Vec<i64>,
    /// `ONGOING`, `STAGED`, `FAILED`, `CANCELLED`...
    pub new_status: String,
}

/// `POST /api/v2/checkin/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct V2CheckinStatus {
    /// Outgoing transfers of the site called.
    #[serde(default)]
    pub source_transfer_ids: Vec<i64>,
    /// Incoming transfers of the site called.
    #[serde(default)]
    pub destination_transfer_ids: Vec<i64>,
}

/// `POST /api/v2/clone/fail` (sender → receiver).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct V2CloneFail {
    /// The sender's transfer.
    pub source_transfer_id: i64,
    /// The receiver's transfer (ours).
    pub destination_transfer_id: i64,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v2/clone/complete` (receiver → sender).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2CloneComplete {
    /// The sender's transfer.
    pub source_transfer_id: i64,
    /// The receiver's transfer.
    pub destination_transfer_id: i64,
    /// The receiver's store (its number).
    pub store_id: i64,
}

/// An answer in the original's failure style: `{"reason", "suggested_remedy"}`
/// (what its client reads from any non-2xx answer).
pub fn v2_failure(reason: impl Into<String>, remedy: impl Into<String>) -> serde_json::Value {
    serde_json::json!({ "reason": reason.into(), "suggested_remedy": remedy.into() })
}

/// The `/api/v2` endpoints answered for peers still running the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Endpoint {
    /// `POST /api/v2/ping/`: anyone.
    Ping,
    /// `POST /api/v2/ping/logged`: any account.
    PingLogged,
    /// `POST /api/v2/clone/batch_stage`: a peer's account that may write.
    BatchStage,
    /// `POST /api/v2/checkin/update`.
    CheckinUpdate,
    /// `POST /api/v2/checkin/status`.
    CheckinStatus,
    /// `POST /api/v2/clone/fail`.
    CloneFail,
    /// `POST /api/v2/clone/complete`.
    CloneComplete,
}

impl V2Endpoint {
    /// The endpoint at `path` (the original's client posts `ping/` with its slash).
    pub fn from_path(path: &str) -> Option<Self> {
        Some(match path.strip_prefix("/api/v2/")? {
            "ping" | "ping/" => V2Endpoint::Ping,
            "ping/logged" => V2Endpoint::PingLogged,
            "clone/batch_stage" => V2Endpoint::BatchStage,
            "checkin/update" => V2Endpoint::CheckinUpdate,
            "checkin/status" => V2Endpoint::CheckinStatus,
            "clone/fail" => V2Endpoint::CloneFail,
            "clone/complete" => V2Endpoint::CloneComplete,
            _ => return None,
        })
    }
}
