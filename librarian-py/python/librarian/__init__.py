"""librarian: move research data between sites and verify every byte.

A site's :class:`Librarian` keeps a catalog of immutable files and directories
("books") held in stores on POSIX filesystems; every byte is hashed on the way in
and can be re-verified later. All the work is done by the Rust core
(``librarian-core``); long calls release the GIL.

>>> import librarian
>>> lib = librarian.Librarian.init("site", name="site-a")        # doctest: +SKIP
>>> f = lib.upload("raw/obs_0001.dat", "2026/11/obs_0001.dat")    # doctest: +SKIP
>>> lib.verify(f.name)                                           # doctest: +SKIP
"""

from ._librarian import (
    Account,
    AlgorithmMismatch,
    AlreadyExists,
    Busy,
    ChecksumMismatch,
    ConfigError,
    Conflict,
    CrossDevice,
    DatabaseError,
    DataMissing,
    DeliveryReport,
    Event,
    File,
    Forbidden,
    IllegalTransition,
    Instance,
    InstanceCheck,
    InvalidArgument,
    InvalidChecksum,
    InvalidName,
    IoError,
    Librarian,
    LibrarianError,
    NotFound,
    OutboxCall,
    Peer,
    PeerRefused,
    PeerUnreachable,
    PlannedFile,
    RemoteInstance,
    SchemaTooNew,
    SendReport,
    SiteStatus,
    Store,
    StoreFull,
    TaskOutcome,
    Transfer,
    Unauthorized,
    UnsupportedEntry,
    VerifyReport,
    __version__,
)

__all__ = [
    "__version__",
    # the site
    "Librarian",
    # results
    "File",
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
    # errors
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
]
