//! SneakerNet: data carried on drives. A drive is a store; `export` makes it describe
//! and prove its own contents (a manifest with its digest, `b3sum`/`sha256sum`
//! lists), `verify_drive` checks it with no catalog, and `import` ingests it at the
//! destination, queueing `complete` calls to the exporting site through the outbox.
//! See `docs/sneakernet.md`.

pub(crate) mod check;
pub(crate) mod export;
pub(crate) mod fill;
pub(crate) mod import;
pub mod manifest;
pub(crate) mod recycle;

pub use check::{DriveProblem, DriveReport, ProblemKind, verify_drive};
pub use export::ExportReport;
pub use fill::LocalCloneReport;
pub use import::ImportReport;
