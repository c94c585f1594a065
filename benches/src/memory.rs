//! (f) peak memory of the `librarian upload` CLI on a large file.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use librarian_core::Librarian;

use crate::util::{self, Cache, MIB, Res, human_bytes, median, prepare, rate, remove, run, run_measured, sync_all};
use crate::{Ctx, Row, fresh_dir};

/// The release `librarian` binary: `--librarian`, else the one next to this binary,
/// (re)built with cargo when this runs under `cargo run`.
pub fn librarian_bin(ctx: &Ctx) -> Res<PathBuf> {
    if let Some(p) = &ctx.librarian {
        return Ok(p.clone());
    }
    built_bin("librarian-cli", "librarian", None)
}

/// The binary `name` of workspace package `package`, built now with cargo (when run
/// by cargo) in this binary's profile: next to this binary, or next to `beside`.
pub fn built_bin(package: &str, name: &str, beside: Option<&Path>) -> Res<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("current executable has no directory")?;
    if let Some(cargo) = std::env::var_os("CARGO") {
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", package]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        println!("   building {name}: {cmd:?}");
        run(&mut cmd)?;
    }
    let bin = beside.map_or_else(|| dir.join(name), |b| b.with_file_name(name));
    if !bin.exists() {
        return Err(format!("{} not found: cargo build --release -p {package}", bin.display()).into());
    }
    Ok(bin)
}

/// (f) peak RSS (wait4 ru_maxrss) of `librarian upload` of a `big_size` file ≤ 64 MiB.
pub fn memory(ctx: &mut Ctx) -> Res<()> {
    let size = ctx.big_size;
    ctx.header(
        &format!("(f) peak memory of `librarian upload` (CLI child process) of a {} file", human_bytes(size)),
        Some(Cache::Warm),
    );
    let bin = librarian_bin(ctx)?;
    let src = ctx.dir.join("src-big.bin");
    util::make_file(&src, size, 0xb16)?;
    println!("   binary: {}", bin.display());
    println!("   peak RSS: wait4(2) ru_maxrss of the child, started from a small helper process so the bench's");
    println!("   own peak is not folded in (see util::run_measured); VmHWM polled every 5 ms as a cross-check;");
    println!("   cp + sync of the same file for context");
    let runs = ctx.runs.min(3);
    let mut rss = Vec::new();
    let mut hwm = Vec::new();
    let mut ours = Vec::new();
    let mut cps = Vec::new();
    let mut cp_rss = Vec::new();
    for r in 0..runs {
        let mut line = Vec::new();
        for k in 0..2 {
            let out = fresh_dir(ctx, "out")?;
            if (r + k) % 2 == 0 {
                Librarian::init(&out.join("site"), "bench")?;
                prepare(Cache::Warm, &[&src])?;
                let config = out.join("site/librarian.toml");
                let args = [
                    OsStr::new("--config"),
                    config.as_os_str(),
                    OsStr::new("upload"),
                    src.as_os_str(),
                    OsStr::new("bench/big.bin"),
                ];
                let u = run_measured(&bin, &args, &out.join("stderr.txt"))?;
                hwm.push(u.vm_hwm_bytes as f64);
                rss.push(u.max_rss_bytes as f64);
                ours.push(u.wall.as_secs_f64());
                line.push(format!(
                    "librarian upload {:.3} s, peak RSS {:.1} MiB (VmHWM polled {:.1} MiB)",
                    u.wall.as_secs_f64(),
                    u.max_rss_bytes as f64 / MIB as f64,
                    u.vm_hwm_bytes as f64 / MIB as f64
                ));
            } else {
                prepare(Cache::Warm, &[&src])?;
                let copy = out.join("copy");
                let u = run_measured(Path::new("cp"), &[src.as_os_str(), copy.as_os_str()], &out.join("stderr.txt"))?;
                let t = std::time::Instant::now();
                run(&mut Command::new("sync"))?;
                let total = u.wall.as_secs_f64() + t.elapsed().as_secs_f64();
                cps.push(total);
                cp_rss.push(u.max_rss_bytes as f64);
                line.push(format!("cp+sync {total:.3} s (cp peak RSS {:.1} MiB)", u.max_rss_bytes as f64 / MIB as f64));
            }
            remove(&out)?;
            sync_all();
        }
        println!("   run {}: {}   [load {}]", r + 1, line.join(" | "), util::loadavg());
    }
    let peak = rss.iter().copied().fold(0.0, f64::max);
    let peak_mib = peak / MIB as f64;
    let hwm_mib = hwm.iter().copied().fold(0.0, f64::max) / MIB as f64;
    let (t, c) = (median(&ours), median(&cps));
    println!(
        "   peak RSS (max over runs) {peak_mib:.1} MiB, VmHWM {hwm_mib:.1} MiB (target <= 64 MiB) {}; upload {t:.3} s = {}, cp+sync {c:.3} s = {} (ratio {:.2})",
        if peak_mib <= 64.0 { "PASS" } else { "FAIL" },
        rate(size, t),
        rate(size, c),
        t / c
    );
    ctx.row(Row {
        id: "(f)",
        what: format!("peak RSS, CLI upload of {}", human_bytes(size)),
        value: format!("{peak_mib:.1} MiB"),
        baseline: format!("cp {:.1} MiB", cp_rss.iter().copied().fold(0.0, f64::max) / MIB as f64),
        ratio: format!("{:.2}x of target", peak_mib / 64.0),
        target: "<= 64 MiB".into(),
        pass: Some(peak_mib <= 64.0),
    });
    ctx.row(Row {
        id: "(f)",
        what: format!("CLI upload throughput, {} [warm]", human_bytes(size)),
        value: rate(size, t),
        baseline: format!("cp+sync {}", rate(size, c)),
        ratio: format!("{:.2}x time", t / c),
        target: String::new(),
        pass: None,
    });
    remove(&src)?;
    Ok(())
}
