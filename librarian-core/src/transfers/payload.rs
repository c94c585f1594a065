//! Taking a peer's staged payload out of its staging directory without trusting it.
//!
//! A sender writes `…/incoming-ID/data`; with the local manager it writes there itself,
//! so it can also put a symlink, a FIFO, a hard link to someone else's file or a tree
//! of them there, and swap them while we look. The receiver therefore never resolves
//! that path by name: it opens the staging root it was configured with, opens
//! `incoming-ID` beneath it without following a link, looks at `data` without
//! following it, and renames that *entry* (never a link's target) into a fresh private
//! directory of its own. Only then does it check what it got, entry by entry through
//! descriptors: regular files with one link and directories, nothing else. Data owned
//! by another user is copied into the store, not moved, so its owner cannot change it
//! after it was verified.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::StagingDir;
use crate::store::beneath::{Dir, EntryStat, EntryType};
use crate::store::staging::{PAYLOAD, TAKEN_SUFFIX};

/// The staged payload, moved where only this site can reach it.
#[derive(Debug)]
pub(crate) struct TakenPayload {
    /// The private directory holding it (removed when this is dropped).
    holder: StagingDir,
    /// Open descriptor of the holder: the payload is reached through it.
    dir: Dir,
    /// True when every entry belongs to this process's user: then the payload may be
    /// renamed into the store; otherwise it is copied.
    pub movable: bool,
}

impl TakenPayload {
    /// A path to the payload that goes through the holder's descriptor
    /// (`/proc/self/fd/N/data`), not through any name someone else could change.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.fd_path().join(PAYLOAD)
    }

    /// Where it is, for messages.
    pub(crate) fn shown(&self) -> PathBuf {
        self.holder.payload()
    }
}

/// Why a payload is refused: the text a peer may see (no digest, nothing about what
/// the link pointed to).
fn refuse(incoming: &Path, reason: &str) -> Error {
    Error::UnsupportedEntry { path: incoming.join(PAYLOAD).display().to_string(), reason: reason.to_owned() }
}

/// Take the payload of the incoming staging directory `incoming` (a directory this
/// site created as `<staging root>/incoming-…`). `Ok(None)` when nothing arrived.
pub(crate) fn take_payload(incoming: &Path) -> Result<Option<TakenPayload>> {
    let (Some(root), Some(name)) = (incoming.parent(), incoming.file_name()) else {
        return Err(Error::internal(format!("{} is not a staging directory", incoming.display())));
    };
    let root = Dir::open_root(root)?;
    let held = format!("{}{TAKEN_SUFFIX}", name.to_string_lossy());
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if let Some(st) = root.stat(OsStr::new(&held))?
        && (st.kind != EntryType::Directory || st.uid != me)
    {
        return Err(refuse(incoming, "the private directory of its payload was replaced"));
    }
    // Created, or taken over from a run that died (the lock tells), never followed.
    let holder = StagingDir::create_or_adopt(root.shown(), &held)?;
    let dir = Dir::open_root(holder.dir())?;
    std::fs::set_permissions(dir.fd_path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("cannot restrict", holder.dir(), e))?;
    let moved = match dir.stat(OsStr::new(PAYLOAD))? {
        // Taken by a run that died before committing it: take it again.
        Some(earlier) => earlier,
        None => {
            let inbox = match root.open_dir(Path::new(name)) {
                Ok(d) => d,
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(Error::UnsupportedEntry { .. }) => {
                    return Err(refuse(incoming, "the staging directory was replaced by a link or a file"));
                }
                Err(e) => return Err(e),
            };
            let Some(seen) = inbox.stat(OsStr::new(PAYLOAD))? else { return Ok(None) };
            check_kind(incoming, &seen)?;
            inbox.rename_noreplace(OsStr::new(PAYLOAD), &dir, OsStr::new(PAYLOAD))?;
            // What we moved must be what we looked at: a swap in between is refused.
            let moved = dir.stat(OsStr::new(PAYLOAD))?.ok_or_else(|| refuse(incoming, "the payload vanished"))?;
            if (moved.dev, moved.ino) != (seen.dev, seen.ino) {
                return Err(refuse(incoming, "the payload was replaced while it was being taken"));
            }
            moved
        }
    };
    check_kind(incoming, &moved)?;
    let mut movable = moved.uid == me;
    if moved.kind == EntryType::Directory {
        let top = dir.open_dir(Path::new(PAYLOAD))?;
        check_tree(incoming, &top, me, &mut movable, 0)?;
    }
    Ok(Some(TakenPayload { holder, dir, movable }))
}

fn check_kind(incoming: &Path, st: &EntryStat) -> Result<()> {
    match st.kind {
        EntryType::File if st.nlink > 1 => Err(refuse(incoming, "a file with more than one hard link is refused")),
        EntryType::File | EntryType::Directory => Ok(()),
        other => Err(refuse(incoming, other.refusal())),
    }
}

/// Deepest directory nesting accepted in a payload.
const MAX_DEPTH: usize = 256;

/// Every entry below `dir`: a regular file with one link or a directory; note whether
/// all belong to `me`.
fn check_tree(incoming: &Path, dir: &Dir, me: u32, movable: &mut bool, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(refuse(incoming, "directories nested too deeply"));
    }
    for name in dir.names()? {
        let Some(st) = dir.stat(&name)? else { continue };
        check_kind(incoming, &st)?;
        *movable &= st.uid == me;
        if st.kind == EntryType::Directory {
            let sub = dir.open_dir(Path::new(&name))?;
            check_tree(incoming, &sub, me, movable, depth + 1)?;
        }
    }
    Ok(())
}
