//! `--state`: tasks survive a restart (a kill), tokens do not.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[test]
fn tasks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let options = Options { state: Some(state.clone()), ..Options::default() };
    let mut fake = Fake::start_in(dir.path(), options.clone(), None);
    for i in 0..5 {
        write(&fake.src, &format!("d/f{i}"), format!("file {i}").as_bytes());
    }
    write(&fake.src, "single", b"single");
    let token = fake.token();
    let done = fake.submit_ok(&token, json!([file_item("/single", "/single")]), json!({"label": "first"}));
    fake.wait_terminal(&token, &done);
    fake.control("scenario", &json!({"mode": "slow", "seconds": 3}));
    let id = fake.submission_id(&token);
    let doc = transfer_document(&id, json!([dir_item("/d/", "/e/")]));
    let accepted = fake.post_json("/v0.10/transfer", Some(&token), &doc);
    assert_eq!(accepted.status, 202);
    let running = accepted.json["task_id"].as_str().unwrap().to_string();
    fake.wait_for(&token, &running, Duration::from_secs(5), |t| t["status"] == "ACTIVE" && t["nice_status"] == "OK");
    fake.kill();
    assert!(state.exists());

    let fake = Fake::start_in(dir.path(), options, None);
    assert_eq!(fake.get("/v0.10/task_list", Some(&token)).status, 401, "tokens are not persisted");
    let token = fake.token();
    let finished = fake.task(&token, &done);
    assert_eq!((finished["status"].as_str(), finished["label"].as_str()), (Some("SUCCEEDED"), Some("first")));
    assert_eq!(finished["files_transferred"], 1);
    let again = fake.post_json("/v0.10/transfer", Some(&token), &doc);
    assert_eq!((again.status, again.json["task_id"].as_str()), (200, Some(running.as_str())));
    let task = fake.wait_terminal(&token, &running);
    assert_eq!(task["status"], "SUCCEEDED", "{task:#}");
    assert_eq!(task["files_transferred"], 5);
    assert_eq!(tree(&fake.src.join("d")), tree(&fake.dst.join("e")));
    assert_eq!(fake.tasks().len(), 2);
    let events = fake.events(&token, &running, "").json;
    assert_eq!(events["DATA"][0]["code"], "SUCCEEDED");
}
