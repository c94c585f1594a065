//! `verify` re-reads data from disk: a flipped byte, a truncated file, a missing or an
//! unexpected book entry make it exit 1 and name the file (and the entry), in text and
//! in `--json`; restoring the data makes it pass again; `--store` and names scope it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use librarian_e2e::{Site, flip_byte, write_random, write_text};

/// The `checked` item of a `verify --json` report for `name`.
fn check_of<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checked"]
        .as_array()
        .expect("checked array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the verify report: {report}"))
}

/// A site with a file `obs/a.dat`, a file `obs/b.dat` and a book `books/b1`
/// (`x.txt`, `sub/y.bin`, `sub/deeper/z.txt`, an empty dir `empty`).
fn populated() -> Site {
    let site = Site::new();
    write_random(&site.src("a.dat"), 1 << 20, 11);
    write_random(&site.src("b.dat"), 300_000, 12);
    let book = site.src("b1");
    write_text(&book.join("x.txt"), "hello\n");
    write_random(&book.join("sub/y.bin"), 200_000, 13);
    write_text(&book.join("sub/deeper/z.txt"), "deep\n");
    std::fs::create_dir_all(book.join("empty")).unwrap();
    site.upload(&site.src("a.dat"), "obs/a.dat", &[]).ok();
    site.upload(&site.src("b.dat"), "obs/b.dat", &[]).ok();
    site.upload(&book, "books/b1", &[]).ok();
    let v = site.json(["verify"]);
    v.ok();
    assert_eq!(v.json()["checked"].as_array().map(Vec::len), Some(3), "{v}");
    site
}

/// `verify` in text and JSON: exit 1; the text names `name` with `word` and each
/// `entries` line; the JSON has `status` and exactly `problems` for `name`, and every
/// other file is ok.
fn expect_bad(site: &Site, name: &str, word: &str, status: &str, problems: Value) {
    let text = site.run(["verify"]);
    text.expect_code(1);
    let line = text
        .stdout
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("verify output does not name {name}: {text}"));
    assert!(line.starts_with(word), "{name} is not reported as {word:?}: {text}");
    for p in problems.as_array().unwrap() {
        let entry = p["entry"].as_str().unwrap();
        assert!(text.stdout.contains(&format!("entry {entry}:")), "entry {entry} not named: {text}");
    }
    assert!(text.stderr.contains("verify found 1 bad instance"), "{text}");

    let json = site.json(["verify"]);
    json.expect_code(1);
    let report = json.json();
    assert_eq!(report["ok"], false, "{json}");
    let c = check_of(&report, name);
    assert_eq!(c["status"], status, "{json}");
    assert_eq!(c["problems"], problems, "{json}");
    assert_ne!(c["actual"], c["expected"], "{json}");
    for other in report["checked"].as_array().unwrap() {
        if other["name"] != name {
            assert_eq!(other["status"], "ok", "{json}");
        }
    }
    // Verifying only the bad file fails too; only another file passes.
    site.json(["verify", name]).expect_code(1);
    let good = if name == "obs/b.dat" { "obs/a.dat" } else { "obs/b.dat" };
    site.json(["verify", good]).ok();
}

#[test]
fn flipped_byte_in_a_file_is_named_and_restoring_it_passes() {
    let site = populated();
    let path = site.data().join("obs/a.dat");
    flip_byte(&path, 123_457);
    expect_bad(&site, "obs/a.dat", "CHECKSUM MISMATCH", "mismatch", json!([]));
    // The last verification time is not moved forward by a failed check.
    let info = site.json(["info", "obs/a.dat"]).json();
    let before = info["instances"][0]["verified_at"].clone();
    site.json(["verify", "obs/a.dat"]).expect_code(1);
    assert_eq!(site.json(["info", "obs/a.dat"]).json()["instances"][0]["verified_at"], before);
    flip_byte(&path, 123_457);
    site.json(["verify"]).ok();
}

#[test]
fn flipped_byte_in_a_book_entry_names_the_book_and_the_entry() {
    let site = populated();
    let path = site.data().join("books/b1/sub/y.bin");
    flip_byte(&path, 0);
    expect_bad(
        &site,
        "books/b1",
        "CHECKSUM MISMATCH",
        "mismatch",
        json!([{"entry": "sub/y.bin", "problem": "mismatch"}]),
    );
    flip_byte(&path, 0);
    site.json(["verify"]).ok();
}

#[test]
fn truncated_file_is_a_mismatch() {
    let site = populated();
    let f = std::fs::OpenOptions::new().write(true).open(site.data().join("obs/b.dat")).unwrap();
    f.set_len(299_999).unwrap();
    expect_bad(&site, "obs/b.dat", "CHECKSUM MISMATCH", "mismatch", json!([]));
}

#[test]
fn truncated_book_entry_is_named() {
    let site = populated();
    let f = std::fs::OpenOptions::new().write(true).open(site.data().join("books/b1/x.txt")).unwrap();
    f.set_len(0).unwrap();
    expect_bad(&site, "books/b1", "CHECKSUM MISMATCH", "mismatch", json!([{"entry": "x.txt", "problem": "mismatch"}]));
}

#[test]
fn deleted_file_is_missing() {
    let site = populated();
    std::fs::remove_file(site.data().join("obs/a.dat")).unwrap();
    expect_bad(&site, "obs/a.dat", "MISSING", "missing", json!([]));
}

#[test]
fn deleted_book_entry_is_named_missing() {
    let site = populated();
    std::fs::remove_file(site.data().join("books/b1/sub/deeper/z.txt")).unwrap();
    expect_bad(&site, "books/b1", "MISSING", "missing", json!([{"entry": "sub/deeper/z.txt", "problem": "missing"}]));
}

#[test]
fn deleted_empty_directory_of_a_book_is_named_missing() {
    let site = populated();
    std::fs::remove_dir(site.data().join("books/b1/empty")).unwrap();
    expect_bad(&site, "books/b1", "MISSING", "missing", json!([{"entry": "empty", "problem": "missing"}]));
}

#[test]
fn unexpected_entries_in_a_book_are_named() {
    let site = populated();
    write_text(&site.data().join("books/b1/sub/extra.txt"), "not catalogued\n");
    std::fs::create_dir(site.data().join("books/b1/newdir")).unwrap();
    expect_bad(
        &site,
        "books/b1",
        "CHECKSUM MISMATCH",
        "mismatch",
        json!([{"entry": "newdir", "problem": "unexpected"}, {"entry": "sub/extra.txt", "problem": "unexpected"}]),
    );
    std::fs::remove_file(site.data().join("books/b1/sub/extra.txt")).unwrap();
    std::fs::remove_dir(site.data().join("books/b1/newdir")).unwrap();
    site.json(["verify"]).ok();
}

#[test]
fn renamed_book_entry_is_one_missing_and_one_unexpected() {
    let site = populated();
    let sub = site.data().join("books/b1/sub");
    std::fs::rename(sub.join("y.bin"), sub.join("y2.bin")).unwrap();
    expect_bad(
        &site,
        "books/b1",
        "CHECKSUM MISMATCH",
        "mismatch",
        json!([{"entry": "sub/y.bin", "problem": "missing"}, {"entry": "sub/y2.bin", "problem": "unexpected"}]),
    );
}

#[test]
fn symlink_planted_in_a_book_is_reported() {
    let site = populated();
    std::os::unix::fs::symlink("/etc/passwd", site.data().join("books/b1/sub/link")).unwrap();
    expect_bad(&site, "books/b1", "UNREADABLE", "unreadable", json!([{"entry": "sub/link", "problem": "unreadable"}]));
    let report = site.json(["verify", "books/b1"]).json();
    let error = check_of(&report, "books/b1")["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("symbolic link"), "{report}");
}

#[test]
fn verify_is_scoped_by_name_and_store() {
    let site = Site::new();
    let second_root = site.tmp().join("second/data");
    site.json(["store", "add", "second", "--root", second_root.to_str().unwrap()]).ok();
    write_random(&site.src("m.dat"), 100_000, 21);
    write_random(&site.src("s.dat"), 100_000, 22);
    site.upload(&site.src("m.dat"), "on-main", &["--store", "main"]).ok();
    site.upload(&site.src("s.dat"), "on-second", &["--store", "second"]).ok();
    let bad = second_root.join("on-second");
    assert!(bad.is_file(), "the upload did not land on store second");
    flip_byte(&bad, 50_000);

    let names = |o: &librarian_e2e::Outcome| -> Vec<String> {
        o.json()["checked"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    let all = site.json(["verify"]);
    all.expect_code(1);
    assert_eq!(names(&all), ["on-main", "on-second"]);

    let main = site.json(["verify", "--store", "main"]);
    main.ok();
    assert_eq!(names(&main), ["on-main"]);

    let second = site.json(["verify", "--store", "second"]);
    second.expect_code(1);
    assert_eq!(names(&second), ["on-second"]);
    assert_eq!(check_of(&second.json(), "on-second")["store"], "second");

    let one = site.json(["verify", "on-main"]);
    one.ok();
    assert_eq!(names(&one), ["on-main"]);
    site.json(["verify", "on-second", "--store", "second"]).expect_code(1);
    site.json(["verify", "on-main", "on-second"]).expect_code(1);

    // A file with no instance on the store, an unknown store, an unknown file.
    site.json(["verify", "on-main", "--store", "second"]).expect_error(1, "not_found");
    site.json(["verify", "--store", "nope"]).expect_error(1, "not_found");
    site.json(["verify", "no/such/file"]).expect_error(1, "not_found");
}
