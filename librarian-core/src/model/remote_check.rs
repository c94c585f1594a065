//! `POST /api/v1/files/verify`: a peer re-hashes its own copies of named files and
//! answers per file and per copy.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{CheckStatus, InstanceState};

/// Most names in one `files/verify` call (each may mean re-reading a large file).
pub const MAX_VERIFY_NAMES: usize = 64;

/// The body of `files/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The files to re-verify (at most [`MAX_VERIFY_NAMES`]).
    pub names: Vec<String>,
}

/// One copy, as its site just found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyCheck {
    /// The store there.
    pub store: String,
    /// What re-reading it found.
    pub status: CheckStatus,
    /// The copy's state there after the check.
    pub state: InstanceState,
}

/// One file's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileVerification {
    /// The name asked for.
    pub name: String,
    /// Whether the site catalogues the file.
    pub present: bool,
    /// Its checksum there.
    pub checksum: Option<String>,
    /// Its size there.
    pub size: Option<u64>,
    /// Each copy it holds (damaged ones included), checked now.
    pub copies: Vec<CopyCheck>,
    /// When the checks ran (UTC).
    pub verified_at: Timestamp,
}

impl FileVerification {
    /// True when at least one copy was found intact.
    pub fn intact(&self) -> bool {
        self.copies.iter().any(|c| c.status == CheckStatus::Ok)
    }
}

/// The answer of `files/verify`: one item per name, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyAnswer {
    /// The site that answered.
    pub site: String,
    /// One per name asked.
    pub files: Vec<FileVerification>,
}

/// The body of `files/read`: the bytes of `name` (a file), or of the file `entry`
/// of the book `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The file or book.
    pub name: String,
    /// For a book: the entry's path inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}
