//! Transfers between sites: the transfer managers and the sending and receiving
//! sides of a clone (the transfer state machine is a value type, in `model`).

pub(crate) mod globus;
pub mod manager;
pub(crate) mod payload;
pub(crate) mod receive;
pub(crate) mod reconcile;
pub mod rsync;
pub(crate) mod send;

pub use crate::model::{Direction, ManagerKind, TransferStatus};
pub use reconcile::ReconcileReport;
pub use send::{ClonePlan, PeerPlan, SendReport};
