//! The transfer as the catalog keeps it and JSON shows it (design §9 "Transfer").

use std::fmt;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::FileKind;
use super::transfer_state::TransferStatus;
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::name::FileName;

/// Which way the data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From this site to the peer.
    Outgoing,
    /// From the peer to this site.
    Incoming,
}

impl Direction {
    all_variants!(
        /// Both directions.
        Outgoing, Incoming
    );

    /// `outgoing` or `incoming`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Direction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "outgoing" => Ok(Direction::Outgoing),
            "incoming" => Ok(Direction::Incoming),
            _ => Err(Error::invalid("direction", format!("unknown direction {s:?}; directions: outgoing, incoming"))),
        }
    }
}

/// One file's transfer between this site and a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Its id here.
    pub id: i64,
    /// Outgoing or incoming.
    pub direction: Direction,
    /// The other site.
    pub peer: String,
    /// The id of the same transfer at the peer, once known.
    pub remote_id: Option<i64>,
    /// The file's name.
    pub file: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// Its checksum.
    pub checksum: Checksum,
    /// File or book.
    pub kind: FileKind,
    /// Who uploaded it at its source.
    pub uploader: String,
    /// The site where it was first ingested.
    pub source: String,
    /// When the file was created there, if known, as the sender gave it (the receiver
    /// records it as the file's `created_at`, unless it is later than the file's
    /// arrival: then the arrival; `null`: an older sender did not say).
    pub file_created_at: Option<Timestamp>,
    /// Where the transfer is.
    pub status: TransferStatus,
    /// What moves (moved) the bytes.
    pub manager: Option<ManagerKind>,
    /// The store here: where the data comes from (outgoing) or goes to (incoming).
    pub store: Option<String>,
    /// Outgoing: the instance read. Incoming: the staging directory the data arrives in.
    pub local_path: Option<PathBuf>,
    /// Outgoing: where the peer wants the data.
    pub remote_path: Option<String>,
    /// The batch moving it (outgoing).
    pub batch: Option<i64>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Why it failed, as a stable code (e.g. `checksum_mismatch`, `conflict`).
    pub error_code: Option<String>,
    /// Why it failed, for a person.
    pub error: Option<String>,
}
/// The managers there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ManagerKind {
    /// A copy through a shared filesystem.
    Local,
    /// The `rsync` binary (local paths, or `host:path` over ssh).
    Rsync,
    /// A drive carried by hand (no bytes move over the network).
    Sneakernet,
    /// Globus transfer tasks between two Globus collections (`[globus]`).
    Globus,
}

impl ManagerKind {
    all_variants!(
        /// Every manager.
        Local, Rsync, Sneakernet, Globus
    );

    /// The JSON, SQL and configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagerKind::Local => "local",
            ManagerKind::Rsync => "rsync",
            ManagerKind::Sneakernet => "sneakernet",
            ManagerKind::Globus => "globus",
        }
    }
}

impl fmt::Display for ManagerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ManagerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ManagerKind::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            Error::invalid("manager", format!("unknown transfer manager {s:?}; managers: local, rsync, globus"))
        })
    }
}
