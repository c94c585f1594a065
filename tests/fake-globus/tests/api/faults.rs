//! Fault injection: error answers, HTML bodies, dropped connections after commit.

use serde_json::json;

use crate::common::*;

#[test]
fn injected_429_with_retry_after() {
    let fake = Fake::start();
    let token = fake.token();
    let injection = json!({"method": "GET", "path_prefix": "/v0.10/task_list", "status": 429, "count": 2,
                           "retry_after": 1});
    fake.control("inject", &injection);
    for _ in 0..2 {
        let reply = fake.get("/v0.10/task_list", Some(&token));
        assert_eq!(reply.status, 429);
        assert_eq!(reply.header("Retry-After"), Some("1"));
        assert_eq!(reply.json["code"], "RateLimited");
        for key in ["message", "request_id", "resource"] {
            assert!(reply.json[key].is_string(), "{key} in {}", reply.text);
        }
    }
    assert_eq!(fake.get("/v0.10/task_list", Some(&token)).status, 200);
    // Other methods and paths were never affected, and injected answers are logged.
    let statuses: Vec<_> = fake.log().iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 429, 429, 200]);
}

#[test]
fn injections_apply_in_order_with_bodies_and_html() {
    let fake = Fake::start();
    let token = fake.token();
    fake.control("inject", &json!({"path_prefix": "/v0.10/", "status": 503}));
    fake.control("inject", &json!({"path_prefix": "/v0.10/", "status": 502}));
    fake.control("inject", &json!({"path_prefix": "/v0.10/", "status": 500, "html": true}));
    let custom = json!({"code": "ExternalError.Custom", "message": "custom"});
    fake.control("inject", &json!({"method": "GET", "path_prefix": "/v0.10/sub", "status": 500, "body": custom}));
    let first = fake.get("/v0.10/submission_id", Some(&token));
    assert_eq!((first.status, first.json["code"].as_str()), (503, Some("ServiceUnavailable")));
    let second = fake.get("/v0.10/submission_id", Some(&token));
    assert_eq!(
        (second.status, second.json["code"].as_str()),
        (502, Some("ExternalError.DirListingFailed.GCDisconnected"))
    );
    let third = fake.get("/v0.10/submission_id", Some(&token));
    assert_eq!(third.status, 500);
    assert!(third.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(third.text.contains("<html>"));
    let fourth = fake.get("/v0.10/submission_id", Some(&token));
    assert_eq!((fourth.status, fourth.json.clone()), (500, custom));
    assert_eq!(fake.get("/v0.10/submission_id", Some(&token)).status, 200);
    // The token endpoint can be injected too (an Auth outage).
    fake.control("inject", &json!({"method": "POST", "path_prefix": "/v2/oauth2/token", "status": 503}));
    let outage = fake.token_request(
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)],
    );
    assert_eq!(outage.status, 503);
}

#[test]
fn dropped_after_commit_then_resubmitted() {
    let fake = Fake::start();
    write(&fake.src, "a", b"payload");
    let token = fake.token();
    fake.control(
        "inject",
        &json!({"method": "POST", "path_prefix": "/v0.10/transfer", "drop_after_commit": true,
                                   "count": 1}),
    );
    let id = fake.submission_id(&token);
    let doc = transfer_document(&id, json!([file_item("/a", "/b")]));
    let lost = agent()
        .post(format!("{}/v0.10/transfer", fake.url))
        .header("Authorization", format!("Bearer {token}"))
        .content_type("application/json")
        .send(doc.to_string());
    assert!(lost.is_err(), "the client must see a connection error, got {lost:?}");
    let tasks = fake.tasks();
    assert_eq!(tasks.len(), 1, "the submission was committed");
    let task_id = tasks[0]["task_id"].as_str().unwrap().to_string();
    let log = fake.log();
    let last = log.last().unwrap();
    assert_eq!((last["path"].as_str(), last["status"].clone()), (Some("/v0.10/transfer"), serde_json::Value::Null));

    let retry = fake.post_json("/v0.10/transfer", Some(&token), &doc);
    assert_eq!((retry.status, retry.json["code"].as_str()), (200, Some("Duplicate")));
    assert_eq!(retry.json["task_id"], task_id.as_str());
    assert_eq!(fake.tasks().len(), 1);
    assert_eq!(fake.wait_terminal(&token, &task_id)["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(fake.dst.join("b")).unwrap(), b"payload");
}

#[test]
fn controls_refuse_bad_input() {
    let fake = Fake::start();
    for (path, body) in [
        ("scenario", json!({"mode": "sideways"})),
        ("scenario", json!({"mode": "slow"})),
        ("scenario", json!({"mode": "fail"})),
        ("inject", json!({"path_prefix": "/v0.10/"})),
        ("inject", json!({"status": 500})),
        ("resume", json!({"task_id": "nope"})),
        ("history_deleted", json!({"task_id": "nope"})),
    ] {
        let reply = fake.post_json(&format!("/_fake/{path}"), None, &body);
        assert!(reply.status == 400 || reply.status == 404, "{path} {body}: {}", reply.text);
    }
    assert!(fake.log().is_empty(), "/_fake/ calls are not logged");
}
