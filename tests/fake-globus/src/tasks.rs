//! Task state: what is stored per task (and persisted with `--state`), its task
//! document (reference §2.3), its events (§2.4) and the scenario it runs.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::transfer::{Item, Options, Submission};

/// How a task behaves, fixed when it is created (`POST /_fake/scenario`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scenario {
    pub mode: Mode,
    /// Non-fatal `CONNECTION_RESET` faults to report while it runs.
    pub faults: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    Ok,
    Slow { seconds: f64 },
    Fail { code: String, description: String },
    Inactive,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario { mode: Mode::Ok, faults: 0 }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Active,
    Inactive,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Inactive => "INACTIVE",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub code: String,
    pub is_error: bool,
    pub description: String,
    pub details: Option<String>,
    pub time: Timestamp,
}

impl Event {
    pub fn document(&self) -> Value {
        json!({
            "DATA_TYPE": "event",
            "code": self.code,
            "is_error": self.is_error,
            "description": self.description,
            "details": self.details,
            "time": event_time(self.time),
        })
    }
}

/// The counters a task document reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters {
    pub files: u64,
    pub directories: u64,
    pub files_skipped: u64,
    pub files_transferred: u64,
    pub bytes_transferred: u64,
    pub faults: u64,
    pub subtasks_total: u64,
    pub subtasks_succeeded: u64,
    pub subtasks_failed: u64,
    pub subtasks_canceled: u64,
    pub subtasks_expired: u64,
    pub subtasks_skipped_errors: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FatalError {
    pub code: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub task_id: String,
    pub submission_id: String,
    /// The client id that submitted it.
    pub owner: String,
    pub owner_id: String,
    pub source: String,
    pub destination: String,
    pub options: Options,
    pub items: Vec<Item>,
    /// `DATA` exactly as submitted.
    pub raw_items: Value,
    pub scenario: Scenario,
    pub status: Status,
    pub request_time: Timestamp,
    pub deadline: Timestamp,
    pub completion_time: Option<Timestamp>,
    pub counters: Counters,
    pub fatal_error: Option<FatalError>,
    pub nice_status: Option<String>,
    pub is_ok: Option<bool>,
    pub history_deleted: bool,
    /// Oldest first.
    pub events: Vec<Event>,
}

/// A transfer without a deadline gets 24 h (reference §4.7).
const DEFAULT_DEADLINE_SECS: i64 = 24 * 3600;

impl Task {
    pub fn new(submission: Submission, owner: &str, owner_id: &str, scenario: Scenario) -> Task {
        let now = Timestamp::now();
        let deadline =
            submission.options.deadline.unwrap_or_else(|| now + jiff::SignedDuration::from_secs(DEFAULT_DEADLINE_SECS));
        let inactive = scenario.mode == Mode::Inactive;
        Task {
            task_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            submission_id: submission.submission_id,
            owner: owner.to_string(),
            owner_id: owner_id.to_string(),
            source: submission.source,
            destination: submission.destination,
            options: submission.options,
            items: submission.items,
            raw_items: submission.raw_items,
            scenario,
            status: if inactive { Status::Inactive } else { Status::Active },
            request_time: now,
            deadline,
            completion_time: None,
            counters: Counters::default(),
            fatal_error: None,
            nice_status: Some(if inactive { "Creds Expired" } else { "Queued" }.to_string()),
            is_ok: Some(!inactive),
            history_deleted: false,
            events: Vec::new(),
        }
    }

    pub fn event(&mut self, code: &str, is_error: bool, description: &str, details: Option<String>) {
        self.events.push(Event {
            code: code.to_string(),
            is_error,
            description: description.to_string(),
            details,
            time: Timestamp::now(),
        });
    }

    /// Ends the task FAILED with this fatal error and a matching error event.
    pub fn fail(&mut self, code: &str, description: &str) {
        self.event(code, code != "CANCELED", description, None);
        self.fatal_error = Some(FatalError { code: code.to_string(), description: description.to_string() });
        let pending = self.subtasks_pending();
        if code == "CANCELED" {
            self.counters.subtasks_canceled += pending;
        } else if code == "EXPIRED" {
            self.counters.subtasks_expired += pending;
        } else {
            self.counters.subtasks_failed += pending.max(1);
        }
        self.finish(Status::Failed);
    }

    /// Ends the task SUCCEEDED.
    pub fn succeed(&mut self) {
        let details = json!({
            "files_succeeded": self.counters.files_transferred,
            "files_skipped": self.counters.files_skipped,
            "bytes_transferred": self.counters.bytes_transferred,
        });
        self.event("SUCCEEDED", false, "succeeded", Some(details.to_string()));
        self.finish(Status::Succeeded);
    }

    fn finish(&mut self, status: Status) {
        self.status = status;
        self.completion_time = Some(Timestamp::now());
        self.nice_status = None;
        self.is_ok = None;
    }

    pub fn subtasks_pending(&self) -> u64 {
        let c = &self.counters;
        let done = c.subtasks_succeeded
            + c.subtasks_failed
            + c.subtasks_canceled
            + c.subtasks_expired
            + c.subtasks_skipped_errors;
        c.subtasks_total.saturating_sub(done)
    }

    /// `bytes_transferred` over (completion time, or now, minus request time), the
    /// "simplistic calculation" of reference §2.3.
    pub fn effective_bytes_per_second(&self) -> u64 {
        let end = self.completion_time.unwrap_or_else(Timestamp::now);
        let seconds = end.duration_since(self.request_time).as_secs_f64().max(1e-3);
        (self.counters.bytes_transferred as f64 / seconds) as u64
    }

    /// The task document of `GET /v0.10/task/<id>`.
    pub fn document(&self) -> Value {
        let c = &self.counters;
        let running = !self.status.is_terminal();
        json!({
            "DATA_TYPE": "task",
            "task_id": self.task_id,
            "type": "TRANSFER",
            "status": self.status.as_str(),
            "label": self.options.label,
            "request_time": task_time(self.request_time),
            "completion_time": self.completion_time.map(task_time),
            "deadline": task_time(self.deadline),
            "source_endpoint": self.source,
            "source_endpoint_id": self.source,
            "source_endpoint_display_name": format!("fake collection {}", self.source),
            "destination_endpoint": self.destination,
            "destination_endpoint_id": self.destination,
            "destination_endpoint_display_name": format!("fake collection {}", self.destination),
            "bytes_transferred": c.bytes_transferred,
            "bytes_checksummed": 0,
            "effective_bytes_per_second": self.effective_bytes_per_second(),
            "files": c.files,
            "directories": c.directories,
            "files_skipped": c.files_skipped,
            "files_transferred": c.files_transferred,
            "symlinks": 0,
            "faults": c.faults,
            "fatal_error": self.fatal_error.as_ref().map(|f| json!({"code": f.code, "description": f.description})),
            "is_ok": self.is_ok,
            "is_paused": false,
            "history_deleted": self.history_deleted,
            "nice_status": self.nice_status,
            "nice_status_short_description": self.nice_status,
            "nice_status_details": null,
            "nice_status_expires_in": if running { json!(-1) } else { Value::Null },
            "subtasks_total": c.subtasks_total,
            "subtasks_pending": self.subtasks_pending(),
            "subtasks_succeeded": c.subtasks_succeeded,
            "subtasks_failed": c.subtasks_failed,
            "subtasks_retrying": 0,
            "subtasks_canceled": c.subtasks_canceled,
            "subtasks_expired": c.subtasks_expired,
            "subtasks_skipped_errors": c.subtasks_skipped_errors,
            "sync_level": self.options.sync_level,
            "verify_checksum": self.options.verify_checksum,
            "encrypt_data": self.options.encrypt_data,
            "preserve_timestamp": self.options.preserve_timestamp,
            "fail_on_quota_errors": self.options.fail_on_quota_errors,
            "skip_source_errors": self.options.skip_source_errors,
            "delete_destination_extra": self.options.delete_destination_extra,
            "filter_rules": null,
            "recursive_symlinks": "ignore",
            "canceled_by_admin": null,
            "canceled_by_admin_message": null,
            "command": "API 0.10",
            "owner_id": self.owner_id,
            "username": format!("u_{}", self.owner_id),
        })
    }
}

/// Task documents: `2022-01-26T19:18:20+00:00`.
pub fn task_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Event documents: `2014-07-08 18:50:18+00:00`.
pub fn event_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let ts: Timestamp = "2022-01-26T19:18:20.5Z".parse().unwrap();
        assert_eq!(task_time(ts), "2022-01-26T19:18:20+00:00");
        assert_eq!(event_time(ts), "2022-01-26 19:18:20+00:00");
    }

    #[test]
    fn scenario_serde() {
        let s: Mode = serde_json::from_value(json!({"mode": "slow", "seconds": 2.5})).unwrap();
        assert_eq!(s, Mode::Slow { seconds: 2.5 });
    }
}
