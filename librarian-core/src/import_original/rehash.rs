//! `import-original --verify`: every available copy read once, hashed with its
//! legacy algorithm (XXH3 or MD5, as the original recorded it) and with BLAKE3 in
//! the same pass. A copy that matches is verified now and its file gains the BLAKE3
//! digest beside the legacy checksum (later verifications use BLAKE3: see
//! `verify.rs`); one that does not is corrupt, one that cannot be read missing.

use jiff::Timestamp;

use crate::catalog::{ImportEvent, ImportPlan};
use crate::checksum::{Algorithm, Checksum};
use crate::model::{Category, FileKind, InstanceState, Severity};
use crate::progress::Progress;

/// Re-hash the plan's available copies; returns (copies read, bytes read).
pub(super) fn rehash(plan: &mut ImportPlan, progress: &dyn Progress) -> (u64, u64) {
    let total: u64 = plan
        .instances
        .iter()
        .filter(|i| i.state == InstanceState::Ok)
        .map(|i| plan.files.get(i.file).map_or(0, |f| f.size))
        .sum();
    progress.start(total);
    let mut scratch = crate::tree::scratch();
    let (mut copies, mut bytes) = (0u64, 0u64);
    let now = Timestamp::now();
    for k in 0..plan.instances.len() {
        let inst = &plan.instances[k];
        if inst.state != InstanceState::Ok {
            continue;
        }
        let Some(file) = plan.files.get(inst.file) else { continue };
        let path = plan.stores[inst.store].root.join(&inst.rel);
        let legacy = file.checksum.algorithm();
        let outcome: crate::error::Result<(Checksum, Checksum, u64)> = match file.kind {
            FileKind::File => crate::tree::hash_file_twice(&path, legacy, Algorithm::Blake3, progress, &mut scratch),
            FileKind::Directory => {
                let mut entries = file.entries.clone();
                crate::tree::hash_book(&path, &mut entries, legacy, progress).and_then(|sum| {
                    let mut b3 = entries.clone();
                    let b3sum = crate::tree::hash_book(&path, &mut b3, Algorithm::Blake3, progress)?;
                    Ok((sum, b3sum, crate::tree::total_size(&entries)))
                })
            }
        };
        copies += 1;
        let expected = file.checksum.clone();
        let subject = format!("{}/{}", plan.stores[inst.store].name, file.name);
        let name = file.name.clone();
        let inst = &mut plan.instances[k];
        match outcome {
            Ok((sum, b3, n)) if sum == expected => {
                bytes += n;
                inst.verified_at = Some(now);
                if let Some(f) = plan.files.get_mut(inst.file)
                    && f.blake3.is_none()
                {
                    f.blake3 = Some(b3.to_string());
                }
            }
            Ok((sum, _, n)) => {
                bytes += n;
                inst.state = InstanceState::Corrupt;
                inst.verified_at = None;
                let reason = format!("its bytes hash to {sum} at import, not {expected}");
                inst.event = Some(damaged(Category::InstanceCorrupt, subject, &name, &reason, now));
                inst.reason = Some(reason);
            }
            Err(e) => {
                inst.state = InstanceState::Missing;
                inst.verified_at = None;
                let reason = format!("cannot be read at import: {e}");
                inst.event = Some(damaged(Category::InstanceMissing, subject, &name, &reason, now));
                inst.reason = Some(reason);
            }
        }
    }
    progress.finish();
    (copies, bytes)
}

fn damaged(
    category: Category,
    subject: String,
    name: &crate::name::FileName,
    reason: &str,
    now: Timestamp,
) -> ImportEvent {
    let store = subject.split('/').next().unwrap_or_default().to_owned();
    ImportEvent {
        severity: Severity::Error,
        category,
        message: format!("{name} on store {store}: {reason}; it is not used (`librarian repair {name}`)"),
        subject,
        count: 1,
        at: now,
    }
}
