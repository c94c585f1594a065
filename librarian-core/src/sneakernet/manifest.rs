//! The drive manifest: what a drive carries, written at the root of its data area so
//! the drive describes and proves its own contents.
//!
//! Files at the root of the data area (names no catalog file may start with):
//! - `.librarian-manifest.json`: this manifest (format `librarian-drive-manifest`,
//!   version 1);
//! - `.librarian-manifest.json.b3`: its BLAKE3 digest, a `b3sum` line;
//! - `.librarian-b3sums.txt` and `.librarian-sha256sums.txt`: every payload file (files
//!   and the files inside books), in `b3sum` / `sha256sum` format, relative to the
//!   data area: `cd DRIVE && b3sum --check .librarian-b3sums.txt` needs no librarian.
//!
//! The manifest of the existing (Python) Librarian (`librarian_name`, `store_name`,
//! `store_files`, checksums `xxh3:::`/`md5`) is read too.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::FileKind;
use crate::checksum::{Checksum, EntryKind};
use crate::error::{Error, ObjectKind, Result};
use crate::name::FileName;

/// The manifest's file name.
pub const MANIFEST: &str = ".librarian-manifest.json";
/// The manifest's digest (a `b3sum` line).
pub const MANIFEST_DIGEST: &str = ".librarian-manifest.json.b3";
/// `b3sum` list of every payload file.
pub const B3SUMS: &str = ".librarian-b3sums.txt";
/// `sha256sum` list of every payload file.
pub const SHA256SUMS: &str = ".librarian-sha256sums.txt";
/// The prefix reserved for these files at the top of a drive.
pub const RESERVED_PREFIX: &str = ".librarian-";
/// The manifest of the existing Librarian, when written onto the drive by hand.
pub const LEGACY_MANIFEST: &str = "manifest.json";

/// The `format` field of our manifests.
pub const FORMAT: &str = "librarian-drive-manifest";
/// The version this code writes (and the newest it reads).
pub const VERSION: u32 = 1;

/// One entry of a book on the drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path inside the book.
    pub path: String,
    /// `file` or `directory`.
    pub kind: String,
    /// Bytes (0 for directories).
    pub size: u64,
    /// Hex digest (book's algorithm); none for directories.
    pub digest: Option<String>,
}

/// One file (or book) on the drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Catalog name; the data is at `<drive>/<name>`.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Checksum, `algorithm:hex` (or a legacy form).
    pub checksum: String,
    /// `file` or `directory`.
    pub kind: String,
    /// Who uploaded it at its source.
    pub uploader: String,
    /// The site where it was first ingested.
    pub source: String,
    /// When it was catalogued at its source.
    pub created_at: Option<Timestamp>,
    /// The outgoing transfer at the exporting site (`None` for a dry run or a legacy
    /// manifest without one).
    pub transfer_id: Option<i64>,
    /// A book's entries, for reporting which entry is bad.
    #[serde(default)]
    pub entries: Vec<ManifestEntry>,
}

impl ManifestFile {
    /// The validated name.
    pub fn file_name(&self) -> Result<FileName> {
        FileName::new(&self.name)
    }

    /// The parsed checksum.
    pub fn parsed_checksum(&self) -> Result<Checksum> {
        Checksum::parse(&self.checksum)
    }

    /// File or book.
    pub fn file_kind(&self) -> Result<FileKind> {
        FileKind::from_sql(&self.kind).map_err(|_| {
            Error::InvalidArgument(format!("{}: kind {:?} is not file or directory", self.name, self.kind))
        })
    }
}

/// A drive's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The exporting site.
    pub site: String,
    /// The store (the drive) at the exporting site.
    pub store: String,
    /// The site the drive goes to.
    pub destination: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// What the drive holds.
    pub files: Vec<ManifestFile>,
    /// Whether it was read from the existing Librarian's format.
    #[serde(skip)]
    pub legacy: bool,
}

/// The existing Librarian's manifest (`AdminStoreManifestResponse`).
#[derive(Debug, Deserialize)]
struct LegacyManifest {
    librarian_name: String,
    store_name: String,
    store_files: Vec<LegacyEntry>,
}

#[derive(Debug, Deserialize)]
struct LegacyEntry {
    name: String,
    create_time: Option<String>,
    size: u64,
    checksum: String,
    uploader: String,
    source: String,
    #[serde(default)]
    outgoing_transfer_id: Option<i64>,
}

/// The kind of the data at `path` (a directory is a book).
fn kind_on_disk(path: &Path) -> &'static str {
    if path.is_dir() { "directory" } else { "file" }
}

impl Manifest {
    /// Serialise (pretty JSON, ending in a newline).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| Error::InvalidArgument(format!("cannot write the manifest: {e}")))
    }

    /// Read the manifest in the drive directory `drive`: ours, else the existing
    /// Librarian's `manifest.json`. Also returns whether ours matched its stored
    /// digest (`None` for a legacy manifest, which has none).
    pub fn read(drive: &Path) -> Result<(Manifest, Option<bool>)> {
        let ours = drive.join(MANIFEST);
        if ours.exists() {
            let bytes = std::fs::read(&ours).map_err(|e| Error::io("cannot read", &ours, e))?;
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| Error::InvalidArgument(format!("{} is not a drive manifest: {e}", ours.display())))?;
            if m.format != FORMAT || m.version == 0 || m.version > VERSION {
                return Err(Error::InvalidArgument(format!(
                    "{}: format {:?} version {} is not one this librarian reads ({FORMAT} 1..={VERSION})",
                    ours.display(),
                    m.format,
                    m.version
                )));
            }
            let digest_ok = stored_digest(drive)?.map(|d| d == blake3::hash(&bytes).to_hex().to_string());
            return Ok((m, Some(digest_ok.unwrap_or(false))));
        }
        let legacy = drive.join(LEGACY_MANIFEST);
        if legacy.exists() {
            return Ok((Self::read_legacy(drive, &legacy)?, None));
        }
        Err(Error::NotFound {
            kind: ObjectKind::Path,
            name: format!(
                "{} (no {MANIFEST} or {LEGACY_MANIFEST}: not a drive, or its manifest was deleted)",
                drive.display()
            ),
        })
    }

    fn read_legacy(drive: &Path, path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        let l: LegacyManifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::InvalidArgument(format!(
                "{} is neither our manifest nor the existing Librarian's: {e}",
                path.display()
            ))
        })?;
        let files = l
            .store_files
            .into_iter()
            .map(|e| ManifestFile {
                kind: kind_on_disk(&drive.join(&e.name)).to_owned(),
                created_at: e.create_time.as_deref().and_then(parse_legacy_time),
                name: e.name,
                size: e.size,
                checksum: e.checksum,
                uploader: e.uploader,
                source: e.source,
                transfer_id: e.outgoing_transfer_id.filter(|id| *id >= 0),
                entries: Vec::new(),
            })
            .collect();
        Ok(Manifest {
            format: FORMAT.into(),
            version: VERSION,
            site: l.librarian_name,
            store: l.store_name,
            destination: String::new(),
            created_at: Timestamp::now(),
            files,
            legacy: true,
        })
    }
}

/// Python's `datetime.isoformat()` without a zone is UTC in the existing Librarian.
fn parse_legacy_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

/// The hex digest in `.librarian-manifest.json.b3`, if the file exists.
fn stored_digest(drive: &Path) -> Result<Option<String>> {
    let p = drive.join(MANIFEST_DIGEST);
    match std::fs::read_to_string(&p) {
        Ok(text) => Ok(text.split_whitespace().next().map(str::to_ascii_lowercase)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", &p, e)),
    }
}

/// A `b3sum`/`sha256sum` line: `HEX  PATH`.
pub(crate) fn sum_line(hex: &str, path: &str) -> String {
    format!("{hex}  {path}\n")
}

/// The entries of a book as the manifest lists them.
pub(crate) fn manifest_entries(entries: &[crate::checksum::Entry]) -> Vec<ManifestEntry> {
    entries
        .iter()
        .map(|e| ManifestEntry {
            path: e.path.clone(),
            kind: e.kind.as_str().to_owned(),
            size: e.size,
            digest: e.digest.clone(),
        })
        .collect()
}

/// Whether a manifest entry is a file entry.
pub(crate) fn is_file_entry(e: &ManifestEntry) -> bool {
    e.kind == EntryKind::File.as_str()
}
