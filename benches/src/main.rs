//! Benchmarks of librarian against the physical limit and against `cp`, `b3sum` and
//! `sha256sum`, each comparison measured in one run on the same files.
//!
//! ```text
//! cargo run --release -p librarian-benches -- [OPTIONS] <all|limits|upload|verify|book|small|catalog|memory|http|slowloris|clone|globus|sneakernet|scrub|deletion|import-original>...
//! ```
//!
//! See `benches/README.md` for what each bench compares and the measured numbers.

mod book;
mod catalog;
mod clone;
mod file;
mod globus;
mod http;
mod import_original;
mod lifecycle;
mod memory;
mod slowloris;
mod sneakernet;
mod util;

use std::path::{Path, PathBuf};

use util::{Cache, GIB, MIB, Res};

const BENCHES: &[(&str, &str)] = &[
    ("limits", "physical limit: raw sequential write (dd conv=fsync) and read (dd) throughput"),
    ("upload", "(a) upload of a 1 GiB file vs cp + sync"),
    ("verify", "(b) verify of that file vs b3sum --no-mmap (and sha256sum)"),
    ("book", "(c) upload of a book of 10,000 x 4 KiB files vs cp -r + sync"),
    ("small", "(d, Rust) 1,000 separate uploads of 4 KiB files through the core"),
    ("catalog", "(e) info and name-prefix search in a catalog of 1,000,000 files"),
    ("memory", "(f) peak RSS of the librarian CLI uploading a 4 GiB file"),
    ("http", "(issue 3) authenticated GET /api/v1/status, 8 connections, credential cache on and off, and over HTTPS"),
    (
        "slowloris",
        "(issue 9) a good client's ping latency and server RSS under 600 slow connections, HTTP and HTTPS, 60 s",
    ),
    (
        "clone",
        "(issue 4) clone A -> B on loopback (2 GiB vs cp -r+sync+b3sum; 1,000 small files) and planning in 1 M files",
    ),
    (
        "globus",
        "(issue 12) clone of the 2 GiB mix through the fake Globus vs the local manager; submitting 100,000 files",
    ),
    ("scrub", "(issue 13) scrub with no budget vs dd iflag=direct of the same files (--file-size in 8 files)"),
    ("deletion", "(issue 13) rolling-deletion plan over --plan-files old copies, each safe at a peer"),
    (
        "import-original",
        "(issue 14) import-original of a synthetic original catalog of --import-files files vs select + stat + insert",
    ),
    (
        "sneakernet",
        "SneakerNet A -> drive -> B of 4 GiB (--big-size): local clone, export, verify, import vs (cp -r+sync+b3sum) x2",
    ),
];

const USAGE: &str = "usage: librarian-benches [OPTIONS] <all|NAME>...

options:
  --runs N            timed runs per measurement (default 5); medians are reported
  --cache MODE        cold, warm or both (default both; cold needs root)
  --dir DIR           parent of the temporary work directory (default $TMPDIR or /tmp);
                      must be on the filesystem you want to measure
  --file-size BYTES   size of the file of (a) and (b) (default 1 GiB; suffixes K M G)
  --big-size BYTES    size of the file of (f) and of the data of sneakernet (default 4 GiB)
  --book-files N      files in the book of (c) (default 10000)
  --catalog-files N   files in the catalog of (e) (default 1000000)
  --librarian PATH    the librarian CLI for (f) and clone (default: built with cargo, next to this binary)
  --clone-parts LIST  parts of clone: comma-separated big, small, plan (default all three)
  --clone-files N     64 MiB files in the 2 GiB clone (default 24)
  --clone-file-size BYTES  their size (default 64M)
  --clone-book-files N     48 KiB files in its book (default 10000)
  --clone-small-files N    4 KiB files in the small-files clone (default 1000)
  --plan-files N      files in the planning catalog, a tenth without a copy (default 1000000)
  --globus-parts LIST parts of globus: comma-separated big, submit (default both)
  --globus-files N    files planned and submitted by globus's submit part (default 100000)
  --import-files N    files in import-original's synthetic original catalog (default 1000000)
  --keep              keep the work directory";

/// One line of the closing table.
#[derive(Debug)]
pub struct Row {
    pub id: &'static str,
    pub what: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    pub pass: Option<bool>,
}

/// Options and shared state of a benchmark session.
#[derive(Debug)]
pub struct Ctx {
    pub runs: usize,
    pub caches: Vec<Cache>,
    pub dir: PathBuf,
    pub file_size: u64,
    pub big_size: u64,
    pub book_files: usize,
    pub catalog_files: u64,
    pub librarian: Option<PathBuf>,
    pub clone_parts: Vec<String>,
    pub clone_files: usize,
    pub clone_file_size: u64,
    pub clone_book_files: usize,
    pub clone_small_files: usize,
    pub plan_files: u64,
    pub globus_parts: Vec<String>,
    pub globus_files: u64,
    pub import_files: u64,
    pub can_drop_caches: bool,
    pub rows: Vec<Row>,
}

impl Ctx {
    /// The shared source file of (a) and (b), created on first use.
    pub fn source_file(&self) -> Res<PathBuf> {
        let p = self.dir.join("src-file.bin");
        util::make_file(&p, self.file_size, 0x5eed)?;
        Ok(p)
    }

    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Print the section header: what is measured, cache policy and load.
    pub fn header(&self, title: &str, cache: Option<Cache>) {
        println!();
        println!("== {title} ==");
        if let Some(c) = cache {
            println!("   caches: {}", c.describe());
        }
        println!("   load average: {}", util::loadavg());
    }
}

fn parse_size(s: &str) -> Res<u64> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    n.checked_mul(mult).ok_or_else(|| format!("size {s:?} too large").into())
}

fn main() -> Res<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().is_some_and(|a| a == util::RUSAGE_HELPER) {
        return util::rusage_helper(&all[1..]);
    }
    let mut args = all.into_iter();
    let mut runs = 5usize;
    let mut cache_opt = "both".to_string();
    let mut parent: Option<PathBuf> = None;
    let mut file_size = GIB;
    let mut big_size = 4 * GIB;
    let mut book_files = 10_000usize;
    let mut catalog_files = 1_000_000u64;
    let mut librarian = None;
    let mut clone_parts: Vec<String> = ["big", "small", "plan"].map(String::from).to_vec();
    let mut clone_files = 24usize;
    let mut clone_file_size = 64 * MIB;
    let mut clone_book_files = 10_000usize;
    let mut clone_small_files = 1000usize;
    let mut plan_files = 1_000_000u64;
    let mut globus_parts: Vec<String> = ["big", "submit"].map(String::from).to_vec();
    let mut globus_files = 100_000u64;
    let mut import_files = 1_000_000u64;
    let mut keep = false;
    let mut names: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "--runs" => runs = value("--runs")?.parse()?,
            "--cache" => cache_opt = value("--cache")?,
            "--dir" => parent = Some(PathBuf::from(value("--dir")?)),
            "--file-size" => file_size = parse_size(&value("--file-size")?)?,
            "--big-size" => big_size = parse_size(&value("--big-size")?)?,
            "--book-files" => book_files = value("--book-files")?.parse()?,
            "--catalog-files" => catalog_files = value("--catalog-files")?.parse()?,
            "--librarian" => librarian = Some(PathBuf::from(value("--librarian")?)),
            "--clone-parts" => {
                clone_parts = value("--clone-parts")?.split(',').map(|p| p.trim().to_owned()).collect();
                if let Some(p) = clone_parts.iter().find(|p| !matches!(p.as_str(), "big" | "small" | "plan")) {
                    return Err(format!("--clone-parts: unknown part {p:?} (big, small, plan)").into());
                }
            }
            "--clone-files" => clone_files = value("--clone-files")?.parse()?,
            "--clone-file-size" => clone_file_size = parse_size(&value("--clone-file-size")?)?,
            "--clone-book-files" => clone_book_files = value("--clone-book-files")?.parse()?,
            "--clone-small-files" => clone_small_files = value("--clone-small-files")?.parse()?,
            "--plan-files" => plan_files = value("--plan-files")?.parse()?,
            "--globus-parts" => {
                globus_parts = value("--globus-parts")?.split(',').map(|p| p.trim().to_owned()).collect();
                if let Some(p) = globus_parts.iter().find(|p| !matches!(p.as_str(), "big" | "submit")) {
                    return Err(format!("--globus-parts: unknown part {p:?} (big, submit)").into());
                }
            }
            "--globus-files" => globus_files = value("--globus-files")?.parse()?,
            "--import-files" => import_files = value("--import-files")?.parse()?,
            "--keep" => keep = true,
            "-h" | "--help" => {
                println!("{USAGE}\n\nbenches:");
                for (n, d) in BENCHES {
                    println!("  {n:<8} {d}");
                }
                return Ok(());
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}").into()),
            s => names.push(s.to_owned()),
        }
    }
    if names.is_empty() {
        return Err(USAGE.into());
    }
    if names.iter().any(|n| n == "all") {
        names = BENCHES.iter().map(|(n, _)| (*n).to_owned()).collect();
    }
    for n in &names {
        if !BENCHES.iter().any(|(b, _)| b == n) {
            return Err(format!("unknown bench {n:?}\n{USAGE}").into());
        }
    }
    // (a) is printed next to the physical limit of the disk.
    if let Some(i) = names.iter().position(|n| n == "upload")
        && !names.iter().any(|n| n == "limits")
    {
        names.insert(i, "limits".into());
    }
    if runs == 0 {
        return Err("--runs must be at least 1".into());
    }

    let can_drop_caches = util::drop_caches()?;
    let caches = match (cache_opt.as_str(), can_drop_caches) {
        ("warm", _) => vec![Cache::Warm],
        ("cold", true) => vec![Cache::Cold],
        ("both", true) => vec![Cache::Cold, Cache::Warm],
        ("both", false) => {
            println!("note: cannot drop the page cache (not root): measuring warm only");
            vec![Cache::Warm]
        }
        ("cold", false) => return Err("--cache cold needs permission to write /proc/sys/vm/drop_caches".into()),
        (other, _) => return Err(format!("--cache must be cold, warm or both, not {other:?}").into()),
    };
    let parent = parent.unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new().prefix("librarian-bench-").tempdir_in(&parent)?;
    let dir = std::fs::canonicalize(tmp.path())?;

    let (free, total) = util::df(&dir)?;
    println!("librarian benchmarks, {}", jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC"));
    println!("   work directory: {} on {}", dir.display(), util::mount_of(&dir));
    println!(
        "   filesystem: {} free of {} (stores and data live here)",
        util::human_bytes(free),
        util::human_bytes(total)
    );
    println!(
        "   cpus: {}, load average: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        util::loadavg()
    );
    println!(
        "   page cache: {}",
        if can_drop_caches { "can be dropped (root); cold runs drop it before each run" } else { "cannot be dropped" }
    );
    println!("   runs per measurement: {runs} (medians reported; baseline and librarian alternate order)");

    let mut ctx = Ctx {
        runs,
        caches,
        dir: dir.clone(),
        file_size,
        big_size,
        book_files,
        catalog_files,
        librarian,
        clone_parts,
        clone_files,
        clone_file_size,
        clone_book_files,
        clone_small_files,
        plan_files,
        globus_parts,
        globus_files,
        import_files,
        can_drop_caches,
        rows: Vec::new(),
    };
    let mut failed = Vec::new();
    for n in &names {
        let r = match n.as_str() {
            "limits" => file::limits(&mut ctx),
            "upload" => file::upload(&mut ctx),
            "verify" => file::verify(&mut ctx),
            "book" => book::book(&mut ctx),
            "small" => book::small(&mut ctx),
            "catalog" => catalog::catalog(&mut ctx),
            "memory" => memory::memory(&mut ctx),
            "http" => http::http(&mut ctx),
            "slowloris" => slowloris::slowloris(&mut ctx),
            "clone" => clone::clone(&mut ctx),
            "globus" => globus::globus(&mut ctx),
            "sneakernet" => sneakernet::sneakernet(&mut ctx),
            "scrub" => lifecycle::scrub(&mut ctx),
            "deletion" => lifecycle::deletion_plan(&mut ctx),
            "import-original" => import_original::import_original(&mut ctx),
            _ => Ok(()),
        };
        if let Err(e) = r {
            println!("!! bench {n} failed: {e}");
            failed.push(n.clone());
        }
    }
    summary(&ctx.rows);
    if keep {
        let kept = tmp.keep();
        println!("work directory kept: {}", kept.display());
    } else {
        drop(tmp);
        util::sync_all();
    }
    if !failed.is_empty() {
        return Err(format!("benches failed: {}", failed.join(", ")).into());
    }
    Ok(())
}

fn summary(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "== summary ({}; load average {}) ==",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
        util::loadavg()
    );
    let head = ["bench", "measurement", "librarian", "baseline", "ratio", "target", "result"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.id.to_owned(),
                r.what.clone(),
                r.value.clone(),
                r.baseline.clone(),
                r.ratio.clone(),
                r.target.clone(),
                match r.pass {
                    Some(true) => "PASS".into(),
                    Some(false) => "FAIL".into(),
                    None => "info".into(),
                },
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let parts: Vec<String> = c.iter().zip(width).map(|(s, w)| format!("{s:<w$}")).collect();
        println!("| {} |", parts.join(" | "));
    };
    line(&head.map(str::to_owned));
    println!("|{}|", width.map(|w| "-".repeat(w + 2)).join("|"));
    for c in &cells {
        line(c);
    }
}

/// The directory a bench works in, emptied first.
pub fn fresh_dir(ctx: &Ctx, name: &str) -> Res<PathBuf> {
    let p = ctx.dir.join(name);
    util::remove(&p)?;
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

/// Same filesystem check, printed.
pub fn check_same_fs(a: &Path, b: &Path) -> Res<()> {
    if util::device(a)? != util::device(b)? {
        return Err(format!("{} and {} are on different filesystems", a.display(), b.display()).into());
    }
    Ok(())
}
