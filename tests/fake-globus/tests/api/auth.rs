//! The token endpoint, the Bearer check, token expiry and revocation.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[test]
fn client_credentials_grant() {
    let fake = Fake::start();
    let good = fake.token_request(
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)],
    );
    assert_eq!(good.status, 200, "{}", good.text);
    let body = good.json.as_object().unwrap();
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert_eq!(body["scope"], TRANSFER_SCOPE);
    assert_eq!(body["expires_in"], 172800);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource_server"], "transfer.api.globus.org");
    assert_eq!(body["other_tokens"], json!([]));
    let again = fake.token();
    assert_ne!(again, body["access_token"].as_str().unwrap(), "every grant is a fresh token");

    let bad = fake
        .token_request(Some((CLIENT_ID, "wrong")), &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)]);
    assert_eq!((bad.status, bad.json.clone()), (401, json!({"error": "invalid_client"})));
    let nobody = fake.token_request(None, &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)]);
    assert_eq!(nobody.status, 401);
    let no_scope = fake.token_request(Some((CLIENT_ID, CLIENT_SECRET)), &[("grant_type", "client_credentials")]);
    assert_eq!(no_scope.status, 400);
    let password = fake.token_request(Some((CLIENT_ID, CLIENT_SECRET)), &[("grant_type", "password")]);
    assert_eq!((password.status, password.json), (400, json!({"error": "unsupported_grant_type"})));

    // The log keeps what was sent, secrets included, and the answered status.
    let log = fake.log();
    assert_eq!(log.len(), 6);
    assert!(log[0]["authorization"].as_str().unwrap().starts_with("Basic "));
    assert_eq!(log[0]["body"], json!({"grant_type": "client_credentials", "scope": TRANSFER_SCOPE}));
    assert_eq!(log[0]["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(log.iter().map(|e| e["status"].as_u64().unwrap()).collect::<Vec<_>>(), [200, 200, 401, 401, 400, 400]);
}

#[test]
fn refresh_token_grant() {
    let fake = Fake::start();
    let native = fake.token_request(
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", REFRESH_TOKEN), ("client_id", NATIVE_CLIENT_ID)],
    );
    assert_eq!(native.status, 200, "{}", native.text);
    assert_eq!(native.json["resource_server"], "transfer.api.globus.org");
    let token = native.json["access_token"].as_str().unwrap();
    assert_eq!(fake.get("/v0.10/task_list", Some(token)).status, 200);

    let unknown = fake.token_request(
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope"), ("client_id", NATIVE_CLIENT_ID)],
    );
    assert_eq!((unknown.status, unknown.json), (400, json!({"error": "invalid_grant"})));
    // The token was issued to the native app, not to the confidential client.
    let wrong_client = fake.token_request(
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", REFRESH_TOKEN)],
    );
    assert_eq!(wrong_client.status, 400);
    let log = fake.log();
    assert_eq!(log[0]["authorization"], serde_json::Value::Null);
    assert_eq!(log[0]["body"]["refresh_token"], REFRESH_TOKEN);
}

#[test]
fn bearer_check() {
    let fake = Fake::start();
    for header in [None, Some("not-a-token")] {
        let reply = fake.get("/v0.10/submission_id", header);
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json["code"], "AuthenticationFailed");
        assert_eq!(reply.json["message"], "Token is not active");
        assert_eq!(reply.json["resource"], "/v0.10/submission_id");
        assert!(reply.json["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    // A Basic header is not a token.
    let basic = fake.get_with_authorization("/v0.10/submission_id", "Basic aWQ6c2VjcmV0");
    assert_eq!(basic.status, 401);
    let token = fake.token();
    let reply = fake.get("/v0.10/submission_id", Some(&token));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["DATA_TYPE"], "submission_id");
    assert!(uuid::Uuid::parse_str(reply.json["value"].as_str().unwrap()).is_ok());
    assert_ne!(fake.submission_id(&token), fake.submission_id(&token), "a new id per call");
}

#[test]
fn tokens_expire() {
    let fake = Fake::start_with(Options { token_lifetime: Some(1), ..Options::default() });
    let reply = fake.token_request(
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("grant_type", "client_credentials"), ("scope", TRANSFER_SCOPE)],
    );
    assert_eq!(reply.json["expires_in"], 1);
    let token = reply.json["access_token"].as_str().unwrap();
    assert_eq!(fake.get("/v0.10/task_list", Some(token)).status, 200);
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(fake.get("/v0.10/task_list", Some(token)).status, 401);
    assert_eq!(fake.get("/v0.10/task_list", Some(&fake.token())).status, 200);
}

#[test]
fn revoke_stops_every_token() {
    let fake = Fake::start();
    let (a, b) = (fake.token(), fake.token_of(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET));
    assert_eq!(fake.get("/v0.10/task_list", Some(&a)).status, 200);
    assert_eq!(fake.control("revoke", &json!({}))["revoked"], 2);
    assert_eq!(fake.get("/v0.10/task_list", Some(&a)).status, 401);
    assert_eq!(fake.get("/v0.10/task_list", Some(&b)).status, 401);
    assert_eq!(fake.get("/v0.10/task_list", Some(&fake.token())).status, 200);
}
