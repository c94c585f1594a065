//! Asking a peer to re-verify its copies (`librarian verify --remote PEER NAME...`,
//! and rolling deletion before it counts a remote copy): the peer re-reads them and
//! answers per copy; the answers are recorded on the remote instances here
//! (`verified_at` when intact, else the `corrupt`/`missing` state), so deletion
//! counts only copies a peer has vouched for recently.

use jiff::Timestamp;

use crate::error::Result;
use crate::model::{CheckStatus, FileVerification, MAX_VERIFY_NAMES, RemoteState};
use crate::name::FileName;
use crate::site::Site;

/// Ask `peer` to re-verify its copies of `names`, in calls of at most
/// [`MAX_VERIFY_NAMES`], and record the answers. Files this site does not
/// catalogue are asked about all the same, and recorded only where known.
pub(crate) fn verify_remote(site: &Site, peer: &str, names: &[FileName]) -> Result<Vec<FileVerification>> {
    let client = crate::access::peer_client(site, peer)?;
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(MAX_VERIFY_NAMES) {
        let answer = client.verify(chunk)?;
        for mut f in answer.files {
            record(site, peer, &mut f)?;
            out.push(f);
        }
    }
    Ok(out)
}

/// Record one file's answer on its remote instances at `peer`: every copy not
/// reported intact counts as gone; a copy that is not the same file (another
/// checksum there) is corrupt. The answer is made to say what was recorded, so that
/// `verify --remote` never calls intact a copy this site does not count: a file the
/// peer does not catalogue has no copies, and a copy of another checksum is a
/// mismatch, whatever the peer says.
fn record(site: &Site, peer: &str, f: &mut FileVerification) -> Result<()> {
    if !f.present {
        f.copies.clear();
    }
    let Ok(name) = FileName::new(&f.name) else { return Ok(()) };
    let cat = site.catalog();
    let Some(file) = cat.file(&name)? else { return Ok(()) };
    let now = Timestamp::now();
    cat.record_remote_absent(file.id, peer, now)?;
    if !f.present {
        return Ok(());
    }
    let same = match f.checksum.as_deref().map(crate::checksum::Checksum::parse) {
        Some(Ok(theirs)) => theirs.matches(&file.checksum).unwrap_or(false),
        _ => false,
    };
    for c in &mut f.copies {
        if c.status == CheckStatus::Ok && !same {
            c.status = CheckStatus::Mismatch;
        }
        let state = match (c.status, same) {
            (CheckStatus::Ok, true) => RemoteState::Ok,
            (CheckStatus::Ok | CheckStatus::Mismatch, _) => RemoteState::Corrupt,
            (CheckStatus::Missing | CheckStatus::Unreadable, _) => RemoteState::Missing,
        };
        cat.record_remote_check(file.id, peer, &c.store, state, now)?;
    }
    Ok(())
}
