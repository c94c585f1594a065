//! Submitting transfers: real copies, Duplicate, validation, task documents, task_list.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::common::*;

/// `YYYY-MM-DDTHH:MM:SS+00:00`.
fn is_task_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let b = text.as_bytes();
    text.len() == 25 && text.ends_with("+00:00") && b[4] == b'-' && b[10] == b'T' && b[13] == b':'
}

#[test]
fn files_and_a_directory_are_copied() {
    let fake = Fake::start();
    write(&fake.src, "store/a.fits", b"alpha bytes");
    write(&fake.src, "store/obs 123/raw data.bin", &vec![7u8; 300_000]);
    write(&fake.src, "store/obs 123/sous-répertoire/ñandú ✓.txt", "unicode ✓".as_bytes());
    write(&fake.src, "store/obs 123/empty", b"");
    std::fs::create_dir_all(fake.src.join("store/obs 123/empty dir")).unwrap();
    let token = fake.token();
    let items = json!([
        file_item("/store/a.fits", "/staging/9f1c/a.fits"),
        dir_item("/store/obs 123/", "/staging/77aa/obs 123/"),
    ]);
    let extra = json!({"label": "batch with obs_123", "verify_checksum": true, "encrypt_data": true,
                       "notify_on_succeeded": false, "skip_source_errors": false, "fail_on_quota_errors": true});
    let task_id = fake.submit_ok(&token, items, extra);
    let task = fake.wait_terminal(&token, &task_id);
    assert_eq!(task["status"], "SUCCEEDED", "{task:#}");

    assert_eq!(std::fs::read(fake.dst.join("staging/9f1c/a.fits")).unwrap(), b"alpha bytes");
    assert_eq!(tree(&fake.src.join("store/obs 123")), tree(&fake.dst.join("staging/77aa/obs 123")));
    assert!(fake.dst.join("staging/77aa/obs 123/empty dir").is_dir());

    let expected_bytes = 11 + 300_000 + "unicode ✓".len() as u64;
    for (field, value) in [
        ("DATA_TYPE", json!("task")),
        ("task_id", json!(task_id)),
        ("type", json!("TRANSFER")),
        ("label", json!("batch with obs_123")),
        ("source_endpoint_id", json!(SRC)),
        ("destination_endpoint_id", json!(DST)),
        ("files", json!(4)),
        ("directories", json!(3)),
        ("files_transferred", json!(4)),
        ("files_skipped", json!(0)),
        ("bytes_transferred", json!(expected_bytes)),
        ("faults", json!(0)),
        ("fatal_error", Value::Null),
        ("is_ok", Value::Null),
        ("nice_status", Value::Null),
        ("nice_status_short_description", Value::Null),
        ("is_paused", json!(false)),
        ("history_deleted", json!(false)),
        ("subtasks_pending", json!(0)),
        ("sync_level", Value::Null),
        ("verify_checksum", json!(true)),
        ("encrypt_data", json!(true)),
        ("preserve_timestamp", json!(false)),
        ("command", json!("API 0.10")),
    ] {
        assert_eq!(task[field], value, "{field} in {task:#}");
    }
    for field in ["request_time", "completion_time", "deadline"] {
        assert!(is_task_time(&task[field]), "{field}: {}", task[field]);
    }
    assert!(task["effective_bytes_per_second"].as_u64().unwrap() > 0);
    assert!(task["owner_id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));

    let events = fake.events(&token, &task_id, "");
    assert_eq!(events.json["DATA"][0]["code"], "SUCCEEDED", "newest first: {:#}", events.json);
}

#[test]
fn a_known_submission_id_is_a_duplicate() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    let id = fake.submission_id(&token);
    let doc = transfer_document(&id, json!([file_item("/a", "/b")]));
    let first = fake.post_json("/v0.10/transfer", Some(&token), &doc);
    assert_eq!(first.status, 202, "{}", first.text);
    let task_id = first.json["task_id"].as_str().unwrap().to_string();
    for key in ["DATA_TYPE", "code", "message", "request_id", "resource", "submission_id", "task_id", "task_link"] {
        assert!(first.json.get(key).is_some(), "{key} missing from {:#}", first.json);
    }
    assert_eq!(first.json["DATA_TYPE"], "transfer_result");
    assert_eq!(first.json["resource"], "/v0.10/transfer");
    assert_eq!(first.json["submission_id"], id.as_str());
    assert_eq!(first.json["task_link"]["href"], format!("/v0.10/task/{task_id}?format=json"));
    fake.wait_terminal(&token, &task_id);

    // Same id, other body: the body is ignored, the task is unchanged.
    let other = transfer_document(&id, json!([file_item("/zzz", "/yyy")]));
    for body in [&doc, &other] {
        let again = fake.post_json("/v0.10/transfer", Some(&token), body);
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.json["code"], "Duplicate");
        assert_eq!(again.json["task_id"], task_id.as_str());
    }
    let tasks = fake.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["submission_id"], id.as_str());
    assert_eq!(tasks[0]["owner"], CLIENT_ID);
    assert_eq!(tasks[0]["items"], json!([file_item("/a", "/b")]));
    assert_eq!(tasks[0]["status"], "SUCCEEDED");
}

/// A change that spoils a good transfer document.
type Change = Box<dyn Fn(&mut Value)>;

#[test]
fn invalid_documents_are_refused() {
    let fake = Fake::start();
    let token = fake.token();
    let good_item = file_item("/a", "/b");
    let cases: Vec<(&str, Change, u16, &str)> = vec![
        ("no items", Box::new(|d| d["DATA"] = json!([])), 400, "ClientError.BadRequest.NoTransferItems"),
        ("wrong DATA_TYPE", Box::new(|d| d["DATA_TYPE"] = json!("delete")), 400, "ClientError.BadRequest"),
        (
            "no DATA_TYPE",
            Box::new(|d| drop(d.as_object_mut().unwrap().remove("DATA_TYPE"))),
            400,
            "ClientError.BadRequest",
        ),
        ("submission_id not a UUID", Box::new(|d| d["submission_id"] = json!("abc")), 400, "ClientError.BadRequest"),
        (
            "no submission_id",
            Box::new(|d| drop(d.as_object_mut().unwrap().remove("submission_id"))),
            400,
            "ClientError.BadRequest",
        ),
        (
            "unknown source",
            Box::new(|d| d["source_endpoint"] = json!("00000000-0000-4000-8000-000000000000")),
            404,
            "EndpointNotFound",
        ),
        (
            "unknown destination",
            Box::new(|d| d["destination_endpoint"] = json!("00000000-0000-4000-8000-000000000001")),
            404,
            "EndpointNotFound",
        ),
        (
            "item without DATA_TYPE",
            Box::new(|d| drop(d["DATA"][0].as_object_mut().unwrap().remove("DATA_TYPE"))),
            400,
            "ClientError.BadRequest",
        ),
        ("relative source", Box::new(|d| d["DATA"][0]["source_path"] = json!("a")), 400, "ClientError.BadRequest"),
        (
            "relative destination",
            Box::new(|d| d["DATA"][0]["destination_path"] = json!("b")),
            400,
            "ClientError.BadRequest",
        ),
        (
            "recursive without slash",
            Box::new(|d| d["DATA"][0]["recursive"] = json!(true)),
            400,
            "ClientError.BadRequest",
        ),
        (
            "file with slash",
            Box::new(|d| d["DATA"][0]["destination_path"] = json!("/b/")),
            400,
            "ClientError.BadRequest",
        ),
        (
            "recursive as string",
            Box::new(|d| d["DATA"][0]["recursive"] = json!("false")),
            400,
            "ClientError.BadRequest",
        ),
        ("boolean as string", Box::new(|d| d["verify_checksum"] = json!("true")), 400, "ClientError.BadRequest"),
        ("boolean as number", Box::new(|d| d["preserve_timestamp"] = json!(1)), 400, "ClientError.BadRequest"),
        ("sync_level as name", Box::new(|d| d["sync_level"] = json!("exists")), 400, "ClientError.BadRequest"),
        ("sync_level too high", Box::new(|d| d["sync_level"] = json!(4)), 400, "ClientError.BadRequest"),
        ("label too long", Box::new(|d| d["label"] = json!("x".repeat(129))), 400, "ClientError.BadRequest"),
        ("label with newline", Box::new(|d| d["label"] = json!("a\nb")), 400, "ClientError.BadRequest"),
        ("label with edge space", Box::new(|d| d["label"] = json!("batch ")), 400, "ClientError.BadRequest"),
        ("bad deadline", Box::new(|d| d["deadline"] = json!("next tuesday")), 400, "ClientError.BadRequest"),
        ("unknown field", Box::new(|d| d["source_endpoint_id"] = json!(SRC)), 400, "ClientError.BadRequest"),
    ];
    for (name, change, status, code) in cases {
        let mut doc = transfer_document(&fake.submission_id(&token), json!([good_item.clone()]));
        change(&mut doc);
        let reply = fake.post_json("/v0.10/transfer", Some(&token), &doc);
        assert_eq!((reply.status, reply.json["code"].as_str()), (status, Some(code)), "{name}: {}", reply.text);
        assert!(reply.json["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}");
        assert_eq!(reply.json["resource"], "/v0.10/transfer", "{name}");
        assert_eq!(reply.header("X-Transfer-API-Error"), Some(code), "{name}");
    }
    let empty =
        fake.post_json("/v0.10/transfer", Some(&token), &transfer_document(&fake.submission_id(&token), json!([])));
    assert_eq!(empty.json["message"], "A transfer requires at least one item");

    // Form-encoded or untyped bodies are refused: Transfer takes JSON only.
    let doc = transfer_document(&fake.submission_id(&token), json!([good_item]));
    let form = agent()
        .post(format!("{}/v0.10/transfer", fake.url))
        .header("Authorization", format!("Bearer {token}"))
        .content_type("application/x-www-form-urlencoded")
        .send(doc.to_string())
        .unwrap();
    assert_eq!(form.status().as_u16(), 400);
    // A label at the limit, null options and an ISO deadline are fine.
    let mut fine = transfer_document(&fake.submission_id(&token), json!([file_item("/a", "/b")]));
    fine["label"] = json!("x".repeat(128));
    fine["sync_level"] = Value::Null;
    fine["deadline"] = json!("2999-10-12 09:30Z");
    assert_eq!(fake.post_json("/v0.10/transfer", Some(&token), &fine).status, 202);
    assert_eq!(fake.tasks().len(), 1, "no refused document made a task");
}

#[test]
fn sync_level_exists_skips_and_timestamps_are_kept() {
    let fake = Fake::start();
    write(&fake.src, "d/new", b"new");
    write(&fake.src, "d/old", b"source version");
    write(&fake.dst, "e/old", b"destination version");
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    std::fs::File::options().write(true).open(fake.src.join("d/new")).unwrap().set_modified(old).unwrap();
    let token = fake.token();
    let extra = json!({"sync_level": 0, "preserve_timestamp": true});
    let task_id = fake.submit_ok(&token, json!([dir_item("/d/", "/e/")]), extra);
    let task = fake.wait_terminal(&token, &task_id);
    assert_eq!(task["status"], "SUCCEEDED");
    assert_eq!((task["files"].as_u64(), task["files_skipped"].as_u64()), (Some(2), Some(1)));
    assert_eq!(task["files_transferred"], 1);
    assert_eq!(task["bytes_transferred"], 3);
    assert_eq!(task["sync_level"], 0);
    assert_eq!(std::fs::read(fake.dst.join("e/old")).unwrap(), b"destination version");
    assert_eq!(std::fs::metadata(fake.dst.join("e/new")).unwrap().modified().unwrap(), old);

    // Without sync_level the file is overwritten.
    let task_id = fake.submit_ok(&token, json!([dir_item("/d/", "/e/")]), json!({}));
    assert_eq!(fake.wait_terminal(&token, &task_id)["files_transferred"], 2);
    assert_eq!(std::fs::read(fake.dst.join("e/old")).unwrap(), b"source version");
}

#[test]
fn a_missing_source_fails_the_task() {
    let fake = Fake::start();
    let token = fake.token();
    let task_id = fake.submit_ok(&token, json!([file_item("/no/such file", "/x")]), json!({}));
    let task = fake.wait_terminal(&token, &task_id);
    assert_eq!(task["status"], "FAILED");
    assert_eq!(
        task["fatal_error"],
        json!({"code": "FILE_NOT_FOUND", "description": "No such file or directory: /no/such file"})
    );
    assert!(is_task_time(&task["completion_time"]));
    let errors = fake.events(&token, &task_id, "?filter=is_error:1");
    assert_eq!(errors.json["DATA"][0]["code"], "FILE_NOT_FOUND");
    assert_eq!(errors.json["DATA"][0]["is_error"], true);
}

#[test]
fn tasks_belong_to_their_client() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    let task_id = fake.submit_ok(&token, json!([file_item("/a", "/b")]), json!({}));
    let other = fake.token_of(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET);
    for path in [format!("/v0.10/task/{task_id}"), format!("/v0.10/task/{task_id}/event_list")] {
        let reply = fake.get(&path, Some(&other));
        assert_eq!((reply.status, reply.json["code"].as_str()), (404, Some("TaskNotFound")), "{path}");
    }
    let cancel = fake.post_json(&format!("/v0.10/task/{task_id}/cancel"), Some(&other), &json!({}));
    assert_eq!(cancel.status, 404);
    assert_eq!(fake.get("/v0.10/task_list", Some(&other)).json["total"], 0);
    let unknown = fake.get("/v0.10/task/00000000-0000-4000-8000-000000000000", Some(&token));
    assert_eq!((unknown.status, unknown.json["code"].as_str()), (404, Some("TaskNotFound")));
}

#[test]
fn task_list_filters_and_pages() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let id =
                fake.submit_ok(&token, json!([file_item("/a", &format!("/b{i}"))]), json!({"label": format!("n{i}")}));
            fake.wait_terminal(&token, &id);
            id
        })
        .collect();
    fake.control("scenario", &json!({"mode": "inactive"}));
    let inactive = fake.submit_ok(&token, json!([file_item("/a", "/c")]), json!({}));

    let all = fake.get("/v0.10/task_list", Some(&token)).json;
    assert_eq!(
        (all["DATA_TYPE"].as_str(), all["total"].as_u64(), all["length"].as_u64()),
        (Some("task_list"), Some(4), Some(4))
    );
    assert_eq!((all["limit"].as_u64(), all["offset"].as_u64()), (Some(10), Some(0)));
    assert_eq!(all["DATA"][0]["task_id"], inactive.as_str(), "newest first");

    let page = fake.get("/v0.10/task_list?limit=2&offset=1", Some(&token)).json;
    assert_eq!((page["length"].as_u64(), page["total"].as_u64(), page["offset"].as_u64()), (Some(2), Some(4), Some(1)));
    assert_eq!(page["DATA"][0]["task_id"], ids[2].as_str());

    let filter = format!("task_id:{},{}/status:SUCCEEDED,FAILED", ids[0], inactive);
    let picked = fake.get(&format!("/v0.10/task_list?filter={}", encode(&filter)), Some(&token)).json;
    assert_eq!(picked["total"], 1);
    assert_eq!(picked["DATA"][0]["task_id"], ids[0].as_str());
    let active = fake.get("/v0.10/task_list?filter=status:ACTIVE,INACTIVE", Some(&token)).json;
    assert_eq!(active["total"], 1);
    assert_eq!(active["DATA"][0]["status"], "INACTIVE");
    assert_eq!(fake.get("/v0.10/task_list?limit=1001", Some(&token)).status, 400);
    assert_eq!(fake.get("/v0.10/task_list?filter=bogus:1", Some(&token)).status, 400);
}

#[test]
fn the_pending_limit_answers_409() {
    let fake = Fake::start_with(Options { max_pending: Some(2), ..Options::default() });
    write(&fake.src, "a", b"a");
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "inactive"}));
    let first = fake.submit_ok(&token, json!([file_item("/a", "/b1")]), json!({}));
    fake.submit_ok(&token, json!([file_item("/a", "/b2")]), json!({}));
    let third = fake.submit(&token, json!([file_item("/a", "/b3")]), json!({}));
    assert_eq!((third.status, third.json["code"].as_str()), (409, Some("PolicyViolation.PendingTasksLimit")));
    // Another client has its own limit; a finished task frees a place.
    let other = fake.token_of(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET);
    assert_eq!(fake.submit(&other, json!([file_item("/a", "/c")]), json!({})).status, 202);
    let cancel = fake.post_json(&format!("/v0.10/task/{first}/cancel"), Some(&token), &json!({}));
    assert_eq!(cancel.json["code"], "Canceled");
    assert_eq!(fake.submit(&token, json!([file_item("/a", "/b4")]), json!({})).status, 202);
}
