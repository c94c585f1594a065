//! A drive written by the original (Python) Librarian (issue 14): its files sit under
//! the drive store's own directory, as each manifest entry's `instance_path` says, not
//! at `<drive>/<name>`. It verifies offline and imports whole, every file checked
//! against its `xxh3:::` (or md5) checksum.

use std::path::PathBuf;

use librarian_e2e::{Site, walk};

/// A private copy of the fixture drive (tests may change it).
fn drive(site: &Site) -> PathBuf {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian/drive");
    let to = site.tmp().join("original-drive");
    for p in walk(&from) {
        let rel = p.strip_prefix(&from).unwrap();
        let dest = to.join(rel);
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&p, &dest).unwrap();
        }
    }
    to
}

#[test]
fn the_vendored_fixtures_are_unedited() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian");
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "--quiet", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(
        check.status.success(),
        "a fixture file differs from what the original wrote: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let listed = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap().lines().count();
    let present = walk(&dir).iter().filter(|p| p.is_file()).count();
    assert_eq!(present, listed + 2, "every file but SHA256SUMS and README.md is listed");
}

#[test]
fn the_original_librarians_drive_verifies_offline_and_imports_all_28_files() {
    let site = Site::named("so-site-b");
    let d = drive(&site);
    let checked = site.json(["sneakernet", "verify", d.to_str().unwrap()]);
    checked.ok();
    let r = checked.json();
    assert_eq!((r["files"].as_u64(), r["intact"].as_u64()), (Some(28), Some(28)), "{r}");
    assert_eq!((r["legacy"].as_bool(), r["ok"].as_bool()), (Some(true), Some(true)), "{r}");
    assert!(r["problems"].as_array().unwrap().is_empty(), "no file missing, none extra: {r}");

    let imported = site.json(["sneakernet", "import", d.to_str().unwrap()]);
    imported.ok();
    assert_eq!(imported.json()["imported"].as_array().map(Vec::len), Some(28), "{imported}");
    let files = site.files();
    assert_eq!(files.len(), 28);
    let xxh3 = files.iter().filter(|f| f["checksum"].as_str().unwrap().starts_with("xxh3:")).count();
    assert!(xxh3 >= 26, "the original's checksums are kept: {xxh3} of 28 are xxh3");
    // Every copy re-read against the original's checksum.
    let v = site.json(["verify"]);
    v.ok();
    assert_eq!(v.json()["checked"].as_array().map(Vec::len), Some(28), "{v}");
    assert!(files.iter().any(|f| f["name"] == "日本語/データ.txt"), "unicode names come through");
    assert!(files.iter().any(|f| f["kind"] == "directory"), "books come through as books");

    // One flipped byte on the drive: verify names that file, import refuses it.
    let site2 = Site::named("so-site-c");
    let d2 = drive(&site2);
    let victim = d2.join("store/level2/obs_1700000300.g3");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let bad = site2.json(["sneakernet", "verify", d2.to_str().unwrap()]);
    assert_eq!(bad.code(), Some(1), "{bad}");
    let problems = bad.json()["problems"].as_array().unwrap().clone();
    assert_eq!(problems.len(), 1, "{bad}");
    assert_eq!(problems[0]["name"], "level2/obs_1700000300.g3", "{bad}");
    let partial = site2.json(["sneakernet", "import", d2.to_str().unwrap()]);
    assert_eq!(partial.json()["imported"].as_array().map(Vec::len), Some(27), "{partial}");
    assert_eq!(partial.json()["refused"].as_array().map(Vec::len), Some(1), "{partial}");
}
