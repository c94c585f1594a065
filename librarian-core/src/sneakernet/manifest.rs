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

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::FileKind;
use crate::checksum::{Checksum, EntryKind};
use crate::error::{Error, ObjectKind, Result};
use crate::name::FileName;
use crate::store::beneath::{Dir, EntryType};

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

/// The largest manifest (ours or the existing Librarian's) a reader accepts, in bytes:
/// a manifest is read whole into memory, so a drive cannot make a reader take more.
/// About a million files and books with a handful of entries each.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// The largest manifest digest file (`.librarian-manifest.json.b3`) a reader accepts.
const MAX_DIGEST_BYTES: u64 = 4096;

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
        self.kind.parse::<FileKind>().map_err(|_| {
            Error::corrupt(
                "the drive manifest",
                format!("{}: kind {:?} is not file or directory", self.name, self.kind),
            )
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
    /// Where on the drive the files are, relative to its root, when not at the root:
    /// the existing Librarian keeps them under its drive store's own directory
    /// (`store/` beside its `manifest.json`), as each entry's `instance_path` says.
    #[serde(skip)]
    pub data_dir: Option<String>,
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
    /// Where the copy was on the exporting host (absolute, that host's paths).
    #[serde(default)]
    instance_path: Option<String>,
}

/// Where the existing Librarian's drive keeps its files, relative to the drive's
/// root: the shortest tail of the directory that held each entry's `instance_path`
/// (`/srv/x/drive/store/a/b.dat` for `a/b.dat`: `store`, then `drive/store`, ...)
/// that is a directory on this drive; `None` when the entries are at the root, name
/// no such directory, or disagree. Only plain components are tried (never `..`).
fn legacy_data_dir(drive: &Dir, entries: &[LegacyEntry]) -> Option<String> {
    let mut found: Option<String> = None;
    for e in entries {
        let Some(held) = e.instance_path.as_deref() else { continue };
        let Some(dir) = held.strip_suffix(e.name.as_str()).and_then(|d| d.strip_suffix('/')) else { continue };
        let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        let here = (1..=parts.len())
            .map(|n| parts[parts.len() - n..].join("/"))
            .find(|tail| tail.split('/').all(|p| p != "." && p != "..") && drive.open_dir(Path::new(tail)).is_ok());
        match (&found, here) {
            (None, Some(h)) => found = Some(h),
            (Some(f), Some(h)) if *f != h => return None,
            _ => {}
        }
    }
    found
}

/// The kind of the data at `name` beneath the drive (a directory is a book), looked at
/// without following a link at any component: anything that is not a directory there
/// counts as a file (and is then checked, and refused, as one).
fn kind_on_disk(drive: &Dir, name: &str) -> &'static str {
    if drive.open_dir(Path::new(name)).is_ok() { "directory" } else { "file" }
}

/// Read the reserved file `name` at the top of the drive, whole, if it exists: it must
/// be a regular file (a link or a FIFO is refused, never followed or waited on) of at
/// most `limit` bytes (checked before reading and while reading).
fn read_reserved(drive: &Dir, name: &str, limit: u64) -> Result<Option<Vec<u8>>> {
    let shown = drive.shown().join(name);
    let Some(st) = drive.stat(OsStr::new(name))? else { return Ok(None) };
    if st.kind != EntryType::File {
        return Err(Error::UnsupportedEntry {
            path: shown.display().to_string(),
            reason: format!("a drive's {name} must be a regular file: {}", st.kind.refusal()),
        });
    }
    let too_big = |size: u64| Error::UnsupportedEntry {
        path: shown.display().to_string(),
        reason: format!("{size} bytes or more, beyond the limit of {limit} bytes for this file: refused unread"),
    };
    if st.size > limit {
        return Err(too_big(st.size));
    }
    let f = drive.open_file(Path::new(name))?;
    let mut bytes = Vec::with_capacity(usize::try_from(st.size).unwrap_or(0));
    f.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io("cannot read", &shown, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

impl Manifest {
    /// The directory of the drive that holds its files: `root` itself, or its
    /// [`Manifest::data_dir`] opened beneath it (never following a link).
    pub(crate) fn payload(&self, root: &Dir) -> Result<Option<Dir>> {
        self.data_dir.as_deref().map(|d| root.open_dir(Path::new(d))).transpose()
    }

    /// Serialise (pretty JSON, ending in a newline).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| Error::internal(format!("cannot encode the manifest: {e}")))
    }

    /// [`Manifest::read`] from the drive's open root: the manifest and its digest
    /// must be regular files at the top of the drive (never a link or a FIFO), of at
    /// most [`MAX_MANIFEST_BYTES`].
    pub(crate) fn read_at(drive: &Dir) -> Result<(Manifest, Option<bool>)> {
        let ours = drive.shown().join(MANIFEST);
        if let Some(bytes) = read_reserved(drive, MANIFEST, MAX_MANIFEST_BYTES)? {
            let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::UnsupportedEntry {
                path: ours.display().to_string(),
                reason: format!("not a drive manifest: {e}"),
            })?;
            if m.format != FORMAT || m.version == 0 || m.version > VERSION {
                return Err(Error::UnsupportedEntry {
                    path: ours.display().to_string(),
                    reason: format!(
                        "format {:?} version {} is not one this librarian reads ({FORMAT} 1..={VERSION})",
                        m.format, m.version
                    ),
                });
            }
            let digest_ok = stored_digest(drive)?.map(|d| d == blake3::hash(&bytes).to_hex().to_string());
            return Ok((m, Some(digest_ok.unwrap_or(false))));
        }
        if let Some(bytes) = read_reserved(drive, LEGACY_MANIFEST, MAX_MANIFEST_BYTES)? {
            return Ok((Self::read_legacy(drive, &bytes)?, None));
        }
        Err(Error::NotFound {
            kind: ObjectKind::Path,
            name: format!(
                "{} (no {MANIFEST} or {LEGACY_MANIFEST}: not a drive, or its manifest was deleted)",
                drive.shown().display()
            ),
        })
    }

    fn read_legacy(drive: &Dir, bytes: &[u8]) -> Result<Manifest> {
        let path = drive.shown().join(LEGACY_MANIFEST);
        let l: LegacyManifest = serde_json::from_slice(bytes).map_err(|e| Error::UnsupportedEntry {
            path: path.display().to_string(),
            reason: format!("neither our manifest nor the existing Librarian's: {e}"),
        })?;
        let data_dir = legacy_data_dir(drive, &l.store_files);
        let payload = data_dir.as_deref().and_then(|d| drive.open_dir(Path::new(d)).ok());
        let files_at = payload.as_ref().unwrap_or(drive);
        let files = l
            .store_files
            .into_iter()
            .map(|e| ManifestFile {
                kind: kind_on_disk(files_at, &e.name).to_owned(),
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
            data_dir,
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
fn stored_digest(drive: &Dir) -> Result<Option<String>> {
    Ok(read_reserved(drive, MANIFEST_DIGEST, MAX_DIGEST_BYTES)?
        .and_then(|b| String::from_utf8_lossy(&b).split_whitespace().next().map(str::to_ascii_lowercase)))
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

/// What is wrong with a manifest line beyond its name, checksum and kind (checked by
/// [`ManifestFile::file_name`] and friends): a name in the space the drive keeps for
/// its own files, book entries whose paths are not plain relative paths (`..`, a
/// leading `/`, NUL, an empty segment) or repeat, entries of an unknown kind, and
/// entries that do not add up to the line's own checksum or size (a manifest that
/// lies about a book). `None` when the line is usable. Pure: reads nothing.
pub(crate) fn line_problem(mf: &ManifestFile, checksum: &Checksum, kind: FileKind) -> Option<String> {
    if mf.name.starts_with(RESERVED_PREFIX) || mf.name == LEGACY_MANIFEST {
        return Some(format!("{:?} is a name a drive keeps for its own files", mf.name));
    }
    if kind == FileKind::File {
        return (!mf.entries.is_empty()).then(|| "a file with book entries".to_owned());
    }
    if mf.entries.is_empty() {
        return None; // legacy manifests list no entries: the book's digest alone decides
    }
    let mut entries = Vec::with_capacity(mf.entries.len());
    let mut seen = std::collections::HashSet::with_capacity(mf.entries.len());
    for e in &mf.entries {
        if let Some(reason) = e.path.split('/').find_map(|seg| crate::name::check_segment(seg).err()) {
            return Some(format!("book entry {:?}: {reason}", e.path));
        }
        if !seen.insert(e.path.as_str()) {
            return Some(format!("book entry {:?} is listed twice", e.path));
        }
        let entry_kind = match e.kind.as_str() {
            "file" => EntryKind::File,
            "directory" => EntryKind::Directory,
            other => return Some(format!("book entry {:?} has kind {other:?}, not file or directory", e.path)),
        };
        let digest = match (entry_kind, &e.digest) {
            (EntryKind::File, Some(d)) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(d.to_ascii_lowercase())
            }
            (EntryKind::File, _) => return Some(format!("book entry {:?} has no usable digest", e.path)),
            (EntryKind::Directory, _) => None,
        };
        entries.push(crate::checksum::Entry { path: e.path.clone(), kind: entry_kind, size: e.size, digest });
    }
    let total = entries.iter().try_fold(0u64, |acc, e| acc.checked_add(e.size));
    if total != Some(mf.size) {
        return Some(format!("the book's entries do not add up to its size of {} bytes", mf.size));
    }
    let alg = checksum.algorithm();
    if !alg.is_legacy()
        && alg.hasher().is_ok()
        && !crate::checksum::directory_digest(alg, &entries).and_then(|d| d.matches(checksum)).unwrap_or(false)
    {
        return Some(format!("the book's entries do not add up to its checksum {checksum}: the manifest lies"));
    }
    None
}

/// The names that more than one line of the manifest claims (all such lines are
/// refused: which one is meant cannot be told).
pub(crate) fn duplicate_names(manifest: &Manifest) -> std::collections::HashSet<&str> {
    let mut seen = std::collections::HashSet::with_capacity(manifest.files.len());
    manifest.files.iter().map(|f| f.name.as_str()).filter(|n| !seen.insert(*n)).collect()
}
