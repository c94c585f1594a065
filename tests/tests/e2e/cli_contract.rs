//! The CLI contract of design §9 that scripts rely on: JSON field names and types, error
//! codes and exit codes, configuration lookup, stores, search filters, `--move`,
//! `--expect-checksum`, help texts, and no progress bars on a pipe.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::Path;

use serde_json::Value;

use librarian_e2e::{
    Outcome, Site, bare_librarian, list_dir, run_outcome, skip, sql, walk, which, write_random, write_text,
};

const BLAKE3_ABC: &str = "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
const SHA256_ABC: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn is_utc_rfc3339(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && s.ends_with('Z')
        && (b.len() == 20 || (b[19] == b'.' && digits(20..b.len() - 1)))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> =
        v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[track_caller]
fn assert_has_keys(v: &Value, want: &[&str]) {
    let have = keys(v);
    for k in want {
        assert!(have.contains(k), "missing field {k:?} in {v}");
    }
}

#[track_caller]
fn assert_file_shape(f: &Value, kind: &str) {
    assert_has_keys(
        f,
        &[
            "name",
            "size",
            "checksum",
            "kind",
            "uploader",
            "source",
            "created_at",
            "arrived_at",
            "instances",
            "remote_instances",
        ],
    );
    assert!(f["name"].is_string() && f["size"].is_u64() && f["checksum"].is_string(), "{f}");
    assert_eq!(f["kind"], kind, "{f}");
    assert!(is_utc_rfc3339(&f["created_at"]), "created_at is not RFC 3339 UTC: {f}");
    assert!(is_utc_rfc3339(&f["arrived_at"]), "arrived_at is not RFC 3339 UTC: {f}");
    assert!(f["remote_instances"].is_array(), "{f}");
    for i in f["instances"].as_array().expect("instances array") {
        assert_has_keys(i, &["id", "store", "path", "available", "deletion_policy", "created_at", "verified_at"]);
        assert!(i["id"].is_i64() && i["store"].is_string() && i["available"].is_boolean(), "{i}");
        assert!(Path::new(i["path"].as_str().unwrap()).is_absolute(), "{i}");
        assert!(matches!(i["deletion_policy"].as_str(), Some("allowed" | "disallowed")), "{i}");
        assert!(is_utc_rfc3339(&i["created_at"]), "{i}");
        assert!(i["verified_at"].is_null() || is_utc_rfc3339(&i["verified_at"]), "{i}");
    }
}

#[test]
fn json_objects_have_the_contract_fields() {
    let site = Site::new();
    let src = site.src("abc.txt");
    write_text(&src, "abc");
    let up = site.upload(&src, "2026/11/abc.txt", &["--uploader", "alice"]);
    up.ok();
    let v = up.json();
    assert_eq!(keys(&v), ["file", "status"], "{up}");
    assert_eq!(v["status"], "ingested");
    let f = &v["file"];
    assert_file_shape(f, "file");
    assert_eq!(f["name"], "2026/11/abc.txt");
    assert_eq!(f["size"], 3);
    assert_eq!(f["checksum"], BLAKE3_ABC);
    assert_eq!(f["uploader"], "alice");
    assert_eq!(f["source"], "e2e");
    assert_eq!(f["remote_instances"], serde_json::json!([]));
    let inst = &f["instances"][0];
    assert_eq!(f["instances"].as_array().map(Vec::len), Some(1));
    assert_eq!(inst["store"], "main");
    assert_eq!(inst["path"], site.data().join("2026/11/abc.txt").to_str().unwrap());
    assert_eq!(inst["available"], true);
    assert_eq!(inst["deletion_policy"], "disallowed", "the default deletion policy is disallowed");

    // Same name, same bytes: idempotent, says so, same file.
    let again = site.upload(&src, "2026/11/abc.txt", &[]);
    again.ok();
    assert_eq!(again.json()["status"], "already_present");
    assert_eq!(again.json()["file"]["checksum"], BLAKE3_ABC);
    assert_eq!(again.json()["file"]["created_at"], f["created_at"]);

    // A book, with a deletion policy and SHA-256.
    let book = site.src("book");
    write_text(&book.join("a"), "abc");
    write_text(&book.join("d/b"), "hello");
    let b = site.upload(&book, "books/one", &["--deletion-policy", "allowed", "--algorithm", "sha256"]);
    b.ok();
    let bf = &b.json()["file"];
    assert_file_shape(bf, "directory");
    assert_eq!(bf["size"], 8);
    assert!(bf["checksum"].as_str().unwrap().starts_with("sha256:"), "{b}");
    assert_eq!(bf["instances"][0]["deletion_policy"], "allowed");

    // info and search give the same File objects.
    let info = site.json(["info", "books/one"]);
    info.ok();
    assert_eq!(&info.json(), bf);
    let all = site.json(["search"]);
    all.ok();
    let all = all.json();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    for f in all.as_array().unwrap() {
        assert_file_shape(f, f["kind"].as_str().unwrap());
    }

    // status and stores.
    let st = site.json(["status"]);
    st.ok();
    let st = st.json();
    assert_has_keys(&st, &["site", "database", "schema_version", "files", "bytes", "stores"]);
    assert_eq!(st["site"], "e2e");
    assert_eq!(st["files"], 2);
    assert_eq!(st["bytes"], 11);
    let store = &st["stores"][0];
    assert_has_keys(
        store,
        &["name", "root", "staging", "ingestable", "enabled", "reserve_bytes", "files", "used_bytes", "free_bytes"],
    );
    assert_eq!(store["files"], 2);
    assert_eq!(store["used_bytes"], 11);

    // RemoteInstance: the CLI cannot create one yet; record one the way a clone will.
    sql::write(
        &site.db(),
        "INSERT INTO remote_instances (file_id, librarian, store, copied_at) \
         SELECT id, 'site-b', 'vault', 1700000000000000 FROM files WHERE name = '2026/11/abc.txt';",
    );
    let info = site.json(["info", "2026/11/abc.txt"]);
    info.ok();
    let r = &info.json()["remote_instances"][0];
    assert_has_keys(r, &["librarian", "store", "copied_at"]);
    assert_eq!(r["librarian"], "site-b");
    assert_eq!(r["store"], "vault");
    assert_eq!(r["copied_at"], "2023-11-14T22:13:20Z");
    let text = site.run(["info", "2026/11/abc.txt"]);
    text.ok();
    assert!(text.stdout.contains("site-b"), "{text}");
}

#[test]
fn init_twice_is_already_exists() {
    let site = Site::new();
    let before = std::fs::read(site.config()).unwrap();
    let out = run_outcome(bare_librarian().args(["--json", "init"]).arg(site.dir()).args(["--name", "other"]));
    out.expect_error(1, "already_exists");
    assert_eq!(std::fs::read(site.config()).unwrap(), before, "the configuration was rewritten");
    site.json(["status"]).ok();
    // Bad site names are usage errors.
    let tmp = tempfile::tempdir().unwrap();
    let bad = run_outcome(bare_librarian().args(["--json", "init"]).arg(tmp.path().join("x")).args(["--name", "a b"]));
    bad.expect_error(2, "invalid_argument");
}

#[test]
fn configuration_is_found_by_flag_env_or_cwd() {
    let site = Site::new();
    let missing = site.tmp().join("nope/librarian.toml");
    let by_flag = run_outcome(bare_librarian().arg("--json").arg("--config").arg(&missing).arg("status"));
    let msg = by_flag.expect_error(1, "not_found");
    assert!(msg.contains("nope/librarian.toml"), "{by_flag}");

    let by_env = run_outcome(bare_librarian().env("LIBRARIAN_CONFIG", &missing).args(["--json", "status"]));
    by_env.expect_error(1, "not_found");
    let empty = tempfile::tempdir().unwrap();
    let by_cwd = run_outcome(bare_librarian().current_dir(empty.path()).args(["--json", "status"]));
    let msg = by_cwd.expect_error(1, "not_found");
    assert!(msg.contains("librarian.toml"), "{by_cwd}");

    // And each way finds a real site.
    let ok_env = run_outcome(bare_librarian().env("LIBRARIAN_CONFIG", site.config()).args(["--json", "status"]));
    ok_env.ok();
    assert_eq!(ok_env.json()["site"], "e2e");
    let ok_cwd = run_outcome(bare_librarian().current_dir(site.dir()).args(["--json", "status"]));
    ok_cwd.ok();
    assert_eq!(ok_cwd.json()["site"], "e2e");
    // --config wins over the environment.
    let both = run_outcome(
        bare_librarian()
            .env("LIBRARIAN_CONFIG", &missing)
            .arg("--config")
            .arg(site.config())
            .args(["--json", "status"]),
    );
    both.ok();
}

#[test]
fn no_configuration_anywhere_says_where_it_looked_and_how_to_make_one() {
    // The system file is looked for before ./librarian.toml; this test needs it absent.
    if Path::new("/etc/librarian/librarian.toml").exists() {
        skip("the no-configuration message: /etc/librarian/librarian.toml exists on this machine");
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    let out = run_outcome(bare_librarian().current_dir(empty.path()).args(["--json", "status"]));
    let msg = out.expect_error(1, "not_found");
    let here = std::fs::canonicalize(empty.path()).unwrap().join("librarian.toml");
    for needle in
        ["--config", "$LIBRARIAN_CONFIG", "/etc/librarian/librarian.toml", here.to_str().unwrap(), "librarian init"]
    {
        assert!(msg.contains(needle), "{needle:?} missing: {out}");
    }
    // In that order.
    let at = |s: &str| msg.find(s).unwrap();
    assert!(at("--config") < at("$LIBRARIAN_CONFIG") && at("$LIBRARIAN_CONFIG") < at("/etc/librarian"), "{msg}");
    assert!(at("/etc/librarian") < at(here.to_str().unwrap()), "{msg}");
    assert!(list_dir(empty.path()).is_empty(), "nothing was created");
}

#[test]
fn config_show_prints_the_configuration_and_every_default() {
    let site = Site::new();
    std::fs::write(
        site.config(),
        format!("{}\n[server]\nworkers = 3\n", std::fs::read_to_string(site.config()).unwrap()),
    )
    .unwrap();
    // As set, naming the file it came from.
    let shown = site.run(["config", "show"]);
    shown.ok();
    assert!(shown.stdout.starts_with(&format!("# {}\n", site.config().display())), "{shown}");
    assert!(shown.stdout.contains("name = \"e2e\"") && shown.stdout.contains("workers = 3"), "{shown}");
    assert!(!shown.stdout.contains("[outbox]"), "defaults only with --defaults: {shown}");
    // Every table and key, defaults filled in.
    let all = site.run(["config", "show", "--defaults"]);
    all.ok();
    for needle in [
        "[server]",
        "workers = 3",
        "listen = \"127.0.0.1:8420\"",
        "# tls_cert",
        "[client]",
        "[outbox]",
        "[clone]",
        "[tasks.cleanup-staging]",
        "[tasks.reconcile-transfers]",
        "every = \"30s\"",
    ] {
        assert!(all.stdout.contains(needle), "{needle:?} missing: {all}");
    }
    // It is a configuration librarian reads back (beside the original, so the
    // database path means the same), and the site opens with it.
    let copy = site.dir().join("shown.toml");
    std::fs::write(&copy, &all.stdout).unwrap();
    let status = run_outcome(bare_librarian().arg("--config").arg(&copy).args(["--json", "status"]));
    status.ok();
    assert_eq!(status.json()["site"], "e2e");
    let again = run_outcome(bare_librarian().arg("--config").arg(&copy).args(["config", "show", "--defaults"]));
    again.ok();
    assert_eq!(again.stdout.lines().skip(1).collect::<Vec<_>>(), all.stdout.lines().skip(1).collect::<Vec<_>>());
    // JSON: where it was found, and the same tables; found through the environment too.
    let json = run_outcome(bare_librarian().env("LIBRARIAN_CONFIG", site.config()).args([
        "--json",
        "config",
        "show",
        "--defaults",
    ]));
    json.ok();
    let v = json.json();
    assert_eq!(v["path"], site.config().to_str().unwrap(), "{json}");
    assert_eq!(v["config"]["server"]["workers"], 3, "{json}");
    assert_eq!(v["config"]["tasks"]["send-clones"]["every"], "5m", "{json}");
    assert_eq!(v["config"]["outbox"]["batch"], 1000, "{json}");
    // No catalog needed: a configuration whose database is missing is still shown.
    std::fs::write(&copy, "name = \"lonely\"\ndatabase = \"nowhere.db\"\n").unwrap();
    let lonely = run_outcome(bare_librarian().arg("--config").arg(&copy).args(["config", "show"]));
    lonely.ok();
    assert!(lonely.stdout.contains("lonely"), "{lonely}");
}

#[test]
fn malformed_configuration_is_a_config_error() {
    let site = Site::new();
    let good = std::fs::read_to_string(site.config()).unwrap();
    for (what, text) in [
        ("not TOML", "this is = not toml ["),
        ("unknown key", &format!("{good}\nsurprise = 1\n")),
        ("missing name", "database = \"librarian.db\"\n"),
        ("bad site name", "name = \"bad name!\"\n"),
        ("wrong type", "name = 42\n"),
    ] {
        std::fs::write(site.config(), text).unwrap();
        let out = site.json(["status"]);
        let msg = out.expect_error(1, "config");
        assert!(msg.contains("librarian.toml"), "{what}: the message does not name the file: {out}");
    }
    std::fs::write(site.config(), good).unwrap();
    site.json(["status"]).ok();
}

#[test]
fn newer_schema_is_refused() {
    let site = Site::new();
    sql::write(&site.db(), "PRAGMA user_version = 99;");
    for args in [&["status"][..], &["search"], &["verify"]] {
        let out = site.json(args);
        let msg = out.expect_error(1, "schema_too_new");
        assert!(msg.contains("99"), "{out}");
    }
    // Refusing did not migrate or touch the database.
    assert_eq!(sql::count(&site.db(), "PRAGMA user_version"), 99);
}

#[test]
fn expect_checksum_mismatch_commits_nothing() {
    let site = Site::new();
    let src = site.src("abc.txt");
    write_text(&src, "abc");
    let wrong = format!("blake3:{}", "0".repeat(64));
    let out = site.upload(&src, "x/abc.txt", &["--expect-checksum", &wrong]);
    let msg = out.expect_error(1, "checksum_mismatch");
    assert!(msg.contains(&wrong) && msg.contains(BLAKE3_ABC), "the message should give both checksums: {out}");
    assert!(walk(&site.data()).is_empty(), "data area: {:?}", walk(&site.data()));
    assert!(list_dir(&site.staging()).is_empty(), "staging: {:?}", list_dir(&site.staging()));
    assert!(site.files().is_empty());

    // A book too.
    let book = site.src("book");
    write_text(&book.join("f"), "abc");
    site.upload(&book, "x/book", &["--expect-checksum", &wrong]).expect_error(1, "checksum_mismatch");
    assert!(walk(&site.data()).is_empty());
    assert!(list_dir(&site.staging()).is_empty());

    // The right checksum is accepted, and picks the algorithm.
    let ok = site.upload(&src, "x/abc.txt", &["--expect-checksum", SHA256_ABC]);
    ok.ok();
    assert_eq!(ok.json()["file"]["checksum"], SHA256_ABC);
    let ok = site.upload(
        &src,
        "x/abc-b3.txt",
        &["--expect-checksum", &BLAKE3_ABC.to_uppercase().replace("BLAKE3", "blake3")],
    );
    ok.ok();
    assert_eq!(ok.json()["file"]["checksum"], BLAKE3_ABC);
    // A checksum that cannot be parsed is a usage error.
    site.upload(&src, "x/y", &["--expect-checksum", "blake3:xyz"]).expect_error(2, "invalid_checksum");
    site.assert_consistent();
}

#[test]
fn move_ingests_and_removes_the_source() {
    let site = Site::new();
    let src = site.src("big.bin");
    write_random(&src, 3 << 20, 5);
    let copy = site.src("copy.bin");
    std::fs::copy(&src, &copy).unwrap();
    let up = site.upload(&src, "moved/big.bin", &["--move"]);
    up.ok();
    assert_eq!(up.json()["status"], "ingested");
    assert!(!src.exists(), "--move left the source in place");
    assert_eq!(std::fs::read(site.data().join("moved/big.bin")).unwrap(), std::fs::read(&copy).unwrap());
    // The same bytes from a plain copy are already present under that name.
    let same = site.upload(&copy, "moved/big.bin", &[]);
    same.ok();
    assert_eq!(same.json()["status"], "already_present");
    assert_eq!(same.json()["file"]["checksum"], up.json()["file"]["checksum"]);

    let book = site.src("book");
    write_text(&book.join("a/b.txt"), "b");
    write_text(&book.join("c.txt"), "c");
    std::fs::create_dir_all(book.join("empty")).unwrap();
    let up = site.upload(&book, "moved/book", &["--move"]);
    up.ok();
    assert!(!book.exists(), "--move left the source book in place");
    assert_eq!(std::fs::read_to_string(site.data().join("moved/book/a/b.txt")).unwrap(), "b");
    assert!(site.data().join("moved/book/empty").is_dir());
    site.assert_consistent();
}

#[test]
fn stores_add_list_disable_reserve_and_unknown() {
    let site = Site::new();
    let src = site.src("f.txt");
    write_text(&src, "data");
    let root2 = site.tmp().join("second/data");
    let add = site.json(["store", "add", "second", "--root", root2.to_str().unwrap()]);
    add.ok();
    let s = add.json();
    assert_eq!(s["name"], "second");
    assert_eq!(s["enabled"], true);
    assert_eq!(s["ingestable"], true);
    assert_eq!(s["root"], root2.to_str().unwrap());
    site.json(["store", "add", "second", "--root", root2.to_str().unwrap()]).expect_error(1, "already_exists");
    let list = site.json(["store", "list"]);
    list.ok();
    let names: Vec<String> =
        list.json().as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["main", "second"]);

    // Disabled: refused with the reason.
    let dis = site.json(["store", "disable", "second"]);
    dis.ok();
    assert_eq!(dis.json()["enabled"], false);
    let out = site.upload(&src, "a", &["--store", "second"]);
    let msg = out.expect_error(1, "store_full");
    assert!(msg.contains("second: disabled"), "{out}");
    assert!(walk(&root2).is_empty());
    // Without --store the enabled one is used.
    let up = site.upload(&src, "a", &[]);
    up.ok();
    assert_eq!(up.json()["file"]["instances"][0]["store"], "main");
    // Re-enabled: accepted there.
    site.json(["store", "enable", "second"]).ok();
    let up = site.upload(&src, "b", &["--store", "second"]);
    up.ok();
    assert_eq!(up.json()["file"]["instances"][0]["store"], "second");
    assert!(root2.join("b").is_file());

    // Not ingestable.
    let root3 = site.tmp().join("third/data");
    site.json(["store", "add", "third", "--root", root3.to_str().unwrap(), "--no-ingest"]).ok();
    let out = site.upload(&src, "c", &["--store", "third"]);
    assert!(out.expect_error(1, "store_full").contains("third: not ingestable"), "{out}");

    // A reserve larger than the free space.
    let root4 = site.tmp().join("fourth/data");
    let huge = (u64::MAX / 4).to_string();
    site.json(["store", "add", "fourth", "--root", root4.to_str().unwrap(), "--reserve", &huge]).ok();
    let out = site.upload(&src, "d", &["--store", "fourth"]);
    let msg = out.expect_error(1, "store_full");
    assert!(msg.contains("fourth") && msg.contains("reserved"), "{out}");

    // Reserves the way people write them; a size nobody can read is a usage error.
    let root5 = site.tmp().join("fifth/data");
    let fifth = site.json(["store", "add", "fifth", "--root", root5.to_str().unwrap(), "--reserve", "1.5T"]);
    fifth.ok();
    assert_eq!(fifth.json()["reserve_bytes"], 3u64 << 39, "{fifth}");
    let root6 = site.tmp().join("sixth/data");
    let bad = site.json(["store", "add", "sixth", "--root", root6.to_str().unwrap(), "--reserve", "10 bananas"]);
    assert_eq!(bad.code(), Some(2), "{bad}");
    assert!(bad.stderr.contains("10 bananas") && bad.stderr.contains("10G"), "{bad}");
    site.json(["store", "remove", "fifth"]).ok();

    // Every store unusable: each one's reason is given.
    site.json(["store", "disable", "main"]).ok();
    site.json(["store", "disable", "second"]).ok();
    let out = site.upload(&src, "e", &[]);
    let msg = out.expect_error(1, "store_full");
    for why in ["main: disabled", "second: disabled", "third: not ingestable", "fourth"] {
        assert!(msg.contains(why), "missing {why:?}: {out}");
    }

    // Unknown stores.
    site.upload(&src, "f", &["--store", "nope"]).expect_error(1, "not_found");
    site.json(["store", "disable", "nope"]).expect_error(1, "not_found");
    site.json(["store", "enable", "main"]).ok();
    site.assert_consistent();
}

#[test]
fn search_filters() {
    let site = Site::new();
    let src = site.src("f.txt");
    let mut created = Vec::new();
    for (name, who) in [("obs/2026/a", "alice"), ("obs/2026/b", "bob"), ("obs/2027/c", "alice"), ("cal/x", "bob")] {
        write_text(&src, name);
        let up = site.upload(&src, name, &["--uploader", who]);
        up.ok();
        created.push(up.json()["file"]["created_at"].as_str().unwrap().to_owned());
    }
    let search = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["search"];
        full.extend_from_slice(args);
        let out = site.json(&full);
        out.ok();
        out.json().as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(search(&[]), ["cal/x", "obs/2026/a", "obs/2026/b", "obs/2027/c"]);
    assert_eq!(search(&["--name", "obs/2026/*"]), ["obs/2026/a", "obs/2026/b"]);
    assert_eq!(search(&["--name", "obs/202?/c"]), ["obs/2027/c"]);
    assert_eq!(search(&["--name", "obs/2026/[b-z]"]), ["obs/2026/b"]);
    assert!(search(&["--name", "OBS/*"]).is_empty(), "globs are case-sensitive");
    assert_eq!(search(&["--uploader", "alice"]), ["obs/2026/a", "obs/2027/c"]);
    assert_eq!(search(&["--limit", "2"]), ["cal/x", "obs/2026/a"]);
    assert_eq!(search(&["--name", "obs/*", "--uploader", "alice", "--limit", "1"]), ["obs/2026/a"]);
    assert_eq!(search(&["--source", "e2e"]).len(), 4);
    assert!(search(&["--source", "elsewhere"]).is_empty());
    // Time window: --since is inclusive, --until exclusive.
    assert_eq!(search(&["--since", &created[1]]), ["cal/x", "obs/2026/b", "obs/2027/c"]);
    assert_eq!(search(&["--until", &created[1]]), ["obs/2026/a"]);
    assert_eq!(search(&["--since", &created[1], "--until", &created[3]]), ["obs/2026/b", "obs/2027/c"]);
    assert_eq!(search(&["--since", "2000-01-01"]).len(), 4);
    assert!(search(&["--until", "2000-01-01"]).is_empty());
    site.json(["search", "--since", "yesterday"]).expect_error(2, "invalid_argument");
    // Text mode: nothing found is still success, said on stderr.
    let none = site.run(["search", "--name", "nothing*"]);
    none.ok();
    assert!(none.stdout.is_empty() && none.stderr.contains("no files match"), "{none}");
}

#[test]
fn lookups_of_unknown_names_are_not_found() {
    let site = Site::new();
    site.json(["info", "no/such"]).expect_error(1, "not_found");
    site.json(["verify", "no/such"]).expect_error(1, "not_found");
    site.json(["upload", site.src("missing.bin").to_str().unwrap(), "x"]).expect_error(1, "not_found");
    let v = site.json(["verify"]);
    v.ok();
    assert_eq!(v.json()["checked"], serde_json::json!([]));
}

#[test]
fn demo_exits_0() {
    let out = run_outcome(bare_librarian().arg("demo"));
    out.ok();
    assert!(out.stdout.contains("all intact") && out.stdout.contains("demo complete"), "{out}");
    let json = run_outcome(bare_librarian().args(["--json", "demo"]));
    json.ok();
    let v = json.json();
    assert_eq!((v["ok"].as_bool(), v["verify"]["ok"].as_bool()), (Some(true), Some(true)), "{json}");
    let uploaded = v["uploads"].as_array().unwrap().len();
    assert!(uploaded > 2, "{json}");
    assert_eq!(v["remote_copies_recorded"].as_u64(), Some(uploaded as u64), "{json}");
    assert_eq!(v["status"]["site-b"]["files"].as_u64(), Some(uploaded as u64), "{json}");
    assert_eq!(v["verify"]["checked"].as_array().unwrap().len(), uploaded, "{json}");
    assert!(!Path::new(v["directory"].as_str().unwrap()).exists(), "the demo left its directory behind");
}

#[test]
fn help_of_every_subcommand_exits_0() {
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["store"],
        &["store", "add"],
        &["store", "list"],
        &["store", "enable"],
        &["store", "disable"],
        &["upload"],
        &["info"],
        &["search"],
        &["verify"],
        &["status"],
        &["cleanup"],
        &["demo"],
        &["transfers", "list"],
        &["transfers", "cancel"],
        &["store", "remove"],
        &["store", "recycle"],
        &["sneakernet", "export"],
        &["sneakernet", "verify"],
        &["sneakernet", "import"],
        &["clone", "local"],
        &["clone", "remote"],
        &["outbox", "list"],
        &["outbox", "retry"],
        &["outbox", "drop"],
        &["events", "list"],
        &["events", "clear"],
        &["peer", "announce"],
        &["tasks", "run"],
        &["config", "show"],
        &["completions"],
        &["man"],
    ];
    for c in commands {
        let out = run_outcome(bare_librarian().args(*c).arg("--help"));
        out.ok();
        assert!(out.stdout.contains("Usage: librarian"), "{out}");
    }
    run_outcome(bare_librarian().arg("--version")).ok();
    // Usage errors exit 2.
    for bad in [
        &["frobnicate"][..],
        &["upload"],
        &["upload", "a", "b", "--deletion-policy", "maybe"],
        &["search", "--limit", "x"],
    ] {
        let out = run_outcome(bare_librarian().args(bad));
        out.expect_code(2);
        assert!(!out.stderr.is_empty(), "{out}");
    }
}

#[test]
fn usage_errors_under_json_print_the_error_document() {
    // A script that asked for JSON gets JSON on stdout even when clap refuses the line.
    for (bad, needle) in [
        (&["--json", "frobnicate"][..], "frobnicate"),
        (&["--json", "upload"], "required"),
        (&["search", "--json", "--limit", "x"], "--limit"),
        (&["--json", "store", "add", "s", "--root", "/tmp/x", "--reserve", "10 bananas"], "10 bananas"),
    ] {
        let out = run_outcome(bare_librarian().args(bad));
        let msg = out.expect_error(2, "invalid_argument");
        assert!(msg.contains(needle), "{bad:?}: {out}");
        assert!(!msg.starts_with("error:"), "{bad:?}: {out}");
        assert!(out.stderr.contains("error:") && out.stderr.contains("--help"), "clap's text stays on stderr: {out}");
    }
    // Without --json, stdout stays empty; --help and --version are text and exit 0.
    let plain = run_outcome(bare_librarian().arg("frobnicate"));
    plain.expect_code(2);
    assert!(plain.stdout.is_empty(), "{plain}");
    for ok in [&["--json", "--help"][..], &["--json", "--version"], &["--json", "upload", "--help"]] {
        let out = run_outcome(bare_librarian().args(ok));
        out.ok();
        assert!(out.stdout.contains("librarian"), "{out}");
    }
}

#[test]
fn no_progress_bars_on_a_pipe() {
    let site = Site::new();
    let src = site.src("big.bin");
    write_random(&src, 100 << 20, 9);
    let up = site.run([OsStr::new("upload"), src.as_os_str(), OsStr::new("big.bin")]);
    up.ok();
    assert!(up.stderr.is_empty(), "an upload with stderr on a pipe printed to stderr: {up}");
    let v = site.run(["verify"]);
    v.ok();
    assert!(v.stderr.is_empty(), "a verify with stderr on a pipe printed to stderr: {v}");

    // The same upload on a terminal draws a bar: what the assertions above rule out.
    let Some(script) = which("script") else {
        skip("the terminal half (util-linux `script` is not installed)");
        return;
    };
    let line = format!(
        "{} --config {} upload {} big2.bin",
        librarian_e2e::librarian_bin().display(),
        site.config().display(),
        src.display()
    );
    let tty = run_outcome(std::process::Command::new(script).args(["-qec", &line, "/dev/null"]));
    tty.ok();
    // indicatif's `{bytes}/{total_bytes}`; the final "ingested" line says "100.0 MiB".
    assert!(tty.stdout.contains("/100.00 MiB"), "no progress bar on a terminal: {tty}");
}

#[test]
fn a_closed_stdout_pipe_ends_a_command_quietly() {
    // `librarian search | head -5`: the reader goes away; the command must not panic.
    let site = Site::new();
    for i in 0..3 {
        let src = site.src(&format!("f{i}"));
        write_text(&src, &format!("{i}\n"));
        site.upload(&src, &format!("pipe/f{i}"), &[]).ok();
    }
    for args in [vec!["search"], vec!["--json", "search"], vec!["transfers", "list"], vec!["status"]] {
        let mut cmd = site.cmd();
        cmd.args(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        // Close the read end before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn a_configuration_whose_catalog_is_missing_is_not_found_and_creates_nothing() {
    // Only `init` creates a catalog: a typo in `database` or an unmounted disk must not
    // turn into an empty site that answers "0 files".
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("s.toml");
    std::fs::write(&config, "name = \"s\"\n").unwrap();
    for args in [vec!["status"], vec!["search"], vec!["tasks", "run"]] {
        let out = run_outcome(bare_librarian().arg("--config").arg(&config).arg("--json").args(&args));
        let msg = out.expect_error(1, "not_found");
        assert!(msg.contains("librarian.db") && msg.contains("init"), "{args:?}: {msg}");
    }
    assert_eq!(list_dir(dir.path()).len(), 1, "nothing but the configuration: {:?}", list_dir(dir.path()));
}

#[test]
fn a_cut_search_says_so_on_stderr() {
    let site = Site::new();
    for i in 0..5 {
        let src = site.src(&format!("s{i}"));
        write_text(&src, &format!("{i}\n"));
        site.upload(&src, &format!("cut/f{i}"), &[]).ok();
    }
    let cut = site.json(["search", "--limit", "3"]);
    cut.ok();
    assert_eq!(cut.json().as_array().unwrap().len(), 3, "{cut}");
    assert!(cut.stderr.contains("first 3 matches") && cut.stderr.contains("more"), "{cut}");
    let human = site.run(["search", "--limit", "3"]);
    human.ok();
    assert!(human.stderr.contains("there are more"), "{human}");
    let whole = site.json(["search", "--limit", "5"]);
    whole.ok();
    assert_eq!(whole.json().as_array().unwrap().len(), 5);
    assert!(!whole.stderr.contains("more"), "a complete answer says nothing: {whole}");
}

/// `search --after NAME` pages through every match; `--page --json` marks a cut answer
/// (`truncated`, `next`) while plain `--json` keeps the bare array (scripts rely on it),
/// and the stderr note names the `--after` to continue with.
#[test]
fn search_pages_with_after_and_a_truncation_marker() {
    let site = Site::new();
    let names: Vec<String> = (0..7).map(|i| format!("pg/f{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        let src = site.src(&format!("p{i}"));
        write_text(&src, &format!("{i}\n"));
        site.upload(&src, n, &[]).ok();
    }
    let listed = |out: &Outcome| -> Vec<String> {
        out.json().as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect()
    };

    // The bare array, cut, says where to go on.
    let first = site.json(["search", "--limit", "3"]);
    first.ok();
    assert_eq!(listed(&first), names[..3]);
    assert!(first.stderr.contains("continue with --after pg/f2"), "{first}");
    let second = site.json(["search", "--limit", "3", "--after", "pg/f2"]);
    second.ok();
    assert_eq!(listed(&second), names[3..6]);

    // Page objects, followed until the end, give every match once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["search", "--page", "--limit", "3"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let out = site.json(&args);
        out.ok();
        pages += 1;
        let page = out.json();
        let files = page["files"].as_array().unwrap_or_else(|| panic!("not a page: {out}"));
        seen.extend(files.iter().map(|f| f["name"].as_str().unwrap().to_owned()));
        if page["truncated"] == false {
            assert_eq!(page["next"], Value::Null, "{out}");
            assert!(!out.stderr.contains("more"), "{out}");
            break;
        }
        assert_eq!(page["truncated"], true, "{out}");
        assert_eq!(page["next"].as_str(), seen.last().map(String::as_str), "{out}");
        after = page["next"].as_str().map(str::to_owned);
        assert!(pages < 10, "no end: {out}");
    }
    assert_eq!((seen, pages), (names.clone(), 3));

    // The cursor need not be a catalogued name; text output pages the same way.
    let tail = site.run(["search", "--after", "pg/f4x"]);
    tail.ok();
    let lines: Vec<&str> = tail.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{tail}");
    assert!(lines[0].ends_with("pg/f5") && lines[1].ends_with("pg/f6"), "{tail}");
    // A name that needs quoting is quoted for the shell in the note.
    let odd = site.src("odd");
    write_text(&odd, "odd\n");
    site.upload(&odd, "pg/a b's", &[]).ok();
    let cut = site.run(["search", "--limit", "1"]);
    assert!(cut.stderr.contains(r"continue with --after 'pg/a b'\''s'"), "{cut}");
}
