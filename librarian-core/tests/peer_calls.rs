//! Calls from peers, in-process (issue 9): the validated types every call is parsed
//! into, idempotency keys bound to the call they named, and `stage` limits.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use librarian_core::{CallKind, Error, Password};
use librarian_core::{StageItem, StageRequest, StageResult, TransferCall};

fn stage_item(id: i64, name: &str) -> StageItem {
    StageItem {
        transfer_id: id,
        name: name.into(),
        size: 10,
        checksum: format!("blake3:{}", "ab".repeat(32)),
        kind: "file".into(),
        uploader: "alice".into(),
        source: "site-b".into(),
        created_at: None,
    }
}

fn call(body: &str) -> TransferCall {
    serde_json::from_str(body).unwrap()
}

#[test]
fn stage_items_are_validated_field_by_field() {
    let good = stage_item(1, "n/caf\u{E9}").validate().unwrap();
    assert_eq!((good.name.as_str(), good.uploader.as_str(), good.source.as_str()), ("n/caf\u{E9}", "alice", "site-b"));

    let bad = |f: &dyn Fn(&mut StageItem)| {
        let mut i = stage_item(1, "ok/name");
        f(&mut i);
        i.validate().unwrap_err()
    };
    assert!(matches!(bad(&|i| i.name = "n/cafe\u{301}".into()), Error::InvalidName { .. }));
    assert!(matches!(bad(&|i| i.name = "n\u{FF0F}x".into()), Error::InvalidName { .. }));
    assert!(matches!(bad(&|i| i.checksum = "blake3:zz".into()), Error::InvalidChecksum { .. }));
    assert!(matches!(bad(&|i| i.kind = "symlink".into()), Error::InvalidArgument { .. }));
    assert!(matches!(bad(&|i| i.size = u64::MAX), Error::InvalidArgument { .. }));
    for uploader in ["\x1b[31mroot", "a\nb", "a\u{202E}b", &"u".repeat(257)] {
        let e = bad(&|i| i.uploader = uploader.into());
        assert!(
            matches!(&e, e @ Error::InvalidArgument { .. } if e.to_string().contains("uploader")),
            "{uploader:?}: {e}"
        );
        assert!(!e.to_string().contains('\x1b'), "the message escapes what it quotes: {e}");
    }
    for source in ["", "../x", "a b", "site\x1b", ".hidden"] {
        assert!(matches!(bad(&|i| i.source = source.into()), Error::InvalidArgument { .. }), "{source:?}");
    }
    // The creation time at the origin: an RFC 3339 time with an offset, or absent.
    assert_eq!(good.created_at, None, "an older sender says nothing: unknown");
    let mut timed = stage_item(1, "ok/name");
    timed.created_at = Some("2021-06-01T14:00:00+02:00".into());
    assert_eq!(timed.validate().unwrap().created_at.map(|t| t.to_string()).as_deref(), Some("2021-06-01T12:00:00Z"));
    for t in ["yesterday", "2021-06-01T14:00:00", "", "\x1b[2J2021-06-01T14:00:00Z"] {
        let e = bad(&|i| i.created_at = Some(t.into()));
        assert!(matches!(&e, e @ Error::InvalidArgument { .. } if e.to_string().contains("created_at")), "{t:?}: {e}");
        assert!(!e.to_string().contains('\x1b'), "the message escapes what it quotes: {e}");
    }
    // Absent from the JSON when unknown (a sender talking to an older peer leaves it
    // out), and an item without it is read as unknown.
    let json = serde_json::to_value(stage_item(1, "ok/name")).unwrap();
    assert!(json.get("created_at").is_none(), "{json}");
    let read: StageItem = serde_json::from_value(json).unwrap();
    assert_eq!(read.created_at, None);
}

#[test]
fn transfer_calls_are_validated_for_their_kind() {
    let sum = format!("blake3:{}", "ab".repeat(32));
    let complete =
        call(&format!(r#"{{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","store":"main","checksum":"{sum}"}}"#));
    let v = complete.validate(CallKind::Complete).unwrap();
    assert_eq!((v.store.as_deref(), v.checksum.map(|c| c.to_string())), (Some("main"), Some(sum.clone())));

    // `complete` needs a store name and the checksum.
    for body in [
        r#"{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","store":"main"}"#.to_owned(),
        format!(r#"{{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","checksum":"{sum}"}}"#),
        format!(
            r#"{{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","store":"../../etc/\u001b[31m","checksum":"{sum}"}}"#
        ),
        r#"{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","store":"main","checksum":"md5:zz"}"#.to_owned(),
    ] {
        assert!(call(&body).validate(CallKind::Complete).is_err(), "{body}");
    }
    // `staged` needs neither; `holds` is no transfer call.
    let staged = call(r#"{"transfer_id":1,"peer_transfer_id":2,"file":"a/b"}"#);
    assert!(staged.validate(CallKind::Staged).is_ok());
    assert!(staged.validate(CallKind::Holds).is_err());
    assert!(
        call(&format!(r#"{{"transfer_id":1,"peer_transfer_id":2,"file":"{}"}}"#, "x".repeat(1025)))
            .validate(CallKind::Staged)
            .is_err()
    );

    // A `fail` reason is escaped and cut, never refused.
    let reason = format!("boom \u{1b}[2J{}", "y".repeat(5000));
    let fail = call(
        &serde_json::json!({ "transfer_id": 1, "peer_transfer_id": 2, "file": "a/b", "reason": reason }).to_string(),
    );
    let r = fail.validate(CallKind::Fail).unwrap().reason.unwrap();
    assert!(r.starts_with("boom \\x1b[2Jy") && r.ends_with('…') && r.chars().count() == 1001, "{r}");
    let silent = staged.validate(CallKind::Fail).unwrap();
    assert_eq!(silent.reason.as_deref(), Some("the peer gave no reason"));
}

#[test]
fn the_digest_binds_kind_and_canonical_body() {
    let a = call(r#"{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","reason":"r"}"#);
    let same = call(r#"{ "reason": "r",  "file":"a/b", "transfer_id": 1, "peer_transfer_id": 2, "store": null }"#);
    let other = call(r#"{"transfer_id":1,"peer_transfer_id":2,"file":"a/b","reason":"s"}"#);
    let d = |c: &TransferCall, k| c.validate(k).unwrap().digest;
    assert_eq!(d(&a, CallKind::Fail), d(&same, CallKind::Fail), "spacing and field order do not matter");
    assert_ne!(d(&a, CallKind::Fail), d(&other, CallKind::Fail));
    assert_ne!(d(&a, CallKind::Fail), d(&a, CallKind::Staged));
}

#[test]
fn a_holds_key_reused_with_another_body_is_a_conflict() {
    let site = Site::new();
    let lib = &site.lib;
    lib.add_peer("site-b", "http://127.0.0.1:9", "site-a", &Password::new("pw".into()).unwrap()).unwrap();
    let src = site.src("f");
    write(&src, b"holds\n");
    let up = upload(lib, &src, "h/f").unwrap();
    let holds = |store: &str| {
        serde_json::from_value::<librarian_core::HoldsCall>(serde_json::json!({
            "name": "h/f", "checksum": up.file.checksum.to_string(), "size": up.file.size,
            "store": store, "copied_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    };
    let first = lib.receive_holds("site-b", "k1", &holds("main")).unwrap();
    assert_eq!(first["replayed"], false);
    assert_eq!(lib.receive_holds("site-b", "k1", &holds("main")).unwrap()["replayed"], true);
    let e = lib.receive_holds("site-b", "k1", &holds("other")).unwrap_err();
    assert!(matches!(&e, Error::Conflict { name, .. } if name.contains("k1")), "{e}");
    let stores: Vec<String> = lib.file(&name("h/f")).unwrap().remote_instances.into_iter().map(|r| r.store).collect();
    assert_eq!(stores, ["main"], "the refused call changed nothing");
}

#[test]
fn stage_refuses_over_the_limits_with_try_later_codes() {
    let site = Site::new();
    let cfg = site.config();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[clone]\nmax_stage_items = 4\nmax_outstanding_transfers = 6\n")).unwrap();
    let lib = site.reopen();
    lib.add_peer("site-b", "http://127.0.0.1:9", "site-a", &Password::new("pw".into()).unwrap()).unwrap();
    let req = |from: i64| StageRequest {
        managers: vec!["local".into()],
        items: (from..from + 5).map(|i| stage_item(i, &format!("lim/f{i}"))).collect(),
    };
    let codes = |r: &[StageResult]| -> Vec<String> {
        r.iter()
            .map(|x| match x {
                StageResult::Accepted { .. } => "accepted".to_owned(),
                StageResult::AlreadyPresent { .. } => "already_present".to_owned(),
                StageResult::Refused { code, .. } => code.clone(),
            })
            .collect()
    };
    let first = lib.stage_incoming("site-b", &req(0)).unwrap();
    assert_eq!(codes(&first.items), ["accepted", "accepted", "accepted", "accepted", "too_many_items"]);
    let second = lib.stage_incoming("site-b", &req(10)).unwrap();
    assert_eq!(
        codes(&second.items),
        ["accepted", "accepted", "too_many_outstanding", "too_many_outstanding", "too_many_items"]
    );
    // Bad limits are a configuration error.
    std::fs::write(&cfg, format!("{text}\n[clone]\nmax_stage_items = 0\n")).unwrap();
    assert!(librarian_core::Librarian::open(&cfg).is_err());
    std::fs::write(&cfg, format!("{text}\n[clone]\nmax_stage_items = 10001\n")).unwrap();
    assert!(librarian_core::Librarian::open(&cfg).is_err());
}
