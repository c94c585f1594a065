//! (a) upload of one large file vs `cp` + `sync`, (b) verify vs `b3sum`, and the
//! physical limits of the disk.

use std::path::Path;
use std::process::Command;

use librarian_core::{FileName, Librarian, NoProgress, UploadOptions};

use crate::util::{self, Cache, MIB, Res, human_bytes, median, prepare, rate, remove, run, secs, sync_all, time};
use crate::{Ctx, Row, check_same_fs, fresh_dir};

/// A named measurement: returns the seconds of one timed run.
pub type Measure<'a> = (&'a str, Box<dyn FnMut() -> Res<f64> + 'a>);

/// Run every measurement `runs` times, rotating which goes first, and print each run.
/// Returns the seconds of each run, per measurement.
pub fn rotate(runs: usize, measures: &mut [Measure<'_>]) -> Res<Vec<Vec<f64>>> {
    let n = measures.len();
    let mut out = vec![Vec::with_capacity(runs); n];
    for r in 0..runs {
        let mut line = Vec::new();
        for k in 0..n {
            let i = (r + k) % n;
            let (name, f) = &mut measures[i];
            let s = f()?;
            out[i].push(s);
            line.push((i, format!("{name} {s:.3} s")));
        }
        line.sort_by_key(|(i, _)| *i);
        let text: Vec<String> = line.into_iter().map(|(_, s)| s).collect();
        println!("   run {}: {}   [load {}]", r + 1, text.join(" | "), util::loadavg());
    }
    Ok(out)
}

fn cp_sync(src: &Path, dst: &Path, recursive: bool) -> Res<()> {
    let mut cp = Command::new("cp");
    if recursive {
        cp.arg("-r");
    }
    run(cp.arg(src).arg(dst))?;
    run(&mut Command::new("sync"))
}

/// Physical limits: sequential write (dd conv=fsync) and read (cold, direct, warm).
pub fn limits(ctx: &mut Ctx) -> Res<()> {
    let size = ctx.file_size;
    let count = (size / MIB).max(1);
    let src = ctx.source_file()?;
    ctx.header(&format!("physical limit: sequential write and read of {}", human_bytes(count * MIB)), None);
    let target = fresh_dir(ctx, "dd")?.join("zeros");
    let can_drop = ctx.can_drop_caches;
    let mut measures: Vec<Measure<'_>> = vec![
        (
            "dd write (bs=1M conv=fsync)",
            Box::new(|| {
                remove(&target)?;
                sync_all();
                let (d, ()) = time(|| {
                    run(Command::new("dd")
                        .arg("if=/dev/zero")
                        .arg(format!("of={}", target.display()))
                        .arg("bs=1M")
                        .arg(format!("count={count}"))
                        .arg("conv=fsync"))
                })?;
                remove(&target)?;
                sync_all();
                Ok(secs(d))
            }),
        ),
        (
            "dd read O_DIRECT (bs=4M)",
            Box::new(|| {
                let (d, ()) = time(|| {
                    run(Command::new("dd")
                        .arg(format!("if={}", src.display()))
                        .arg("of=/dev/null")
                        .arg("bs=4M")
                        .arg("iflag=direct"))
                })?;
                Ok(secs(d))
            }),
        ),
        (
            "dd read warm (bs=1M)",
            Box::new(|| {
                prepare(Cache::Warm, &[&src])?;
                let (d, ()) = time(|| {
                    run(Command::new("dd").arg(format!("if={}", src.display())).arg("of=/dev/null").arg("bs=1M"))
                })?;
                Ok(secs(d))
            }),
        ),
    ];
    if can_drop {
        measures.push((
            "dd read cold (bs=1M)",
            Box::new(|| {
                prepare(Cache::Cold, &[])?;
                let (d, ()) = time(|| {
                    run(Command::new("dd").arg(format!("if={}", src.display())).arg("of=/dev/null").arg("bs=1M"))
                })?;
                Ok(secs(d))
            }),
        ));
    }
    let times = rotate(ctx.runs, &mut measures)?;
    let names: Vec<&str> = measures.iter().map(|(n, _)| *n).collect();
    for (name, t) in names.iter().zip(&times) {
        let m = median(t);
        println!("   median {name}: {m:.3} s = {}", rate(count * MIB, m));
        let row = Row {
            id: "limit",
            what: (*name).to_owned(),
            value: rate(count * MIB, m),
            baseline: String::new(),
            ratio: String::new(),
            target: String::new(),
            pass: None,
        };
        ctx.row(row);
    }
    util::remove(&ctx.dir.join("dd"))?;
    Ok(())
}

/// (a) `Librarian::upload` of one file vs `cp` + `sync`; target ≤ 1.1×.
pub fn upload(ctx: &mut Ctx) -> Res<()> {
    let src = ctx.source_file()?;
    let size = ctx.file_size;
    let name = FileName::new("bench/file.bin")?;
    for cache in ctx.caches.clone() {
        ctx.header(
            &format!("(a) upload of a {} file vs cp + sync [{}]", human_bytes(size), cache.label()),
            Some(cache),
        );
        println!(
            "   librarian: Librarian::upload (copy while hashing, fsync, rename, catalog commit), fresh site each run"
        );
        println!("   baseline:  cp SRC DST && sync (same filesystem)");
        let ctx_ref = &*ctx;
        let mut measures: Vec<Measure<'_>> = vec![
            (
                "cp+sync",
                Box::new(|| {
                    let out = fresh_dir(ctx_ref, "out")?;
                    check_same_fs(&src, &out)?;
                    prepare(cache, &[&src])?;
                    let (d, ()) = time(|| cp_sync(&src, &out.join("copy"), false))?;
                    remove(&out)?;
                    sync_all();
                    Ok(secs(d))
                }),
            ),
            (
                "upload",
                Box::new(|| {
                    let out = fresh_dir(ctx_ref, "out")?;
                    let lib = Librarian::init(&out.join("site"), "bench")?;
                    prepare(cache, &[&src])?;
                    let (d, up) = time(|| Ok(lib.upload(&src, &name, &UploadOptions::default(), &NoProgress)?))?;
                    if up.file.size != size {
                        return Err(format!("uploaded {} bytes, expected {size}", up.file.size).into());
                    }
                    drop(lib);
                    remove(&out)?;
                    sync_all();
                    Ok(secs(d))
                }),
            ),
        ];
        let t = rotate(ctx.runs, &mut measures)?;
        drop(measures);
        let (cp, ours) = (median(&t[0]), median(&t[1]));
        let ratio = ours / cp;
        println!(
            "   median: upload {ours:.3} s ({}), cp+sync {cp:.3} s ({}); ratio {ratio:.2} (target <= 1.10) {}",
            rate(size, ours),
            rate(size, cp),
            if ratio <= 1.1 { "PASS" } else { "FAIL" }
        );
        ctx.row(Row {
            id: "(a)",
            what: format!("upload {} [{}]", human_bytes(size), cache.label()),
            value: format!("{ours:.3} s ({})", rate(size, ours)),
            baseline: format!("cp+sync {cp:.3} s ({})", rate(size, cp)),
            ratio: format!("{ratio:.2}x"),
            target: "<= 1.10x".into(),
            pass: Some(ratio <= 1.1),
        });
    }
    Ok(())
}

/// (b) `Librarian::verify` of one file vs `b3sum --no-mmap` (and `sha256sum`); target ≥ 0.9×.
pub fn verify(ctx: &mut Ctx) -> Res<()> {
    if !util::have("b3sum") {
        return Err("b3sum is not installed (apt-get install -y b3sum)".into());
    }
    let with_sha = util::have("sha256sum");
    let src = ctx.source_file()?;
    let size = ctx.file_size;
    let site = fresh_dir(ctx, "verify-site")?;
    let lib = Librarian::init(&site, "bench")?;
    let name = FileName::new("bench/file.bin")?;
    let up = lib.upload(&src, &name, &UploadOptions::default(), &NoProgress)?;
    let inst = up.file.instances.first().map(|i| i.path.clone()).ok_or("upload made no instance")?;
    println!();
    println!("   verify target: {} ({}, {})", inst.display(), human_bytes(size), up.file.checksum);
    for cache in ctx.caches.clone() {
        ctx.header(
            &format!("(b) verify of the {} file vs b3sum --no-mmap [{}]", human_bytes(size), cache.label()),
            Some(cache),
        );
        println!("   librarian: Librarian::verify (re-read + BLAKE3 on a second thread, records verified_at)");
        println!("   baseline:  b3sum --no-mmap FILE (one thread); sha256sum FILE for context; same stored file");
        let (lib, inst, name) = (&lib, &inst, &name);
        let mut measures: Vec<Measure<'_>> = vec![
            (
                "b3sum",
                Box::new(move || {
                    prepare(cache, &[inst])?;
                    let (d, ()) = time(|| run(Command::new("b3sum").arg("--no-mmap").arg(inst)))?;
                    Ok(secs(d))
                }),
            ),
            (
                "verify",
                Box::new(move || {
                    prepare(cache, &[inst])?;
                    let (d, report) = time(|| Ok(lib.verify(std::slice::from_ref(name), None, &NoProgress)?))?;
                    if !report.ok {
                        return Err(format!("verify reported a problem: {:?}", report.checked).into());
                    }
                    Ok(secs(d))
                }),
            ),
        ];
        if with_sha {
            measures.push((
                "sha256sum",
                Box::new(move || {
                    prepare(cache, &[inst])?;
                    let (d, ()) = time(|| run(Command::new("sha256sum").arg(inst)))?;
                    Ok(secs(d))
                }),
            ));
        }
        let t = rotate(ctx.runs, &mut measures)?;
        drop(measures);
        let (b3, ours) = (median(&t[0]), median(&t[1]));
        let ratio = b3 / ours;
        let sha = t.get(2).map(|s| median(s));
        println!(
            "   median: verify {ours:.3} s ({}), b3sum {b3:.3} s ({}){}; throughput ratio {ratio:.2} (target >= 0.90) {}",
            rate(size, ours),
            rate(size, b3),
            sha.map(|s| format!(", sha256sum {s:.3} s ({})", rate(size, s))).unwrap_or_default(),
            if ratio >= 0.9 { "PASS" } else { "FAIL" }
        );
        ctx.row(Row {
            id: "(b)",
            what: format!("verify {} [{}]", human_bytes(size), cache.label()),
            value: rate(size, ours),
            baseline: format!(
                "b3sum {}{}",
                rate(size, b3),
                sha.map(|s| format!("; sha256sum {}", rate(size, s))).unwrap_or_default()
            ),
            ratio: format!("{ratio:.2}x"),
            target: ">= 0.90x".into(),
            pass: Some(ratio >= 0.9),
        });
    }
    drop(lib);
    remove(&site)?;
    Ok(())
}
