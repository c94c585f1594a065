//! # librarian-core
//!
//! Moves research data between sites and proves, byte for byte, that every copy is
//! intact. A site's [`Librarian`] keeps a catalog (SQLite) of immutable files and
//! directories ("books") held in stores on POSIX filesystems; every byte that enters
//! a store is hashed on the way in (BLAKE3 by default) and can be re-verified later.
//!
//! ```
//! use librarian_core::{FileName, Librarian, NoProgress, UploadOptions};
//! # fn main() -> Result<(), librarian_core::Error> {
//! let dir = tempfile::tempdir().map_err(|e| librarian_core::Error::internal(e.to_string()))?;
//! let lib = Librarian::init(&dir.path().join("site"), "site-a")?;
//! let src = dir.path().join("obs.dat");
//! std::fs::write(&src, b"photons").map_err(|e| librarian_core::Error::internal(e.to_string()))?;
//! let name = FileName::new("2026/11/obs.dat")?;
//! let up = lib.upload(&src, &name, &UploadOptions::default(), &NoProgress)?;
//! assert_eq!(up.file.size, 7);
//! assert!(lib.verify(&[name], None, &NoProgress)?.ok);
//! # Ok(()) }
//! ```
//!
//! Everything the CLI, the Python module and the HTTP shim do is a call into
//! this crate; see `docs/architecture.md` for the design.

/// `pub const ALL: [Self; N]`: every variant of a fieldless enum, in the order listed.
/// The list is also matched with no wildcard, so a variant added to the enum fails to
/// compile until it is listed here: `ALL` cannot miss one (and neither can what is built
/// from it: parsers, metrics, the Python module's `_LITERALS` that the stub is tested
/// against). Used inside the enum's `impl`. Defined before the modules so every layer
/// sees it without a `crate::` path.
macro_rules! all_variants {
    ($(#[$doc:meta])* $($variant:ident),+ $(,)?) => {
        $(#[$doc])*
        pub const ALL: [Self; [$(stringify!($variant)),+].len()] = {
            let _every_variant_is_listed: fn(Self) = |v| match v {
                $(Self::$variant)|+ => {}
            };
            [$(Self::$variant),+]
        };
    };
}

// Layers, bottom up; each module imports only from the layers below it (and, within
// the flows, from the flows listed before it). `docs/architecture.md` shows the graph;
// `tests/layers.rs` fails if an import points up.
//
// 0. Values: no I/O, no SQL.
mod checksum;
mod error;
mod model;
mod name;
mod name_rules;
mod progress;
mod text; // strings from peers and catalogs: checked, cleaned, escaped
// 1. Configuration: plain data, each section with its own `validate`.
mod config;
// 2. The catalog: the only SQL.
mod catalog;
// 3. Files, stores, processes and the network below any flow.
mod fault;
mod globus; // the Globus Auth and Transfer client
mod peer;
mod process;
mod store;
mod tls;
mod tree;
// 4. The site context the flows run over.
mod site;
// 5. Flows: functions over `&Site`.
mod access;
mod alerts; // events sent to the [alerts] sinks
mod deletion;
mod import_original; // `librarian import-original`: a site of the original Librarian
mod ingest;
mod metrics; // Prometheus text: /metrics and the textfile
mod original_v2; // peers still running the original Librarian: its /api/v2 clone calls
mod outbox;
mod queries;
mod rebuild;
mod remote_verify;
mod repair;
mod retrieve;
mod scrub;
mod sneakernet;
mod stores;
mod tasks;
mod transfers;
mod verify;
// 6. The facade: the whole public API in one place.
mod librarian;
// 7. The HTTP server, on top of the facade.
mod shim;

pub use access::PeerPing;
pub use alerts::AlertReport;
/// The original Librarian's catalog, read (issue 14): for the tests that compare its
/// SQLite and PostgreSQL backends. Not a stable API.
#[cfg(feature = "internals")]
pub use catalog::original;
pub use catalog::{AlertQueue, NewFile, PlanFilter, PlanItem, TaskRecord, record_intact};
#[cfg(feature = "internals")]
pub use catalog::{Catalog, IntentClaim};
pub use checksum::{Algorithm, Checksum, Entry, EntryKind, directory_digest, hash_bytes};
pub use config::{
    AlertSink, AlertsConfig, ClientConfig, CloneConfig, CommandSink, Config, DeletionConfig, GlobusConfig, LocalClone,
    OutboxConfig, ScrubConfig, SendTo, ServerConfig, SinkTarget, StoreCollection, TaskConfig, WebhookFormat,
    WebhookSink, locate as locate_config,
};
pub use error::{ERROR_CODES, Error, ErrorCode, ObjectKind, Result};
pub use import_original::ImportOriginalOptions;
pub use ingest::UploadOptions;
pub use librarian::Librarian;
pub use model::{
    Account, AlertBody, AlertDelivery, AlertKind, Budget, CallKind, CatalogCheck, Category, CheckStatus, CopyCheck,
    DEFAULT_STORE, DeletionAction, DeletionItem, DeletionPolicy, DeletionReport, Direction, EntryProblem,
    EntryProblemKind, Event, File, FileKind, FileVerification, GlobusAuthState, GlobusCheck, HoldsCall, ImportConflict,
    ImportTally, InFlight, InFlightAction, Instance, InstanceCheck, InstanceId, InstanceState, Level, MAX_VERIFY_NAMES,
    ManagerKind, NewEvent, OriginalCounts, OriginalImportReport, OutboxCall, Password, Peer, PeerProtocol, PeerQueue,
    PickleValue, RemoteInstance, RemoteState, RepairFailure, RepairReport, RepairedCopy, ScrubReport, ScrubStop,
    SearchPage, SearchQuery, Severity, SinkTest, SiteStatus, SkippedRow, StageItem, StageRequest, StageResponse,
    StageResult, StoreCoverage, StoreSpec, StoreStatus, TaskKind, TaskOutcome, TaskStatus, Transfer, TransferCall,
    TransferEvent, TransferStatus, Upload, UploadStatus, VerifyAnswer, VerifyReport, VerifyRequest,
    decrypt_authenticator, format_interval, parse_budget, parse_interval, parse_size, read_plain_pickle,
};
pub use name::{FileName, MAX_NAME_BYTES, MAX_SEGMENT_BYTES, NameError};
pub use outbox::DeliveryReport;
pub use progress::{NoProgress, Progress};
pub use rebuild::{RebuildOptions, RebuildReport};
pub use retrieve::Retrieved;
pub use scrub::ScrubOptions;
pub use shim::Shim;
pub use sneakernet::{
    DriveProblem, DriveReport, ExportReport, ImportReport, LocalCloneReport, ProblemKind, verify_drive,
};
pub use store::{PosixStore, Store};
pub use text::escape;
pub use transfers::{ClonePlan, PeerPlan, ReconcileReport, SendReport};

/// The one way a unit test gives up because a tool or privilege it needs is missing:
/// with `CI` set it panics (fails the test), since `.ci/run` installs the tools; without
/// it, it prints `SKIPPED: …` and the caller returns.
#[cfg(test)]
#[allow(clippy::panic)]
pub(crate) fn test_skip(what: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{what}: not skipped because CI is set (.ci/run installs b3sum, rsync and xxhsum)");
    }
    eprintln!("SKIPPED: {what}");
}
