//! Several `librarian upload` processes against one site at the same time (invariant
//! 4): different names all succeed; one name with different contents has exactly one
//! winner and `conflict` for the rest; one name with the same content is an idempotent
//! success for everyone. Nothing is corrupted, nothing is left in staging.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Stdio};

use librarian_e2e::{Outcome, Site, list_dir, wait_outcome, write_random, write_text};

fn spawn_upload(site: &Site, src: &Path, name: &str) -> (Child, String) {
    let mut cmd = site.cmd();
    cmd.arg("--json").arg("upload").arg(src).arg(name).stdout(Stdio::piped()).stderr(Stdio::piped());
    let what = librarian_e2e::describe(&cmd);
    (cmd.spawn().expect("spawn librarian upload"), what)
}

/// Start every upload, then wait for all of them.
fn race(site: &Site, jobs: &[(&Path, &str)]) -> Vec<Outcome> {
    let children: Vec<(Child, String)> = jobs.iter().map(|(src, name)| spawn_upload(site, src, name)).collect();
    children.into_iter().map(|(child, what)| wait_outcome(child, what)).collect()
}

fn assert_staging_empty(site: &Site, ctx: &str) {
    // Without running cleanup: every upload removes its own staging directory.
    let left = list_dir(&site.staging());
    assert!(left.is_empty(), "{ctx}: staging not empty: {left:?}");
}

#[test]
fn different_names_at_once_all_succeed() {
    let site = Site::new();
    let mut jobs = Vec::new();
    for i in 0..3u64 {
        let p = site.src(&format!("file{i}.bin"));
        write_random(&p, (24 << 20) + i as usize * 1000, 100 + i);
        jobs.push((p, format!("shared/parent/file{i}.bin")));
    }
    for i in 0..2u64 {
        let book = site.src(&format!("book{i}"));
        for j in 0..200 {
            write_random(&book.join(format!("d{}/f{j}", j % 5)), 3000 + j, 200 + i * 1000 + j as u64);
        }
        jobs.push((book, format!("shared/parent/book{i}")));
    }
    let borrowed: Vec<(&Path, &str)> = jobs.iter().map(|(p, n)| (p.as_path(), n.as_str())).collect();
    let outs = race(&site, &borrowed);
    for (o, (_, name)) in outs.iter().zip(&jobs) {
        o.ok();
        assert_eq!(o.json()["status"], "ingested", "{o}");
        assert_eq!(o.json()["file"]["name"], name.as_str(), "{o}");
    }
    assert_staging_empty(&site, "different names");
    let files = site.assert_consistent();
    assert_eq!(files.len(), jobs.len());
}

/// Per round: `contents[i]` is uploaded by process `i`, all under one name at once.
/// Checks: exactly one `ingested`; every process with the winner's content gets
/// `already_present` (exit 0); every other gets `conflict` (exit 1) naming the file;
/// the catalog holds the winner's checksum and its data verifies.
fn same_name_rounds(rounds: usize, contents: &[u64], size: usize) {
    let site = Site::new();
    let mut winners = [0usize; 8];
    for r in 0..rounds {
        let name = format!("race/round{r}");
        let srcs: Vec<_> = contents
            .iter()
            .enumerate()
            .map(|(i, seed)| {
                let p = site.src(&format!("r{r}-p{i}.bin"));
                write_random(&p, size, seed + r as u64 * 1000);
                p
            })
            .collect();
        // Alternate which process starts first.
        let order: Vec<usize> = if r % 2 == 0 { (0..srcs.len()).collect() } else { (0..srcs.len()).rev().collect() };
        let jobs: Vec<(&Path, &str)> = order.iter().map(|&i| (srcs[i].as_path(), name.as_str())).collect();
        let outs = race(&site, &jobs);
        let ctx = format!("round {r}");

        let ingested: Vec<usize> =
            (0..outs.len()).filter(|&k| outs[k].code() == Some(0) && outs[k].json()["status"] == "ingested").collect();
        assert_eq!(ingested.len(), 1, "{ctx}: not exactly one winner: {outs:#?}");
        let win = ingested[0];
        let win_content = contents[order[win]];
        winners[order[win]] += 1;
        let win_sum = outs[win].json()["file"]["checksum"].as_str().unwrap().to_owned();
        for (k, o) in outs.iter().enumerate() {
            if k == win {
                continue;
            }
            if contents[order[k]] == win_content {
                o.ok();
                assert_eq!(o.json()["status"], "already_present", "{ctx}: {o}");
                assert_eq!(o.json()["file"]["checksum"], win_sum.as_str(), "{ctx}: {o}");
            } else {
                let msg = o.expect_error(1, "conflict");
                assert!(msg.contains(&name), "{ctx}: conflict message does not name the file: {o}");
                assert!(msg.contains(&win_sum), "{ctx}: conflict message does not give the catalogued checksum: {o}");
            }
        }
        assert_staging_empty(&site, &ctx);
        let info = site.json(["info", &name]);
        info.ok();
        assert_eq!(info.json()["checksum"], win_sum.as_str(), "{ctx}: the catalog does not hold the winner's checksum");
        assert_eq!(info.json()["instances"].as_array().map(Vec::len), Some(1), "{ctx}: {info}");
        // The committed bytes are the winner's.
        let data = std::fs::read(site.data().join(&name)).unwrap();
        assert_eq!(data, std::fs::read(&srcs[order[win]]).unwrap(), "{ctx}: committed data is not the winner's");
        site.json(["verify", &name]).ok();
    }
    eprintln!("wins per process: {:?}", &winners[..contents.len()]);
    let files = site.assert_consistent();
    assert_eq!(files.len(), rounds);
}

#[test]
fn same_name_different_content_exactly_one_wins() {
    same_name_rounds(8, &[1, 2], 8 << 20);
}

#[test]
fn same_name_same_content_is_idempotent_for_both() {
    same_name_rounds(6, &[7, 7], 8 << 20);
}

#[test]
fn four_processes_two_contents_one_name() {
    same_name_rounds(4, &[3, 3, 4, 4], 4 << 20);
}

#[test]
fn same_book_name_different_content_exactly_one_wins() {
    let site = Site::new();
    for r in 0..4 {
        let name = format!("books/round{r}");
        let a = site.src(&format!("a{r}"));
        let b = site.src(&format!("b{r}"));
        for j in 0..100 {
            write_text(&a.join(format!("f{j}")), &format!("a {j}\n"));
            write_text(&b.join(format!("f{j}")), &format!("b {j}\n"));
        }
        let outs = race(&site, &[(&a, &name), (&b, &name)]);
        let ctx = format!("book round {r}");
        let wins: Vec<&Outcome> = outs.iter().filter(|o| o.code() == Some(0)).collect();
        assert_eq!(wins.len(), 1, "{ctx}: {outs:#?}");
        assert_eq!(wins[0].json()["status"], "ingested", "{ctx}");
        let lose = outs.iter().find(|o| o.code() != Some(0)).unwrap();
        lose.expect_error(1, "conflict");
        assert_staging_empty(&site, &ctx);
        let winner_src = if std::ptr::eq(wins[0], &outs[0]) { &a } else { &b };
        assert_eq!(
            std::fs::read_to_string(site.data().join(&name).join("f0")).unwrap(),
            std::fs::read_to_string(winner_src.join("f0")).unwrap(),
            "{ctx}: committed book is not the winner's"
        );
    }
    site.assert_consistent();
}
