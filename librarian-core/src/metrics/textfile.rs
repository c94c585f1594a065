//! The `[alerts] textfile`: the metrics `/metrics` serves, written for
//! node_exporter's textfile collector so a site run from cron (no server to scrape)
//! is monitored too. Written atomically: a temporary file in the same directory
//! (a name node_exporter ignores: it reads `*.prom` only), fsynced, renamed over the
//! old one, and the directory fsynced, so a reader sees the old file or the new one,
//! never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

use crate::error::{Error, Result};
use crate::site::Site;

/// A run in which no task ran rewrites the file only once it is this old.
pub(crate) const REFRESH_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// When this process last tried to write the textfile (Unix seconds): a server whose
/// scheduler finds nothing due every second, with a textfile it cannot write, tries
/// (and logs) once per [`REFRESH_AFTER`], not every second.
static LAST_TRY: AtomicI64 = AtomicI64::new(i64::MIN);

/// Write the textfile if one is configured and `ran` (a task ran), or the file is
/// missing or older than [`REFRESH_AFTER`] (and this process has not tried within
/// that time). Returns the path written.
pub(crate) fn refresh(site: &Site, ran: bool) -> Result<Option<PathBuf>> {
    let Some(path) = site.config().alerts.textfile_path(site.config_path()) else { return Ok(None) };
    let now = Timestamp::now().as_second();
    if !ran && (is_fresh(&path) || now.saturating_sub(LAST_TRY.load(Ordering::Relaxed)) < REFRESH_AFTER.as_secs()) {
        return Ok(None);
    }
    LAST_TRY.store(now, Ordering::Relaxed);
    write_atomically(&path, super::render(site)?.as_bytes())?;
    Ok(Some(path))
}

fn is_fresh(path: &Path) -> bool {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let age = modified.and_then(|m| std::time::SystemTime::now().duration_since(m).ok());
    age.is_some_and(|a| a < REFRESH_AFTER.unsigned_abs())
}

/// Put `bytes` at `path` by way of a temporary file beside it, fsynced and renamed;
/// the temporary file is removed if anything fails.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), Timestamp::now().as_nanosecond()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| Error::io("cannot write the metrics textfile", &temp, e))
        .and_then(|()| {
            std::fs::rename(&temp, path).map_err(|e| Error::io("cannot rename the metrics textfile to", path, e))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    // The rename itself survives a crash once the directory is on disk.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("cannot flush the directory of the metrics textfile", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;

    #[test]
    fn the_textfile_is_written_atomically_when_configured() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        assert_eq!(refresh(lib.site(), true).expect("nothing to do"), None, "no textfile configured");
        let config = std::fs::read_to_string(lib.config_path()).expect("config");
        std::fs::write(lib.config_path(), format!("{config}[alerts]\ntextfile = \"node/librarian.prom\"\n"))
            .expect("config");
        let lib = Librarian::open(lib.config_path()).expect("reopen");
        let prom = dir.path().join("s/node/librarian.prom");
        std::fs::create_dir(dir.path().join("s/node")).expect("mkdir");
        assert_eq!(refresh(lib.site(), false).expect("written"), Some(prom.clone()), "missing: written");
        let text = std::fs::read_to_string(&prom).expect("read");
        assert!(text.contains("librarian_catalog_files 0\n"), "{text}");
        assert_eq!(refresh(lib.site(), false).expect("fresh"), None, "fresh and no task ran: left alone");
        assert_eq!(refresh(lib.site(), true).expect("written"), Some(prom.clone()));
        std::fs::remove_file(&prom).expect("remove");
        assert_eq!(refresh(lib.site(), false).expect("tried"), None, "tried within the minute: not again");
        assert_eq!(refresh(lib.site(), true).expect("written"), Some(prom.clone()), "a task ran: written");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("s/node"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["librarian.prom"], "no temporary file is left");
        std::fs::remove_dir_all(dir.path().join("s/node")).expect("rmdir");
        assert!(refresh(lib.site(), true).is_err(), "a missing directory is an error");
    }
}
