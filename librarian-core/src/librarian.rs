//! The facade: one site's Librarian, opened from its configuration file.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::catalog::{Catalog, SearchQuery, StoreRow};
use crate::config::{self, Config};
use crate::error::{Error, ObjectKind, Result};
use crate::ingest::{self, UploadOptions};
use crate::model::{File, Instance, RemoteInstance, SiteStatus, StoreStatus, Upload, VerifyReport};
use crate::name::FileName;
use crate::progress::Progress;
use crate::store::{PosixStore, Store};

/// Name of the store `init` creates.
pub const DEFAULT_STORE: &str = "main";

/// Settings of a new store (`librarian store add`).
#[derive(Debug, Clone)]
pub struct StoreSpec {
    /// Unique store name.
    pub name: String,
    /// Data area; created if missing.
    pub root: PathBuf,
    /// Staging area; default `<root>.staging` (see [`StoreSpec::staging_or_default`]).
    pub staging: Option<PathBuf>,
    /// Accept new data (default true).
    pub ingestable: bool,
    /// Bytes of free space to keep.
    pub reserve_bytes: u64,
}

impl StoreSpec {
    /// A store with data area `root`, ingestable, no reserve, default staging.
    pub fn new(name: &str, root: impl Into<PathBuf>) -> Self {
        StoreSpec { name: name.to_owned(), root: root.into(), staging: None, ingestable: true, reserve_bytes: 0 }
    }

    /// The staging area: the one given, else `<root>.staging`, a sibling of the data
    /// area (so on the same filesystem in the usual layout).
    pub fn staging_or_default(&self) -> PathBuf {
        self.staging.clone().unwrap_or_else(|| {
            let mut s = self.root.clone().into_os_string();
            s.push(".staging");
            PathBuf::from(s)
        })
    }
}

/// A site's Librarian: its configuration and its catalog.
#[derive(Debug)]
pub struct Librarian {
    config: Config,
    config_path: PathBuf,
    catalog: Catalog,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("cannot resolve", p, e))
}

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
        return Err(Error::InvalidArgument(format!(
            "the data area {} and staging area {} must not contain each other",
            root.display(),
            staging.display()
        )));
    }
    Ok(())
}

impl Librarian {
    /// Create a new site in `dir`: `dir/librarian.toml`, the database, and a store
    /// [`DEFAULT_STORE`] under `dir/stores/main`. Refuses a directory that already
    /// holds a `librarian.toml`.
    pub fn init(dir: &Path, name: &str) -> Result<Self> {
        let cfg = Config::new(name)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve", dir, e))?;
        let config_path = dir.join(config::DEFAULT_CONFIG);
        let text = cfg.to_toml()?;
        {
            use std::io::Write;
            let mut f =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&config_path).map_err(|e| {
                    match e.kind() {
                        std::io::ErrorKind::AlreadyExists => {
                            Error::AlreadyExists { kind: ObjectKind::Config, name: config_path.display().to_string() }
                        }
                        _ => Error::io("cannot create", &config_path, e),
                    }
                })?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io("cannot write", &config_path, e))?;
        }
        let lib = Self::open_creating(&config_path, true)?;
        let stores = dir.join("stores");
        lib.add_store(&StoreSpec {
            name: DEFAULT_STORE.into(),
            root: stores.join(DEFAULT_STORE).join("data"),
            staging: Some(stores.join(DEFAULT_STORE).join("staging")),
            ingestable: true,
            reserve_bytes: 0,
        })?;
        Ok(lib)
    }

    /// Open the site whose configuration file is `config_path`. Interrupted ingests
    /// of dead processes are rolled back first.
    ///
    /// The catalog must exist: only [`Librarian::init`] creates one. A configuration
    /// whose `database` names a missing file is [`Error::NotFound`] naming the path
    /// (a typo or an unmounted disk must not turn into an empty site).
    pub fn open(config_path: &Path) -> Result<Self> {
        Self::open_creating(config_path, false)
    }

    fn open_creating(config_path: &Path, create: bool) -> Result<Self> {
        let config_path = absolute(config_path)?;
        let config = Config::load(&config_path)?;
        let database = config.database_path(&config_path);
        if !create && !database.exists() {
            return Err(Error::NotFound {
                kind: ObjectKind::Path,
                name: format!(
                    "{} (the catalog named by {}; only `librarian init` creates one)",
                    database.display(),
                    config_path.display()
                ),
            });
        }
        let catalog = Catalog::open(&database)?;
        let lib = Librarian { config, config_path, catalog };
        lib.recover_interrupted();
        Ok(lib)
    }

    /// Open the site found by the usual rule: `explicit`, else `$LIBRARIAN_CONFIG`,
    /// else `./librarian.toml`.
    pub fn open_default(explicit: Option<&Path>) -> Result<Self> {
        Self::open(&config::locate(explicit))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The catalog (for embedding tools that need lower-level access).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Add a store; its directories are created, and must be on one filesystem.
    pub fn add_store(&self, spec: &StoreSpec) -> Result<StoreStatus> {
        config::validate_store_name(&spec.name)?;
        let root = absolute(&spec.root)?;
        let staging = absolute(&spec.staging_or_default())?;
        apart(&resolved(&root), &resolved(&staging))?;
        if self.catalog.store(&spec.name).is_ok() {
            return Err(Error::AlreadyExists { kind: ObjectKind::Store, name: spec.name.clone() });
        }
        PosixStore::new(&spec.name, &root, &staging).prepare()?;
        let root = std::fs::canonicalize(&root).map_err(|e| Error::io("cannot resolve", &root, e))?;
        let staging = std::fs::canonicalize(&staging).map_err(|e| Error::io("cannot resolve", &staging, e))?;
        // Again on the real paths (a dangling symlink may only now resolve).
        apart(&root, &staging)?;
        let row = self.catalog.insert_store(
            &spec.name,
            &root,
            &staging,
            spec.ingestable,
            spec.reserve_bytes,
            Timestamp::now(),
        )?;
        self.store_status(row)
    }

    /// All stores with their usage.
    pub fn stores(&self) -> Result<Vec<StoreStatus>> {
        let usage = self.catalog.store_usage()?;
        self.catalog
            .stores()?
            .into_iter()
            .map(|row| {
                let u = usage.get(&row.id).copied().unwrap_or_default();
                Ok(status_of(row, u))
            })
            .collect()
    }

    fn store_status(&self, row: StoreRow) -> Result<StoreStatus> {
        let u = self.catalog.store_usage()?.get(&row.id).copied().unwrap_or_default();
        Ok(status_of(row, u))
    }

    /// Enable or disable a store.
    pub fn set_store_enabled(&self, name: &str, enabled: bool) -> Result<StoreStatus> {
        let row = self.catalog.set_store_enabled(name, enabled)?;
        self.store_status(row)
    }

    /// Forget store `name`. Refused while it holds available instances or active
    /// transfers; leaves its directories as they are (wipe a drive by hand).
    pub fn remove_store(&self, name: &str) -> Result<()> {
        self.catalog.remove_store(name)
    }

    /// Recycle store `name` (a drive whose copies have all been delivered): delete
    /// the data of its unavailable instances and the drive's manifest files, and
    /// enable it again for the next round. The instance rows stay, unavailable: they
    /// record what the drive carried, so a later fill does not copy those files again.
    /// Refused while it holds available instances or active transfers. Returns how
    /// many copies were deleted.
    pub fn recycle_store(&self, name: &str) -> Result<usize> {
        let row = self.catalog.store(name)?;
        let paths = self.catalog.retired_instances(name)?;
        for p in &paths {
            // Only what the catalog put there, inside the store's data area.
            if !p.starts_with(&row.root) {
                continue;
            }
            crate::transfers::manager::clear_destination(p)?;
        }
        for f in [
            crate::sneakernet::manifest::MANIFEST,
            crate::sneakernet::manifest::MANIFEST_DIGEST,
            crate::sneakernet::manifest::B3SUMS,
            crate::sneakernet::manifest::SHA256SUMS,
        ] {
            let _ = std::fs::remove_file(row.root.join(f));
        }
        self.catalog.finish_recycle(name)?;
        Ok(paths.len())
    }

    /// Ingest the file or book at `src` under `name`. See [`UploadOptions`].
    pub fn upload(&self, src: &Path, name: &FileName, opts: &UploadOptions, progress: &dyn Progress) -> Result<Upload> {
        ingest::upload(self, src, name, opts, progress)
    }

    /// The file `name` with its instances and remote instances.
    pub fn file(&self, name: &FileName) -> Result<File> {
        let row = self.catalog.require_file(name)?;
        let inst = self.catalog.instances(row.id)?;
        let remote = self.catalog.remote_instances(row.id)?;
        Ok(File::from_rows(row, inst, remote))
    }

    /// Files matching `query`, by name.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<File>> {
        self.catalog
            .search(query)?
            .into_iter()
            .map(|row| {
                let inst = self.catalog.instances(row.id)?;
                let remote = self.catalog.remote_instances(row.id)?;
                Ok(File::from_rows(row, inst, remote))
            })
            .collect()
    }

    /// Local copies of `name`.
    pub fn instances(&self, name: &FileName) -> Result<Vec<Instance>> {
        let row = self.catalog.require_file(name)?;
        Ok(self.catalog.instances(row.id)?.into_iter().map(Instance::from).collect())
    }

    /// Copies of `name` at other Librarians.
    pub fn remote_instances(&self, name: &FileName) -> Result<Vec<RemoteInstance>> {
        let row = self.catalog.require_file(name)?;
        Ok(self.catalog.remote_instances(row.id)?.into_iter().map(RemoteInstance::from).collect())
    }

    /// Re-read and re-hash instances: of `names` (all when empty), on `store` (all
    /// when `None`). The report lists every instance; use
    /// [`VerifyReport::into_result`] to turn problems into an error.
    pub fn verify(&self, names: &[FileName], store: Option<&str>, progress: &dyn Progress) -> Result<VerifyReport> {
        crate::verify::verify(self, names, store, progress)
    }

    /// The site at a glance.
    pub fn status(&self) -> Result<SiteStatus> {
        let stores = self.stores()?;
        let (files, bytes) = self.catalog.totals()?;
        Ok(SiteStatus {
            site: self.config.name.clone(),
            database: self.catalog.path().to_owned(),
            schema_version: self.catalog.schema_version()?,
            files,
            bytes,
            ingests_in_progress: self.catalog.intents()?.len(),
            stores,
        })
    }

    /// Roll back interrupted ingests of dead processes and remove stale staging
    /// directories on every store. Returns the staging directories removed.
    pub fn cleanup_staging(&self) -> Result<Vec<PathBuf>> {
        self.recover_interrupted();
        let mut open: Vec<PathBuf> = self.catalog.intents()?.into_iter().map(|i| i.staging_dir).collect();
        // Incoming transfers' staging directories stay while the transfer is active.
        open.extend(self.catalog.active_incoming_dirs()?);
        let mut removed = Vec::new();
        for row in self.catalog.stores()? {
            let store = PosixStore::new(&row.name, &row.root, &row.staging);
            removed.extend(store.clean_staging(&|p| open.iter().any(|o| o == p))?);
        }
        Ok(removed)
    }

    pub(crate) fn choose_store(
        &self,
        requested: Option<&str>,
        needed: u64,
        move_from: Option<&Path>,
    ) -> Result<(StoreRow, PosixStore)> {
        ingest::choose_store(self.catalog.stores()?, requested, needed, move_from)
    }

    fn recover_interrupted(&self) {
        let intents = match self.catalog.intents() {
            Ok(i) => i,
            Err(e) => {
                log::warn!("cannot list interrupted ingests: {e}");
                return;
            }
        };
        for intent in intents {
            if crate::store::staging::is_live(&intent.staging_dir, std::time::Duration::ZERO) {
                continue;
            }
            if let Err(e) = ingest::recover_intent(self, &intent) {
                log::warn!("cannot roll back interrupted ingest of {}: {e}", intent.name);
            }
        }
    }
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
