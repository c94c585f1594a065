//! Scenarios (slow, fail, inactive, faults), cancel, event_list and history deletion.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// Ten 100 kB files in `src/many/`.
fn many_files(fake: &Fake) -> u64 {
    for i in 0..10 {
        write(&fake.src, &format!("many/f{i}"), &vec![i as u8; 100_000]);
    }
    10
}

#[test]
fn slow_tasks_stay_active_with_advancing_counters() {
    let fake = Fake::start();
    let files = many_files(&fake);
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "slow", "seconds": 2}));
    let started = Instant::now();
    let task_id = fake.submit_ok(&token, json!([dir_item("/many/", "/out/")]), json!({}));
    let partial = fake.wait_for(&token, &task_id, Duration::from_secs(10), |t| {
        t["files_transferred"].as_u64().is_some_and(|n| n > 0 && n < files)
    });
    assert_eq!(partial["status"], "ACTIVE");
    assert_eq!(partial["nice_status"], "OK");
    assert_eq!(partial["is_ok"], true);
    assert_eq!(partial["files"], files, "the directory is expanded before copying");
    assert_eq!(partial["completion_time"], serde_json::Value::Null);
    assert!(partial["bytes_transferred"].as_u64().unwrap() < files * 100_000);
    let done = fake.wait_terminal(&token, &task_id);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(done["bytes_transferred"], files * 100_000);
    assert_eq!(tree(&fake.src.join("many")), tree(&fake.dst.join("out")));
}

#[test]
fn failing_tasks_copy_nothing() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    let description = "Permission denied: /a";
    fake.control("scenario", &json!({"mode": "fail", "code": "PERMISSION_DENIED", "description": description}));
    let task_id = fake.submit_ok(&token, json!([file_item("/a", "/b")]), json!({}));
    let task = fake.wait_terminal(&token, &task_id);
    assert_eq!(task["status"], "FAILED");
    assert_eq!(task["fatal_error"], json!({"code": "PERMISSION_DENIED", "description": description}));
    assert_eq!((task["nice_status"].clone(), task["is_ok"].clone()), (json!(null), json!(null)));
    assert!(!fake.dst.join("b").exists());
    let errors = fake.events(&token, &task_id, "?filter=is_error:1").json;
    assert_eq!(errors["total"], 1);
    assert_eq!(errors["DATA"][0]["code"], "PERMISSION_DENIED");
    assert_eq!(errors["DATA"][0]["description"], description);
}

#[test]
fn inactive_tasks_wait_for_resume() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "inactive"}));
    let first = fake.submit_ok(&token, json!([file_item("/a", "/b1")]), json!({}));
    let second = fake.submit_ok(&token, json!([file_item("/a", "/b2")]), json!({}));
    std::thread::sleep(Duration::from_millis(300));
    for id in [&first, &second] {
        let task = fake.task(&token, id);
        assert_eq!(task["status"], "INACTIVE");
        assert_eq!(task["nice_status"], "Creds Expired");
        assert_eq!(task["is_ok"], false);
    }
    assert!(!fake.dst.join("b1").exists());
    assert_eq!(fake.control("resume", &json!({"task_id": first}))["resumed"], json!([first]));
    assert_eq!(fake.wait_terminal(&token, &first)["status"], "SUCCEEDED");
    assert_eq!(fake.task(&token, &second)["status"], "INACTIVE");
    fake.control("resume", &json!({}));
    assert_eq!(fake.wait_terminal(&token, &second)["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(fake.dst.join("b2")).unwrap(), b"a");
}

#[test]
fn cancel_stops_copying() {
    let fake = Fake::start();
    let files = many_files(&fake);
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "slow", "seconds": 5}));
    let task_id = fake.submit_ok(&token, json!([dir_item("/many/", "/out/")]), json!({}));
    fake.wait_for(&token, &task_id, Duration::from_secs(10), |t| t["files_transferred"].as_u64() > Some(0));
    let cancel = fake.post_json(&format!("/v0.10/task/{task_id}/cancel"), Some(&token), &json!({}));
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    assert_eq!(cancel.json["DATA_TYPE"], "result");
    assert_eq!(cancel.json["code"], "Canceled");
    let task = fake.task(&token, &task_id);
    assert_eq!(task["status"], "FAILED");
    assert_eq!(task["fatal_error"]["code"], "CANCELED");
    let copied = task["files_transferred"].as_u64().unwrap();
    assert!(copied < files);
    std::thread::sleep(Duration::from_millis(1200));
    let later = fake.task(&token, &task_id);
    assert_eq!(later["files_transferred"], copied, "nothing copied after the cancel");
    // A file whose copy was under way when the cancel came may land uncounted.
    let on_disk = tree(&fake.dst.join("out")).len() as u64;
    assert!(on_disk == copied || on_disk == copied + 1, "{on_disk} files on disk, {copied} counted");
    assert_eq!(fake.events(&token, &task_id, "").json["DATA"][0]["code"], "CANCELED");
    let again = fake.post_json(&format!("/v0.10/task/{task_id}/cancel"), Some(&token), &json!({}));
    assert_eq!((again.status, again.json["code"].as_str()), (200, Some("TaskComplete")));
}

#[test]
fn faults_are_reported_but_not_fatal() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "slow", "seconds": 2, "faults": 2}));
    let task_id = fake.submit_ok(&token, json!([file_item("/a", "/b")]), json!({}));
    let active = fake.wait_for(&token, &task_id, Duration::from_secs(5), |t| t["faults"] == 2);
    assert_eq!(active["status"], "ACTIVE");
    assert_eq!(active["nice_status"], "CONNECTION_RESET");
    assert_eq!(active["is_ok"], false);
    let done = fake.wait_terminal(&token, &task_id);
    assert_eq!((done["status"].as_str(), done["faults"].as_u64()), (Some("SUCCEEDED"), Some(2)));
    let errors = fake.events(&token, &task_id, "?filter=is_error:1").json;
    assert_eq!(errors["total"], 2);
    assert!(errors["DATA"].as_array().unwrap().iter().all(|e| e["code"] == "CONNECTION_RESET"));
    // Faults with a fatal mode: still FAILED at the end.
    fake.control("scenario", &json!({"mode": "fail", "code": "NO_SPACE_LEFT", "description": "full", "faults": 1}));
    let failing = fake.submit_ok(&token, json!([file_item("/a", "/c")]), json!({}));
    let failed = fake.wait_terminal(&token, &failing);
    assert_eq!((failed["status"].as_str(), failed["faults"].as_u64()), (Some("FAILED"), Some(1)));
    assert_eq!(failed["fatal_error"]["code"], "NO_SPACE_LEFT");
}

#[test]
fn event_list_pages_filters_and_history_deletion() {
    let fake = Fake::start();
    write(&fake.src, "a", b"a");
    let token = fake.token();
    fake.control("scenario", &json!({"mode": "ok", "faults": 3}));
    let task_id = fake.submit_ok(&token, json!([file_item("/a", "/b")]), json!({}));
    fake.wait_terminal(&token, &task_id);

    let all = fake.events(&token, &task_id, "").json;
    assert_eq!(all["DATA_TYPE"], "event_list");
    assert_eq!((all["total"].as_u64(), all["length"].as_u64(), all["limit"].as_u64()), (Some(5), Some(5), Some(10)));
    let codes: Vec<&str> = all["DATA"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["SUCCEEDED", "CONNECTION_RESET", "CONNECTION_RESET", "CONNECTION_RESET", "STARTED"]);
    let event = &all["DATA"][0];
    assert_eq!(event["DATA_TYPE"], "event");
    assert_eq!(event["is_error"], false);
    let time = event["time"].as_str().unwrap();
    assert!(time.len() == 25 && time.as_bytes()[10] == b' ' && time.ends_with("+00:00"), "{time}");

    let page = fake.events(&token, &task_id, "?limit=2&offset=3").json;
    assert_eq!((page["length"].as_u64(), page["offset"].as_u64(), page["total"].as_u64()), (Some(2), Some(3), Some(5)));
    assert_eq!(page["DATA"][1]["code"], "STARTED");
    let errors = fake.events(&token, &task_id, "?filter=is_error:1&limit=1").json;
    assert_eq!((errors["total"].as_u64(), errors["length"].as_u64()), (Some(3), Some(1)));
    let ok = fake.events(&token, &task_id, "?filter=is_error:0").json;
    assert_eq!(ok["total"], 2);
    assert_eq!(fake.events(&token, &task_id, "?limit=1001").status, 400);
    assert_eq!(fake.events(&token, &task_id, "?limit=1000").status, 200);

    fake.control("history_deleted", &json!({"task_id": task_id}));
    let deleted = fake.events(&token, &task_id, "");
    assert_eq!((deleted.status, deleted.json["code"].as_str()), (409, Some("HistoryDeleted")));
    assert_eq!(fake.task(&token, &task_id)["history_deleted"], true);
}
