//! (e) `info` and a name-prefix search in a catalog of 1,000,000 files.

use jiff::Timestamp;
use librarian_core::NewFile;
use librarian_core::hash_bytes;
use librarian_core::{Algorithm, Checksum, FileKind, FileName, Librarian, SearchQuery};

use crate::util::{self, Cache, Res, median, percentile, secs, time};
use crate::{Ctx, Row, fresh_dir};

const BLOCK: u64 = 1000;
const BATCH: u64 = 100_000;

fn name_of(i: u64) -> Result<FileName, librarian_core::Error> {
    FileName::new(&format!("obs/{:04}/f{i:07}.dat", i / BLOCK))
}

/// (e) catalog with `catalog_files` files: `Librarian::file` ≤ 1 ms, a prefix search
/// returning 1,000 files ≤ 20 ms.
pub fn catalog(ctx: &mut Ctx) -> Res<()> {
    let total = ctx.catalog_files;
    if total < BLOCK {
        return Err(format!("--catalog-files must be at least {BLOCK}").into());
    }
    let site = fresh_dir(ctx, "catalog-site")?;
    ctx.header(&format!("(e) catalog of {total} files: info and name-prefix search"), None);
    let config = {
        let lib = Librarian::init(&site, "bench")?;
        // Build with Catalog::insert_remote_files (catalog-only files, one transaction per batch).
        let (d, ()) = time(|| {
            let mut start = 0;
            while start < total {
                let end = (start + BATCH).min(total);
                let names: Vec<FileName> = (start..end).map(name_of).collect::<Result<_, _>>()?;
                let sums: Vec<Checksum> =
                    (start..end).map(|i| hash_bytes(Algorithm::Blake3, &i.to_le_bytes())).collect::<Result<_, _>>()?;
                let files: Vec<NewFile<'_>> = names
                    .iter()
                    .zip(&sums)
                    .enumerate()
                    .map(|(k, (name, checksum))| NewFile {
                        name,
                        size: 1 << 30 | k as u64,
                        checksum,
                        kind: FileKind::File,
                        uploader: "bench",
                        source: "site-b",
                        created_at: None,
                        entries: &[],
                    })
                    .collect();
                lib.catalog().insert_remote_files(&files, "site-b", "store-b", Timestamp::now())?;
                start = end;
            }
            Ok(())
        })?;
        println!(
            "   built with Catalog::insert_remote_files in batches of {BATCH}: {:.1} s ({:.0} files/s), database {}",
            secs(d),
            total as f64 / secs(d),
            util::human_bytes(std::fs::metadata(lib.catalog().path())?.len())
        );
        lib.config_path().to_owned()
    };
    let status = Librarian::open(&config)?.status()?;
    if status.files != total {
        return Err(format!("catalog holds {} files, expected {total}", status.files).into());
    }

    let lookups = 1000usize;
    let searches = (ctx.runs * 10).max(50);
    let blocks = total / BLOCK;
    for cache in ctx.caches.clone() {
        println!("   [{}] {} (database reopened)", cache.label(), cache.describe());
        util::sync_all();
        if cache == Cache::Cold {
            util::drop_caches()?;
        }
        let lib = Librarian::open(&config)?;
        let mut rng = util::Rng::new(0xca7a_1065);
        let mut info_ms = Vec::with_capacity(lookups);
        for _ in 0..lookups {
            let i = rng.below(total);
            let name = name_of(i)?;
            let (d, f) = time(|| Ok(lib.file(&name)?))?;
            if f.name != name || f.remote_instances.len() != 1 {
                return Err(format!("info {name}: unexpected answer {f:?}").into());
            }
            info_ms.push(secs(d) * 1e3);
        }
        let mut search_ms = Vec::with_capacity(searches);
        for _ in 0..searches {
            let b = rng.below(blocks);
            let q = SearchQuery { name_glob: Some(format!("obs/{b:04}/*")), limit: Some(1000), ..Default::default() };
            let (d, found) = time(|| Ok(lib.search(&q)?))?;
            if found.len() != BLOCK as usize {
                return Err(format!("search obs/{b:04}/* returned {} files, expected {BLOCK}", found.len()).into());
            }
            search_ms.push(secs(d) * 1e3);
        }
        let (im, ip) = (median(&info_ms), percentile(&info_ms, 99.0));
        let (sm, sp) = (median(&search_ms), percentile(&search_ms, 99.0));
        println!(
            "   info (Librarian::file, {lookups} random names): median {im:.3} ms, p99 {ip:.3} ms, max {:.3} ms (target <= 1 ms) {}",
            percentile(&info_ms, 100.0),
            if ip <= 1.0 { "PASS" } else { "FAIL" }
        );
        println!(
            "   search (Librarian::search, name_glob 'obs/NNNN/*', 1,000 results, {searches} runs): median {sm:.2} ms, p99 {sp:.2} ms (target <= 20 ms) {}",
            if sp <= 20.0 { "PASS" } else { "FAIL" }
        );
        println!("   load average: {}", util::loadavg());
        ctx.row(Row {
            id: "(e)",
            what: format!("info, {total} files [{}]", cache.label()),
            value: format!("median {im:.3} ms, p99 {ip:.3} ms"),
            baseline: String::new(),
            ratio: format!("{:.2}x of target (p99)", ip / 1.0),
            target: "<= 1 ms".into(),
            pass: Some(ip <= 1.0),
        });
        ctx.row(Row {
            id: "(e)",
            what: format!("prefix search -> 1,000 files [{}]", cache.label()),
            value: format!("median {sm:.2} ms, p99 {sp:.2} ms"),
            baseline: String::new(),
            ratio: format!("{:.2}x of target (p99)", sp / 20.0),
            target: "<= 20 ms".into(),
            pass: Some(sp <= 20.0),
        });
    }
    util::remove(&site)?;
    Ok(())
}
