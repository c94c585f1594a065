//! SneakerNet: data carried on drives. A drive is a store; `export` makes it describe
//! and prove its own contents (a manifest with its digest, `b3sum`/`sha256sum`
//! lists), `verify_drive` checks it with no catalog, and `import` ingests it at the
//! destination, queueing `complete` calls to the exporting site through the outbox.
//! See `docs/sneakernet.md`.

mod check;
mod export;
mod import;
pub mod manifest;

pub use check::{DriveProblem, DriveReport, ProblemKind, verify_drive};
pub use export::ExportReport;
pub use import::ImportReport;
pub use manifest::{Manifest, ManifestEntry, ManifestFile};
