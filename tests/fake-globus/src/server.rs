//! The shared state of the fake and the front door of every request: the request log,
//! fault injection, then routing to Auth, the Transfer API or the `/_fake/` controls.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::control::Injection;
use crate::errors::error_response;
use crate::http::{Outcome, Request, Response, decode_form};
use crate::tasks::{Scenario, Task};
use crate::{api, control, persist};

/// What does not change while the fake runs.
#[derive(Debug)]
pub struct Settings {
    /// Collection id (hyphenated, lower case) to its directory.
    pub collections: HashMap<String, PathBuf>,
    pub max_pending: usize,
    pub state_file: Option<PathBuf>,
}

/// Everything that changes, behind one lock.
#[derive(Debug)]
pub struct Inner {
    pub auth: Auth,
    /// In creation order.
    pub tasks: Vec<Task>,
    /// Client id to the `owner_id` its tasks carry.
    pub owners: BTreeMap<String, String>,
    /// One entry per API request (not `/_fake/` ones).
    pub log: Vec<Value>,
    pub injections: Vec<Injection>,
    /// The scenario of tasks created from now on.
    pub scenario: Scenario,
}

impl Inner {
    pub fn task(&self, task_id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.task_id == task_id)
    }

    pub fn task_mut(&mut self, task_id: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.task_id == task_id)
    }
}

#[derive(Debug)]
pub struct Fake {
    pub settings: Settings,
    inner: Mutex<Inner>,
    /// Signalled on every change a task runner may wait for (cancel, resume).
    pub changed: Condvar,
}

impl Fake {
    pub fn new(settings: Settings, inner: Inner) -> Self {
        Fake { settings, inner: Mutex::new(inner), changed: Condvar::new() }
    }

    /// The state. A thread that panicked while holding the lock leaves the state as
    /// it was; the fake carries on with it.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes the state file (with `--state`), and wakes the task runners.
    pub fn changed(&self, inner: &Inner) {
        if let Some(path) = &self.settings.state_file
            && let Err(e) = persist::save(path, inner)
        {
            eprintln!("fake-globus: cannot write the state file {}: {e}", path.display());
        }
        self.changed.notify_all();
    }

    /// Answers one request.
    pub fn handle(self: &Arc<Self>, request: &Request) -> Outcome {
        if request.path == "/_fake" || request.path.starts_with("/_fake/") {
            return Outcome::Respond(control::handle(self, request));
        }
        let (index, injection) = {
            let mut inner = self.lock();
            inner.log.push(log_entry(request));
            let index = inner.log.len() - 1;
            (index, control::take_injection(&mut inner.injections, request))
        };
        let outcome = match injection {
            Some(injection) if injection.drop_after_commit => {
                let _ = self.route(request);
                Outcome::Drop
            }
            Some(injection) => Outcome::Respond(injection.response(&request.path)),
            None => Outcome::Respond(self.route(request)),
        };
        let status = match &outcome {
            Outcome::Respond(response) => json!(response.status),
            Outcome::Drop => Value::Null,
        };
        if let Some(entry) = self.lock().log.get_mut(index) {
            entry["status"] = status;
        }
        outcome
    }

    fn route(self: &Arc<Self>, request: &Request) -> Response {
        if request.path == "/v2/oauth2/token" {
            return self.lock().auth.token_endpoint(request);
        }
        if request.path.starts_with("/v0.10/") {
            return api::handle(self, request);
        }
        error_response(404, "ClientError.NotFound", &format!("No such resource: {}", request.path), &request.path)
    }
}

/// The `/_fake/log` entry of a request (its `status` is filled in once answered).
fn log_entry(request: &Request) -> Value {
    let media_type = request.media_type();
    let body = if request.body.is_empty() {
        Value::Null
    } else if media_type.as_deref() == Some("application/x-www-form-urlencoded") {
        let fields: Map<String, Value> = decode_form(&String::from_utf8_lossy(&request.body))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        Value::Object(fields)
    } else {
        serde_json::from_slice(&request.body).unwrap_or(Value::Null)
    };
    json!({
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "authorization": request.header("authorization"),
        "content_type": request.header("content-type"),
        "body": body,
        "status": null,
    })
}
