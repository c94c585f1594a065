//! Errors that mean what they say (issue 10, part 2): exit 2 only when the caller's
//! input was wrong; a failed operation (a demo that cannot run, a catalog row that
//! does not parse) exits 1 with a code that says so, in text and under `--json`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use librarian_e2e::{Outcome, Site, bare_librarian, run_outcome, write_random};

/// A `librarian demo` that cannot even make its directory (its temporary directory is
/// a path that does not exist) failed: exit 1, code `io`, not a usage error.
#[test]
fn a_failed_demo_exits_1_not_2() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no/such/dir");
    for json in [false, true] {
        let mut cmd = bare_librarian();
        cmd.env("TMPDIR", &missing);
        if json {
            cmd.arg("--json");
        }
        let out = run_outcome(cmd.arg("demo"));
        if json {
            let msg = out.expect_error(1, "io");
            assert!(msg.contains("demo") && msg.contains("temporary directory"), "{out}");
        } else {
            out.expect_code(1);
            assert!(out.stderr.contains("librarian: error: demo: temporary directory"), "{out}");
        }
    }
    assert!(!missing.exists(), "the demo created its missing temporary directory");
}

/// Wrong input exits 2 whoever finds it (clap, the CLI, the core); failures of the
/// operation on good input exit 1.
#[test]
fn exit_2_is_for_usage_errors_only() {
    let site = Site::new();
    let src = site.src("a.dat");
    write_random(&src, 1000, 1);
    site.upload(&src, "obs/a.dat", &[]).ok();
    let src_arg = src.to_str().unwrap();
    // (arguments, exit, code). Clap's own errors are JSON too under --json (its text
    // stays on stderr).
    let cases: &[(&[&str], i32, &str)] = &[
        // clap
        (&["frobnicate"], 2, "invalid_argument"),
        (&["search", "--limit", "ten"], 2, "invalid_argument"),
        // found by the CLI
        (&["search", "--until", "last tuesday"], 2, "invalid_argument"),
        // found by the core
        (&["tasks", "run", "--only", "no-such-task"], 2, "invalid_argument"),
        (&["upload", src_arg, "../escape"], 2, "invalid_name"),
        (&["upload", src_arg, "obs/b.dat", "--expect-checksum", "nonsense"], 2, "invalid_checksum"),
        (
            &["upload", src_arg, "obs/c.dat", "--algorithm", "sha256", "--expect-checksum", SHA256_X],
            1,
            "checksum_mismatch",
        ),
        (
            &["upload", src_arg, "obs/d.dat", "--algorithm", "md5", "--expect-checksum", SHA256_X],
            2,
            "algorithm_mismatch",
        ),
        // operations that failed on good input
        (&["info", "obs/missing.dat"], 1, "not_found"),
        (&["store", "enable", "nope"], 1, "not_found"),
    ];
    for (args, exit, code) in cases {
        let out = site.json(*args);
        out.expect_error(*exit, code);
        // The text form exits the same.
        site.run(*args).expect_code(*exit);
    }
    // Nothing was ingested by the refused uploads.
    let names: Vec<String> = site.files().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["obs/a.dat"]);
}

const SHA256_X: &str = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";

/// Overwrite one column of one `files` row behind librarian's back (as a bad restore,
/// a hand edit or another program might), with a value no librarian writes.
fn corrupt_file_row(site: &Site, name: &str, column: &str, value: rusqlite::types::Value) {
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    let n = conn.execute(&format!("UPDATE files SET {column} = ?1 WHERE name = ?2"), (value, name)).unwrap();
    assert_eq!(n, 1, "no row for {name}");
    // Closing the last connection checkpoints the WAL into the database file.
    drop(conn);
}

fn expect_corrupt(out: &Outcome, column_hint: &str) {
    let msg = out.expect_error(1, "corrupt");
    assert!(msg.contains("corrupt data in") && msg.contains("catalog"), "{out}");
    assert!(msg.contains(column_hint), "the message does not say what is wrong ({column_hint}): {out}");
}

/// A catalog row that does not parse (it passes `PRAGMA quick_check`: the file is
/// sound, the value is wrong) is `corrupt`, exit 1, in every command that reads it;
/// never `invalid_argument` (the caller's input was fine) nor exit 2.
#[test]
fn a_catalog_row_that_does_not_parse_is_corrupt() {
    use rusqlite::types::Value;
    let site = Site::new();
    for (i, name) in ["obs/a.dat", "obs/b.dat", "obs/c.dat", "obs/d.dat"].iter().enumerate() {
        let src = site.src(&format!("{i}.dat"));
        write_random(&src, 1000 + i, i as u64);
        site.upload(&src, name, &[]).ok();
    }
    // A checksum that is no checksum (caught by the row's parser).
    corrupt_file_row(&site, "obs/a.dat", "checksum", Value::Text("nonsense".into()));
    expect_corrupt(&site.json(["info", "obs/a.dat"]), "nonsense");
    expect_corrupt(&site.json(["search"]), "nonsense");
    expect_corrupt(&site.json(["verify", "obs/a.dat"]), "nonsense");
    let text = site.run(["info", "obs/a.dat"]);
    text.expect_code(1);
    assert!(text.stderr.contains("librarian: error: corrupt data in"), "{text}");
    // Other files are still served.
    site.json(["info", "obs/b.dat"]).ok();

    // A time of the wrong type (caught by SQLite's conversion).
    corrupt_file_row(&site, "obs/b.dat", "created_at", Value::Text("yesterday".into()));
    expect_corrupt(&site.json(["info", "obs/b.dat"]), "created_at");
    // A time out of range.
    corrupt_file_row(&site, "obs/c.dat", "created_at", Value::Integer(i64::MAX));
    expect_corrupt(&site.json(["info", "obs/c.dat"]), "range");
    // A name that breaks the naming rules (found by a search, which reads every row).
    corrupt_file_row(&site, "obs/d.dat", "name", Value::Text("../escape".into()));
    site.json(["info", "obs/d.dat"]).expect_error(1, "not_found");
    let out = site.json(["search", "--name", "../*"]);
    expect_corrupt(&out, "\"../escape\"");
    // The file itself is sound all along (what `database` would report is damage
    // `PRAGMA quick_check` sees; this is not that).
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

/// An enum column holding text no version of librarian writes (possible only past
/// the schema's CHECK constraints: a hand edit with `ignore_check_constraints`, another
/// tool) is caught by the integrity check every command runs first: `database`, exit 1,
/// naming the table; never `invalid_argument` or exit 2 (it used to reach the
/// per-severity count of `status` as a usage error). A value that passes the CHECKs
/// but still does not parse is `corrupt` (the test above; the enums' `FromSql` has a
/// unit test in `catalog/sql_types.rs`).
#[test]
fn an_unknown_enum_value_in_the_catalog_is_damage_not_a_usage_error() {
    let site = Site::new();
    let conn = rusqlite::Connection::open(site.db()).unwrap();
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         INSERT INTO events (severity, category, subject, message, count, created_at, last_seen_at)
         VALUES ('apocalyptic', 'peer_unreachable', 'site-x', 'm', 1, 0, 0);",
    )
    .unwrap();
    drop(conn);
    for args in [&["events", "list"][..], &["status"][..]] {
        let out = site.json(args);
        let msg = out.expect_error(1, "database");
        assert!(msg.contains("CHECK constraint failed in events"), "{out}");
    }
}
