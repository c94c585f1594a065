//! Stores: adding them, refusing bad ones, choosing one for an ingest, and usage figures.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use librarian_core::{DEFAULT_STORE, Error, ObjectKind, StoreSpec, UploadOptions};

fn spec(site: &Site, name: &str) -> StoreSpec {
    StoreSpec::new(name, site.path().join("stores").join(name))
}

#[test]
fn init_creates_the_default_store() {
    let site = Site::new();
    let stores = site.lib.stores().unwrap();
    assert_eq!(stores.len(), 1);
    let s = &stores[0];
    assert_eq!(s.name, DEFAULT_STORE);
    assert!(s.root.is_dir() && s.staging.is_dir());
    assert!(s.enabled && s.ingestable);
    assert_eq!((s.files, s.used_bytes, s.reserve_bytes), (0, 0, 0));
    assert!(s.free_bytes.is_some_and(|f| f > 0));
}

#[test]
fn add_store_creates_its_directories() {
    let site = Site::new();
    let sp = spec(&site, "extra");
    assert!(!sp.root.exists());
    let st = site.lib.add_store(&sp).unwrap();
    assert_eq!(st.name, "extra");
    assert!(sp.root.is_dir(), "data area created");
    let default_staging = site.path().join("stores/extra.staging");
    assert!(default_staging.is_dir(), "default staging area <root>.staging created");
    assert_eq!(st.root, std::fs::canonicalize(&sp.root).unwrap());
    assert_eq!(st.staging, std::fs::canonicalize(&default_staging).unwrap());
    assert!(st.enabled && st.ingestable);

    // Explicit staging, nested missing parents, not ingestable, with a reserve.
    let sp2 = StoreSpec {
        name: "cold".into(),
        root: site.path().join("deep/a/b/data"),
        staging: Some(site.path().join("deep/x/y/staging")),
        ingestable: false,
        reserve_bytes: 12345,
    };
    let st = site.lib.add_store(&sp2).unwrap();
    assert!(site.path().join("deep/a/b/data").is_dir());
    assert!(site.path().join("deep/x/y/staging").is_dir());
    assert!(!st.ingestable);
    assert_eq!(st.reserve_bytes, 12345);

    // Stores are listed by name, and survive reopening.
    let names: Vec<String> = site.reopen().stores().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["cold", "extra", "main"]);
}

#[test]
fn a_duplicate_store_name_is_refused() {
    let site = Site::new();
    site.lib.add_store(&spec(&site, "s1")).unwrap();
    let again = StoreSpec::new("s1", site.path().join("other-root"));
    match site.lib.add_store(&again) {
        Err(Error::AlreadyExists { kind: ObjectKind::Store, name }) => assert_eq!(name, "s1"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(!site.path().join("other-root").exists(), "nothing created for a refused store");
    match site.lib.add_store(&StoreSpec::new(DEFAULT_STORE, site.path().join("r"))) {
        Err(Error::AlreadyExists { kind: ObjectKind::Store, .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(site.lib.stores().unwrap().len(), 2);
}

#[test]
fn bad_store_names_are_refused() {
    let site = Site::new();
    let long = "x".repeat(65);
    for bad in ["", ".hidden", "a/b", "a b", "a\\b", "ü", "a\nb", "..", long.as_str()] {
        let root = site.path().join("bad-root");
        match site.lib.add_store(&StoreSpec::new(bad, &root)) {
            Err(e @ Error::InvalidArgument { .. }) => assert!(e.to_string().contains("store name"), "{e}"),
            other => panic!("store name {bad:?} accepted: {other:?}"),
        }
        assert!(!root.exists(), "nothing created for {bad:?}");
    }
    let ok = "A-z_0.9";
    assert!(site.lib.add_store(&StoreSpec::new(ok, site.path().join("ok"))).is_ok());
    assert!(site.lib.add_store(&StoreSpec::new(&"y".repeat(64), site.path().join("ok64"))).is_ok());
}

#[test]
fn staging_and_data_areas_must_not_contain_each_other() {
    let site = Site::new();
    let t = site.path();
    let root = t.join("s/data");
    std::fs::create_dir_all(t.join("s2/data")).unwrap();
    std::os::unix::fs::symlink(t.join("s2/data"), t.join("link")).unwrap();
    std::os::unix::fs::symlink(t.join("s3/data"), t.join("dangling")).unwrap();
    let cases = [
        (root.clone(), root.join("staging")),
        (root.clone(), root.clone()),
        (root.clone(), t.join("s")),
        (root.join("inner"), root.clone()),
        // The same, spelled with `..` or through a symlink.
        (root.clone(), t.join("s/elsewhere/../data/staging")),
        (root.clone(), t.join("s/data/x/../../data/staging")),
        (t.join("s2/data"), t.join("link/staging")),
        (t.join("link"), t.join("s2/data/staging")),
        (t.join("s3/data"), t.join("dangling/staging")),
    ];
    for (root, staging) in cases {
        let sp = StoreSpec { staging: Some(staging.clone()), ..StoreSpec::new("bad", &root) };
        match site.lib.add_store(&sp) {
            Err(e @ Error::InvalidArgument { .. }) => assert!(e.to_string().contains("must not contain"), "{e}"),
            other => panic!("root {} with staging {} accepted: {other:?}", root.display(), staging.display()),
        }
        assert!(site.lib.stores().unwrap().iter().all(|s| s.name != "bad"));
    }
    assert!(!t.join("s").exists(), "nothing was created for the refused stores");
    // Siblings with a common name prefix are fine.
    let sp = StoreSpec { staging: Some(t.join("s/data-staging")), ..StoreSpec::new("good", &root) };
    assert!(site.lib.add_store(&sp).is_ok());
}

/// A site with stores `a-full` (reserve too big), `b-off` (disabled), `c-cold` (not
/// ingestable) and `main`, which sort before `main`.
fn crowded_site() -> Site {
    let site = Site::new();
    site.lib.add_store(&StoreSpec { reserve_bytes: u64::MAX / 2, ..spec(&site, "a-full") }).unwrap();
    site.lib.add_store(&spec(&site, "b-off")).unwrap();
    site.lib.set_store_enabled("b-off", false).unwrap();
    site.lib.add_store(&StoreSpec { ingestable: false, ..spec(&site, "c-cold") }).unwrap();
    site
}

#[test]
fn choosing_a_store_skips_full_disabled_and_cold_ones() {
    let site = crowded_site();
    let src = site.src("f");
    write(&src, b"some data");
    let up = upload(&site.lib, &src, "f").unwrap();
    assert_eq!(up.file.instances[0].store, "main");
    assert!(up.file.instances[0].path.starts_with(site.root("main")));

    // Re-enable b-off: it is now the first that fits.
    site.lib.set_store_enabled("b-off", true).unwrap();
    let up = upload(&site.lib, &src, "g").unwrap();
    assert_eq!(up.file.instances[0].store, "b-off");
    assert!(up.file.instances[0].path.starts_with(site.root("b-off")));
    check_invariants(&site.lib);
}

#[test]
fn when_no_store_fits_the_error_says_why_for_each() {
    let site = crowded_site();
    site.lib.set_store_enabled(DEFAULT_STORE, false).unwrap();
    let src = site.src("f");
    write(&src, &bytes(100, 1));
    match upload(&site.lib, &src, "f") {
        Err(Error::StoreFull { needed, detail }) => {
            assert_eq!(needed, 100);
            assert!(detail.contains("a-full:") && detail.contains("reserved"), "{detail}");
            assert!(detail.contains("b-off: disabled"), "{detail}");
            assert!(detail.contains("c-cold: not ingestable"), "{detail}");
            assert!(detail.contains("main: disabled"), "{detail}");
        }
        other => panic!("expected StoreFull, got {other:?}"),
    }
    assert!(site.lib.file(&name("f")).is_err());
    assert_staging_empty(&site.lib);
    for s in site.lib.stores().unwrap() {
        assert!(non_dirs(&s.root).is_empty(), "store {} received data", s.name);
    }
    // Asking for a store that cannot take it explains that store only.
    let opts = UploadOptions { store: Some("c-cold".into()), ..Default::default() };
    match upload_with(&site.lib, &src, "f", &opts) {
        Err(Error::StoreFull { detail, .. }) => assert_eq!(detail, "c-cold: not ingestable"),
        other => panic!("expected StoreFull, got {other:?}"),
    }
}

#[test]
fn an_explicit_store_is_used_and_an_unknown_one_is_not_found() {
    let site = Site::new();
    site.lib.add_store(&spec(&site, "z-last")).unwrap();
    let src = site.src("f");
    write(&src, b"bytes");
    let opts = UploadOptions { store: Some("z-last".into()), ..Default::default() };
    let up = upload_with(&site.lib, &src, "f", &opts).unwrap();
    assert_eq!(up.file.instances[0].store, "z-last");
    assert_eq!(up.file.instances[0].path, site.root("z-last").join("f"));

    let opts = UploadOptions { store: Some("nope".into()), ..Default::default() };
    match upload_with(&site.lib, &src, "g", &opts) {
        Err(Error::NotFound { kind: ObjectKind::Store, name }) => assert_eq!(name, "nope"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(site.lib.file(&name("g")).is_err());
    assert!(matches!(site.lib.set_store_enabled("nope", false), Err(Error::NotFound { kind: ObjectKind::Store, .. })));
    assert_staging_empty(&site.lib);
}

#[test]
fn status_counts_files_and_bytes_per_store() {
    let site = Site::new();
    site.lib.add_store(&spec(&site, "second")).unwrap();
    let on = |store: &str| UploadOptions { store: Some(store.into()), ..Default::default() };
    let f1 = site.src("f1");
    write(&f1, &bytes(1000, 1));
    let f2 = site.src("f2");
    write(&f2, &bytes(250, 2));
    let book = site.src("book");
    make_book(&book, 1); // 1334 bytes
    upload_with(&site.lib, &f1, "f1", &on("main")).unwrap();
    upload_with(&site.lib, &f2, "f2", &on("second")).unwrap();
    upload_with(&site.lib, &book, "book", &on("second")).unwrap();
    // An already-present upload adds nothing.
    upload_with(&site.lib, &f2, "f2", &on("main")).unwrap();

    let status = site.lib.status().unwrap();
    assert_eq!(status.site, SITE);
    assert_eq!(status.files, 3);
    assert_eq!(status.bytes, 1000 + 250 + 1334);
    assert_eq!(status.ingests_in_progress, 0);
    assert!(status.database.is_file());
    assert!(status.schema_version >= 1);
    let by = |n: &str| status.stores.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!((by("main").files, by("main").used_bytes), (1, 1000));
    assert_eq!((by("second").files, by("second").used_bytes), (2, 250 + 1334));
    // The same figures from `stores()` (free space aside: other processes write to the disk).
    let strip = |v: Vec<librarian_core::StoreStatus>| -> Vec<_> {
        v.into_iter().map(|s| librarian_core::StoreStatus { free_bytes: None, ..s }).collect()
    };
    assert_eq!(strip(site.lib.stores().unwrap()), strip(status.stores.clone()));

    let disabled = site.lib.set_store_enabled("second", false).unwrap();
    assert!(!disabled.enabled);
    assert_eq!((disabled.files, disabled.used_bytes), (2, 1584), "usage is reported for a disabled store");
    assert!(site.lib.set_store_enabled("second", true).unwrap().enabled);
}
