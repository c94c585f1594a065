//! The official Python SDK (globus-sdk 4.10.0) drives the fake: runs
//! `sdk_drives_fake.py` with the Python named by `LIBRARIAN_GLOBUS_PYTHON`, then checks
//! through `/_fake/log` that the SDK's requests had the shapes the reference describes.
//! Without that variable the test prints SKIPPED, or fails when `CI` is set.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use serde_json::Value;

use crate::common::*;

const PYTHON_VAR: &str = "LIBRARIAN_GLOBUS_PYTHON";

#[test]
fn the_official_sdk_drives_the_fake() {
    let Some(python) = std::env::var_os(PYTHON_VAR).filter(|v| !v.is_empty()) else {
        let missing = format!(
            "{PYTHON_VAR} is not set: it names a Python with globus-sdk==4.10.0 \
             (python3 -m venv /tmp/venv-globus && /tmp/venv-globus/bin/pip install globus-sdk==4.10.0)"
        );
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("{missing}");
        }
        println!("SKIPPED: {missing}");
        return;
    };
    let fake = Fake::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk_drives_fake.py");
    let output = Command::new(&python)
        .arg(script)
        .env("GLOBUS_SDK_SERVICE_URL_AUTH", format!("{}/", fake.url))
        .env("GLOBUS_SDK_SERVICE_URL_TRANSFER", format!("{}/", fake.url))
        .env_remove("GLOBUS_SDK_ENVIRONMENT")
        .env("FAKE_URL", &fake.url)
        .env("FAKE_SRC_DIR", &fake.src)
        .env("FAKE_DST_DIR", &fake.dst)
        .env("SRC_COLLECTION", SRC)
        .env("DST_COLLECTION", DST)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("NATIVE_CLIENT_ID", NATIVE_CLIENT_ID)
        .env("REFRESH_TOKEN", REFRESH_TOKEN)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.to_string_lossy()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "sdk_drives_fake.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}\n{stderr}");
    check_request_shapes(&fake.log());
}

/// Basic on the confidential token calls, Bearer on every /v0.10 call (never a
/// secret), and the submission documents as §2.2 describes.
fn check_request_shapes(log: &[Value]) {
    let token_calls: Vec<&Value> = log.iter().filter(|e| e["path"] == "/v2/oauth2/token").collect();
    assert!(token_calls.len() >= 4, "{token_calls:#?}");
    for call in &token_calls {
        assert_eq!(call["method"], "POST");
        assert_eq!(call["content_type"], "application/x-www-form-urlencoded");
        match call["body"]["grant_type"].as_str() {
            Some("client_credentials") => {
                assert!(call["authorization"].as_str().unwrap().starts_with("Basic "), "{call:#}");
                assert_eq!(call["body"]["scope"], TRANSFER_SCOPE, "{call:#}");
            }
            Some("refresh_token") => {
                assert_eq!(call["authorization"], Value::Null, "{call:#}");
                assert_eq!(call["body"]["client_id"], NATIVE_CLIENT_ID, "{call:#}");
                assert_eq!(call["body"]["refresh_token"], REFRESH_TOKEN, "{call:#}");
            }
            other => panic!("unexpected grant {other:?}: {call:#}"),
        }
    }
    let api: Vec<&Value> = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/v0.10/")).collect();
    assert!(api.len() >= 10, "{api:#?}");
    for call in &api {
        let authorization = call["authorization"].as_str().unwrap_or("");
        assert!(authorization.starts_with("Bearer "), "{call:#}");
        assert!(!authorization.contains(CLIENT_SECRET), "{call:#}");
    }
    let submissions: Vec<&Value> =
        api.iter().copied().filter(|e| e["path"] == "/v0.10/transfer" && e["method"] == "POST").collect();
    assert!(submissions.len() >= 3, "{submissions:#?}");
    for call in &submissions {
        assert!(call["content_type"].as_str().unwrap().starts_with("application/json"), "{call:#}");
        let doc = &call["body"];
        assert_eq!(doc["DATA_TYPE"], "transfer", "{call:#}");
        assert!(doc["submission_id"].is_string(), "the SDK fills in a submission_id: {call:#}");
        for item in doc["DATA"].as_array().unwrap() {
            assert_eq!(item["DATA_TYPE"], "transfer_item", "{call:#}");
            assert!(item["recursive"].is_boolean(), "{call:#}");
        }
        if let Some(level) = doc.get("sync_level") {
            assert!(level.is_u64(), "sync_level is an integer on the wire: {call:#}");
        }
        for key in ["verify_checksum", "preserve_timestamp", "fail_on_quota_errors", "skip_source_errors"] {
            if let Some(value) = doc.get(key) {
                assert!(value.is_boolean(), "{key}: {call:#}");
            }
        }
    }
    assert_eq!(submissions[0]["body"]["sync_level"], 0);
    // The SDK leaves unset options out rather than sending null.
    assert!(submissions.iter().all(|c| c["body"].as_object().unwrap().values().all(|v| !v.is_null())));
}
