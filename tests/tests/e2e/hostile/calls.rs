//! Calls from a peer (issue 9, defects 7, 8, 9 and 12): two real sites serving on
//! loopback, and raw HTTP calls made with the peer's own credentials, as a hostile
//! peer would make them.
//!
//! - Strings in calls are validated at the boundary: a `complete` call's store, a
//!   stage item's uploader and source are refused when they are not what they claim;
//!   a `fail` reason is escaped and cut. The human output of the CLI escapes every
//!   control or formatting character that reached a catalog.
//! - An idempotency key names one call: the same key with another body or kind is
//!   refused (409 `conflict`), not replayed. `complete` must carry the checksum.
//! - Look-alike names (bidi controls, zero-width characters, NFD, fullwidth solidus)
//!   are refused, at `stage` and at `upload`.
//! - `stage` has per-peer limits; over them items are refused with "try later"
//!   codes, and the real sender still gets everything across in later rounds.

use base64::Engine as _;
use librarian_e2e::pair::*;
use librarian_e2e::*;
use serde_json::Value;

/// POST `body` (JSON text) to `url` as `(account, password)` with an optional
/// `Idempotency-Key`. Returns the status and the JSON answer (`Null` if not JSON).
fn post(url: &str, auth: (&str, &str), key: Option<&str>, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.0, auth.1));
    let mut req =
        agent.post(url).header("Authorization", format!("Basic {basic}")).header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let mut resp = req.send(body.to_owned()).unwrap_or_else(|e| panic!("POST {url} failed: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(64 << 20).read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn url(served: &Option<Server>, path: &str) -> String {
    format!("{}{path}", served.as_ref().unwrap().url)
}

/// B's staging directories made for incoming transfers.
fn incoming_dirs(site: &Site) -> usize {
    list_dir(&site.staging())
        .iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("incoming-")))
        .count()
}

/// A stage item offered as A would offer it.
fn item(id: i64, name: &str, size: u64) -> Value {
    serde_json::json!({
        "transfer_id": id, "name": name, "size": size, "checksum": format!("blake3:{}", "ab".repeat(32)),
        "kind": "file", "uploader": "alice", "source": "site-a"
    })
}

fn stage_body(items: &[Value]) -> String {
    serde_json::json!({ "managers": ["local"], "items": items }).to_string()
}

/// No ESC, other C0/C1 control (but the newline ending lines) or U+202E in `text`.
#[track_caller]
fn assert_no_raw_controls(text: &str, what: &str) {
    let bad: Vec<char> =
        text.chars().filter(|c| (c.is_control() && *c != '\n') || matches!(c, '\u{202E}' | '\u{200B}')).collect();
    assert!(bad.is_empty(), "{what} prints raw control characters {bad:?}:\n{text}");
}

/// A's one outgoing transfer, staged at B (A has sent the data and queued `staged`).
fn one_staged_transfer(p: &ClonePair) -> Value {
    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    let t = ClonePair::transfers(&p.a, None);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0]["status"], "staged", "{t:?}");
    t[0].clone()
}

// ---------------------------------------------------------------------------------
// Defect 7: strings from peers.

#[test]
fn hostile_strings_in_calls_are_refused_or_cleaned_and_never_reach_the_terminal_raw() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "str", 1);
    let t = one_staged_transfer(&p);
    let (id, remote, file, sum) = (t["id"].as_i64().unwrap(), &t["remote_id"], &t["file"], &t["checksum"]);
    let complete = url(&p.served_a, "/api/v1/clone/complete");
    let as_b = ("site-b", B_AT_A);

    // `complete` naming a store that is no store name: refused, nothing recorded.
    for (k, store) in ["../../../etc/\x1b[31mEVIL", "main\n", "", "a/b", &"s".repeat(65)].iter().enumerate() {
        let body = serde_json::json!({
            "transfer_id": id, "peer_transfer_id": remote, "file": file, "store": store, "checksum": sum
        });
        let (status, answer) = post(&complete, as_b, Some(&format!("store-{k}")), &body.to_string());
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("bad_request")), "{store:?}: {answer}");
    }
    let info = p.a.json(["info", "str/f000"]);
    info.ok();
    assert_eq!(info.json()["remote_instances"], serde_json::json!([]), "no remote instance recorded: {info}");
    assert_eq!(ClonePair::transfers(&p.a, None)[0]["status"], "staged");

    // A `fail` reason with escape sequences and 20,000 characters: kept escaped and cut.
    let reason = format!("disk \x1b[2J\x1b[31mon fire\u{202E}{}", "x".repeat(20_000));
    let body = serde_json::json!({ "transfer_id": id, "peer_transfer_id": remote, "file": file, "reason": reason });
    let (status, answer) = post(&url(&p.served_a, "/api/v1/clone/fail"), as_b, Some("fail-1"), &body.to_string());
    assert_eq!((status, answer["status"].as_str()), (200, Some("failed")), "{answer}");
    let failed = &ClonePair::transfers(&p.a, None)[0];
    let error = failed["error"].as_str().unwrap();
    assert!(error.starts_with("disk \\x1b[2J\\x1b[31mon fire\\u{202e}x"), "{error}");
    assert!(error.chars().count() <= 1001, "the reason is cut: {} characters", error.chars().count());
    assert!(!error.chars().any(|c| c.is_control() || c == '\u{202E}'), "{error:?}");

    // Stage items whose uploader or source is not what it claims: refused one by one.
    let stage = url(&p.served_b, "/api/v1/clone/stage");
    let mut items = Vec::new();
    for (k, uploader) in ["\x1b[31mroot", "a\nb", "evil\u{202E}", &"u".repeat(300)].iter().enumerate() {
        let mut i = item(100 + k as i64, &format!("bad/uploader{k}"), 1);
        i["uploader"] = Value::from(*uploader);
        items.push(i);
    }
    for (k, source) in ["../../etc", "site\x1b[0m", "", "a b"].iter().enumerate() {
        let mut i = item(200 + k as i64, &format!("bad/source{k}"), 1);
        i["source"] = Value::from(*source);
        items.push(i);
    }
    let mut good = item(300, "good/one", 1);
    good["uploader"] = Value::from("Åsa Øberg");
    items.push(good);
    let (status, answer) = post(&stage, ("site-a", A_AT_B), None, &stage_body(&items));
    assert_eq!(status, 200, "{answer}");
    let results = answer["items"].as_array().unwrap();
    for r in &results[..8] {
        assert_eq!((r["result"].as_str(), r["code"].as_str()), (Some("refused"), Some("invalid_argument")), "{r}");
        assert!(!r["message"].as_str().unwrap().chars().any(|c| c.is_control() || c == '\u{202E}'), "{r}");
    }
    assert_eq!(results[8]["result"], "accepted", "{}", results[8]);
    let b_transfers = ClonePair::transfers(&p.b, None);
    let names: Vec<&str> = b_transfers.iter().map(|t| t["file"].as_str().unwrap()).collect();
    assert!(!names.iter().any(|n| n.starts_with("bad/")), "{names:?}");

    // A hostile string already in a catalog (a local uploader, rows written by an
    // older version): the human output shows escapes, never the raw bytes.
    let src = p.a.src("esc");
    write_text(&src, "escape test\n");
    // (A local upload refuses such an uploader now, like a peer's: plant it.)
    p.a.upload(&src, "esc/file", &[]).ok();
    let db = p.a.db();
    sql::write(
        &db,
        "UPDATE files SET uploader = char(27) || '[31mEVIL' || char(27) || ']0;pwned' || char(7) WHERE name = 'esc/file';
         UPDATE transfers SET error = 'oops ' || char(27) || '[2J' || char(8238) || ' done';
         INSERT INTO remote_instances (file_id, librarian, store, copied_at)
             SELECT id, 'site-' || char(27) || '[5m', '..' || char(27) || '[31mEVIL', 0 FROM files WHERE name = 'esc/file';
         INSERT INTO events (severity, category, subject, message, created_at, last_seen_at)
             VALUES ('error', 'conflict', 'x' || char(27) || '[2J', 'm' || char(7) || char(8203), 0, 0);",
    );
    for args in [
        vec!["info", "esc/file"],
        vec!["search", "--name", "esc/*"],
        vec!["transfers", "list"],
        vec!["events", "list"],
        vec!["status"],
    ] {
        let out = p.a.run(&args);
        out.ok();
        assert_no_raw_controls(&out.stdout, &args.join(" "));
        assert_no_raw_controls(&out.stderr, &args.join(" "));
    }
    let info = p.a.run(["info", "esc/file"]);
    assert!(info.stdout.contains("\\x1b[31mEVIL\\x1b]0;pwned\\x07"), "{info}");
    assert!(info.stdout.contains("site-\\x1b[5m"), "{info}");
    let listed = p.a.run(["transfers", "list"]);
    assert!(listed.stdout.contains("oops \\x1b[2J\\u{202e} done"), "{listed}");
    let events = p.a.run(["events", "list"]);
    assert!(events.stdout.contains("x\\x1b[2J") && events.stdout.contains("m\\x07\\u{200b}"), "{events}");
    // JSON keeps the exact strings (escaped the JSON way).
    let json = p.a.json(["info", "esc/file"]).json();
    assert_eq!(json["uploader"], "\x1b[31mEVIL\x1b]0;pwned\x07");
}

// ---------------------------------------------------------------------------------
// Defect 8: idempotency keys and `complete` without a checksum.

#[test]
fn a_key_names_one_call_and_complete_needs_the_checksum() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    upload_files(&p.a, "keys", 1);
    let t = one_staged_transfer(&p);
    let (id, remote, file, sum) = (t["id"].as_i64().unwrap(), &t["remote_id"], &t["file"], &t["checksum"]);
    let complete = url(&p.served_a, "/api/v1/clone/complete");
    let fail = url(&p.served_a, "/api/v1/clone/fail");
    let as_b = ("site-b", B_AT_A);

    // `complete` without the checksum (B's transfer is only staged): refused.
    let no_sum = serde_json::json!({ "transfer_id": id, "peer_transfer_id": remote, "file": file, "store": "main" });
    let (status, answer) = post(&complete, as_b, Some("c-nosum"), &no_sum.to_string());
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("bad_request")), "{answer}");
    // With another checksum: a conflict.
    let mut wrong = no_sum.clone();
    wrong["checksum"] = Value::from(format!("blake3:{}", "cd".repeat(32)));
    let (status, answer) = post(&complete, as_b, Some("c-wrong"), &wrong.to_string());
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
    let info = p.a.json(["info", "keys/f000"]).json();
    assert_eq!(info["remote_instances"], serde_json::json!([]), "no copy recorded without its checksum: {info}");
    assert_eq!(ClonePair::transfers(&p.a, None)[0]["status"], "staged");

    // A `fail` with key K.
    let first =
        serde_json::json!({ "transfer_id": id, "peer_transfer_id": remote, "file": file, "reason": "first reason" });
    let (status, answer) = post(&fail, as_b, Some("K-1"), &first.to_string());
    assert_eq!((status, answer["replayed"].as_bool()), (200, Some(false)), "{answer}");
    // The same call again, spaced and ordered differently: a replay.
    let same = format!(
        "{{ \"reason\" : \"first reason\", \"file\": {file}, \"peer_transfer_id\": {remote}, \"transfer_id\": {id} }}"
    );
    let (status, answer) = post(&fail, as_b, Some("K-1"), &same);
    assert_eq!((status, answer["replayed"].as_bool()), (200, Some(true)), "{answer}");
    // The same key with another reason, or for another kind of call: refused.
    let mut other = first.clone();
    other["reason"] = Value::from("another reason");
    let (status, answer) = post(&fail, as_b, Some("K-1"), &other.to_string());
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
    let mut good_complete = no_sum.clone();
    good_complete["checksum"] = sum.clone();
    let (status, answer) = post(&complete, as_b, Some("K-1"), &good_complete.to_string());
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
    let after = &ClonePair::transfers(&p.a, None)[0];
    assert_eq!((after["status"].as_str(), after["error"].as_str()), (Some("failed"), Some("first reason")));

    // `holds`: the same key with another body is refused too.
    let holds = url(&p.served_a, "/api/v1/callbacks/holds");
    let h = serde_json::json!({
        "name": "keys/f000", "checksum": sum, "size": t["size"], "store": "main", "copied_at": "2026-01-01T00:00:00Z"
    });
    let (status, answer) = post(&holds, as_b, Some("H-1"), &h.to_string());
    assert_eq!((status, answer["recorded"].as_bool()), (200, Some(true)), "{answer}");
    let mut h2 = h.clone();
    h2["store"] = Value::from("elsewhere");
    let (status, answer) = post(&holds, as_b, Some("H-1"), &h2.to_string());
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("conflict")), "{answer}");
    let remote: Vec<String> = p.a.json(["info", "keys/f000"]).json()["remote_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["store"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(remote, ["main"], "the refused call changed nothing");
}

// ---------------------------------------------------------------------------------
// Defect 12: look-alike names.

#[test]
fn look_alike_names_are_refused_at_stage_and_at_upload() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let look_alikes = [
        "n/evil\u{202E}txt.exe",
        "n/caf\u{200B}e",
        "n/cafe\u{301}",
        "n\u{FF0F}caf\u{E9}",
        "n\u{2215}x",
        "n/a\u{00A0}b",
        "\u{FEFF}n/x",
    ];
    let mut items: Vec<Value> = look_alikes.iter().enumerate().map(|(k, n)| item(k as i64 + 1, n, 1)).collect();
    items.push(item(99, "n/caf\u{E9}", 1));
    let (status, answer) =
        post(&url(&p.served_b, "/api/v1/clone/stage"), ("site-a", A_AT_B), None, &stage_body(&items));
    assert_eq!(status, 200, "{answer}");
    let results = answer["items"].as_array().unwrap();
    for (k, name) in look_alikes.iter().enumerate() {
        assert_eq!(
            (results[k]["result"].as_str(), results[k]["code"].as_str()),
            (Some("refused"), Some("invalid_name")),
            "{name:?}: {}",
            results[k]
        );
    }
    assert_eq!(results[look_alikes.len()]["result"], "accepted", "NFC café is a good name");

    // Locally the same: exit 2, `invalid_name`; the NFC name is taken.
    let src = p.b.src("cafe");
    write_text(&src, "café\n");
    for name in look_alikes {
        let out = p.b.upload(&src, name, &[]);
        let message = out.expect_error(2, "invalid_name");
        assert!(message.contains("U+") || message.contains("NFC"), "the message names the rule: {message}");
        let human = p.b.run(["upload", src.to_str().unwrap(), name]);
        human.expect_code(2);
        assert_no_raw_controls(&human.stderr, "upload's error");
    }
    p.b.upload(&src, "m/caf\u{E9}", &[]).ok();
    let found = p.b.json(["search", "--name", "m/*"]).json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let all = p.b.json(["search"]).json();
    assert!(all.as_array().unwrap().iter().all(|f| f["name"] == "m/caf\u{E9}"), "{all}");
}

// ---------------------------------------------------------------------------------
// Defect 9: stage limits per peer.

#[test]
fn stage_limits_per_peer_refuse_the_excess_with_try_later_codes() {
    let mut p = ClonePair::new("managers = [\"local\"]", "");
    append_config(
        &p.b,
        "[clone]\nmax_stage_items = 50\nmax_outstanding_transfers = 120\nmax_outstanding_bytes = 1000000",
    );
    drop(p.served_b.take());
    p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
    let stage = url(&p.served_b, "/api/v1/clone/stage");
    let as_a = ("site-a", A_AT_B);

    // Bytes: three items of 400 kB against a limit of 1 MB.
    let big: Vec<Value> = (0..3).map(|k| item(1 + k, &format!("big/f{k}"), 400_000)).collect();
    let (status, answer) = post(&stage, as_a, None, &stage_body(&big));
    assert_eq!(status, 200, "{answer}");
    let codes: Vec<&str> =
        answer["items"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap_or("accepted")).collect();
    assert_eq!(codes, ["accepted", "accepted", "too_many_outstanding"], "{answer}");

    // Count: three calls of 80 items (the attack of issue 9, scaled down).
    let mut accepted = 2;
    let mut refused = std::collections::BTreeMap::<String, usize>::new();
    for call in 0..3 {
        let items: Vec<Value> =
            (0..80).map(|k| item(1000 * (call + 1) + k, &format!("many/c{call}/f{k:03}"), 1)).collect();
        let (status, answer) = post(&stage, as_a, None, &stage_body(&items));
        assert_eq!(status, 200, "{answer}");
        let results = answer["items"].as_array().unwrap();
        assert_eq!(results.len(), 80);
        for (k, r) in results.iter().enumerate() {
            match r["result"].as_str().unwrap() {
                "accepted" => accepted += 1,
                "refused" => *refused.entry(r["code"].as_str().unwrap().to_owned()).or_default() += 1,
                other => panic!("unexpected {other}: {r}"),
            }
            if k >= 50 {
                assert_eq!(r["code"], "too_many_items", "item {k} of a call is over max_stage_items: {r}");
            }
        }
    }
    assert_eq!(accepted, 120, "no more than max_outstanding_transfers: {refused:?}");
    assert_eq!(refused.get("too_many_items"), Some(&90), "{refused:?}");
    assert_eq!(refused.get("too_many_outstanding"), Some(&32), "{refused:?}");
    assert_eq!(incoming_dirs(&p.b), 120, "one staging directory per accepted item, no more");
    let active = ClonePair::transfers(&p.b, Some("initiated"));
    assert_eq!(active.len(), 120);
    // A repeat of an accepted item is answered again (no new transfer), even at the limit.
    let (status, answer) = post(&stage, as_a, None, &stage_body(&[item(1000, "many/c0/f000", 1)]));
    assert_eq!((status, answer["items"][0]["result"].as_str()), (200, Some("accepted")), "{answer}");
    assert_eq!(incoming_dirs(&p.b), 120);
}

#[test]
fn a_real_sender_over_the_limits_gets_everything_across_in_later_rounds() {
    let mut p = ClonePair::new("managers = [\"local\"]\nbatch_files = 12", "");
    append_config(&p.b, "[clone]\nmax_stage_items = 8\nmax_outstanding_transfers = 10");
    drop(p.served_b.take());
    p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
    upload_files(&p.a, "paced", 30);

    ClonePair::tasks(&p.a, &["send-clones"]).ok();
    let a_side = ClonePair::transfers(&p.a, None);
    let codes: std::collections::BTreeSet<&str> = a_side.iter().filter_map(|t| t["error_code"].as_str()).collect();
    assert!(codes.contains("too_many_items") && codes.contains("too_many_outstanding"), "{a_side:?}");
    assert!(ClonePair::transfers(&p.b, None).len() <= 10, "B took no more than its limit");

    // Refusals are "try later": the files are offered again and all arrive.
    p.converge(12);
    assert_eq!(p.b.files().len(), 30);
    for f in p.a.files() {
        assert_eq!(f["remote_instances"].as_array().unwrap().len(), 1, "{f}");
    }
}

#[test]
fn stage_calls_at_once_cannot_each_take_the_whole_allowance() {
    let mut p = ClonePair::new("managers = [\"local\"]", "");
    append_config(&p.b, "[clone]\nmax_stage_items = 50\nmax_outstanding_transfers = 60");
    drop(p.served_b.take());
    p.served_b = Some(Server::start_at(&p.b, &p.b_addr));
    let stage = url(&p.served_b, "/api/v1/clone/stage");
    let accepted: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6i64)
            .map(|call| {
                let stage = &stage;
                s.spawn(move || {
                    let items: Vec<Value> =
                        (0..50).map(|k| item(1000 * (call + 1) + k, &format!("par/c{call}/f{k:02}"), 1)).collect();
                    let (status, answer) = post(stage, ("site-a", A_AT_B), None, &stage_body(&items));
                    assert_eq!(status, 200, "{answer}");
                    answer["items"].as_array().unwrap().iter().filter(|r| r["result"] == "accepted").count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(accepted, 60, "six calls at once share the allowance of 60");
    assert_eq!(incoming_dirs(&p.b), 60);
}

// ---------------------------------------------------------------------------------
// Issue 11, bug 7: the creation time a peer sends.

/// A stage item's `created_at` (the file's creation time at its origin) is kept as
/// the file's `created_at` at B; an item without one (an older sender) is created at
/// its arrival; a time after the arrival (a hostile or badly set clock) is clamped to
/// the arrival; one that is not a time refuses that item.
#[test]
fn a_peers_creation_time_is_kept_clamped_to_the_arrival_or_unknown() {
    let p = ClonePair::new("managers = [\"local\"]", "");
    let stage = url(&p.served_b, "/api/v1/clone/stage");
    let staged = url(&p.served_b, "/api/v1/clone/staged");
    let as_a = ("site-a", A_AT_B);
    let bytes = |name: &str| format!("{name} bytes\n").into_bytes();
    let offered = |id: i64, name: &str, created_at: Option<&str>| {
        let data = bytes(name);
        let sum = librarian_core::hash_bytes(librarian_core::Algorithm::Blake3, &data).unwrap();
        let mut i = item(id, name, data.len() as u64);
        i["checksum"] = Value::from(sum.to_string());
        if let Some(t) = created_at {
            i["created_at"] = Value::from(t);
        }
        i
    };
    let items = [
        offered(1, "t/past", Some("2020-05-01T12:00:00Z")),
        offered(2, "t/unknown", None),
        offered(3, "t/future", Some("2999-01-01T00:00:00Z")),
        offered(4, "t/offset", Some("2021-06-01T14:00:00+02:00")),
        offered(5, "t/garbage", Some("yesterday")),
    ];
    let before = jiff::Timestamp::now();
    let (status, answer) = post(&stage, as_a, None, &stage_body(&items));
    assert_eq!(status, 200, "{answer}");
    let results = answer["items"].as_array().unwrap();
    assert_eq!(
        (results[4]["result"].as_str(), results[4]["code"].as_str()),
        (Some("refused"), Some("invalid_argument")),
        "{answer}"
    );
    // Deliver the data as A's manager would, and say so.
    for (k, name) in ["t/past", "t/unknown", "t/future", "t/offset"].iter().enumerate() {
        let r = &results[k];
        assert_eq!(r["result"], "accepted", "{r}");
        std::fs::write(r["destination"].as_str().unwrap(), bytes(name)).unwrap();
        let body =
            serde_json::json!({ "transfer_id": r["remote_id"], "peer_transfer_id": r["transfer_id"], "file": name });
        let (status, answer) = post(&staged, as_a, Some(&format!("staged-{k}")), &body.to_string());
        assert_eq!(status, 200, "{answer}");
    }
    ClonePair::tasks(&p.b, &["receive-clones"]).ok();
    let after = jiff::Timestamp::now();
    let at_b = |name: &str| {
        let out = p.b.json(["info", name]);
        out.ok();
        let f = out.json();
        let t = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("no {k}: {f}")).parse::<jiff::Timestamp>().unwrap();
        (t("created_at"), t("arrived_at"))
    };
    let (created, arrived) = at_b("t/past");
    assert_eq!(created.to_string(), "2020-05-01T12:00:00Z");
    assert!(before <= arrived && arrived <= after, "{arrived}");
    assert_eq!(at_b("t/offset").0.to_string(), "2021-06-01T12:00:00Z", "times are kept in UTC");
    for name in ["t/unknown", "t/future"] {
        let (created, arrived) = at_b(name);
        assert_eq!(created, arrived, "{name}: created when it arrived");
        assert!(before <= arrived && arrived <= after, "{name}: {arrived}");
    }
    assert!(p.b.json(["info", "t/garbage"]).code() != Some(0));
    // Searching B by time finds the file by its origin's time.
    let found = p.b.json(["search", "--until", "2022-01-01T00:00:00Z"]);
    found.ok();
    let names: Vec<String> =
        found.json().as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["t/offset", "t/past"]);
}
