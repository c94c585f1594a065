//! Stores of a site (adding, listing, enabling, removing), the site's status, and
//! cleaning staging areas.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::catalog::StoreRow;
use crate::config;
use crate::error::{Error, ObjectKind, Result};
use crate::model::{DEFAULT_STORE, SiteStatus, StoreSpec, StoreStatus};
use crate::site::Site;
use crate::site::absolute;
use crate::store::{PosixStore, Store};

/// `p` (absolute) with symlinks and `..` resolved as far as it exists, and the missing
/// rest normalised lexically: where `create_dir_all(p)` would put it.
fn resolved(p: &Path) -> PathBuf {
    let comps: Vec<std::path::Component<'_>> = p.components().collect();
    for k in (1..=comps.len()).rev() {
        let head: PathBuf = comps[..k].iter().collect();
        if let Ok(mut out) = std::fs::canonicalize(&head) {
            for c in &comps[k..] {
                match c {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::Normal(s) => out.push(s),
                    _ => {}
                }
            }
            return out;
        }
    }
    p.to_owned()
}

/// The data area and the staging area must not contain each other.
fn apart(root: &Path, staging: &Path) -> Result<()> {
    if root.starts_with(staging) || staging.starts_with(root) {
        return Err(Error::invalid(
            "staging",
            format!(
                "the data area {} and staging area {} must not contain each other",
                root.display(),
                staging.display()
            ),
        ));
    }
    Ok(())
}

/// Add a store; its directories are created, and must be on one filesystem.
/// Add the store `init` creates: [`DEFAULT_STORE`] under `<site dir>/stores/main`.
pub(crate) fn add_default_store(site: &Site) -> Result<StoreStatus> {
    let site_dir = site.config_path().parent().ok_or_else(|| {
        Error::internal(format!("the configuration {} has no directory", site.config_path().display()))
    })?;
    let dir = site_dir.join("stores").join(DEFAULT_STORE);
    add_store(
        site,
        &StoreSpec {
            name: DEFAULT_STORE.into(),
            root: dir.join("data"),
            staging: Some(dir.join("staging")),
            ingestable: true,
            reserve_bytes: 0,
        },
    )
}

pub(crate) fn add_store(site: &Site, spec: &StoreSpec) -> Result<StoreStatus> {
    config::validate_store_name(&spec.name)?;
    let root = absolute(&spec.root)?;
    let staging = absolute(&spec.staging_or_default())?;
    apart(&resolved(&root), &resolved(&staging))?;
    if site.catalog().store(&spec.name).is_ok() {
        return Err(Error::AlreadyExists { kind: ObjectKind::Store, name: spec.name.clone() });
    }
    PosixStore::new(&spec.name, &root, &staging).prepare()?;
    let root = std::fs::canonicalize(&root).map_err(|e| Error::io("cannot resolve", &root, e))?;
    let staging = std::fs::canonicalize(&staging).map_err(|e| Error::io("cannot resolve", &staging, e))?;
    // Again on the real paths (a dangling symlink may only now resolve).
    apart(&root, &staging)?;
    let row = site.catalog().insert_store(
        &spec.name,
        &root,
        &staging,
        spec.ingestable,
        spec.reserve_bytes,
        Timestamp::now(),
    )?;
    store_status(site, row)
}

/// All stores with their usage.
pub(crate) fn stores(site: &Site) -> Result<Vec<StoreStatus>> {
    let usage = site.catalog().store_usage()?;
    site.catalog()
        .stores()?
        .into_iter()
        .map(|row| {
            let u = usage.get(&row.id).copied().unwrap_or_default();
            Ok(status_of(row, u))
        })
        .collect()
}

fn store_status(site: &Site, row: StoreRow) -> Result<StoreStatus> {
    let u = site.catalog().store_usage()?.get(&row.id).copied().unwrap_or_default();
    Ok(status_of(row, u))
}

/// Enable or disable a store.
pub(crate) fn set_store_enabled(site: &Site, name: &str, enabled: bool) -> Result<StoreStatus> {
    let row = site.catalog().set_store_enabled(name, enabled)?;
    store_status(site, row)
}

/// Forget store `name`. Refused while it holds available instances or active
/// transfers; leaves its directories as they are (wipe a drive by hand).
pub(crate) fn remove_store(site: &Site, name: &str) -> Result<()> {
    site.catalog().remove_store(name)
}

/// The site at a glance.
pub(crate) fn status(site: &Site) -> Result<SiteStatus> {
    let stores = stores(site)?;
    let (files, bytes) = site.catalog().totals()?;
    Ok(SiteStatus {
        site: site.config().name.clone(),
        database: site.catalog().path().to_owned(),
        schema_version: site.catalog().schema_version()?,
        files,
        bytes,
        ingests_in_progress: site.catalog().intents()?.len(),
        stores,
    })
}

/// Roll back interrupted ingests of dead processes and remove stale staging
/// directories on every store. Returns the staging directories removed.
pub(crate) fn cleanup_staging(site: &Site) -> Result<Vec<PathBuf>> {
    crate::ingest::recover_interrupted(site);
    let mut open: Vec<PathBuf> = site.catalog().intents()?.into_iter().map(|i| i.staging_dir).collect();
    // Incoming transfers' staging directories stay while the transfer is active.
    for incoming in site.catalog().active_incoming_dirs()? {
        // ... and the private directory their payload is taken into.
        let mut taken = incoming.clone().into_os_string();
        taken.push(crate::store::staging::TAKEN_SUFFIX);
        open.push(PathBuf::from(taken));
        open.push(incoming);
    }
    let mut removed = Vec::new();
    for row in site.catalog().stores()? {
        let store = PosixStore::new(&row.name, &row.root, &row.staging);
        removed.extend(store.clean_staging(&|p| open.iter().any(|o| o == p))?);
    }
    Ok(removed)
}

fn status_of(row: StoreRow, u: crate::catalog::StoreUsage) -> StoreStatus {
    let free = PosixStore::new(&row.name, &row.root, &row.staging).free_bytes().ok();
    StoreStatus {
        name: row.name,
        root: row.root,
        staging: row.staging,
        ingestable: row.ingestable,
        enabled: row.enabled,
        reserve_bytes: row.reserve_bytes,
        files: u.files,
        used_bytes: u.bytes,
        free_bytes: free,
    }
}
