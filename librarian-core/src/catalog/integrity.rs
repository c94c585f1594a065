//! The integrity of the catalog file itself.
//!
//! SQLite notices a damaged page only when a statement reads it, so a command that
//! happens not to touch the damaged part answers as if nothing were wrong. Two checks
//! close that gap:
//! - [`Catalog::quick_check`]: `PRAGMA quick_check` over the whole file (every page of
//!   every table and index is read and its structure checked), run by `verify` every
//!   time (and by the scrub);
//! - [`Catalog::require_intact`]: the same check before a command trusts the catalog,
//!   skipped when the database file is the very one (same device, inode, size and
//!   modification time) that last passed it, as recorded in `<database>-checked`. Any
//!   write that reaches the file (a checkpoint) changes its modification time, so a
//!   file changed in any way since it was last found sound is checked again; damage
//!   that leaves the modification time alone (media corruption) is found by `verify`.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Catalog;
use crate::error::{Error, Result};
use crate::model::CatalogCheck;

/// At most this many problems of `PRAGMA quick_check` are reported.
pub const MAX_REPORTED_PROBLEMS: usize = 20;

impl CatalogCheck {
    fn sound(database: &Path) -> Self {
        CatalogCheck { database: database.to_owned(), ok: true, code: None, problems: Vec::new(), event: None }
    }

    fn damaged(database: &Path, problems: Vec<String>) -> Self {
        CatalogCheck { database: database.to_owned(), ok: false, code: Some("database"), problems, event: None }
    }

    /// `Ok(())` when sound, else [`Error::Database`] (code `database`) with what was found.
    pub fn to_result(&self) -> Result<()> {
        if self.ok {
            return Ok(());
        }
        Err(corrupt(&self.database, &self.problems.join("; ")))
    }
}

/// An [`Error::Database`] saying the catalog at `path` is damaged.
fn corrupt(path: &Path, detail: &str) -> Error {
    Error::Database {
        context: format!(
            "checking the integrity of the catalog {} (run `librarian verify` for the report)",
            path.display()
        ),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(format!("the catalog failed PRAGMA quick_check: {detail}")),
        ),
    }
}

/// A file modified less than this long ago is not recorded as checked: a write in the
/// same clock tick as the record would leave the modification time unchanged (the
/// "racy" case, as in git's index), so such a file is simply checked again next time.
const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// What identifies the database file's current contents for the `-checked` record.
fn stamp(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!("{} {} {} {}.{:09}\n", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// [`stamp`], unless the file was modified too recently to be told apart from a later
/// write by its modification time.
fn settled_stamp(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let age = std::time::SystemTime::now().duration_since(modified).unwrap_or_default();
    if age < RACY { None } else { stamp(path) }
}

fn record_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-checked");
    PathBuf::from(p)
}

impl Catalog {
    /// `PRAGMA quick_check` of the whole database. A check that cannot even run (the
    /// file is not a database any more, a page it needs is unreadable) is a failed
    /// check, not an error: the result says why.
    pub fn quick_check(&self) -> CatalogCheck {
        let conn = self.conn();
        let rows: rusqlite::Result<Vec<String>> = conn
            .prepare(&format!("PRAGMA quick_check({MAX_REPORTED_PROBLEMS})"))
            .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect());
        match rows {
            Ok(rows) if rows.len() == 1 && rows[0] == "ok" => CatalogCheck::sound(&self.path),
            Ok(rows) if rows.is_empty() => {
                CatalogCheck::damaged(&self.path, vec!["quick_check returned nothing".into()])
            }
            Ok(rows) => CatalogCheck::damaged(&self.path, rows),
            Err(e) => CatalogCheck::damaged(&self.path, vec![format!("the check could not run: {e}")]),
        }
    }

    /// [`Catalog::quick_check`], recording a pass in `<database>-checked` (so that
    /// [`Catalog::require_intact`] can skip a file that has not changed since), unless
    /// the file was modified in the last [`RACY`] seconds.
    pub fn check_integrity(&self) -> CatalogCheck {
        let before = settled_stamp(&self.path);
        let check = self.quick_check();
        if check.ok
            && let Some(s) = before
        {
            // Only a cache: failing to write it costs a check next time, nothing else.
            let _ = write_record(&record_path(&self.path), &s);
        } else if !check.ok {
            let _ = std::fs::remove_file(record_path(&self.path));
        }
        check
    }

    /// [`Catalog::check_integrity`], skipped (sound) when the file is unchanged since
    /// it last passed (see the module docs).
    pub fn check_integrity_if_changed(&self) -> CatalogCheck {
        let recorded = std::fs::read_to_string(record_path(&self.path)).ok();
        if recorded.is_some() && recorded == stamp(&self.path) {
            return CatalogCheck::sound(&self.path);
        }
        self.check_integrity()
    }

    /// Fail with [`Error::Database`] unless the catalog passes `PRAGMA quick_check`;
    /// skipped when the file is unchanged since it last passed (see the module docs).
    pub fn require_intact(&self) -> Result<()> {
        self.check_integrity_if_changed().to_result()
    }
}

/// Record that the database at `path`, as it is now, is sound: for a process that
/// found it sound when it opened it (the check passed, or a recorded pass matched) and
/// has only changed it through SQLite since, once it has closed it. Without this every
/// writing command would leave a changed file and the next command would read the
/// whole catalog again (about 1.5 s per GB); with it, a run of `librarian upload`s
/// checks once. Damage done by something other than SQLite while the command ran is
/// left to `verify` and the scrub, which always check.
pub fn record_intact(path: &Path) {
    if let Some(s) = stamp(path) {
        // Only a cache: failing to write it costs a check next time, nothing else.
        let _ = write_record(&record_path(path), &s);
    }
}

fn write_record(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_page_fails_the_check_and_require_intact() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default();
        let db = dir.join("c.db");
        let cat = match Catalog::open(&db) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        {
            let conn = cat.conn();
            let filled = conn.execute_batch(
                "CREATE TABLE pad (x TEXT); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO pad SELECT printf('%0200d', i) FROM n; \
                 PRAGMA wal_checkpoint(TRUNCATE);",
            );
            assert!(filled.is_ok(), "{filled:?}");
        }
        // Just written: checked, but not recorded (a write in the same tick could hide).
        assert!(cat.check_integrity().ok);
        assert!(!record_path(&db).exists(), "a racy file is not recorded");
        let aged = std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .and_then(|f| f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(10)));
        assert!(aged.is_ok(), "{aged:?}");
        assert!(cat.require_intact().is_ok());
        assert!(record_path(&db).is_file(), "a pass is recorded");
        drop(cat);
        // Overwrite a page in the middle of the table.
        let len = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        let page = 4096u64;
        let at = (len / page / 2) * page;
        let damaged = std::fs::OpenOptions::new().write(true).open(&db).and_then(|f| {
            use std::os::unix::fs::FileExt;
            f.write_all_at(&[0xA5u8; 4096], at)?;
            f.sync_all()
        });
        assert!(damaged.is_ok(), "{damaged:?}");
        let cat = match Catalog::open(&db) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let check = cat.quick_check();
        assert!(!check.ok && check.code == Some("database") && !check.problems.is_empty(), "{check:?}");
        match cat.require_intact() {
            Err(e @ Error::Database { .. }) => assert_eq!(e.code(), "database"),
            other => panic!("a damaged catalog passed: {other:?}"),
        }
        assert!(!record_path(&db).exists(), "the record of the pass is gone");
    }
}
