"""Type stubs of the extension module ``librarian._librarian``. Import from
``librarian``, not from here.

Hand-written, and kept in step with ``librarian-py/src`` by two checks that
``scripts/test-all`` runs: mypy's ``stubtest`` (every name, signature and default
here exists at runtime and the reverse; see ``librarian-py/stubtest-allowlist.txt``)
and ``tests/test_stub_literals.py`` (every ``Literal`` below is an alias whose
strings equal the core's enum, from the runtime's ``_LITERALS``)."""

import datetime
import os
import pathlib
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any, Literal, Optional, TypeAlias, Union, final, overload

__version__: str
__all__ = [
    "__version__",
    "Librarian",
    "SearchIterator",
    "File",
    "Upload",
    "Retrieved",
    "Instance",
    "RemoteInstance",
    "Store",
    "SiteStatus",
    "InstanceCheck",
    "VerifyReport",
    "Account",
    "Peer",
    "TaskOutcome",
    "Event",
    "OutboxCall",
    "DeliveryReport",
    "Transfer",
    "SendReport",
    "PlannedFile",
    "LocalCloneReport",
    "ExportReport",
    "DriveProblem",
    "DriveReport",
    "ImportReport",
    "ScrubReport",
    "StoreCoverage",
    "RepairReport",
    "RepairedCopy",
    "RepairFailure",
    "DeletionReport",
    "DeletionItem",
    "FileVerification",
    "CopyCheck",
    "OriginalImportReport",
    "ImportTally",
    "SkippedRow",
    "InFlight",
    "ImportConflict",
    "verify_drive",
    "LibrarianError",
    "InvalidName",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "ChecksumMismatch",
    "DataMissing",
    "StoreFull",
    "InvalidChecksum",
    "AlgorithmMismatch",
    "UnsupportedEntry",
    "CrossDevice",
    "Busy",
    "Unauthorized",
    "ConfigError",
    "SchemaTooNew",
    "InvalidArgument",
    "DatabaseError",
    "IoError",
    "PeerUnreachable",
    "PeerRefused",
    "IllegalTransition",
    "Forbidden",
    "CorruptData",
    "InternalError",
]

_StrPath: TypeAlias = Union[str, "os.PathLike[str]"]
_Name: TypeAlias = Union[str, bytes]
_Level: TypeAlias = Literal["admin", "read-append", "read-only", "callback"]
_Severity: TypeAlias = Literal["info", "warning", "error"]
_Category: TypeAlias = Literal[
    "peer_unreachable", "peer_refused", "call_refused", "conflict", "transfer_failed", "store_full", "drive_done",
    "catalog_corrupt", "needs_attention", "instance_corrupt", "instance_missing", "scrub_behind"
]
_TransferStatus: TypeAlias = Literal["initiated", "ongoing", "staged", "completed", "failed", "cancelled"]
_Direction: TypeAlias = Literal["outgoing", "incoming"]
_Manager: TypeAlias = Literal["local", "rsync", "sneakernet", "globus"]
_ProblemKind: TypeAlias = Literal[
    "manifest_altered", "bad_entry", "missing", "extra", "truncated", "grown", "altered", "wrong_kind", "unreadable",
    "unsupported"
]
_CallKind: TypeAlias = Literal["holds", "staged", "complete", "fail"]
_TaskName: TypeAlias = Literal[
    "cleanup-staging", "receive-clones", "send-clones", "deliver-outbox", "reconcile-transfers", "clone-local",
    "scrub", "rolling-deletion", "deliver-alerts"
]
_TaskStatus: TypeAlias = Literal["ok", "failed", "degraded", "not_due", "busy", "disabled"]
_CheckStatus: TypeAlias = Literal["ok", "mismatch", "missing", "unreadable"]
_EntryProblem: TypeAlias = Literal["missing", "mismatch", "unexpected", "unreadable"]
_UploadStatus: TypeAlias = Literal["ingested", "already_present"]
_FileKind: TypeAlias = Literal["file", "directory"]
_DeletionPolicy: TypeAlias = Literal["allowed", "disallowed"]
_Algorithm: TypeAlias = Literal["blake3", "sha256", "xxh3", "md5"]
_InstanceState: TypeAlias = Literal["ok", "corrupt", "missing", "deleting", "deleted", "retired"]
_RemoteState: TypeAlias = Literal["ok", "corrupt", "missing"]
_ScrubStop: TypeAlias = Literal["done", "bytes", "time"]
_DeletionAction: TypeAlias = Literal["delete", "keep", "verify"]
_InFlightAction: TypeAlias = Literal["resumed", "failed", "not_carried"]
_PeerProtocol: TypeAlias = Literal["librarian", "original-v2"]

_LITERALS: dict[str, tuple[str, ...]]
"""For each ``Literal`` alias above (by name), the strings the core's enum has, from
its ``ALL`` list: what ``tests/test_stub_literals.py`` checks the aliases against."""

@final
class Librarian:
    """A site's Librarian: its configuration file and its catalog.

    Every method makes one call into the Rust core with the GIL released, so other
    Python threads keep running during long uploads and verifies. One object may be
    shared between threads; catalog access is serialised.
    """

    def __new__(cls, config: Optional[_StrPath] = None) -> "Librarian":
        """Open the site whose configuration file is ``config``.

        When ``config`` is ``None``: ``$LIBRARIAN_CONFIG``, else
        ``/etc/librarian/librarian.toml``, else ``./librarian.toml``.
        Interrupted ingests of dead processes are rolled back on open.

        Raises:
            NotFound: the configuration file does not exist.
            ConfigError: it is unreadable or malformed.
            SchemaTooNew: the database was written by a newer librarian.
        """

    @staticmethod
    def init(dir: _StrPath, name: str) -> "Librarian":
        """Create a new site in ``dir`` and open it.

        Writes ``dir/librarian.toml`` and the database, and adds a store ``"main"``
        under ``dir/stores/main``.

        Raises:
            AlreadyExists: ``dir`` already holds a ``librarian.toml``.
            InvalidArgument: ``name`` is not a valid site name (letters, digits,
                ``.``, ``_``, ``-``; at most 64 bytes).
        """

    @property
    def name(self) -> str:
        """The site's name."""

    @property
    def config_path(self) -> pathlib.Path:
        """The absolute path of the configuration file."""

    @overload
    def upload(
        self,
        src: _StrPath,
        name: _Name,
        *,
        store: Optional[str] = None,
        move: bool = False,
        deletion_policy: _DeletionPolicy = "disallowed",
        expect_checksum: Optional[str] = None,
        algorithm: Optional[_Algorithm] = None,
        uploader: Optional[str] = None,
        report: Literal[True],
    ) -> "Upload": ...
    @overload
    def upload(
        self,
        src: _StrPath,
        name: _Name,
        *,
        store: Optional[str] = None,
        move: bool = False,
        deletion_policy: _DeletionPolicy = "disallowed",
        expect_checksum: Optional[str] = None,
        algorithm: Optional[_Algorithm] = None,
        uploader: Optional[str] = None,
        report: Literal[False] = False,
    ) -> "File":
        """Ingest the file or directory ("book") at ``src`` under the catalog name ``name``.

        The data is copied into a staging area while it is hashed (one read), made
        durable, checked, and committed atomically; a crash at any point leaves
        nothing half-written under the name.

        Args:
            src: a regular file or a directory of regular files and directories.
            name: relative, normalised name (no ``..``, ``.``, empty segments,
                leading or trailing ``/``, backslash or control characters; at most
                1024 bytes).
            store: put the data on this store (default: the first enabled,
                ingestable store with room).
            move: rename ``src`` into the store instead of copying it (same
                filesystem only; still hashed).
            deletion_policy: may automatic tasks delete this copy?
            expect_checksum: commit nothing unless the data hashes to this
                (``"blake3:<hex>"``, ``"sha256:<hex>"``, or the older Librarian's
                ``"xxh3:::<hex>"``, ``"md5:::<hex>"``); also picks the algorithm.
            algorithm: algorithm for the new checksum (default ``"blake3"``;
                ``"xxh3"`` and ``"md5"`` are the older Librarian's).
            uploader: recorded in the catalog (default: ``$USER``).
            report: return an :class:`Upload` (``status`` and ``file``) instead of
                the File, to tell new data from bytes that were already there.

        Returns:
            The catalogued file (or, with ``report=True``, an :class:`Upload`:
            ``status == "ingested"`` when new data was committed,
            ``"already_present"`` when the same bytes were already catalogued under
            the name and nothing changed). Uploading the same bytes under the same
            name again succeeds and returns the existing entry unchanged.

        Raises:
            InvalidName: ``name`` breaks the naming rules.
            Conflict: ``name`` is catalogued with a different checksum.
            ChecksumMismatch: the data does not match ``expect_checksum``.
            UnsupportedEntry: a book holds a symlink, socket or device.
            StoreFull: no store has room (free space minus its reserve).
            NotFound: ``src`` or ``store`` does not exist.
            CrossDevice: ``move=True`` and ``src`` is on another filesystem.
            InvalidArgument: bad ``deletion_policy`` or ``algorithm``.
            InvalidChecksum: ``expect_checksum`` cannot be parsed.
            AlgorithmMismatch: ``algorithm`` disagrees with ``expect_checksum``.
        """

    def file(self, name: _Name) -> "File":
        """The file ``name`` with its instances and remote instances.

        Raises:
            NotFound: no such file.
            InvalidName: ``name`` breaks the naming rules.
        """

    def search(
        self,
        name: Optional[str] = None,
        since: Optional[datetime.datetime] = None,
        until: Optional[datetime.datetime] = None,
        uploader: Optional[str] = None,
        source: Optional[str] = None,
        limit: int = 100,
        after: Optional[str] = None,
    ) -> "list[File]":
        """Files matching every filter given, ordered by name: the first ``limit``
        (100 by default). To get every match, iterate :meth:`search_iter`, or page
        with ``after``.

        Args:
            name: glob on the name (``*``, ``?``, ``[...]``; case-sensitive;
                ``*`` also matches ``/``).
            since: created at or after (timezone-aware).
            until: created before (timezone-aware).
            uploader: exact uploader.
            source: exact source site.
            limit: at most this many files.
            after: only names after this one in the results' order (code point
                order): pass the last name of the previous page for the next page.
                Files catalogued meanwhile never shift a page. Any text works.

        Raises:
            InvalidArgument: a naive ``since``/``until`` (also a ``ValueError``),
                or a ``limit`` out of range.
            TypeError: ``since``/``until`` is not a ``datetime.datetime``.
        """

    def search_iter(
        self,
        name: Optional[str] = None,
        since: Optional[datetime.datetime] = None,
        until: Optional[datetime.datetime] = None,
        uploader: Optional[str] = None,
        source: Optional[str] = None,
        after: Optional[str] = None,
        page_size: int = 1000,
    ) -> "SearchIterator":
        """Every file matching the filters (as :meth:`search`), ordered by name,
        with no limit: an iterator that reads ``page_size`` files from the catalog
        at a time, each page one call with the GIL released.

        >>> for f in lib.search_iter(name="2026/*"):    # doctest: +SKIP
        ...     print(f.name)

        The filters are checked at once; the catalog is read as the iterator
        advances. Pages follow each other by name (keyset pagination), so a file
        catalogued during the iteration is never returned twice and never makes
        another one be skipped: it is returned if its name comes after the current
        page.

        Raises:
            InvalidArgument: as :meth:`search`, or ``page_size`` is 0 or out of
                range.
            TypeError: ``since``/``until`` is not a ``datetime.datetime``.
        """

    def instances(self, name: _Name) -> "list[Instance]":
        """Local copies of ``name``.

        Raises:
            NotFound: no such file.
        """

    def remote_instances(self, name: _Name) -> "list[RemoteInstance]":
        """Copies of ``name`` known to exist at other Librarians.

        Raises:
            NotFound: no such file.
        """

    def run_tasks(self, only: Optional[Sequence[_TaskName]] = None) -> list["TaskOutcome"]:
        """Run each background task that is due, once, like ``librarian tasks run``.

        The tasks, in the order they run: ``"cleanup-staging"`` (roll back
        interrupted ingests, remove stale staging directories), ``"receive-clones"``
        (:meth:`receive_clones`), ``"send-clones"`` (:meth:`send_clones`) and
        ``"deliver-outbox"`` (:meth:`deliver_outbox`), ``"reconcile-transfers"`` (ask
        peers about transfers stuck longer than ``[clone] stale_after``),
        ``"clone-local"`` (fill the ``[clone.local]`` drive stores with verified copies),
        ``"scrub"`` (:meth:`scrub` within the ``[scrub]`` budget), ``"rolling-deletion"``
        (delete old copies on the ``[deletion.STORE]`` stores once they are safe
        elsewhere), ``"deliver-alerts"`` (send events to the ``[alerts]`` sinks). Then the
        ``textfile`` of ``[alerts]`` is written, if configured.

        Args:
            only: run just these tasks, now, whatever their schedule.

        Returns: one outcome per task. A task another run is executing is skipped
        with status ``"busy"``.

        Raises:
            InvalidArgument: an unknown task name.
        """

    def verify(
        self,
        names: Union[_Name, Iterable[_Name], None] = None,
        store: Optional[str] = None,
    ) -> "VerifyReport":
        """Re-read and re-hash copies from disk.

        Args:
            names: one name or several; ``None`` or an empty iterable means every
                file of the site.
            store: only copies on this store.

        Every copy found damaged is marked (its :attr:`Instance.state` becomes
        ``"corrupt"`` or ``"missing"``, an event is raised) and is no longer used as a
        source until :meth:`repair` replaces it; one found intact again is restored.

        Returns:
            The report (``ok`` is always true: problems raise).

        Raises:
            ChecksumMismatch: a copy (or an entry of a book) no longer hashes to
                its checksum; the message names the file and the bad entries, and
                the exception's ``report`` is the whole :class:`VerifyReport`
                (``report.checked``: every copy checked, with its ``status``,
                ``problems`` per book entry and new ``state``).
            DataMissing: a copy or an entry of a book is gone or unreadable (and
                none differs); ``report`` as for ``ChecksumMismatch``.
            DatabaseError: the catalog database failed its own integrity check.
            NotFound: a name or the store does not exist.

        >>> try:                                                  # doctest: +SKIP
        ...     lib.verify()
        ... except librarian.ChecksumMismatch as e:
        ...     bad = [(c.name, c.store, c.problems) for c in e.report.checked if c.status != "ok"]
        """

    def scrub(
        self,
        budget: Union[int, str, datetime.timedelta, None] = None,
        *,
        budget_bytes: Union[int, str, None] = None,
        budget_time: Union[str, datetime.timedelta, None] = None,
        max_rate: Union[int, str, None] = None,
        store: Optional[str] = None,
    ) -> "ScrubReport":
        """One scrub run (``librarian verify --budget``; the ``"scrub"`` task runs it
        with the ``[scrub]`` budget): copies are re-read from the disk (not the page
        cache), least recently verified first, until a budget is spent.

        Damaged copies are marked ``"corrupt"`` or ``"missing"`` and raise events, as
        by :meth:`verify`, and are listed in ``problems``: a scrub reports them, it
        does not raise. With no budget at all, every copy is re-read.

        Args:
            budget: what the CLI's ``--budget`` takes: an ``int`` is bytes, a
                ``datetime.timedelta`` a time, and a ``str`` either a size
                (``"100GB"``, ``"2TiB"``, ``"500000"``) or a duration (``"30min"``,
                ``"2h"``, ``"90s"``); a bare ``m`` (``"10m"``) is refused as
                ambiguous.
            budget_bytes: a byte limit (``int`` or a size ``str``: ``"10M"`` is 10
                MiB here), e.g. to give both limits with ``budget_time``. The copy
                that crosses it is finished, so a run reads at most the limit plus
                one copy.
            budget_time: a time limit (``datetime.timedelta`` or a duration ``str``:
                ``"10m"`` is 10 minutes here); no copy is started after it.
            max_rate: read at most this many bytes per second (``int`` or a size
                ``str``: ``"200MB"``).
            store: only this store's copies.

        Returns:
            What was read and found, with each store's coverage after the run.

        Raises:
            InvalidArgument: a budget or rate that does not parse, is negative or
                ambiguous, a zero ``max_rate``, a time that is not positive, or a
                limit given twice (``budget`` and ``budget_bytes`` both bytes, or
                both times).
            NotFound: ``store`` does not exist.
            TypeError: a budget of another type (e.g. a ``float``).
        """

    def coverage(self) -> "list[StoreCoverage]":
        """Each store's scrub coverage now, against the ``[scrub] cover_every`` target
        (default 30 days): how many copies and bytes were not re-read within it, the
        oldest check, and the damaged copies waiting for a repair."""

    def repair(self, name: _Name) -> "RepairReport":
        """Repair every damaged (``"corrupt"`` or ``"missing"``) copy of ``name``
        (``librarian repair NAME``).

        The good bytes come from another intact copy here, or else from a peer that
        holds one (it re-reads its copy first); they are hashed again as they are
        written and replace the bad ones only when they match the catalog. The
        copy's state goes back to ``"ok"`` and its event is cleared.

        A copy that stays damaged is not raised: it is listed in ``failed`` with why
        (every source tried), and ``ok`` is false. A file with no damaged copy gives
        an empty report with ``ok`` true.

        Raises:
            NotFound: no such file.
            InvalidName: ``name`` breaks the naming rules.
        """

    def drop(
        self,
        name: _Name,
        *,
        store: str,
        min_copies: Optional[int] = None,
        dry_run: bool = False,
    ) -> "DeletionReport":
        """Delete the copy of ``name`` on ``store`` by hand (``librarian drop``), never
        the last good one.

        At least ``min_copies`` remote copies must have been re-verified intact by
        their peers within the store's ``[deletion]`` ``verified_within`` (default 7
        days; peers whose check is older are asked again first), and one other good
        copy must exist, here or re-verified at a peer, even with ``min_copies=0``.
        The instance stays in the catalog, ``"deleted"`` with the reason.

        A copy that is kept is not raised: the report's one item has ``action ==
        "keep"`` and the reason, and ``deleted == 0``.

        Args:
            store: the store to delete the copy from.
            min_copies: remote copies required (default: the store's ``[deletion]``
                ``min_copies``, else 1).
            dry_run: only say what would be done: no peer is asked, nothing changes.

        Raises:
            NotFound: no such file or store, or no copy of the file on ``store``.
            InvalidArgument: the copy there is not ``"ok"`` (already deleted,
                damaged or retired), or ``min_copies`` is out of range.
            InvalidName: ``name`` breaks the naming rules.
        """

    def rolling_deletion(self, store: str, *, dry_run: bool = False) -> "DeletionReport":
        """One run of rolling deletion on ``store`` now (what the
        ``"rolling-deletion"`` task does on schedule; ``librarian rolling-deletion``):
        copies older than its ``[deletion.STORE]`` ``after`` whose deletion policy
        allows it go, with the checks of :meth:`drop`.

        Args:
            dry_run: only the plan: no peer is asked, nothing changes (an item whose
                peers would be asked first has ``action == "verify"``).

        Raises:
            InvalidArgument: ``store`` has no ``[deletion.STORE]`` table in the
                configuration.
            NotFound: no such store.
        """

    def verify_remote(self, peer: str, names: Union[_Name, Iterable[_Name]]) -> "list[FileVerification]":
        """Ask ``peer`` to re-read its own copies of ``names`` now (``librarian verify
        --remote``). Its answers, one per name in order, are recorded on the remote
        instances here (``verified_at`` when intact, else their ``state``), which
        :meth:`drop` and rolling deletion count. A damaged or absent copy there is
        reported, not raised.

        Raises:
            NotFound: ``peer`` is not a peer.
            PeerUnreachable: the peer did not answer.
            PeerRefused: it refused the call, or answered about other files.
            InvalidName: a name breaks the naming rules.
        """

    def get(self, name: _Name, dest: _StrPath) -> "Retrieved":
        """Copy a file or book out of the stores to ``dest``.

        The bytes come from the best local copy (most recently verified first), are
        hashed while they are copied and appear at ``dest`` only if they match the
        catalog; otherwise the next copy is tried.

        Args:
            name: the file or book.
            dest: a path that must not exist; its parent must.

        Returns:
            What was copied, from which store.

        Raises:
            ChecksumMismatch: no copy here matches the catalog (nothing is written).
            NotFound: no such file, or no available copy here.
            AlreadyExists: ``dest`` exists.
        """

    def add_store(
        self,
        name: str,
        root: _StrPath,
        staging: Optional[_StrPath] = None,
        ingestable: bool = True,
        reserve: int = 0,
    ) -> "Store":
        """Add a store with data area ``root`` (created if missing).

        Args:
            staging: staging area, on the same filesystem (default ``<root>.staging``).
            ingestable: accept new uploads.
            reserve: bytes of free space an upload must leave on the filesystem.

        Raises:
            AlreadyExists: a store of that name exists.
            InvalidArgument: the data and staging areas contain each other.
        """

    def stores(self) -> "list[Store]":
        """Every store with its usage."""

    def enable_store(self, name: str) -> "Store":
        """Enable a store. Raises ``NotFound`` for an unknown store."""

    def disable_store(self, name: str) -> "Store":
        """Disable a store (nothing is uploaded to it). Raises ``NotFound`` for an unknown store."""

    def remove_store(self, name: str) -> None:
        """Forget a store; nothing on disk is touched. Raises ``InvalidArgument`` while
        it holds available copies or active transfers, ``NotFound`` for an unknown store."""

    def recycle_store(self, name: str) -> int:
        """Recycle a drive whose copies were all delivered (after its ``drive_done``
        event): delete its delivered data and manifest files and enable it again; the
        catalog keeps its (unavailable) instances as a record of what it carried, so a
        later fill does not copy those files onto it again. Returns how many copies
        were deleted. Raises ``InvalidArgument`` while it holds available copies or
        active transfers."""

    def status(self) -> "SiteStatus":
        """The site at a glance: stores, file count, bytes."""

    def cleanup_staging(self) -> "list[pathlib.Path]":
        """Roll back interrupted ingests of dead processes and remove stale staging
        directories on every store; returns the directories removed."""

    def add_account(
        self,
        name: str,
        level: _Level,
        password: str,
        *,
        for_peer: Optional[str] = None,
    ) -> "Account":
        """Add an account that may call this site's HTTP shim.

        Only an argon2id hash of ``password`` is stored; the password itself is kept
        nowhere and appears in no result, ``repr`` or error message.

        Args:
            name: account name (1-64 letters, digits, ``.``, ``_``, ``-``; not
                starting with ``.``).
            level: ``"admin"`` (everything), ``"read-append"`` (read and add
                data), ``"read-only"``, or ``"callback"`` (only report on its own
                peer's transfers).
            password: non-empty, at most 1024 bytes, no line break or NUL.
            for_peer: the peer the account belongs to (required for
                ``"callback"``, allowed for the other levels).

        Raises:
            AlreadyExists: an account of that name exists.
            InvalidArgument: bad name, level or password, or a ``"callback"``
                account without ``for_peer``.
            NotFound: ``for_peer`` is not a peer.
            TypeError: ``password`` is not a ``str``.
        """

    def accounts(self) -> "list[Account]":
        """Every account, ordered by name (never a password or its hash)."""

    def remove_account(self, name: str) -> None:
        """Remove an account. Raises ``NotFound`` for an unknown account."""

    def authenticate(self, name: str, password: str) -> "Account":
        """Check an account's name and password (argon2id); returns the account.

        Raises:
            Unauthorized: unknown account or wrong password (deliberately not told
                apart, and both take the same time).
            InvalidArgument: ``password`` is not a possible password (empty, longer
                than 1024 bytes, a line break or NUL).
            TypeError: ``password`` is not a ``str``.
        """

    def add_peer(self, name: str, url: str, account: str, password: str) -> "Peer":
        """Add a peer: another Librarian this site calls. New transfers to it are enabled.

        Args:
            name: the peer's site name.
            url: base URL of its shim: ``https://`` (``http://`` only for a
                loopback host: ``localhost``, ``127.0.0.0/8``, ``[::1]``), a host,
                no credentials, query or fragment (a trailing ``/`` is removed).
            account: the account this site uses at the peer.
            password: the password of that account (stored for calling the peer;
                it appears in no result, ``repr`` or error message).

        Raises:
            AlreadyExists: a peer of that name exists.
            InvalidArgument: bad name, URL, account name or password.
            TypeError: ``password`` is not a ``str``.
        """

    def peers(self) -> "list[Peer]":
        """Every peer, ordered by name (never the password used there)."""

    def remove_peer(self, name: str) -> None:
        """Remove a peer that never exchanged a file with this site.

        Raises:
            NotFound: no such peer.
            InvalidArgument: accounts still belong to it (remove them first), calls
                to it are queued, or transfers with it are on record: their history
                is kept, so disable the peer instead (``set_peer_transfers(name,
                False)``).
        """

    def enable_peer(self, name: str) -> "Peer":
        """Allow new transfers to a peer. Raises ``NotFound`` for an unknown peer."""

    def disable_peer(self, name: str) -> "Peer":
        """Stop new transfers to a peer. Raises ``NotFound`` for an unknown peer."""

    def set_peer_url(self, name: str, url: str) -> "Peer":
        """Point peer ``name`` at ``url`` (``https://``, or ``http://`` to this host):
        after it moved, or when a site migrated from the original Librarian answers
        elsewhere. Its account, password, history and queued calls are kept. Raises
        ``NotFound`` for an unknown peer, ``InvalidArgument`` for a bad URL."""

    def set_peer_protocol(self, name: str, protocol: _PeerProtocol) -> "Peer":
        """Set the protocol peer ``name`` speaks: ``"original-v2"`` for a site that
        still runs the original Librarian (its ``/api/v2`` clone calls are then
        answered, and ours go there), ``"librarian"`` (the default) otherwise. Raises
        ``NotFound`` for an unknown peer, ``InvalidArgument`` for another protocol."""

    def events(self, all: bool = False) -> "list[Event]":
        """Events an operator must know about (a peer that cannot be reached, a call
        a peer refused for good, a conflict), newest first.

        An open event with the same category and subject is not repeated: its
        ``count`` and ``last_seen_at`` go up instead.

        Args:
            all: also list cleared events (history), not just open ones.
        """

    def clear_event(self, id: int) -> "Event":
        """Clear open event ``id``; returns it with ``cleared_at`` set.

        Raises:
            NotFound: there is no open event ``id`` (unknown, or cleared already).
        """

    def announce(self, peer: str, names: Union[_Name, Iterable[_Name]]) -> "list[OutboxCall]":
        """Queue ``"holds"`` calls telling ``peer`` that this site holds each file in
        ``names`` (an available copy here), so the peer records a remote instance.

        The calls are queued in one transaction, in the order of ``names``, each
        with a fresh idempotency key; :meth:`deliver_outbox` (or the
        ``"deliver-outbox"`` task) sends them.

        Args:
            peer: the peer to tell.
            names: one name or several.

        Returns:
            The calls queued.

        Raises:
            NotFound: no such peer, or no such file (then nothing is queued).
            InvalidName: a name breaks the naming rules.
            InvalidArgument: a file has no available copy here.
        """

    def outbox(self, peer: Optional[str] = None) -> "list[OutboxCall]":
        """Calls waiting to be delivered (to ``peer`` only, when given), oldest first.

        Raises:
            NotFound: ``peer`` is not a peer.
        """

    def drop_call(self, id: int) -> "OutboxCall":
        """Drop queued call ``id`` without sending it: an operator's decision for a
        call the peer will never accept (it waits first in line and holds the peer's
        later calls). A ``call_refused`` event records its key and body. Returns the
        dropped call. Raises ``NotFound`` if no such call is queued."""

    def retry_outbox(self, peer: Optional[str] = None) -> int:
        """Make the queued calls (to ``peer``, when given) due now, skipping their
        backoff, e.g. when an operator knows the peer is back. Returns how many calls.

        Raises:
            NotFound: ``peer`` is not a peer.
        """

    def deliver_outbox(self) -> "DeliveryReport":
        """Send the queued calls that are due, each peer's in order (what the
        ``"deliver-outbox"`` task does).

        A call leaves the outbox when its peer acknowledges it, or when the peer
        refuses it for good (it becomes a ``"call_refused"`` event). A peer that does
        not answer, or refuses our credentials, keeps its calls: the first is retried
        later with exponential backoff (raising a ``"peer_unreachable"`` or
        ``"peer_refused"`` event) and the ones after it wait their turn. Peers that
        cannot be reached do not raise: they are reported in the result.
        """

    def cancel_transfer(self, id: int) -> "Transfer":
        """Cancel a transfer that has not ended (an operator's decision): it becomes
        ``"cancelled"`` and the peer is told through the outbox; an outgoing transfer's
        file is planned again by the next send round. Cancelling twice changes nothing.
        Raises ``NotFound`` for an unknown id and ``IllegalTransition`` for a transfer
        that ended otherwise."""

    def transfers(
        self,
        status: Optional[_TransferStatus] = None,
        direction: Optional[_Direction] = None,
        peer: Optional[str] = None,
        limit: int = 1000,
    ) -> "list[Transfer]":
        """Transfers of files between this site and its peers, newest first.

        Args:
            status: only transfers in this state.
            direction: only ``"outgoing"`` (to a peer) or ``"incoming"`` transfers.
            peer: only transfers with this peer.
            limit: at most this many transfers.

        Raises:
            NotFound: ``peer`` is not a peer.
            InvalidArgument: an unknown ``status`` or ``direction``, or a ``limit``
                out of range.
        """

    def send_clones(self, to: Optional[str] = None) -> "SendReport":
        """One sending round now (what the ``"send-clones"`` task does, like
        ``librarian clone remote``).

        Running batches are polled first. Then, for ``to`` (whether or not it has a
        ``[clone.to.<peer>]`` section) or else every ``[clone.to.*]`` peer, the peer
        is pinged, files it lacks are planned, offered to it, and the accepted ones
        started in a batch per transfer manager. A peer whose transfers are disabled
        (not pinged), or that does not answer the ping, or that refuses the offer,
        does not raise: it is listed in ``skipped_peers`` and raises an event. A peer
        that does not answer the ping gets no transfers this round (the open
        ``"peer_unreachable"`` event is counted again each round; the files stay
        planned); when it answers again that event is cleared. A peer that refuses
        the offer as a whole fails the transfers offered to it (e.g. with
        ``error_code == "peer_refused"``); failed transfers are planned again later.

        Raises:
            NotFound: ``to`` (or a ``[clone.to.*]`` peer) is not a peer.
            InvalidArgument: a bad ``[clone]`` setting (e.g. an unknown manager).
        """

    def receive_clones(self) -> "tuple[int, int]":
        """Verify and commit incoming transfers whose data has arrived in their
        staging directories (what the ``"receive-clones"`` task does).

        Returns:
            ``(completed, failed)``: transfers committed, and transfers that failed
            (bad checksum, conflict, data missing; each raises an event and tells the
            sender).
        """

    def plan_clones(self, peer: str) -> "list[PlannedFile]":
        """The files the next batch to ``peer`` would hold, with the copies that would
        be sent (``librarian clone remote --dry-run``); nothing changes.

        A file is planned when the peer is not known to hold it and no transfer of
        it to the peer is under way (failed transfers are planned again, except
        those that failed on a conflict). The peer's ``[clone.to.<peer>]`` filters
        and the ``[clone]`` batch limits apply.

        Raises:
            NotFound: ``peer`` is not a peer.
        """

    def clone_local(self, from_store: str, to_store: str, dry_run: bool = False) -> "LocalCloneReport":
        """Fill store ``to_store`` (usually a mounted drive) with verified copies of the
        files on store ``from_store`` that it lacks (``librarian clone local``).

        Files go oldest first; each is copied into the target's staging area while
        hashed, compared with its catalogued checksum, then moved into place and
        recorded. When the target would keep less than its reserve free, the run
        stops (``full``; the rest wait for the next drive) and raises a
        ``"store_full"`` event. A copy whose bytes do not match the catalog is not
        committed and is listed in ``failed``; the others go on.

        Args:
            dry_run: change nothing; ``planned`` lists what would be copied.

        Raises:
            NotFound: an unknown store.
            InvalidArgument: ``to_store`` is disabled, or is ``from_store``.
        """

    def sneakernet_export(
        self, store: str, to: str, dry_run: bool = False, include_held: bool = False
    ) -> "ExportReport":
        """Export the drive store ``store`` to peer ``to`` (``librarian sneakernet export``).

        Every byte on the drive is re-read once (BLAKE3, SHA-256 and each file's
        own algorithm) and checked against the catalog; then the drive gets
        ``.librarian-b3sums.txt``, ``.librarian-sha256sums.txt``, the manifest
        ``.librarian-manifest.json`` and its digest ``.librarian-manifest.json.b3``,
        and, in one transaction, an outgoing transfer is recorded per file and the
        store is disabled. Every file on the drive is in the manifest, but these get
        no transfer: files already on their way to ``to`` by the network
        (``skipped``), and files ``to`` already holds (``held``; their drive copies
        are retired, as delivered ones are).

        Args:
            dry_run: change and write nothing; only say what would be exported.
            include_held: record a transfer for the files ``to`` already holds too
                (``held`` is then empty).

        Raises:
            NotFound: ``store`` is not a store, or ``to`` is not a peer.
            ChecksumMismatch: a copy on the drive no longer matches the catalog
                (nothing was exported).
            InvalidArgument: a file name starts with ``.librarian-``.
        """

    def sneakernet_import(
        self, path: _StrPath, store: Optional[str] = None, dry_run: bool = False
    ) -> "ImportReport":
        """Import the drive at ``path`` (``librarian sneakernet import``).

        Each file is verified while it is copied into ``store`` (default: a store
        with room); bad ones (altered, truncated, missing, conflicting with a file
        of the same name here) are refused and listed in ``refused``, good ones
        imported. A ``"complete"`` call per file is queued in the outbox to the
        exporting site. Importing the same drive again does nothing new. A drive in
        the older Librarian's format needs no peer and queues no calls.

        Args:
            dry_run: change nothing; ``imported`` lists what would be imported
                (the data is checked against the manifest).

        Raises:
            NotFound: no manifest at ``path``, the exporting site is not a peer,
                or ``store`` is not a store.
            InvalidArgument: the manifest is unreadable or of an unknown version.
        """

    def import_original(
        self,
        source: _StrPath,
        *,
        original_config: Optional[_StrPath] = None,
        map_prefix: Union[Mapping[_StrPath, _StrPath], Sequence[str], None] = None,
        store_roots: Optional[Mapping[str, _StrPath]] = None,
        store_staging: Optional[Mapping[str, _StrPath]] = None,
        peer_urls: Optional[Mapping[str, str]] = None,
        remote_stores: Optional[Mapping[str, str]] = None,
        dry_run: bool = False,
        verify: bool = False,
    ) -> "OriginalImportReport":
        """Import a site of the original (Python) Librarian into this one
        (``librarian import-original``).

        Its stores (as they are on disk: no byte is copied), files with their
        legacy checksums, books (their entries listed and hashed once), instances
        with their states (a copy the original found corrupt stays ``"corrupt"``),
        remote instances, users with their password hashes, peers with their
        credentials and the history of its transfers are written in one
        transaction: the import lands whole or not at all. SneakerNet drive copies
        in flight are resumed with their original ids, network transfers in flight
        are recorded as failed, uploads in flight are not carried; each is listed in
        ``in_flight``, and every row not imported in ``skipped``. Importing the same
        source again adds nothing (``added`` all zero, ``present`` counts it all).
        Stop the original's server and background tasks first.

        Args:
            source: the original's catalog: a SQLite file, or a ``postgresql://``
                URL (Unix socket or loopback host only).
            original_config: the original server's JSON config: its site name and
                the ``encryption_key`` of its peers' credentials (or set
                ``LIBRARIAN_SERVER_ENCRYPTION_KEY``).
            map_prefix: where the original's absolute paths are now: a mapping
                ``{OLD: NEW}`` of absolute paths, or a sequence of ``"OLD=NEW"``
                strings (the CLI's ``--map-prefix``). The longest whole-component
                ``OLD`` that prefixes a path wins, whatever the order.
            store_roots: ``{STORE: DIR}``: a store's data area, instead of the one
                the original recorded (absolute).
            store_staging: ``{STORE: DIR}``: a store's staging area, instead of the
                one the original recorded (absolute).
            peer_urls: ``{PEER: URL}``: a peer's URL, instead of the original's host
                and port.
            remote_stores: ``{"PEER:ID": STORE}``: the name of store number ``ID``
                at ``PEER`` (the original knows only the number); default
                ``original-store-ID``.
            dry_run: write nothing (the same transaction is rolled back); the report
                says what would be added, and lists every conflict instead of
                raising.
            verify: re-hash every available copy (one read) with its legacy
                algorithm and BLAKE3: a match records the BLAKE3 digest beside the
                legacy checksum (later verifications check it) and the copy's
                verification time; a mismatch makes the copy corrupt.

        Raises:
            Conflict: this site holds a store, peer, account, file or transfer of
                the original differently; nothing was imported (a ``dry_run`` lists
                every conflict in ``conflicts``).
            InvalidArgument: a bad mapping, a store whose copies are not under its
                (mapped) root here, a missing or wrong ``encryption_key``, or a
                source that is not an original Librarian's catalog (``argument``
                names the parameter; the message names the CLI's option).
            TypeError: a mapping or path of the wrong type (e.g. ``map_prefix``
                given as one ``str``).
        """

@final
class SearchIterator:
    """Every match of a search, read a page at a time (:meth:`Librarian.search_iter`)."""

    def __iter__(self) -> "SearchIterator": ...
    def __next__(self) -> "File": ...

@final
class Upload:
    """What ``Librarian.upload(..., report=True)`` did."""

    @property
    def status(self) -> _UploadStatus:
        """``"ingested"`` (new data committed) or ``"already_present"`` (the same bytes
        were already catalogued under the name; nothing changed)."""
    @property
    def file(self) -> "File":
        """The catalogued file."""

@final
class Retrieved:
    """What :meth:`Librarian.get` copied, and from where."""

    @property
    def name(self) -> str:
        """The file's name."""
    @property
    def kind(self) -> _FileKind:
        """``"file"`` or ``"directory"``."""
    @property
    def size(self) -> int:
        """Size in bytes."""
    @property
    def checksum(self) -> str:
        """The checksum the copy was found to hash to (the catalog's)."""
    @property
    def store(self) -> str:
        """The store of the copy read."""
    @property
    def dest(self) -> pathlib.Path:
        """Where the copy is."""
    @property
    def bad_instances(self) -> list[tuple[str, str]]:
        """Copies tried first whose bytes did not match: (store, what they hashed to)."""

@final
class File:
    """An immutable catalogued file or directory ("book"). Compares equal by value."""

    @property
    def name(self) -> str:
        """Unique name in the site's namespace."""
    @property
    def size(self) -> int:
        """Size in bytes (the sum of the entries for a book)."""
    @property
    def checksum(self) -> str:
        """Checksum text, e.g. ``"blake3:<64 hex>"``."""
    @property
    def kind(self) -> _FileKind:
        """``"file"`` or ``"directory"`` (a book)."""
    @property
    def uploader(self) -> str:
        """Who uploaded it."""
    @property
    def source(self) -> str:
        """The site it came from."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created at its origin, the site that first ingested it
        (timezone-aware, UTC): a clone or a drive keeps it. Never later than
        :attr:`arrived_at`."""
    @property
    def arrived_at(self) -> datetime.datetime:
        """When it was catalogued at this site (timezone-aware, UTC): equal to
        :attr:`created_at` for a file ingested here, its arrival for one that came
        from another site."""
    @property
    def instances(self) -> "list[Instance]":
        """Local copies."""
    @property
    def remote_instances(self) -> "list[RemoteInstance]":
        """Copies known to exist at other Librarians."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Instance:
    """A copy of a file on a local store."""

    @property
    def id(self) -> int:
        """Instance id."""
    @property
    def store(self) -> str:
        """Store name."""
    @property
    def path(self) -> pathlib.Path:
        """Absolute path of the copy."""
    @property
    def available(self) -> bool:
        """Whether the copy is readable."""
    @property
    def deletion_policy(self) -> _DeletionPolicy:
        """May automatic tasks delete this copy?"""
    @property
    def created_at(self) -> datetime.datetime:
        """When the copy was made (timezone-aware, UTC)."""
    @property
    def verified_at(self) -> Optional[datetime.datetime]:
        """When it was last re-read and found intact (UTC), or ``None``."""
    @property
    def state(self) -> _InstanceState:
        """What is known of its bytes: ``"ok"`` (then ``available``), ``"corrupt"``
        or ``"missing"`` (found so by a verify, scrub or get; kept until
        :meth:`Librarian.repair`), ``"deleting"`` then ``"deleted"`` (by
        :meth:`Librarian.drop` or rolling deletion: ``"deleting"`` from the commit
        until its bytes are gone) or ``"retired"`` (a delivered drive's copy)."""
    @property
    def state_reason(self) -> Optional[str]:
        """Why it is not ``"ok"``, when it is not."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class RemoteInstance:
    """A copy of a file at another Librarian."""

    @property
    def librarian(self) -> str:
        """The other site."""
    @property
    def store(self) -> str:
        """Its store."""
    @property
    def copied_at(self) -> datetime.datetime:
        """When it was copied there (timezone-aware, UTC)."""
    @property
    def verified_at(self) -> Optional[datetime.datetime]:
        """When it was last verified there (UTC), or ``None``."""
    @property
    def state(self) -> _RemoteState:
        """What the peer last answered when asked to re-verify it
        (:meth:`Librarian.verify_remote`): ``"ok"`` (also when never asked: it
        arrived intact), ``"corrupt"`` or ``"missing"``."""
    @property
    def checked_at(self) -> Optional[datetime.datetime]:
        """When the peer was last asked (timezone-aware, UTC), whatever it answered,
        or ``None``."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Store:
    """A store (staging area + data area on one filesystem) with its usage."""

    @property
    def name(self) -> str:
        """Store name."""
    @property
    def root(self) -> pathlib.Path:
        """Data area."""
    @property
    def staging(self) -> pathlib.Path:
        """Staging area."""
    @property
    def ingestable(self) -> bool:
        """New data may be uploaded here."""
    @property
    def enabled(self) -> bool:
        """Enabled."""
    @property
    def reserve_bytes(self) -> int:
        """Bytes of free space kept in reserve."""
    @property
    def files(self) -> int:
        """Instances on the store."""
    @property
    def used_bytes(self) -> int:
        """Bytes of those instances."""
    @property
    def free_bytes(self) -> Optional[int]:
        """Free bytes on its filesystem, or ``None`` when it cannot be reached."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class SiteStatus:
    """The site at a glance."""

    @property
    def site(self) -> str:
        """Site name."""
    @property
    def database(self) -> pathlib.Path:
        """The catalog database file."""
    @property
    def schema_version(self) -> int:
        """Catalog schema version."""
    @property
    def files(self) -> int:
        """Files catalogued."""
    @property
    def bytes(self) -> int:
        """Their bytes."""
    @property
    def ingests_in_progress(self) -> int:
        """Ingests between data commit and catalog commit right now (normally 0)."""
    @property
    def stores(self) -> "list[Store]":
        """The stores."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class InstanceCheck:
    """The check of one copy by :meth:`Librarian.verify` or :meth:`Librarian.scrub`."""

    @property
    def name(self) -> str:
        """File name."""
    @property
    def store(self) -> str:
        """Store name."""
    @property
    def instance(self) -> int:
        """Instance id."""
    @property
    def path(self) -> pathlib.Path:
        """Path checked."""
    @property
    def status(self) -> _CheckStatus:
        """Outcome."""
    @property
    def expected(self) -> str:
        """Checksum the catalog holds."""
    @property
    def actual(self) -> Optional[str]:
        """Checksum of what is on disk, when it could be computed."""
    @property
    def problems(self) -> "list[tuple[str, _EntryProblem]]":
        """For books: ``(entry, problem)`` for each bad entry."""
    @property
    def error(self) -> Optional[str]:
        """Error text when the copy was unreadable."""
    @property
    def state(self) -> _InstanceState:
        """The copy's state after the check, as recorded: ``"ok"``, or ``"corrupt"``
        / ``"missing"`` when the check found it so (a store that cannot be reached
        leaves the state as it was)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class VerifyReport:
    """The result of :meth:`Librarian.verify`, also the ``report`` of the
    ``ChecksumMismatch`` or ``DataMissing`` it raises."""

    @property
    def ok(self) -> bool:
        """True when every instance checked is intact and the catalog passed its own
        integrity check."""
    @property
    def checked(self) -> "list[InstanceCheck]":
        """One item per instance checked (intact ones too)."""
    @property
    def catalog_ok(self) -> bool:
        """True when the catalog database passed ``PRAGMA quick_check``."""
    @property
    def catalog_problems(self) -> list[str]:
        """What the catalog's integrity check found (empty when it passed)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Account:
    """An account that may call this site. Compares equal by value; holds no password."""

    @property
    def name(self) -> str:
        """Account name."""
    @property
    def level(self) -> _Level:
        """What it may do."""
    @property
    def peer(self) -> Optional[str]:
        """The peer it belongs to (always set for ``"callback"``), or ``None``."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created (timezone-aware, UTC)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Peer:
    """Another Librarian this site calls. Compares equal by value; holds no password."""

    @property
    def name(self) -> str:
        """The peer's site name."""
    @property
    def url(self) -> str:
        """Base URL of its shim, e.g. ``"https://librarian.example.org:8443"``."""
    @property
    def account(self) -> str:
        """The account this site uses there."""
    @property
    def transfers_enabled(self) -> bool:
        """Whether new transfers to it may start."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was added (timezone-aware, UTC)."""
    @property
    def protocol(self) -> _PeerProtocol:
        """The protocol it speaks: ``"librarian"``, or ``"original-v2"`` for a site
        that still runs the original Librarian."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class TaskOutcome:
    """How one background task's turn went. Compares equal by value."""

    @property
    def task(self) -> _TaskName:
        """Task name, e.g. ``"cleanup-staging"``."""
    @property
    def status(self) -> _TaskStatus:
        """What happened: ran (``"ok"``/``"failed"``), or why it did not run."""
    @property
    def message(self) -> str:
        """What the task reported, or why it did not run."""
    @property
    def started_at(self) -> Optional[datetime.datetime]:
        """When it started (timezone-aware, UTC), or ``None`` if it did not run."""
    @property
    def finished_at(self) -> Optional[datetime.datetime]:
        """When it finished (timezone-aware, UTC), or ``None`` if it did not run."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Event:
    """Something an operator must know about. Compares equal by value."""

    @property
    def id(self) -> int:
        """Event id (for :meth:`Librarian.clear_event`)."""
    @property
    def severity(self) -> _Severity:
        """How bad it is."""
    @property
    def category(self) -> _Category:
        """What it is about."""
    @property
    def subject(self) -> str:
        """Which object: a peer, a file name, or ``"peer/key"`` for a call."""
    @property
    def message(self) -> str:
        """What happened (the latest occurrence), for a person."""
    @property
    def count(self) -> int:
        """How many times it happened while open."""
    @property
    def created_at(self) -> datetime.datetime:
        """First seen (timezone-aware, UTC)."""
    @property
    def last_seen_at(self) -> datetime.datetime:
        """Last seen (timezone-aware, UTC)."""
    @property
    def cleared_at(self) -> Optional[datetime.datetime]:
        """When it was cleared (timezone-aware, UTC), or ``None`` while open."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class OutboxCall:
    """A call to a peer waiting in the outbox. Compares equal by value."""

    @property
    def id(self) -> int:
        """Its position in the outbox (calls to one peer are sent in this order)."""
    @property
    def peer(self) -> str:
        """The peer it goes to."""
    @property
    def key(self) -> str:
        """Its idempotency key (unique; the peer applies a key once)."""
    @property
    def kind(self) -> _CallKind:
        """What it asks: ``"holds"`` (this site holds a file), ``"staged"`` (a
        transfer's data is at the receiver), ``"complete"`` (the receiver committed
        it, e.g. after a SneakerNet import) or ``"fail"``."""
    @property
    def body(self) -> "dict[str, Any]":
        """The JSON body sent, as Python objects (a new ``dict`` on each access).
        For ``"holds"``: ``name``, ``checksum``, ``size``, ``store``, ``copied_at``."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was queued (timezone-aware, UTC)."""
    @property
    def attempts(self) -> int:
        """Failed delivery attempts so far."""
    @property
    def next_attempt_at(self) -> datetime.datetime:
        """Not sent before this time (timezone-aware, UTC)."""
    @property
    def last_error(self) -> Optional[str]:
        """Why the last attempt failed, or ``None``."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DeliveryReport:
    """What one :meth:`Librarian.deliver_outbox` run did. Compares equal by value."""

    @property
    def delivered(self) -> int:
        """Calls acknowledged by their peer and removed from the outbox."""
    @property
    def refused(self) -> int:
        """Calls refused for good, dropped and turned into ``"call_refused"`` events."""
    @property
    def postponed(self) -> int:
        """Calls postponed: their peer did not answer or refused us for now."""
    @property
    def waiting_peers(self) -> "list[str]":
        """Peers whose calls wait for a later attempt (backoff), or whose transfers
        are disabled."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Transfer:
    """One file's transfer between this site and a peer. Compares equal by value."""

    @property
    def id(self) -> int:
        """Its id here."""
    @property
    def direction(self) -> _Direction:
        """``"outgoing"`` (to the peer) or ``"incoming"`` (from it)."""
    @property
    def peer(self) -> str:
        """The other site."""
    @property
    def remote_id(self) -> Optional[int]:
        """The id of the same transfer at the peer, once known."""
    @property
    def file(self) -> str:
        """The file's name."""
    @property
    def size(self) -> int:
        """Its size in bytes."""
    @property
    def checksum(self) -> str:
        """Its checksum, e.g. ``"blake3:<64 hex>"``."""
    @property
    def kind(self) -> _FileKind:
        """``"file"`` or ``"directory"`` (a book)."""
    @property
    def uploader(self) -> str:
        """Who uploaded it at its source."""
    @property
    def source(self) -> str:
        """The site where it was first ingested."""
    @property
    def file_created_at(self) -> Optional[datetime.datetime]:
        """When the file was created there (timezone-aware, UTC), if known, as the
        sender gave it: what the receiver records as its ``created_at``, unless later
        than its arrival (then the arrival). ``None``: an older sender did not say."""
    @property
    def status(self) -> _TransferStatus:
        """Where the transfer is: ``"initiated"``, ``"ongoing"`` (data moving),
        ``"staged"`` (at the destination, not yet committed), or ended:
        ``"completed"``, ``"failed"`` (the file is planned again later) or
        ``"cancelled"``."""
    @property
    def manager(self) -> Optional[_Manager]:
        """What moves (moved) the bytes, once agreed, or ``None``."""
    @property
    def store(self) -> Optional[str]:
        """The store here: where the data comes from (outgoing) or goes to (incoming)."""
    @property
    def local_path(self) -> Optional[pathlib.Path]:
        """Outgoing: the copy read. Incoming: the staging directory the data arrives in."""
    @property
    def remote_path(self) -> Optional[str]:
        """Outgoing: where the peer wants the data."""
    @property
    def batch(self) -> Optional[int]:
        """The batch moving it (outgoing), or ``None``."""
    @property
    def created_at(self) -> datetime.datetime:
        """Created (timezone-aware, UTC)."""
    @property
    def updated_at(self) -> datetime.datetime:
        """Last changed (timezone-aware, UTC)."""
    @property
    def error_code(self) -> Optional[str]:
        """Why it failed, as a stable code (e.g. ``"peer_refused"``,
        ``"peer_unreachable"``, ``"checksum_mismatch"``, ``"conflict"``), or ``None``."""
    @property
    def error(self) -> Optional[str]:
        """Why it failed, for a person, or ``None``."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class SendReport:
    """What one :meth:`Librarian.send_clones` run did. Compares equal by value."""

    @property
    def offered(self) -> int:
        """Transfers offered to peers (none to a peer that did not answer the ping)."""
    @property
    def already_present(self) -> int:
        """Of those, already held by the peer (completed with no data moved)."""
    @property
    def refused(self) -> int:
        """Of those, refused by the peer."""
    @property
    def batches_started(self) -> int:
        """Batches started."""
    @property
    def staged(self) -> int:
        """Transfers whose data reached the peer's staging area."""
    @property
    def failed(self) -> int:
        """Transfers that failed in a batch."""
    @property
    def running(self) -> int:
        """Batches still running."""
    @property
    def skipped_peers(self) -> "list[str]":
        """Peers skipped: their transfers are disabled, or they did not answer the
        ping (no transfers were created for them), or they refused the offer."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class PlannedFile:
    """A file the next batch to a peer would send (:meth:`Librarian.plan_clones`).
    Compares equal by value."""

    @property
    def name(self) -> str:
        """The file's name."""
    @property
    def size(self) -> int:
        """Its size in bytes."""
    @property
    def checksum(self) -> str:
        """Its checksum, e.g. ``"blake3:<64 hex>"``."""
    @property
    def kind(self) -> _FileKind:
        """``"file"`` or ``"directory"`` (a book)."""
    @property
    def store(self) -> str:
        """The store of the copy that would be sent."""
    @property
    def path(self) -> pathlib.Path:
        """That copy's absolute path."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class LocalCloneReport:
    """What :meth:`Librarian.clone_local` did (or, for a dry run, would do).
    Compares equal by value."""

    @property
    def copied(self) -> int:
        """Files copied (and verified) onto the target store."""
    @property
    def bytes(self) -> int:
        """Their bytes."""
    @property
    def already_there(self) -> int:
        """Files of the source store the target already held."""
    @property
    def left_for_next_drive(self) -> int:
        """Files that did not fit above the target's reserve."""
    @property
    def failed(self) -> "list[tuple[str, str]]":
        """``(name, why)`` for each file that could not be copied (e.g. a corrupt
        source copy)."""
    @property
    def full(self) -> bool:
        """The target reached its reserve (or ran out of space) before every file fitted."""
    @property
    def planned(self) -> "list[str]":
        """Dry run: the names that would be copied, in order."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class ExportReport:
    """What :meth:`Librarian.sneakernet_export` did (or, for a dry run, would do).
    Compares equal by value."""

    @property
    def store(self) -> str:
        """The drive's store."""
    @property
    def destination(self) -> str:
        """The peer the drive goes to."""
    @property
    def drive(self) -> pathlib.Path:
        """The drive directory (the store's data area), where the manifest is."""
    @property
    def files(self) -> "list[str]":
        """Files and books in the manifest."""
    @property
    def bytes(self) -> int:
        """Their bytes."""
    @property
    def skipped(self) -> "list[str]":
        """Files with no transfer: already on their way to the destination by the network."""
    @property
    def held(self) -> "list[str]":
        """Files with no transfer: the destination already holds them (their drive
        copies are retired); empty with ``include_held=True``."""
    @property
    def dry_run(self) -> bool:
        """Nothing was written or changed."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DriveProblem:
    """One problem found on a drive (:attr:`DriveReport.problems`,
    :attr:`ImportReport.refused`). Compares equal by value."""

    @property
    def name(self) -> str:
        """The catalog name (or the path on the drive, for an extra file)."""
    @property
    def entry(self) -> Optional[str]:
        """The entry inside a book, if the problem is there."""
    @property
    def kind(self) -> _ProblemKind:
        """What is wrong: ``"altered"`` (the right size, other bytes),
        ``"truncated"``, ``"grown"``, ``"missing"``, ``"extra"`` (not in the
        manifest), ``"wrong_kind"`` (a file where a book is expected, or the
        reverse), ``"unreadable"``, ``"unsupported"`` (a symbolic link, FIFO,
        device or socket: never followed or read), ``"bad_entry"`` (an unusable or
        lying manifest line: ``..``, an absolute name, a name twice, entries that
        do not add up) or ``"manifest_altered"`` (the manifest does not match its
        digest)."""
    @property
    def detail(self) -> str:
        """Details for a person."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DriveReport:
    """The result of :func:`verify_drive`. Compares equal by value."""

    @property
    def drive(self) -> pathlib.Path:
        """The drive directory checked."""
    @property
    def site(self) -> str:
        """The exporting site."""
    @property
    def store(self) -> str:
        """Its store (the drive)."""
    @property
    def destination(self) -> str:
        """The peer the drive goes to (empty for an older Librarian's manifest)."""
    @property
    def legacy(self) -> bool:
        """The manifest is in the older Librarian's format."""
    @property
    def manifest_ok(self) -> Optional[bool]:
        """Whether the manifest matched its stored digest (``None`` for an older
        Librarian's manifest, which has none)."""
    @property
    def files(self) -> int:
        """Files and books in the manifest."""
    @property
    def bytes(self) -> int:
        """Their bytes."""
    @property
    def intact(self) -> int:
        """Files and books found intact."""
    @property
    def problems(self) -> "list[DriveProblem]":
        """Every problem found."""
    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class ImportReport:
    """What :meth:`Librarian.sneakernet_import` did (or, for a dry run, would do).
    Compares equal by value."""

    @property
    def drive(self) -> pathlib.Path:
        """The drive directory."""
    @property
    def site(self) -> str:
        """The exporting site."""
    @property
    def legacy(self) -> bool:
        """The manifest is in the older Librarian's format."""
    @property
    def manifest_ok(self) -> Optional[bool]:
        """Whether the manifest matched its digest (``None`` for an older
        Librarian's manifest)."""
    @property
    def imported(self) -> "list[str]":
        """Files and books ingested now (for a dry run: that would be)."""
    @property
    def already_present(self) -> "list[str]":
        """Already catalogued here with the same checksum (counted as done)."""
    @property
    def already_imported(self) -> "list[str]":
        """Imported by an earlier run of this import (nothing done)."""
    @property
    def refused(self) -> "list[DriveProblem]":
        """Refused, with why (bad data, conflicts, bad manifest lines)."""
    @property
    def callbacks_queued(self) -> int:
        """``"complete"`` calls queued in the outbox to the exporting site."""
    @property
    def dry_run(self) -> bool:
        """Nothing was changed."""
    @property
    def ok(self) -> bool:
        """True when nothing was refused and the manifest was intact."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class ScrubReport:
    """What one :meth:`Librarian.scrub` run read and found. Compares equal by value."""

    @property
    def ok(self) -> bool:
        """True when every copy read was intact and the catalog passed its own check."""
    @property
    def instances(self) -> int:
        """Copies re-read."""
    @property
    def bytes(self) -> int:
        """Bytes re-read."""
    @property
    def seconds(self) -> float:
        """Seconds the run took."""
    @property
    def stopped(self) -> _ScrubStop:
        """Why it stopped: ``"done"`` (every copy due was re-read), ``"bytes"`` (the
        byte budget was spent; the copy that crossed it was finished) or ``"time"``
        (the time budget was spent)."""
    @property
    def problems(self) -> "list[InstanceCheck]":
        """The copies found damaged (or unreadable), one check each, with their new
        ``state``."""
    @property
    def catalog_ok(self) -> bool:
        """True when the catalog database passed ``PRAGMA quick_check``."""
    @property
    def catalog_problems(self) -> "list[str]":
        """What the catalog's integrity check found (empty when it passed)."""
    @property
    def coverage(self) -> "list[StoreCoverage]":
        """Each store's coverage after the run."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class StoreCoverage:
    """One store's scrub coverage (:meth:`Librarian.coverage`,
    :attr:`ScrubReport.coverage`). Compares equal by value."""

    @property
    def store(self) -> str:
        """The store."""
    @property
    def instances(self) -> int:
        """Available copies on it."""
    @property
    def bytes(self) -> int:
        """Their bytes."""
    @property
    def overdue_instances(self) -> int:
        """Copies not re-read within the coverage target (``[scrub] cover_every``)."""
    @property
    def overdue_bytes(self) -> int:
        """Their bytes."""
    @property
    def oldest_verified_at(self) -> Optional[datetime.datetime]:
        """When its least recently verified copy was last re-read (timezone-aware,
        UTC), or ``None``."""
    @property
    def covered(self) -> float:
        """Fraction of its bytes re-read within the coverage target (``1.0`` when
        the store is empty)."""
    @property
    def damaged(self) -> int:
        """Copies found corrupt or missing, waiting for a repair."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class RepairReport:
    """What :meth:`Librarian.repair` did. Compares equal by value."""

    @property
    def name(self) -> str:
        """The file."""
    @property
    def ok(self) -> bool:
        """True when every damaged copy was repaired (or there was none)."""
    @property
    def repaired(self) -> "list[RepairedCopy]":
        """The copies replaced with verified bytes."""
    @property
    def failed(self) -> "list[RepairFailure]":
        """The copies still damaged, with why."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class RepairedCopy:
    """One damaged copy a repair replaced. Compares equal by value."""

    @property
    def store(self) -> str:
        """The store of the copy."""
    @property
    def instance(self) -> int:
        """Its instance id."""
    @property
    def was(self) -> _InstanceState:
        """What it was before: ``"corrupt"`` or ``"missing"``."""
    @property
    def source(self) -> str:
        """Where the good bytes came from: ``"store NAME"`` (another copy here) or
        ``"peer NAME"`` (the JSON field ``from``)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class RepairFailure:
    """A damaged copy a repair could not replace. Compares equal by value."""

    @property
    def store(self) -> str:
        """The store of the copy."""
    @property
    def instance(self) -> int:
        """Its instance id."""
    @property
    def reason(self) -> str:
        """Why: every source tried and what went wrong with it."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DeletionReport:
    """What :meth:`Librarian.drop` or :meth:`Librarian.rolling_deletion` did (or,
    with ``dry_run``, would do). Compares equal by value."""

    @property
    def store(self) -> str:
        """The store."""
    @property
    def dry_run(self) -> bool:
        """Nothing was changed."""
    @property
    def min_copies(self) -> int:
        """Remote copies required, re-verified within the window."""
    @property
    def items(self) -> "list[DeletionItem]":
        """Every copy considered, oldest first."""
    @property
    def deleted(self) -> int:
        """Copies deleted."""
    @property
    def bytes_freed(self) -> int:
        """Their bytes."""
    @property
    def peers_asked(self) -> "list[str]":
        """Peers asked to re-verify their copies (in a dry run: that would be asked)."""
    @property
    def problems(self) -> "list[str]":
        """What went wrong on the way (a peer that did not answer, bytes that could
        not be removed)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class DeletionItem:
    """One copy considered for deletion. Compares equal by value."""

    @property
    def name(self) -> str:
        """The file."""
    @property
    def store(self) -> str:
        """The store of the copy."""
    @property
    def instance(self) -> int:
        """The copy's instance id."""
    @property
    def size(self) -> int:
        """Its bytes."""
    @property
    def action(self) -> _DeletionAction:
        """``"delete"`` (deleted, or in a dry run would be), ``"keep"`` (not enough
        good copies elsewhere: ``reason`` says which are missing) or ``"verify"``
        (dry run only: would be deleted if the peers asked first confirm their
        copies)."""
    @property
    def done(self) -> bool:
        """True when the copy was deleted (never in a dry run)."""
    @property
    def reason(self) -> str:
        """Why, for a person."""
    @property
    def verified_copies(self) -> int:
        """Remote copies re-verified intact within the window."""
    @property
    def local_copies(self) -> int:
        """Other intact copies on this site's other stores."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class FileVerification:
    """A peer's answer about one file (:meth:`Librarian.verify_remote`). Compares
    equal by value."""

    @property
    def name(self) -> str:
        """The name asked about."""
    @property
    def present(self) -> bool:
        """Whether the peer catalogues the file."""
    @property
    def checksum(self) -> Optional[str]:
        """Its checksum there, or ``None``."""
    @property
    def size(self) -> Optional[int]:
        """Its size there, or ``None``."""
    @property
    def copies(self) -> "list[CopyCheck]":
        """Each copy the peer holds (damaged ones included), checked now."""
    @property
    def verified_at(self) -> datetime.datetime:
        """When the peer ran the checks (timezone-aware, UTC)."""
    @property
    def intact(self) -> bool:
        """True when at least one copy there was found intact."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class CopyCheck:
    """One copy at a peer, as the peer just found it (:attr:`FileVerification.copies`).
    Compares equal by value."""

    @property
    def store(self) -> str:
        """The store there."""
    @property
    def status(self) -> _CheckStatus:
        """What re-reading it found."""
    @property
    def state(self) -> _InstanceState:
        """The copy's state there after the check."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class OriginalImportReport:
    """What :meth:`Librarian.import_original` did (or, with ``dry_run``, would do).
    Compares equal by value."""

    @property
    def source(self) -> str:
        """The source (a URL without its password)."""
    @property
    def alembic_version(self) -> str:
        """The source's alembic head (the original's schema version)."""
    @property
    def original_site(self) -> Optional[str]:
        """The original site's name (from ``original_config``), or ``None``."""
    @property
    def dry_run(self) -> bool:
        """Nothing was written."""
    @property
    def source_rows(self) -> "dict[str, Optional[int]]":
        """The rows of the source per table (``None``: no such table there), keyed
        ``"files"``, ``"instances"``, ``"remote_instances"``, ``"users"``,
        ``"librarians"``, ``"stores"`` (``store_metadata``),
        ``"incoming_transfers"``, ``"outgoing_transfers"``, ``"clone_transfers"``,
        ``"send_queue"``, ``"completed_transfers"``, ``"corrupt_files"`` and
        ``"errors"``; a new ``dict`` on each access."""
    @property
    def added(self) -> "ImportTally":
        """Rows added to this site (with ``dry_run``: that would be)."""
    @property
    def present(self) -> "ImportTally":
        """Rows already here, identical (a second import adds nothing)."""
    @property
    def instance_states(self) -> "dict[str, int]":
        """Instances added, per state (``"ok"``, ``"corrupt"``, ``"missing"``,
        ``"retired"``, ``"deleted"``); a new ``dict`` on each access."""
    @property
    def skipped(self) -> "list[SkippedRow]":
        """Rows not imported, with why."""
    @property
    def in_flight(self) -> "list[InFlight]":
        """Transfers in flight in the original, and what became of each."""
    @property
    def not_carried(self) -> "list[tuple[str, int]]":
        """Kinds of rows this site has no place for, with their numbers."""
    @property
    def notes(self) -> "list[str]":
        """What an operator should know (mappings that change meaning)."""
    @property
    def conflicts(self) -> "list[ImportConflict]":
        """Names this site holds differently. Only ever non-empty in a dry run (a
        real import raises ``Conflict`` instead); then nothing would be written."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class ImportTally:
    """Rows of each kind an import added or found present
    (:attr:`OriginalImportReport.added`, :attr:`OriginalImportReport.present`).
    Compares equal by value."""

    @property
    def stores(self) -> int:
        """Stores."""
    @property
    def peers(self) -> int:
        """Peers."""
    @property
    def accounts(self) -> int:
        """Accounts."""
    @property
    def files(self) -> int:
        """Files (books included)."""
    @property
    def books(self) -> int:
        """Of them, books."""
    @property
    def instances(self) -> int:
        """Instances."""
    @property
    def remote_instances(self) -> int:
        """Remote instances."""
    @property
    def transfers(self) -> int:
        """Transfers (history and resumed)."""
    @property
    def events(self) -> int:
        """Events."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class SkippedRow:
    """A row of the original not imported, and why
    (:attr:`OriginalImportReport.skipped`). Compares equal by value."""

    @property
    def table(self) -> str:
        """The original's table."""
    @property
    def row(self) -> str:
        """The row (its id or name)."""
    @property
    def reason(self) -> str:
        """Why."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class InFlight:
    """A transfer in flight in the original at the import
    (:attr:`OriginalImportReport.in_flight`). Compares equal by value."""

    @property
    def direction(self) -> str:
        """``"outgoing"``, ``"incoming"`` (a clone received) or ``"upload"``."""
    @property
    def original_id(self) -> int:
        """Its id in the original."""
    @property
    def file(self) -> str:
        """The file."""
    @property
    def party(self) -> str:
        """The peer, or the uploading user."""
    @property
    def status(self) -> str:
        """Its status there, as the original spells it (e.g. ``"ONGOING"``)."""
    @property
    def action(self) -> _InFlightAction:
        """What the import did: ``"resumed"`` (carried on here with the original's
        id: a SneakerNet drive copy, which the receiver's import of the drive
        completes), ``"failed"`` (recorded here as failed, with why; the file is
        left for the next clone round or drive) or ``"not_carried"`` (an upload:
        not recorded; its staging directory is named in ``detail``)."""
    @property
    def detail(self) -> str:
        """Why, and what is left (a staging directory)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class ImportConflict:
    """A name this site already holds differently
    (:attr:`OriginalImportReport.conflicts`). Compares equal by value."""

    @property
    def kind(self) -> str:
        """``"store"``, ``"peer"``, ``"account"``, ``"file"`` or ``"transfer"``."""
    @property
    def name(self) -> str:
        """Its name (or id)."""
    @property
    def existing(self) -> str:
        """What this site holds."""
    @property
    def incoming(self) -> str:
        """What the original holds."""
    def __eq__(self, value: object, /) -> bool: ...

def verify_drive(path: _StrPath) -> DriveReport:
    """Check the drive at ``path`` against its manifest (``librarian sneakernet
    verify``); needs no site.

    Every byte is re-read; every missing, extra, truncated or altered file (and
    entry of a book) is reported in ``problems``, not raised. The drive can also be
    checked with no librarian at all: ``cd DRIVE && b3sum --check
    .librarian-b3sums.txt``.

    Raises:
        NotFound: ``path`` has no manifest (not a drive, or its manifest was
            deleted).
        InvalidArgument: the manifest is unreadable or of an unknown version.
    """

class LibrarianError(Exception):
    """Base class of every error raised by librarian.

    ``code`` is the stable machine-readable code of the error (the same as the
    CLI's ``--json`` error ``code``), e.g. ``"not_found"``.
    """

    code: str
    """The error's code; also a class attribute of each subclass
    (``"error"`` on ``LibrarianError`` itself)."""

class InvalidName(LibrarianError, ValueError):
    """A name broke the naming rules. ``code == "invalid_name"``."""

class NotFound(LibrarianError):
    """The file, store, path or configuration does not exist. ``code == "not_found"``."""

class AlreadyExists(LibrarianError):
    """The object exists already. ``code == "already_exists"``."""

class Conflict(LibrarianError):
    """The name is already catalogued with a different checksum (or, for
    :meth:`Librarian.import_original`, this site holds a name of the original
    differently). ``code == "conflict"``."""

class ChecksumMismatch(LibrarianError):
    """Data did not hash to the checksum it should have. ``code == "checksum_mismatch"``."""

    report: Optional[VerifyReport]
    """Raised by :meth:`Librarian.verify`: its whole report (which files, which
    copies, what is wrong, in ``report.checked``). ``None`` when the mismatch came
    from elsewhere (e.g. ``upload``'s ``expect_checksum``, ``get``) and after the
    exception was pickled (the report is not pickled)."""

class DataMissing(LibrarianError):
    """A catalogued copy (or entry of a book) is missing. ``code == "data_missing"``."""

    report: Optional[VerifyReport]
    """Raised by :meth:`Librarian.verify`: its whole report, as for
    :attr:`ChecksumMismatch.report`. ``None`` when raised elsewhere and after the
    exception was pickled."""

class StoreFull(LibrarianError):
    """No enabled, ingestable store has room. ``code == "store_full"``."""

class InvalidChecksum(LibrarianError, ValueError):
    """A checksum string could not be parsed. ``code == "invalid_checksum"``."""

class AlgorithmMismatch(LibrarianError, ValueError):
    """Checksums of different algorithms were compared (e.g. ``algorithm`` disagrees with
    ``expect_checksum``): the arguments were wrong, hence also a ``ValueError``.
    ``code == "algorithm_mismatch"``."""

class UnsupportedEntry(LibrarianError):
    """A book holds a symlink, socket, device or badly named entry. ``code == "unsupported_entry"``."""

class CrossDevice(LibrarianError):
    """``move=True`` but the source is on another filesystem. ``code == "cross_device"``."""

class Busy(LibrarianError):
    """Another live process is ingesting the same name. ``code == "busy"``."""

class Unauthorized(LibrarianError):
    """A name and password did not authenticate (unknown account or wrong password).
    ``code == "unauthorized"``."""

class ConfigError(LibrarianError):
    """A configuration file is missing, unreadable or malformed. ``code == "config"``."""

class SchemaTooNew(LibrarianError):
    """The database was written by a newer librarian. ``code == "schema_too_new"``."""

class InvalidArgument(LibrarianError, ValueError):
    """An argument is out of range or inconsistent. ``code == "invalid_argument"``."""

    argument: str
    """Which argument was refused (a parameter, option, configuration key or field),
    e.g. ``"interval"``, ``"page_size"``, ``"peer URL"``."""

class DatabaseError(LibrarianError):
    """The catalog database failed. ``code == "database"``."""

class IoError(LibrarianError):
    """A filesystem operation failed. ``code == "io"``."""

class PeerUnreachable(LibrarianError):
    """Another Librarian could not be reached. ``code == "peer_unreachable"``."""

class PeerRefused(LibrarianError):
    """Another Librarian answered and refused the call (its HTTP status and error code
    are in the message). ``code == "peer_refused"``."""

class Forbidden(LibrarianError):
    """The caller may not do this (e.g. a peer acting on another peer's transfer).
    ``code == "forbidden"``."""

class IllegalTransition(LibrarianError):
    """A transfer cannot take this step from the state it is in (e.g. a completed
    transfer told it failed). ``code == "illegal_transition"``."""

class CorruptData(LibrarianError):
    """Data read back from the catalog or a store does not parse (a damaged or
    hand-edited row, an unknown value in a column). Not a ``ValueError``: the
    arguments were not at fault. ``code == "corrupt"``."""

class InternalError(LibrarianError):
    """A bug or an environment failure (e.g. the password cannot be hashed). Not a
    ``ValueError``: the arguments were not at fault. ``code == "internal"``."""
