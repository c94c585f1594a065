//! Issue 14: `Librarian::import_original` of a synthetic catalog of the original
//! (Python) Librarian of `--import-files` files (default 1,000,000), written with the
//! fixture's own schema, against what the same rows cost SQLite and the filesystem in
//! the same run: reading them, one `symlink_metadata` per copy, and inserting them
//! into a fresh catalog. Target: ≤ 60 s without `--verify`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use librarian_core::{
    Checksum, DeletionPolicy, Direction, FileKind, ImportOriginalOptions, InstanceState, Librarian, NoProgress,
    OriginalImportReport, TransferStatus, read_plain_pickle,
};
use rusqlite::{Connection, OpenFlags, params};

use crate::file::{Measure, rotate};
use crate::util::{MIB, Res, median, remove, secs, time};
use crate::{Ctx, Row, fresh_dir};

/// The vendored catalogs and configs of the original, never written.
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/so-librarian");
/// Site A's `main_store` area on the original's host; its pickled `store_path` is
/// `ORIGINAL_MAIN/store`.
const ORIGINAL_MAIN: &str = "/srv/so-librarian/so-site-a/main";
/// The target for 1,000,000 files.
const TARGET_SECS: f64 = 60.0;
/// `create_time` of file 0 (2026-02-02 11:46:40 UTC); one file every 250 ms after it.
const FIRST_US: i64 = 1_770_032_800_000_000;
const STEP_US: i64 = 250_000;
/// Site A's users (all six are copied).
const USERS: u64 = 6;

/// File `k`'s name.
fn name_of(k: u64) -> String {
    format!("gen/{}/f{k}.dat", k / 1000)
}

/// splitmix64 of `z`: file `k`'s size and checksum are functions of `k`, so the
/// files of the "present" variant can be made with the catalogued sizes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn size_of(k: u64) -> u64 {
    1024 + mix(k) % (64 * MIB)
}

fn checksum_of(k: u64) -> String {
    format!("xxh3:::{:016x}{:016x}", mix(k ^ 0x5151_0000_0000_0000), mix(k ^ 0xc4c4_0000_0000_0000))
}

/// Does file `k` have a remote instance at so-site-b and a completed transfer to it?
fn sent(k: u64) -> bool {
    k.is_multiple_of(10)
}

fn created_us(k: u64) -> Res<i64> {
    Ok(FIRST_US + i64::try_from(k)? * STEP_US)
}

/// The original's naive UTC text, as SQLAlchemy stores a `DATETIME` in SQLite:
/// `2026-12-02 03:19:27.439426`.
fn naive(us: i64) -> Res<String> {
    let d = TimeZone::UTC.to_datetime(Timestamp::from_microsecond(us)?);
    Ok(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.subsec_nanosecond() / 1000
    ))
}

/// A read-only URI of `p` for `ATTACH`.
fn read_only_uri(p: &Path) -> Res<String> {
    let s = p.to_str().ok_or("fixture path is not UTF-8")?;
    let escaped = s.replace('%', "%25").replace('?', "%3f").replace('#', "%23").replace(' ', "%20");
    Ok(format!("file:{escaped}?mode=ro"))
}

/// Write the synthetic original catalog at `db`: site A's own DDL, read from its
/// `sqlite_master` now; A's `alembic_version`, `main_store`, peer `so-site-b`, users
/// and first send-queue item as they are; then `n` files, one available instance
/// each on `main_store`, and for every tenth file a remote instance at so-site-b and
/// a completed outgoing transfer to it. One transaction, prepared statements.
fn generate(db: &Path, n: u64) -> Res<()> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.execute("ATTACH DATABASE ?1 AS fx", [read_only_uri(&Path::new(FIXTURE).join("site-a.sqlite"))?])?;
    let ddl: Vec<String> = {
        let mut st = conn.prepare(
            "SELECT sql FROM fx.sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL ORDER BY rowid",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let tx = conn.transaction()?;
    for sql in &ddl {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(
        "INSERT INTO main.alembic_version SELECT * FROM fx.alembic_version;
         INSERT INTO main.store_metadata SELECT * FROM fx.store_metadata WHERE name = 'main_store';
         INSERT INTO main.librarians SELECT * FROM fx.librarians WHERE id = 1;
         INSERT INTO main.users SELECT * FROM fx.users;
         INSERT INTO main.send_queue SELECT * FROM fx.send_queue WHERE id = 1;",
    )?;
    // The copied rows are what the bench assumes.
    let head: String = tx.query_row("SELECT version_num FROM main.alembic_version", [], |r| r.get(0))?;
    let (store_id, pickled): (i64, Vec<u8>) =
        tx.query_row("SELECT id, store_data FROM main.store_metadata", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let peer: String = tx.query_row("SELECT name FROM main.librarians WHERE id = 1", [], |r| r.get(0))?;
    let users: i64 = tx.query_row("SELECT COUNT(*) FROM main.users", [], |r| r.get(0))?;
    let root = read_plain_pickle(&pickled)?.get("store_path").and_then(|v| v.as_str().map(str::to_owned));
    let expected_root = format!("{ORIGINAL_MAIN}/store");
    if head != "84785333a677"
        || peer != "so-site-b"
        || users != i64::try_from(USERS)?
        || root.as_deref() != Some(&expected_root)
    {
        return Err(format!(
            "the fixture is not what this bench expects: alembic {head}, peer {peer}, {users} users, \
             main_store at {root:?}"
        )
        .into());
    }
    // A completed transfer's pickled transfer-manager data, as the original keeps it.
    let transfer_data: Vec<u8> =
        tx.query_row("SELECT transfer_data FROM fx.outgoing_transfers WHERE id = 1", [], |r| r.get(0))?;
    {
        let mut file = tx.prepare(
            "INSERT INTO main.files (name, create_time, size, checksum, uploader, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?;
        let mut inst = tx.prepare(
            "INSERT INTO main.instances (id, path, deletion_policy, created_time, file_name, store_id, available,
                                         calculated_checksum, calculated_size, checksum_time)
             VALUES (?1, ?2, 'DISALLOWED', ?3, ?4, ?5, 1, NULL, NULL, NULL)",
        )?;
        let mut remote = tx.prepare(
            "INSERT INTO main.remote_instances (id, file_name, store_id, librarian_id, copy_time, sender)
             VALUES (?1, ?2, 1, 1, ?3, 'so-site-a')",
        )?;
        let mut out = tx.prepare(
            "INSERT INTO main.outgoing_transfers (id, status, destination, transfer_size, transfer_checksum,
                 start_time, end_time, instance_id, remote_transfer_id, transfer_manager_name, transfer_data,
                 file_name, send_queue_id, source_path, dest_path)
             VALUES (?1, 'COMPLETED', 'so-site-b', ?2, ?3, ?4, NULL, ?5, ?5, NULL, ?6, ?7, 1, ?8, ?9)",
        )?;
        let uploaders = ["alice", "admin", "wanda"];
        let mut sent_id = 0i64;
        for k in 0..n {
            let id = i64::try_from(k)? + 1;
            let name = name_of(k);
            let size = i64::try_from(size_of(k))?;
            let sum = checksum_of(k);
            let t = created_us(k)?;
            let path = format!("{expected_root}/{name}");
            file.execute(params![name, naive(t)?, size, sum, uploaders[(k % 3) as usize]])?;
            inst.execute(params![id, path, naive(t + 73)?, name, store_id])?;
            if sent(k) {
                sent_id += 1;
                remote.execute(params![sent_id, name, naive(t + 8_000_000)?])?;
                let m = mix(k ^ 0x0dd1_d000_0000_0000);
                let dest = format!(
                    "/srv/so-librarian/so-site-b/main/staging/{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}/{name}",
                    m >> 32,
                    (m >> 16) & 0xffff,
                    m & 0xfff,
                    (m >> 20) & 0xfff,
                    mix(m) & 0xffff_ffff_ffff
                );
                out.execute(params![sent_id, size, sum, naive(t + 6_000_000)?, id, transfer_data, name, path, dest])?;
            }
        }
    }
    tx.commit()?;
    conn.execute_batch("DETACH DATABASE fx")?;
    Ok(())
}

/// Files `0..count` of the catalog as sparse files of their catalogued sizes below
/// `store` (no data: the import stats, it does not read).
fn make_present(store: &Path, count: u64) -> Res<()> {
    for k in 0..count {
        let p = store.join(name_of(k));
        if k.is_multiple_of(1000)
            && let Some(dir) = p.parent()
        {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(&p)?.set_len(size_of(k))?;
    }
    Ok(())
}

/// Reset this process's peak RSS (`VmHWM`) to its current RSS, after handing the
/// heap that earlier runs freed back to the kernel (else it counts in every later run).
fn reset_peak() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    // Best effort: without it the peak printed is the process's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / MIB as f64)
}

/// `VmHWM` and `VmRSS` of this process, in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// One import run: what it took, its report, the process's peak RSS and RSS before.
struct Imported {
    secs: f64,
    report: OriginalImportReport,
    peak: u64,
    before: u64,
}

/// Import `source` into a new site at `site`, `main_store` mapped to `main`.
fn import_once(site: &Path, source: &Path, main: &Path) -> Res<Imported> {
    remove(site)?;
    let lib = Librarian::init(site, "so-site-a")?;
    let opts = ImportOriginalOptions {
        original_config: Some(Path::new(FIXTURE).join("config/so-site-a.json")),
        map_prefix: vec![format!("{ORIGINAL_MAIN}={}", main.display())],
        remote_stores: vec!["so-site-b:1=main_store".into()],
        ..Default::default()
    };
    let src = source.to_str().ok_or("source path is not UTF-8")?;
    reset_peak();
    let before = rss().1;
    let (d, report) = time(|| Ok(lib.import_original(src, &opts, &NoProgress)?))?;
    let peak = rss().0;
    drop(lib);
    remove(site)?;
    Ok(Imported { secs: secs(d), report, peak, before })
}

/// The report says every row arrived, `present` of the copies intact and the rest missing.
fn check(r: &OriginalImportReport, n: u64, present: u64) -> Res<()> {
    let a = &r.added;
    let states = |s: &str| r.instance_states.get(s).copied().unwrap_or(0);
    let want_sent = (0..n).filter(|k| sent(*k)).count() as u64;
    let ok = a.files == n
        && a.instances == n
        && states("ok") == present
        && states("missing") == n - present
        && a.remote_instances == want_sent
        && a.transfers == want_sent
        && a.stores == 1
        && a.peers == 1
        && a.accounts == USERS
        && r.skipped.is_empty()
        && r.conflicts.is_empty();
    if !ok {
        return Err(format!(
            "the import of {n} files ({present} present) reported added {a:?}, states {:?}, {} skipped (first {:?}), \
             {} conflicts",
            r.instance_states,
            r.skipped.len(),
            r.skipped.first(),
            r.conflicts.len()
        )
        .into());
    }
    Ok(())
}

/// Floor of reading the source: the reader's four big queries (same columns, same
/// order), every value touched, nothing kept.
fn select_all(source: &Path) -> Res<u64> {
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.execute_batch("BEGIN")?;
    let mut rows = 0u64;
    let mut bytes = 0usize;
    for sql in [
        "SELECT name, create_time, size, checksum, uploader, source FROM files ORDER BY name",
        "SELECT id, path, deletion_policy, created_time, file_name, store_id, available, calculated_checksum,
                checksum_time FROM instances ORDER BY id",
        "SELECT id, file_name, store_id, librarian_id, copy_time FROM remote_instances ORDER BY id",
        "SELECT id, status, destination, transfer_size, transfer_checksum, start_time, end_time, instance_id,
                remote_transfer_id, file_name, send_queue_id FROM outgoing_transfers ORDER BY id",
    ] {
        let mut st = conn.prepare(sql)?;
        let n = st.column_count();
        let mut q = st.query([])?;
        while let Some(r) = q.next()? {
            rows += 1;
            for i in 0..n {
                bytes += match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.len(),
                    _ => 8,
                };
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    std::hint::black_box(bytes);
    Ok(rows)
}

/// Floor of the plan's disk work: one `symlink_metadata` per copy, at the mapped path.
fn stat_all(store: &Path, n: u64) -> Res<u64> {
    let mut found = 0u64;
    let mut path = store.to_str().ok_or("store path is not UTF-8")?.to_owned();
    path.push('/');
    let base = path.len();
    for k in 0..n {
        path.truncate(base);
        path.push_str(&name_of(k));
        if std::fs::symlink_metadata(&path).is_ok() {
            found += 1;
        }
    }
    Ok(found)
}

/// Floor of the write: the rows the import writes (files in name order, instances
/// with their `missing` state and reason, remote instances, transfers, one store and
/// one peer) inserted straight into a new site's catalog, with the catalog's pragmas
/// (WAL, `synchronous = FULL`, foreign keys), in one transaction with prepared
/// statements: no look-ups, no conflict checks, no plan.
fn insert_same(site: &Path, n: u64, rank: &[u32]) -> Res<()> {
    remove(site)?;
    drop(Librarian::init(site, "so-site-a")?);
    let mut conn = Connection::open(site.join("librarian.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = Timestamp::now().as_microsecond();
    tx.execute(
        "INSERT INTO stores (name, root, staging, ingestable, enabled, reserve_bytes, created_at)
         VALUES ('main_store', '/nonexistent/main/store', '/nonexistent/main/staging', 1, 1, 0, ?1)",
        [now],
    )?;
    let store = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO peers (name, url, account, password, transfers_enabled, created_at)
         VALUES ('so-site-b', 'http://127.0.0.1:18902', 'so-site-a', 'secret', 1, ?1)",
        [now],
    )?;
    let peer = tx.last_insert_rowid();
    let mut by_name: Vec<u64> = (0..n).collect();
    by_name.sort_unstable_by_key(|k| rank[*k as usize]);
    let uploaders = ["alice", "admin", "wanda"];
    {
        let mut file = tx.prepare(
            "INSERT INTO files (id, name, size, checksum, kind, uploader, source, created_at, arrived_at,
                                original_checksum, blake3)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8, NULL)",
        )?;
        for &k in &by_name {
            let original = checksum_of(k);
            file.execute(params![
                i64::from(rank[k as usize]) + 1,
                name_of(k),
                i64::try_from(size_of(k))?,
                Checksum::parse(&original)?.to_string(),
                FileKind::File.as_str(),
                uploaders[(k % 3) as usize],
                created_us(k)?,
                original,
            ])?;
        }
        let mut inst = tx.prepare(
            "INSERT INTO instances (file_id, store_id, path, available, deletion_policy, created_at, verified_at,
                                    state, state_reason, state_at)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, NULL, ?6, ?7, ?5)",
        )?;
        let mut remote = tx.prepare(
            "INSERT INTO remote_instances (file_id, librarian, store, copied_at)
             VALUES (?1, 'so-site-b', 'main_store', ?2)",
        )?;
        for k in 0..n {
            let name = name_of(k);
            let fid = i64::from(rank[k as usize]) + 1;
            let reason =
                format!("not found at import (the original Librarian listed it at {ORIGINAL_MAIN}/store/{name})");
            inst.execute(params![
                fid,
                store,
                name,
                DeletionPolicy::Disallowed.as_str(),
                created_us(k)? + 73,
                InstanceState::Missing.as_str(),
                reason,
            ])?;
            if sent(k) {
                remote.execute(params![fid, created_us(k)? + 8_000_000])?;
            }
        }
        let mut transfer = tx.prepare(
            "INSERT INTO transfers (id, direction, peer_id, remote_id, file_name, size, checksum, kind, uploader,
                                    source, status, manager, store_id, local_path, created_at, updated_at,
                                    error_code, error, file_created_at, import_key)
             VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, NULL, ?10, NULL, ?11, ?11, NULL, NULL, ?12, ?13)",
        )?;
        let mut id = 0i64;
        for k in (0..n).filter(|k| sent(*k)) {
            id += 1;
            transfer.execute(params![
                Direction::Outgoing.as_str(),
                peer,
                i64::try_from(k)? + 1,
                name_of(k),
                i64::try_from(size_of(k))?,
                Checksum::parse(&checksum_of(k))?.to_string(),
                FileKind::File.as_str(),
                uploaders[(k % 3) as usize],
                TransferStatus::Completed.as_str(),
                store,
                created_us(k)? + 6_000_000,
                created_us(k)?,
                format!("original:so-site-a:out:{id}"),
            ])?;
        }
    }
    tx.commit()?;
    drop(conn);
    remove(site)?;
    Ok(())
}

/// Floor of a bare SQLite insert: `n` rows (name, size, checksum, time) into an empty
/// table with a unique name, one transaction, the catalog's pragmas.
fn insert_bare(dir: &Path, n: u64) -> Res<()> {
    remove(dir)?;
    std::fs::create_dir_all(dir)?;
    let mut conn = Connection::open(dir.join("bare.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
                         checksum TEXT NOT NULL, created_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare("INSERT INTO t (name, size, checksum, created_at) VALUES (?1, ?2, ?3, ?4)")?;
        for k in 0..n {
            ins.execute(params![name_of(k), i64::try_from(size_of(k))?, checksum_of(k), created_us(k)?])?;
        }
    }
    tx.commit()?;
    drop(conn);
    remove(dir)?;
    Ok(())
}

/// `import-original` of `--import-files` files: the store's area empty (every copy
/// `missing`: one failed stat each), and with a tenth of the copies present as
/// sparse files; against reading the source, stat-ing the paths and inserting the
/// same rows, in the same run. Target: ≤ 60 s.
pub fn import_original(ctx: &mut Ctx) -> Res<()> {
    let n = ctx.import_files;
    let present = n / 10;
    let work = fresh_dir(ctx, "import-original")?;
    ctx.header(
        &format!("(issue 14) import-original of a synthetic original catalog of {n} files (fixture's schema)"),
        None,
    );
    let source = work.join("so-site-a-synthetic.sqlite");
    let (d, ()) = time(|| generate(&source, n))?;
    let gen_secs = secs(d);
    let sent_n = (0..n).filter(|k| sent(*k)).count();
    println!(
        "   generated with rusqlite (one transaction): {gen_secs:.1} s, {} ({n} files and instances, {sent_n} remote \
         instances and completed outgoing transfers, A's store, peer, {USERS} users)",
        mib(std::fs::metadata(&source)?.len())
    );
    // `main_store` mapped to an empty area, and to one holding the first tenth.
    let empty = work.join("empty/main");
    std::fs::create_dir_all(empty.join("store"))?;
    let full = work.join("present/main");
    let (d, ()) = time(|| make_present(&full.join("store"), present))?;
    println!("   {present} sparse files of the catalogued sizes made in {:.1} s", secs(d));
    // File ids in name order, as the import inserts them.
    let rank: Vec<u32> = {
        let mut ks: Vec<u64> = (0..n).collect();
        ks.sort_by_cached_key(|k| name_of(*k));
        let mut rank = vec![0u32; usize::try_from(n)?];
        for (i, k) in ks.into_iter().enumerate() {
            rank[k as usize] = u32::try_from(i)?;
        }
        rank
    };
    println!(
        "   librarian: Librarian::import_original into a new site (so-site-a), --original-config so-site-a.json, \
         --map-prefix {ORIGINAL_MAIN}=<empty or present>, --remote-store so-site-b:1=main_store; warm cache"
    );
    println!(
        "   floors: SELECT of the reader's four big queries (rusqlite); symlink_metadata of the {n} mapped paths; \
         INSERT of the same rows into a new catalog (WAL, synchronous=FULL, one transaction); {n} rows into a bare table"
    );

    let runs: RefCell<BTreeMap<&'static str, Vec<Imported>>> = RefCell::default();
    let (src, empty_ref, full_ref, work_ref, rank_ref, runs_ref) = (&source, &empty, &full, &work, &rank, &runs);
    let mut measures: Vec<Measure<'_>> = vec![
        (
            "import (store empty)",
            Box::new(move || {
                let r = import_once(&work_ref.join("site"), src, empty_ref)?;
                check(&r.report, n, 0)?;
                let s = r.secs;
                runs_ref.borrow_mut().entry("empty").or_default().push(r);
                Ok(s)
            }),
        ),
        (
            "import (a tenth present)",
            Box::new(move || {
                let r = import_once(&work_ref.join("site"), src, full_ref)?;
                check(&r.report, n, present)?;
                let s = r.secs;
                runs_ref.borrow_mut().entry("present").or_default().push(r);
                Ok(s)
            }),
        ),
        (
            "select",
            Box::new(move || {
                let (d, rows) = time(|| select_all(src))?;
                let want = 2 * n + 2 * sent_n as u64;
                if rows != want {
                    return Err(format!("the SELECTs read {rows} rows, not {want}").into());
                }
                Ok(secs(d))
            }),
        ),
        (
            "stat (empty)",
            Box::new(move || {
                let (d, found) = time(|| stat_all(&empty_ref.join("store"), n))?;
                if found != 0 {
                    return Err(format!("{found} paths found in the empty area").into());
                }
                Ok(secs(d))
            }),
        ),
        (
            "stat (tenth present)",
            Box::new(move || {
                let (d, found) = time(|| stat_all(&full_ref.join("store"), n))?;
                if found != present {
                    return Err(format!("{found} paths found, not {present}").into());
                }
                Ok(secs(d))
            }),
        ),
        (
            "insert same rows",
            Box::new(move || {
                let (d, ()) = time(|| insert_same(&work_ref.join("insert-site"), n, rank_ref))?;
                Ok(secs(d))
            }),
        ),
        (
            "insert bare",
            Box::new(move || {
                let (d, ()) = time(|| insert_bare(&work_ref.join("bare"), n))?;
                Ok(secs(d))
            }),
        ),
    ];
    let t = rotate(ctx.runs, &mut measures)?;
    drop(measures);
    let runs = runs.into_inner();
    for (variant, list) in &runs {
        for (i, r) in list.iter().enumerate() {
            let a = &r.report.added;
            println!(
                "   {variant} run {}: {:.3} s; added {} files, {} instances {:?}, {} remote, {} transfers, {} accounts, \
                 {} events; peak RSS {} (RSS before {})",
                i + 1,
                r.secs,
                a.files,
                a.instances,
                r.report.instance_states,
                a.remote_instances,
                a.transfers,
                a.accounts,
                a.events,
                mib(r.peak),
                mib(r.before)
            );
        }
    }
    let [imp, imp_present, sel, stat, stat_present, ins, bare] = [0, 1, 2, 3, 4, 5, 6].map(|i| median(&t[i]));
    let floor = sel + stat + ins;
    let floor_present = sel + stat_present + ins;
    let peak = runs.values().flatten().map(|r| r.peak).max().unwrap_or(0);
    println!(
        "   median: import {imp:.3} s (store empty), {imp_present:.3} s (a tenth present); select {sel:.3} s, \
         stat {stat:.3} s / {stat_present:.3} s, insert same rows {ins:.3} s, bare insert {bare:.3} s"
    );
    println!(
        "   sum of floors (select + stat + insert) {floor:.3} s: import {:.2}x of it; {:.2}x of the target; \
         peak RSS {} {}",
        imp / floor,
        imp / TARGET_SECS,
        mib(peak),
        if imp <= TARGET_SECS { "PASS" } else { "FAIL" }
    );
    ctx.row(Row {
        id: "import-orig",
        what: format!("generate a synthetic original catalog of {n} files (rusqlite, one transaction)"),
        value: format!("{gen_secs:.1} s"),
        baseline: String::new(),
        ratio: String::new(),
        target: String::new(),
        pass: None,
    });
    ctx.row(Row {
        id: "import-orig",
        what: format!("import-original of {n} files, store area empty (all missing), peak RSS {}", mib(peak)),
        value: format!("{imp:.3} s"),
        baseline: format!(
            "select {sel:.2} s + stat {stat:.2} s + insert {ins:.2} s = {floor:.2} s; bare insert {bare:.2} s"
        ),
        ratio: format!("{:.2}x of floors; {:.2}x of target", imp / floor, imp / TARGET_SECS),
        target: "<= 60 s".into(),
        pass: Some(imp <= TARGET_SECS),
    });
    ctx.row(Row {
        id: "import-orig",
        what: format!("same, {present} copies present (sparse files)"),
        value: format!("{imp_present:.3} s"),
        baseline: format!("select {sel:.2} s + stat {stat_present:.2} s + insert {ins:.2} s = {floor_present:.2} s"),
        ratio: format!("{:.2}x of floors", imp_present / floor_present),
        target: "<= 60 s".into(),
        pass: Some(imp_present <= TARGET_SECS),
    });
    remove(&work)?;
    Ok(())
}
