//! Paths resolved *beneath* a directory without following a link at any component.
//!
//! Every path that someone else can write into (a peer's staging directory, a drive
//! carried in by hand, the inside of a book being ingested) is resolved through a
//! [`Dir`]: an open directory descriptor, from which each component is opened with
//! `openat(2)` and `O_NOFOLLOW`. A symlink anywhere (`etcdir -> /etc`), a `..`, an
//! absolute path or a special file (FIFO, device, socket) is refused before a byte is
//! read, so nothing outside the directory is ever opened, hashed, moved or written.
//! Only the root of a [`Dir`] is opened by path, and only roots this site was
//! configured with (or an operator named on the command line) are opened that way.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// What a directory entry is, looked at without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

impl EntryType {
    /// In words, for messages: "a regular file", "a symbolic link", ...
    pub(crate) fn describe(self) -> &'static str {
        match self {
            EntryType::File => "a regular file",
            EntryType::Directory => "a directory",
            EntryType::Symlink => "a symbolic link",
            EntryType::Special => "a FIFO, socket or device",
        }
    }

    fn of_mode(mode: libc::mode_t) -> Self {
        match mode & libc::S_IFMT {
            libc::S_IFREG => EntryType::File,
            libc::S_IFDIR => EntryType::Directory,
            libc::S_IFLNK => EntryType::Symlink,
            _ => EntryType::Special,
        }
    }

    /// Why an entry of this type is refused where a file or directory was expected.
    pub(crate) fn refusal(self) -> &'static str {
        match self {
            EntryType::Symlink => "symbolic links are never followed",
            EntryType::Special => "not a regular file or directory (FIFO, socket or device)",
            EntryType::File | EntryType::Directory => "unexpected entry type",
        }
    }
}

/// An entry's identity and owner, read without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryStat {
    /// Its type.
    pub kind: EntryType,
    /// Device and inode: the same pair means the same object.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Hard links to it.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (`0o7777` of the mode).
    pub perm: u32,
}

impl EntryStat {
    fn of(st: &libc::stat) -> Self {
        EntryStat {
            kind: EntryType::of_mode(st.st_mode),
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink,
            uid: st.st_uid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            perm: st.st_mode & 0o7777,
        }
    }

    fn of_meta(m: &std::fs::Metadata) -> Self {
        EntryStat {
            kind: EntryType::of_mode(m.mode() as libc::mode_t),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
            uid: m.uid(),
            size: m.size(),
            perm: m.mode() & 0o7777,
        }
    }
}

/// An open directory; paths below it are resolved component by component, never
/// following a link.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    /// Where it was opened (for messages only; never re-resolved).
    shown: PathBuf,
}

fn c_name(name: &OsStr, shown: &Path) -> Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| Error::invalid("path", format!("{} contains a NUL byte", shown.display())))
}

/// One plain component (`a`, not `..`, `.`, `/` or empty), else an error naming `rel`.
fn plain(rel: &Path) -> Result<Vec<&OsStr>> {
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::UnsupportedEntry {
                    path: rel.display().to_string(),
                    reason: "only plain relative paths are resolved here (no '..', no leading '/')".into(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Error::UnsupportedEntry { path: rel.display().to_string(), reason: "empty path".into() });
    }
    Ok(out)
}

fn last_os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl Dir {
    /// Open a directory this site trusts by its path (a configured store or staging
    /// root, a drive an operator named). Links in *this* path are followed: it is the
    /// operator's; nothing below it will be.
    pub(crate) fn open_root(path: &Path) -> Result<Dir> {
        let c = c_name(path.as_os_str(), path)?;
        // SAFETY: a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = last_os_error();
            return Err(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    Error::NotFound { kind: crate::error::ObjectKind::Path, name: path.display().to_string() }
                }
                _ => Error::io("cannot open directory", path, e),
            });
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Dir { fd: unsafe { OwnedFd::from_raw_fd(fd) }, shown: path.to_owned() })
    }

    /// Where this directory was opened (for messages).
    pub(crate) fn shown(&self) -> &Path {
        &self.shown
    }

    fn openat(&self, name: &OsStr, flags: libc::c_int, mode: libc::mode_t) -> std::io::Result<OwnedFd> {
        let c = CString::new(name.as_bytes()).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: valid descriptor and NUL-terminated name; the result is owned below.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(last_os_error());
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Refusal for `name` below this directory, naming the entry.
    fn refuse(&self, rel: &Path, reason: impl Into<String>) -> Error {
        Error::UnsupportedEntry { path: self.shown.join(rel).display().to_string(), reason: reason.into() }
    }

    /// The error for an `openat` of `rel` that failed: a link or special file is an
    /// [`Error::UnsupportedEntry`], a missing one [`Error::NotFound`].
    fn open_error(&self, rel: &Path, e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ELOOP) => self.refuse(rel, EntryType::Symlink.refusal()),
            Some(libc::ENOTDIR) => self.refuse(rel, "a component is not a directory"),
            Some(libc::ENXIO) => self.refuse(rel, EntryType::Special.refusal()),
            _ if e.kind() == std::io::ErrorKind::NotFound => Error::NotFound {
                kind: crate::error::ObjectKind::Path,
                name: self.shown.join(rel).display().to_string(),
            },
            _ => Error::io("cannot open", self.shown.join(rel), e),
        }
    }

    /// Open the directory `rel` beneath this one, never following a link.
    pub(crate) fn open_dir(&self, rel: &Path) -> Result<Dir> {
        self.walk_dirs(rel, false)
    }

    /// Open (creating what is missing, mode 0755 before the umask, when `create`) each
    /// directory of `rel` in turn beneath this one, never following a link.
    fn walk_dirs(&self, rel: &Path, create: bool) -> Result<Dir> {
        let parts = plain(rel)?;
        let mut cur: Option<Dir> = None;
        let mut sofar = PathBuf::new();
        for part in parts {
            sofar.push(part);
            let base = cur.as_ref().unwrap_or(self);
            let fd = match base.openat(part, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
                Ok(fd) => fd,
                Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
                    match base.mkdir(part, 0o755) {
                        Ok(()) => {}
                        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e),
                    }
                    base.openat(part, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(|e| self.open_error(&sofar, e))?
                }
                Err(e) => return Err(self.open_error(&sofar, e)),
            };
            cur = Some(Dir { fd, shown: self.shown.join(&sofar) });
        }
        cur.ok_or_else(|| self.refuse(rel, "empty path"))
    }

    /// Open the directory holding `rel`'s last component, and that component.
    pub(crate) fn parent_of<'a>(&self, rel: &'a Path) -> Result<(Option<Dir>, &'a OsStr)> {
        let parts = plain(rel)?;
        let Some((last, _)) = parts.split_last() else { return Err(self.refuse(rel, "empty path")) };
        let parent = match rel.parent() {
            Some(p) if !p.as_os_str().is_empty() => Some(self.open_dir(p)?),
            _ => None,
        };
        Ok((parent, last))
    }

    /// [`Dir::parent_of`] for a walk over sorted paths: the directory last opened is
    /// kept in `cache` and used again while the next entries share it (the entries of
    /// a book come sorted, so siblings follow each other), saving a walk from the root
    /// per entry.
    pub(crate) fn parent_cached<'a, 'p>(
        &'a self,
        rel: &'p Path,
        cache: &'a mut Option<(PathBuf, Dir)>,
    ) -> Result<(&'a Dir, &'p OsStr)> {
        let parts = plain(rel)?;
        let Some((last, _)) = parts.split_last() else { return Err(self.refuse(rel, "empty path")) };
        let parent = rel.parent().filter(|p| !p.as_os_str().is_empty());
        let Some(parent) = parent else { return Ok((self, last)) };
        if cache.as_ref().is_none_or(|(p, _)| p != parent) {
            *cache = Some((parent.to_owned(), self.open_dir(parent)?));
        }
        match cache {
            Some((_, dir)) => Ok((dir, last)),
            None => Err(self.refuse(rel, "no parent")),
        }
    }

    /// Open the regular file `name` (one component) of this directory for reading,
    /// never following a link and never blocking on a FIFO.
    pub(crate) fn open_file_here(&self, name: &OsStr) -> Result<File> {
        let rel = Path::new(name);
        let fd = self
            .openat(name, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY, 0)
            .map_err(|e| self.open_error(rel, e))?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| Error::io("cannot read", self.shown.join(rel), e))?;
        let kind = EntryStat::of_meta(&meta).kind;
        if kind != EntryType::File {
            return Err(self.refuse(rel, kind.refusal()));
        }
        Ok(file)
    }

    /// Open the regular file `rel` beneath this one for reading, never following a
    /// link and never blocking on a FIFO: anything but a regular file is refused.
    pub(crate) fn open_file(&self, rel: &Path) -> Result<File> {
        let (parent, last) = self.parent_of(rel)?;
        parent.as_ref().unwrap_or(self).open_file_here(last).map_err(|e| match e {
            Error::UnsupportedEntry { reason, .. } => self.refuse(rel, reason),
            other => other,
        })
    }

    /// Look at `name` (one component) in this directory without following it; `None`
    /// when it does not exist.
    pub(crate) fn stat(&self, name: &OsStr) -> Result<Option<EntryStat>> {
        let c = c_name(name, &self.shown)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid descriptor, NUL-terminated name, and a buffer for one stat.
        let rc = unsafe { libc::fstatat(self.fd.as_raw_fd(), c.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
        if rc != 0 {
            let e = last_os_error();
            return match e.kind() {
                std::io::ErrorKind::NotFound => Ok(None),
                _ => Err(Error::io("cannot inspect", self.shown.join(name), e)),
            };
        }
        // SAFETY: fstatat succeeded and filled the buffer.
        Ok(Some(EntryStat::of(&unsafe { st.assume_init() })))
    }

    /// The names in this directory (no `.`/`..`), unsorted.
    pub(crate) fn names(&self) -> Result<Vec<OsString>> {
        let rd = std::fs::read_dir(self.fd_path()).map_err(|e| Error::io("cannot list", &self.shown, e))?;
        let mut out = Vec::new();
        for item in rd {
            out.push(item.map_err(|e| Error::io("cannot list", &self.shown, e))?.file_name());
        }
        Ok(out)
    }

    /// A path that resolves to this very directory (`/proc/self/fd/N`), whatever
    /// happens to the name it was opened by. Valid while `self` lives.
    pub(crate) fn fd_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// Make the directory `name` here (mode 0700 before the umask).
    pub(crate) fn mkdir(&self, name: &OsStr, mode: libc::mode_t) -> Result<()> {
        let c = c_name(name, &self.shown)?;
        // SAFETY: valid descriptor and NUL-terminated name.
        let rc = unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), mode) };
        if rc != 0 {
            return Err(Error::io("cannot create directory", self.shown.join(name), last_os_error()));
        }
        Ok(())
    }

    /// Create the new regular file `name` here for writing; fails if anything exists
    /// under that name (a link included).
    pub(crate) fn create_new(&self, name: &OsStr) -> Result<File> {
        let fd = self
            .openat(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o666)
            .map_err(|e| Error::io("cannot create", self.shown.join(name), e))?;
        Ok(File::from(fd))
    }

    /// Rename entry `from` of this directory to `to` in `dest`, never replacing
    /// anything. The entry itself moves (a link is moved as a link, never followed).
    pub(crate) fn rename_noreplace(&self, from: &OsStr, dest: &Dir, to: &OsStr) -> Result<()> {
        let f = c_name(from, &self.shown)?;
        let t = c_name(to, &dest.shown)?;
        // SAFETY: valid descriptors and NUL-terminated names.
        let rc = unsafe {
            libc::renameat2(self.fd.as_raw_fd(), f.as_ptr(), dest.fd.as_raw_fd(), t.as_ptr(), libc::RENAME_NOREPLACE)
        };
        if rc != 0 {
            let e = last_os_error();
            if e.raw_os_error() == Some(libc::EXDEV) {
                return Err(Error::CrossDevice {
                    path: self.shown.join(from),
                    store: dest.shown.display().to_string(),
                });
            }
            return Err(Error::io("cannot rename", self.shown.join(from), e));
        }
        Ok(())
    }

    /// fsync this directory (a create or rename inside it becomes durable).
    pub(crate) fn sync(&self) -> Result<()> {
        let f = self.fd.try_clone().map(File::from).map_err(|e| Error::io("cannot sync", &self.shown, e))?;
        f.sync_all().map_err(|e| Error::io("cannot sync directory", &self.shown, e))
    }

    /// Open (creating what is missing, mode 0755 before the umask) the directory `rel`
    /// beneath this one, never following a link and never leaving it.
    pub(crate) fn create_dirs(&self, rel: &Path) -> Result<Dir> {
        self.walk_dirs(rel, true)
    }

    /// Remove the entry `name` here: a file or link with `unlinkat`, a directory with
    /// everything in it (walked through descriptors, links removed, never followed).
    pub(crate) fn remove_tree(&self, name: &OsStr) -> Result<()> {
        let Some(st) = self.stat(name)? else { return Ok(()) };
        if st.kind == EntryType::Directory {
            let sub = self.open_dir(Path::new(name))?;
            // Committed books are read-only (`posix::set_read_only`): their entries can
            // be unlinked only once the directory is writable again.
            // SAFETY: plain syscall on a descriptor we own; a failure shows in the unlink.
            let _ = unsafe { libc::fchmod(sub.fd.as_raw_fd(), 0o700) };
            for child in sub.names()? {
                sub.remove_tree(&child)?;
            }
            self.unlink(name, libc::AT_REMOVEDIR)
        } else {
            self.unlink(name, 0)
        }
    }

    fn unlink(&self, name: &OsStr, flags: libc::c_int) -> Result<()> {
        let c = c_name(name, &self.shown)?;
        // SAFETY: valid descriptor and NUL-terminated name.
        let rc = unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), flags) };
        if rc != 0 {
            let e = last_os_error();
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(());
            }
            return Err(Error::io("cannot remove", self.shown.join(name), e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn links_and_special_files_are_refused_at_every_component() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"in").unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"out").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("a/flink")).unwrap();
        let fifo = CString::new(root.join("a/fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        let d = Dir::open_root(&root).unwrap();
        let mut s = String::new();
        use std::io::Read;
        d.open_file(Path::new("a/b/f")).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "in");
        for bad in ["a/link/secret", "a/flink", "a/fifo", "../outside/secret", "/etc/hostname", "a/b/f/x"] {
            let e = d.open_file(Path::new(bad)).unwrap_err();
            assert!(matches!(e, Error::UnsupportedEntry { .. }), "{bad}: {e:?}");
        }
        assert!(matches!(d.open_dir(Path::new("a/link")), Err(Error::UnsupportedEntry { .. })));
        assert!(matches!(d.open_file(Path::new("a/none")), Err(Error::NotFound { .. })));
        let a = d.open_dir(Path::new("a")).unwrap();
        assert_eq!(a.stat(OsStr::new("link")).unwrap().map(|s| s.kind), Some(EntryType::Symlink));
        assert_eq!(a.stat(OsStr::new("fifo")).unwrap().map(|s| s.kind), Some(EntryType::Special));
        assert_eq!(a.stat(OsStr::new("nothing")).unwrap(), None);
        // create_dirs never goes through a link either.
        assert!(matches!(d.create_dirs(Path::new("a/link/new")), Err(Error::UnsupportedEntry { .. })));
        assert!(!outside.join("new").exists());
        d.create_dirs(Path::new("x/y")).unwrap().create_new(OsStr::new("z")).unwrap();
        assert!(root.join("x/y/z").is_file());
        // remove_tree removes links, never what they point to.
        d.remove_tree(OsStr::new("a")).unwrap();
        assert!(!root.join("a").exists());
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"out");
    }
}
