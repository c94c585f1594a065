//! Catalog queries (search filters, ordering, limits) and several Librarians sharing
//! one site at once.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Barrier;
use std::time::Duration;

use common::*;
use jiff::Timestamp;
use librarian_core::NewFile;
use librarian_core::{Checksum, Error, FileKind, Librarian, SearchQuery, UploadOptions, UploadStatus};

fn names(files: &[librarian_core::File]) -> Vec<&str> {
    files.iter().map(|f| f.name.as_str()).collect()
}

fn search(lib: &Librarian, q: SearchQuery) -> Vec<librarian_core::File> {
    lib.search(&q).unwrap()
}

fn glob(g: &str) -> SearchQuery {
    SearchQuery { name_glob: Some(g.into()), ..Default::default() }
}

/// Upload small distinct files under `ns` as `uploader`, in the order given.
fn upload_all(site: &Site, ns: &[&str], uploader: &str) {
    for (i, n) in ns.iter().enumerate() {
        let src = site.src(&format!("{uploader}-{i}"));
        write(&src, format!("{n} by {uploader}").as_bytes());
        let opts = UploadOptions { uploader: Some(uploader.into()), ..Default::default() };
        upload_with(&site.lib, &src, n, &opts).unwrap();
    }
}

#[test]
fn search_by_glob_and_prefix_ordered_by_name() {
    let site = Site::new();
    upload_all(&site, &["2026/11/b", "other/y", "2026/11/a", "2025/x", "2026/12/c", "2026/11/sub/z", "2026/110"], "u");
    let all = search(&site.lib, SearchQuery::default());
    assert_eq!(names(&all), ["2025/x", "2026/11/a", "2026/11/b", "2026/11/sub/z", "2026/110", "2026/12/c", "other/y"]);
    // `*` spans `/`, so a prefix search is a glob ending in `/*`.
    assert_eq!(names(&search(&site.lib, glob("2026/11/*"))), ["2026/11/a", "2026/11/b", "2026/11/sub/z"]);
    assert_eq!(names(&search(&site.lib, glob("2026/*"))).len(), 5);
    assert_eq!(names(&search(&site.lib, glob("2026/1?/?"))), ["2026/11/a", "2026/11/b", "2026/12/c"]);
    assert_eq!(names(&search(&site.lib, glob("2026/11/[a]"))), ["2026/11/a"]);
    assert_eq!(names(&search(&site.lib, glob("*/y"))), ["other/y"]);
    assert_eq!(names(&search(&site.lib, glob("2026/11/a"))), ["2026/11/a"], "a glob without wildcards is exact");
    assert!(search(&site.lib, glob("2026/11/A")).is_empty(), "globs are case-sensitive");
    assert!(search(&site.lib, glob("nothing*")).is_empty());
    // Results carry their instances.
    let f = &search(&site.lib, glob("2025/x"))[0];
    assert_eq!(f.instances.len(), 1);
    assert_eq!(f.kind, FileKind::File);
    assert_eq!(*f, site.lib.file(&name("2025/x")).unwrap());
}

#[test]
fn search_by_time_window() {
    let site = Site::new();
    let pause = || std::thread::sleep(Duration::from_millis(5));
    upload_all(&site, &["t/1", "t/2"], "a");
    pause();
    let t1 = Timestamp::now();
    pause();
    upload_all(&site, &["t/3", "t/4"], "b");
    pause();
    let t2 = Timestamp::now();
    pause();
    upload_all(&site, &["t/5"], "c");

    let q = |since, until| SearchQuery { since, until, ..Default::default() };
    assert_eq!(names(&search(&site.lib, q(Some(t1), None))), ["t/3", "t/4", "t/5"]);
    assert_eq!(names(&search(&site.lib, q(None, Some(t1)))), ["t/1", "t/2"]);
    assert_eq!(names(&search(&site.lib, q(Some(t1), Some(t2)))), ["t/3", "t/4"]);
    assert!(search(&site.lib, q(Some(t2), Some(t1))).is_empty());
    // `since` is inclusive and `until` exclusive: the exact creation time of t/3.
    let c3 = site.lib.file(&name("t/3")).unwrap().created_at;
    assert_eq!(names(&search(&site.lib, q(Some(c3), Some(t2)))), ["t/3", "t/4"]);
    assert_eq!(names(&search(&site.lib, q(Some(t1), Some(c3)))), Vec::<&str>::new());
    for f in search(&site.lib, q(Some(t1), Some(t2))) {
        assert!(f.created_at >= t1 && f.created_at < t2);
    }
}

#[test]
fn search_by_uploader_source_and_limit() {
    let site = Site::new();
    upload_all(&site, &["u/alice-2", "u/alice-1"], "alice");
    upload_all(&site, &["u/bob-1"], "bob");
    let by = |u: &str| SearchQuery { uploader: Some(u.into()), ..Default::default() };
    assert_eq!(names(&search(&site.lib, by("alice"))), ["u/alice-1", "u/alice-2"]);
    assert_eq!(names(&search(&site.lib, by("bob"))), ["u/bob-1"]);
    assert!(search(&site.lib, by("Alice")).is_empty());
    assert!(search(&site.lib, by("ali")).is_empty(), "uploader is an exact match");

    // Catalog-only entries known at another site (as read from its manifest).
    let sums: Vec<Checksum> = (0..3).map(|i| Checksum::parse(&blake3_text(&[i])).unwrap()).collect();
    let fnames: Vec<_> = (0..3).map(|i| name(&format!("remote/r{i}"))).collect();
    let rows: Vec<NewFile<'_>> = (0..3)
        .map(|i| NewFile {
            name: &fnames[i],
            size: 1,
            checksum: &sums[i],
            kind: FileKind::File,
            uploader: "carol",
            source: "site-b",
            created_at: None,
            entries: &[],
        })
        .collect();
    site.lib.catalog().insert_remote_files(&rows, "site-b", "store-b", Timestamp::now()).unwrap();
    let src = |s: &str| SearchQuery { source: Some(s.into()), ..Default::default() };
    let remote = search(&site.lib, src("site-b"));
    assert_eq!(names(&remote), ["remote/r0", "remote/r1", "remote/r2"]);
    for f in &remote {
        assert!(f.instances.is_empty());
        assert_eq!(f.remote_instances.len(), 1);
        assert_eq!(f.remote_instances[0].librarian, "site-b");
        assert_eq!(f.source, "site-b");
    }
    assert_eq!(names(&search(&site.lib, src(SITE))), ["u/alice-1", "u/alice-2", "u/bob-1"]);
    assert!(search(&site.lib, src("site-c")).is_empty());

    // Filters combine with AND.
    let q = SearchQuery { source: Some(SITE.into()), uploader: Some("alice".into()), ..glob("u/*-2") };
    assert_eq!(names(&search(&site.lib, q)), ["u/alice-2"]);

    // Limits keep the first by name.
    let lim = |n| SearchQuery { limit: Some(n), ..Default::default() };
    assert_eq!(names(&search(&site.lib, lim(2))), ["remote/r0", "remote/r1"]);
    assert_eq!(search(&site.lib, lim(1000)).len(), 6);
    assert!(search(&site.lib, lim(0)).is_empty());
    let q = SearchQuery { limit: Some(1), ..src(SITE) };
    assert_eq!(names(&search(&site.lib, q)), ["u/alice-1"]);
}

#[test]
fn search_returns_at_most_100_by_default() {
    let site = Site::new();
    let sum = Checksum::parse(&blake3_text(b"same")).unwrap();
    let fnames: Vec<_> = (0..120).map(|i| name(&format!("many/{i:03}"))).collect();
    let rows: Vec<NewFile<'_>> = fnames
        .iter()
        .map(|n| NewFile {
            name: n,
            size: 4,
            checksum: &sum,
            kind: FileKind::File,
            uploader: "u",
            source: "elsewhere",
            created_at: None,
            entries: &[],
        })
        .collect();
    site.lib.catalog().insert_remote_files(&rows, "elsewhere", "s", Timestamp::now()).unwrap();
    let found = search(&site.lib, SearchQuery::default());
    assert_eq!(found.len(), 100);
    assert_eq!(found[0].name.as_str(), "many/000");
    assert_eq!(found[99].name.as_str(), "many/099");
    assert_eq!(search(&site.lib, SearchQuery { limit: Some(500), ..Default::default() }).len(), 120);
}

/// Catalogue `names` as files held only elsewhere (no data needed: fast).
fn catalogue_remote(site: &Site, names: &[String]) {
    let sum = Checksum::parse(&blake3_text(b"same")).unwrap();
    let fnames: Vec<_> = names.iter().map(|n| name(n)).collect();
    let rows: Vec<NewFile<'_>> = fnames
        .iter()
        .map(|n| NewFile {
            name: n,
            size: 4,
            checksum: &sum,
            kind: FileKind::File,
            uploader: "u",
            source: "elsewhere",
            entries: &[],
            created_at: None,
        })
        .collect();
    site.lib.catalog().insert_remote_files(&rows, "elsewhere", "s", Timestamp::now()).unwrap();
}

#[test]
fn search_pages_reach_every_match_once_even_while_files_arrive() {
    let site = Site::new();
    catalogue_remote(&site, &(0..305).map(|i| format!("obs/{i:04}")).collect::<Vec<_>>());
    catalogue_remote(&site, &["other/x".to_owned()]);
    let mut q = SearchQuery { name_glob: Some("obs/*".into()), limit: Some(100), ..Default::default() };
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = site.lib.search_page(&q).unwrap();
        sizes.push(page.files.len());
        seen.extend(page.files.iter().map(|f| f.name.as_str().to_owned()));
        if sizes.len() == 1 {
            // Files catalogued between two pages: one before the cursor (not seen, and
            // no match is shifted onto the next page twice or skipped), one after it.
            catalogue_remote(&site, &["obs/0000a".to_owned(), "obs/9999".to_owned()]);
        }
        if !page.truncated {
            assert_eq!(page.next, None);
            break;
        }
        assert_eq!(page.next.as_deref(), seen.last().map(String::as_str), "next is the last name of the page");
        q.after = page.next;
    }
    assert_eq!(sizes, [100, 100, 100, 6]);
    let mut want: Vec<String> = (0..305).map(|i| format!("obs/{i:04}")).collect();
    want.push("obs/9999".into());
    assert_eq!(seen, want);

    // A page that holds everything says so; `search` itself is unchanged.
    let all = SearchQuery { limit: Some(1000), ..Default::default() };
    let page = site.lib.search_page(&all).unwrap();
    assert_eq!((page.files.len(), page.truncated, page.next), (308, false, None));
    assert_eq!(search(&site.lib, SearchQuery::default()).len(), 100);
    let page = site.lib.search_page(&SearchQuery::default()).unwrap();
    assert_eq!((page.files.len(), page.truncated), (100, true), "100 by default");

    // Any text is a cursor: it need not be a catalogued (or valid) name.
    let q = SearchQuery { after: Some("obs/0299z".into()), name_glob: Some("obs/*".into()), ..Default::default() };
    assert_eq!(names(&search(&site.lib, q)), ["obs/0300", "obs/0301", "obs/0302", "obs/0303", "obs/0304", "obs/9999"]);
    let q = SearchQuery { after: Some("zzz".into()), ..Default::default() };
    assert!(site.lib.search_page(&q).unwrap().files.is_empty());
    // A limit of 0 says whether anything matches and keeps the cursor.
    let q = SearchQuery { after: Some("obs/0100".into()), limit: Some(0), ..Default::default() };
    let page = site.lib.search_page(&q).unwrap();
    assert_eq!((page.files.len(), page.truncated, page.next.as_deref()), (0, true, Some("obs/0100")));
}

/// Run `f` on two threads, each with its own `Librarian::open` of the site, released
/// together by a barrier.
fn race<T: Send>(site: &Site, f: impl Fn(&Librarian, usize) -> T + Sync) -> (T, T) {
    let barrier = Barrier::new(2);
    let config = site.config();
    std::thread::scope(|s| {
        let run = |i: usize| {
            let (barrier, config, f) = (&barrier, &config, &f);
            move || {
                let lib = Librarian::open(config).unwrap();
                barrier.wait();
                f(&lib, i)
            }
        };
        let a = s.spawn(run(0));
        let b = s.spawn(run(1));
        (a.join().unwrap(), b.join().unwrap())
    })
}

#[test]
fn two_librarians_upload_different_names_at_once() {
    let site = Site::new();
    for round in 0..3 {
        let srcs: Vec<_> = (0..2)
            .map(|i| {
                let p = site.src(&format!("r{round}-{i}"));
                if i == 0 {
                    write(&p, &bytes(300_000, round));
                } else {
                    make_book(&p, round);
                }
                p
            })
            .collect();
        let (a, b) = race(&site, |lib, i| upload(lib, &srcs[i], &format!("round{round}/item{i}")));
        assert_eq!(a.unwrap().status, UploadStatus::Ingested);
        assert_eq!(b.unwrap().status, UploadStatus::Ingested);
    }
    assert_eq!(all_files(&site.lib).len(), 6);
    assert!(site.lib.verify(&[], None, &librarian_core::NoProgress).unwrap().ok);
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

#[test]
fn two_librarians_upload_the_same_name_with_different_content() {
    let site = Site::new();
    for round in 0..4u8 {
        let n = format!("contested/{round}");
        let srcs: Vec<_> = (0..2u8)
            .map(|i| {
                let p = site.src(&format!("c{round}-{i}"));
                write(&p, &bytes(200_000, round * 2 + i));
                p
            })
            .collect();
        let (a, b) = race(&site, |lib, i| upload(lib, &srcs[i], &n));
        let results = [a, b];
        let won: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(won.len(), 1, "exactly one upload wins: {results:?}");
        let (w, l) = (won[0], 1 - won[0]);
        assert_eq!(results[w].as_ref().unwrap().status, UploadStatus::Ingested);
        match &results[l] {
            Err(Error::Conflict { name, existing, incoming }) => {
                assert_eq!(*name, n);
                assert_eq!(*existing, blake3_text(&std::fs::read(&srcs[w]).unwrap()));
                assert_eq!(*incoming, blake3_text(&std::fs::read(&srcs[l]).unwrap()));
            }
            other => panic!("the loser must get Conflict, got {other:?}"),
        }
        let f = site.lib.file(&name(&n)).unwrap();
        assert_eq!(f.instances.len(), 1);
        assert_eq!(std::fs::read(&f.instances[0].path).unwrap(), std::fs::read(&srcs[w]).unwrap());
        assert!(verify(&site.lib, &[&n]).ok);
    }
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

#[test]
fn two_librarians_upload_the_same_name_with_the_same_content() {
    let site = Site::new();
    for round in 0..3u8 {
        let n = format!("same/{round}");
        let src = site.src(&format!("same-{round}"));
        write(&src, &bytes(200_000, round));
        let (a, b) = race(&site, |lib, _| upload(lib, &src, &n));
        let mut statuses = [a.unwrap().status, b.unwrap().status];
        statuses.sort_by_key(|s| *s == UploadStatus::AlreadyPresent);
        assert_eq!(statuses, [UploadStatus::Ingested, UploadStatus::AlreadyPresent]);
        assert_eq!(site.lib.instances(&name(&n)).unwrap().len(), 1);
    }
    assert_staging_empty(&site.lib);
    check_invariants(&site.lib);
}

#[test]
fn claiming_a_name_refuses_names_nesting_in_a_claimed_or_catalogued_one() {
    use librarian_core::IntentClaim;
    let site = Site::new();
    let cat = site.lib.catalog();
    let store = cat.store("main").unwrap().id;
    let staging = site.staging("main");
    let claim = |n: &str| cat.claim_name(&name(n), store, &staging, None, Timestamp::now());
    // An ingest of `a/b` is in progress (claimed, not committed): neither `a` nor
    // `a/b/c` may be claimed, since one would land inside or around the other.
    let id = match claim("a/b").unwrap() {
        IntentClaim::Claimed(id) => id,
        other => panic!("{other:?}"),
    };
    for n in ["a", "a/b/c"] {
        match claim(n) {
            Err(e @ Error::InvalidArgument { .. }) => assert!(e.to_string().contains("a/b"), "{e}"),
            other => panic!("{n} claimed while a/b is being ingested: {other:?}"),
        }
    }
    assert!(matches!(claim("a/b"), Ok(IntentClaim::Held(_))), "the same name is held, not refused");
    assert!(matches!(claim("a/bc"), Ok(IntentClaim::Claimed(_))), "a sibling sharing a prefix is fine");
    assert!(matches!(claim("a.b"), Ok(IntentClaim::Claimed(_))));
    cat.drop_intent(id).unwrap();
    assert!(matches!(claim("a/b/c"), Ok(IntentClaim::Claimed(_))), "free once the ingest is gone");
}
