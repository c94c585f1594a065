//! The facade: the whole public API of a site in one place. Each method is a
//! one-line delegation to the flow that does the work (a function over the site
//! context, [`Site`]); constructors open the site and recover interrupted ingests.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use crate::access::PeerPing;
use crate::alerts::AlertReport;
use crate::catalog::TaskRecord;
use crate::config::{self, Config};
use crate::error::Result;
use crate::ingest::UploadOptions;
use crate::model::{
    Account, AlertDelivery, CallKind, DeletionReport, Direction, Event, File, FileVerification, GlobusCheck, HoldsCall,
    Instance, Level, NewEvent, OutboxCall, Password, Peer, RemoteInstance, RepairReport, ScrubReport, SearchPage,
    SearchQuery, SinkTest, SiteStatus, StageRequest, StageResponse, StoreCoverage, StoreSpec, StoreStatus, TaskKind,
    TaskOutcome, Transfer, TransferCall, TransferStatus, Upload, VerifyAnswer, VerifyReport, VerifyRequest,
};
use crate::name::FileName;
use crate::outbox::DeliveryReport;
use crate::progress::Progress;
use crate::retrieve::Retrieved;
use crate::scrub::ScrubOptions;
use crate::site::Site;
use crate::sneakernet::{ExportReport, ImportReport, LocalCloneReport};
use crate::transfers::{ClonePlan, ReconcileReport, SendReport};

/// A site's Librarian: its configuration and its catalog.
#[derive(Debug)]
pub struct Librarian {
    site: Site,
}

impl Librarian {
    /// Create a new site in `dir`: `dir/librarian.toml`, the database, and a store
    /// [`crate::DEFAULT_STORE`] under `dir/stores/main`. Refuses a directory that
    /// already holds a `librarian.toml`.
    pub fn init(dir: &Path, name: &str) -> Result<Self> {
        let site = Site::create(dir, name)?;
        crate::stores::add_default_store(&site)?;
        Ok(Librarian { site })
    }

    /// Open the site whose configuration file is `config_path`. Interrupted ingests
    /// of dead processes are rolled back first.
    ///
    /// The catalog must exist: only [`Librarian::init`] creates one. A configuration
    /// whose `database` names a missing file is [`crate::Error::NotFound`] naming the
    /// path (a typo or an unmounted disk must not turn into an empty site).
    pub fn open(config_path: &Path) -> Result<Self> {
        Ok(Librarian::recovered(Site::open(config_path)?))
    }

    /// Rebuild a lost or damaged catalog from the stores' data areas: the old
    /// database (if any) is moved aside and what it still holds of its stores, peers
    /// and accounts is copied; every file and book in the stores is hashed and
    /// catalogued. See [`RebuildOptions`] and [`RebuildReport`] (what could not be
    /// restored). Then [`Librarian::restore_remote`] for each peer.
    pub fn rebuild_from_stores(
        config_path: &Path,
        opts: &crate::rebuild::RebuildOptions,
        progress: &dyn Progress,
    ) -> Result<(Self, crate::rebuild::RebuildReport)> {
        let (site, report) = crate::rebuild::rebuild_from_stores(config_path, opts, progress)?;
        Ok((Librarian { site }, report))
    }

    /// After a rebuild: ask `peer` to re-verify its copies of every file here and
    /// record them as remote instances. Returns (files asked, files with an intact
    /// copy there).
    pub fn restore_remote(&self, peer: &str) -> Result<(u64, u64)> {
        crate::rebuild::restore_remote(&self.site, peer)
    }

    /// Import a site of the original (Python) Librarian into this one: `source` is
    /// its catalog, a SQLite file or a `postgresql://` URL. Stores, files (legacy
    /// checksums kept exactly), instances, remote instances, users (password hashes
    /// unchanged), peers (credentials decrypted with the key of
    /// [`ImportOriginalOptions::original_config`]), the transfers' history and its
    /// corrupt-file records arrive in one transaction; transfers in flight are resumed
    /// or failed, and reported. A second import adds nothing; a name this site holds
    /// differently refuses the whole import ([`crate::Error::Conflict`]); with
    /// `dry_run` nothing is written and the report says what would be.
    pub fn import_original(
        &self,
        source: &str,
        opts: &crate::import_original::ImportOriginalOptions,
        progress: &dyn Progress,
    ) -> Result<crate::model::OriginalImportReport> {
        crate::import_original::import_original(&self.site, source, opts, progress)
    }

    /// Open the site found by the usual rule ([`crate::locate_config`]): `explicit`,
    /// else `$LIBRARIAN_CONFIG`, else `/etc/librarian/librarian.toml`, else
    /// `./librarian.toml`.
    pub fn open_default(explicit: Option<&Path>) -> Result<Self> {
        Self::open(&config::locate(explicit)?)
    }

    /// Open another handle on the site `self` is (its own catalog connection, the
    /// same configuration): one per server worker.
    pub(crate) fn reopen(&self) -> Result<Self> {
        Ok(Librarian { site: Site::with_config(self.site.shared_config(), self.site.config_path(), false)? })
    }

    fn recovered(site: Site) -> Self {
        crate::ingest::recover_interrupted(&site);
        Librarian { site }
    }

    /// The site context, for the server's handlers.
    pub(crate) fn site(&self) -> &Site {
        &self.site
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.site.config()
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        self.site.config_path()
    }

    /// The catalog's database file.
    pub fn catalog_path(&self) -> &Path {
        self.site.catalog().path()
    }

    /// Refuse to go on from a catalog whose last check found it damaged
    /// ([`crate::Error::Database`]), unless it has been checked again since.
    pub fn require_intact(&self) -> Result<()> {
        self.site.catalog().require_intact()
    }

    /// The catalog, for benchmarks and tests that measure it directly (feature
    /// `internals`; not a stable API).
    #[cfg(feature = "internals")]
    pub fn catalog(&self) -> &crate::catalog::Catalog {
        self.site.catalog()
    }

    /// Ingest the file or book at `src` under `name`. See [`UploadOptions`].
    pub fn upload(&self, src: &Path, name: &FileName, opts: &UploadOptions, progress: &dyn Progress) -> Result<Upload> {
        crate::ingest::upload(&self.site, src, name, opts, progress)
    }

    /// Re-read and re-hash instances: of `names` (all when empty), on `store` (all
    /// when `None`). The report lists every instance; use
    /// [`VerifyReport::into_result`] to turn problems into an error.
    pub fn verify(&self, names: &[FileName], store: Option<&str>, progress: &dyn Progress) -> Result<VerifyReport> {
        crate::verify::verify(&self.site, names, store, progress)
    }

    /// Scrub: re-read copies from the disk, least recently verified first, within
    /// the budget of `opts`; damaged copies are marked and raise events (see
    /// [`ScrubOptions`]). The report lists only the copies found wanting.
    pub fn scrub(&self, opts: &ScrubOptions, progress: &dyn Progress) -> Result<ScrubReport> {
        crate::scrub::scrub(&self.site, opts, progress)
    }

    /// Ask `peer` to re-read its copies of `names` now; the answers (per file and
    /// copy) are recorded on the remote instances here (see `verify --remote`).
    pub fn verify_remote(&self, peer: &str, names: &[FileName]) -> Result<Vec<FileVerification>> {
        crate::remote_verify::verify_remote(&self.site, peer, names)
    }

    /// A peer's `files/read`: an intact copy of `name` (or of the book entry
    /// `entry`), re-read first, opened for streaming.
    pub(crate) fn serve_copy(&self, name: &FileName, entry: Option<&str>) -> Result<crate::retrieve::Served> {
        crate::retrieve::open_for_peer(&self.site, name, entry)
    }

    /// A peer's `files/verify`: re-read our copies of the named files and answer.
    pub fn answer_verify(&self, req: &VerifyRequest) -> Result<VerifyAnswer> {
        crate::verify::answer_peer_verify(&self.site, req)
    }

    /// One run of rolling deletion on `store` (its `[deletion.STORE]` table): old
    /// copies go once enough verified copies exist elsewhere; never the last good
    /// copy. With `dry_run`, the plan only (no peer is asked, nothing changes).
    pub fn rolling_deletion(&self, store: &str, dry_run: bool) -> Result<DeletionReport> {
        crate::deletion::rolling_deletion(&self.site, store, dry_run)
    }

    /// Drop the copy of `name` on `store` by hand, with the checks of rolling
    /// deletion (`min_copies`, else the store's `[deletion]` table's, else 1).
    pub fn drop_copy(
        &self,
        name: &FileName,
        store: &str,
        min_copies: Option<u32>,
        dry_run: bool,
    ) -> Result<DeletionReport> {
        crate::deletion::drop_copy(&self.site, name, store, min_copies, dry_run)
    }

    /// Repair every damaged (corrupt or missing) copy of `name` from a good copy
    /// here, or else from a peer that holds one; the bytes are verified before they
    /// replace the bad ones. The report says what was repaired from where, and what
    /// could not be.
    pub fn repair(&self, name: &FileName, progress: &dyn Progress) -> Result<RepairReport> {
        crate::repair::repair(&self.site, name, progress)
    }

    /// Scrub coverage per store, against the `[scrub] cover_every` target.
    pub fn coverage(&self) -> Result<Vec<StoreCoverage>> {
        crate::scrub::coverage(&self.site)
    }

    /// Copy `name` (a file or a book) out of the stores to `dest`, which must not exist:
    /// from the best local instance (most recently verified first), hashed while it is
    /// copied, put at `dest` only if the bytes match the catalog (else the next
    /// instance is tried, and [`Error::ChecksumMismatch`] when none matches; nothing
    /// is left at `dest`).
    pub fn get(&self, name: &FileName, dest: &Path, progress: &dyn Progress) -> Result<Retrieved> {
        crate::retrieve::get(&self.site, name, dest, progress)
    }

    /// Open events (or every event with `all`), newest first.
    pub fn events(&self, all: bool) -> Result<Vec<Event>> {
        self.site.catalog().events(all)
    }

    /// Clear an open event. [`crate::Error::NotFound`] if there is no open event `id`.
    pub fn clear_event(&self, id: i64) -> Result<Event> {
        self.site.catalog().clear_event(id, jiff::Timestamp::now())
    }

    /// Record an event (or count one more occurrence of the same open event).
    pub fn raise_event(&self, event: &NewEvent) -> Result<Event> {
        self.site.raise_event(event)
    }

    /// Alerts waiting for their `[alerts]` sink (with `all`, also those delivered),
    /// oldest first, with their attempts and last error.
    pub fn alerts(&self, all: bool) -> Result<Vec<AlertDelivery>> {
        crate::alerts::alerts(&self.site, all)
    }

    /// Send a test alert (severity `info`) now to every `[alerts]` sink, or to the one
    /// named `sink`, whatever its `min_severity`, queue and rate limit (nothing is
    /// recorded); how each answered. [`crate::Error::InvalidArgument`] when no sink
    /// is configured, or none has that name.
    pub fn test_alerts(&self, sink: Option<&str>) -> Result<Vec<SinkTest>> {
        crate::alerts::test_alerts(&self.site, sink)
    }

    /// The `deliver-alerts` task: queue what each `[alerts]` sink is owed, and send
    /// what is due. Run it through [`Librarian::run_tasks`] (whose lease keeps two
    /// runs from sending the same alert), not beside it.
    pub fn deliver_alerts(&self) -> Result<AlertReport> {
        crate::alerts::deliver_alerts(&self.site)
    }

    /// Add a store; its directories are created, and must be on one filesystem.
    pub fn add_store(&self, spec: &StoreSpec) -> Result<StoreStatus> {
        crate::stores::add_store(&self.site, spec)
    }

    /// All stores with their usage.
    pub fn stores(&self) -> Result<Vec<StoreStatus>> {
        crate::stores::stores(&self.site)
    }

    /// Enable or disable a store.
    pub fn set_store_enabled(&self, name: &str, enabled: bool) -> Result<StoreStatus> {
        crate::stores::set_store_enabled(&self.site, name, enabled)
    }

    /// Forget store `name`. Refused while it holds available instances or active
    /// transfers; leaves its directories as they are (wipe a drive by hand).
    pub fn remove_store(&self, name: &str) -> Result<()> {
        crate::stores::remove_store(&self.site, name)
    }

    /// The site at a glance.
    pub fn status(&self) -> Result<SiteStatus> {
        crate::stores::status(&self.site)
    }

    /// Roll back interrupted ingests of dead processes and remove stale staging
    /// directories on every store. Returns the staging directories removed.
    pub fn cleanup_staging(&self) -> Result<Vec<PathBuf>> {
        crate::stores::cleanup_staging(&self.site)
    }

    /// The file `name` with its instances and remote instances.
    pub fn file(&self, name: &FileName) -> Result<File> {
        crate::queries::file(&self.site, name)
    }

    /// Files matching `query`, by name (at most its limit, 100 when `None`).
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<File>> {
        crate::queries::search(&self.site, query)
    }

    /// One page of `query`'s matches, saying whether more follow and where the next
    /// page starts: set `query.after` to `next` and ask again until `truncated` is
    /// false to get every match.
    pub fn search_page(&self, query: &SearchQuery) -> Result<SearchPage> {
        crate::queries::search_page(&self.site, query)
    }

    /// Local copies of `name`.
    pub fn instances(&self, name: &FileName) -> Result<Vec<Instance>> {
        crate::queries::instances(&self.site, name)
    }

    /// Copies of `name` at other Librarians.
    pub fn remote_instances(&self, name: &FileName) -> Result<Vec<RemoteInstance>> {
        crate::queries::remote_instances(&self.site, name)
    }

    /// Recycle store `name` (a drive whose copies have all been delivered): delete
    /// the data of its unavailable instances and the drive's manifest files, and
    /// enable it again for the next round. The instance rows stay, unavailable: they
    /// record what the drive carried, so a later fill does not copy those files again.
    /// Refused while it holds available instances or active transfers. Returns how
    /// many copies were deleted.
    pub fn recycle_store(&self, name: &str) -> Result<usize> {
        crate::sneakernet::recycle::recycle_store(&self.site, name)
    }

    /// Copy the files that have an available instance on store `from` and no instance
    /// on store `to` onto `to`, oldest first, each verified against its catalogued
    /// checksum, until `to` would keep less than its reserve free: then stop (order is
    /// kept; smaller files are not squeezed in), set `full` and raise a `store_full`
    /// event. `to` must be enabled (it need not be ingestable). A copy whose bytes do
    /// not match the catalog (a corrupt source) is not committed and is listed in
    /// `failed`; the others go on. With `dry_run`, nothing changes and `planned` lists
    /// what would be copied (as far as the free space now allows).
    pub fn clone_local(
        &self,
        from: &str,
        to: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<LocalCloneReport> {
        crate::sneakernet::fill::clone_local(&self.site, from, to, dry_run, progress)
    }

    /// [`Librarian::clone_local`], leaving out too the files that have an instance on
    /// any store of `not_on` (the other drives of the same set: one copy among them is
    /// enough). Stores of `not_on` that do not exist are ignored.
    pub fn clone_local_skipping(
        &self,
        from: &str,
        to: &str,
        not_on: &[String],
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<LocalCloneReport> {
        crate::sneakernet::fill::clone_local_skipping(&self.site, from, to, not_on, dry_run, progress)
    }

    /// Export the drive store `store` to peer `to`: re-read every byte on it (checking
    /// each file against the catalog), write the checksum lists and the manifest with
    /// its digest, and record the outgoing transfers and the store disabled in one
    /// transaction. Files `to` already holds (a remote instance there) stay on the
    /// drive and in the manifest but get no transfer, and their drive copies are
    /// retired ([`ExportReport::held`]), unless `include_held`. With `dry_run`, only
    /// say what would be exported.
    pub fn sneakernet_export(
        &self,
        store: &str,
        to: &str,
        dry_run: bool,
        include_held: bool,
        progress: &dyn Progress,
    ) -> Result<ExportReport> {
        crate::sneakernet::export::sneakernet_export(&self.site, store, to, dry_run, include_held, progress)
    }

    /// Import the drive at `drive` into `store` (default: a store with room). Every file
    /// is verified while it is copied; bad ones are refused, good ones imported. The
    /// exporting site must be a peer here (its `complete` calls wait in the outbox
    /// until it can be reached); a drive in the existing Librarian's format needs no
    /// peer and queues no calls.
    pub fn sneakernet_import(
        &self,
        drive: &Path,
        store: Option<&str>,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        crate::sneakernet::import::sneakernet_import(&self.site, drive, store, dry_run, progress)
    }

    /// The schedule of `task`: its interval and whether it is enabled.
    pub fn task_schedule(&self, task: TaskKind) -> (SignedDuration, bool) {
        crate::tasks::task_schedule(&self.site, task)
    }

    /// Run each task that is due, once (`only` empty), or the tasks in `only` now,
    /// whatever their schedule. Tasks whose lease another run holds are skipped.
    /// Then the `[alerts] textfile` is written, if configured (a failure to write it
    /// is logged, not returned). Returns one outcome per task; the call fails only if
    /// the catalog does.
    pub fn run_tasks(&self, only: &[TaskKind]) -> Result<Vec<TaskOutcome>> {
        crate::tasks::run_tasks(&self.site, only)
    }

    /// The record of each task's last run.
    pub fn task_records(&self) -> Result<Vec<TaskRecord>> {
        crate::tasks::task_records(&self.site)
    }

    /// Queue `holds` calls telling `peer` that this site holds each file in `names`
    /// (an available instance here), so the peer records a remote instance. Useful
    /// after two sites got the same data by other means. Returns the queued calls.
    pub fn announce(&self, peer: &str, names: &[FileName]) -> Result<Vec<OutboxCall>> {
        crate::outbox::announce(&self.site, peer, names)
    }

    /// Queued calls (to `peer` only, when given), oldest first.
    pub fn outbox(&self, peer: Option<&str>) -> Result<Vec<OutboxCall>> {
        crate::outbox::outbox(&self.site, peer)
    }

    /// Make queued calls (to `peer`, when given) due now, skipping their backoff: for
    /// when an operator knows the peer is back. Returns how many calls.
    pub fn retry_outbox(&self, peer: Option<&str>) -> Result<usize> {
        crate::outbox::retry_outbox(&self.site, peer)
    }

    /// Drop queued call `id` without sending it: an operator's decision for a call the
    /// peer will never accept (it waits first in line, holding the peer's other calls).
    /// Recorded as a `call_refused` event with the call's key and body.
    pub fn drop_call(&self, id: i64) -> Result<OutboxCall> {
        crate::outbox::drop_call(&self.site, id)
    }

    /// Send the calls that are due, per peer in order (the `deliver-outbox` task).
    pub fn deliver_outbox(&self) -> Result<DeliveryReport> {
        crate::outbox::deliver_outbox(&self.site)
    }

    /// Apply a `holds` call from `peer` carrying idempotency `key`: record that the
    /// peer holds the file. Answers `{"recorded": true, "replayed": false}` the first
    /// time and the same with `"replayed": true` for a repeat of the key (nothing
    /// changes); the same key with another body is refused ([`Error::Conflict`]).
    /// [`Error::NotFound`] when no such file is catalogued here;
    /// [`Error::Conflict`] (and a `conflict` event here) when its checksum differs.
    pub fn receive_holds(&self, peer: &str, key: &str, call: &HoldsCall) -> Result<serde_json::Value> {
        crate::outbox::receive::receive_holds(&self.site, peer, key, call)
    }

    /// Add an account that may call this site. `callback` accounts must name the peer
    /// they belong to; other levels may.
    pub fn add_account(
        &self,
        name: &str,
        level: Level,
        for_peer: Option<&str>,
        password: &Password,
    ) -> Result<Account> {
        crate::access::add_account(&self.site, name, level, for_peer, password)
    }

    /// All accounts (never their password hashes).
    pub fn accounts(&self) -> Result<Vec<Account>> {
        crate::access::accounts(&self.site)
    }

    /// Remove an account.
    pub fn remove_account(&self, name: &str) -> Result<()> {
        crate::access::remove_account(&self.site, name)
    }

    /// Check a name and password (argon2id). Unknown account and wrong password both
    /// give [`Error::Unauthorized`], after the same amount of work.
    pub fn authenticate(&self, name: &str, password: &Password) -> Result<Account> {
        crate::access::authenticate(&self.site, name, password)
    }

    /// Add a peer: its shim's base URL, and the account and password we use there.
    pub fn add_peer(&self, name: &str, url: &str, account_at_peer: &str, password: &Password) -> Result<Peer> {
        crate::access::add_peer(&self.site, name, url, account_at_peer, password)
    }

    /// One peer (never the password we use there).
    pub fn peer(&self, name: &str) -> Result<Peer> {
        crate::access::peer(&self.site, name)
    }

    /// All peers (never the passwords we use there).
    pub fn peers(&self) -> Result<Vec<Peer>> {
        crate::access::peers(&self.site)
    }

    /// Remove a peer; refused ([`Error::InvalidArgument`], naming what blocks it) while
    /// accounts belong to it, calls to it are queued, or any transfer with it is on
    /// record: the history of what was copied where is kept, so a peer that ever
    /// exchanged a file is disabled (`set_peer_transfers(name, false)`), not removed.
    pub fn remove_peer(&self, name: &str) -> Result<()> {
        crate::access::remove_peer(&self.site, name)
    }

    /// Check a peer: it answers `ping` as the site we call it, and accepts our
    /// credentials. [`Error::PeerUnreachable`] when it cannot be reached,
    /// [`Error::PeerRefused`] when it answers but refuses (or is another site).
    pub fn ping_peer(&self, name: &str) -> Result<PeerPing> {
        crate::access::ping_peer(&self.site, name)
    }

    /// Whether this site's Globus credentials work (a Transfer token can be obtained
    /// from Globus Auth); `None` without a `[globus]` table.
    pub fn check_globus(&self) -> Result<Option<GlobusCheck>> {
        crate::transfers::globus::check_credentials(&self.site)
    }

    /// Point peer `name` at a new `url` (`https://`, or `http://` to this host): after
    /// it moved, or when a site migrated from the original Librarian answers
    /// elsewhere. Its account, password, history and queued calls are kept.
    pub fn set_peer_url(&self, name: &str, url: &str) -> Result<Peer> {
        crate::access::set_peer_url(&self.site, name, url)
    }

    /// Speak `protocol` to peer `name`: [`crate::model::PeerProtocol::OriginalV2`]
    /// for a site that still runs the original Librarian (off by default: its
    /// `/api/v2` calls are answered only for peers set so).
    pub fn set_peer_protocol(&self, name: &str, protocol: crate::model::PeerProtocol) -> Result<Peer> {
        crate::access::set_peer_protocol(&self.site, name, protocol)
    }

    /// Answer a call of the original Librarian's `/api/v2` (from `peer`, when the
    /// caller's account belongs to one): see `original_v2.rs`.
    pub(crate) fn answer_original_v2(
        &self,
        peer: Option<&str>,
        endpoint: crate::model::V2Endpoint,
        body: &[u8],
    ) -> Result<crate::original_v2::V2Answer> {
        crate::original_v2::dispatch(&self.site, peer, endpoint, body)
    }

    /// Allow (`true`) or stop (`false`) new transfers to a peer.
    pub fn set_peer_transfers(&self, name: &str, enabled: bool) -> Result<Peer> {
        crate::access::set_peer_transfers(&self.site, name, enabled)
    }

    /// Answer a peer's `stage`: for each item, accept it (creating an incoming
    /// transfer and an empty staging directory), say it is already here, or refuse it.
    /// Over the `[clone]` receiving limits, items are refused with `too_many_items` or
    /// `too_many_outstanding`: the sender offers them again in a later round.
    pub fn stage_incoming(&self, peer: &str, req: &StageRequest) -> Result<StageResponse> {
        crate::transfers::receive::stage_incoming(&self.site, peer, req)
    }

    /// Apply a transfer call (`staged`, `complete`, `fail`) from `peer`, once per `key`.
    /// The call is validated first ([`TransferCall::validate`]); the key is bound to
    /// the call's kind and body, so the same key with another call is refused
    /// ([`Error::Conflict`]).
    pub fn receive_transfer_call(
        &self,
        peer: &str,
        key: &str,
        kind: CallKind,
        call: &TransferCall,
    ) -> Result<serde_json::Value> {
        crate::transfers::receive::receive_transfer_call(&self.site, peer, key, kind, call)
    }

    /// Transfers, newest first (at most `limit`), optionally of one status, direction
    /// or peer.
    pub fn transfers(
        &self,
        status: Option<TransferStatus>,
        direction: Option<Direction>,
        peer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Transfer>> {
        crate::transfers::receive::transfers(&self.site, status, direction, peer, limit)
    }

    /// Every peer with its backlog, its queued calls and whether transfers to it are
    /// enabled (`librarian status`). Reads the whole catalog once per peer.
    pub fn peer_statuses(&self) -> Result<Vec<serde_json::Value>> {
        crate::transfers::receive::peer_statuses(&self.site)
    }

    /// Cancel transfer `id` (an operator's decision): it becomes `cancelled`, the peer
    /// is told (`fail`, through the outbox) and an incoming transfer's staged data is
    /// removed. A cancelled outgoing transfer's file is planned again by the next
    /// send round unless the `[clone.to]` filters exclude it or the peer is disabled.
    /// [`Error::IllegalTransition`] for a transfer that has already ended.
    pub fn cancel_transfer(&self, id: i64) -> Result<Transfer> {
        crate::transfers::receive::cancel_transfer(&self.site, id)
    }

    /// How far `peer` is behind this site: of the files a send round may offer it
    /// (its `[clone.to.PEER]` filters, the same eligibility as planning), those
    /// without a copy there and their bytes (what `librarian status` shows).
    pub fn peer_backlog(&self, peer: &str) -> Result<crate::catalog::PeerBacklog> {
        crate::transfers::receive::peer_backlog(&self.site, peer)
    }

    /// Our transfer `id`, if it is one of `peer`'s ([`Error::Forbidden`] otherwise).
    pub fn peer_transfer(&self, peer: &str, id: i64) -> Result<Transfer> {
        crate::transfers::receive::peer_transfer(&self.site, peer, id)
    }

    /// The `receive-clones` task: verify and commit incoming transfers whose data
    /// has arrived. Returns (completed, failed).
    pub fn receive_clones(&self) -> Result<(u64, u64)> {
        crate::transfers::receive::receive_clones(&self.site)
    }

    /// The `send-clones` task: poll running batches, then send to every `[clone.to.*]` peer.
    pub fn send_clones(&self) -> Result<SendReport> {
        crate::transfers::send::send_clones(&self.site)
    }

    /// What one batch to `peer` would hold now (`clone remote --dry-run`): nothing changes.
    pub fn plan_clones(&self, peer: &str) -> Result<Vec<crate::catalog::PlanItem>> {
        crate::transfers::send::plan_clones(&self.site, peer)
    }

    /// What a sending round would offer, changing nothing (`clone remote --dry-run`):
    /// the next batch for `only`, or for every peer of `[clone.to]`; peers whose
    /// transfers are disabled are listed as skipped. A peer that is not a peer of
    /// this site is [`crate::Error::NotFound`].
    pub fn plan_clones_to(&self, only: Option<&str>) -> Result<ClonePlan> {
        crate::transfers::send::plan_clones_to(&self.site, only)
    }

    /// One sending round now (`librarian clone remote`): poll running batches, then
    /// send to `only` (configured in `[clone.to]` or not), or to every configured peer.
    pub fn send_clones_to(&self, only: Option<&str>) -> Result<SendReport> {
        crate::transfers::send::send_clones_to(&self.site, only)
    }

    /// The `reconcile-transfers` task.
    pub fn reconcile_transfers(&self) -> Result<ReconcileReport> {
        crate::transfers::reconcile::reconcile_transfers(&self.site)
    }
}
