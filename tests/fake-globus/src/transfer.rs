//! The transfer document of `POST /v0.10/transfer` (reference §2.2, §4.4, §6.4): its
//! validation into a [`Submission`], and the `transfer_result` answers.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, request_id};
use crate::http::Response;

/// Top-level keys a transfer document may carry (the ones the SDK emits, plus the
/// documented ones it does not). Any other key is refused, so a misspelt option fails
/// loudly here; whether the real service refuses unknown keys is unverified.
const DOCUMENT_KEYS: &[&str] = &[
    "DATA_TYPE",
    "DATA",
    "submission_id",
    "source_endpoint",
    "destination_endpoint",
    "label",
    "deadline",
    "sync_level",
    "verify_checksum",
    "preserve_timestamp",
    "encrypt_data",
    "skip_source_errors",
    "fail_on_quota_errors",
    "delete_destination_extra",
    "notify_on_succeeded",
    "notify_on_failed",
    "notify_on_inactive",
    "source_local_user",
    "destination_local_user",
    "filter_rules",
    "recursive_symlinks",
    "store_base_path_info",
];

const BOOLEAN_KEYS: &[&str] = &[
    "verify_checksum",
    "preserve_timestamp",
    "encrypt_data",
    "skip_source_errors",
    "fail_on_quota_errors",
    "delete_destination_extra",
    "notify_on_succeeded",
    "notify_on_failed",
    "notify_on_inactive",
    "store_base_path_info",
];

const ITEM_KEYS: &[&str] =
    &["DATA_TYPE", "source_path", "destination_path", "recursive", "external_checksum", "checksum_algorithm"];

/// One `transfer_item`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub source_path: String,
    pub destination_path: String,
    /// `None` when the item leaves it out: the source decides (inference).
    pub recursive: Option<bool>,
}

/// The options of an accepted transfer document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Options {
    pub label: Option<String>,
    pub deadline: Option<Timestamp>,
    pub sync_level: Option<u8>,
    pub verify_checksum: bool,
    pub preserve_timestamp: bool,
    pub encrypt_data: bool,
    pub skip_source_errors: bool,
    pub fail_on_quota_errors: bool,
    pub delete_destination_extra: bool,
}

/// A valid transfer document.
#[derive(Debug, Clone)]
pub struct Submission {
    pub submission_id: String,
    pub source: String,
    pub destination: String,
    pub options: Options,
    pub items: Vec<Item>,
    /// `DATA` exactly as submitted.
    pub raw_items: Value,
}

/// The body parsed far enough to look up its `submission_id` (checked first: a known
/// id answers `Duplicate` whatever the rest of the body says).
pub fn submission_id(body: &Value) -> Result<String, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    match object.get("submission_id") {
        Some(Value::String(id)) => match uuid::Uuid::parse_str(id) {
            Ok(uuid) => Ok(uuid.hyphenated().to_string()),
            Err(_) => Err(ApiError::bad_request(format!("Invalid submission_id '{id}': not a UUID"))),
        },
        None | Some(Value::Null) => Err(ApiError::bad_request("A transfer requires a submission_id")),
        Some(other) => Err(ApiError::bad_request(format!("Invalid submission_id {other}: must be a string"))),
    }
}

/// Validates a transfer document whose `submission_id` is new. `known` says whether a
/// collection id is served here.
pub fn validate(body: &Value, known: impl Fn(&str) -> bool) -> Result<Submission, ApiError> {
    let submission_id = submission_id(body)?;
    let Some(doc) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    match doc.get("DATA_TYPE") {
        Some(Value::String(t)) if t == "transfer" => {}
        Some(other) => return Err(ApiError::bad_request(format!("Invalid DATA_TYPE {other}: expected \"transfer\""))),
        None => return Err(ApiError::bad_request("Missing DATA_TYPE: expected \"transfer\"")),
    }
    if let Some(key) = doc.keys().find(|k| !DOCUMENT_KEYS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("'transfer' document has no property '{key}'")));
    }
    for key in BOOLEAN_KEYS {
        check_boolean(doc, key, "transfer")?;
    }
    let source = collection(doc, "source_endpoint", &known)?;
    let destination = collection(doc, "destination_endpoint", &known)?;
    let items = match doc.get("DATA") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(ApiError::new(
                400,
                "ClientError.BadRequest.NoTransferItems",
                "A transfer requires at least one item",
            ));
        }
        Some(_) => return Err(ApiError::bad_request("DATA must be a list of transfer_item documents")),
    };
    let items = items.iter().enumerate().map(|(i, item)| validate_item(i, item)).collect::<Result<Vec<_>, _>>()?;
    let options = Options {
        label: label(doc)?,
        deadline: deadline(doc)?,
        sync_level: sync_level(doc)?,
        verify_checksum: flag(doc, "verify_checksum"),
        preserve_timestamp: flag(doc, "preserve_timestamp"),
        encrypt_data: flag(doc, "encrypt_data"),
        skip_source_errors: flag(doc, "skip_source_errors"),
        fail_on_quota_errors: flag(doc, "fail_on_quota_errors"),
        delete_destination_extra: flag(doc, "delete_destination_extra"),
    };
    let raw_items = doc.get("DATA").cloned().unwrap_or(Value::Null);
    Ok(Submission { submission_id, source, destination, options, items, raw_items })
}

fn check_boolean(doc: &Map<String, Value>, key: &str, what: &str) -> Result<(), ApiError> {
    match doc.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!("Invalid {what} field {key}={other}: must be a boolean"))),
    }
}

fn flag(doc: &Map<String, Value>, key: &str) -> bool {
    doc.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn collection(doc: &Map<String, Value>, key: &str, known: impl Fn(&str) -> bool) -> Result<String, ApiError> {
    let id = match doc.get(key) {
        Some(Value::String(id)) => id,
        None | Some(Value::Null) => return Err(ApiError::bad_request(format!("A transfer requires {key}"))),
        Some(other) => return Err(ApiError::bad_request(format!("Invalid {key} {other}: must be a string"))),
    };
    let Ok(uuid) = uuid::Uuid::parse_str(id) else {
        return Err(ApiError::bad_request(format!("Invalid {key} '{id}': not a UUID")));
    };
    let id = uuid.hyphenated().to_string();
    if !known(&id) {
        return Err(ApiError::new(404, "EndpointNotFound", format!("No such endpoint with id '{id}'")));
    }
    Ok(id)
}

fn validate_item(index: usize, item: &Value) -> Result<Item, ApiError> {
    let Some(item) = item.as_object() else {
        return Err(ApiError::bad_request(format!("DATA[{index}] must be a transfer_item document")));
    };
    match item.get("DATA_TYPE") {
        Some(Value::String(t)) if t == "transfer_item" => {}
        other => {
            let got = other.map_or("nothing".to_string(), Value::to_string);
            return Err(ApiError::bad_request(format!(
                "DATA[{index}] has DATA_TYPE {got}: expected \"transfer_item\""
            )));
        }
    }
    if let Some(key) = item.keys().find(|k| !ITEM_KEYS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("'transfer_item' document has no property '{key}'")));
    }
    let path = |key: &str| -> Result<String, ApiError> {
        match item.get(key) {
            Some(Value::String(p)) if p.starts_with('/') && !p.contains('\0') => Ok(p.clone()),
            Some(Value::String(p)) => {
                Err(ApiError::bad_request(format!("DATA[{index}].{key} '{p}' is not an absolute path")))
            }
            None | Some(Value::Null) => Err(ApiError::bad_request(format!("DATA[{index}] requires {key}"))),
            Some(other) => Err(ApiError::bad_request(format!("DATA[{index}].{key} {other} must be a string"))),
        }
    };
    let source_path = path("source_path")?;
    let destination_path = path("destination_path")?;
    check_boolean(item, "recursive", "transfer_item")?;
    let recursive = item.get("recursive").and_then(Value::as_bool);
    for key in ["external_checksum", "checksum_algorithm"] {
        match item.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => return Err(ApiError::bad_request(format!("DATA[{index}].{key} {other} must be a string"))),
        }
    }
    match recursive {
        Some(true) => {
            if !source_path.ends_with('/') || !destination_path.ends_with('/') {
                return Err(ApiError::bad_request(format!(
                    "DATA[{index}] is recursive: source_path '{source_path}' and destination_path \
                     '{destination_path}' must both end with '/'"
                )));
            }
            if item.get("external_checksum").is_some_and(|c| !c.is_null()) {
                return Err(ApiError::bad_request(format!(
                    "DATA[{index}] is recursive: external_checksum cannot be used with directories"
                )));
            }
        }
        Some(false) if source_path.ends_with('/') || destination_path.ends_with('/') => {
            return Err(ApiError::bad_request(format!(
                "DATA[{index}] is a file (recursive false): source_path '{source_path}' and \
                 destination_path '{destination_path}' must not end with '/'"
            )));
        }
        Some(false) | None => {}
    }
    Ok(Item { source_path, destination_path, recursive })
}

fn label(doc: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match doc.get("label") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(label)) => {
            if label.chars().count() > 128 {
                Err(ApiError::bad_request("Invalid label: at most 128 characters"))
            } else if label.contains(['\n', '\r']) {
                Err(ApiError::bad_request("Invalid label: must not contain newlines"))
            } else if label.trim() != label {
                Err(ApiError::bad_request("Invalid label: must not start or end with whitespace"))
            } else {
                Ok(Some(label.clone()))
            }
        }
        Some(other) => Err(ApiError::bad_request(format!("Invalid label {other}: must be a string"))),
    }
}

fn sync_level(doc: &Map<String, Value>) -> Result<Option<u8>, ApiError> {
    match doc.get("sync_level") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(level @ 0..=3) => Ok(Some(level as u8)),
            _ => Err(ApiError::bad_request(format!("Invalid sync_level {n}: must be an integer from 0 to 3"))),
        },
        Some(other) => {
            Err(ApiError::bad_request(format!("Invalid sync_level {other}: must be an integer from 0 to 3")))
        }
    }
}

fn deadline(doc: &Map<String, Value>) -> Result<Option<Timestamp>, ApiError> {
    match doc.get("deadline") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_time(text)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid deadline '{text}': not an ISO 8601 time"))),
        Some(other) => Err(ApiError::bad_request(format!("Invalid deadline {other}: must be a string"))),
    }
}

/// An ISO 8601 time as the SDK documents deadlines (`2017-10-12 09:30Z`,
/// `2017-10-12 12:33:54+00:00`, Python's `str(datetime)`); one without an offset is UTC.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// 202 `Accepted` or 200 `Duplicate` (reference §2.2).
pub fn result(duplicate: bool, submission_id: &str, task_id: &str, resource: &str) -> Response {
    let (status, code, message) = if duplicate {
        (200, "Duplicate", "A transfer with id '{}' was already submitted")
    } else {
        (202, "Accepted", "The transfer has been accepted and a task has been created and queued for execution")
    };
    let body = json!({
        "DATA_TYPE": "transfer_result",
        "code": code,
        "message": message.replace("{}", submission_id),
        "request_id": request_id(),
        "resource": resource,
        "submission_id": submission_id,
        "task_id": task_id,
        "task_link": {
            "DATA_TYPE": "link",
            "href": format!("/v0.10/task/{task_id}?format=json"),
            "rel": "related",
            "resource": "task",
            "title": "related task",
        },
    });
    Response::json(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "aa752cea-8222-5bc8-acd9-555b090c0ccb";
    const DST: &str = "313ce13e-b597-5858-ae13-29e46fea26e6";

    fn doc(items: Value) -> Value {
        json!({"DATA_TYPE": "transfer", "submission_id": "f5cc79fd-dfc8-475e-b726-b96c734a484d",
               "source_endpoint": SRC, "destination_endpoint": DST, "DATA": items})
    }

    fn check(body: &Value) -> Result<Submission, ApiError> {
        validate(body, |id| id == SRC || id == DST)
    }

    #[test]
    fn accepts_the_sdk_shape() {
        let mut body = doc(json!([
            {"DATA_TYPE": "transfer_item", "source_path": "/d/", "destination_path": "/e/", "recursive": true},
            {"DATA_TYPE": "transfer_item", "source_path": "/a", "destination_path": "/b", "recursive": false,
             "external_checksum": "d41d8cd98f00b204e9800998ecf8427e", "checksum_algorithm": "MD5"},
            {"DATA_TYPE": "transfer_item", "source_path": "/a", "destination_path": "/c"},
        ]));
        body["sync_level"] = json!(0);
        body["label"] = json!("batch with obs_123");
        body["deadline"] = json!("2026-03-01 00:00:00+00:00");
        let s = check(&body).unwrap();
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.options.sync_level, Some(0));
        assert_eq!(s.items[2].recursive, None);
    }

    #[test]
    fn refusals() {
        let item = json!({"DATA_TYPE": "transfer_item", "source_path": "/a", "destination_path": "/b"});
        let code = |body: Value| check(&body).err().map(|e| (e.status, e.code));
        let bad = Some((400, "ClientError.BadRequest".to_string()));
        assert_eq!(code(doc(json!([]))), Some((400, "ClientError.BadRequest.NoTransferItems".into())));
        let mut unknown = doc(json!([item]));
        unknown["destination_endpoint"] = json!("00000000-0000-0000-0000-000000000000");
        assert_eq!(code(unknown), Some((404, "EndpointNotFound".into())));
        let mut relative = item.clone();
        relative["source_path"] = json!("a");
        assert_eq!(code(doc(json!([relative]))), bad);
        let mut dir = item.clone();
        dir["recursive"] = json!(true);
        assert_eq!(code(doc(json!([dir]))), bad);
        let mut file = item.clone();
        file["destination_path"] = json!("/b/");
        file["recursive"] = json!(false);
        assert_eq!(code(doc(json!([file]))), bad);
        let mut stringly = doc(json!([item]));
        stringly["verify_checksum"] = json!("true");
        assert_eq!(code(stringly), bad);
        for level in [json!("exists"), json!(4), json!(-1), json!(1.5)] {
            let mut body = doc(json!([item]));
            body["sync_level"] = level;
            assert_eq!(code(body), bad);
        }
        for label in ["x".repeat(129), "a\nb".into(), " a".into(), "a ".into()] {
            let mut body = doc(json!([item]));
            body["label"] = json!(label);
            assert_eq!(code(body), bad);
        }
        let mut late = doc(json!([item]));
        late["deadline"] = json!("tomorrow");
        assert_eq!(code(late), bad);
        let mut untyped = item.clone();
        untyped.as_object_mut().unwrap().remove("DATA_TYPE");
        assert_eq!(code(doc(json!([untyped]))), bad);
    }

    #[test]
    fn times() {
        for text in ["2017-10-12 09:30Z", "2017-10-12 12:33:54+00:00", "2017-10-12T12:33:54Z", "2017-10-12T12:33:54"] {
            assert!(parse_time(text).is_some(), "{text}");
        }
    }
}
