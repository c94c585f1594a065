//! `librarian import-original`: bring a site of the original (Python) Librarian
//! into this one (issue 14) — its stores as they are on disk, files with their legacy
//! checksums, instances, remote instances, users with their password hashes, peers
//! with their credentials, the history of its transfers, its corrupt-file records —
//! without copying or re-hashing a byte of data (books excepted: their entries are
//! listed and hashed once, as every book here has them).
//!
//! The source is read in one snapshot; the plan is built in memory; the catalog is
//! written in one transaction (`Catalog::apply_import`), so an import lands whole or
//! not at all, and a second one finds everything present. `dry_run` runs the same
//! transaction and rolls it back. Transfers in flight in the original are resumed
//! where our state machine can carry them on (a SneakerNet drive copy: the drive's
//! manifest quotes its id), failed with a reason otherwise, and all reported.

mod plan;
mod rehash;

use std::path::PathBuf;

use jiff::Timestamp;

use crate::catalog::original::OriginalCatalog;
use crate::error::{Error, Result};
use crate::model::{OriginalImportReport, PrefixMap};
use crate::progress::Progress;
use crate::site::Site;
use crate::store::PosixStore;

/// How to import: where things moved, what to override.
#[derive(Debug, Clone, Default)]
pub struct ImportOriginalOptions {
    /// The original server's JSON config: its site name and the Fernet key of its
    /// peers' credentials (`encryption_key`, `encryption_key_file`).
    pub original_config: Option<PathBuf>,
    /// `OLD=NEW` path prefixes (the original's absolute paths, moved).
    pub map_prefix: Vec<String>,
    /// `NAME=DIR`: a store's data area, instead of its pickled `store_path`.
    pub store_roots: Vec<String>,
    /// `NAME=DIR`: a store's staging area, instead of its pickled `staging_path`.
    pub store_staging: Vec<String>,
    /// `NAME=URL`: a peer's URL, instead of the original's host and port.
    pub peer_urls: Vec<String>,
    /// `PEER:ID=NAME`: the name of store `ID` at peer `PEER` (the original knows only
    /// its number); without it, `original-store-ID`.
    pub remote_stores: Vec<String>,
    /// Report what would be imported; write nothing.
    pub dry_run: bool,
    /// Re-hash every available copy with its legacy algorithm and record a BLAKE3
    /// digest beside it.
    pub verify: bool,
}

/// Parse repeated `KEY=VALUE` options.
pub(crate) fn pairs(option: &str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|p| {
            p.split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Error::invalid(option, format!("{p:?} is not NAME=VALUE")))
        })
        .collect()
}

/// Import the original catalog at `source` into `site`.
pub(crate) fn import_original(
    site: &Site,
    source: &str,
    opts: &ImportOriginalOptions,
    progress: &dyn Progress,
) -> Result<OriginalImportReport> {
    let map = PrefixMap::parse(&opts.map_prefix)?;
    let mut original = OriginalCatalog::open(source)?;
    let mut built = plan::build(site, &mut original, opts, &map, progress)?;
    if opts.verify {
        let (copies, bytes) = rehash::rehash(&mut built.plan, progress);
        built.report.notes.push(format!(
            "--verify: {copies} copies ({bytes} bytes) re-hashed with their legacy algorithm and BLAKE3"
        ));
    }
    let mut report = built.report;
    let now = Timestamp::now();
    if !opts.dry_run {
        // The new stores' staging areas (a root is never created: it holds the data).
        // Left empty if the import is then refused: harmless.
        for s in &built.plan.stores {
            if s.root.is_dir() {
                PosixStore::new(&s.name, &s.root, &s.staging).prepare()?;
            }
        }
    }
    let outcome = site.catalog().apply_import(&built.plan, opts.dry_run, now)?;
    report.added = outcome.added;
    report.present = outcome.present;
    report.instance_states = outcome.instance_states;
    report.conflicts = outcome.conflicts;
    if let (false, Some(first)) = (opts.dry_run, report.conflicts.first()) {
        return Err(Error::Conflict {
            name: format!(
                "{} {} (and {} more; `--dry-run` lists every conflict; nothing was imported)",
                first.kind,
                first.name,
                report.conflicts.len() - 1
            ),
            existing: first.existing.clone(),
            incoming: first.incoming.clone(),
        });
    }
    Ok(report)
}
