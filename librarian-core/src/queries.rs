//! Looking files up: one file with its copies, searches, local and remote instances.

use crate::catalog::{DEFAULT_SEARCH_LIMIT, FileRow, SearchQuery};
use crate::error::Result;
use crate::model::{File, Instance, RemoteInstance, SearchPage};
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
    with_copies(site, site.catalog().search(query)?)
}

fn with_copies(site: &Site, rows: Vec<FileRow>) -> Result<Vec<File>> {
    rows.into_iter()
        .map(|row| {
            let inst = site.catalog().instances(row.id)?;
            let remote = site.catalog().remote_instances(row.id)?;
            Ok(File::from_rows(row, inst, remote))
        })
        .collect()
}

/// One page of `query`'s matches: at most its limit (100 when `None`), and whether
/// more follow, with the cursor to continue from.
pub(crate) fn search_page(site: &Site, query: &SearchQuery) -> Result<SearchPage> {
    let limit = query.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    // One more than asked, to tell a complete answer from a cut one.
    let probe = SearchQuery { limit: Some(limit.saturating_add(1)), ..query.clone() };
    let mut rows = site.catalog().search(&probe)?;
    let truncated = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let files = with_copies(site, rows)?;
    let next = match files.last() {
        _ if !truncated => None,
        Some(last) => Some(last.name.as_str().to_owned()),
        None => query.after.clone(),
    };
    Ok(SearchPage { files, truncated, next })
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
