//! The receiving side of calls: apply a peer's call once per idempotency key.

use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::model::{CallKind, HoldsCall, validate_call_key};
use crate::model::{Category, NewEvent, Severity};
use crate::name::FileName;
use crate::site::Site;

/// Apply a `holds` call from `peer` carrying idempotency `key`: record that the
/// peer holds the file. Answers `{"recorded": true, "replayed": false}` the first
/// time and the same with `"replayed": true` for a repeat of the key (nothing
/// changes); the same key with another body is refused ([`Error::Conflict`]).
/// [`Error::NotFound`] when no such file is catalogued here;
/// [`Error::Conflict`] (and a `conflict` event here) when its checksum differs.
pub(crate) fn receive_holds(site: &Site, peer: &str, key: &str, call: &HoldsCall) -> Result<serde_json::Value> {
    validate_call_key(key)?;
    let name = FileName::new(&call.name)?;
    let checksum = Checksum::parse(&call.checksum)?;
    crate::config::validate_store_name(&call.store)?;
    let digest = crate::model::call_digest(CallKind::Holds, call)?;
    let mut differs = None;
    let applied = site.catalog().apply_once(peer, key, CallKind::Holds, &digest, |c| {
        let ours = c
            .file_checksum(&name)?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::File, name: name.to_string() })?;
        if !ours.matches(&checksum)? {
            let e =
                Error::Conflict { name: name.to_string(), existing: ours.to_string(), incoming: call.checksum.clone() };
            differs = Some(ours);
            return Err(e);
        }
        c.record_peer_copy(&name, &call.store, call.copied_at)?;
        Ok(serde_json::json!({ "name": name, "peer": peer, "store": call.store, "recorded": true }))
    });
    match applied {
        Ok((mut answer, replayed)) => {
            if let Some(o) = answer.as_object_mut() {
                o.insert("replayed".into(), replayed.into());
            }
            Ok(answer)
        }
        Err(e) => {
            if let Some(ours) = differs {
                site.raise_event(&NewEvent {
                    severity: Severity::Error,
                    category: Category::Conflict,
                    subject: name.to_string(),
                    message: format!(
                        "{peer} says it holds {name} with checksum {}, but this site has {ours}",
                        call.checksum
                    ),
                })?;
            }
            Err(e)
        }
    }
}
