//! `librarian import-original` (issue 14) on the catalogs the original (Python)
//! Librarian wrote itself (tests/fixtures/so-librarian): every file, book, instance,
//! remote instance, user and peer arrives; the copies verify with their legacy
//! checksums; the users log in with their original passwords; the corrupt copy stays
//! corrupt; transfers in flight are resumed or failed and reported; a second import
//! changes nothing; a dry run writes nothing; a conflicting target is refused whole.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use librarian_e2e::Server;
use librarian_e2e::{Outcome, Site, sql, walk};
use serde_json::Value;

/// A writable copy of the fixture (catalogs, configs, trees, drive) in the site's tmp.
fn fixture(site: &Site) -> PathBuf {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian");
    let to = site.tmp().join("so");
    for p in walk(&from) {
        let dest = to.join(p.strip_prefix(&from).unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&p, &dest).unwrap();
        }
    }
    to
}

/// The arguments importing site `x` (`a` or `b`) of the fixture at `fx`.
fn import_args(fx: &Path, x: &str) -> Vec<String> {
    let mut args = vec![
        "import-original".to_owned(),
        fx.join(format!("site-{x}.sqlite")).display().to_string(),
        "--original-config".to_owned(),
        fx.join(format!("config/so-site-{x}.json")).display().to_string(),
        "--map-prefix".to_owned(),
        format!("/srv/so-librarian/so-site-{x}/main={}", fx.join(format!("tree/so-site-{x}/main")).display()),
    ];
    if x == "a" {
        args.push("--map-prefix".into());
        args.push(format!("/srv/so-librarian/so-site-a/drive={}", fx.join("drive").display()));
        args.push("--remote-store".into());
        args.push("so-site-b:1=main_store".into());
    }
    args
}

fn import(site: &Site, fx: &Path, x: &str, extra: &[&str]) -> Outcome {
    let mut args = import_args(fx, x);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    site.json(args)
}

/// Every row of every table that an import writes, as text.
fn dump(site: &Site) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for t in
        ["stores", "peers", "accounts", "files", "file_entries", "instances", "remote_instances", "transfers", "events"]
    {
        let mut rows = sql::rows(&site.db(), &format!("SELECT * FROM {t} ORDER BY 1, 2"));
        for r in &mut rows {
            r.insert(0, t.to_owned());
        }
        out.extend(rows);
    }
    out
}

fn count(site: &Site, q: &str) -> u64 {
    sql::count(&site.db(), q)
}

/// The status of `GET /api/v1/status` with these credentials.
fn status_as(server: &Server, user: &str, password: &str) -> u16 {
    use base64::Engine as _;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    agent
        .get(&format!("http://{}/api/v1/status", server.local()))
        .header("Authorization", &format!("Basic {auth}"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("GET status as {user}: {e}"))
}

#[test]
fn original_site_a_imports_whole_verifies_logs_in_and_imports_again_as_nothing() {
    let site = Site::named("so-site-a");
    let fx = fixture(&site);
    let first = import(&site, &fx, "a", &[]);
    first.ok();
    let r = first.json();
    assert_eq!(r["alembic_version"], "84785333a677", "{r}");
    assert_eq!(r["original_site"], "so-site-a");
    let added = &r["added"];
    let expect = [
        ("stores", 2),
        ("peers", 1),
        ("accounts", 6),
        ("files", 28),
        ("books", 2),
        ("instances", 56),
        ("remote_instances", 8),
        ("transfers", 45),
    ];
    for (k, n) in expect {
        assert_eq!(added[k].as_u64(), Some(n), "{k}: {r}");
    }
    assert_eq!(r["instance_states"], serde_json::json!({"ok": 27, "corrupt": 1, "retired": 28}), "{r}");

    // Files: canonical checksums, the original's text kept exactly.
    let sums = sql::rows(&site.db(), "SELECT name, checksum, original_checksum, kind FROM files ORDER BY name");
    assert_eq!(sums.len(), 28);
    let row = |n: &str| sums.iter().find(|r| r[0] == n).unwrap_or_else(|| panic!("{n} imported")).clone();
    assert_eq!(
        row("legacy/md5_bare.dat")[1..3],
        ["md5:c2abccbd2089ab33f171b790476ab542", "c2abccbd2089ab33f171b790476ab542"]
    );
    assert_eq!(row("legacy/md5_prefixed.dat")[2], "md5:::48a556bd1ade7609f954841316224cd6");
    assert_eq!(
        row("readme.txt")[1..3],
        ["xxh3:817dc5adeca1420b4d66e2ebb73fd65d", "xxh3:::817dc5adeca1420b4d66e2ebb73fd65d"]
    );
    assert_eq!(row("books/obs_book_1700000400")[3], "directory");
    assert_eq!(row("日本語/データ.txt")[3], "file");
    assert!(sums.iter().any(|r| r[0] == "spaces and ünïcødé – file №1.txt"));
    assert_eq!(
        sql::column(&site.db(), "SELECT created_at FROM files WHERE name = 'empty.dat'"),
        ["1796181567439426"],
        "the original's naive UTC time, to the microsecond"
    );
    // Books: their entries listed, with the legacy per-entry digests.
    assert_eq!(
        count(
            &site,
            "SELECT COUNT(*) FROM file_entries e JOIN files f ON f.id = e.file_id WHERE f.name = 'books/obs_book_1700000400'"
        ),
        9
    );
    assert_eq!(
        count(
            &site,
            "SELECT COUNT(*) FROM file_entries e JOIN files f ON f.id = e.file_id WHERE f.name = 'books/obs_book_1700000500' AND e.kind = 'file'"
        ),
        4
    );
    // Stores: the drive is there, disabled, not ingestable, with a reserve from 0.99.
    let drive = sql::rows(
        &site.db(),
        "SELECT ingestable, enabled, reserve_bytes, root FROM stores WHERE name = 'sneaker_drive'",
    );
    assert_eq!(drive[0][..2], ["0", "0"]);
    assert!(drive[0][2].parse::<u64>().unwrap() > 0, "{drive:?}");
    assert_eq!(Path::new(&drive[0][3]), std::fs::canonicalize(fx.join("drive/store")).unwrap());
    // Instances: the corrupt copy carries the original's finding, with an event.
    let corrupt = sql::rows(
        &site.db(),
        "SELECT i.state, i.state_reason FROM instances i JOIN files f ON f.id = i.file_id
         JOIN stores s ON s.id = i.store_id WHERE f.name = 'corrupt_me.dat' AND s.name = 'main_store'",
    );
    assert_eq!(corrupt[0][0], "corrupt");
    assert!(corrupt[0][1].contains("found corrupt 2 times") && corrupt[0][1].contains("4d4db344"), "{corrupt:?}");
    let event = sql::rows(
        &site.db(),
        "SELECT severity, count FROM events WHERE category = 'instance_corrupt' AND subject = 'main_store/corrupt_me.dat' AND cleared_at IS NULL",
    );
    assert_eq!(event, [["error", "2"]]);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM instances WHERE verified_at IS NOT NULL"),
        27,
        "checked ones keep their time"
    );
    // Remote instances at the peer, under the store's real name.
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM remote_instances WHERE librarian = 'so-site-b' AND store = 'main_store'"),
        8
    );
    // The peer, with the credentials the original encrypted.
    let peer = sql::rows(&site.db(), "SELECT url, account, password, transfers_enabled FROM peers");
    assert_eq!(peer, [["http://127.0.0.1:18902", "so-site-a", "a-to-b-append-pass", "1"]]);
    // Accounts and levels.
    let accounts = sql::rows(
        &site.db(),
        "SELECT a.name, a.level, COALESCE(p.name, '') FROM accounts a LEFT JOIN peers p ON p.id = a.peer_id ORDER BY a.name",
    );
    assert_eq!(
        accounts,
        [
            ["admin", "admin", ""],
            ["alice", "read-append", ""],
            ["cathy", "read-only", ""],
            ["rob", "read-only", ""],
            ["so-site-b", "callback", "so-site-b"],
            ["wanda", "read-append", ""]
        ]
    );
    // Transfers: the 28 drive copies resumed with their ids, the STAGED batch failed.
    assert_eq!(
        sql::column(
            &site.db(),
            "SELECT MIN(id) || '-' || MAX(id) || ' ' || COUNT(*) FROM transfers WHERE status = 'ongoing' AND manager = 'sneakernet'"
        ),
        ["18-45 28"]
    );
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM transfers WHERE status = 'failed' AND error_code = 'not_resumed'"),
        5
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM transfers WHERE status = 'failed' AND error_code = 'original'"), 4);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM transfers WHERE status = 'completed' AND remote_id BETWEEN 1 AND 8"),
        8
    );
    let in_flight = r["in_flight"].as_array().unwrap();
    let by = |action: &str| in_flight.iter().filter(|f| f["action"] == action).count();
    assert_eq!((by("resumed"), by("failed"), by("not_carried")), (28, 5, 1), "{r}");
    assert!(r["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("cathy")), "{r}");

    // Every available copy verifies with its legacy checksum; the corrupt one fails.
    let v = site.json(["verify"]);
    assert_eq!(v.code(), Some(1), "{v}");
    let checked = v.json()["checked"].as_array().unwrap().clone();
    assert_eq!(checked.len(), 28, "{v}");
    let bad: Vec<&Value> = checked.iter().filter(|c| c["status"] != "ok").collect();
    assert_eq!(bad.len(), 1, "{v}");
    assert_eq!(bad[0]["name"], "corrupt_me.dat");

    // The users log in to `librarian serve` with their original passwords.
    let server = Server::start(&site);
    for (user, pw) in [
        ("admin", "admin-a-pass"),
        ("wanda", "wanda-rw-pass"),
        ("alice", "alice-ra-pass"),
        ("rob", "rob-ro-pass"),
        ("cathy", "cathy-cb-pass"),
    ] {
        assert_eq!(status_as(&server, user, pw), 200, "{user} logs in with the original's password");
    }
    assert_eq!(status_as(&server, "admin", "admin-b-pass"), 401, "a wrong password is refused");
    assert_eq!(status_as(&server, "so-site-b", "b-to-a-callback-pass"), 403, "a callback account reads nothing");
    drop(server);

    // A second import changes nothing.
    let before = dump(&site);
    let again = import(&site, &fx, "a", &[]);
    again.ok();
    let r2 = again.json();
    assert_eq!(
        r2["added"],
        serde_json::json!({"stores":0,"peers":0,"accounts":0,"files":0,"books":0,"instances":0,"remote_instances":0,"transfers":0,"events":0}),
        "{r2}"
    );
    assert_eq!(r2["present"]["files"].as_u64(), Some(28));
    assert_eq!(r2["present"]["transfers"].as_u64(), Some(45));
    assert_eq!(dump(&site), before, "a second import changes no row");
}

#[test]
fn original_site_b_imports_with_its_staged_batch_failed_and_verifies() {
    let site = Site::named("so-site-b");
    let fx = fixture(&site);
    let out = import(&site, &fx, "b", &[]);
    out.ok();
    let r = out.json();
    assert_eq!(r["added"]["files"].as_u64(), Some(8), "{r}");
    assert_eq!(r["added"]["books"].as_u64(), Some(1), "{r}");
    assert_eq!(r["instance_states"], serde_json::json!({"ok": 8}), "{r}");
    assert_eq!(
        sql::rows(
            &site.db(),
            "SELECT a.name, a.level, COALESCE(p.name, '') FROM accounts a LEFT JOIN peers p ON p.id = a.peer_id ORDER BY a.name"
        ),
        [["admin", "admin", ""], ["bert", "read-only", ""], ["so-site-a", "read-append", "so-site-a"]]
    );
    assert_eq!(
        sql::rows(&site.db(), "SELECT url, account, password FROM peers"),
        [["http://127.0.0.1:18901", "so-site-b", "b-to-a-callback-pass"]]
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM transfers WHERE direction = 'incoming' AND status = 'completed'"), 8);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM transfers WHERE status = 'failed' AND error_code = 'not_resumed'"),
        5
    );
    let staged: Vec<&Value> = r["in_flight"].as_array().unwrap().iter().filter(|f| f["action"] == "failed").collect();
    assert_eq!(staged.len(), 5, "{r}");
    assert!(
        staged.iter().any(|f| f["detail"].as_str().unwrap().contains("b5fd01ce-ea76-49cd-bc02-2476f80418f6")),
        "{r}"
    );
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM events WHERE category = 'needs_attention' AND cleared_at IS NULL"),
        1,
        "one summary of the transfers failed at import"
    );
    let v = site.json(["verify"]);
    v.ok();
    assert_eq!(v.json()["checked"].as_array().map(Vec::len), Some(8), "{v}");
}

#[test]
fn a_dry_run_writes_nothing_and_a_conflicting_target_refuses_the_whole_import() {
    let site = Site::named("so-site-a");
    let fx = fixture(&site);
    let before = dump(&site);
    let dry = import(&site, &fx, "a", &["--dry-run"]);
    dry.ok();
    let r = dry.json();
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["added"]["files"].as_u64(), Some(28), "the dry run says what would be added: {r}");
    assert_eq!(dump(&site), before, "a dry run writes no row");
    assert!(!fx.join("drive/staging").exists(), "nor any directory");

    // The target already holds readme.txt with other contents, and a store of the
    // same name elsewhere: refused whole, nothing written, every conflict listed.
    let src = site.src("readme.txt");
    std::fs::write(&src, b"not the original's readme").unwrap();
    site.upload(&src, "readme.txt", &[]).ok();
    let before = dump(&site);
    let refused = import(&site, &fx, "a", &[]);
    let msg = refused.expect_error(1, "conflict");
    assert!(msg.contains("readme.txt") && msg.contains("--dry-run"), "{msg}");
    assert_eq!(dump(&site), before, "nothing of a refused import is written");
    let listed = import(&site, &fx, "a", &["--dry-run"]);
    assert_eq!(listed.code(), Some(1), "{listed}");
    let conflicts = listed.json()["conflicts"].as_array().unwrap().clone();
    assert_eq!(conflicts.len(), 1, "{listed}");
    assert_eq!((conflicts[0]["kind"].as_str(), conflicts[0]["name"].as_str()), (Some("file"), Some("readme.txt")));
}

#[test]
fn a_missing_root_a_wrong_or_absent_key_and_foreign_sources_are_refused_before_anything_is_written() {
    let site = Site::named("so-site-a");
    let fx = fixture(&site);
    let before = dump(&site);
    let a = fx.join("site-a.sqlite").display().to_string();
    let cfg_a = fx.join("config/so-site-a.json").display().to_string();
    let cfg_b = fx.join("config/so-site-b.json").display().to_string();
    let main = format!("/srv/so-librarian/so-site-a/main={}", fx.join("tree/so-site-a/main").display());

    // No --map-prefix: the original's /srv paths are not here.
    let msg = site.json(["import-original", &a, "--original-config", &cfg_a]).expect_error(2, "invalid_argument");
    assert!(msg.contains("/srv/so-librarian/so-site-a/main/store") && msg.contains("--map-prefix"), "{msg}");
    // B's key does not decrypt A's peer credentials.
    let msg = site
        .json(["import-original", &a, "--original-config", &cfg_b, "--map-prefix", &main])
        .expect_error(2, "invalid_argument");
    assert!(msg.contains("so-site-b") && msg.contains("wrong key"), "{msg}");
    // No key at all.
    let msg = site.json(["import-original", &a, "--map-prefix", &main]).expect_error(2, "invalid_argument");
    assert!(msg.contains("--original-config"), "{msg}");
    // Our own catalog is not an original one; nor is a text file.
    let ours = site.db().display().to_string();
    site.json(["import-original", &ours]).expect_error(2, "invalid_argument");
    let junk = site.src("junk.sqlite");
    std::fs::write(&junk, "SQLite format 3? no.").unwrap();
    site.json(["import-original", junk.to_str().unwrap()]).expect_error(2, "invalid_argument");
    assert_eq!(dump(&site), before, "no refusal wrote anything");
}

#[test]
fn rows_that_cannot_be_imported_are_reported_and_the_rest_comes() {
    let site = Site::named("so-site-b");
    let fx = fixture(&site);
    // A copy of B's catalog with rows this site cannot take (the vendored file is
    // never touched).
    let db = fx.join("site-b.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO users VALUES ('nobody', (SELECT auth_token FROM users WHERE username = 'bert'), 'NONE');
         INSERT INTO users VALUES ('bad name', (SELECT auth_token FROM users WHERE username = 'bert'), 'READONLY');
         INSERT INTO users VALUES ('plain', 'not-a-hash', 'READONLY');
         INSERT INTO users VALUES ('evil' || char(27) || '[2J', 'not-a-hash', 'READONLY');
         INSERT INTO store_metadata (id, name, ingestable, store_type, enabled) VALUES (7, 'core_store', 0, 0, 1);
         INSERT INTO files VALUES ('../escape', '2026-12-02 03:19:27.000000', 1, 'xxh3:::00', 'x', 'x');
         INSERT INTO files VALUES ('weird_sum', '2026-12-02 03:19:27.000000', 1, 'sha1:abc', 'x', 'x');
         INSERT INTO files VALUES ('outside.dat', '2026-12-02 03:19:27.000000', 1, 'md5:::c4ca4238a0b923820dcc509a6f75849b', 'x', 'x');
         INSERT INTO instances (path, deletion_policy, created_time, file_name, store_id, available)
             VALUES ('/etc/passwd', 'DISALLOWED', '2026-12-02 03:19:27.000000', 'outside.dat', 1, 1);",
    )
    .unwrap();
    // A name inside another, with a hundred names sorting between them.
    let file = |name: &str| {
        conn.execute(
            "INSERT INTO files VALUES (?1, '2026-12-02 03:19:27.000000', 1, 'md5:::c4ca4238a0b923820dcc509a6f75849b', 'x', 'x')",
            [name],
        )
        .unwrap();
    };
    file("nest");
    for k in 0..100 {
        file(&format!("nest.{k}"));
    }
    file("nest/inner");
    drop(conn);
    let out = import(&site, &fx, "b", &[]);
    out.ok();
    let r = out.json();
    let skipped: Vec<(String, String)> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["table"].as_str().unwrap().to_owned(), s["row"].as_str().unwrap().to_owned()))
        .collect();
    for (table, row) in [
        ("users", "nobody"),
        ("users", "bad name"),
        ("users", "plain"),
        ("store_metadata", "core_store"),
        ("files", "../escape"),
        ("files", "weird_sum"),
        ("files", "nest/inner"),
    ] {
        assert!(skipped.contains(&(table.to_owned(), row.to_owned())), "{table} {row} reported: {r}");
    }
    assert!(
        r["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["table"] == "instances" && s["reason"].as_str().unwrap().contains("/etc/passwd")),
        "an instance outside its store is refused: {r}"
    );
    // A name from the source reaches the terminal escaped, never as a control sequence.
    assert!(!out.stdout.contains('\u{1b}'), "{out}");
    assert!(skipped.iter().any(|(t, row)| t == "users" && row == "evil\\x1b[2J"), "{r}");
    assert_eq!(
        r["added"]["files"].as_u64(),
        Some(110),
        "B's 8 files, outside.dat, nest and nest.0-99 (no copies): {r}"
    );
    assert_eq!(r["added"]["accounts"].as_u64(), Some(3), "{r}");
    assert_eq!(
        count(
            &site,
            "SELECT COUNT(*) FROM instances i JOIN stores s ON s.id = i.store_id WHERE s.root LIKE '/etc%' OR i.path LIKE '%passwd%'"
        ),
        0
    );
}

#[test]
fn import_with_verify_rehashes_every_copy_and_later_verifications_use_blake3() {
    let site = Site::named("so-site-a");
    let fx = fixture(&site);
    // A byte changed on disk since the original last looked: --verify finds it.
    let victim = fx.join("tree/so-site-a/main/store/level2/obs_1700000300.g3");
    let mut perms = std::fs::metadata(&victim).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&victim, perms).unwrap();
    librarian_e2e::flip_byte(&victim, 10);
    let out = import(&site, &fx, "a", &["--verify"]);
    out.ok();
    let r = out.json();
    assert_eq!(r["instance_states"], serde_json::json!({"ok": 26, "corrupt": 2, "retired": 28}), "{r}");
    let with_b3 = sql::column(&site.db(), "SELECT name FROM files WHERE blake3 LIKE 'blake3:%' ORDER BY name");
    assert_eq!(with_b3.len(), 26, "every file with an intact copy keeps both digests: {with_b3:?}");
    assert!(with_b3.iter().any(|n| n == "books/obs_book_1700000400"), "books too");
    assert!(!with_b3.iter().any(|n| n == "level2/obs_1700000300.g3" || n == "corrupt_me.dat"));
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM files WHERE original_checksum IS NOT NULL AND checksum NOT LIKE 'blake3:%'"),
        28,
        "the legacy checksum stays the file's checksum"
    );
    let reason = sql::column(
        &site.db(),
        "SELECT i.state_reason FROM instances i JOIN files f ON f.id = i.file_id WHERE f.name = 'level2/obs_1700000300.g3' AND i.state = 'corrupt'",
    );
    assert!(reason[0].contains("at import"), "{reason:?}");
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM events WHERE category = 'instance_corrupt' AND cleared_at IS NULL"),
        2,
        "the original's corrupt record and the one --verify found"
    );

    // Later verification checks BLAKE3 for a file that has it, and still finds damage.
    let readme = fx.join("tree/so-site-a/main/store/readme.txt");
    let v = site.json(["verify", "readme.txt"]);
    v.ok();
    let c = &v.json()["checked"][0];
    assert!(c["expected"].as_str().unwrap().starts_with("blake3:"), "{v}");
    let mut perms = std::fs::metadata(&readme).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&readme, perms).unwrap();
    librarian_e2e::flip_byte(&readme, 0);
    let bad = site.json(["verify", "readme.txt"]);
    assert_eq!(bad.code(), Some(1), "{bad}");
    assert_eq!(bad.json()["checked"][0]["status"], "mismatch", "{bad}");
}

/// Both fixture sites imported, served, and linked: a new file at A clones to B with
/// our protocol (none of the 28 imported files is sent again: each has a remote
/// instance or a drive copy on its way), then the original's drive, imported at B,
/// completes A's 28 resumed SneakerNet transfers through B's callbacks.
#[test]
fn imported_sites_clone_with_our_protocol_and_the_original_drive_completes_its_transfers() {
    use librarian_e2e::pair::{ClonePair, append_config, disabled_tasks, outbox_len};
    let a = Site::named("so-site-a");
    let b = Site::named("so-site-b");
    let fx_a = fixture(&a);
    let fx_b = fixture(&b);
    import(&a, &fx_a, "a", &[]).ok();
    import(&b, &fx_b, "b", &[]).ok();
    let disabled = disabled_tasks();
    append_config(
        &a,
        &format!("{disabled}[clone.to.so-site-b]\ndestination_root = {:?}\n", b.tmp().display().to_string()),
    );
    append_config(&b, &disabled);
    let served_a = Server::start(&a);
    let served_b = Server::start(&b);
    // Re-link the peers: the original's URLs (127.0.0.1:18901/18902) are not these.
    a.json(["peer", "set-url", "so-site-b", &served_b.url]).ok();
    b.json(["peer", "set-url", "so-site-a", &served_a.url]).ok();
    let bad = a.json(["peer", "set-url", "so-site-b", "http://example.org"]);
    bad.expect_error(2, "invalid_argument");
    a.json(["peer", "ping", "so-site-b"]).ok();
    b.json(["peer", "ping", "so-site-a"]).ok();

    let plan = a.json(["clone", "remote", "--to", "so-site-b", "--dry-run"]).json();
    assert_eq!(plan["files"].as_array().map(Vec::len), Some(0), "nothing imported is sent again: {plan}");
    let src = a.src("new/after_import.dat");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, b"written after the migration\n").unwrap();
    a.upload(&src, "new/after_import.dat", &[]).ok();
    for _ in 0..4 {
        ClonePair::tasks(&a, &["send-clones", "deliver-outbox"]).ok();
        ClonePair::tasks(&b, &["receive-clones", "deliver-outbox"]).ok();
    }
    let at_b = b.json(["info", "new/after_import.dat"]);
    at_b.ok();
    assert!(at_b.json()["checksum"].as_str().unwrap().starts_with("blake3:"), "{at_b}");
    assert_eq!(
        count(
            &a,
            "SELECT COUNT(*) FROM remote_instances r JOIN files f ON f.id = r.file_id WHERE f.name = 'new/after_import.dat' AND r.librarian = 'so-site-b'"
        ),
        1
    );
    assert_eq!(
        count(
            &a,
            "SELECT COUNT(*) FROM transfers WHERE direction = 'outgoing' AND status = 'completed' AND import_key IS NULL"
        ),
        1,
        "exactly one new transfer: the new file"
    );

    // The original's drive arrives at B: 20 new files, 8 already there, and 28
    // callbacks that complete A's transfers 18-45.
    let drive = fx_b.join("drive");
    let imported = b.json(["sneakernet", "import", drive.to_str().unwrap()]);
    imported.ok();
    let r = imported.json();
    assert_eq!(r["imported"].as_array().map(Vec::len), Some(20), "{r}");
    assert_eq!(r["already_present"].as_array().map(Vec::len), Some(8), "{r}");
    assert_eq!(r["callbacks_queued"].as_u64(), Some(28), "{r}");
    ClonePair::tasks(&b, &["deliver-outbox"]).ok();
    assert_eq!(outbox_len(&b), 0, "B's callbacks were delivered");
    assert_eq!(
        sql::column(
            &a.db(),
            "SELECT COUNT(*) || ' ' || MIN(id) || '-' || MAX(id) FROM transfers WHERE manager = 'sneakernet' AND status = 'completed'"
        ),
        ["28 18-45"]
    );
    assert_eq!(
        count(&a, "SELECT COUNT(DISTINCT file_id) FROM remote_instances WHERE librarian = 'so-site-b'"),
        29,
        "every imported file and the new one are now known at B"
    );
    assert_eq!(
        count(
            &a,
            "SELECT COUNT(*) FROM events WHERE category = 'drive_done' AND subject = 'sneaker_drive' AND cleared_at IS NULL"
        ),
        1,
        "the drive is done"
    );
    drop((served_a, served_b));
}

/// What an import wrote, without this site's own paths and times: what must be the
/// same whichever backend the original's catalog was read from.
fn imported(site: &Site) -> Vec<Vec<String>> {
    let db = site.db();
    let mut out = Vec::new();
    for q in [
        "SELECT 'file', name, size, checksum, original_checksum, kind, uploader, source, created_at, arrived_at FROM files ORDER BY name",
        "SELECT 'entry', f.name, e.path, e.kind, e.size, e.digest FROM file_entries e JOIN files f ON f.id = e.file_id ORDER BY 2, 3",
        "SELECT 'instance', f.name, s.name, i.path, i.available, i.deletion_policy, i.created_at, i.verified_at, i.state, i.state_reason
         FROM instances i JOIN files f ON f.id = i.file_id JOIN stores s ON s.id = i.store_id ORDER BY 2, 3",
        "SELECT 'remote', f.name, r.librarian, r.store, r.copied_at FROM remote_instances r JOIN files f ON f.id = r.file_id ORDER BY 2, 3",
        "SELECT 'store', name, ingestable, enabled FROM stores ORDER BY name",
        "SELECT 'account', a.name, a.password_hash, a.level, p.name FROM accounts a LEFT JOIN peers p ON p.id = a.peer_id ORDER BY 2",
        "SELECT 'peer', name, url, account, password, transfers_enabled FROM peers ORDER BY name",
        "SELECT 'transfer', import_key, CASE WHEN id <= 45 THEN id END, direction, remote_id, file_name, size, checksum, status, manager,
                error_code, error, created_at, updated_at FROM transfers ORDER BY import_key",
        "SELECT 'event', category, subject, severity, count, message FROM events WHERE category <> 'needs_attention' ORDER BY 2, 3",
    ] {
        out.extend(sql::rows(&db, q));
    }
    out
}

/// The acceptance's "the same from PostgreSQL": site A's catalog loaded into a real
/// PostgreSQL server (started by the test) imports exactly as from its SQLite file,
/// and a second import from PostgreSQL changes nothing.
#[test]
fn original_site_a_imports_from_postgresql_exactly_as_from_sqlite() {
    use librarian_e2e::postgres::{PgServer, load_original_fixture};
    let Some(pg) = PgServer::start() else { return };
    let from_file = Site::named("so-site-a");
    let fx = fixture(&from_file);
    import(&from_file, &fx, "a", &[]).ok();

    let from_pg = Site::named("so-site-a");
    let fx2 = fixture(&from_pg);
    load_original_fixture(&pg, "so_site_a", &fx2.join("site-a.sqlite"));
    let url = pg.url("so_site_a");
    let mut args = import_args(&fx2, "a");
    args[1] = url.clone();
    let out = from_pg.json(&args);
    out.ok();
    assert_eq!(out.json()["source"], url.as_str(), "{out}");
    assert_eq!(out.json()["added"]["files"].as_u64(), Some(28), "{out}");
    // The stores' roots differ (two copies of the tree); everything else is equal.
    assert_eq!(imported(&from_pg), imported(&from_file));
    let before = dump(&from_pg);
    from_pg.json(&args).ok();
    assert_eq!(dump(&from_pg), before, "a second import from PostgreSQL changes nothing");
}
