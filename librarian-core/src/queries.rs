//! Looking files up: one file with its copies, searches, local and remote instances.

use crate::catalog::SearchQuery;
use crate::error::Result;
use crate::model::{File, Instance, RemoteInstance};
use crate::name::FileName;
use crate::site::Site;

/// The file `name` with its instances and remote instances.
pub(crate) fn file(site: &Site, name: &FileName) -> Result<File> {
    let row = site.catalog().require_file(name)?;
    let inst = site.catalog().instances(row.id)?;
    let remote = site.catalog().remote_instances(row.id)?;
    Ok(File::from_rows(row, inst, remote))
}

/// Files matching `query`, by name.
pub(crate) fn search(site: &Site, query: &SearchQuery) -> Result<Vec<File>> {
    site.catalog()
        .search(query)?
        .into_iter()
        .map(|row| {
            let inst = site.catalog().instances(row.id)?;
            let remote = site.catalog().remote_instances(row.id)?;
            Ok(File::from_rows(row, inst, remote))
        })
        .collect()
}

/// Local copies of `name`.
pub(crate) fn instances(site: &Site, name: &FileName) -> Result<Vec<Instance>> {
    let row = site.catalog().require_file(name)?;
    Ok(site.catalog().instances(row.id)?.into_iter().map(Instance::from).collect())
}

/// Copies of `name` at other Librarians.
pub(crate) fn remote_instances(site: &Site, name: &FileName) -> Result<Vec<RemoteInstance>> {
    let row = site.catalog().require_file(name)?;
    Ok(site.catalog().remote_instances(row.id)?.into_iter().map(RemoteInstance::from).collect())
}
