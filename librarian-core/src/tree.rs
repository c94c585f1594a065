//! Walking, hashing and copying files and books, reading each source byte once.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::checksum::{Algorithm, CHUNK, Checksum, Entry, EntryKind, PipeError, directory_digest, pipe};
use crate::error::{Error, Result};
use crate::name::check_segment;
use crate::progress::Progress;
use crate::store::beneath::Dir;

/// What a source path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    File,
    Directory,
}

/// Look at a source path: a regular file or a directory (the path itself may be a
/// symlink to one; entries inside a book may not).
pub(crate) fn source_kind(path: &Path) -> Result<(SourceKind, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound { kind: crate::error::ObjectKind::Path, name: path.display().to_string() }
        }
        _ => Error::io("cannot read", path, e),
    })?;
    if meta.is_file() {
        Ok((SourceKind::File, meta.len()))
    } else if meta.is_dir() {
        Ok((SourceKind::Directory, 0))
    } else {
        Err(Error::UnsupportedEntry { path: path.display().to_string(), reason: describe(&meta.file_type()).into() })
    }
}

fn describe(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "symbolic links are not allowed inside a book"
    } else if t.is_socket() {
        "sockets cannot be stored"
    } else if t.is_fifo() {
        "named pipes cannot be stored"
    } else if t.is_block_device() || t.is_char_device() {
        "devices cannot be stored"
    } else {
        "not a regular file or directory"
    }
}

/// List every entry of the book at `root` (digests not yet filled), sorted by path so
/// parents come before children. Symlinks, sockets, FIFOs, devices and entries whose
/// names break the naming rules are rejected, naming the entry. Every directory below
/// `root` is opened beneath its parent's descriptor, never following a link, so a
/// link swapped in during the walk cannot lead it outside the book.
pub(crate) fn walk(root: &Path) -> Result<Vec<Entry>> {
    let top = Dir::open_root(root)?;
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let opened;
        let dir = if rel.is_empty() {
            &top
        } else {
            opened = top.open_dir(Path::new(&rel))?;
            &opened
        };
        let listing = dir.fd_path();
        let rd = std::fs::read_dir(&listing).map_err(|e| Error::io("cannot list", root.join(&rel), e))?;
        for item in rd {
            let item = item.map_err(|e| Error::io("cannot list", root.join(&rel), e))?;
            let raw = item.file_name();
            let shown = if rel.is_empty() {
                raw.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", raw.to_string_lossy())
            };
            let Some(seg) = raw.to_str() else {
                return Err(Error::UnsupportedEntry { path: shown, reason: "entry name is not valid UTF-8".into() });
            };
            if let Err(reason) = check_segment(seg) {
                return Err(Error::UnsupportedEntry { path: shown, reason: reason.to_string() });
            }
            let ft = item.file_type().map_err(|e| Error::io("cannot read", root.join(&shown), e))?;
            if ft.is_dir() {
                out.push(Entry { path: shown.clone(), kind: EntryKind::Directory, size: 0, digest: None });
                stack.push(shown);
            } else if ft.is_file() {
                let len = item.metadata().map_err(|e| Error::io("cannot read", root.join(&shown), e))?.len();
                out.push(Entry { path: shown, kind: EntryKind::File, size: len, digest: None });
            } else {
                return Err(Error::UnsupportedEntry { path: shown, reason: describe(&ft).into() });
            }
        }
    }
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// Reusable scratch buffer for [`copy_file`] / [`hash_file`].
pub(crate) fn scratch() -> Vec<u8> {
    vec![0u8; CHUNK]
}

fn open_source(path: &Path) -> Result<File> {
    // O_NOFOLLOW: a book entry that became a symlink after the walk is refused.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io("cannot open", path, e))
}

/// Bytes between two steps of [`StreamingWriter`]'s early writeback.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Writes a new file front to back while pushing it to disk as it goes: every
/// [`WRITEBACK_STEP`] bytes it starts writeback of the step just written
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), waits for the step before that to reach
/// the disk and drops it from the page cache (`POSIX_FADV_DONTNEED`).
///
/// So a large copy overlaps its disk writes with reading and hashing instead of
/// leaving all of it to the final fsync, keeps only a few steps of dirty pages
/// instead of the whole file, and recycles the same page-cache memory instead of
/// touching fresh memory for every byte (which is slow where the hypervisor reclaims
/// free guest memory). This is an optimisation only: durability still comes from the
/// caller's `fsync`/`syncfs`. A write-back error seen here fails the write, like one
/// seen by `fsync` would.
struct StreamingWriter {
    file: File,
    /// Bytes written so far.
    written: u64,
    /// Writeback started for `..submitted`.
    submitted: u64,
    /// On disk and dropped from the page cache: `..settled`.
    settled: u64,
    /// False once the filesystem refused `sync_file_range` (then: plain writes).
    enabled: bool,
}

impl StreamingWriter {
    fn new(file: File) -> Self {
        StreamingWriter { file, written: 0, submitted: 0, settled: 0, enabled: true }
    }

    fn range(&self, from: u64, to: u64, flags: libc::c_uint) -> std::io::Result<()> {
        let (Ok(off), Ok(len)) = (libc::off64_t::try_from(from), libc::off64_t::try_from(to - from)) else {
            return Ok(());
        };
        // SAFETY: plain syscall on a descriptor we own for the duration of the call.
        let rc = unsafe { libc::sync_file_range(self.file.as_raw_fd(), off, len, flags) };
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }

    fn step(&mut self) -> std::io::Result<()> {
        if let Err(e) = self.range(self.submitted, self.written, libc::SYNC_FILE_RANGE_WRITE) {
            return match e.raw_os_error() {
                Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::ESPIPE) => {
                    self.enabled = false;
                    Ok(())
                }
                _ => Err(e),
            };
        }
        // Everything up to the previous step: wait until it is on disk, then drop it.
        let done = self.submitted;
        self.submitted = self.written;
        if done > self.settled {
            let (from, to) = (self.settled, done);
            self.range(
                from,
                to,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )?;
            if let (Ok(off), Ok(len)) = (libc::off_t::try_from(from), libc::off_t::try_from(to - from)) {
                // SAFETY: plain syscall on a descriptor we own. Advisory: errors are harmless.
                let _ = unsafe { libc::posix_fadvise(self.file.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
            }
            self.settled = to;
        }
        Ok(())
    }
}

impl Write for StreamingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.enabled && self.written - self.submitted >= WRITEBACK_STEP {
            self.step()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Copy `src` (a resolved path: symlinks are refused) to the new file `dst` while
/// hashing; fsync it when `sync`.
pub(crate) fn copy_file(
    src: &Path,
    dst: &Path,
    algorithm: Algorithm,
    sync: bool,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
) -> Result<(Checksum, u64)> {
    let input = open_source(src)?;
    let output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io("cannot create", dst, e))?;
    copy_stream(input, output, (src, dst), algorithm, sync, progress, scratch)
}

/// Copy the open `input` into the new, open `output` while hashing (`shown`: their
/// paths, for messages); fsync it when `sync`.
pub(crate) fn copy_stream(
    mut input: File,
    output: File,
    shown: (&Path, &Path),
    algorithm: Algorithm,
    sync: bool,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
) -> Result<(Checksum, u64)> {
    let (src, dst) = shown;
    let mut streaming = StreamingWriter::new(output);
    let (sum, n) = pipe(algorithm, &mut input, Some(&mut streaming as &mut dyn Write), progress, scratch)?.map_err(
        |e| match e {
            PipeError::Read(e) => Error::io("cannot read", src, e),
            PipeError::Write(e) => Error::io("cannot write", dst, e),
        },
    )?;
    let output = streaming.file;
    if let Ok(m) = input.metadata().and_then(|m| m.modified()) {
        let _ = output.set_modified(m);
    }
    if sync {
        output.sync_all().map_err(|e| Error::io("cannot sync", dst, e))?;
    }
    Ok((sum, n))
}

/// Reads a file front to back and drops what it has read from the page cache every
/// [`WRITEBACK_STEP`] bytes (`POSIX_FADV_DONTNEED`), so a large read recycles the same
/// page-cache memory instead of filling fresh memory (slow where the hypervisor
/// reclaims free guest memory), and does not evict everything else. For data read
/// once and not again soon: a received file re-hashed before it is committed.
struct DropBehindReader {
    file: File,
    read: u64,
    dropped: u64,
}

impl Read for DropBehindReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.read - self.dropped >= WRITEBACK_STEP {
            if let (Ok(off), Ok(len)) =
                (libc::off_t::try_from(self.dropped), libc::off_t::try_from(self.read - self.dropped))
            {
                // SAFETY: plain syscall on a descriptor we own. Advisory: errors are harmless.
                let _ = unsafe { libc::posix_fadvise(self.file.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
            }
            self.dropped = self.read;
        }
        Ok(n)
    }
}

/// [`hash_file`] for data read once: drops it from the page cache behind the read.
pub(crate) fn hash_file_once(
    path: &Path,
    algorithm: Algorithm,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
) -> Result<(Checksum, u64)> {
    let mut input = DropBehindReader { file: open_source(path)?, read: 0, dropped: 0 };
    pipe(algorithm, &mut input, None, progress, scratch)?.map_err(|e| match e {
        PipeError::Read(e) | PipeError::Write(e) => Error::io("cannot read", path, e),
    })
}

/// Hash the file at `path` with two algorithms in one read (an import's legacy
/// checksum and the BLAKE3 digest recorded beside it), dropping it from the page
/// cache behind the read. Returns both and the bytes read.
pub(crate) fn hash_file_twice(
    path: &Path,
    first: Algorithm,
    second: Algorithm,
    progress: &dyn Progress,
    scratch: &mut [u8],
) -> Result<(Checksum, Checksum, u64)> {
    let mut input = DropBehindReader { file: open_source(path)?, read: 0, dropped: 0 };
    let (mut a, mut b) = (first.hasher()?, second.hasher()?);
    let mut total = 0u64;
    loop {
        let n = match input.read(scratch) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let chunk = &scratch[..n];
        a.update(chunk);
        b.update(chunk);
        total += n as u64;
        progress.advance(n as u64);
    }
    Ok((a.finish(), b.finish(), total))
}

/// [`hash_file`], or with `from_device` the bytes on the disk: the file's clean
/// pages are dropped from the page cache first (and behind the read), so what is
/// hashed was read from the device, not a cached copy of what was once written.
pub(crate) fn hash_file_checked(
    path: &Path,
    algorithm: Algorithm,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
    from_device: bool,
) -> Result<(Checksum, u64)> {
    if !from_device {
        return hash_file(path, algorithm, progress, scratch);
    }
    {
        let file = open_source(path)?;
        // SAFETY: plain syscall on a descriptor we own. Advisory: errors are harmless.
        let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
    hash_file_once(path, algorithm, progress, scratch)
}

/// Hash the open `file` from where it is to its end.
pub(crate) fn hash_open(file: &mut File, algorithm: Algorithm) -> std::io::Result<(Checksum, u64)> {
    let mut buf = scratch();
    match pipe(algorithm, file, None, &crate::progress::NoProgress, &mut buf) {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(PipeError::Read(e) | PipeError::Write(e))) => Err(e),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

/// Write `input` (to its end, at most what it yields) into the new, open `output`
/// while hashing, then fsync it: the checksum and the bytes written. For bytes
/// that come from a peer (`shown`: where they go, for messages).
pub(crate) fn write_stream(
    input: &mut dyn Read,
    output: File,
    shown: &Path,
    algorithm: Algorithm,
    progress: &dyn Progress,
) -> Result<(Checksum, u64)> {
    let mut streaming = StreamingWriter::new(output);
    let (sum, n) = pipe(algorithm, input, Some(&mut streaming as &mut dyn Write), progress, &mut scratch())?.map_err(
        |e| match e {
            PipeError::Read(e) => Error::io("cannot receive the bytes for", shown, e),
            PipeError::Write(e) => Error::io("cannot write", shown, e),
        },
    )?;
    streaming.file.sync_all().map_err(|e| Error::io("cannot sync", shown, e))?;
    Ok((sum, n))
}

/// Hash the file at `path` (symlinks refused), reading it once.
pub(crate) fn hash_file(
    path: &Path,
    algorithm: Algorithm,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
) -> Result<(Checksum, u64)> {
    let mut input = open_source(path)?;
    pipe(algorithm, &mut input, None, progress, scratch)?.map_err(|e| match e {
        PipeError::Read(e) | PipeError::Write(e) => Error::io("cannot read", path, e),
    })
}

/// Copy the book at `src` (entries from [`walk`]) into the new directory `dst`,
/// filling each file entry's digest and size from the bytes actually copied. Nothing
/// is fsynced here; the caller flushes the filesystem once.
pub(crate) fn copy_book(
    src: &Path,
    dst: &Path,
    entries: &mut [Entry],
    algorithm: Algorithm,
    progress: &dyn Progress,
) -> Result<Checksum> {
    std::fs::create_dir(dst).map_err(|e| Error::io("cannot create", dst, e))?;
    copy_book_into(src, &Dir::open_root(dst)?, entries, algorithm, progress)
}

/// [`copy_book`] into the empty directory `out`, already open. Both sides are
/// resolved entry by entry beneath their roots' descriptors, never following a link,
/// so neither a link inside the source nor one swapped into the destination while
/// copying can lead a read or a write outside them.
pub(crate) fn copy_book_into(
    src: &Path,
    out: &Dir,
    entries: &mut [Entry],
    algorithm: Algorithm,
    progress: &dyn Progress,
) -> Result<Checksum> {
    let input = Dir::open_root(src)?;
    let mut buf = scratch();
    let (mut in_cache, mut out_cache) = (None, None);
    for e in entries.iter_mut() {
        let rel = Path::new(&e.path);
        let (parent, last) = out.parent_cached(rel, &mut out_cache)?;
        match e.kind {
            EntryKind::Directory => parent.mkdir(last, 0o777)?,
            EntryKind::File => {
                let (from_dir, _) = input.parent_cached(rel, &mut in_cache)?;
                let from = from_dir.open_file_here(last).map_err(|err| named(err, src, rel))?;
                let to = parent.create_new(last)?;
                let shown = (src.join(rel), out.shown().join(rel));
                let (sum, n) = copy_stream(from, to, (&shown.0, &shown.1), algorithm, false, progress, &mut buf)?;
                e.digest = Some(sum.hex().to_owned());
                e.size = n;
            }
        }
    }
    directory_digest(algorithm, entries)
}

/// Copy the file or book at `source` to the new entry `name` of `parent` (created
/// here; a file is fsynced, a book's filesystem synced once), hashing what is read
/// with `algorithm`: the checksum of the bytes copied. The source path itself is
/// never followed if it is a link; a book is copied entry by entry beneath its
/// descriptor ([`copy_book_into`]). On an error the caller removes `name`.
pub(crate) fn copy_item(
    source: &Path,
    kind: crate::model::FileKind,
    algorithm: Algorithm,
    parent: &Dir,
    name: &std::ffi::OsStr,
    progress: &dyn Progress,
) -> Result<Checksum> {
    let shown = parent.shown().join(name);
    match kind {
        crate::model::FileKind::File => {
            let input = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(source)
                .map_err(|e| Error::io("cannot open", source, e))?;
            let output = parent.create_new(name)?;
            Ok(copy_stream(input, output, (source, shown.as_path()), algorithm, true, progress, &mut scratch())?.0)
        }
        crate::model::FileKind::Directory => {
            let mut entries = walk(source)?;
            parent.mkdir(name, 0o777)?;
            let out = parent.open_dir(Path::new(name))?;
            let sum = copy_book_into(source, &out, &mut entries, algorithm, progress)?;
            crate::store::posix::sync_filesystem(&out.fd_path())?;
            Ok(sum)
        }
    }
}

/// Hash the book at `root` in place, filling each file entry's digest and size.
/// Every entry is opened beneath the root's descriptor, never following a link.
pub(crate) fn hash_book(
    root: &Path,
    entries: &mut [Entry],
    algorithm: Algorithm,
    progress: &dyn Progress,
) -> Result<Checksum> {
    let top = Dir::open_root(root)?;
    let mut buf = scratch();
    let mut cache = None;
    for e in entries.iter_mut() {
        if e.kind == EntryKind::File {
            let rel = Path::new(&e.path);
            let (dir, last) = top.parent_cached(rel, &mut cache)?;
            let mut input = dir.open_file_here(last).map_err(|err| named(err, root, rel))?;
            let (sum, n) = pipe(algorithm, &mut input, None, progress, &mut buf)?.map_err(|err| match err {
                PipeError::Read(err) | PipeError::Write(err) => Error::io("cannot read", root.join(rel), err),
            })?;
            e.digest = Some(sum.hex().to_owned());
            e.size = n;
        }
    }
    directory_digest(algorithm, entries)
}

/// A refusal of entry `rel` of the book at `root`, naming it from the book's root.
fn named(e: Error, root: &Path, rel: &Path) -> Error {
    match e {
        Error::UnsupportedEntry { reason, .. } => {
            Error::UnsupportedEntry { path: root.join(rel).display().to_string(), reason }
        }
        other => other,
    }
}

/// Total bytes of the file entries.
pub(crate) fn total_size(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.size).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::hash_bytes;
    use crate::progress::NoProgress;

    #[test]
    fn copy_file_streams_a_large_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let len = 3 * WRITEBACK_STEP as usize + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("dst");
        let (sum, n) = copy_file(&src, &dst, Algorithm::Blake3, true, &NoProgress, &mut scratch()).unwrap();
        assert_eq!(n, len as u64);
        assert_eq!(Some(sum), hash_bytes(Algorithm::Blake3, &data).ok());
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }

    #[test]
    fn streaming_writer_settles_all_but_the_last_steps() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = StreamingWriter::new(File::create(dir.path().join("out")).unwrap());
        let chunk = vec![0x5au8; 1 << 20];
        let total = 4 * WRITEBACK_STEP + (1 << 20);
        let mut left = total;
        while left > 0 {
            w.write_all(&chunk).unwrap();
            left -= chunk.len() as u64;
        }
        assert_eq!(w.written, total);
        if w.enabled {
            assert_eq!(w.submitted, 4 * WRITEBACK_STEP);
            assert_eq!(w.settled, 3 * WRITEBACK_STEP);
        }
        assert_eq!(std::fs::metadata(dir.path().join("out")).unwrap().len(), total);
    }
}
