//! `librarian.Librarian`: one site. Every method is one core call made with the GIL
//! released (`py.detach`), then a conversion of its result.

use std::path::PathBuf;

use librarian_core::{
    Algorithm, Checksum, DeletionPolicy, Error, File, ImportOriginalOptions, Level, Librarian, NoProgress,
    ScrubOptions, SearchQuery, StoreSpec, TaskKind, UploadOptions,
};
use librarian_core::{Direction, TransferStatus};
use pyo3::prelude::*;

use crate::args::{self, Values};
use crate::errors::{self, OrRaise, to_py};
use crate::types::{
    PyAccount, PyDeletionReport, PyDeliveryReport, PyDriveReport, PyEvent, PyExportReport, PyFile, PyFileVerification,
    PyImportReport, PyInstance, PyLocalCloneReport, PyOriginalImportReport, PyOutboxCall, PyPeer, PyPlannedFile,
    PyRemoteInstance, PyRepairReport, PyRetrieved, PyScrubReport, PySendReport, PySiteStatus, PyStore, PyStoreCoverage,
    PyTaskOutcome, PyTransfer, PyUpload, PyVerifyReport,
};

/// A site's Librarian: its configuration and catalog.
#[pyclass(frozen, module = "librarian", name = "Librarian")]
#[derive(Debug)]
pub struct PyLibrarian {
    inner: Librarian,
}

#[pymethods]
impl PyLibrarian {
    /// Open the site whose configuration file is `config`; when `None`,
    /// `$LIBRARIAN_CONFIG`, else `/etc/librarian/librarian.toml`, else `./librarian.toml`.
    #[new]
    #[pyo3(signature = (config=None))]
    fn open(py: Python<'_>, config: Option<PathBuf>) -> PyResult<Self> {
        let inner = py.detach(|| Librarian::open_default(config.as_deref())).or_raise(py)?;
        Ok(PyLibrarian { inner })
    }

    /// Create a new site in `dir` (config, database and a store "main") and open it.
    #[staticmethod]
    #[pyo3(signature = (dir, name))]
    fn init(py: Python<'_>, dir: PathBuf, name: String) -> PyResult<Self> {
        let inner = py.detach(|| Librarian::init(&dir, &name)).or_raise(py)?;
        Ok(PyLibrarian { inner })
    }

    /// The site's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.config().name.clone()
    }

    /// The configuration file (absolute).
    #[getter]
    fn config_path(&self) -> PathBuf {
        self.inner.config_path().to_owned()
    }

    /// Ingest the file or directory ("book") at `src` under `name`. Returns the File,
    /// or with `report=True` an Upload saying whether new data was committed.
    #[pyo3(signature = (
        src, name, *, store=None, r#move=false, deletion_policy=String::from("disallowed"),
        expect_checksum=None, algorithm=None, uploader=None, report=false
    ))]
    #[pyo3(
        text_signature = "($self, src, name, *, store=None, move=False, deletion_policy='disallowed', expect_checksum=None, algorithm=None, uploader=None, report=False)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn upload(
        &self,
        py: Python<'_>,
        src: PathBuf,
        name: &Bound<'_, PyAny>,
        store: Option<String>,
        r#move: bool,
        deletion_policy: String,
        expect_checksum: Option<String>,
        algorithm: Option<String>,
        uploader: Option<String>,
        report: bool,
    ) -> PyResult<Py<PyAny>> {
        let name = args::file_name(py, name)?;
        let opts = UploadOptions {
            store,
            move_source: r#move,
            deletion_policy: deletion_policy.parse::<DeletionPolicy>().or_raise(py)?,
            expect_checksum: expect_checksum.as_deref().map(Checksum::parse).transpose().or_raise(py)?,
            algorithm: algorithm.as_deref().map(str::parse::<Algorithm>).transpose().or_raise(py)?,
            uploader,
            source: None,
            created_at: None,
        };
        let up = py.detach(|| self.inner.upload(&src, &name, &opts, &NoProgress)).or_raise(py)?;
        if report { Ok(Py::new(py, PyUpload(up))?.into_any()) } else { Ok(Py::new(py, PyFile(up.file))?.into_any()) }
    }

    /// The file `name` with its instances and remote instances.
    fn file(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<PyFile> {
        let name = args::file_name(py, name)?;
        py.detach(|| self.inner.file(&name)).or_raise(py).map(PyFile)
    }

    /// Files matching every filter given, ordered by name: at most `limit`, after the
    /// name `after` when given (the last name of the previous page).
    #[pyo3(signature = (name=None, since=None, until=None, uploader=None, source=None, limit=100, after=None))]
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        py: Python<'_>,
        name: Option<String>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        uploader: Option<String>,
        source: Option<String>,
        limit: i64,
        after: Option<String>,
    ) -> PyResult<Vec<PyFile>> {
        let query = SearchQuery {
            name_glob: name,
            since: args::instant(py, "since", since)?,
            until: args::instant(py, "until", until)?,
            uploader,
            source,
            limit: Some(args::count(py, "limit", limit)?),
            after,
        };
        let files = py.detach(|| self.inner.search(&query)).or_raise(py)?;
        Ok(files.into_iter().map(PyFile).collect())
    }

    /// Every file matching the filters, ordered by name, as an iterator that fetches
    /// `page_size` files at a time (keyset pagination: no match is skipped or repeated
    /// when files are catalogued meanwhile). The filters are checked now; the catalog
    /// is read as the iterator advances.
    #[pyo3(signature = (name=None, since=None, until=None, uploader=None, source=None, after=None, page_size=1000))]
    #[allow(clippy::too_many_arguments)]
    fn search_iter(
        slf: &Bound<'_, Self>,
        name: Option<String>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        uploader: Option<String>,
        source: Option<String>,
        after: Option<String>,
        page_size: i64,
    ) -> PyResult<PySearchIterator> {
        let py = slf.py();
        let page_size = args::count(py, "page_size", page_size)?;
        if page_size == 0 {
            return Err(to_py(py, Error::invalid("page_size", "page_size must be at least 1")));
        }
        let query = SearchQuery {
            name_glob: name,
            since: args::instant(py, "since", since)?,
            until: args::instant(py, "until", until)?,
            uploader,
            source,
            limit: Some(page_size),
            after,
        };
        Ok(PySearchIterator { lib: slf.clone().unbind(), query, page: Vec::new().into_iter(), done: false })
    }

    /// Local copies of `name`.
    fn instances(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Vec<PyInstance>> {
        let name = args::file_name(py, name)?;
        let found = py.detach(|| self.inner.instances(&name)).or_raise(py)?;
        Ok(found.into_iter().map(PyInstance).collect())
    }

    /// Copies of `name` known to exist at other Librarians.
    fn remote_instances(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Vec<PyRemoteInstance>> {
        let name = args::file_name(py, name)?;
        let found = py.detach(|| self.inner.remote_instances(&name)).or_raise(py)?;
        Ok(found.into_iter().map(PyRemoteInstance).collect())
    }

    /// Run each background task that is due, once (`only=None`), or the named tasks
    /// now whatever their schedule; the same as `librarian tasks run`. Tasks another
    /// run is executing are skipped (status "busy").
    #[pyo3(signature = (only=None))]
    fn run_tasks(&self, py: Python<'_>, only: Option<Vec<String>>) -> PyResult<Vec<PyTaskOutcome>> {
        let only = only
            .unwrap_or_default()
            .iter()
            .map(|t| t.parse::<TaskKind>())
            .collect::<Result<Vec<_>, _>>()
            .or_raise(py)?;
        let outcomes = py.detach(|| self.inner.run_tasks(&only)).or_raise(py)?;
        Ok(outcomes.into_iter().map(PyTaskOutcome).collect())
    }

    /// Re-read and re-hash the copies of `names` (every file when `None` or empty),
    /// on `store` (every store when `None`). A damaged copy raises `ChecksumMismatch`
    /// or `DataMissing` whose `report` is the whole `VerifyReport`.
    #[pyo3(signature = (names=None, store=None))]
    fn verify(
        &self,
        py: Python<'_>,
        names: Option<&Bound<'_, PyAny>>,
        store: Option<String>,
    ) -> PyResult<PyVerifyReport> {
        let names = args::file_names(py, names)?;
        let report = py.detach(|| self.inner.verify(&names, store.as_deref(), &NoProgress)).or_raise(py)?;
        if report.ok {
            return Ok(PyVerifyReport(report));
        }
        match report.clone().into_result() {
            Ok(report) => Ok(PyVerifyReport(report)),
            Err(e) => Err(errors::with_report(py, e, PyVerifyReport(report))),
        }
    }

    /// One scrub run: re-read copies from the disk, least recently verified first,
    /// within the budget; damaged copies are marked and reported, not raised.
    #[pyo3(signature = (budget=None, *, budget_bytes=None, budget_time=None, max_rate=None, store=None))]
    fn scrub(
        &self,
        py: Python<'_>,
        budget: Option<&Bound<'_, PyAny>>,
        budget_bytes: Option<&Bound<'_, PyAny>>,
        budget_time: Option<&Bound<'_, PyAny>>,
        max_rate: Option<&Bound<'_, PyAny>>,
        store: Option<String>,
    ) -> PyResult<PyScrubReport> {
        let limits = args::scrub_budget(py, budget, budget_bytes, budget_time)?;
        let max_rate = max_rate.map(|r| args::size(py, "max_rate", r)).transpose()?;
        if max_rate == Some(0) {
            return Err(to_py(py, Error::invalid("max_rate", "max_rate must be more than 0 bytes per second")));
        }
        let opts = ScrubOptions { budget_bytes: limits.bytes, budget_time: limits.time, max_rate, store, pace: None };
        py.detach(|| self.inner.scrub(&opts, &NoProgress)).or_raise(py).map(PyScrubReport)
    }

    /// Each store's scrub coverage now, against the `[scrub] cover_every` target.
    fn coverage(&self, py: Python<'_>) -> PyResult<Vec<PyStoreCoverage>> {
        let coverage = py.detach(|| self.inner.coverage()).or_raise(py)?;
        Ok(coverage.into_iter().map(PyStoreCoverage).collect())
    }

    /// Repair every damaged copy of `name` from a good copy here, or else from a
    /// peer; a copy that stays damaged is reported (`ok` False), not raised.
    fn repair(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<PyRepairReport> {
        let name = args::file_name(py, name)?;
        py.detach(|| self.inner.repair(&name, &NoProgress)).or_raise(py).map(PyRepairReport)
    }

    /// Delete the copy of `name` on `store`, never the last good one (the checks of
    /// rolling deletion); a copy kept is reported, not raised.
    #[pyo3(name = "drop", signature = (name, *, store, min_copies=None, dry_run=false))]
    fn drop_copy(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        store: String,
        min_copies: Option<i64>,
        dry_run: bool,
    ) -> PyResult<PyDeletionReport> {
        let name = args::file_name(py, name)?;
        let min_copies = min_copies.map(|k| args::count(py, "min_copies", k)).transpose()?;
        py.detach(|| self.inner.drop_copy(&name, &store, min_copies, dry_run)).or_raise(py).map(PyDeletionReport)
    }

    /// One run of rolling deletion on `store` (its `[deletion.STORE]` table), or
    /// its plan with `dry_run`.
    #[pyo3(signature = (store, *, dry_run=false))]
    fn rolling_deletion(&self, py: Python<'_>, store: String, dry_run: bool) -> PyResult<PyDeletionReport> {
        py.detach(|| self.inner.rolling_deletion(&store, dry_run)).or_raise(py).map(PyDeletionReport)
    }

    /// Ask `peer` to re-read its copies of `names` now; the answers are recorded on
    /// the remote instances here and returned, one per name.
    fn verify_remote(
        &self,
        py: Python<'_>,
        peer: String,
        names: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<PyFileVerification>> {
        let names = args::file_names(py, Some(names))?;
        let answers = py.detach(|| self.inner.verify_remote(&peer, &names)).or_raise(py)?;
        Ok(answers.into_iter().map(PyFileVerification).collect())
    }

    /// Copy a file or book out of the stores to `dest` (which must not exist), from the
    /// best local instance, hashed while copying; `dest` appears only if the bytes
    /// match the catalog.
    fn get(&self, py: Python<'_>, name: &Bound<'_, PyAny>, dest: PathBuf) -> PyResult<PyRetrieved> {
        let name = args::file_name(py, name)?;
        py.detach(|| self.inner.get(&name, &dest, &NoProgress)).or_raise(py).map(PyRetrieved)
    }

    /// Add a store (its directories are created; both must be on one filesystem).
    #[pyo3(signature = (name, root, staging=None, ingestable=true, reserve=0))]
    fn add_store(
        &self,
        py: Python<'_>,
        name: String,
        root: PathBuf,
        staging: Option<PathBuf>,
        ingestable: bool,
        reserve: u64,
    ) -> PyResult<PyStore> {
        let spec = StoreSpec { name, root, staging, ingestable, reserve_bytes: reserve };
        py.detach(|| self.inner.add_store(&spec)).or_raise(py).map(PyStore)
    }

    /// Every store with its usage.
    fn stores(&self, py: Python<'_>) -> PyResult<Vec<PyStore>> {
        let stores = py.detach(|| self.inner.stores()).or_raise(py)?;
        Ok(stores.into_iter().map(PyStore).collect())
    }

    /// Enable a store.
    fn enable_store(&self, py: Python<'_>, name: String) -> PyResult<PyStore> {
        py.detach(|| self.inner.set_store_enabled(&name, true)).or_raise(py).map(PyStore)
    }

    /// Disable a store.
    fn disable_store(&self, py: Python<'_>, name: String) -> PyResult<PyStore> {
        py.detach(|| self.inner.set_store_enabled(&name, false)).or_raise(py).map(PyStore)
    }

    /// Forget a store (refused while it holds available copies or active transfers).
    fn remove_store(&self, py: Python<'_>, name: String) -> PyResult<()> {
        py.detach(|| self.inner.remove_store(&name)).or_raise(py)
    }

    /// Recycle a drive whose copies were all delivered; returns the copies deleted.
    fn recycle_store(&self, py: Python<'_>, name: String) -> PyResult<usize> {
        py.detach(|| self.inner.recycle_store(&name)).or_raise(py)
    }

    /// The site at a glance.
    fn status(&self, py: Python<'_>) -> PyResult<PySiteStatus> {
        py.detach(|| self.inner.status()).or_raise(py).map(PySiteStatus)
    }

    /// Roll back interrupted ingests of dead processes and remove stale staging
    /// directories; returns the directories removed.
    fn cleanup_staging(&self, py: Python<'_>) -> PyResult<Vec<PathBuf>> {
        py.detach(|| self.inner.cleanup_staging()).or_raise(py)
    }

    /// Add an account that may call this site; `callback` accounts must name the peer
    /// they belong to (`for_peer`). Only an argon2id hash of `password` is stored.
    #[pyo3(signature = (name, level, password, *, for_peer=None))]
    fn add_account(
        &self,
        py: Python<'_>,
        name: String,
        level: String,
        password: &Bound<'_, PyAny>,
        for_peer: Option<String>,
    ) -> PyResult<PyAccount> {
        let level = level.parse::<Level>().or_raise(py)?;
        let password = args::password(py, password)?;
        py.detach(|| self.inner.add_account(&name, level, for_peer.as_deref(), &password)).or_raise(py).map(PyAccount)
    }

    /// Every account, by name.
    fn accounts(&self, py: Python<'_>) -> PyResult<Vec<PyAccount>> {
        let accounts = py.detach(|| self.inner.accounts()).or_raise(py)?;
        Ok(accounts.into_iter().map(PyAccount).collect())
    }

    /// Remove an account.
    fn remove_account(&self, py: Python<'_>, name: String) -> PyResult<()> {
        py.detach(|| self.inner.remove_account(&name)).or_raise(py)
    }

    /// Check an account's name and password; the account, or `Unauthorized`.
    fn authenticate(&self, py: Python<'_>, name: String, password: &Bound<'_, PyAny>) -> PyResult<PyAccount> {
        let password = args::password(py, password)?;
        py.detach(|| self.inner.authenticate(&name, &password)).or_raise(py).map(PyAccount)
    }

    /// Add a peer: its shim's base URL, and the account and password this site uses
    /// there.
    fn add_peer(
        &self,
        py: Python<'_>,
        name: String,
        url: String,
        account: String,
        password: &Bound<'_, PyAny>,
    ) -> PyResult<PyPeer> {
        let password = args::password(py, password)?;
        py.detach(|| self.inner.add_peer(&name, &url, &account, &password)).or_raise(py).map(PyPeer)
    }

    /// Every peer, by name.
    fn peers(&self, py: Python<'_>) -> PyResult<Vec<PyPeer>> {
        let peers = py.detach(|| self.inner.peers()).or_raise(py)?;
        Ok(peers.into_iter().map(PyPeer).collect())
    }

    /// Remove a peer (refused while accounts belong to it).
    fn remove_peer(&self, py: Python<'_>, name: String) -> PyResult<()> {
        py.detach(|| self.inner.remove_peer(&name)).or_raise(py)
    }

    /// Allow new transfers to a peer.
    fn enable_peer(&self, py: Python<'_>, name: String) -> PyResult<PyPeer> {
        py.detach(|| self.inner.set_peer_transfers(&name, true)).or_raise(py).map(PyPeer)
    }

    /// Stop new transfers to a peer.
    fn disable_peer(&self, py: Python<'_>, name: String) -> PyResult<PyPeer> {
        py.detach(|| self.inner.set_peer_transfers(&name, false)).or_raise(py).map(PyPeer)
    }

    /// Point a peer at a new URL (it moved, or a migrated site answers elsewhere).
    fn set_peer_url(&self, py: Python<'_>, name: String, url: String) -> PyResult<PyPeer> {
        py.detach(|| self.inner.set_peer_url(&name, &url)).or_raise(py).map(PyPeer)
    }

    /// Set the protocol a peer speaks: "librarian" or "original-v2".
    fn set_peer_protocol(&self, py: Python<'_>, name: String, protocol: String) -> PyResult<PyPeer> {
        py.detach(|| protocol.parse().and_then(|p| self.inner.set_peer_protocol(&name, p))).or_raise(py).map(PyPeer)
    }

    /// Open events, newest first (every event, cleared ones too, with `all`).
    #[pyo3(signature = (all=false))]
    fn events(&self, py: Python<'_>, all: bool) -> PyResult<Vec<PyEvent>> {
        let events = py.detach(|| self.inner.events(all)).or_raise(py)?;
        Ok(events.into_iter().map(PyEvent).collect())
    }

    /// Clear open event `id`; returns it, cleared.
    fn clear_event(&self, py: Python<'_>, id: i64) -> PyResult<PyEvent> {
        py.detach(|| self.inner.clear_event(id)).or_raise(py).map(PyEvent)
    }

    /// Queue `holds` calls telling `peer` that this site holds each file in `names`;
    /// returns the calls queued.
    fn announce(&self, py: Python<'_>, peer: String, names: &Bound<'_, PyAny>) -> PyResult<Vec<PyOutboxCall>> {
        let names = args::file_names(py, Some(names))?;
        let calls = py.detach(|| self.inner.announce(&peer, &names)).or_raise(py)?;
        Ok(calls.into_iter().map(PyOutboxCall).collect())
    }

    /// Queued calls (to `peer` only, when given), oldest first.
    #[pyo3(signature = (peer=None))]
    fn outbox(&self, py: Python<'_>, peer: Option<String>) -> PyResult<Vec<PyOutboxCall>> {
        let calls = py.detach(|| self.inner.outbox(peer.as_deref())).or_raise(py)?;
        Ok(calls.into_iter().map(PyOutboxCall).collect())
    }

    /// Make queued calls (to `peer`, when given) due now; returns how many.
    #[pyo3(signature = (peer=None))]
    fn retry_outbox(&self, py: Python<'_>, peer: Option<String>) -> PyResult<usize> {
        py.detach(|| self.inner.retry_outbox(peer.as_deref())).or_raise(py)
    }

    /// Drop queued call `id` without sending it (recorded as a `call_refused` event).
    fn drop_call(&self, py: Python<'_>, id: i64) -> PyResult<PyOutboxCall> {
        py.detach(|| self.inner.drop_call(id)).or_raise(py).map(PyOutboxCall)
    }

    /// Send the queued calls that are due, per peer in order (the `deliver-outbox`
    /// task).
    fn deliver_outbox(&self, py: Python<'_>) -> PyResult<PyDeliveryReport> {
        py.detach(|| self.inner.deliver_outbox()).or_raise(py).map(PyDeliveryReport)
    }

    /// Transfers, newest first (at most `limit`), optionally of one status, direction
    /// or peer. An unknown peer raises `NotFound`.
    #[pyo3(signature = (status=None, direction=None, peer=None, limit=1000))]
    fn transfers(
        &self,
        py: Python<'_>,
        status: Option<String>,
        direction: Option<String>,
        peer: Option<String>,
        limit: i64,
    ) -> PyResult<Vec<PyTransfer>> {
        let status = status.as_deref().map(str::parse::<TransferStatus>).transpose().or_raise(py)?;
        let direction = direction.as_deref().map(str::parse::<Direction>).transpose().or_raise(py)?;
        let limit = args::count(py, "limit", limit)? as usize;
        let found = py.detach(|| self.inner.transfers(status, direction, peer.as_deref(), limit)).or_raise(py)?;
        Ok(found.into_iter().map(PyTransfer).collect())
    }

    /// Cancel transfer `id`; the peer is told through the outbox.
    fn cancel_transfer(&self, py: Python<'_>, id: i64) -> PyResult<PyTransfer> {
        py.detach(|| self.inner.cancel_transfer(id)).or_raise(py).map(PyTransfer)
    }

    /// One sending round now: poll running batches, then plan, offer and start
    /// batches to `to` (configured in `[clone.to]` or not), or to every configured
    /// peer (the `send-clones` task).
    #[pyo3(signature = (to=None))]
    fn send_clones(&self, py: Python<'_>, to: Option<String>) -> PyResult<PySendReport> {
        py.detach(|| self.inner.send_clones_to(to.as_deref())).or_raise(py).map(PySendReport)
    }

    /// Verify and commit incoming transfers whose data has arrived (the
    /// `receive-clones` task); returns (completed, failed).
    fn receive_clones(&self, py: Python<'_>) -> PyResult<(u64, u64)> {
        py.detach(|| self.inner.receive_clones()).or_raise(py)
    }

    /// What one batch to `peer` would hold now; nothing changes.
    fn plan_clones(&self, py: Python<'_>, peer: String) -> PyResult<Vec<PyPlannedFile>> {
        let plan = py.detach(|| self.inner.plan_clones(&peer)).or_raise(py)?;
        Ok(plan.into_iter().map(PyPlannedFile).collect())
    }

    /// Copy the files on store `from_store` that `to_store` (usually a drive) lacks
    /// onto it, each verified, until `to_store` reaches its reserve.
    #[pyo3(signature = (from_store, to_store, dry_run=false))]
    fn clone_local(
        &self,
        py: Python<'_>,
        from_store: String,
        to_store: String,
        dry_run: bool,
    ) -> PyResult<PyLocalCloneReport> {
        py.detach(|| self.inner.clone_local(&from_store, &to_store, dry_run, &NoProgress))
            .or_raise(py)
            .map(PyLocalCloneReport)
    }

    /// Export the drive store `store` to peer `to`: re-read every byte, write the
    /// manifest and checksum lists on the drive, record the outgoing transfers and
    /// disable the store. Files `to` already holds get no transfer (their drive
    /// copies are retired) unless `include_held`.
    #[pyo3(signature = (store, to, dry_run=false, include_held=false))]
    fn sneakernet_export(
        &self,
        py: Python<'_>,
        store: String,
        to: String,
        dry_run: bool,
        include_held: bool,
    ) -> PyResult<PyExportReport> {
        py.detach(|| self.inner.sneakernet_export(&store, &to, dry_run, include_held, &NoProgress))
            .or_raise(py)
            .map(PyExportReport)
    }

    /// Import the drive at `path` into `store` (default: a store with room), verifying
    /// every file as it is copied; queues `complete` calls to the exporting site.
    #[pyo3(signature = (path, store=None, dry_run=false))]
    fn sneakernet_import(
        &self,
        py: Python<'_>,
        path: PathBuf,
        store: Option<String>,
        dry_run: bool,
    ) -> PyResult<PyImportReport> {
        py.detach(|| self.inner.sneakernet_import(&path, store.as_deref(), dry_run, &NoProgress))
            .or_raise(py)
            .map(PyImportReport)
    }

    /// Import the catalog of the original (Python) Librarian at `source` (a SQLite
    /// file or a `postgresql://` URL) into this site in one transaction; with
    /// `dry_run`, the same transaction rolled back. Mappings become the core's
    /// `NAME=VALUE` options; a conflicting target raises `Conflict`.
    #[pyo3(signature = (
        source, *, original_config=None, map_prefix=None, store_roots=None, store_staging=None, peer_urls=None,
        remote_stores=None, dry_run=false, verify=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn import_original(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        original_config: Option<PathBuf>,
        map_prefix: Option<&Bound<'_, PyAny>>,
        store_roots: Option<&Bound<'_, PyAny>>,
        store_staging: Option<&Bound<'_, PyAny>>,
        peer_urls: Option<&Bound<'_, PyAny>>,
        remote_stores: Option<&Bound<'_, PyAny>>,
        dry_run: bool,
        verify: bool,
    ) -> PyResult<PyOriginalImportReport> {
        let source = args::path_text(py, "source", source)?;
        let opts = ImportOriginalOptions {
            original_config,
            map_prefix: args::prefix_map(py, map_prefix)?,
            store_roots: args::name_values(py, "store_roots", store_roots, Values::Paths)?,
            store_staging: args::name_values(py, "store_staging", store_staging, Values::Paths)?,
            peer_urls: args::name_values(py, "peer_urls", peer_urls, Values::Text)?,
            remote_stores: args::name_values(py, "remote_stores", remote_stores, Values::Text)?,
            dry_run,
            verify,
        };
        py.detach(|| self.inner.import_original(&source, &opts, &NoProgress))
            .map_err(args::import_error)
            .or_raise(py)
            .map(PyOriginalImportReport)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = self.inner.config().name.as_str().into_pyobject(py)?.repr()?;
        let path = self.inner.config_path().to_string_lossy().into_pyobject(py)?.repr()?;
        Ok(format!("Librarian(name={name}, config_path={path})"))
    }
}

/// `Librarian.search_iter`: every match of a search, read a page at a time (each page
/// one core call with the GIL released).
#[pyclass(module = "librarian", name = "SearchIterator")]
#[derive(Debug)]
pub struct PySearchIterator {
    lib: Py<PyLibrarian>,
    /// The next page's query: its `after` moves on after each page.
    query: SearchQuery,
    page: std::vec::IntoIter<File>,
    done: bool,
}

#[pymethods]
impl PySearchIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyFile>> {
        loop {
            if let Some(f) = self.page.next() {
                return Ok(Some(PyFile(f)));
            }
            if self.done {
                return Ok(None);
            }
            let lib = &self.lib.get().inner;
            let query = &self.query;
            let page = py.detach(|| lib.search_page(query)).or_raise(py)?;
            self.done = !page.truncated;
            self.query.after = page.next;
            self.page = page.files.into_iter();
        }
    }
}

/// Check the drive at `path` against its manifest, offline (no site needed): every
/// byte is re-read; problems are reported, not raised.
#[pyfunction]
pub fn verify_drive(py: Python<'_>, path: PathBuf) -> PyResult<PyDriveReport> {
    py.detach(|| librarian_core::verify_drive(&path, &NoProgress)).or_raise(py).map(PyDriveReport)
}
