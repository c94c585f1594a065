//! Rows of the original Librarian's catalog, as read: raw values (times and
//! enumeration members as the text it stored), to be mapped by the import.

/// A `store_metadata` row.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalStore {
    /// Its id (instances refer to it).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Accepts uploads.
    pub ingestable: bool,
    /// 0 core, 1 local (the only kind with data on disk).
    pub store_type: i64,
    /// Its pickled settings (store and staging paths).
    pub store_data: Option<Vec<u8>>,
    /// In use.
    pub enabled: bool,
}

/// A `users` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUser {
    /// User name.
    pub name: String,
    /// The argon2id PHC string of the password.
    pub hash: String,
    /// `ADMIN`, `READWRITE`, `READAPPEND`, `READONLY`, `CALLBACK` or `NONE`.
    pub level: String,
}

/// A `librarians` row: a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalLibrarian {
    /// Its id (remote instances refer to it).
    pub id: i64,
    /// Its site name.
    pub name: String,
    /// Scheme and host (and perhaps a path), without the port.
    pub url: String,
    /// Its port.
    pub port: i64,
    /// A Fernet token of `user:password` (the account used there).
    pub authenticator: String,
    /// Transfers to it are enabled (`NULL` read as disabled, as the original does).
    pub transfers_enabled: bool,
}

/// A `files` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalFile {
    /// Its name.
    pub name: String,
    /// When it was catalogued (naive UTC text).
    pub create_time: String,
    /// Bytes.
    pub size: i64,
    /// `xxh3:::<hex>`, `md5:::<hex>` or a bare md5 hex digest.
    pub checksum: String,
    /// Who uploaded it.
    pub uploader: String,
    /// The user or site it came from.
    pub source: String,
}

/// An `instances` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalInstance {
    /// Its id (transfers and corrupt-file records refer to it).
    pub id: i64,
    /// Absolute path on the original's host.
    pub path: String,
    /// `DISALLOWED` or `ALLOWED` (the member name).
    pub deletion_policy: String,
    /// When it was made.
    pub created_time: String,
    /// The file (nullable in the original's schema).
    pub file_name: Option<String>,
    /// The store (nullable in the original's schema).
    pub store_id: Option<i64>,
    /// Readable.
    pub available: bool,
    /// What its last check computed.
    pub calculated_checksum: Option<String>,
    /// When it was last checked.
    pub checksum_time: Option<String>,
}

/// A `remote_instances` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRemoteInstance {
    /// Its id.
    pub id: i64,
    /// The file.
    pub file_name: String,
    /// The store's id at the peer.
    pub store_id: i64,
    /// The peer (`librarians.id`).
    pub librarian_id: i64,
    /// When it was copied.
    pub copy_time: String,
}

/// An `incoming_transfers` row: an upload or a clone received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalIncoming {
    /// Its id.
    pub id: i64,
    /// The status member name (`COMPLETED`, `STAGED`...).
    pub status: String,
    /// Who uploaded the file.
    pub uploader: String,
    /// The file's name.
    pub upload_name: String,
    /// The uploading user, or the sending site for a clone.
    pub source: String,
    /// Bytes.
    pub size: i64,
    /// Its checksum.
    pub checksum: String,
    /// The destination store.
    pub store_id: Option<i64>,
    /// When it started.
    pub start_time: String,
    /// When it ended.
    pub end_time: Option<String>,
    /// Its staging directory (a UUID below the store's staging area).
    pub staging_path: Option<String>,
    /// Where it lands in the store.
    pub store_path: Option<String>,
    /// The sender's outgoing transfer id (clones only).
    pub source_transfer_id: Option<i64>,
}

/// An `outgoing_transfers` row: a clone sent, or a copy onto a SneakerNet drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalOutgoing {
    /// Its id (a drive's manifest quotes it).
    pub id: i64,
    /// The status member name.
    pub status: String,
    /// The peer's name.
    pub destination: String,
    /// Bytes.
    pub size: i64,
    /// Its checksum.
    pub checksum: String,
    /// When it started.
    pub start_time: String,
    /// When it ended.
    pub end_time: Option<String>,
    /// The instance sent.
    pub instance_id: Option<i64>,
    /// The receiver's incoming transfer id.
    pub remote_transfer_id: Option<i64>,
    /// The file.
    pub file_name: Option<String>,
    /// The send queue item that carried it (network transfers only).
    pub send_queue_id: Option<i64>,
}

/// A `corrupt_files` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalCorrupt {
    /// Its id.
    pub id: i64,
    /// The file.
    pub file_name: String,
    /// The instance found corrupt.
    pub instance_id: i64,
    /// Its path.
    pub instance_path: String,
    /// When it was last found corrupt.
    pub corrupt_time: String,
    /// The size read.
    pub size: i64,
    /// The checksum read.
    pub checksum: String,
    /// How many times it was found corrupt.
    pub count: i64,
    /// Whether the original asked a peer for a replacement.
    pub replacement_requested: bool,
}

/// An uncleared `errors` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalError {
    /// Its id.
    pub id: i64,
    /// Its severity member name.
    pub severity: String,
    /// Its category member name.
    pub category: String,
    /// Its message.
    pub message: String,
    /// When it was raised.
    pub raised_time: String,
}
