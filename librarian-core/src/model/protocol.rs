//! The peer protocol's request and response bodies for clones (`stage` and the calls
//! about a transfer), and how each is checked before anything acts on it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{CallKind, FileKind, ManagerKind};
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::name::{FileName, MAX_NAME_BYTES};
use crate::text::{MAX_REASON_CHARS, MAX_UPLOADER_BYTES, check_identifier, clean_free_text};

/// Most items in one `stage` call: a call with more is refused whole (400). The
/// `[clone] max_stage_items` limit (at most this) refuses the items after it one by one.
pub const MAX_STAGE_ITEMS: usize = 10_000;

/// One file a sender wants to send (as it arrives: [`StageItem::validate`] makes the
/// [`ValidItem`] that staging works with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageItem {
    /// The sender's transfer id.
    pub transfer_id: i64,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its checksum.
    pub checksum: String,
    /// `file` or `directory`.
    pub kind: String,
    /// Who uploaded it at its source.
    pub uploader: String,
    /// The site where it was first ingested.
    pub source: String,
    /// When it was created there (RFC 3339). Sent only to a peer whose `ping` lists
    /// the feature [`STAGE_CREATED_AT`] (an older receiver refuses fields it does not
    /// know); absent (an older sender): unknown, the file is created at its arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// The `ping` feature saying that `stage` takes [`StageItem::created_at`].
pub const STAGE_CREATED_AT: &str = "stage_created_at";

/// The protocol features this site understands, listed in its `ping` answer.
pub const FEATURES: &[&str] = &[STAGE_CREATED_AT];

/// A stage item whose every field was checked: what staging records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidItem {
    /// The sender's transfer id.
    pub transfer_id: i64,
    /// The name (naming and look-alike rules).
    pub name: FileName,
    /// Size in bytes (at most `i64::MAX`).
    pub size: u64,
    /// The checksum.
    pub checksum: Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Uploader: at most [`MAX_UPLOADER_BYTES`], no control or formatting character.
    pub uploader: String,
    /// Source: a site name.
    pub source: String,
    /// When it was created at its origin, if the sender said (as sent: the commit
    /// never records a time later than the file's arrival).
    pub created_at: Option<Timestamp>,
}

impl StageItem {
    /// Check every field. [`Error::InvalidName`], [`Error::InvalidChecksum`] or
    /// [`Error::InvalidArgument`] for the first field that is wrong.
    pub fn validate(&self) -> Result<ValidItem> {
        let name = FileName::new(&self.name)?;
        let checksum = Checksum::parse(&self.checksum)?;
        let kind = self.kind.parse::<FileKind>().map_err(|_| {
            Error::invalid("kind", format!("kind must be \"file\" or \"directory\", not {:?}", self.kind))
        })?;
        if i64::try_from(self.size).is_err() {
            return Err(Error::invalid("size", format!("size {} is too large", self.size)));
        }
        check_identifier("uploader", &self.uploader, MAX_UPLOADER_BYTES)?;
        crate::name::validate_site_name(&self.source)
            .map_err(|_| Error::invalid("source", format!("source {:?} is not a site name", self.source)))?;
        let created_at = self
            .created_at
            .as_deref()
            .map(|t| {
                t.parse::<Timestamp>().map_err(|_| {
                    Error::invalid(
                        "created_at",
                        format!("created_at {:?} is not an RFC 3339 time", clean_free_text(t, MAX_TIME_CHARS)),
                    )
                })
            })
            .transpose()?;
        Ok(ValidItem {
            transfer_id: self.transfer_id,
            name,
            size: self.size,
            checksum,
            kind,
            uploader: self.uploader.clone(),
            source: self.source.clone(),
            created_at,
        })
    }
}

/// How much of a `created_at` that is no time a refusal quotes.
const MAX_TIME_CHARS: usize = 40;

/// Body of `POST /api/v1/clone/stage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    /// Managers the sender can use, in its order of preference.
    pub managers: Vec<String>,
    /// The files.
    pub items: Vec<StageItem>,
}

/// The answer for one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StageResult {
    /// Send the data to `destination` with `manager`; the receiver's transfer is `remote_id`.
    Accepted {
        /// The sender's transfer id.
        transfer_id: i64,
        /// The receiver's transfer id.
        remote_id: i64,
        /// Where the data must go (a path, or `host:path` for rsync over ssh).
        destination: String,
        /// The manager to use.
        manager: ManagerKind,
    },
    /// The receiver already holds the file with this checksum: nothing to send.
    AlreadyPresent {
        /// The sender's transfer id.
        transfer_id: i64,
        /// The receiver's store holding it.
        store: String,
    },
    /// The receiver will not take it.
    Refused {
        /// The sender's transfer id.
        transfer_id: i64,
        /// Stable code: `conflict`, `store_full`, `invalid_name`, `invalid_checksum`,
        /// `invalid_argument`, `no_common_manager`, `failed`, and the "try later"
        /// codes `too_many_items` (over `max_stage_items` in this call) and
        /// `too_many_outstanding` (over the peer's unfinished transfers or bytes).
        code: String,
        /// Why.
        message: String,
    },
}

/// Body of `POST /api/v1/clone/stage`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageResponse {
    /// One answer per item, in order.
    pub items: Vec<StageResult>,
}

/// Body of the `staged`, `complete` and `fail` calls (as it arrives:
/// [`TransferCall::validate`] makes the [`ValidCall`] that is applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCall {
    /// The receiving site's transfer id.
    pub transfer_id: i64,
    /// The calling site's transfer id.
    pub peer_transfer_id: i64,
    /// The file (for people reading logs; not trusted).
    pub file: String,
    /// `complete`: the store that now holds the file (required).
    #[serde(default)]
    pub store: Option<String>,
    /// `fail`: why.
    #[serde(default)]
    pub reason: Option<String>,
    /// `complete`: the checksum of what the receiver committed (required); the sender
    /// records the copy only if it equals its own.
    #[serde(default)]
    pub checksum: Option<String>,
}

/// A transfer call whose fields were checked for its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCall {
    /// The call.
    pub kind: CallKind,
    /// The receiving site's transfer id.
    pub transfer_id: i64,
    /// The calling site's transfer id.
    pub peer_transfer_id: i64,
    /// The file as the caller names it (at most [`MAX_NAME_BYTES`]; compared, never trusted).
    pub file: String,
    /// `complete`: the caller's store, a valid store name.
    pub store: Option<String>,
    /// `fail`: the reason, escaped and cut to [`MAX_REASON_CHARS`] characters.
    pub reason: Option<String>,
    /// `complete`: the checksum the caller committed.
    pub checksum: Option<Checksum>,
    /// Digest of the kind and the canonical body: what an idempotency key is bound to.
    pub digest: String,
}

/// Digest of a call's kind and its canonical body (the parsed body serialized with
/// its fields in a fixed order): the same call gives the same digest however its
/// JSON was spaced or ordered.
pub(crate) fn call_digest(kind: CallKind, canonical: &impl Serialize) -> Result<String> {
    let body = serde_json::to_string(canonical).map_err(|e| Error::internal(format!("cannot encode a call: {e}")))?;
    let mut h = blake3::Hasher::new();
    h.update(kind.as_str().as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    Ok(format!("blake3:{}", h.finalize().to_hex()))
}

impl TransferCall {
    /// Check the call for `kind`: `complete` needs a valid `store` and a `checksum`;
    /// a `fail` reason is escaped and cut. [`Error::InvalidArgument`] (or
    /// [`Error::InvalidChecksum`]) for a call that is wrong.
    pub fn validate(&self, kind: CallKind) -> Result<ValidCall> {
        if self.file.len() > MAX_NAME_BYTES {
            return Err(Error::invalid("file", format!("file is longer than {MAX_NAME_BYTES} bytes")));
        }
        let (store, checksum) = match kind {
            CallKind::Complete => {
                let store = self
                    .store
                    .as_deref()
                    .ok_or_else(|| Error::invalid("store", "a complete call must name its store"))?;
                crate::name::validate_store_name(store)?;
                let checksum = self.checksum.as_deref().ok_or_else(|| {
                    Error::invalid("checksum", "a complete call must give the checksum of the committed copy")
                })?;
                (Some(store.to_owned()), Some(Checksum::parse(checksum)?))
            }
            CallKind::Staged | CallKind::Fail => (None, None),
            CallKind::Holds => return Err(Error::invalid("kind", "holds is not a transfer call")),
        };
        let reason = match kind {
            CallKind::Fail => {
                Some(clean_free_text(self.reason.as_deref().unwrap_or("the peer gave no reason"), MAX_REASON_CHARS))
            }
            _ => None,
        };
        Ok(ValidCall {
            kind,
            transfer_id: self.transfer_id,
            peer_transfer_id: self.peer_transfer_id,
            file: self.file.clone(),
            store,
            reason,
            checksum,
            digest: call_digest(kind, self)?,
        })
    }
}
