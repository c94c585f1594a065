//! Getting data out (`librarian get NAME DEST`): a file or book copied from the best
//! local instance to a new path, hashed while it is copied, and put in place only
//! when the bytes match the catalog.

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
