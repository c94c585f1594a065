//! Recycling a drive store whose copies have all been delivered.

use crate::error::Result;
use crate::site::Site;

/// Recycle store `name` (a drive whose copies have all been delivered): delete
/// the data of its unavailable instances, the directories left empty by that (below
/// the store's root, never the root itself) and the drive's manifest files, and
/// enable it again for the next round. The instance rows stay, unavailable: they
/// record what the drive carried, so a later fill does not copy those files again.
/// Refused while it holds available instances or active transfers. Returns how
/// many copies were deleted.
pub(crate) fn recycle_store(site: &Site, name: &str) -> Result<usize> {
    let row = site.catalog().store(name)?;
    let paths = site.catalog().retired_instances(name)?;
    for p in &paths {
        // Only what the catalog put there, inside the store's data area.
        if !p.starts_with(&row.root) {
            continue;
        }
        crate::transfers::manager::clear_destination(p)?;
        // The directories that held only this copy go too (never the root).
        crate::store::prune_empty_parents(p, &row.root);
    }
    for f in [
        crate::sneakernet::manifest::MANIFEST,
        crate::sneakernet::manifest::MANIFEST_DIGEST,
        crate::sneakernet::manifest::B3SUMS,
        crate::sneakernet::manifest::SHA256SUMS,
    ] {
        let _ = std::fs::remove_file(row.root.join(f));
    }
    site.catalog().finish_recycle(name)?;
    Ok(paths.len())
}
