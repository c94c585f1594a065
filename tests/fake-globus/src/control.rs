//! The test controls under `/_fake/` (not Globus API: no auth, JSON bodies): the
//! request log, the task list, scenarios, resume, fault injection, token revocation
//! and history deletion.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::{default_code, error_response};
use crate::http::{Request, Response};
use crate::server::Fake;
use crate::tasks::{Mode, Scenario, Status};

/// One `POST /_fake/inject`: the next `remaining` requests matching `method` and
/// `path_prefix` get this answer instead of theirs (or, with `drop_after_commit`,
/// theirs is computed and committed, then the connection is closed unanswered).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    #[serde(default)]
    pub method: Option<String>,
    pub path_prefix: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default = "one", rename = "count")]
    pub remaining: u32,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub html: bool,
    #[serde(default)]
    pub drop_after_commit: bool,
}

fn one() -> u32 {
    1
}

impl Injection {
    fn matches(&self, request: &Request) -> bool {
        self.remaining > 0
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
            && request.path.starts_with(&self.path_prefix)
    }

    /// The injected answer to a request for `resource`.
    pub fn response(&self, resource: &str) -> Response {
        let status = self.status.unwrap_or(500);
        let response = if self.html {
            let html = format!(
                "<html><head><title>{status} Internal Server Error</title></head>\
                 <body><h1>Internal Server Error</h1></body></html>"
            );
            Response {
                status,
                headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                body: html.into_bytes(),
            }
        } else if let Some(body) = &self.body {
            Response::json(status, body)
        } else {
            let code = default_code(status);
            error_response(status, code, &format!("Injected by the fake: {code}"), resource)
        };
        match self.retry_after {
            Some(seconds) => response.with_header("Retry-After", &seconds.to_string()),
            None => response,
        }
    }
}

/// Consumes one use of the first injection matching the request, in the order given.
pub fn take_injection(injections: &mut Vec<Injection>, request: &Request) -> Option<Injection> {
    let index = injections.iter().position(|i| i.matches(request))?;
    injections[index].remaining -= 1;
    let injection = injections[index].clone();
    if injections[index].remaining == 0 {
        injections.remove(index);
    }
    Some(injection)
}

pub fn handle(fake: &Fake, request: &Request) -> Response {
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return refuse(400, &format!("the body is not JSON: {e}")),
        }
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/_fake/log") => Response::json(200, &Value::Array(fake.lock().log.clone())),
        ("GET", "/_fake/tasks") => {
            let inner = fake.lock();
            let tasks: Vec<Value> = inner
                .tasks
                .iter()
                .map(|t| {
                    let mut doc = t.document();
                    doc["submission_id"] = json!(t.submission_id);
                    doc["owner"] = json!(t.owner);
                    doc["items"] = t.raw_items.clone();
                    doc["scenario"] = serde_json::to_value(&t.scenario).unwrap_or(Value::Null);
                    doc
                })
                .collect();
            Response::json(200, &Value::Array(tasks))
        }
        ("POST", "/_fake/scenario") => match scenario(&body) {
            Ok(scenario) => {
                fake.lock().scenario = scenario;
                ok()
            }
            Err(message) => refuse(400, &message),
        },
        ("POST", "/_fake/resume") => resume(fake, &body),
        ("POST", "/_fake/inject") => match serde_json::from_value::<Injection>(body) {
            Ok(injection) if injection.status.is_none() && !injection.drop_after_commit => {
                refuse(400, "an injection needs a status, or drop_after_commit")
            }
            Ok(injection) => {
                fake.lock().injections.push(injection);
                ok()
            }
            Err(e) => refuse(400, &format!("bad injection: {e}")),
        },
        ("POST", "/_fake/revoke") => {
            let revoked = fake.lock().auth.revoke_all();
            Response::json(200, &json!({"ok": true, "revoked": revoked}))
        }
        ("POST", "/_fake/history_deleted") => {
            let Some(task_id) = body.get("task_id").and_then(Value::as_str) else {
                return refuse(400, "history_deleted needs a task_id");
            };
            let mut inner = fake.lock();
            let Some(task) = inner.task_mut(task_id) else { return refuse(404, "no such task") };
            task.history_deleted = true;
            task.events.clear();
            fake.changed(&inner);
            ok()
        }
        _ => refuse(404, &format!("no control {} {}", request.method, request.path)),
    }
}

fn ok() -> Response {
    Response::json(200, &json!({"ok": true}))
}

fn refuse(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"ok": false, "error": message}))
}

/// `{"mode":"ok"|"slow"|"fail"|"inactive", "seconds", "code", "description", "faults"}`.
fn scenario(body: &Value) -> Result<Scenario, String> {
    let faults = match body.get("faults") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or("faults must be a small integer")?,
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let mode = match body.get("mode").and_then(Value::as_str) {
        Some("ok") => Mode::Ok,
        Some("slow") => {
            let seconds = body.get("seconds").and_then(Value::as_f64).ok_or("slow needs seconds")?;
            if !(0.0..=86400.0).contains(&seconds) {
                return Err("seconds must be from 0 to 86400".into());
            }
            Mode::Slow { seconds }
        }
        Some("fail") => Mode::Fail {
            code: text("code").ok_or("fail needs a code")?,
            description: text("description").unwrap_or_else(|| "The transfer failed".into()),
        },
        Some("inactive") => Mode::Inactive,
        _ => return Err("mode must be ok, slow, fail or inactive".into()),
    };
    Ok(Scenario { mode, faults })
}

/// `{"task_id": ...}` resumes that task; `{}` every INACTIVE task.
fn resume(fake: &Fake, body: &Value) -> Response {
    let wanted = body.get("task_id").and_then(Value::as_str);
    let mut inner = fake.lock();
    if let Some(id) = wanted
        && inner.task(id).is_none()
    {
        return refuse(404, "no such task");
    }
    let mut resumed = Vec::new();
    for task in inner.tasks.iter_mut() {
        if task.status == Status::Inactive && wanted.is_none_or(|id| id == task.task_id) {
            task.status = Status::Active;
            task.nice_status = Some("Queued".into());
            task.is_ok = Some(true);
            resumed.push(task.task_id.clone());
        }
    }
    fake.changed(&inner);
    Response::json(200, &json!({"ok": true, "resumed": resumed}))
}
