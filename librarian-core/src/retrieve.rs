//! Getting data out (`librarian get NAME DEST`): a file or book copied from the best
//! local instance to a new path, hashed while it is copied, and put in place only
//! when the bytes match the catalog.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

use crate::catalog::InstanceRow;
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::model::{FileKind, InstanceId};
use crate::name::FileName;
use crate::progress::Progress;
use crate::site::Site;
use crate::store::beneath::Dir;

/// What `get` copied, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retrieved {
    /// The file's name.
    pub name: FileName,
    /// File or book.
    pub kind: FileKind,
    /// Its size in bytes.
    pub size: u64,
    /// Its checksum: what the copy at `dest` was found to hash to.
    pub checksum: Checksum,
    /// The store of the instance read.
    pub store: String,
    /// The instance read.
    pub instance: InstanceId,
    /// Where the copy is.
    pub dest: std::path::PathBuf,
    /// Instances tried first whose bytes did not match the catalog (store, what they
    /// hashed to): run `librarian verify NAME`.
    pub bad_instances: Vec<(String, String)>,
}

/// The instances to read, best first: available, on an enabled store, most recently
/// verified first (never verified last).
fn candidates(site: &Site, file: crate::catalog::FileId) -> Result<Vec<InstanceRow>> {
    let enabled: Vec<String> = site.catalog().stores()?.into_iter().filter(|s| s.enabled).map(|s| s.name).collect();
    let mut found: Vec<InstanceRow> =
        site.catalog().instances(file)?.into_iter().filter(|i| i.available && enabled.contains(&i.store)).collect();
    found.sort_by_key(|i| std::cmp::Reverse(i.verified_at));
    Ok(found)
}

/// Copy `name` to `dest`, which must not exist (its parent must). The bytes are
/// written under a temporary name beside `dest`, hashed as they are read, and renamed
/// to `dest` only if they match the catalog; otherwise the temporary copy is removed
/// and the next instance is tried. [`Error::ChecksumMismatch`] when no instance
/// matches (nothing is left at `dest`); [`Error::NotFound`] when no instance can be
/// read here; [`Error::AlreadyExists`] when `dest` exists.
pub(crate) fn get(site: &Site, name: &FileName, dest: &Path, progress: &dyn Progress) -> Result<Retrieved> {
    let file = site.catalog().require_file(name)?;
    let (Some(last), parent_path) = (dest.file_name(), dest.parent().filter(|p| !p.as_os_str().is_empty())) else {
        return Err(Error::invalid("dest", format!("{} names no file or directory to create", dest.display())));
    };
    let parent_path = parent_path.unwrap_or(Path::new("."));
    match std::fs::symlink_metadata(dest) {
        Ok(_) => return Err(Error::AlreadyExists { kind: ObjectKind::Path, name: dest.display().to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("cannot inspect", dest, e)),
    }
    let parent = Dir::open_root(parent_path)?;
    let instances = candidates(site, file.id)?;
    if instances.is_empty() {
        return Err(Error::NotFound {
            kind: ObjectKind::Instance,
            name: format!("{name}: no available instance on an enabled store here"),
        });
    }
    let mut bad = Vec::new();
    for inst in instances {
        let tmp = std::ffi::OsString::from(format!(".librarian-get-{}", uuid::Uuid::now_v7()));
        progress.start(file.size);
        let copied = crate::tree::copy_item(&inst.path, file.kind, file.checksum.algorithm(), &parent, &tmp, progress);
        progress.finish();
        let outcome = copied.and_then(|got| {
            if !file.checksum.matches(&got)? {
                return Ok(Some(got));
            }
            parent.rename_noreplace(&tmp, &parent, last)?;
            parent.sync()?;
            Ok(None)
        });
        match outcome {
            Ok(None) => {
                return Ok(Retrieved {
                    name: file.name.clone(),
                    kind: file.kind,
                    size: file.size,
                    checksum: file.checksum.clone(),
                    store: inst.store,
                    instance: inst.id,
                    dest: dest.to_owned(),
                    bad_instances: bad,
                });
            }
            Ok(Some(got)) => {
                remove_partial(&parent, &tmp);
                log::warn!("{name}: the instance on store {} hashes to {got}, not {}", inst.store, file.checksum);
                // Found damaged while copying: marked as a verify would, never read again.
                let reason = format!("its bytes hash to {got}, not {} (found by get)", file.checksum);
                crate::verify::mark_damaged(site, &file, &inst, crate::model::InstanceState::Corrupt, &reason)?;
                bad.push((inst.store, got.to_string()));
            }
            Err(e) => {
                remove_partial(&parent, &tmp);
                return Err(e);
            }
        }
    }
    let list: Vec<String> = bad.iter().map(|(s, got)| format!("store {s} hashes to {got}")).collect();
    Err(Error::ChecksumMismatch {
        name: name.to_string(),
        detail: format!(
            "no instance here matches the catalog ({}): {}; nothing was written to {} (run `librarian verify {name}`)",
            file.checksum,
            list.join("; "),
            dest.display()
        ),
    })
}

/// An intact copy, opened for a peer that repairs its own copy from it.
#[derive(Debug)]
pub(crate) struct Served {
    /// The open file, at its start.
    pub file: std::fs::File,
    /// Its length.
    pub size: u64,
    /// What it hashes to: the file's checksum, or the entry's hex digest.
    pub digest: String,
}

/// Open an intact copy of `name` (a file), or of the file `entry` of the book
/// `name`, for a peer (`files/read`): each candidate copy is re-read first and
/// marked if damaged (then the next is tried). A book is served one entry at a time.
pub(crate) fn open_for_peer(site: &Site, name: &FileName, entry: Option<&str>) -> Result<Served> {
    use std::io::Seek;
    let file = site.catalog().require_file(name)?;
    let recorded = match (file.kind, entry) {
        (FileKind::File, None) => None,
        (FileKind::Directory, Some(e)) => {
            let entries = site.catalog().entries(file.id)?;
            let found = entries
                .into_iter()
                .find(|x| x.path == e && x.kind == crate::checksum::EntryKind::File)
                .ok_or_else(|| Error::NotFound { kind: ObjectKind::File, name: format!("{name}: entry {e}") })?;
            Some(found)
        }
        (FileKind::File, Some(_)) => {
            return Err(Error::invalid("entry", format!("{name} is a file, not a book: it has no entries")));
        }
        (FileKind::Directory, None) => {
            return Err(Error::invalid("entry", format!("{name} is a book: ask for one of its entries at a time")));
        }
    };
    let mut checker = crate::verify::Checker::new(site, true, false)?;
    let algorithm = file.checksum.algorithm();
    for inst in candidates(site, file.id)? {
        match &recorded {
            None => {
                let check = checker.check(&file, &inst, &crate::progress::NoProgress)?;
                if check.status != crate::model::CheckStatus::Ok {
                    continue;
                }
                let opened = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&inst.path)
                    .map_err(|e| Error::io("cannot open", &inst.path, e))?;
                return Ok(Served { file: opened, size: file.size, digest: file.checksum.to_string() });
            }
            Some(e) => {
                let Ok(mut opened) = Dir::open_root(&inst.path).and_then(|d| d.open_file(Path::new(&e.path))) else {
                    crate::verify::mark_damaged(
                        site,
                        &file,
                        &inst,
                        crate::model::InstanceState::Missing,
                        &format!("entry {} cannot be opened", e.path),
                    )?;
                    continue;
                };
                let (sum, n) = crate::tree::hash_open(&mut opened, algorithm)
                    .map_err(|err| Error::io("cannot read", inst.path.join(&e.path), err))?;
                if e.digest.as_deref() != Some(sum.hex()) || n != e.size {
                    let reason = format!("entry {} hashes to {}, not the recorded digest", e.path, sum.hex());
                    crate::verify::mark_damaged(site, &file, &inst, crate::model::InstanceState::Corrupt, &reason)?;
                    continue;
                }
                opened.rewind().map_err(|err| Error::io("cannot read", inst.path.join(&e.path), err))?;
                return Ok(Served { file: opened, size: n, digest: sum.hex().to_owned() });
            }
        }
    }
    Err(Error::NotFound { kind: ObjectKind::Instance, name: format!("{name}: no intact copy here") })
}

fn remove_partial(parent: &Dir, tmp: &std::ffi::OsStr) {
    if let Err(e) = parent.remove_tree(tmp) {
        log::warn!("cannot remove {}: {e}", parent.shown().join(tmp).display());
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, FileName, Librarian, NoProgress, UploadOptions};

    #[test]
    fn get_copies_files_and_books_and_refuses_bad_bytes_leaving_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        let src = dir.path().join("f");
        std::fs::write(&src, b"photons").expect("write");
        let name = FileName::new("a/f").expect("name");
        let up = lib.upload(&src, &name, &UploadOptions::default(), &NoProgress).expect("upload");
        let book = dir.path().join("b");
        std::fs::create_dir_all(book.join("x/y")).expect("mkdir");
        std::fs::write(book.join("x/y/z"), b"deep").expect("write");
        let bname = FileName::new("a/b").expect("name");
        lib.upload(&book, &bname, &UploadOptions::default(), &NoProgress).expect("upload");

        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let got = lib.get(&name, &out.join("f"), &NoProgress).expect("get");
        assert_eq!(std::fs::read(out.join("f")).expect("read"), b"photons");
        assert_eq!((got.store.as_str(), got.bad_instances.len()), ("main", 0));
        lib.get(&bname, &out.join("b"), &NoProgress).expect("get book");
        assert_eq!(std::fs::read(out.join("b/x/y/z")).expect("read"), b"deep");
        // Never over something that exists.
        assert!(matches!(lib.get(&name, &out.join("f"), &NoProgress), Err(Error::AlreadyExists { .. })));

        // Corrupt the stored copy: nothing at DEST, nothing left beside it.
        let stored = &up.file.instances[0].path;
        std::fs::write(stored, b"phot0ns").expect("corrupt");
        let e = lib.get(&name, &out.join("g"), &NoProgress).expect_err("corrupt");
        assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
        assert!(e.to_string().contains("store main"), "{e}");
        let names: Vec<_> = std::fs::read_dir(&out).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names.len(), 2, "only f and b: {names:?}");
        assert!(matches!(
            lib.get(&name, &dir.path().join("nope/g"), &NoProgress),
            Err(Error::NotFound { .. } | Error::Io { .. })
        ));
    }
}
