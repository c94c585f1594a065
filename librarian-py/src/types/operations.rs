//! Accounts, peers, tasks, events and the outbox.

use jiff::Timestamp;
use librarian_core::{Account, DeliveryReport, Event, OutboxCall, Peer, TaskOutcome};
use pyo3::prelude::*;

use super::r;

/// An account that may call this site (its password hash is never exposed).
#[pyclass(frozen, eq, module = "librarian", name = "Account")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyAccount(pub Account);

#[pymethods]
impl PyAccount {
    /// Account name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// `"admin"`, `"read-append"`, `"read-only"` or `"callback"`.
    #[getter]
    fn level(&self) -> &'static str {
        self.0.level.as_str()
    }
    /// The peer it belongs to, or `None`.
    #[getter]
    fn peer(&self) -> Option<String> {
        self.0.peer.clone()
    }
    /// When it was created (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Account(name={}, level={}, peer={}, created_at={})",
            r(py, &self.0.name),
            r(py, self.0.level.as_str()),
            self.0.peer.as_deref().map_or_else(|| "None".to_owned(), |p| r(py, p)),
            r(py, &self.0.created_at.to_string()),
        )
    }
}

/// Another Librarian this site calls (the password used there is never exposed).
#[pyclass(frozen, eq, module = "librarian", name = "Peer")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyPeer(pub Peer);

#[pymethods]
impl PyPeer {
    /// The peer's site name.
    #[getter]
    fn name(&self) -> String {
        self.0.name.clone()
    }
    /// Base URL of its shim.
    #[getter]
    fn url(&self) -> String {
        self.0.url.clone()
    }
    /// The account this site uses there.
    #[getter]
    fn account(&self) -> String {
        self.0.account.clone()
    }
    /// Whether new transfers to it may start.
    #[getter]
    fn transfers_enabled(&self) -> bool {
        self.0.transfers_enabled
    }
    /// When it was added (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// The protocol it speaks: `"librarian"` or `"original-v2"`.
    #[getter]
    fn protocol(&self) -> &'static str {
        self.0.protocol.as_str()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Peer(name={}, url={}, account={}, transfers_enabled={}, protocol={}, created_at={})",
            r(py, &self.0.name),
            r(py, &self.0.url),
            r(py, &self.0.account),
            if self.0.transfers_enabled { "True" } else { "False" },
            r(py, self.0.protocol.as_str()),
            r(py, &self.0.created_at.to_string()),
        )
    }
}

/// How one background task's turn went in `Librarian.run_tasks()`.
#[pyclass(frozen, eq, module = "librarian", name = "TaskOutcome")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyTaskOutcome(pub TaskOutcome);

#[pymethods]
impl PyTaskOutcome {
    /// Task name, e.g. "cleanup-staging".
    #[getter]
    fn task(&self) -> String {
        self.0.task.clone()
    }
    /// "ok", "failed", "degraded" (it ran but could not make all its progress: a peer
    /// did not answer, every drive is full), "not_due", "busy" (another run holds it)
    /// or "disabled".
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// What the task reported, or why it did not run.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    /// When it started (UTC), or `None` if it did not run.
    #[getter]
    fn started_at(&self) -> Option<Timestamp> {
        self.0.started_at
    }
    /// When it finished (UTC), or `None` if it did not run.
    #[getter]
    fn finished_at(&self) -> Option<Timestamp> {
        self.0.finished_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "TaskOutcome(task={}, status={}, message={})",
            r(py, &self.0.task),
            r(py, self.0.status.as_str()),
            r(py, &self.0.message)
        )
    }
}

/// Something an operator must know about (`Librarian.events()`).
#[pyclass(frozen, eq, module = "librarian", name = "Event")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyEvent(pub Event);

#[pymethods]
impl PyEvent {
    /// Event id (for `Librarian.clear_event`).
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// "info", "warning" or "error".
    #[getter]
    fn severity(&self) -> &'static str {
        self.0.severity.as_str()
    }
    /// "peer_unreachable", "peer_refused", "call_refused", "conflict", "transfer_failed",
    /// "store_full", "drive_done", "catalog_corrupt", "needs_attention",
    /// "instance_corrupt", "instance_missing" or "scrub_behind".
    #[getter]
    fn category(&self) -> &'static str {
        self.0.category.as_str()
    }
    /// Which object: a peer, a file name, or `peer/key`.
    #[getter]
    fn subject(&self) -> String {
        self.0.subject.clone()
    }
    /// What happened (the latest occurrence), for a person.
    #[getter]
    fn message(&self) -> String {
        self.0.message.clone()
    }
    /// How many times it happened while open.
    #[getter]
    fn count(&self) -> u64 {
        self.0.count
    }
    /// First seen (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// Last seen (UTC).
    #[getter]
    fn last_seen_at(&self) -> Timestamp {
        self.0.last_seen_at
    }
    /// When it was cleared (UTC), or `None` while open.
    #[getter]
    fn cleared_at(&self) -> Option<Timestamp> {
        self.0.cleared_at
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Event(id={}, severity={}, category={}, subject={}, count={}, cleared={})",
            self.0.id,
            r(py, self.0.severity.as_str()),
            r(py, self.0.category.as_str()),
            r(py, &self.0.subject),
            self.0.count,
            if self.0.cleared_at.is_some() { "True" } else { "False" },
        )
    }
}

/// A call to a peer waiting in the outbox (`Librarian.outbox()`).
#[pyclass(frozen, eq, module = "librarian", name = "OutboxCall")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyOutboxCall(pub OutboxCall);

#[pymethods]
impl PyOutboxCall {
    /// Its position in the outbox (calls to one peer go in this order).
    #[getter]
    fn id(&self) -> i64 {
        self.0.id
    }
    /// The peer it goes to.
    #[getter]
    fn peer(&self) -> String {
        self.0.peer.clone()
    }
    /// Its idempotency key.
    #[getter]
    fn key(&self) -> String {
        self.0.key.clone()
    }
    /// What it asks, e.g. "holds".
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// The JSON body sent, as Python objects (a new `dict` on each access).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.0.body.to_string(),))
    }
    /// When it was queued (UTC).
    #[getter]
    fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    /// Failed delivery attempts so far.
    #[getter]
    fn attempts(&self) -> u64 {
        self.0.attempts
    }
    /// Not sent before this time (UTC).
    #[getter]
    fn next_attempt_at(&self) -> Timestamp {
        self.0.next_attempt_at
    }
    /// Why the last attempt failed, or `None`.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.0.last_error.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "OutboxCall(id={}, peer={}, kind={}, key={}, attempts={}, next_attempt_at={})",
            self.0.id,
            r(py, &self.0.peer),
            r(py, self.0.kind.as_str()),
            r(py, &self.0.key),
            self.0.attempts,
            r(py, &self.0.next_attempt_at.to_string()),
        )
    }
}

/// What one `Librarian.deliver_outbox()` run did.
#[pyclass(frozen, eq, module = "librarian", name = "DeliveryReport")]
#[derive(Debug, Clone, PartialEq)]
pub struct PyDeliveryReport(pub DeliveryReport);

#[pymethods]
impl PyDeliveryReport {
    /// Calls acknowledged by their peer and removed.
    #[getter]
    fn delivered(&self) -> u64 {
        self.0.delivered
    }
    /// Calls refused for good, dropped and turned into events.
    #[getter]
    fn refused(&self) -> u64 {
        self.0.refused
    }
    /// Calls postponed: their peer did not answer or refused us for now.
    #[getter]
    fn postponed(&self) -> u64 {
        self.0.postponed
    }
    /// Peers whose calls wait for a later attempt, or whose transfers are disabled.
    #[getter]
    fn waiting_peers(&self) -> Vec<String> {
        self.0.waiting_peers.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let waiting: Vec<String> = self.0.waiting_peers.iter().map(|p| r(py, p)).collect();
        format!(
            "DeliveryReport(delivered={}, refused={}, postponed={}, waiting_peers=[{}])",
            self.0.delivered,
            self.0.refused,
            self.0.postponed,
            waiting.join(", "),
        )
    }
}
