//! The data life-cycle's peer endpoints under attack (issue 13): `files/read` and
//! `files/verify`, from both sides.
//!
//! - Serving: a hostile caller against a real served site. Names that are not
//!   catalogued or not names, entries that are not recorded (`..`, absolute paths, a
//!   file planted inside the stored book or beside it), bodies that are not what the
//!   endpoint takes, and callers without the right account are refused with a clear
//!   status and code; nothing outside the catalogued data is ever served (not even
//!   through a link planted in the data area), and refused requests change nothing.
//! - Calling: a real site repairing from, and asking re-verification of, a fake peer
//!   that lies. Bad bytes never reach a data area (nor stay in staging), the damaged
//!   copy stays marked; a lying `files/verify` answer never counts as a verified
//!   copy, so rolling deletion deletes nothing on its strength; and nothing hostile
//!   reaches the output, the events or the task records unescaped.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use librarian_e2e::fake_peer::{FakePeer, Request, bytes_response, chunked_response, json_response};
use librarian_e2e::pair::{A_AT_B, ClonePair, append_config};
use librarian_e2e::{Outcome, Site, sql, walk, write_random, write_secret};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// A character that must never reach a terminal or a log raw: controls (C0 but the
/// newline, DEL, C1), zero-width and bidi formatting characters, line separators.
fn hazard(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[track_caller]
fn assert_clean(text: &str, what: &str) {
    let bad: Vec<char> = text.chars().filter(|&c| hazard(c)).collect();
    assert!(bad.is_empty(), "{what} holds raw hazardous characters {bad:?}:\n{text}");
}

/// Every string in `v` (keys too), decoded, is clean.
#[track_caller]
fn assert_clean_json(v: &Value, what: &str) {
    match v {
        Value::String(s) => assert_clean(s, what),
        Value::Array(a) => a.iter().for_each(|x| assert_clean_json(x, what)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            assert_clean(k, what);
            assert_clean_json(x, what);
        }),
        _ => {}
    }
}

/// Stdout and stderr of a run are clean, and so is every string of its JSON.
#[track_caller]
fn assert_outcome_clean(o: &Outcome) {
    assert_clean(&o.stdout, &format!("stdout of `{}`", o.what));
    assert_clean(&o.stderr, &format!("stderr of `{}`", o.what));
    if let Ok(v) = serde_json::from_str::<Value>(&o.stdout) {
        assert_clean_json(&v, &format!("the JSON of `{}`", o.what));
    }
}

/// What a site's operators see later: its events (cleared ones too) and the records
/// of its task runs, all clean.
#[track_caller]
fn assert_records_clean(site: &Site) {
    for args in [&["events", "list", "--all"][..], &["tasks", "list"][..]] {
        let out = site.json(args);
        out.ok();
        assert_outcome_clean(&out);
    }
}

/// `chmod` that keeps nothing else.
fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Run `f` with `dir` writable (committed data is read-only), then put its mode back.
fn with_writable_dir<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    let was = mode(dir);
    set_mode(dir, was | 0o700);
    let out = f();
    set_mode(dir, was);
    out
}

/// Damage the committed file at `path` in place: one byte flipped, same length.
fn flip(path: &Path, at: usize) {
    let was = mode(path);
    set_mode(path, 0o600);
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
    set_mode(path, was);
}

/// Files with their bytes and mode.
type Files = BTreeMap<PathBuf, (Vec<u8>, u32)>;

/// Every file below `root` with its bytes and mode.
fn snapshot(root: &Path) -> Files {
    walk(root)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let m = mode(&p);
            (p, (bytes, m))
        })
        .collect()
}

/// Does any file below `root` contain `needle`?
fn any_file_contains(root: &Path, needle: &[u8]) -> Option<PathBuf> {
    walk(root).into_iter().filter(|p| std::fs::symlink_metadata(p).unwrap().is_file()).find(|p| {
        let bytes = std::fs::read(p).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

fn instance_state(site: &Site, name: &str) -> String {
    let info = site.json(["info", name]);
    info.ok();
    let v = info.json();
    let inst = v["instances"].as_array().unwrap().iter().find(|i| i["store"] == "main").cloned().unwrap();
    inst["state"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------
// Serving side: a hostile caller against a real served site
// ---------------------------------------------------------------------------------

const READ: &str = "/api/v1/files/read";
const VERIFY: &str = "/api/v1/files/verify";
const READER_PW: &str = "a-reader-that-is-no-peer";

/// Bytes that must never leave the serving site: planted in its data area (inside the
/// stored book, beside it) and outside the site.
const PLANTED_IN_BOOK: &[u8] = b"PLANTED-INSIDE-THE-STORED-BOOK";
const PLANTED_BESIDE: &[u8] = b"PLANTED-BESIDE-THE-BOOK";
const OUTSIDE: &[u8] = b"THE-HOSTS-OWN-SECRET-OUTSIDE-THE-SITE";

/// One HTTP call: `method path` with `body` of `content_type`, optionally with Basic
/// credentials; the status, the `Content-Type` and the body.
fn call(
    base: &str,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    content_type: &str,
    body: &str,
) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let basic =
        auth.map(|(u, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
    let result = if method == "GET" {
        let mut req = agent.get(&url);
        if let Some(b) = &basic {
            req = req.header("Authorization", b);
        }
        req.call()
    } else {
        let mut req = agent.post(&url).header("Content-Type", content_type);
        if let Some(b) = &basic {
            req = req.header("Authorization", b);
        }
        req.send(body.to_owned())
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("Content-Type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    (status, ctype, bytes)
}

/// A served site B with a file, a book and another file, accounts for a peer
/// (`site-a`, read-append) and for a reader that is no peer, and the planted bytes.
struct Target {
    pair: ClonePair,
    file: Vec<u8>,
    entry: Vec<u8>,
    outside: PathBuf,
}

impl Target {
    fn new() -> Target {
        let pair = ClonePair::new("", "");
        let b = &pair.b;
        let src = b.src("s/file.dat");
        write_random(&src, 100_000, 61);
        b.upload(&src, "s/file.dat", &[]).ok();
        let other = b.src("s/other.dat");
        write_random(&other, 20_000, 62);
        b.upload(&other, "s/other.dat", &[]).ok();
        let book = b.src("s/book");
        write_random(&book.join("d/e1"), 30_000, 63);
        std::fs::write(book.join("top"), b"the top entry\n").unwrap();
        b.upload(&book, "s/book", &[]).ok();
        let pw = b.tmp().join("reader-pw");
        write_secret(&pw, &format!("{READER_PW}\n"));
        b.run(["account", "add", "reader", "--level", "read-only", "--password-file", pw.to_str().unwrap()]).ok();

        let stored_book = b.data().join("s/book");
        with_writable_dir(&stored_book, || std::fs::write(stored_book.join("planted.txt"), PLANTED_IN_BOOK).unwrap());
        let parent = b.data().join("s");
        with_writable_dir(&parent, || std::fs::write(parent.join("secret.txt"), PLANTED_BESIDE).unwrap());
        let outside = b.tmp().join("outside/secret");
        std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
        std::fs::write(&outside, OUTSIDE).unwrap();
        Target { file: std::fs::read(&src).unwrap(), entry: std::fs::read(book.join("d/e1")).unwrap(), pair, outside }
    }

    fn base(&self) -> String {
        self.pair.served_b.as_ref().unwrap().url.clone()
    }

    fn post(&self, path: &str, auth: Option<(&str, &str)>, body: &str) -> (u16, String, Vec<u8>) {
        call(&self.base(), "POST", path, auth, "application/json", body)
    }

    /// As the peer `site-a`.
    fn peer_post(&self, path: &str, body: &str) -> (u16, String, Vec<u8>) {
        self.post(path, Some(("site-a", A_AT_B)), body)
    }

    /// What must not change when requests are refused: every instance's state,
    /// reason, availability and last verification, every event, the data area.
    fn state(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>, Files) {
        let db = self.pair.b.db();
        (
            sql::rows(
                &db,
                "SELECT id, state, COALESCE(state_reason, ''), available, COALESCE(verified_at, '') FROM instances ORDER BY id",
            ),
            sql::rows(&db, "SELECT * FROM events ORDER BY id"),
            snapshot(&self.pair.b.data()),
        )
    }

    /// Nothing that is not catalogued data is in `body`, nor this site's paths.
    #[track_caller]
    fn assert_no_leak(&self, body: &[u8], what: &str) {
        for secret in [PLANTED_IN_BOOK, PLANTED_BESIDE, OUTSIDE] {
            assert!(
                !body.windows(secret.len()).any(|w| w == secret),
                "{what} served planted bytes {:?}",
                String::from_utf8_lossy(secret)
            );
        }
        // A path of this site, unless the caller sent it (an error may echo the request).
        let dir = self.pair.b.dir().display().to_string();
        assert!(what.contains(&dir) || !String::from_utf8_lossy(body).contains(&dir), "{what} names this site's paths");
    }

    /// A refusal: `status`, a JSON error with `code`, no leak; returns the message.
    #[track_caller]
    fn expect_refused(&self, got: (u16, String, Vec<u8>), status: u16, code: &str, what: &str) -> String {
        let (s, ctype, body) = got;
        // For messages: the start of the body, escaped (it may be bytes).
        let text = format!("{:?}", String::from_utf8_lossy(&body[..body.len().min(400)]));
        assert_eq!(s, status, "{what}: {text}");
        assert!(ctype.starts_with("application/json"), "{what}: a refusal is JSON, not {ctype:?}");
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        assert_eq!(v["error"]["code"], code, "{what}: {text}");
        self.assert_no_leak(&body, what);
        v["error"]["message"].as_str().unwrap_or_default().to_owned()
    }
}

fn read_body(name: &str, entry: Option<&str>) -> String {
    match entry {
        Some(e) => json!({ "name": name, "entry": e }).to_string(),
        None => json!({ "name": name }).to_string(),
    }
}

#[test]
fn hostile_files_read_and_verify_calls_are_refused_and_change_nothing() {
    let t = Target::new();
    let before = t.state();

    // Names that are not catalogued: the planted file beside the book included.
    for name in ["s/nope.dat", "s/secret.txt", "s/book/planted.txt", "s/book/d/e1", "s"] {
        let got = t.peer_post(READ, &read_body(name, None));
        t.expect_refused(got, 404, "not_found", &format!("files/read {name:?}"));
    }
    // Strings that are no names at all.
    let long = "n".repeat(5000);
    for name in [
        "../etc/passwd",
        "/etc/passwd",
        "",
        "s//file.dat",
        "s/./file.dat",
        "s/../s/file.dat",
        "s/file.dat/",
        "s/\u{1b}[31mx",
        &long,
    ] {
        let got = t.peer_post(READ, &read_body(name, None));
        t.expect_refused(got, 400, "bad_request", &format!("files/read {name:?}"));
    }
    // Entries the book does not record: traversal, absolute paths, the planted file,
    // a recorded directory, spellings of a recorded entry that are not it.
    let absolute_beside = t.pair.b.data().join("s/secret.txt").display().to_string();
    let outside = t.outside.display().to_string();
    for entry in [
        "..",
        "../secret.txt",
        "../../../../../../../../etc/passwd",
        "/etc/passwd",
        absolute_beside.as_str(),
        outside.as_str(),
        "planted.txt",
        "d",
        "",
        ".",
        "./top",
        "d/../top",
        "top/",
        "d//e1",
        "top\u{0}",
    ] {
        let got = t.peer_post(READ, &read_body("s/book", Some(entry)));
        t.expect_refused(got, 404, "not_found", &format!("files/read s/book entry {entry:?}"));
    }
    // An entry asked of a plain file; a book asked for without an entry.
    let msg =
        t.expect_refused(t.peer_post(READ, &read_body("s/file.dat", Some("x"))), 400, "bad_request", "entry on a file");
    assert!(msg.contains("not a book"), "{msg}");
    let msg =
        t.expect_refused(t.peer_post(READ, &read_body("s/book", None)), 400, "bad_request", "a book without entry");
    assert!(msg.contains("is a book"), "{msg}");
    // Bodies that are not what the endpoints take.
    for (path, body) in [
        (READ, r#"{"name": "s/file.dat", "path": "/etc/passwd"}"#),
        (READ, r#"{"name": "s/file.dat""#),
        (READ, r#"{"name": 5}"#),
        (READ, ""),
        (VERIFY, r#"{"names": ["s/file.dat"], "store": "main"}"#),
        (VERIFY, r#"{"names": "s/file.dat"}"#),
        (VERIFY, r#"{}"#),
        (VERIFY, r#"{"names": [1, 2]}"#),
        (VERIFY, "{\"names\": [\"s/file.dat\"]"),
    ] {
        t.expect_refused(t.peer_post(path, body), 400, "bad_request", &format!("{path} {body:?}"));
    }
    let not_json =
        call(&t.base(), "POST", READ, Some(("site-a", A_AT_B)), "text/plain", &read_body("s/file.dat", None));
    t.expect_refused(not_json, 400, "bad_request", "files/read as text/plain");
    for path in [READ, VERIFY] {
        let got = call(&t.base(), "GET", path, Some(("site-a", A_AT_B)), "", "");
        t.expect_refused(got, 405, "method_not_allowed", &format!("GET {path}"));
    }
    // 65 names: one more than a call may ask.
    let names: Vec<String> = (0..65).map(|i| format!("s/n{i:02}")).collect();
    let msg =
        t.expect_refused(t.peer_post(VERIFY, &json!({ "names": names }).to_string()), 400, "bad_request", "65 names");
    assert!(msg.contains("64"), "{msg}");
    // Names that are not names, or not catalogued, are answered "not here", each in
    // its place, and nothing is read.
    let odd = ["../etc/passwd", "/etc/passwd", "", "s/\u{1b}[2J", "s/secret.txt", "s/book/planted.txt"];
    let (status, _, body) = t.peer_post(VERIFY, &json!({ "names": odd }).to_string());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    t.assert_no_leak(&body, "files/verify of odd names");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), odd.len(), "{v}");
    for (f, asked) in files.iter().zip(odd) {
        assert_eq!(f["name"], asked, "{v}");
        assert_eq!((f["present"].as_bool(), f["checksum"].is_null()), (Some(false), true), "{v}");
        assert_eq!(f["copies"], json!([]), "{v}");
    }

    // The callers: none, a wrong password, an unknown account, a reader that is no peer.
    for (path, body) in [(READ, read_body("s/file.dat", None)), (VERIFY, json!({"names": ["s/file.dat"]}).to_string())]
    {
        t.expect_refused(t.post(path, None, &body), 401, "unauthorized", &format!("{path} without credentials"));
        t.expect_refused(t.post(path, Some(("site-a", "wrong")), &body), 401, "unauthorized", "a wrong password");
        t.expect_refused(t.post(path, Some(("mallory", A_AT_B)), &body), 401, "unauthorized", "an unknown account");
        let msg = t.expect_refused(t.post(path, Some(("reader", READER_PW)), &body), 403, "forbidden", "a reader");
        assert!(msg.contains("not tied to a peer"), "{msg}");
    }

    assert!(before == t.state(), "refused requests changed the site's state");
    let events = t.pair.b.json(["events", "list", "--all"]);
    events.ok();
    assert_eq!(events.json(), json!([]), "refused requests raised events: {events}");
    // The planted files are still there, untouched: nothing was served, nothing removed.
    assert_eq!(std::fs::read(t.pair.b.data().join("s/book/planted.txt")).unwrap(), PLANTED_IN_BOOK);
    assert_eq!(std::fs::read(t.pair.b.data().join("s/secret.txt")).unwrap(), PLANTED_BESIDE);

    // The peer itself is served: the file, a recorded entry, the verification (a
    // name twice is answered twice, in order).
    let (status, ctype, body) = t.peer_post(READ, &read_body("s/file.dat", None));
    assert_eq!((status, ctype.as_str()), (200, "application/octet-stream"));
    assert!(body == t.file, "files/read served other bytes than the file's");
    let (status, _, body) = t.peer_post(READ, &read_body("s/book", Some("d/e1")));
    assert_eq!(status, 200);
    assert!(body == t.entry, "files/read served other bytes than the entry's");
    let (status, _, body) = t.peer_post(READ, &read_body("s/book", Some("top")));
    assert_eq!((status, body.as_slice()), (200, &b"the top entry\n"[..]));
    let asked = ["s/file.dat", "s/file.dat", "s/book", "s/nope.dat"];
    let (status, _, body) = t.peer_post(VERIFY, &json!({ "names": asked }).to_string());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    t.assert_no_leak(&body, "files/verify");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let present: Vec<(&str, bool)> =
        v["files"].as_array().unwrap().iter().map(|f| (f["name"].as_str().unwrap(), f["present"] == true)).collect();
    assert_eq!(present, vec![("s/file.dat", true), ("s/file.dat", true), ("s/book", true), ("s/nope.dat", false)]);
    assert_eq!(v["files"][0]["copies"], json!([{"store": "main", "status": "ok", "state": "ok"}]), "{v}");
    // Exactly 64 names is allowed.
    let names: Vec<String> = (0..64).map(|i| format!("s/n{i:02}")).collect();
    let (status, _, body) = t.peer_post(VERIFY, &json!({ "names": names }).to_string());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["files"].as_array().map(Vec::len), Some(64));
}

#[test]
fn a_link_or_bad_bytes_planted_in_the_data_area_are_never_served() {
    let t = Target::new();
    let b = &t.pair.b;
    // The stored file replaced by a link to the host's secret; the book's entry `top`
    // too; the other file damaged in place (same length).
    let stored = b.data().join("s/file.dat");
    with_writable_dir(&b.data().join("s"), || {
        set_mode(&stored, 0o600);
        std::fs::remove_file(&stored).unwrap();
        std::os::unix::fs::symlink(&t.outside, &stored).unwrap();
    });
    let book = b.data().join("s/book");
    with_writable_dir(&book, || {
        std::fs::remove_file(book.join("top")).unwrap();
        std::os::unix::fs::symlink(&t.outside, book.join("top")).unwrap();
    });
    flip(&b.data().join("s/other.dat"), 10);

    for (name, entry) in [("s/file.dat", None), ("s/book", Some("top")), ("s/other.dat", None)] {
        let got = t.peer_post(READ, &read_body(name, entry));
        let msg = t.expect_refused(got, 404, "not_found", &format!("files/read {name} {entry:?}"));
        assert!(msg.contains("no intact copy"), "{msg}");
    }
    // Each was marked damaged by the re-read; the intact entry of the damaged book is
    // not served either (the copy is no longer a source).
    for name in ["s/file.dat", "s/book", "s/other.dat"] {
        assert_ne!(instance_state(b, name), "ok", "{name}");
    }
    let got = t.peer_post(READ, &read_body("s/book", Some("d/e1")));
    t.expect_refused(got, 404, "not_found", "an entry of a damaged book");
    // files/verify says so, and vouches for none of them.
    let (status, _, body) = t.peer_post(VERIFY, &json!({"names": ["s/file.dat", "s/book", "s/other.dat"]}).to_string());
    assert_eq!(status, 200);
    t.assert_no_leak(&body, "files/verify");
    let v: Value = serde_json::from_slice(&body).unwrap();
    for f in v["files"].as_array().unwrap() {
        let statuses: Vec<&str> =
            f["copies"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
        assert!(!statuses.is_empty() && !statuses.contains(&"ok"), "{f}");
    }
    assert_eq!(std::fs::read(&t.outside).unwrap(), OUTSIDE, "the linked file is untouched");
}

// ---------------------------------------------------------------------------------
// Calling side: a real site and a fake peer that lies
// ---------------------------------------------------------------------------------

/// Site A linked to `fake` as its peer `site-b`, its tasks off, with `extra` TOML.
fn linked_to(fake: &FakePeer, extra: &str) -> Site {
    let a = Site::named("site-a");
    append_config(&a, &format!("{}{extra}", librarian_e2e::pair::disabled_tasks()));
    let pw = a.tmp().join("a-at-b");
    write_secret(&pw, "a-at-fake-b\n");
    a.run([
        "peer",
        "add",
        "site-b",
        "--url",
        &fake.url,
        "--account",
        "site-a",
        "--password-file",
        pw.to_str().unwrap(),
    ])
    .ok();
    a
}

/// Record at A that peer `site-b` holds a copy of `name` on its store `main` (as a
/// clone would have), never re-verified.
fn plant_remote_copy(a: &Site, name: &str) {
    let now = jiff::Timestamp::now().as_microsecond();
    sql::write(
        &a.db(),
        &format!(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at)
             SELECT id, 'site-b', 'main', {now} FROM files WHERE name = '{name}'"
        ),
    );
}

/// The bytes a lying peer sends: recognisable wherever they might end up.
const EVIL: &[u8] = b"EVIL-PEER-BYTES!";

fn evil_bytes(len: usize) -> Vec<u8> {
    EVIL.iter().copied().cycle().take(len).collect()
}

/// How the fake answers `files/read`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ReadLie {
    /// Other bytes of the right length, with the catalog's digest in the header.
    OtherBytes,
    /// The right bytes and more, the length announced.
    Longer,
    /// The right bytes and more, chunked (no length announced).
    LongerChunked,
    /// Fewer bytes than the announced (right) length: the connection closes early.
    ShortBody,
    /// A length that is too short, honestly sent.
    ShortLength,
    /// A 200 with a JSON body instead of bytes.
    JsonBody,
    /// A 500 whose error code and message are escape sequences.
    ServerError,
    /// A redirect elsewhere.
    Redirect,
    /// The truth.
    Honest,
}

const READ_LIES: [ReadLie; 8] = [
    ReadLie::OtherBytes,
    ReadLie::Longer,
    ReadLie::LongerChunked,
    ReadLie::ShortBody,
    ReadLie::ShortLength,
    ReadLie::JsonBody,
    ReadLie::ServerError,
    ReadLie::Redirect,
];

/// The answer to a `files/read` of `good` (the true bytes) told as `lie`.
fn read_answer(lie: ReadLie, good: &[u8], digest: &str) -> Vec<u8> {
    let mut more = good.to_vec();
    more.extend_from_slice(&evil_bytes(4096));
    match lie {
        ReadLie::OtherBytes => bytes_response(good.len(), &evil_bytes(good.len()), &[("X-Librarian-Digest", digest)]),
        ReadLie::Longer => bytes_response(more.len(), &more, &[]),
        ReadLie::LongerChunked => chunked_response(&more),
        ReadLie::ShortBody => {
            let mut half = good[..good.len() / 2].to_vec();
            half.extend_from_slice(EVIL);
            bytes_response(good.len(), &half, &[])
        }
        ReadLie::ShortLength => {
            let mut half = good[..good.len() / 2].to_vec();
            half.extend_from_slice(EVIL);
            bytes_response(half.len(), &half, &[])
        }
        ReadLie::JsonBody => {
            json_response(200, &json!({"bytes": String::from_utf8_lossy(&evil_bytes(good.len())), "ok": true}))
        }
        ReadLie::ServerError => json_response(
            500,
            &json!({"error": {"code": "\u{1b}[31mdisk_on_fire", "message": "\u{1b}]0;pwned\u{7}\u{202e} disk \u{9b}2J on fire"}}),
        ),
        ReadLie::Redirect => {
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/evil\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec()
        }
        ReadLie::Honest => bytes_response(good.len(), good, &[("X-Librarian-Digest", digest)]),
    }
}

/// A fake peer answering `files/read` per the current lie: the file's bytes are
/// `files[""]`, a book entry's `files[entry]`; `bad_entry` (when set) is the only
/// entry lied about.
fn lying_reader(
    files: BTreeMap<String, Vec<u8>>,
    lie: Arc<Mutex<ReadLie>>,
    bad_entry: Option<&'static str>,
) -> FakePeer {
    FakePeer::start(move |req: &Request| {
        if req.path != READ {
            return None;
        }
        let body = req.json();
        let entry = body["entry"].as_str().unwrap_or("").to_owned();
        let good = files.get(&entry)?;
        let lie = *lie.lock().unwrap();
        let told = if bad_entry.is_none_or(|b| b == entry) { lie } else { ReadLie::Honest };
        Some(read_answer(told, good, "blake3:whatever"))
    })
}

/// After a refused repair of `name`: exit 1 naming the peer, the copy still marked
/// damaged, the data area as it was, nothing of the peer's left once staging is
/// cleaned, and nothing hostile printed or recorded. Returns the reason given.
#[track_caller]
fn assert_repair_refused(a: &Site, name: &str, data_before: &Files, what: &str) -> String {
    let r = a.json(["repair", name]);
    assert_eq!(r.code(), Some(1), "{what}: {r}");
    assert_outcome_clean(&r);
    let rep = r.json();
    assert_eq!(rep["repaired"], json!([]), "{what}: {rep}");
    let reason = rep["failed"][0]["reason"].as_str().unwrap_or_else(|| panic!("{what}: {rep}"));
    assert!(reason.contains("peer site-b"), "{what}: {reason}");
    assert_eq!(instance_state(a, name), "corrupt", "{what}: the damaged copy stays marked");
    assert!(snapshot(&a.data()) == *data_before, "{what}: the data area changed");
    a.json(["tasks", "run", "--only", "cleanup-staging"]).ok();
    assert_eq!(a.staging_leftovers(false), Vec::<PathBuf>::new(), "{what}: staging is not empty");
    let stores = a.dir().join("stores");
    assert_eq!(any_file_contains(&stores, EVIL), None, "{what}: the peer's bytes were kept");
    assert_records_clean(a);
    reason.to_owned()
}

#[test]
fn hostile_repair_from_a_peer_that_sends_bad_bytes_never_replaces_the_damaged_file() {
    let lie = Arc::new(Mutex::new(ReadLie::Honest));
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("raw.dat");
    write_random(&src, 200_000, 71);
    let good = std::fs::read(&src).unwrap();
    let fake = lying_reader(BTreeMap::from([(String::new(), good.clone())]), Arc::clone(&lie), None);
    let a = linked_to(&fake, "");
    a.upload(&src, "r/raw.dat", &[]).ok();
    // A's bystanders: another file, which no repair may touch.
    let other = a.src("r/other.dat");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, b"a bystander\n").unwrap();
    a.upload(&other, "r/other.dat", &[]).ok();
    plant_remote_copy(&a, "r/raw.dat");
    flip(&a.data().join("r/raw.dat"), 150_000);
    assert_eq!(a.json(["verify", "r/raw.dat"]).code(), Some(1));
    assert_eq!(instance_state(&a, "r/raw.dat"), "corrupt");
    let data_before = snapshot(&a.data());

    for told in READ_LIES {
        *lie.lock().unwrap() = told;
        fake.clear();
        let reason = assert_repair_refused(&a, "r/raw.dat", &data_before, &format!("{told:?}"));
        let asked = fake.requests_to(READ);
        assert_eq!(asked.len(), 1, "{told:?}: A asked the peer once: {asked:?}");
        assert_eq!(asked[0].json(), json!({"name": "r/raw.dat"}), "{told:?}");
        if told == ReadLie::ServerError {
            // The peer's code is not a plain code: `unknown`; its message is escaped.
            assert!(reason.contains("\\x1b]0;pwned") && reason.contains("unknown"), "{reason}");
        }
    }

    // The same peer telling the truth repairs it: the lies above were refused for
    // what they were, not because the fake could never be used.
    *lie.lock().unwrap() = ReadLie::Honest;
    let r = a.json(["repair", "r/raw.dat"]);
    r.ok();
    assert_eq!(r.json()["repaired"][0]["from"], "peer site-b", "{r}");
    assert!(std::fs::read(a.data().join("r/raw.dat")).unwrap() == good);
    assert_eq!(std::fs::read(a.data().join("r/other.dat")).unwrap(), b"a bystander\n");
    assert_eq!(instance_state(&a, "r/raw.dat"), "ok");
    a.assert_consistent();
}

#[test]
fn hostile_repair_of_a_book_from_a_peer_that_lies_about_one_entry_never_replaces_it() {
    let lie = Arc::new(Mutex::new(ReadLie::Honest));
    let tmp = tempfile::tempdir().unwrap();
    let book = tmp.path().join("book");
    write_random(&book.join("d/e1"), 40_000, 81);
    std::fs::write(book.join("d/e2"), b"second entry\n").unwrap();
    std::fs::write(book.join("top"), b"top entry\n").unwrap();
    std::fs::create_dir_all(book.join("empty")).unwrap();
    let entries: BTreeMap<String, Vec<u8>> =
        ["d/e1", "d/e2", "top"].into_iter().map(|e| (e.to_owned(), std::fs::read(book.join(e)).unwrap())).collect();
    // The peer lies about `d/e2` only, an entry that is intact here: every byte it
    // sends must still be checked.
    let fake = lying_reader(entries.clone(), Arc::clone(&lie), Some("d/e2"));
    let a = linked_to(&fake, "");
    a.upload(&book, "r/book", &[]).ok();
    plant_remote_copy(&a, "r/book");
    flip(&a.data().join("r/book/d/e1"), 7);
    assert_eq!(a.json(["verify", "r/book"]).code(), Some(1));
    let data_before = snapshot(&a.data());

    for told in READ_LIES {
        *lie.lock().unwrap() = told;
        fake.clear();
        assert_repair_refused(&a, "r/book", &data_before, &format!("book, {told:?}"));
        // Only entries the catalog recorded were asked for, by their recorded paths.
        for req in fake.requests_to(READ) {
            let v = req.json();
            assert_eq!(v["name"], "r/book", "{v}");
            assert!(entries.contains_key(v["entry"].as_str().unwrap()), "{v}");
        }
        assert!(
            fake.requests_to(READ).iter().any(|r| r.json()["entry"] == "d/e2"),
            "{told:?}: A never asked for the entry lied about"
        );
    }

    *lie.lock().unwrap() = ReadLie::Honest;
    let r = a.json(["repair", "r/book"]);
    r.ok();
    assert_eq!(r.json()["repaired"][0]["from"], "peer site-b", "{r}");
    for (e, bytes) in &entries {
        assert!(std::fs::read(a.data().join("r/book").join(e)).unwrap() == *bytes, "{e}");
    }
    assert!(a.data().join("r/book/empty").is_dir());
    a.assert_consistent();
}

/// Checksum and size of `name` at `site`.
fn checksum_and_size(site: &Site, name: &str) -> (String, u64) {
    let info = site.json(["info", name]);
    info.ok();
    let v = info.json();
    (v["checksum"].as_str().unwrap().to_owned(), v["size"].as_u64().unwrap())
}

/// How the fake answers `files/verify`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum VerifyLie {
    OtherNames,
    Swapped,
    Fewer,
    More,
    HostileStores,
    OkButOtherChecksum,
    OkButHostileChecksum,
    HostileStatus,
    AbsentButOk,
    NotJson,
    Huge,
    /// `ok` with our checksum: the peer's word, which the design trusts.
    Honest,
}

const VERIFY_LIES: [VerifyLie; 11] = [
    VerifyLie::OtherNames,
    VerifyLie::Swapped,
    VerifyLie::Fewer,
    VerifyLie::More,
    VerifyLie::HostileStores,
    VerifyLie::OkButOtherChecksum,
    VerifyLie::OkButHostileChecksum,
    VerifyLie::HostileStatus,
    VerifyLie::AbsentButOk,
    VerifyLie::NotJson,
    VerifyLie::Huge,
];

/// A store name no site may have: traversal and a terminal escape.
const EVIL_STORE: &str = "../../../etc/\u{1b}[31mEVIL";

fn verify_answer(lie: VerifyLie, asked: &[String], ours: &BTreeMap<String, (String, u64)>) -> Vec<u8> {
    let ok = |store: &str| json!({"store": store, "status": "ok", "state": "ok"});
    let file = |name: &str, copies: Vec<Value>| {
        let (sum, size) = ours.get(name).cloned().unwrap_or_else(|| (format!("blake3:{}", "ab".repeat(32)), 1));
        json!({"name": name, "present": true, "checksum": sum, "size": size, "copies": copies,
               "verified_at": "2026-01-01T00:00:00Z"})
    };
    let honest: Vec<Value> = asked.iter().map(|n| file(n, vec![ok("main")])).collect();
    let files: Vec<Value> = match lie {
        VerifyLie::Honest => honest,
        VerifyLie::OtherNames => asked.iter().map(|_| file("v/unasked", vec![ok("main")])).collect(),
        VerifyLie::Swapped => honest.into_iter().rev().collect(),
        VerifyLie::Fewer => honest.into_iter().take(asked.len() - 1).collect(),
        VerifyLie::More => {
            let mut v = honest;
            v.push(file("v/unasked", vec![ok("main")]));
            v
        }
        VerifyLie::HostileStores => asked
            .iter()
            .map(|n| {
                file(
                    n,
                    vec![
                        ok(EVIL_STORE),
                        ok("main\n"),
                        ok("main/../main"),
                        ok(""),
                        ok("main\u{202e}"),
                        ok(&"m".repeat(300)),
                    ],
                )
            })
            .collect(),
        VerifyLie::OkButOtherChecksum => asked
            .iter()
            .map(|n| {
                let mut f = file(n, vec![ok("main")]);
                f["checksum"] = Value::from(format!("blake3:{}", "cd".repeat(32)));
                f
            })
            .collect(),
        VerifyLie::OkButHostileChecksum => asked
            .iter()
            .map(|n| {
                let mut f = file(n, vec![ok("main")]);
                f["checksum"] = Value::from("blake3:\u{9b}31m\u{1b}]0;pwned\u{7}\u{202e}evil");
                f
            })
            .collect(),
        VerifyLie::HostileStatus => asked
            .iter()
            .map(|n| {
                file(n, vec![json!({"store": "main", "status": "\u{1b}]0;pwned\u{7}\u{202e}ok\u{9b}", "state": "ok"})])
            })
            .collect(),
        VerifyLie::AbsentButOk => asked
            .iter()
            .map(|n| {
                let mut f = file(n, vec![ok("main")]);
                f["present"] = Value::from(false);
                f
            })
            .collect(),
        VerifyLie::NotJson => return bytes_response(22, b"\x1b]0;pwned\x07 not json!", &[]),
        VerifyLie::Huge => {
            // The honest answer, padded past any sane size (24 MiB).
            let mut v = json!({"site": "site-b", "files": honest});
            v["padding"] = Value::from("x".repeat(24 << 20));
            return json_response(200, &v);
        }
    };
    json_response(200, &json!({"site": "site-b", "files": files}))
}

#[test]
fn hostile_verify_answers_never_count_as_verified_copies_and_delete_nothing() {
    let lie = Arc::new(Mutex::new(VerifyLie::Honest));
    let ours: Arc<Mutex<BTreeMap<String, (String, u64)>>> = Arc::default();
    let (told, known) = (Arc::clone(&lie), Arc::clone(&ours));
    let fake = FakePeer::start(move |req: &Request| {
        if req.path != VERIFY {
            return None;
        }
        let asked: Vec<String> =
            req.json()["names"].as_array()?.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect();
        let lie = *told.lock().unwrap();
        Some(verify_answer(lie, &asked, &known.lock().unwrap()))
    });
    let a = linked_to(&fake, "[deletion.main]\nafter = \"1s\"\nmin_copies = 1\nverified_within = \"7d\"\n");
    let names = ["v/one", "v/two"];
    for (i, name) in names.iter().enumerate() {
        let src = a.src(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        write_random(&src, 50_000, 90 + i as u64);
        a.upload(&src, name, &["--deletion-policy", "allowed"]).ok();
        plant_remote_copy(&a, name);
        ours.lock().unwrap().insert((*name).to_owned(), checksum_and_size(&a, name));
    }
    // Made here an hour ago: old enough for `after = "1s"` without waiting.
    sql::write(&a.db(), "UPDATE instances SET created_at = created_at - 3600000000");
    let plan = a.json(["rolling-deletion", "--store", "main", "--dry-run"]);
    plan.ok();
    assert!(
        plan.json()["items"].as_array().unwrap().iter().all(|i| i["action"] == "verify"),
        "both copies wait for the peer's word: {plan}"
    );
    let data_before = snapshot(&a.data());
    let reset = "DELETE FROM remote_instances WHERE store <> 'main';
                 UPDATE remote_instances SET state = 'ok', verified_at = NULL, checked_at = NULL";
    let vouched = "SELECT COUNT(*) FROM remote_instances WHERE state = 'ok' AND verified_at IS NOT NULL";

    for lie_now in VERIFY_LIES {
        let what = format!("{lie_now:?}");
        *lie.lock().unwrap() = lie_now;
        sql::write(&a.db(), reset);

        // By hand: `verify --remote` fails, prints nothing hostile, counts nothing.
        fake.clear();
        let by_hand = a.json(["verify", "--remote", "site-b", "v/one", "v/two"]);
        assert_ne!(by_hand.code(), Some(0), "{what}: {by_hand}");
        assert_outcome_clean(&by_hand);
        assert_eq!(fake.requests_to(VERIFY).len(), 1, "{what}: the peer was asked");
        assert_eq!(sql::count(&a.db(), vouched), 0, "{what}: a copy counts as verified");
        let human = a.run(["verify", "--remote", "site-b", "v/one", "v/two"]);
        assert_ne!(human.code(), Some(0), "{what}: {human}");
        assert_outcome_clean(&human);

        // Rolling deletion asks the peer again, and deletes nothing on its word.
        sql::write(&a.db(), reset);
        fake.clear();
        let run = a.json(["rolling-deletion", "--store", "main"]);
        assert_outcome_clean(&run);
        assert_eq!(fake.requests_to(VERIFY).len(), 1, "{what}: the peer was asked: {run}");
        assert_eq!(run.json()["deleted"], 0, "{what}: {run}");
        assert!(snapshot(&a.data()) == data_before, "{what}: the data area changed");
        assert_eq!(sql::count(&a.db(), vouched), 0, "{what}: a copy counts as verified");
        let stores = sql::column(&a.db(), "SELECT DISTINCT store FROM remote_instances");
        assert_eq!(stores, vec!["main".to_owned()], "{what}: a store the peer named was recorded");
        for name in names {
            assert_eq!(instance_state(&a, name), "ok", "{what}: {name}");
        }
        // The scheduled task does the same, and records only clean text.
        sql::write(&a.db(), reset);
        let task = a.json(["tasks", "run", "--only", "rolling-deletion"]);
        assert_outcome_clean(&task);
        assert!(snapshot(&a.data()) == data_before, "{what}: the task deleted something");
        assert_records_clean(&a);
    }

    // The one answer the design accepts: the peer says `ok` with our checksum. That
    // is the peer's word, and rolling deletion relies on it (docs/security.md: "a peer
    // that says its copy is intact when it is not can make this site delete its own
    // copy"; `min_copies = 2` with copies at two sites is the defence). So the same
    // fake, telling what would be the truth, has both copies deleted here.
    *lie.lock().unwrap() = VerifyLie::Honest;
    sql::write(&a.db(), reset);
    let run = a.json(["rolling-deletion", "--store", "main"]);
    run.ok();
    assert_eq!(run.json()["deleted"], 2, "{run}");
    for name in names {
        assert!(!a.data().join(name).exists(), "{name} was trusted to the peer");
        assert_eq!(instance_state(&a, name), "deleted");
    }
    assert_eq!(sql::count(&a.db(), vouched), 2);
}
