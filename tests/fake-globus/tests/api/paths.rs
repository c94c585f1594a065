//! Paths with `..` or through a symbolic link never escape the collection directories.

use serde_json::{Value, json};

use crate::common::*;

fn failed_with(fake: &Fake, token: &str, item: Value) -> String {
    let task_id = fake.submit_ok(token, json!([item]), json!({}));
    let task = fake.wait_terminal(token, &task_id);
    assert_eq!(task["status"], "FAILED", "{task:#}");
    let errors = fake.events(token, &task_id, "?filter=is_error:1").json;
    assert_eq!(errors["DATA"][0]["code"], task["fatal_error"]["code"]);
    task["fatal_error"]["code"].as_str().unwrap().to_string()
}

#[test]
fn dot_dot_and_symlinks_are_refused() {
    let fake = Fake::start();
    let outside = fake.root.join("outside");
    write(&outside, "secret", b"secret");
    write(&fake.src, "ok/file", b"fine");
    write(&fake.src, "a", b"a");
    std::os::unix::fs::symlink(&outside, fake.src.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, fake.src.join("ok/inner link")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), fake.src.join("file link")).unwrap();
    std::os::unix::fs::symlink(&outside, fake.dst.join("dlink")).unwrap();
    let token = fake.token();

    // Reading outside.
    assert_eq!(failed_with(&fake, &token, file_item("/../outside/secret", "/stolen")), "INVALID_PATH_NAME");
    assert_eq!(failed_with(&fake, &token, file_item("/ok/../../outside/secret", "/stolen")), "INVALID_PATH_NAME");
    assert_eq!(failed_with(&fake, &token, file_item("/link/secret", "/stolen")), "PERMISSION_DENIED");
    assert_eq!(failed_with(&fake, &token, file_item("/file link", "/stolen")), "PERMISSION_DENIED");
    assert_eq!(failed_with(&fake, &token, dir_item("/link/", "/stolen/")), "PERMISSION_DENIED");
    assert_eq!(failed_with(&fake, &token, dir_item("/ok/", "/copy/")), "PERMISSION_DENIED");
    assert!(!fake.dst.join("stolen").exists());
    assert!(tree(&fake.dst).iter().all(|(_, bytes)| bytes != b"secret"));

    // Writing outside.
    assert_eq!(failed_with(&fake, &token, file_item("/a", "/../outside/planted")), "INVALID_PATH_NAME");
    assert_eq!(failed_with(&fake, &token, file_item("/a", "/dlink/planted")), "PERMISSION_DENIED");
    assert_eq!(failed_with(&fake, &token, file_item("/a", "/dlink")), "PERMISSION_DENIED");
    assert_eq!(failed_with(&fake, &token, dir_item("/ok/", "/dlink/x/")), "PERMISSION_DENIED");
    assert_eq!(tree(&outside), [("secret".to_string(), b"secret".to_vec())]);
    assert_eq!(std::fs::read(fake.src.join("a")).unwrap(), b"a");
}

#[test]
fn dot_components_and_home_stay_inside() {
    let fake = Fake::start();
    write(&fake.src, "x/y", b"y");
    let token = fake.token();
    let task_id = fake.submit_ok(&token, json!([file_item("/./x//y", "/~/z/./w")]), json!({}));
    assert_eq!(fake.wait_terminal(&token, &task_id)["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(fake.dst.join("z/w")).unwrap(), b"y");
}
