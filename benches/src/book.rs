//! (c) upload of a book of many small files vs `cp -r` + `sync`, and (d, Rust) many
//! separate small uploads.

use std::path::{Path, PathBuf};

use librarian_core::{FileName, Librarian, NoProgress, UploadOptions};

use crate::file::{Measure, rotate};
use crate::util::{self, Cache, KIB, Res, median, percentile, prepare, remove, secs, sync_all, time};
use crate::{Ctx, Row, fresh_dir};

const SMALL: usize = 4 * KIB as usize;
const PER_DIR: usize = 100;

/// A book of `files` files of 4 KiB in sub-directories of 100, created once.
fn make_book(root: &Path, files: usize) -> Res<()> {
    let marker = root.with_extension("complete");
    if marker.exists() {
        return Ok(());
    }
    remove(root)?;
    std::fs::create_dir_all(root)?;
    let mut rng = util::Rng::new(0xb00c);
    let mut buf = vec![0u8; SMALL];
    for i in 0..files {
        let dir = root.join(format!("d{:03}", i / PER_DIR));
        if i % PER_DIR == 0 {
            std::fs::create_dir(&dir)?;
        }
        rng.fill(&mut buf);
        std::fs::write(dir.join(format!("f{:03}.dat", i % PER_DIR)), &buf)?;
    }
    sync_all();
    std::fs::write(marker, b"")?;
    Ok(())
}

/// (c) `Librarian::upload` of a book vs `cp -r` + `sync`; target ≤ 1.5×.
pub fn book(ctx: &mut Ctx) -> Res<()> {
    let files = ctx.book_files;
    let src = ctx.dir.join("src-book");
    make_book(&src, files)?;
    let bytes = (files * SMALL) as u64;
    let name = FileName::new("bench/book")?;
    // Every run writes into a new directory; all are removed at the end. ext4 avoids
    // reusing inodes freed in the last ~30 s (`recently_deleted`), and with the inode
    // tables cached that scan makes creating 10,000 files right after deleting 10,000
    // others several times slower, for cp and upload alike.
    let outs = fresh_dir(ctx, "outs")?;
    let counter = std::cell::Cell::new(0usize);
    let next_out = || -> Res<PathBuf> {
        counter.set(counter.get() + 1);
        let p = outs.join(format!("run{}", counter.get()));
        std::fs::create_dir(&p)?;
        Ok(p)
    };
    for cache in ctx.caches.clone() {
        ctx.header(
            &format!("(c) upload of a book of {files} x 4 KiB files vs cp -r + sync [{}]", cache.label()),
            Some(cache),
        );
        println!(
            "   librarian: Librarian::upload of the directory (copy while hashing, one syncfs, rename, catalog commit)"
        );
        println!("   baseline:  cp -r SRC DST && sync (same filesystem)");
        let next_out = &next_out;
        let (src, name) = (&src, &name);
        let mut measures: Vec<Measure<'_>> = vec![
            (
                "cp -r+sync",
                Box::new(move || {
                    let out = next_out()?;
                    prepare(cache, &[src])?;
                    let (d, ()) = time(|| {
                        util::run(std::process::Command::new("cp").arg("-r").arg(src).arg(out.join("copy")))?;
                        util::run(&mut std::process::Command::new("sync"))
                    })?;
                    Ok(secs(d))
                }),
            ),
            (
                "upload",
                Box::new(move || {
                    let out = next_out()?;
                    let lib = Librarian::init(&out.join("site"), "bench")?;
                    prepare(cache, &[src])?;
                    let (d, up) = time(|| Ok(lib.upload(src, name, &UploadOptions::default(), &NoProgress)?))?;
                    if up.file.size != bytes {
                        return Err(format!("uploaded {} bytes, expected {bytes}", up.file.size).into());
                    }
                    Ok(secs(d))
                }),
            ),
        ];
        let t = rotate(ctx.runs, &mut measures)?;
        drop(measures);
        let (cp, ours) = (median(&t[0]), median(&t[1]));
        let ratio = ours / cp;
        let fps = |s: f64| format!("{:.0} files/s", files as f64 / s);
        println!(
            "   median: upload {ours:.3} s ({}), cp -r+sync {cp:.3} s ({}); ratio {ratio:.2} (target <= 1.50) {}",
            fps(ours),
            fps(cp),
            if ratio <= 1.5 { "PASS" } else { "FAIL" }
        );
        ctx.row(Row {
            id: "(c)",
            what: format!("upload book {files} x 4 KiB [{}]", cache.label()),
            value: format!("{ours:.3} s"),
            baseline: format!("cp -r+sync {cp:.3} s"),
            ratio: format!("{ratio:.2}x"),
            target: "<= 1.50x".into(),
            pass: Some(ratio <= 1.5),
        });
    }
    remove(&outs)?;
    sync_all();
    Ok(())
}

/// (d, Rust equivalent) 1,000 separate uploads of 4 KiB files from one process.
pub fn small(ctx: &mut Ctx) -> Res<()> {
    const N: usize = 1000;
    let src = ctx.dir.join("src-small");
    if !src.join(format!("s{:04}.dat", N - 1)).exists() {
        std::fs::create_dir_all(&src)?;
        let mut rng = util::Rng::new(0x5a11);
        let mut buf = vec![0u8; SMALL];
        for i in 0..N {
            rng.fill(&mut buf);
            std::fs::write(src.join(format!("s{i:04}.dat")), &buf)?;
        }
        sync_all();
    }
    let sources: Vec<(PathBuf, FileName)> = (0..N)
        .map(|i| Ok((src.join(format!("s{i:04}.dat")), FileName::new(&format!("small/s{i:04}.dat"))?)))
        .collect::<Res<_>>()?;
    ctx.header(
        &format!("(d, Rust) {N} separate uploads of 4 KiB files through the core, one process"),
        Some(Cache::Warm),
    );
    println!("   each upload: own staging dir, fsync of the file, intent + commit transactions, rename, dir fsyncs");
    let mut rates = Vec::new();
    let mut per_upload = Vec::new();
    for r in 0..ctx.runs {
        let out = fresh_dir(ctx, "out")?;
        let lib = Librarian::init(&out.join("site"), "bench")?;
        prepare(Cache::Warm, &[&src])?;
        let (d, ()) = time(|| {
            for (path, name) in &sources {
                let (one, _) = time(|| Ok(lib.upload(path, name, &UploadOptions::default(), &NoProgress)?))?;
                per_upload.push(secs(one) * 1e3);
            }
            Ok(())
        })?;
        let fps = N as f64 / secs(d);
        println!("   run {}: {:.3} s = {fps:.0} files/s   [load {}]", r + 1, secs(d), util::loadavg());
        rates.push(fps);
        drop(lib);
        remove(&out)?;
        sync_all();
    }
    let m = median(&rates);
    println!(
        "   median {m:.0} files/s; per upload: median {:.2} ms, p99 {:.2} ms (Python target for (d): >= 500 files/s)",
        median(&per_upload),
        percentile(&per_upload, 99.0)
    );
    ctx.row(Row {
        id: "(d-rs)",
        what: format!("{N} separate 4 KiB uploads (Rust core)"),
        value: format!("{m:.0} files/s"),
        baseline: String::new(),
        ratio: String::new(),
        target: "context: Python's (d) is >= 500 files/s".into(),
        pass: None,
    });
    Ok(())
}
