//! The Transfer API v0.10 routes: Bearer check, `submission_id`, `transfer`, `task`,
//! `event_list`, `cancel` and `task_list` (reference §2, §6).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::errors::{ApiError, request_id};
use crate::http::{Request, Response};
use crate::runner;
use crate::server::{Fake, Inner};
use crate::tasks::Task;
use crate::transfer;

/// Offset paging: default and largest `limit` (reference §2.4).
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 1000;

pub fn handle(fake: &Arc<Fake>, request: &Request) -> Response {
    let resource = request.path.clone();
    match route(fake, request) {
        Ok(response) => response,
        Err(error) => error.response(&resource),
    }
}

fn route(fake: &Arc<Fake>, request: &Request) -> Result<Response, ApiError> {
    let client = fake
        .lock()
        .auth
        .bearer_client(request)
        .ok_or_else(|| ApiError::new(401, "AuthenticationFailed", "Token is not active"))?;
    let segments: Vec<&str> = request.path.trim_start_matches("/v0.10/").split('/').collect();
    let method = request.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["submission_id"]) => {
            let id = uuid::Uuid::new_v4().hyphenated().to_string();
            Ok(Response::json(200, &json!({"DATA_TYPE": "submission_id", "value": id})))
        }
        ("POST", ["transfer"]) => submit(fake, request, &client),
        ("GET", ["task", id]) => {
            let inner = fake.lock();
            Ok(Response::json(200, &owned(&inner, id, &client)?.document()))
        }
        ("GET", ["task", id, "event_list"]) => event_list(&fake.lock(), request, id, &client),
        ("POST", ["task", id, "cancel"]) => cancel(fake, request, id, &client),
        ("GET", ["task_list"]) => task_list(&fake.lock(), request, &client),
        (_, ["submission_id" | "transfer" | "task_list"] | ["task", _] | ["task", _, "event_list" | "cancel"]) => {
            Err(ApiError::new(405, "ClientError.BadMethod", format!("{method} is not allowed on {}", request.path)))
        }
        _ => Err(ApiError::new(404, "ClientError.NotFound", format!("No such resource: {}", request.path))),
    }
}

/// The task if it exists and belongs to `client`; else 404 `TaskNotFound`.
fn owned<'a>(inner: &'a Inner, task_id: &str, client: &str) -> Result<&'a Task, ApiError> {
    inner
        .task(task_id)
        .filter(|t| t.owner == client)
        .ok_or_else(|| ApiError::new(404, "TaskNotFound", format!("Task {task_id} not found")))
}

fn submit(fake: &Arc<Fake>, request: &Request, client: &str) -> Result<Response, ApiError> {
    if request.media_type().as_deref() != Some("application/json") {
        return Err(ApiError::bad_request("Content-Type must be application/json"));
    }
    let body: Value = serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let submission_id = transfer::submission_id(&body)?;
    let mut inner = fake.lock();
    // Submission ids are looked up per client (whether the real service scopes them
    // per user is unverified; answering with another user's task id would leak it).
    if let Some(task) = inner.tasks.iter().find(|t| t.submission_id == submission_id && t.owner == client) {
        return Ok(transfer::result(true, &submission_id, &task.task_id, &request.path));
    }
    let submission = transfer::validate(&body, |id| fake.settings.collections.contains_key(id))?;
    let pending = inner.tasks.iter().filter(|t| t.owner == client && !t.status.is_terminal()).count();
    if pending >= fake.settings.max_pending {
        // The code and status the real service uses for its pending-task limit are
        // unverified (reference §3).
        return Err(ApiError::new(
            409,
            "PolicyViolation.PendingTasksLimit",
            format!("Too many pending tasks: at most {} may be pending", fake.settings.max_pending),
        ));
    }
    let owner_id =
        inner.owners.entry(client.to_string()).or_insert_with(|| uuid::Uuid::new_v4().hyphenated().to_string()).clone();
    let scenario = inner.scenario.clone();
    let task = Task::new(submission, client, &owner_id, scenario);
    let task_id = task.task_id.clone();
    inner.tasks.push(task);
    fake.changed(&inner);
    drop(inner);
    runner::spawn(fake, &task_id);
    Ok(transfer::result(false, &submission_id, &task_id, &request.path))
}

/// `limit` and `offset` of an offset-paged call.
fn paging(request: &Request) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match request.query_param(name) {
            None => Ok(default),
            Some(text) => {
                text.parse().map_err(|_| ApiError::bad_request(format!("Invalid {name} '{text}': not an integer")))
            }
        }
    };
    let limit = number("limit", DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!("Invalid limit {limit}: must be from 1 to {MAX_LIMIT}")));
    }
    Ok((limit, number("offset", 0)?))
}

/// An offset-paged list document.
fn page(data_type: &str, all: Vec<Value>, limit: usize, offset: usize) -> Response {
    let total = all.len();
    let data: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    Response::json(
        200,
        &json!({"DATA_TYPE": data_type, "DATA": data.clone(), "length": data.len(), "limit": limit,
                "offset": offset, "total": total}),
    )
}

fn event_list(inner: &Inner, request: &Request, task_id: &str, client: &str) -> Result<Response, ApiError> {
    let task = owned(inner, task_id, client)?;
    if task.history_deleted {
        return Err(ApiError::new(409, "HistoryDeleted", format!("The history of task {task_id} has been deleted")));
    }
    let (limit, offset) = paging(request)?;
    let is_error = match request.query_param("filter").as_deref() {
        None | Some("") => None,
        Some("is_error:1" | "is_error:true") => Some(true),
        Some("is_error:0" | "is_error:false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid filter '{other}': only is_error:1 or is_error:0")));
        }
    };
    let events = task
        .events
        .iter()
        .rev()
        .filter(|e| is_error.is_none_or(|wanted| e.is_error == wanted))
        .map(|e| e.document())
        .collect();
    Ok(page("event_list", events, limit, offset))
}

fn cancel(fake: &Fake, request: &Request, task_id: &str, client: &str) -> Result<Response, ApiError> {
    let mut inner = fake.lock();
    owned(&inner, task_id, client)?;
    let Some(task) = inner.task_mut(task_id) else { return Err(ApiError::new(404, "TaskNotFound", "Task not found")) };
    let (code, message) = if task.status.is_terminal() {
        ("TaskComplete", "The task completed before the cancel request was processed.")
    } else {
        task.fail("CANCELED", "The task was canceled by the user");
        ("Canceled", "The task has been cancelled successfully.")
    };
    fake.changed(&inner);
    Ok(Response::json(
        200,
        &json!({"DATA_TYPE": "result", "code": code, "message": message, "resource": request.path,
                "request_id": request_id()}),
    ))
}

/// `filter=task_id:a,b/status:ACTIVE,INACTIVE/type:TRANSFER/label:~text`,
/// `orderby=request_time DESC|ASC` (the default is newest first).
fn task_list(inner: &Inner, request: &Request, client: &str) -> Result<Response, ApiError> {
    let (limit, offset) = paging(request)?;
    let mut clauses: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(filter) = request.query_param("filter").filter(|f| !f.is_empty()) {
        for clause in filter.split('/') {
            let Some((field, values)) = clause.split_once(':') else {
                return Err(ApiError::bad_request(format!("Invalid filter clause '{clause}': expected field:values")));
            };
            if !matches!(field, "task_id" | "status" | "type" | "label") {
                return Err(ApiError::bad_request(format!("Invalid filter field '{field}'")));
            }
            clauses.push((field.to_string(), values.split(',').map(str::to_string).collect()));
        }
    }
    let newest_first = match request.query_param("orderby").as_deref().map(str::trim) {
        None | Some("") | Some("request_time DESC") | Some("request_time desc") => true,
        Some("request_time" | "request_time ASC" | "request_time asc") => false,
        Some(other) => return Err(ApiError::bad_request(format!("Unsupported orderby '{other}'"))),
    };
    let matches = |task: &Task| {
        clauses.iter().all(|(field, values)| match field.as_str() {
            "task_id" => values.iter().any(|v| v.eq_ignore_ascii_case(&task.task_id)),
            "status" => values.iter().any(|v| v == task.status.as_str()),
            "type" => values.iter().any(|v| v == "TRANSFER"),
            _ => {
                let label = task.options.label.as_deref().unwrap_or("");
                values.iter().any(|v| match v.strip_prefix('~') {
                    Some(pattern) => label.contains(pattern.trim_matches('*')),
                    None => label == v,
                })
            }
        })
    };
    let mut tasks: Vec<&Task> = inner.tasks.iter().filter(|t| t.owner == client && matches(t)).collect();
    if newest_first {
        tasks.reverse();
    }
    Ok(page("task_list", tasks.into_iter().map(Task::document).collect(), limit, offset))
}
