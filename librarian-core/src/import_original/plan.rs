//! Build the import plan from the original's rows: map every row to ours, or say
//! why it cannot be.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;

use super::{ImportOriginalOptions, pairs};
use crate::catalog::original::{OriginalCatalog, OriginalIncoming, OriginalInstance, OriginalOutgoing};
use crate::catalog::{
    ImportAccount, ImportEvent, ImportFile, ImportInstance, ImportPeer, ImportPlan, ImportRemote, ImportStore,
    ImportTransfer,
};
use crate::checksum::Checksum;
use crate::error::{Error, Result};
use crate::model::{
    Category, Direction, FileKind, InFlight, InFlightAction, InstanceState, Level, LevelMapping, ManagerKind,
    OriginalImportReport, PickleValue, PrefixMap, Severity, SkippedRow, TransferStatus, decrypt_authenticator,
    map_level, map_policy, map_status, normalise_url, original_peer_url, parse_original_time, read_plain_pickle,
};
use crate::name::{FileName, validate_site_name, validate_store_name};
use crate::progress::Progress;
use crate::site::Site;

/// The plan and the report so far (tallies are filled by the catalog).
#[derive(Debug)]
pub(super) struct Built {
    pub(super) plan: ImportPlan,
    pub(super) report: OriginalImportReport,
}

/// What the original's server config tells the import.
#[derive(Debug, Default)]
struct OriginalConfig {
    name: Option<String>,
    key: Option<String>,
    /// `add_stores[]`: store name → (store_path, staging_path).
    stores: HashMap<String, (Option<String>, Option<String>)>,
}

fn read_config(path: &Path) -> Result<OriginalConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read the original's config", path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::invalid("--original-config", format!("{} is not the original's JSON config: {e}", path.display()))
    })?;
    let s = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let mut cfg = OriginalConfig { name: s(&json, "name"), key: s(&json, "encryption_key"), ..Default::default() };
    if cfg.key.is_none()
        && let Some(file) = s(&json, "encryption_key_file")
    {
        let mut p = PathBuf::from(&file);
        if p.is_relative()
            && let Some(dir) = path.parent()
        {
            p = dir.join(p);
        }
        let key = std::fs::read_to_string(&p).map_err(|e| Error::io("cannot read the encryption_key_file", &p, e))?;
        cfg.key = Some(key.trim().to_owned());
    }
    if let Some(stores) = json.get("add_stores").and_then(|v| v.as_array()) {
        for st in stores {
            if let Some(name) = s(st, "store_name") {
                let data = st.get("store_data").cloned().unwrap_or_default();
                cfg.stores.insert(name, (s(&data, "store_path"), s(&data, "staging_path")));
            }
        }
    }
    Ok(cfg)
}

/// A store of the original, mapped.
#[derive(Debug)]
struct MappedStore {
    /// Index in the plan's stores.
    index: usize,
    name: String,
    /// Its root as the original wrote it (instance paths start with it).
    original_root: PathBuf,
    /// That root mapped (lexically): instance paths mapped start with it.
    mapped_root: PathBuf,
    /// The root as catalogued here (canonical when it exists).
    root: PathBuf,
}

struct Builder<'a> {
    opts: &'a ImportOriginalOptions,
    map: &'a PrefixMap,
    site_name: String,
    plan: ImportPlan,
    report: OriginalImportReport,
    stores: HashMap<i64, MappedStore>,
    peers: HashMap<i64, String>,
    peer_names: HashSet<String>,
    files: HashMap<String, usize>,
    /// Original instance id → (file index, store id, absolute path here).
    instances: HashMap<i64, (usize, i64, PathBuf)>,
}

/// Read the source and build the plan.
pub(super) fn build(
    site: &Site,
    original: &mut OriginalCatalog,
    opts: &ImportOriginalOptions,
    map: &PrefixMap,
    progress: &dyn Progress,
) -> Result<Built> {
    let config = match &opts.original_config {
        Some(p) => read_config(p)?,
        None => OriginalConfig::default(),
    };
    let key = config.key.clone().or_else(|| std::env::var("LIBRARIAN_SERVER_ENCRYPTION_KEY").ok());
    let site_name = config.name.clone().unwrap_or_else(|| site.config().name.clone());
    let report = OriginalImportReport {
        source: original.source().to_owned(),
        alembic_version: original.alembic_version().to_owned(),
        original_site: config.name.clone(),
        dry_run: opts.dry_run,
        source_rows: original.counts()?,
        added: Default::default(),
        present: Default::default(),
        instance_states: BTreeMap::new(),
        skipped: Vec::new(),
        in_flight: Vec::new(),
        not_carried: Vec::new(),
        notes: Vec::new(),
        conflicts: Vec::new(),
    };
    let mut b = Builder {
        opts,
        map,
        site_name,
        plan: ImportPlan::default(),
        report,
        stores: HashMap::new(),
        peers: HashMap::new(),
        peer_names: HashSet::new(),
        files: HashMap::new(),
        instances: HashMap::new(),
    };
    if let Some(name) = &config.name
        && *name != site.config().name
    {
        b.note(format!(
            "the original site was named {name:?} and this one is {:?}: its peers know it by the old name \
             (their accounts, remote instances and drive manifests say {name:?})",
            site.config().name
        ));
    }
    b.stores(original, &config)?;
    b.peers(original, key.as_deref())?;
    b.accounts(original)?;
    b.files(original)?;
    let outgoing = original.outgoing()?;
    let drive_copies: HashMap<i64, &OriginalOutgoing> =
        outgoing.iter().filter(|o| is_drive_copy(o)).filter_map(|o| o.instance_id.map(|i| (i, o))).collect();
    let corrupt = b.corrupt_records(original)?;
    b.instances(original, &drive_copies, &corrupt)?;
    b.books(progress)?;
    b.remotes(original)?;
    b.outgoing(&outgoing)?;
    b.incoming(original)?;
    b.errors(original)?;
    b.not_carried();
    Ok(Built { plan: b.plan, report: b.report })
}

/// A copy onto a SneakerNet drive: the original's manifest endpoint makes these
/// `ONGOING` with no send queue and no remote transfer (a network transfer has a
/// queue before it is ongoing).
fn is_drive_copy(o: &OriginalOutgoing) -> bool {
    map_status(&o.status) == Some(TransferStatus::Ongoing)
        && o.send_queue_id.is_none()
        && o.remote_transfer_id.is_none()
}

fn in_flight(s: TransferStatus) -> bool {
    matches!(s, TransferStatus::Initiated | TransferStatus::Ongoing | TransferStatus::Staged)
}

/// What an instance's state depends on, of its file.
#[derive(Debug)]
struct FileFacts {
    name: FileName,
    size: u64,
    checksum: Checksum,
    original: String,
}

/// Text of the source as the report shows it: hazardous characters escaped, cut.
fn shown(text: &str) -> String {
    crate::text::clean_free_text(text, crate::text::MAX_REASON_CHARS)
}

/// `rel` is a plain relative path (no `..`, not empty, no root).
fn plain_relative(rel: &Path) -> bool {
    !rel.as_os_str().is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)))
}

impl Builder<'_> {
    // What the report says quotes the source's text (names, paths, statuses): a
    // catalog is input like any other, so it reaches the terminal escaped and cut.
    fn note(&mut self, text: String) {
        self.report.notes.push(shown(&text));
    }

    fn skip(&mut self, table: &str, row: impl Into<String>, reason: impl Into<String>) {
        let (row, reason) = (row.into(), reason.into());
        self.report.skipped.push(SkippedRow { table: table.to_owned(), row: shown(&row), reason: shown(&reason) });
    }

    fn flight(&mut self, f: InFlight) {
        let InFlight { direction, original_id, file, party, status, action, detail } = f;
        self.report.in_flight.push(InFlight {
            direction,
            original_id,
            file: shown(&file),
            party: shown(&party),
            status: shown(&status),
            action,
            detail: shown(&detail),
        });
    }

    fn key(&self, dir: &str, id: i64) -> String {
        format!("original:{}:{dir}:{id}", self.site_name)
    }

    fn stores(&mut self, original: &mut OriginalCatalog, config: &OriginalConfig) -> Result<()> {
        let roots: HashMap<String, String> = pairs("--store-root", &self.opts.store_roots)?.into_iter().collect();
        let stagings: HashMap<String, String> =
            pairs("--store-staging", &self.opts.store_staging)?.into_iter().collect();
        let available = original.available_per_store()?;
        for s in original.stores()? {
            if let Err(e) = validate_store_name(&s.name) {
                self.skip("store_metadata", &s.name, e.to_string());
                continue;
            }
            if s.store_type != 1 {
                self.skip(
                    "store_metadata",
                    &s.name,
                    format!("store type {} (only local stores, type 1, hold data on disk)", s.store_type),
                );
                continue;
            }
            let pickled = match &s.store_data {
                Some(bytes) => match read_plain_pickle(bytes) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.note(format!("store {}: its store_data is not read ({e}); using the config", s.name));
                        None
                    }
                },
                None => None,
            };
            let from_pickle = |k: &str| pickled.as_ref().and_then(|v| v.get(k)).and_then(PickleValue::as_str);
            let from_config = config.stores.get(&s.name);
            let original_root = from_pickle("store_path")
                .map(str::to_owned)
                .or_else(|| from_config.and_then(|c| c.0.clone()))
                .map(PathBuf::from);
            let original_staging = from_pickle("staging_path")
                .map(str::to_owned)
                .or_else(|| from_config.and_then(|c| c.1.clone()))
                .map(PathBuf::from);
            let full_fraction = match pickled.as_ref().and_then(|v| v.get("report_full_fraction")) {
                Some(PickleValue::Float(f)) if *f > 0.0 && *f < 1.0 => Some(*f),
                _ => None,
            };
            let Some(original_root) = original_root else {
                self.skip("store_metadata", &s.name, "no store_path (neither pickled nor in --original-config)");
                continue;
            };
            let mapped_root = self.map.map(&original_root);
            let root = roots.get(&s.name).map(PathBuf::from).unwrap_or_else(|| mapped_root.clone());
            let staging = match (stagings.get(&s.name), &original_staging) {
                (Some(d), _) => PathBuf::from(d),
                (None, Some(p)) => self.map.map(p),
                (None, None) => root.with_file_name(format!("{}-staging", s.name)),
            };
            if !root.is_absolute() || !staging.is_absolute() {
                return Err(Error::invalid(
                    "--store-root",
                    format!("store {}: its root and staging must be absolute paths", s.name),
                ));
            }
            let holds = available.get(&s.id).copied().unwrap_or(0);
            let root = if root.is_dir() {
                std::fs::canonicalize(&root).map_err(|e| Error::io("cannot resolve", &root, e))?
            } else if holds > 0 {
                return Err(Error::invalid(
                    "--map-prefix",
                    format!(
                        "store {} has {holds} available copies under {} (the original's {}), which is not a \
                         directory here: give --map-prefix OLD=NEW or --store-root {}=DIR",
                        s.name,
                        root.display(),
                        original_root.display(),
                        s.name
                    ),
                ));
            } else {
                self.note(format!(
                    "store {}: its root {} is not here and it holds no available copy (a drive shipped away?): \
                     imported as it is, disabled",
                    s.name,
                    root.display()
                ));
                root
            };
            // The original warned when a store was fuller than report_full_fraction;
            // here an ingest that would leave less than reserve_bytes free is refused:
            // the same fraction of the filesystem, in bytes.
            let reserve_bytes = match full_fraction {
                Some(f) if root.is_dir() => {
                    let total = crate::store::posix::total_bytes_at(&root)?;
                    let reserve = ((1.0 - f) * total as f64).ceil() as u64;
                    self.note(format!(
                        "store {}: report_full_fraction {f} became reserve_bytes {reserve} ({:.2}% of its \
                         filesystem's {total} bytes)",
                        s.name,
                        (1.0 - f) * 100.0
                    ));
                    reserve
                }
                _ => 0,
            };
            let index = self.plan.stores.len();
            let enabled = s.enabled && root.is_dir();
            self.plan.stores.push(ImportStore {
                name: s.name.clone(),
                root: root.clone(),
                staging,
                ingestable: s.ingestable,
                enabled,
                reserve_bytes,
            });
            self.stores.insert(s.id, MappedStore { index, name: s.name, original_root, mapped_root, root });
        }
        self.report.not_carried.push((
            "store transfer-manager settings (configure [clone] managers in librarian.toml)".into(),
            self.plan.stores.len() as u64,
        ));
        Ok(())
    }

    fn peers(&mut self, original: &mut OriginalCatalog, key: Option<&str>) -> Result<()> {
        let urls: HashMap<String, String> = pairs("--peer-url", &self.opts.peer_urls)?.into_iter().collect();
        for l in original.librarians()? {
            if let Err(e) = validate_site_name(&l.name) {
                self.skip("librarians", &l.name, e.to_string());
                continue;
            }
            let url = match urls.get(&l.name) {
                Some(u) => u.clone(),
                None => original_peer_url(&l.url, l.port)?,
            };
            let url = normalise_url(&url).map_err(|e| {
                Error::invalid("--peer-url", format!("peer {}: {e}; give --peer-url {}=URL", l.name, l.name))
            })?;
            let Some(key) = key else {
                return Err(Error::invalid(
                    "--original-config",
                    format!(
                        "peer {} has credentials encrypted with the original's encryption_key: give \
                         --original-config (its server config) or set LIBRARIAN_SERVER_ENCRYPTION_KEY",
                        l.name
                    ),
                ));
            };
            let (account, password) = decrypt_authenticator(key, &l.authenticator)
                .map_err(|e| Error::invalid("--original-config", format!("peer {}: {e}", l.name)))?;
            self.peers.insert(l.id, l.name.clone());
            self.peer_names.insert(l.name.clone());
            self.plan.peers.push(ImportPeer {
                name: l.name,
                url,
                account,
                password,
                transfers_enabled: l.transfers_enabled,
            });
        }
        Ok(())
    }

    fn accounts(&mut self, original: &mut OriginalCatalog) -> Result<()> {
        for u in original.users()? {
            if let Err(e) = validate_site_name(&u.name) {
                self.skip("users", &u.name, format!("not a valid account name here: {e}"));
                continue;
            }
            if !u.hash.starts_with("$argon2") {
                self.skip("users", &u.name, "its password hash is not argon2 (the only kind this site verifies)");
                continue;
            }
            let is_peer = self.peer_names.contains(&u.name);
            let (level, peer) = match map_level(&u.level, is_peer) {
                Some(LevelMapping::Level(Level::Callback)) => (Level::Callback, Some(u.name.clone())),
                Some(LevelMapping::Level(Level::ReadAppend)) if is_peer => (Level::ReadAppend, Some(u.name.clone())),
                Some(LevelMapping::Level(l)) => (l, None),
                Some(LevelMapping::CallbackWithoutPeer) => {
                    self.note(format!(
                        "user {}: CALLBACK with no peer of that name, imported read-only (a callback account \
                         belongs to a peer here)",
                        u.name
                    ));
                    (Level::ReadOnly, None)
                }
                Some(LevelMapping::NotImported) => {
                    self.skip("users", &u.name, "level NONE (it could only ping)");
                    continue;
                }
                None => {
                    self.skip("users", &u.name, format!("unknown level {:?}", u.level));
                    continue;
                }
            };
            self.plan.accounts.push(ImportAccount { name: u.name, hash: u.hash, level, peer });
        }
        Ok(())
    }

    fn files(&mut self, original: &mut OriginalCatalog) -> Result<()> {
        let mut skipped = Vec::new();
        let mut strict = 0u64;
        let mut files = Vec::new();
        original.files(&mut |f| {
            let name = match FileName::from_catalog(&f.name) {
                Ok(n) => n,
                Err(e) => {
                    skipped.push((f.name, e.to_string()));
                    return Ok(());
                }
            };
            if FileName::new(&f.name).is_err() {
                strict += 1;
            }
            let checksum = match Checksum::parse(&f.checksum) {
                Ok(c) => c,
                Err(e) => {
                    skipped.push((f.name, format!("checksum {:?}: {e}", f.checksum)));
                    return Ok(());
                }
            };
            let (Ok(size), Ok(created_at)) = (u64::try_from(f.size), parse_original_time(&f.create_time)) else {
                skipped.push((f.name, format!("size {} or time {:?} does not read", f.size, f.create_time)));
                return Ok(());
            };
            files.push(ImportFile {
                name,
                size,
                checksum,
                original_checksum: f.checksum,
                kind: FileKind::File,
                uploader: f.uploader,
                source: f.source,
                created_at,
                entries: Vec::new(),
                blake3: None,
            });
            Ok(())
        })?;
        for (name, why) in skipped {
            self.skip("files", name, why);
        }
        if strict > 0 {
            self.note(format!(
                "{strict} file names would be refused for a new file here (look-alike or invisible characters); \
                 they are imported as they are"
            ));
        }
        if files.iter().any(|f| f.source == f.uploader) {
            self.note(
                "files.source: for uploads the original recorded the uploading user, not a site; kept as it was".into(),
            );
        }
        // A name inside another (`a` and `a/b`): storing `a/b` would write inside the
        // book `a`. Sorted, a name comes after every name that is a prefix of it, so
        // each of its `/`-prefixes is looked up among the names kept so far.
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut kept: Vec<ImportFile> = Vec::with_capacity(files.len());
        for f in files {
            let name = f.name.as_str();
            let parent = name.match_indices('/').map(|(i, _)| &name[..i]).find(|p| self.files.contains_key(*p));
            if let Some(parent) = parent {
                let why = format!("it lies inside {parent}, also a file");
                self.skip("files", name, why);
                continue;
            }
            self.files.insert(name.to_owned(), kept.len());
            kept.push(f);
        }
        self.plan.files = kept;
        Ok(())
    }

    fn corrupt_records(
        &mut self,
        original: &mut OriginalCatalog,
    ) -> Result<HashMap<i64, crate::catalog::original::OriginalCorrupt>> {
        let mut out = HashMap::new();
        for c in original.corrupt_files()? {
            out.insert(c.instance_id, c);
        }
        Ok(out)
    }

    fn instances(
        &mut self,
        original: &mut OriginalCatalog,
        drive_copies: &HashMap<i64, &OriginalOutgoing>,
        corrupt: &HashMap<i64, crate::catalog::original::OriginalCorrupt>,
    ) -> Result<()> {
        let mut rows: Vec<OriginalInstance> = Vec::new();
        original.instances(&mut |i| {
            rows.push(i);
            Ok(())
        })?;
        let mut missing = 0u64;
        for i in rows {
            let (Some(file_name), Some(store_id)) = (i.file_name.clone(), i.store_id) else {
                self.skip("instances", i.id.to_string(), "no file or no store");
                continue;
            };
            let Some(&file) = self.files.get(&file_name) else {
                self.skip("instances", i.id.to_string(), format!("its file {file_name:?} was not imported"));
                continue;
            };
            let Some(store) = self.stores.get(&store_id) else {
                self.skip("instances", i.id.to_string(), format!("its store {store_id} was not imported"));
                continue;
            };
            let mapped = self.map.map(Path::new(&i.path));
            let rel = match mapped.strip_prefix(&store.mapped_root) {
                Ok(r) if plain_relative(r) => r.to_owned(),
                _ => {
                    let why = format!("{} is not below its store's root {}", i.path, store.original_root.display());
                    self.skip("instances", i.id.to_string(), why);
                    continue;
                }
            };
            let (Some(policy), Ok(created_at)) = (map_policy(&i.deletion_policy), parse_original_time(&i.created_time))
            else {
                let why = format!("deletion policy {:?} or time {:?} does not read", i.deletion_policy, i.created_time);
                self.skip("instances", i.id.to_string(), why);
                continue;
            };
            let abs = store.root.join(&rel);
            let (store_index, store_name) = (store.index, store.name.clone());
            let f = {
                let f = &self.plan.files[file];
                FileFacts {
                    name: f.name.clone(),
                    size: f.size,
                    checksum: f.checksum.clone(),
                    original: f.original_checksum.clone(),
                }
            };
            let calculated = i.calculated_checksum.as_deref().map(Checksum::parse);
            let calculated_matches = matches!(&calculated, Some(Ok(c)) if *c == f.checksum);
            let mut verified_at = None;
            let mut event = None;
            let (state, reason) = if !i.available {
                match drive_copies.get(&i.id) {
                    Some(o) => (
                        InstanceState::Retired,
                        Some(format!(
                            "a drive copy on its way to {} (transfer {}; unavailable in the original Librarian)",
                            o.destination, o.id
                        )),
                    ),
                    None => (
                        InstanceState::Deleted,
                        Some("unavailable in the original Librarian (deleted, or marked unavailable)".to_owned()),
                    ),
                }
            } else if let Some(c) = corrupt.get(&i.id) {
                let at = parse_original_time(&c.corrupt_time).unwrap_or(created_at);
                let reason = format!(
                    "found corrupt {} times by the original Librarian, last {at}: read {} ({} bytes), expected {}",
                    c.count, c.checksum, c.size, f.original
                );
                event = Some(ImportEvent {
                    severity: Severity::Error,
                    category: Category::InstanceCorrupt,
                    subject: format!("{store_name}/{}", f.name),
                    message: format!(
                        "{} on store {store_name} is corrupt: {reason}; it is no longer used (`librarian repair {}`)",
                        f.name, f.name
                    ),
                    count: u64::try_from(c.count).unwrap_or(1),
                    at,
                });
                (InstanceState::Corrupt, Some(reason))
            } else {
                match std::fs::symlink_metadata(&abs) {
                    Err(e) => {
                        missing += 1;
                        let why = if e.kind() == std::io::ErrorKind::NotFound {
                            "not found".to_owned()
                        } else {
                            e.to_string()
                        };
                        (
                            InstanceState::Missing,
                            Some(format!("{why} at import (the original Librarian listed it at {})", i.path)),
                        )
                    }
                    Ok(m) if m.is_dir() => {
                        self.plan.files[file].kind = FileKind::Directory;
                        (InstanceState::Ok, None)
                    }
                    Ok(m) if m.is_file() && m.len() != f.size => (
                        InstanceState::Corrupt,
                        Some(format!("{} bytes on disk at import, {} catalogued", m.len(), f.size)),
                    ),
                    Ok(m) if m.is_file() => (InstanceState::Ok, None),
                    Ok(_) => (
                        InstanceState::Corrupt,
                        Some("not a regular file or directory at import (a link or a special file)".to_owned()),
                    ),
                }
            };
            if state == InstanceState::Ok {
                if let Some(Ok(c)) = &calculated
                    && !calculated_matches
                {
                    self.note(format!(
                        "instance {} of {}: the original's last check computed {c}; left ok here (`librarian \
                         verify` will say)",
                        i.id, f.name
                    ));
                }
                if calculated_matches {
                    verified_at = i.checksum_time.as_deref().and_then(|t| parse_original_time(t).ok());
                }
            }
            self.instances.insert(i.id, (file, store_id, abs));
            self.plan.instances.push(ImportInstance {
                file,
                store: store_index,
                rel,
                policy,
                created_at,
                verified_at,
                state,
                reason,
                event,
            });
        }
        if missing > 0 {
            self.plan.events.push(ImportEvent {
                severity: Severity::Error,
                category: Category::NeedsAttention,
                subject: format!("import-original/{}", self.site_name),
                message: format!(
                    "{missing} copies listed available by the original Librarian were not found at import \
                     (`librarian verify` lists them; a wrong --map-prefix?)"
                ),
                count: 1,
                at: Timestamp::now(),
            });
        }
        Ok(())
    }

    /// List and hash each book's entries from its first good copy.
    fn books(&mut self, progress: &dyn Progress) -> Result<()> {
        let mut by_file: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, i) in self.plan.instances.iter().enumerate() {
            if i.state == InstanceState::Ok && self.plan.files[i.file].kind == FileKind::Directory {
                by_file.entry(i.file).or_default().push(k);
            }
        }
        let mut order: Vec<_> = by_file.into_iter().collect();
        order.sort();
        for (file, copies) in order {
            let mut listed = false;
            for k in copies {
                let inst = &self.plan.instances[k];
                let path = self.plan.stores[inst.store].root.join(&inst.rel);
                let checksum = self.plan.files[file].checksum.clone();
                let outcome = crate::tree::walk(&path).and_then(|mut entries| {
                    let sum = crate::tree::hash_book(&path, &mut entries, checksum.algorithm(), progress)?;
                    Ok((entries, sum))
                });
                let bad = match outcome {
                    Ok((entries, sum)) if sum == checksum && !listed => {
                        let f = &mut self.plan.files[file];
                        f.size = crate::tree::total_size(&entries);
                        f.entries = entries;
                        listed = true;
                        None
                    }
                    Ok((_, sum)) if sum == checksum => None,
                    Ok((_, sum)) => Some(format!("its entries hash to {sum} at import, {checksum} catalogued")),
                    Err(e) => Some(format!("cannot be read at import: {e}")),
                };
                if let Some(why) = bad {
                    let inst = &mut self.plan.instances[k];
                    inst.state = InstanceState::Corrupt;
                    inst.reason = Some(why);
                    inst.verified_at = None;
                }
            }
            if !listed {
                let name = self.plan.files[file].name.to_string();
                self.note(format!("book {name}: no intact copy at import, so its entries are not listed"));
            }
        }
        Ok(())
    }

    fn remotes(&mut self, original: &mut OriginalCatalog) -> Result<()> {
        let mut names: HashMap<(String, i64), String> = HashMap::new();
        for (k, v) in pairs("--remote-store", &self.opts.remote_stores)? {
            let (peer, id) = k
                .rsplit_once(':')
                .and_then(|(p, i)| i.parse::<i64>().ok().map(|i| (p.to_owned(), i)))
                .ok_or_else(|| Error::invalid("--remote-store", format!("{k:?} is not PEER:ID")))?;
            validate_store_name(&v)?;
            names.insert((peer, id), v);
        }
        let mut rows = Vec::new();
        original.remote_instances(&mut |r| {
            rows.push(r);
            Ok(())
        })?;
        let mut invented = std::collections::BTreeSet::new();
        for r in rows {
            let Some(peer) = self.peers.get(&r.librarian_id).cloned() else {
                self.skip(
                    "remote_instances",
                    r.id.to_string(),
                    format!("its librarian {} was not imported", r.librarian_id),
                );
                continue;
            };
            let Some(&file) = self.files.get(&r.file_name) else {
                self.skip("remote_instances", r.id.to_string(), format!("its file {:?} was not imported", r.file_name));
                continue;
            };
            let Ok(copied_at) = parse_original_time(&r.copy_time) else {
                self.skip("remote_instances", r.id.to_string(), format!("time {:?} does not read", r.copy_time));
                continue;
            };
            let store = match names.get(&(peer.clone(), r.store_id)) {
                Some(n) => n.clone(),
                None => {
                    invented.insert((peer.clone(), r.store_id));
                    format!("original-store-{}", r.store_id)
                }
            };
            self.plan.remotes.push(ImportRemote { file, librarian: peer, store, copied_at });
        }
        for (peer, id) in invented {
            self.note(format!(
                "remote instances at {peer}: the original knows its store only as number {id}, recorded as \
                 original-store-{id} (give --remote-store {peer}:{id}=NAME)"
            ));
        }
        Ok(())
    }

    fn transfer_of(&self, file: usize) -> (String, u64, Checksum, FileKind, String, String, Option<Timestamp>) {
        let f = &self.plan.files[file];
        (
            f.name.to_string(),
            f.size,
            f.checksum.clone(),
            f.kind,
            f.uploader.clone(),
            f.source.clone(),
            Some(f.created_at),
        )
    }

    fn outgoing(&mut self, outgoing: &[OriginalOutgoing]) -> Result<()> {
        let mut active: HashSet<(String, String)> = HashSet::new();
        let mut failed_here = 0u64;
        // Kept ids first: an automatic id can then never take one.
        let mut ordered: Vec<&OriginalOutgoing> = outgoing.iter().filter(|o| is_drive_copy(o)).collect();
        ordered.extend(outgoing.iter().filter(|o| !is_drive_copy(o)));
        for o in ordered {
            let Some(status) = map_status(&o.status) else {
                self.skip("outgoing_transfers", o.id.to_string(), format!("unknown status {:?}", o.status));
                continue;
            };
            let inst = o.instance_id.and_then(|i| self.instances.get(&i)).cloned();
            let file = match (&o.file_name, &inst) {
                (Some(n), _) => self.files.get(n).copied(),
                (None, Some((f, _, _))) => Some(*f),
                (None, None) => None,
            };
            let Some(file) = file else {
                self.skip("outgoing_transfers", o.id.to_string(), "its file was not imported");
                continue;
            };
            if !self.peer_names.contains(&o.destination) {
                self.skip(
                    "outgoing_transfers",
                    o.id.to_string(),
                    format!("its destination {:?} is not an imported peer", o.destination),
                );
                continue;
            }
            let (file_name, size, checksum, kind, uploader, source, file_created_at) = self.transfer_of(file);
            let Ok(created_at) = parse_original_time(&o.start_time) else {
                self.skip("outgoing_transfers", o.id.to_string(), format!("time {:?} does not read", o.start_time));
                continue;
            };
            let updated_at = o.end_time.as_deref().and_then(|t| parse_original_time(t).ok()).unwrap_or(created_at);
            let store = inst.as_ref().and_then(|(_, sid, _)| self.stores.get(sid)).map(|s| s.index);
            let mut t = ImportTransfer {
                key: self.key("out", o.id),
                keep_id: None,
                direction: Direction::Outgoing,
                peer: o.destination.clone(),
                remote_id: o.remote_transfer_id,
                file_name: file_name.clone(),
                size,
                checksum,
                kind,
                uploader,
                source,
                file_created_at,
                status,
                manager: None,
                store,
                local_path: None,
                created_at,
                updated_at,
                error_code: None,
                error: None,
            };
            if in_flight(status) {
                let pair = (o.destination.clone(), file_name.clone());
                let resumable = is_drive_copy(o) && inst.is_some() && !active.contains(&pair);
                if resumable {
                    t.keep_id = Some(o.id);
                    t.manager = Some(ManagerKind::Sneakernet);
                    t.local_path = inst.as_ref().map(|(_, _, p)| p.to_string_lossy().into_owned());
                    active.insert(pair);
                    self.flight(InFlight {
                        direction: "outgoing".into(),
                        original_id: o.id,
                        file: file_name,
                        party: o.destination.clone(),
                        status: o.status.clone(),
                        action: InFlightAction::Resumed,
                        detail: "a SneakerNet drive copy: the receiver's import of the drive completes it here".into(),
                    });
                } else {
                    let why = format!(
                        "in flight in the original Librarian at import ({}, send queue {}, the peer's transfer {}); \
                         not resumable here; the file is left for the next clone round",
                        o.status,
                        o.send_queue_id.map_or("none".to_owned(), |q| q.to_string()),
                        o.remote_transfer_id.map_or("none".to_owned(), |q| q.to_string()),
                    );
                    t.status = TransferStatus::Failed;
                    t.error_code = Some("not_resumed".into());
                    t.error = Some(why.clone());
                    failed_here += 1;
                    self.flight(InFlight {
                        direction: "outgoing".into(),
                        original_id: o.id,
                        file: file_name,
                        party: o.destination.clone(),
                        status: o.status.clone(),
                        action: InFlightAction::Failed,
                        detail: why,
                    });
                }
            } else if matches!(status, TransferStatus::Failed | TransferStatus::Cancelled) {
                t.error_code = Some("original".into());
                t.error = Some(format!("{} in the original Librarian (it records no reason)", o.status));
            }
            self.plan.transfers.push(t);
        }
        self.summarise_failed(failed_here, "outgoing");
        Ok(())
    }

    fn summarise_failed(&mut self, n: u64, direction: &str) {
        if n == 0 {
            return;
        }
        self.plan.transfer_events.push(ImportEvent {
            severity: Severity::Warning,
            category: Category::NeedsAttention,
            subject: format!("import-original/{}/{direction}", self.site_name),
            message: format!(
                "{n} {direction} transfers in flight in the original Librarian were recorded as failed at import \
                 (`librarian transfers list --status failed`); their files go with the next clone round or a drive"
            ),
            count: 1,
            at: Timestamp::now(),
        });
    }

    fn incoming(&mut self, original: &mut OriginalCatalog) -> Result<()> {
        let rows: Vec<OriginalIncoming> = original.incoming()?;
        let mut uploads: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen_remote: HashSet<(String, i64)> = HashSet::new();
        let mut failed_here = 0u64;
        for i in rows {
            let Some(status) = map_status(&i.status) else {
                self.skip("incoming_transfers", i.id.to_string(), format!("unknown status {:?}", i.status));
                continue;
            };
            let staging = i.staging_path.clone().unwrap_or_default();
            let from_peer = i.source_transfer_id.is_some() && self.peer_names.contains(&i.source);
            if !from_peer {
                *uploads.entry(i.status.clone()).or_default() += 1;
                if in_flight(status) {
                    self.flight(InFlight {
                        direction: "upload".into(),
                        original_id: i.id,
                        file: i.upload_name.clone(),
                        party: i.uploader.clone(),
                        status: i.status.clone(),
                        action: InFlightAction::NotCarried,
                        detail: format!(
                            "an upload: this site keeps no upload history; upload it again. Its staging \
                             directory {staging:?} is left for `librarian cleanup`"
                        ),
                    });
                }
                continue;
            }
            let remote = i.source_transfer_id;
            if let Some(r) = remote
                && !seen_remote.insert((i.source.clone(), r))
            {
                self.skip(
                    "incoming_transfers",
                    i.id.to_string(),
                    format!("a second transfer of {}'s transfer {r}", i.source),
                );
                continue;
            }
            let (Ok(size), Ok(checksum), Ok(created_at)) =
                (u64::try_from(i.size), Checksum::parse(&i.checksum), parse_original_time(&i.start_time))
            else {
                self.skip("incoming_transfers", i.id.to_string(), "size, checksum or time does not read");
                continue;
            };
            let (kind, uploader, source, file_created_at) = match self.files.get(&i.upload_name) {
                Some(&f) => {
                    let f = &self.plan.files[f];
                    (f.kind, f.uploader.clone(), f.source.clone(), Some(f.created_at))
                }
                None => (FileKind::File, i.uploader.clone(), i.source.clone(), None),
            };
            let updated_at = i.end_time.as_deref().and_then(|t| parse_original_time(t).ok()).unwrap_or(created_at);
            let store = i.store_id.and_then(|s| self.stores.get(&s)).map(|s| s.index);
            let mut t = ImportTransfer {
                key: self.key("in", i.id),
                keep_id: None,
                direction: Direction::Incoming,
                peer: i.source.clone(),
                remote_id: remote,
                file_name: i.upload_name.clone(),
                size,
                checksum,
                kind,
                uploader,
                source,
                file_created_at,
                status,
                manager: None,
                store,
                local_path: None,
                created_at,
                updated_at,
                error_code: None,
                error: None,
            };
            if FileName::from_catalog(&i.upload_name).is_err() {
                self.skip(
                    "incoming_transfers",
                    i.id.to_string(),
                    format!("file name {:?} does not read", i.upload_name),
                );
                continue;
            }
            if in_flight(status) {
                let why = format!(
                    "in flight in the original Librarian at import ({}; staging directory {staging:?}, left for \
                     `librarian cleanup`); not resumable here; the sender sends it again",
                    i.status
                );
                t.status = TransferStatus::Failed;
                t.error_code = Some("not_resumed".into());
                t.error = Some(why.clone());
                failed_here += 1;
                self.flight(InFlight {
                    direction: "incoming".into(),
                    original_id: i.id,
                    file: i.upload_name.clone(),
                    party: i.source.clone(),
                    status: i.status.clone(),
                    action: InFlightAction::Failed,
                    detail: why,
                });
            } else if matches!(status, TransferStatus::Failed | TransferStatus::Cancelled) {
                t.error_code = Some("original".into());
                t.error = Some(format!("{} in the original Librarian (it records no reason)", i.status));
            }
            self.plan.transfers.push(t);
        }
        for (status, n) in uploads {
            self.report.not_carried.push((format!("uploads {status} (this site keeps no upload history)"), n));
        }
        self.summarise_failed(failed_here, "incoming");
        Ok(())
    }

    fn errors(&mut self, original: &mut OriginalCatalog) -> Result<()> {
        for e in original.open_errors()? {
            let at = parse_original_time(&e.raised_time).unwrap_or_else(|_| Timestamp::now());
            self.plan.events.push(ImportEvent {
                severity: Severity::Warning,
                category: Category::NeedsAttention,
                subject: format!("original-error/{}", e.id),
                message: format!(
                    "[{}/{}] {} (an open error of the original Librarian)",
                    e.severity, e.category, e.message
                ),
                count: 1,
                at,
            });
        }
        Ok(())
    }

    fn not_carried(&mut self) {
        let c = self.report.source_rows;
        for (what, n) in [
            ("clone_transfers (local store-to-store copies: their instances are imported)", c.clone_transfers),
            ("send_queue (the original's transfer-manager queue)", c.send_queue),
            ("completed_transfers (Globus transfer statistics)", c.completed_transfers),
        ] {
            if let Some(n) = n.filter(|n| *n > 0) {
                self.report.not_carried.push((what.to_owned(), n));
            }
        }
    }
}
