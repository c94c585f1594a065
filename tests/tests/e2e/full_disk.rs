//! Full disks: stores (and the catalog) on small tmpfs mounts that run out of bytes or
//! inodes in the middle of an upload. Each failure must be a clear error that commits
//! nothing and leaves nothing behind, and the same upload must succeed once there is
//! room again. Needs permission to mount tmpfs (CI runs as root); skipped otherwise.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;

use librarian_e2e::*;

/// A site whose store `small` lives on a fresh tmpfs mounted with `options`.
fn site_with_small_store(options: &str) -> Option<(Site, Tmpfs)> {
    let site = Site::new();
    let mnt = Tmpfs::mount(&site.tmp().join("small"), options)?;
    let root = mnt.0.join("data");
    let staging = mnt.0.join("staging");
    site.run(["store", "add", "small", "--root", root.to_str().unwrap(), "--staging", staging.to_str().unwrap()]).ok();
    Some((site, mnt))
}

fn book(dir: &Path, files: usize, size: usize) {
    for i in 0..files {
        write_random(&dir.join(format!("d{}/f{i:04}", i % 10)), size, i as u64);
    }
}

fn assert_nothing_left(site: &Site, mnt: &Tmpfs) {
    assert!(site.files().is_empty(), "nothing was catalogued");
    assert!(walk(&mnt.0.join("data")).is_empty(), "data area: {:?}", walk(&mnt.0.join("data")));
    assert!(list_dir(&mnt.0.join("staging")).is_empty(), "staging: {:?}", list_dir(&mnt.0.join("staging")));
}

#[test]
fn out_of_bytes_in_the_middle_of_a_book() {
    // 1,000 files of 100 bytes pass the size check (100 kB), but tmpfs spends a 4 KiB
    // page on each: the copy runs out of space part way.
    let Some((site, mnt)) = site_with_small_store("size=1m") else { return };
    let src = site.src("book");
    book(&src, 1000, 100);
    let out = site.upload(&src, "2026/book", &["--store", "small"]);
    let msg = out.expect_error(1, "io");
    assert!(msg.contains("No space left on device"), "{out}");
    assert_nothing_left(&site, &mnt);

    mnt.remount("size=16m");
    let up = site.upload(&src, "2026/book", &["--store", "small"]);
    up.ok();
    assert_eq!(up.json()["status"], "ingested");
    site.run(["verify"]).ok();
}

#[test]
fn out_of_inodes_in_the_middle_of_a_book_and_of_a_file() {
    let Some((site, mnt)) = site_with_small_store("size=64m,nr_inodes=40") else { return };
    let src = site.src("book");
    book(&src, 100, 1000);
    let out = site.upload(&src, "2026/book", &["--store", "small"]);
    let msg = out.expect_error(1, "io");
    assert!(msg.contains("No space left on device"), "{out}");
    assert_nothing_left(&site, &mnt);

    // Use up the inodes but one: the staging directory takes it, the payload cannot.
    let mut filler = 0;
    while std::fs::write(mnt.0.join(format!("filler{filler}")), b"").is_ok() {
        filler += 1;
    }
    std::fs::remove_file(mnt.0.join("filler0")).unwrap();
    let file = site.src("file");
    write_random(&file, 10_000, 7);
    let out = site.upload(&file, "2026/file", &["--store", "small"]);
    out.expect_error(1, "io");
    assert_nothing_left(&site, &mnt);

    mnt.remount("nr_inodes=10000");
    for (src, name) in [(&src, "2026/book"), (&file, "2026/file")] {
        let up = site.upload(src, name, &["--store", "small"]);
        up.ok();
        assert_eq!(up.json()["status"], "ingested");
    }
    site.run(["verify"]).ok();
}

#[test]
fn the_catalog_disk_filling_up_during_an_upload_commits_nothing() {
    // The mount point is a fresh temporary directory (removed after the unmount).
    let mount_point = tempfile::Builder::new().prefix("librarian-e2e-db-").tempdir().unwrap();
    let Some(base) = Tmpfs::mount(mount_point.path(), "size=4m") else {
        return;
    };
    // The site (and so its database) on the small tmpfs, its store on the big disk.
    let dir = base.0.join("site");
    run_outcome(bare_librarian().arg("init").arg(&dir).arg("--name").arg("full")).ok();
    let elsewhere = tempfile::tempdir().unwrap();
    let root = elsewhere.path().join("data");
    let staging = elsewhere.path().join("staging");
    let config = dir.join("librarian.toml");
    let site = |args: &[&str]| run_outcome(librarian(&config).arg("--json").args(args));
    site(&["store", "add", "big", "--root", root.to_str().unwrap(), "--staging", staging.to_str().unwrap()]).ok();
    site(&["store", "disable", "main"]).ok();
    let src = elsewhere.path().join("obs.dat");
    write_random(&src, 256 << 20, 3);

    // Start the upload; once it is copying (its staging directory exists, so it has
    // opened the catalog), fill the catalog's filesystem to the last byte. The upload
    // then cannot record its claim on the name.
    let child = librarian(&config)
        .arg("--json")
        .args(["upload", src.to_str().unwrap(), "obs.dat"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while list_dir(&staging).is_empty() {
        assert!(started.elapsed().as_secs() < 60, "the upload never started copying");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let filler = base.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let out = wait_outcome(child, "upload onto a full catalog disk".into());
    if out.code() == Some(0) {
        skip("the upload finished copying before the disk was full; nothing to check");
    } else {
        let msg = out.expect_error(1, "database");
        assert!(msg.contains("full"), "{out}");
        assert!(walk(&root).is_empty(), "nothing reached the data area: {:?}", walk(&root));
        assert!(list_dir(&staging).is_empty(), "staging: {:?}", list_dir(&staging));
    }

    std::fs::remove_file(&filler).unwrap();
    let up = site(&["upload", src.to_str().unwrap(), "obs.dat"]);
    up.ok();
    site(&["verify"]).ok();
    let search = site(&["search"]);
    assert_eq!(search.json().as_array().map(Vec::len), Some(1));
}
