//! `sneakernet export`: make a drive store self-describing, record the outgoing
//! transfers and disable the store.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::check::hash_many;
use super::manifest::{
    B3SUMS, FORMAT, MANIFEST, MANIFEST_DIGEST, Manifest, ManifestFile, RESERVED_PREFIX, SHA256SUMS, VERSION,
    manifest_entries, sum_line,
};
use crate::catalog::{ExportItem, Exported, FileKind};
use crate::checksum::{Algorithm, EntryKind};
use crate::error::{Error, Result};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;

/// What an export did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// The drive's store.
    pub store: String,
    /// Where the drive goes.
    pub destination: String,
    /// The drive directory (the store's data area), where the manifest is.
    pub drive: PathBuf,
    /// Files and books on the drive, in the manifest.
    pub files: Vec<String>,
    /// Their bytes.
    pub bytes: u64,
    /// Files already on their way to the destination by the network: on the drive and
    /// in the manifest, but with no transfer (nothing waits for their callback).
    pub skipped: Vec<String>,
    /// Files the destination already holds (a remote instance there), left out of the
    /// delivery unless `include_held`: on the drive and in the manifest (so the drive
    /// checks out whole), but with no transfer, and their drive copies retired
    /// (unavailable, as delivered copies are).
    pub held: Vec<String>,
    /// Nothing was written or changed.
    pub dry_run: bool,
}

/// Write `text` to `dir/name` durably (temporary file, fsync, rename).
/// A time as the original's manifests write it: naive UTC, ISO 8601.
fn original_time(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC).datetime().strftime("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// One entry of the original's manifest (`AdminStoreManifestResponse.store_files`).
fn original_entry(
    f: &crate::catalog::FileRow,
    inst: &crate::catalog::InstanceRow,
    transfer: Option<i64>,
) -> serde_json::Value {
    let checksum = match f.checksum.algorithm() {
        Algorithm::Md5 => format!("md5:::{}", f.checksum.hex()),
        _ => format!("xxh3:::{}", f.checksum.hex()),
    };
    serde_json::json!({
        "name": f.name.as_str(),
        "create_time": original_time(f.created_at),
        "size": f.size,
        "checksum": checksum,
        "uploader": f.uploader,
        "source": f.source,
        "instance_path": inst.path,
        "deletion_policy": u8::from(inst.deletion_policy == crate::model::DeletionPolicy::Allowed),
        "instance_create_time": original_time(inst.created_at),
        "instance_available": true,
        "outgoing_transfer_id": transfer.unwrap_or(-1),
    })
}

fn write_durably(dir: &Path, name: &str, text: &str) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("cannot create", &tmp, e))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| Error::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("cannot rename", &tmp, e))
}

/// Export the drive store `store` to peer `to`: re-read every byte on it (checking
/// each file against the catalog), write the checksum lists and the manifest with
/// its digest, and record the outgoing transfers and the store disabled in one
/// transaction. Files `to` already holds get no transfer (their drive copies are
/// retired) unless `include_held`. With `dry_run`, only say what would be exported.
///
/// The drive's files are its available copies and its retired ones (delivered, or
/// held by the destination) whose data is still on it (not recycled): a second run
/// after an interruption lists the same files, and the manifest accounts for
/// everything on the drive.
pub(crate) fn sneakernet_export(
    site: &Site,
    store: &str,
    to: &str,
    dry_run: bool,
    include_held: bool,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let row = site.catalog().store(store)?;
    let original = crate::access::peer(site, to)?.protocol == crate::model::PeerProtocol::OriginalV2;
    let on_store: Vec<_> = site
        .catalog()
        .instances_on_store(row.id)?
        .into_iter()
        .filter(|(_, i)| {
            // A damaged copy never travels; a retired one that is still there may.
            i.available
                || (i.state == crate::model::InstanceState::Retired && std::fs::symlink_metadata(&i.path).is_ok())
        })
        .collect();
    let held: HashSet<FileName> =
        if include_held { HashSet::new() } else { site.catalog().held_by_peer(to, row.id)?.into_iter().collect() };
    if let Some((f, _)) = on_store.iter().find(|(f, _)| f.name.as_str().starts_with(RESERVED_PREFIX)) {
        return Err(Error::invalid(
            "file",
            format!("{} starts with {RESERVED_PREFIX}, which a drive keeps for its manifest", f.name),
        ));
    }
    // A site still running the original verifies only its own algorithms.
    if original && let Some((f, _)) = on_store.iter().find(|(f, _)| !f.checksum.algorithm().is_legacy()) {
        return Err(Error::invalid(
            "store",
            format!(
                "{to} runs the original Librarian, which verifies only xxh3 and md5 checksums; {} has {}: \
                 move it off the drive, or ingest files for that site with --algorithm xxh3",
                f.name, f.checksum
            ),
        ));
    }
    let bytes = on_store.iter().map(|(f, _)| f.size).sum();
    let mut report = ExportReport {
        store: store.to_owned(),
        destination: to.to_owned(),
        drive: row.root.clone(),
        files: on_store.iter().map(|(f, _)| f.name.to_string()).collect(),
        bytes,
        skipped: Vec::new(),
        held: on_store.iter().filter(|(f, _)| held.contains(&f.name)).map(|(f, _)| f.name.to_string()).collect(),
        dry_run,
    };
    if dry_run {
        return Ok(report);
    }

    // One read of every payload byte: BLAKE3 and SHA-256 for the lists, and the
    // file's own algorithm to check the drive copy against the catalog.
    progress.start(bytes);
    let mut b3 = String::new();
    let mut sha = String::new();
    let mut files = Vec::with_capacity(on_store.len());
    for (f, inst) in &on_store {
        let entries = match f.kind {
            FileKind::File => Vec::new(),
            FileKind::Directory => site.catalog().entries(f.id)?,
        };
        let alg = f.checksum.algorithm();
        let mut algs = vec![Algorithm::Blake3, Algorithm::Sha256];
        if !algs.contains(&alg) {
            algs.push(alg);
        }
        let idx = algs.iter().position(|a| *a == alg).unwrap_or(0);
        let payloads: Vec<(PathBuf, String, Option<&str>)> = match f.kind {
            FileKind::File => vec![(inst.path.clone(), f.name.to_string(), None)],
            FileKind::Directory => entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| (inst.path.join(&e.path), format!("{}/{}", f.name, e.path), e.digest.as_deref()))
                .collect(),
        };
        for (path, rel, entry_digest) in &payloads {
            let (sums, _) = hash_many(path, &algs, progress)?;
            let (Some(blake), Some(sha256), Some(own)) = (sums.first(), sums.get(1), sums.get(idx)) else {
                return Err(Error::internal("hashing produced no digest"));
            };
            let expected = match (f.kind, entry_digest) {
                (FileKind::File, _) => Some(f.checksum.hex().to_owned()),
                (FileKind::Directory, d) => d.map(str::to_owned),
            };
            if expected.is_some_and(|e| !e.eq_ignore_ascii_case(own.hex())) {
                return Err(Error::ChecksumMismatch {
                    name: rel.clone(),
                    detail: format!(
                        "the copy on store {store} hashes to {own}, the catalog says otherwise: \
                         nothing was exported (verify and repair the drive first)"
                    ),
                });
            }
            b3.push_str(&sum_line(blake.hex(), rel));
            sha.push_str(&sum_line(sha256.hex(), rel));
        }
        files.push((f, inst, entries));
    }
    progress.finish();

    let items: Vec<ExportItem<'_>> = files
        .iter()
        .map(|(f, inst, _)| ExportItem {
            name: &f.name,
            size: f.size,
            checksum: &f.checksum,
            kind: f.kind,
            uploader: &f.uploader,
            source: &f.source,
            created_at: f.created_at,
            path: &inst.path,
            held: held.contains(&f.name),
        })
        .collect();
    let outcomes = site.catalog().record_export(to, row.id, &items, Timestamp::now())?;
    let mut manifest_files = Vec::with_capacity(files.len());
    let mut original_entries = Vec::new();
    report.held.clear();
    for ((f, inst, entries), outcome) in files.iter().zip(outcomes) {
        // A file already on its way by the network, or already at the destination,
        // stays on the drive and in the manifest (so the drive checks out whole) but
        // with no transfer: the destination imports it or finds it there, and nobody
        // waits for a callback.
        let id = match outcome {
            Exported::Transfer(id) => Some(id),
            Exported::OnItsWay => {
                report.skipped.push(f.name.to_string());
                None
            }
            Exported::Held => {
                report.held.push(f.name.to_string());
                None
            }
        };
        if original {
            original_entries.push(original_entry(f, inst, id));
        }
        manifest_files.push(ManifestFile {
            name: f.name.to_string(),
            size: f.size,
            checksum: f.checksum.to_string(),
            kind: f.kind.as_str().to_owned(),
            uploader: f.uploader.clone(),
            source: f.source.clone(),
            created_at: Some(f.created_at),
            transfer_id: id,
            entries: manifest_entries(entries),
        });
    }
    report.files = manifest_files.iter().map(|m| m.name.clone()).collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        site: site.config().name.clone(),
        store: store.to_owned(),
        destination: to.to_owned(),
        created_at: Timestamp::now(),
        files: manifest_files,
        legacy: false,
        data_dir: None,
    };
    let text = manifest.to_json()?;
    let drive = &row.root;
    write_durably(drive, B3SUMS, &b3)?;
    write_durably(drive, SHA256SUMS, &sha)?;
    write_durably(drive, MANIFEST, &text)?;
    write_durably(drive, MANIFEST_DIGEST, &sum_line(&blake3::hash(text.as_bytes()).to_hex(), MANIFEST))?;
    if original {
        // For the original's `librarian ingest-manifest --store-root <drive>`.
        let legacy = serde_json::json!({
            "librarian_name": site.config().name,
            "store_name": store,
            "store_files": original_entries,
        });
        let text = serde_json::to_string_pretty(&legacy)
            .map_err(|e| Error::internal(format!("cannot write the original's manifest: {e}")))?;
        write_durably(drive, super::manifest::LEGACY_MANIFEST, &text)?;
    }
    crate::store::posix::sync_filesystem(drive)?;
    Ok(report)
}
