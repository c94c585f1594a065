//! Transfers between sites: the state machine, the transfer managers, and (in the
//! files beside this one) the sending and receiving sides of a clone.

mod config;
pub mod manager;
mod model;
mod payload;
mod receive;
mod reconcile;
pub mod rsync;
mod send;
pub mod state;

pub use config::{CloneConfig, LocalClone, SendTo};
pub use manager::{
    AsyncTransferManager, BatchItem, BatchProgress, LocalManager, ManagerKind, Synchronous, TransferManager,
};
pub use model::{Direction, Transfer};
pub(crate) use receive::call_digest;
pub use receive::{
    MAX_STAGE_ITEMS, StageItem, StageRequest, StageResponse, StageResult, TransferCall, ValidCall, ValidItem,
};
pub use reconcile::ReconcileReport;
pub use rsync::RsyncManager;
pub use send::{SendReport, manager_for};
pub use state::{TransferEvent, TransferStatus, next};
