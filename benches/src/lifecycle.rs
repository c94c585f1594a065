//! Issue 13: the scrub's read rate against `dd iflag=direct` on the same files, and
//! rolling deletion's planning in a catalog of 1,000,000 files.

use std::process::Command;

use jiff::Timestamp;
use librarian_core::{FileName, Librarian, NoProgress, ScrubOptions, UploadOptions};

use crate::file::{Measure, rotate};
use crate::util::{self, MIB, Res, human_bytes, median, rate, remove, run, secs, time};
use crate::{Ctx, Row, fresh_dir};

/// Files the scrub bench spreads `--file-size` over.
const SCRUB_FILES: u64 = 8;

/// The scrub with no budget (every copy, from the device) vs `dd iflag=direct` of the
/// same stored files, one after the other; target ≥ 0.95× of dd's rate.
pub fn scrub(ctx: &mut Ctx) -> Res<()> {
    let each = (ctx.file_size / SCRUB_FILES).max(MIB);
    let total = each * SCRUB_FILES;
    let site = fresh_dir(ctx, "scrub-site")?;
    let lib = Librarian::init(&site, "bench")?;
    let mut stored = Vec::new();
    for i in 0..SCRUB_FILES {
        let src = ctx.dir.join(format!("scrub-src-{i}.bin"));
        util::make_file(&src, each, 0x5c0b + i)?;
        let up =
            lib.upload(&src, &FileName::new(&format!("scrub/f{i}.bin"))?, &UploadOptions::default(), &NoProgress)?;
        stored.push(up.file.instances.first().map(|i| i.path.clone()).ok_or("upload made no instance")?);
        remove(&src)?;
    }
    util::sync_all();
    ctx.header(
        &format!(
            "(issue 13) scrub of {} ({SCRUB_FILES} files) vs dd iflag=direct of the same files",
            human_bytes(total)
        ),
        None,
    );
    println!("   librarian: Librarian::scrub, no budget (page cache dropped per file, BLAKE3 on a second thread)");
    println!("   baseline:  dd if=FILE of=/dev/null bs=4M iflag=direct, each file (the device's read rate)");
    let (lib_ref, stored) = (&lib, &stored);
    let mut measures: Vec<Measure<'_>> = vec![
        (
            "dd iflag=direct",
            Box::new(move || {
                let (d, ()) = time(|| {
                    for f in stored {
                        run(Command::new("dd")
                            .arg(format!("if={}", f.display()))
                            .arg("of=/dev/null")
                            .arg("bs=4M")
                            .arg("iflag=direct")
                            .arg("status=none"))?;
                    }
                    Ok(())
                })?;
                Ok(secs(d))
            }),
        ),
        (
            "scrub",
            Box::new(move || {
                let (d, r) = time(|| Ok(lib_ref.scrub(&ScrubOptions::default(), &NoProgress)?))?;
                if !r.ok || r.instances != SCRUB_FILES {
                    return Err(format!("the scrub read {} copies, ok {}: {:?}", r.instances, r.ok, r.problems).into());
                }
                // Read from the device, not the cache: nothing of the files stays cached.
                for f in stored {
                    let (resident, pages) = resident_pages(f)?;
                    if resident * 10 > pages {
                        return Err(format!(
                            "{resident} of {pages} pages of {} are cached after the scrub",
                            f.display()
                        )
                        .into());
                    }
                }
                Ok(secs(d))
            }),
        ),
    ];
    // The device through the kernel's read-ahead, as the scrub reads it: dd without
    // O_DIRECT, each file's cached pages dropped first.
    measures.push((
        "dd buffered",
        Box::new(move || {
            let (d, ()) = time(|| {
                for f in stored {
                    let path = format!("if={}", f.display());
                    run(Command::new("dd").arg(&path).arg("iflag=nocache").arg("count=0").arg("status=none"))?;
                    run(Command::new("dd").arg(&path).arg("of=/dev/null").arg("bs=4M").arg("status=none"))?;
                }
                Ok(())
            })?;
            Ok(secs(d))
        }),
    ));
    let with_b3 = util::have("b3sum");
    if with_b3 {
        // For context: b3sum reads through the page cache; each file's pages are
        // dropped first (dd iflag=nocache), so it reads the device too.
        measures.push((
            "b3sum",
            Box::new(move || {
                for f in stored {
                    run(Command::new("dd")
                        .arg(format!("if={}", f.display()))
                        .arg("iflag=nocache")
                        .arg("count=0")
                        .arg("status=none"))?;
                }
                let (d, ()) = time(|| {
                    run(Command::new("b3sum").arg("--no-mmap").args(stored.iter()))?;
                    Ok(())
                })?;
                Ok(secs(d))
            }),
        ));
    }
    let t = rotate(ctx.runs, &mut measures)?;
    drop(measures);
    let (dd, ours) = (median(&t[0]), median(&t[1]));
    let buffered = median(&t[2]);
    let b3 = t.get(3).map(|s| median(s));
    let ratio = dd / ours;
    println!(
        "   median: scrub {ours:.3} s ({}), dd iflag=direct {dd:.3} s ({}), dd buffered {buffered:.3} s ({}, ratio {:.2}){}; \
         ratio to dd iflag=direct {ratio:.2} (target >= 0.95) {}",
        rate(total, ours),
        rate(total, dd),
        rate(total, buffered),
        buffered / ours,
        b3.map(|s| format!(", b3sum {s:.3} s ({})", rate(total, s))).unwrap_or_default(),
        if ratio >= 0.95 { "PASS" } else { "FAIL" }
    );
    ctx.row(Row {
        id: "scrub",
        what: format!("scrub {} in {SCRUB_FILES} files, no budget", human_bytes(total)),
        value: rate(total, ours),
        baseline: format!(
            "dd iflag=direct {}; dd buffered {}{}",
            rate(total, dd),
            rate(total, buffered),
            b3.map(|s| format!("; b3sum {}", rate(total, s))).unwrap_or_default()
        ),
        ratio: format!("{ratio:.2}x"),
        target: ">= 0.95x".into(),
        pass: Some(ratio >= 0.95),
    });
    drop(lib);
    remove(&site)?;
    Ok(())
}

/// Pages of the file at `path` in the page cache, and its pages in all (mincore).
fn resident_pages(path: &std::path::Path) -> Res<(usize, usize)> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len())?;
    if len == 0 {
        return Ok((0, 0));
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })?;
    let pages = len.div_ceil(page);
    // SAFETY: a read-only shared mapping of an open file, unmapped below; never read.
    let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
    if map == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `vec` holds one byte per page of the mapping.
    let rc = unsafe { libc::mincore(map, len, vec.as_mut_ptr()) };
    // SAFETY: the mapping made above.
    unsafe { libc::munmap(map, len) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok((vec.iter().filter(|b| **b & 1 == 1).count(), pages))
}

/// Fill the catalog at `db` with `total` old files, each with an available copy on
/// `main` that may be deleted and a copy at `site-b` re-verified an hour ago.
fn build_deletion_catalog(db: &std::path::Path, total: u64) -> Res<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let store: i64 = conn.query_row("SELECT id FROM stores WHERE name = 'main'", [], |r| r.get(0))?;
    let now = Timestamp::now().as_microsecond();
    let old = now - 90 * 86_400 * 1_000_000;
    let hour_ago = now - 3_600 * 1_000_000;
    let tx = conn.transaction()?;
    {
        let mut file = tx.prepare(
            "INSERT INTO files (id, name, size, checksum, kind, uploader, source, created_at, arrived_at)
             VALUES (?1, ?2, ?3, ?4, 'file', 'bench', 'site-a', ?5, ?5)",
        )?;
        let mut inst = tx.prepare(
            "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at, verified_at)
             VALUES (?1, ?2, ?3, 1, 'allowed', ?4, ?4)",
        )?;
        let mut remote = tx.prepare(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at, verified_at, state, checked_at)
             VALUES (?1, 'site-b', 'main', ?2, ?3, 'ok', ?3)",
        )?;
        let mut rng = util::Rng::new(0xde1e);
        for i in 1..=total {
            let id = i64::try_from(i)?;
            let name = format!("old/{:04}/f{i:07}.dat", i / 1000);
            let created = old + i64::try_from(i)?;
            let sum = format!(
                "blake3:{:016x}{:016x}{:016x}{:016x}",
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64()
            );
            file.execute(rusqlite::params![id, name, 1 << 20, sum, created])?;
            inst.execute(rusqlite::params![id, store, name, created])?;
            remote.execute(rusqlite::params![id, created, hour_ago])?;
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Rolling deletion's plan (`rolling-deletion --dry-run`) over `--plan-files` old
/// files, every one deletable: target ≤ 2 s.
pub fn deletion_plan(ctx: &mut Ctx) -> Res<()> {
    let total = ctx.plan_files;
    let site = fresh_dir(ctx, "deletion-site")?;
    ctx.header(&format!("(issue 13) rolling deletion: plan over {total} old files, each safe at a peer"), None);
    let config = Librarian::init(&site, "site-a")?.config_path().to_owned();
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(
        &config,
        format!("{text}\n[deletion.main]\nafter = \"30d\"\nmin_copies = 1\nverified_within = \"7d\"\n"),
    )?;
    let db = site.join("librarian.db");
    let (d, ()) = time(|| build_deletion_catalog(&db, total))?;
    println!("   built with rusqlite: {:.1} s, database {}", secs(d), human_bytes(std::fs::metadata(&db)?.len()));
    let mut t = Vec::new();
    for r in 0..ctx.runs {
        let lib = Librarian::open(&config)?;
        let (d, plan) = time(|| Ok(lib.rolling_deletion("main", true)?))?;
        let deletable = plan.items.iter().filter(|i| i.action == librarian_core::DeletionAction::Delete).count();
        if u64::try_from(deletable)? != total {
            return Err(format!("the plan deletes {deletable} of {total}").into());
        }
        println!("   run {}: {:.3} s   [load {}]", r + 1, secs(d), util::loadavg());
        t.push(secs(d));
    }
    let m = median(&t);
    println!("   median {m:.3} s for {total} copies (target <= 2 s) {}", if m <= 2.0 { "PASS" } else { "FAIL" });
    ctx.row(Row {
        id: "deletion",
        what: format!("rolling-deletion plan over {total} copies"),
        value: format!("{m:.3} s"),
        baseline: String::new(),
        ratio: format!("{:.2}x of target", m / 2.0),
        target: "<= 2 s".into(),
        pass: Some(m <= 2.0),
    });
    remove(&site)?;
    Ok(())
}
