//! The filesystem side of a task: collection paths mapped into collection directories,
//! refusing `..` and symbolic links (the fake never reads or writes outside its
//! collection directories), the plan of an item, and the copy of one file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why an operation failed, as a Globus event code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: &'static str,
    pub description: String,
}

impl Fault {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Fault { code, description: description.into() }
    }

    /// An I/O error on the collection path `path` (never the local path: it would
    /// leak the fake's directories into what the client sees).
    pub fn io(error: &io::Error, path: &str) -> Self {
        let (code, what) = match error.kind() {
            io::ErrorKind::NotFound => ("FILE_NOT_FOUND", "No such file or directory"),
            io::ErrorKind::PermissionDenied => ("PERMISSION_DENIED", "Permission denied"),
            io::ErrorKind::StorageFull => ("NO_SPACE_LEFT", "No space left on device"),
            io::ErrorKind::QuotaExceeded => ("QUOTA_EXCEEDED", "Disk quota exceeded"),
            io::ErrorKind::IsADirectory => ("IS_A_DIRECTORY", "Is a directory"),
            _ if error.raw_os_error() == Some(libc::ELOOP) => ("PERMISSION_DENIED", "Path is a symbolic link"),
            _ => ("ENDPOINT_ERROR", "I/O error"),
        };
        Fault::new(code, format!("{what}: {path}"))
    }
}

/// One step of a plan: create a directory, or copy a file of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `display` is the destination's collection path.
    Dir { destination: PathBuf, display: String },
    /// `display` is the source's collection path, `destination_display` the destination's.
    File { source: PathBuf, destination: PathBuf, display: String, destination_display: String, size: u64 },
}

/// The local path behind collection path `path` in the collection rooted at `root`.
/// Refuses `..` and any existing component that is a symbolic link. `/~/` is the
/// collection root (a collection here has no home directory).
pub fn resolve(root: &Path, path: &str) -> Result<PathBuf, Fault> {
    let relative = path.strip_prefix("/~").filter(|rest| rest.is_empty() || rest.starts_with('/')).unwrap_or(path);
    let mut local = root.to_path_buf();
    for component in relative.split('/') {
        match component {
            "" | "." => continue,
            ".." => return Err(Fault::new("INVALID_PATH_NAME", format!("Path must not contain '..': {path}"))),
            name => local.push(name),
        }
        refuse_symlink(&local, path)?;
    }
    Ok(local)
}

/// Fails if `local` exists and is a symbolic link.
fn refuse_symlink(local: &Path, path: &str) -> Result<(), Fault> {
    match fs::symlink_metadata(local) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(Fault::new("PERMISSION_DENIED", format!("Path goes through a symbolic link: {path}")))
        }
        _ => Ok(()),
    }
}

/// The operations that copy `source` (collection path `display`) to `destination`
/// (collection path `destination_display`): a file to a file, or the contents of a
/// directory into a directory. `recursive` `None` lets the source decide.
pub fn plan(
    source: &Path,
    destination: &Path,
    display: &str,
    destination_display: &str,
    recursive: Option<bool>,
) -> Result<Vec<Op>, Fault> {
    let meta = fs::symlink_metadata(source).map_err(|e| Fault::io(&e, display))?;
    if meta.file_type().is_symlink() {
        return Err(Fault::new("PERMISSION_DENIED", format!("Path goes through a symbolic link: {display}")));
    }
    match (meta.is_dir(), recursive) {
        (true, Some(false)) => Err(Fault::new("IS_A_DIRECTORY", format!("Is a directory: {display}"))),
        // Not a code from any source read (unverified).
        (false, Some(true)) => Err(Fault::new("NOT_A_DIRECTORY", format!("Not a directory: {display}"))),
        (true, _) => {
            let mut ops = vec![Op::Dir { destination: destination.to_path_buf(), display: destination_display.into() }];
            let names = (display.trim_end_matches('/'), destination_display.trim_end_matches('/'));
            walk(source, destination, names, &mut ops)?;
            Ok(ops)
        }
        (false, _) if meta.is_file() => Ok(vec![Op::File {
            source: source.to_path_buf(),
            destination: destination.to_path_buf(),
            display: display.to_string(),
            destination_display: destination_display.to_string(),
            size: meta.len(),
        }]),
        (false, _) => Err(Fault::new("PERMISSION_DENIED", format!("Not a regular file: {display}"))),
    }
}

/// Appends the operations copying the contents of `source` into `destination`;
/// `names` are their collection paths.
fn walk(source: &Path, destination: &Path, names: (&str, &str), ops: &mut Vec<Op>) -> Result<(), Fault> {
    let (display, destination_display) = names;
    let mut entries =
        fs::read_dir(source).and_then(|dir| dir.collect::<Result<Vec<_>, _>>()).map_err(|e| Fault::io(&e, display))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let shown = format!("{display}/{}", name.to_string_lossy());
        let shown_destination = format!("{destination_display}/{}", name.to_string_lossy());
        let kind = entry.file_type().map_err(|e| Fault::io(&e, &shown))?;
        let (from, to) = (entry.path(), destination.join(&name));
        if kind.is_symlink() {
            return Err(Fault::new("PERMISSION_DENIED", format!("Path goes through a symbolic link: {shown}")));
        } else if kind.is_dir() {
            ops.push(Op::Dir { destination: to.clone(), display: shown_destination.clone() });
            walk(&from, &to, (&shown, &shown_destination), ops)?;
        } else if kind.is_file() {
            let size = entry.metadata().map_err(|e| Fault::io(&e, &shown))?.len();
            ops.push(Op::File {
                source: from,
                destination: to,
                display: shown,
                destination_display: shown_destination,
                size,
            });
        } else {
            return Err(Fault::new("PERMISSION_DENIED", format!("Not a regular file: {shown}")));
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents below `root`, refusing symbolic links.
pub fn create_dirs(root: &Path, dir: &Path, display: &str) -> Result<(), Fault> {
    let Ok(relative) = dir.strip_prefix(root) else {
        return Err(Fault::new("PERMISSION_DENIED", format!("Outside the collection: {display}")));
    };
    let mut local = root.to_path_buf();
    for component in relative.components() {
        local.push(component);
        match fs::symlink_metadata(&local) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Fault::new("PERMISSION_DENIED", format!("Path goes through a symbolic link: {display}")));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(Fault::new("ENDPOINT_ERROR", format!("Not a directory: {display}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&local) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && local.is_dir() => {}
                Err(e) => return Err(Fault::io(&e, display)),
            },
            Err(e) => return Err(Fault::io(&e, display)),
        }
    }
    Ok(())
}

/// Whether `sync_level` says the destination already matches the source, so the
/// file is skipped (reference §4.2; each level includes the lower checks).
pub fn in_sync(source: &Path, destination: &Path, sync_level: Option<u8>) -> io::Result<bool> {
    let Some(level) = sync_level else { return Ok(false) };
    let dst = match fs::symlink_metadata(destination) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if level == 0 {
        return Ok(true);
    }
    let src = fs::metadata(source)?;
    if !dst.is_file() || src.len() != dst.len() {
        return Ok(false);
    }
    match level {
        1 => Ok(true),
        2 => Ok(dst.modified()? >= src.modified()?),
        _ => same_contents(source, destination),
    }
}

fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut a, mut b) = (open_source(a)?, open_source(b)?);
    let (mut x, mut y) = (vec![0; 1 << 20], vec![0; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn open_source(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Copies one regular file (never through a symbolic link at either end), in the
/// kernel where it can (`io::copy` of two files uses `copy_file_range` on Linux).
/// Returns the bytes copied.
pub fn copy_file(source: &Path, destination: &Path, preserve_timestamp: bool) -> io::Result<u64> {
    let mut from = open_source(source)?;
    let meta = from.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut to =
        OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_NOFOLLOW).open(destination)?;
    let bytes = io::copy(&mut from, &mut to)?;
    if preserve_timestamp {
        to.set_times(fs::FileTimes::new().set_modified(meta.modified()?).set_accessed(meta.accessed()?))?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        assert_eq!(resolve(root.path(), "/a/b").unwrap(), root.path().join("a/b"));
        assert_eq!(resolve(root.path(), "/~/a").unwrap(), root.path().join("a"));
        assert_eq!(resolve(root.path(), "/a/../../x").unwrap_err().code, "INVALID_PATH_NAME");
        assert_eq!(resolve(root.path(), "/link/x").unwrap_err().code, "PERMISSION_DENIED");
        assert_eq!(resolve(root.path(), "/link").unwrap_err().code, "PERMISSION_DENIED");
    }

    #[test]
    fn plan_and_sync() {
        let root = tempfile::tempdir().unwrap();
        let src = root.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"abc").unwrap();
        fs::write(src.join("g"), b"").unwrap();
        let dst = root.path().join("dst");
        let ops = plan(&src, &dst, "/src/", "/dst/", Some(true)).unwrap();
        assert_eq!(ops.len(), 4);
        assert!(matches!(&ops[0], Op::Dir { destination, .. } if *destination == dst));
        assert!(matches!(&ops[3], Op::File { destination_display, .. } if destination_display == "/dst/sub/f"));
        assert_eq!(plan(&src, &dst, "/src/", "/dst/", Some(false)).unwrap_err().code, "IS_A_DIRECTORY");
        let missing = plan(&src.join("nope"), &dst, "/src/nope", "/dst", None).unwrap_err();
        assert_eq!(missing, Fault::new("FILE_NOT_FOUND", "No such file or directory: /src/nope"));
        fs::write(root.path().join("d"), b"abd").unwrap();
        let (f, d) = (src.join("sub/f"), root.path().join("d"));
        assert!(!in_sync(&f, &d, None).unwrap());
        assert!(in_sync(&f, &d, Some(0)).unwrap());
        assert!(in_sync(&f, &d, Some(1)).unwrap());
        assert!(!in_sync(&f, &d, Some(3)).unwrap());
        assert!(!in_sync(&f, &root.path().join("missing"), Some(0)).unwrap());
    }
}
