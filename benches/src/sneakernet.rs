//! SneakerNet: carrying 4 GiB (48 × 64 MiB files and a book of 4,096 × 256 KiB files,
//! scaled by `--big-size`) from site A to site B on a drive, through the core in
//! process, against the unavoidable work of doing it by hand.
//!
//! - Librarian: `Librarian::clone_local` (A's main store → a drive store),
//!   `Librarian::sneakernet_export`, `sneakernet::verify_drive` (before shipping) and
//!   `Librarian::sneakernet_import` at site B (which also verifies what it copies).
//! - Baseline: `cp -r SRC DRIVE && sync && b3sum (every file on DRIVE) > SUMS`, then on
//!   arrival `cp -r DRIVE DEST && sync && b3sum --check SUMS` in DEST: move the bytes
//!   twice, hash them twice.
//!
//! Ingest at A is not measured: A's data is uploaded once, before the runs; the
//! local clone onto the drive is what stands against the first `cp -r`. Every run
//! uses a new drive store and a new peer `site-bN` at A (an export is recorded per
//! destination), and a new site B; its directory is removed after the run.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use librarian_core::verify_drive;
use librarian_core::{FileName, Librarian, NoProgress, Password, StoreSpec, UploadOptions};

use crate::file::{Measure, rotate};
use crate::util::{self, KIB, MIB, Res, human_bytes, median, prepare, rate, remove, secs, sync_all, time};
use crate::{Ctx, Row, check_same_fs, fresh_dir};

/// The big files.
const FILE_SIZE: u64 = 64 * MIB;
/// The files of the book.
const ENTRY_SIZE: usize = 256 * KIB as usize;
const PER_DIR: usize = 100;
/// Nothing listens there: the `complete` calls only wait in B's outbox.
const NOWHERE: &str = "http://127.0.0.1:9";
const TARGET: f64 = 1.3;

/// The shape of the data: `files` × 64 MiB (three quarters of `--big-size`) and a
/// book of `entries` × 256 KiB (the last quarter).
#[derive(Debug, Clone, Copy)]
struct Shape {
    files: usize,
    entries: usize,
}

impl Shape {
    fn of(total: u64) -> Shape {
        Shape {
            files: ((total / 4 * 3) / FILE_SIZE).max(1) as usize,
            entries: ((total / 4) / ENTRY_SIZE as u64).max(1) as usize,
        }
    }

    fn bytes(self) -> u64 {
        self.files as u64 * FILE_SIZE + (self.entries * ENTRY_SIZE) as u64
    }

    fn describe(self) -> String {
        format!(
            "{} x {} + a book of {} x {} = {}",
            self.files,
            human_bytes(FILE_SIZE),
            self.entries,
            human_bytes(ENTRY_SIZE as u64),
            human_bytes(self.bytes())
        )
    }
}

/// The source tree, created once: `big/fNN.bin` and `book/dNNN/fNNN.dat`.
fn make_source(root: &Path, shape: Shape) -> Res<()> {
    std::fs::create_dir_all(root.join("big"))?;
    for i in 0..shape.files {
        util::make_file(&root.join(format!("big/f{i:02}.bin")), FILE_SIZE, 0x5ea7 + i as u64)?;
    }
    let book = root.join("book");
    let marker = root.join(format!("book-{}.complete", shape.entries));
    if !marker.exists() {
        remove(&book)?;
        std::fs::create_dir_all(&book)?;
        let mut rng = util::Rng::new(0xd15c);
        let mut buf = vec![0u8; ENTRY_SIZE];
        for i in 0..shape.entries {
            let dir = book.join(format!("d{:03}", i / PER_DIR));
            if i % PER_DIR == 0 {
                std::fs::create_dir(&dir)?;
            }
            rng.fill(&mut buf);
            std::fs::write(dir.join(format!("f{:03}.dat", i % PER_DIR)), &buf)?;
        }
        sync_all();
        std::fs::write(marker, b"")?;
    }
    Ok(())
}

/// Every file under `root`, relative to it, sorted.
fn files_under(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let child = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            files_under(root, &child, out)?;
        } else {
            out.push(child);
        }
    }
    Ok(())
}

/// Run `cmd` to completion, failing with its stderr.
fn run_checked(cmd: &mut Command) -> Res<()> {
    let out = cmd.stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    Ok(())
}

/// The timed steps of one baseline run, in seconds.
#[derive(Debug, Clone, Copy)]
struct BaseSteps {
    cp1: f64,
    sync1: f64,
    sum1: f64,
    cp2: f64,
    sync2: f64,
    sum2: f64,
}

impl BaseSteps {
    fn total(&self) -> f64 {
        self.cp1 + self.sync1 + self.sum1 + self.cp2 + self.sync2 + self.sum2
    }

    fn without_sync(&self) -> f64 {
        self.cp1 + self.sum1 + self.cp2 + self.sum2
    }
}

/// `cp -r SRC DRIVE && sync && b3sum ... > SUMS && cp -r DRIVE DEST && sync &&
/// b3sum --check SUMS` (in DEST), each step timed.
fn baseline(src: &Path, run_dir: &Path) -> Res<BaseSteps> {
    let drive = run_dir.join("drive");
    let dest = run_dir.join("dest");
    let sums = run_dir.join("b3sums.txt");
    let (cp1, ()) = time(|| util::run(Command::new("cp").arg("-r").arg(src).arg(&drive)))?;
    let (sync1, ()) = time(|| util::run(&mut Command::new("sync")))?;
    let (sum1, ()) = time(|| {
        let mut files = Vec::new();
        files_under(&drive, Path::new(""), &mut files)?;
        files.sort();
        let out = File::create(&sums)?;
        for chunk in files.chunks(2000) {
            run_checked(Command::new("b3sum").current_dir(&drive).args(chunk).stdout(out.try_clone()?))?;
        }
        out.sync_all()?;
        Ok(())
    })?;
    let (cp2, ()) = time(|| util::run(Command::new("cp").arg("-r").arg(&drive).arg(&dest)))?;
    let (sync2, ()) = time(|| util::run(&mut Command::new("sync")))?;
    let (sum2, ()) =
        time(|| run_checked(Command::new("b3sum").current_dir(&dest).arg("--check").arg(&sums).stdout(Stdio::null())))?;
    Ok(BaseSteps {
        cp1: secs(cp1),
        sync1: secs(sync1),
        sum1: secs(sum1),
        cp2: secs(cp2),
        sync2: secs(sync2),
        sum2: secs(sum2),
    })
}

/// The timed steps of one librarian run, in seconds.
#[derive(Debug, Clone, Copy)]
struct OurSteps {
    clone: f64,
    export: f64,
    verify: f64,
    import: f64,
}

impl OurSteps {
    fn total(&self) -> f64 {
        self.clone + self.export + self.verify + self.import
    }
}

/// Site A: a main store holding the data, ingested once (not measured).
fn site_a(dir: &Path, src: &Path, shape: Shape) -> Res<Librarian> {
    let lib = Librarian::init(dir, "site-a")?;
    let opts = UploadOptions::default();
    for i in 0..shape.files {
        lib.upload(
            &src.join(format!("big/f{i:02}.bin")),
            &FileName::new(&format!("bench/f{i:02}.bin"))?,
            &opts,
            &NoProgress,
        )?;
    }
    lib.upload(&src.join("book"), &FileName::new("bench/book")?, &opts, &NoProgress)?;
    Ok(lib)
}

/// One librarian run into `run_dir`: a new drive store and peer at A, a new site B.
fn ours(a: &Librarian, run: usize, run_dir: &Path, shape: Shape, warm_src: &Path, cache: util::Cache) -> Res<OurSteps> {
    let items = (shape.files + 1) as u64;
    let drive = format!("drive{run}");
    let b_name = format!("site-b{run}");
    a.add_store(&StoreSpec {
        name: drive.clone(),
        root: run_dir.join("drive/data"),
        staging: Some(run_dir.join("drive/staging")),
        ingestable: false,
        reserve_bytes: 0,
    })?;
    a.add_peer(&b_name, NOWHERE, "site-a", &Password::new("bench-a-at-b-sneakernet".into())?)?;
    let b = Librarian::init(&run_dir.join("b"), &b_name)?;
    b.add_peer("site-a", NOWHERE, &b_name, &Password::new("bench-b-at-a-sneakernet".into())?)?;
    prepare(cache, &[warm_src])?;

    let (clone, c) = time(|| Ok(a.clone_local("main", &drive, false, &NoProgress)?))?;
    if c.copied != items || !c.failed.is_empty() || c.full {
        return Err(format!("clone_local: {c}").into());
    }
    let (export, e) = time(|| Ok(a.sneakernet_export(&drive, &b_name, false, false, &NoProgress)?))?;
    if e.files.len() as u64 != items || e.bytes != shape.bytes() {
        return Err(format!("export: {} files, {} bytes", e.files.len(), e.bytes).into());
    }
    let (verify, v) = time(|| Ok(verify_drive(&e.drive, &NoProgress)?))?;
    if !v.ok || v.intact != items {
        return Err(format!("verify_drive: {} intact, problems {:?}", v.intact, v.problems).into());
    }
    let (import, i) = time(|| Ok(b.sneakernet_import(&e.drive, None, false, &NoProgress)?))?;
    if !i.ok() || i.imported.len() as u64 != items || i.callbacks_queued != items {
        return Err(format!("import: {i:?}").into());
    }
    Ok(OurSteps { clone: secs(clone), export: secs(export), verify: secs(verify), import: secs(import) })
}

/// SneakerNet export + verify + import (with the local clone) vs `cp -r` twice and
/// `b3sum` twice; target ≤ 1.3×.
pub fn sneakernet(ctx: &mut Ctx) -> Res<()> {
    for tool in ["cp", "sync", "b3sum"] {
        if !util::have(tool) {
            return Err(format!("{tool} not found (apt-get install -y b3sum)").into());
        }
    }
    let shape = Shape::of(ctx.big_size);
    let bytes = shape.bytes();
    let src = ctx.dir.join("src-sneakernet");
    make_source(&src, shape)?;
    let base = fresh_dir(ctx, "sneakernet")?;
    check_same_fs(&src, &base)?;

    let (d, a) = time(|| site_a(&base.join("a"), &src, shape))?;
    println!();
    println!("   site A: {} ingested into its main store in {:.1} s (not measured)", shape.describe(), secs(d));
    let main_data = a.stores()?.into_iter().find(|s| s.name == "main").ok_or("site A has no main store")?.root;
    let counter = std::cell::Cell::new(0usize);
    let next_run = || -> Res<(usize, PathBuf)> {
        counter.set(counter.get() + 1);
        let p = base.join(format!("run{}", counter.get()));
        std::fs::create_dir(&p)?;
        Ok((counter.get(), p))
    };

    for cache in ctx.caches.clone() {
        ctx.header(&format!("SneakerNet of {} A -> drive -> B [{}]", shape.describe(), cache.label()), Some(cache));
        println!("   librarian: clone_local main -> drive, sneakernet_export, verify_drive, sneakernet_import at B");
        println!("   baseline:  cp -r SRC DRIVE && sync && b3sum (every file) > SUMS;");
        println!("              cp -r DRIVE DEST && sync && (cd DEST && b3sum --check SUMS)");
        let our_steps: RefCell<Vec<OurSteps>> = RefCell::new(Vec::new());
        let base_steps: RefCell<Vec<BaseSteps>> = RefCell::new(Vec::new());
        let (a, src, main_data, next_run) = (&a, &src, &main_data, &next_run);
        let (our_ref, base_ref) = (&our_steps, &base_steps);
        let mut measures: Vec<Measure<'_>> = vec![
            (
                "cp+b3sum x2",
                Box::new(move || {
                    let (_, run_dir) = next_run()?;
                    prepare(cache, &[src])?;
                    let s = baseline(src, &run_dir)?;
                    println!(
                        "     baseline: cp -r {:.3} + sync {:.3} + b3sum {:.3} + cp -r {:.3} + sync {:.3} + b3sum --check {:.3} = {:.3} s",
                        s.cp1,
                        s.sync1,
                        s.sum1,
                        s.cp2,
                        s.sync2,
                        s.sum2,
                        s.total()
                    );
                    base_ref.borrow_mut().push(s);
                    remove(&run_dir)?;
                    sync_all();
                    Ok(s.total())
                }),
            ),
            (
                "sneakernet",
                Box::new(move || {
                    let (n, run_dir) = next_run()?;
                    let s = ours(a, n, &run_dir, shape, main_data, cache)?;
                    println!(
                        "     librarian: clone_local {:.3} + export {:.3} + verify_drive {:.3} + import {:.3} = {:.3} s",
                        s.clone,
                        s.export,
                        s.verify,
                        s.import,
                        s.total()
                    );
                    our_ref.borrow_mut().push(s);
                    remove(&run_dir)?;
                    sync_all();
                    Ok(s.total())
                }),
            ),
        ];
        let t = rotate(ctx.runs, &mut measures)?;
        drop(measures);
        let (b, o) = (median(&t[0]), median(&t[1]));
        let ratio = o / b;
        let (ours_v, base_v) = (our_steps.into_inner(), base_steps.into_inner());
        let m = |f: &dyn Fn(&OurSteps) -> f64| median(&ours_v.iter().map(f).collect::<Vec<_>>());
        let mb = |f: &dyn Fn(&BaseSteps) -> f64| median(&base_v.iter().map(f).collect::<Vec<_>>());
        println!(
            "   median: sneakernet {o:.3} s ({} end to end), cp+b3sum x2 {b:.3} s ({}); ratio {ratio:.2} (target <= {TARGET:.2}) {}",
            rate(bytes, o),
            rate(bytes, b),
            if ratio <= TARGET { "PASS" } else { "FAIL" }
        );
        println!(
            "   librarian steps (medians): clone_local {:.3} s ({}), export {:.3} s ({}), verify_drive {:.3} s ({}), import {:.3} s ({})",
            m(&|s| s.clone),
            rate(bytes, m(&|s| s.clone)),
            m(&|s| s.export),
            rate(bytes, m(&|s| s.export)),
            m(&|s| s.verify),
            rate(bytes, m(&|s| s.verify)),
            m(&|s| s.import),
            rate(bytes, m(&|s| s.import)),
        );
        println!(
            "   baseline steps (medians): cp -r {:.3} + sync {:.3} + b3sum {:.3} | cp -r {:.3} + sync {:.3} + b3sum --check {:.3}",
            mb(&|s| s.cp1),
            mb(&|s| s.sync1),
            mb(&|s| s.sum1),
            mb(&|s| s.cp2),
            mb(&|s| s.sync2),
            mb(&|s| s.sum2),
        );
        let nosync = mb(&|s| s.without_sync());
        println!("   (without the two syncs, the baseline's median is {nosync:.3} s: ratio {:.2})", o / nosync);
        ctx.row(Row {
            id: "sneakernet",
            what: format!("export+verify+import {} (with local clone) [{}]", human_bytes(bytes), cache.label()),
            value: format!("{o:.3} s"),
            baseline: format!("(cp -r+sync+b3sum) x2 {b:.3} s"),
            ratio: format!("{ratio:.2}x"),
            target: format!("<= {TARGET:.2}x"),
            pass: Some(ratio <= TARGET),
        });
    }
    drop(a);
    remove(&base)?;
    sync_all();
    Ok(())
}
