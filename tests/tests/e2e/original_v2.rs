//! Peering with a site that still runs the original (Python) Librarian (issue 14,
//! item 2): a real served `librarian` site receives a clone from an original sender
//! speaking `/api/v2` exactly as the original does (`clone/batch_stage`, its own
//! copy into the staging locations, `checkin/update ONGOING` then `STAGED`), commits
//! it with the legacy checksums, and answers with `clone/complete` (or `checkin/update
//! FAILED`) at the original's endpoints — here a fake original that records them.
//! The `/api/v2` endpoints exist only for peers set to `original-v2`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use librarian_e2e::fake_peer::{FakePeer, json_response};
use librarian_e2e::pair::{ClonePair, append_config, disabled_tasks};
use librarian_e2e::{Server, Site, walk, write_secret};
use serde_json::{Value, json};

/// The password the original sender (`so-site-a`) uses here.
const A_HERE: &str = "a-to-b-append-pass";
/// The password this site uses at the original.
const B_THERE: &str = "b-to-a-callback-pass";

/// POST `body` to the served site as the original's client does: Basic auth,
/// JSON, any status back.
fn post(server: &Server, path: &str, user: &str, password: &str, body: &Value) -> (u16, Value) {
    post_raw(server, path, user, password, body.to_string().as_bytes())
}

fn post_raw(server: &Server, path: &str, user: &str, password: &str, body: &[u8]) -> (u16, Value) {
    use base64::Engine as _;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut resp = agent
        .post(&format!("{}{path}", server.url))
        .header("Authorization", &format!("Basic {auth}"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Site `name`, served, with the original site `peer` (a fake at `peer_url`) as a
/// peer (our account there: `name`, password `ours_there`) and `peer`'s account here
/// at `level` (password `theirs_here`); `extra` is appended to the configuration.
fn linked_site(
    name: &str,
    peer: &str,
    peer_url: &str,
    level: &str,
    ours_there: &str,
    theirs_here: &str,
    extra: &str,
) -> (Site, Server) {
    let site = Site::named(name);
    append_config(&site, &format!("{}{extra}", disabled_tasks()));
    let served = Server::start(&site);
    let pw = site.tmp().join("pw-there");
    write_secret(&pw, &format!("{ours_there}\n"));
    site.run(["peer", "add", peer, "--url", peer_url, "--account", name, "--password-file", pw.to_str().unwrap()]).ok();
    let pw = site.tmp().join("pw-here");
    write_secret(&pw, &format!("{theirs_here}\n"));
    site.run(["account", "add", peer, "--level", level, "--for-peer", peer, "--password-file", pw.to_str().unwrap()])
        .ok();
    (site, served)
}

/// A site `so-site-b` served, with the original site `so-site-a` (the fake, at
/// `fake_url`) as a peer, and its account here.
fn site_b(fake_url: &str) -> (Site, Server) {
    linked_site("so-site-b", "so-site-a", fake_url, "read-append", B_THERE, A_HERE, "")
}

/// A site `so-site-a` served, sending to the original site `so-site-b` (the fake)
/// speaking original-v2, with `extra` configuration.
fn site_a(fake_url: &str, extra: &str) -> (Site, Server) {
    let (a, served) = linked_site("so-site-a", "so-site-b", fake_url, "callback", A_HERE, B_THERE, extra);
    a.json(["peer", "set-protocol", "so-site-b", "original-v2"]).ok();
    (a, served)
}

/// The fake original: answers its `/api/v2` callbacks as the original does.
fn fake_original() -> FakePeer {
    FakePeer::start(|req| {
        let body = req.json();
        match req.path.as_str() {
            "/api/v2/clone/complete" => Some(json_response(
                200,
                &json!({ "source_transfer_id": body["source_transfer_id"], "destination_transfer_id": body["destination_transfer_id"] }),
            )),
            "/api/v2/checkin/update" => Some(json_response(
                200,
                &json!({ "modified_source_transfer_ids": body["source_transfer_ids"], "modified_destination_transfer_ids": [],
                         "unmodified_source_transfer_ids": [], "unmodified_destination_transfer_ids": [], "reasons": [] }),
            )),
            _ => Some(json_response(404, &json!({ "detail": "Not Found" }))),
        }
    })
}

fn fixture_store() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian/tree/so-site-a/main/store")
}

/// What the original's LocalAsyncTransferManager does: copy the file or tree.
fn copy_into(src: &Path, dest: &Path) {
    if src.is_dir() {
        for p in walk(src) {
            let to = dest.join(p.strip_prefix(src).unwrap());
            if p.is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&p, &to).unwrap();
            }
        }
    } else {
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(src, dest).unwrap();
    }
}

fn item(name: &str, size: u64, checksum: &str, id: i64) -> Value {
    json!({ "upload_size": size, "upload_checksum": checksum, "upload_name": name,
            "destination_location": name, "uploader": "wanda", "source_transfer_id": id })
}

#[test]
fn an_original_sender_clones_a_file_and_a_book_here_and_gets_its_callbacks() {
    let fake = fake_original();
    let (b, served) = site_b(&fake.url);
    let batch = json!({
        "uploads": [
            item("readme.txt", 44, "xxh3:::817dc5adeca1420b4d66e2ebb73fd65d", 101),
            item("books/obs_book_1700000400", 9914, "xxh3:::272530e169d10000fa3c880a5ba19823", 102),
        ],
        "source": "so-site-a",
        "total_size": 9958,
    });

    // Off by default: a peer that speaks our protocol has no /api/v2.
    let (status, refused) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &batch);
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["reason"].as_str().unwrap().contains("original-v2"),
        "the original's client reads `reason`: {refused}"
    );
    b.json(["peer", "set-protocol", "so-site-a", "original-v2"]).ok();
    let listed = b.json(["peer", "list"]).json();
    assert_eq!(listed[0]["protocol"], "original-v2", "{listed}");

    let (status, ping) = post(&served, "/api/v2/ping/", "anyone", "whatever", &json!({}));
    assert_eq!((status, ping["name"].as_str()), (200, Some("so-site-b")), "{ping}");

    // The readme's real size (the fixture's).
    let readme = fixture_store().join("readme.txt");
    let size = std::fs::metadata(&readme).unwrap().len();
    let mut batch = batch;
    batch["uploads"][0]["upload_size"] = size.into();
    batch["total_size"] = (size + 9914).into();
    let (status, staged) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &batch);
    assert_eq!(status, 201, "{staged}");
    let uploads = staged["uploads"].as_array().unwrap().clone();
    assert_eq!(uploads.len(), 2, "{staged}");
    assert!(staged["async_transfer_providers"]["local"]["available"].as_bool().unwrap(), "{staged}");
    let ours: Vec<i64> = uploads.iter().map(|u| u["destination_transfer_id"].as_i64().unwrap()).collect();
    assert_eq!(uploads[0]["source_transfer_id"], 101);

    // The original's transfer manager copies into the staging locations.
    copy_into(&readme, Path::new(uploads[0]["staging_location"].as_str().unwrap()));
    copy_into(
        &fixture_store().join("books/obs_book_1700000400"),
        Path::new(uploads[1]["staging_location"].as_str().unwrap()),
    );
    let update = |status: &str| {
        post(
            &served,
            "/api/v2/checkin/update",
            "so-site-a",
            A_HERE,
            &json!({
            "source_transfer_ids": [], "destination_transfer_ids": ours, "new_status": status }),
        )
    };
    let (s, u) = update("ONGOING");
    assert_eq!((s, u["modified_destination_transfer_ids"].as_array().map(Vec::len)), (200, Some(2)), "{u}");
    let (s, u) = update("STAGED");
    assert_eq!((s, u["modified_destination_transfer_ids"].as_array().map(Vec::len)), (200, Some(2)), "{u}");
    // Again: nothing changes (the call is applied once).
    let (s, _) = update("STAGED");
    assert_eq!(s, 200);

    ClonePair::tasks(&b, &["receive-clones"]).ok();
    let info = b.json(["info", "readme.txt"]);
    info.ok();
    assert_eq!(info.json()["checksum"], "xxh3:817dc5adeca1420b4d66e2ebb73fd65d", "{info}");
    let book = b.json(["info", "books/obs_book_1700000400"]);
    book.ok();
    assert_eq!(book.json()["kind"], "directory", "{book}");
    b.json(["verify"]).ok();

    ClonePair::tasks(&b, &["deliver-outbox"]).ok();
    let completes = fake.requests_to("/api/v2/clone/complete");
    assert_eq!(completes.len(), 2, "{:?}", fake.requests());
    let mut sources: Vec<i64> = completes.iter().map(|r| r.json()["source_transfer_id"].as_i64().unwrap()).collect();
    sources.sort();
    assert_eq!(sources, [101, 102]);
    for c in &completes {
        assert!(c.json()["store_id"].as_i64().unwrap() > 0, "{:?}", c.json());
        assert!(ours.contains(&c.json()["destination_transfer_id"].as_i64().unwrap()));
        assert!(c.authorization.as_deref().unwrap().starts_with("Basic "), "our credentials there");
    }
    let (s, st) = post(
        &served,
        "/api/v2/checkin/status",
        "so-site-a",
        A_HERE,
        &json!({
        "source_transfer_ids": [], "destination_transfer_ids": ours }),
    );
    assert_eq!(s, 200);
    assert_eq!(st["destination_transfer_status"][ours[0].to_string()], "COMPLETED", "{st}");

    // Offered again: the original's receiver answers 409 naming them.
    let (status, again) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &batch);
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["source_transfer_ids"], json!([101, 102]), "{again}");
    drop(served);
}

#[test]
fn bad_data_from_an_original_sender_fails_its_transfer_there_and_hostile_calls_change_nothing() {
    let fake = fake_original();
    let (b, served) = site_b(&fake.url);
    b.json(["peer", "set-protocol", "so-site-a", "original-v2"]).ok();
    let batch = json!({ "uploads": [item("lies.dat", 5, "xxh3:::00000000000000000000000000000000", 7)],
                        "source": "so-site-a", "total_size": 5 });
    let (status, staged) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &batch);
    assert_eq!(status, 201, "{staged}");
    let ours = staged["uploads"][0]["destination_transfer_id"].as_i64().unwrap();
    let dest = PathBuf::from(staged["uploads"][0]["staging_location"].as_str().unwrap());
    std::fs::write(&dest, b"hello").unwrap();
    post(
        &served,
        "/api/v2/checkin/update",
        "so-site-a",
        A_HERE,
        &json!({
        "source_transfer_ids": [], "destination_transfer_ids": [ours], "new_status": "STAGED" }),
    );
    ClonePair::tasks(&b, &["receive-clones"]).ok();
    b.json(["info", "lies.dat"]).expect_error(1, "not_found");
    ClonePair::tasks(&b, &["deliver-outbox"]).ok();
    let failed = fake.requests_to("/api/v2/checkin/update");
    assert_eq!(failed.len(), 1, "{:?}", fake.requests());
    assert_eq!(
        failed[0].json(),
        json!({ "source_transfer_ids": [7], "destination_transfer_ids": [], "new_status": "FAILED" })
    );

    // Hostile or malformed calls: clear answers in the original's style, nothing made.
    let before = librarian_e2e::sql::count(&b.db(), "SELECT COUNT(*) FROM transfers");
    let escape = json!({ "uploads": [item("../../etc/passwd", 5, "xxh3:::00000000000000000000000000000000", 8)],
                         "source": "so-site-a", "total_size": 5 });
    let (s, r) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &escape);
    assert_eq!(s, 400, "{r}");
    assert_eq!(r["source_transfer_ids"], json!([8]), "{r}");
    let spoofed = json!({ "uploads": [item("x.dat", 5, "xxh3:::00000000000000000000000000000000", 9)],
                          "source": "someone-else", "total_size": 5 });
    let (s, r) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, &spoofed);
    assert_eq!(s, 400, "{r}");
    let (s, r) = post_raw(&served, "/api/v2/clone/batch_stage", "so-site-a", A_HERE, b"{not json");
    assert_eq!(s, 422, "{r}");
    assert!(r["reason"].is_string(), "{r}");
    let (s, r) = post(&served, "/api/v2/clone/batch_stage", "so-site-a", "wrong", &batch);
    assert_eq!(s, 401, "{r}");
    // A transfer that is not the caller's is not touched.
    let (s, r) = post(
        &served,
        "/api/v2/checkin/update",
        "so-site-a",
        A_HERE,
        &json!({
        "source_transfer_ids": [], "destination_transfer_ids": [99999], "new_status": "STAGED" }),
    );
    assert_eq!(s, 200);
    assert_eq!(r["unmodified_destination_transfer_ids"], json!([99999]), "{r}");
    assert_eq!(librarian_e2e::sql::count(&b.db(), "SELECT COUNT(*) FROM transfers"), before, "nothing staged");
    drop(served);
}

/// A site running the original, as a receiver: it stages into its own staging
/// area (a directory of the test), takes `checkin/update` and is then asked by the
/// test (playing its RecieveClone) to call our `clone/complete`.
fn fake_original_receiver(staging: PathBuf) -> FakePeer {
    let next = std::sync::atomic::AtomicI64::new(500);
    FakePeer::start(move |req| {
        let body = req.json();
        match req.path.as_str() {
            "/api/v2/ping/logged" => Some(json_response(200, &json!({ "name": "SO Site B", "description": "fake" }))),
            "/api/v2/clone/batch_stage" => {
                let uploads: Vec<Value> = body["uploads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| {
                        let id = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let uuid = format!("uuid-{id}");
                        json!({ "staging_name": uuid,
                                "staging_location": staging.join(&uuid).join(u["upload_name"].as_str().unwrap()),
                                "upload_name": u["upload_name"], "destination_location": u["destination_location"],
                                "source_transfer_id": u["source_transfer_id"], "destination_transfer_id": id })
                    })
                    .collect();
                Some(json_response(
                    201,
                    &json!({ "available_bytes_on_store": 1_000_000_000u64, "store_name": "main_store",
                    "uploads": uploads, "async_transfer_providers": { "local": { "hostnames": ["x"], "available": true } } }),
                ))
            }
            "/api/v2/checkin/update" => Some(json_response(
                200,
                &json!({ "modified_source_transfer_ids": [], "modified_destination_transfer_ids": body["destination_transfer_ids"],
                         "unmodified_source_transfer_ids": [], "unmodified_destination_transfer_ids": [], "reasons": [] }),
            )),
            "/api/v2/checkin/status" => {
                Some(json_response(200, &json!({ "source_transfer_status": {}, "destination_transfer_status": {} })))
            }
            _ => Some(json_response(404, &json!({ "detail": "Not Found" }))),
        }
    })
}

#[test]
fn a_site_clones_to_an_original_receiver_with_its_v2_calls_and_takes_its_complete() {
    let staging_dir = tempfile::tempdir().unwrap();
    let staging = staging_dir.path().join("original-b-staging");
    std::fs::create_dir_all(&staging).unwrap();
    let fake = fake_original_receiver(staging.clone());
    let (a, served) =
        site_a(&fake.url, &format!("[clone.to.so-site-b]\ndestination_root = {:?}\n", staging.display().to_string()));
    a.json(["peer", "ping", "so-site-b"]).ok();

    // An xxh3 file goes; a BLAKE3 one cannot (the original verifies xxh3 and md5 only).
    let legacy = a.src("legacy.dat");
    std::fs::write(&legacy, b"for a site still running the original\n").unwrap();
    a.upload(&legacy, "legacy.dat", &["--algorithm", "xxh3"]).ok();
    let modern = a.src("modern.dat");
    std::fs::write(&modern, b"blake3 only\n").unwrap();
    a.upload(&modern, "modern.dat", &[]).ok();
    ClonePair::tasks(&a, &["send-clones"]).ok_or_degraded();
    ClonePair::tasks(&a, &["send-clones", "deliver-outbox"]).ok_or_degraded();

    let staged = fake.requests_to("/api/v2/clone/batch_stage");
    assert!(!staged.is_empty(), "{:?}", fake.requests());
    let body = staged[0].json();
    assert_eq!(body["source"], "so-site-a", "{body}");
    let up = body["uploads"].as_array().unwrap();
    assert_eq!(up.len(), 1, "only the xxh3 file is offered: {body}");
    assert!(up[0]["upload_checksum"].as_str().unwrap().starts_with("xxh3:::"), "the original's spelling: {body}");
    let refused = a.json(["transfers", "list", "--status", "failed"]).json();
    assert!(
        refused
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["file"] == "modern.dat" && t["error_code"] == "unsupported_checksum"),
        "{refused}"
    );
    // The bytes are in the original's staging location, and it was told STAGED.
    let dest = staging.join("uuid-500/legacy.dat");
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&legacy).unwrap());
    let updates = fake.requests_to("/api/v2/checkin/update");
    assert!(
        updates.iter().any(|u| u.json()
            == json!({ "source_transfer_ids": [], "destination_transfer_ids": [500], "new_status": "STAGED" })),
        "{updates:?}"
    );
    // Its RecieveClone ingests and calls back.
    let ours = a
        .json(["transfers", "list"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["file"] == "legacy.dat")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, r) = post(
        &served,
        "/api/v2/clone/complete",
        "so-site-b",
        B_THERE,
        &json!({
        "source_transfer_id": ours, "destination_transfer_id": 500, "store_id": 3 }),
    );
    assert_eq!(s, 200, "{r}");
    let info = a.json(["info", "legacy.dat"]).json();
    let remote = info["remote_instances"].as_array().unwrap();
    assert!(remote.iter().any(|r| r["librarian"] == "so-site-b" && r["store"] == "original-store-3"), "{info}");
    // Twice: nothing more; for another peer's transfer: refused.
    let (s, _) = post(
        &served,
        "/api/v2/clone/complete",
        "so-site-b",
        B_THERE,
        &json!({
        "source_transfer_id": ours, "destination_transfer_id": 500, "store_id": 3 }),
    );
    assert_eq!(s, 200);
    let (s, r) = post(
        &served,
        "/api/v2/clone/complete",
        "so-site-b",
        B_THERE,
        &json!({
        "source_transfer_id": 987654, "destination_transfer_id": 1, "store_id": 3 }),
    );
    assert_eq!(s, 400, "{r}");
    drop(served);
}

/// A drive for a site still running the original: our export also writes its
/// `manifest.json` (its fields, its checksum spelling, our transfer ids, files where
/// its `ingest-manifest --store-root <drive>` looks), and its `clone/complete` for
/// each entry completes our drive transfers. A BLAKE3 file cannot go that way.
#[test]
fn a_drive_exported_to_an_original_site_carries_its_manifest_and_its_callbacks_complete_it() {
    let fake = fake_original_receiver(PathBuf::from("/nonexistent"));
    let (a, served) = site_a(&fake.url, "");
    let drive = a.tmp().join("drive1");
    a.run(["store", "add", "drive1", "--root", drive.to_str().unwrap()]).ok();
    for (name, alg) in [("obs/one.g3", "xxh3"), ("legacy/two.dat", "md5")] {
        let src = a.src(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, format!("{name} for the original\n")).unwrap();
        a.upload(&src, name, &["--algorithm", alg, "--store", "drive1"]).ok();
    }
    let modern = a.src("modern.dat");
    std::fs::write(&modern, b"blake3\n").unwrap();
    a.upload(&modern, "modern.dat", &["--store", "drive1"]).ok();
    let msg =
        a.json(["sneakernet", "export", "--store", "drive1", "--to", "so-site-b"]).expect_error(2, "invalid_argument");
    assert!(msg.contains("modern.dat") && msg.contains("xxh3"), "{msg}");
    assert!(!drive.join("manifest.json").exists(), "nothing was written to the refused drive");
    // A drive of legacy files only goes.
    let drive2 = a.tmp().join("drive2");
    a.run(["store", "add", "drive2", "--root", drive2.to_str().unwrap()]).ok();
    for (name, alg) in [("obs/three.g3", "xxh3"), ("legacy/four.dat", "md5")] {
        let src = a.src(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, format!("{name} for the original\n")).unwrap();
        a.upload(&src, name, &["--algorithm", alg, "--store", "drive2"]).ok();
    }
    a.json(["sneakernet", "export", "--store", "drive2", "--to", "so-site-b"]).ok();
    let manifest: Value = serde_json::from_slice(&std::fs::read(drive2.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["librarian_name"], "so-site-a", "{manifest}");
    assert_eq!(manifest["store_name"], "drive2");
    let entries = manifest["store_files"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{manifest}");
    let mut ids = Vec::new();
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let sum = e["checksum"].as_str().unwrap();
        assert!(sum.starts_with("xxh3:::") || sum.starts_with("md5:::"), "{e}");
        // Where the original's ingest-manifest --store-root <drive> reads it.
        assert!(drive2.join(name).is_file(), "{name}");
        assert_eq!(Path::new(e["instance_path"].as_str().unwrap()), std::fs::canonicalize(&drive2).unwrap().join(name));
        assert!(e["create_time"].as_str().unwrap().contains('T') && e["deletion_policy"] == 0, "{e}");
        ids.push(e["outgoing_transfer_id"].as_i64().unwrap());
    }
    assert!(ids.iter().all(|id| *id > 0), "{ids:?}");
    // The original's RecieveClone calls back for each entry.
    for (k, id) in ids.iter().enumerate() {
        let (s, r) = post(
            &served,
            "/api/v2/clone/complete",
            "so-site-b",
            B_THERE,
            &json!({
            "source_transfer_id": id, "destination_transfer_id": 900 + k as i64, "store_id": 2 }),
        );
        assert_eq!(s, 200, "{r}");
    }
    let done = librarian_e2e::sql::count(
        &a.db(),
        "SELECT COUNT(*) FROM transfers WHERE manager = 'sneakernet' AND status = 'completed'",
    );
    assert_eq!(done, 2);
    assert_eq!(
        librarian_e2e::sql::count(
            &a.db(),
            "SELECT COUNT(*) FROM events WHERE category = 'drive_done' AND subject = 'drive2' AND cleared_at IS NULL"
        ),
        1
    );
    drop(served);
}

/// The original's own drive imported here while its site still runs the original:
/// each file's `clone/complete` goes to it in its form, naming its transfer ids.
#[test]
fn the_original_drive_imported_here_calls_back_the_original_site_in_its_protocol() {
    let fake = fake_original();
    let (b, served) = site_b(&fake.url);
    b.json(["peer", "set-protocol", "so-site-a", "original-v2"]).ok();
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian/drive");
    let drive = b.tmp().join("drive");
    copy_into(&from, &drive);
    let r = b.json(["sneakernet", "import", drive.to_str().unwrap()]);
    r.ok();
    assert_eq!(r.json()["callbacks_queued"].as_u64(), Some(28), "{r}");
    ClonePair::tasks(&b, &["deliver-outbox"]).ok();
    let mut ids: Vec<i64> = fake
        .requests_to("/api/v2/clone/complete")
        .iter()
        .map(|c| c.json()["source_transfer_id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (18..=45).collect::<Vec<_>>());
    drop(served);
}
