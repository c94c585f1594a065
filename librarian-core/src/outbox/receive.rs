//! The receiving side of calls: apply a peer's call once per idempotency key.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::HoldsApplied;
use crate::checksum::Checksum;
use crate::error::{Error, ObjectKind, Result};
use crate::events::{Category, NewEvent, Severity};
use crate::librarian::Librarian;
use crate::name::FileName;

/// Body of a `holds` call: the sender holds this file in this store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsCall {
    /// The file's name.
    pub name: String,
    /// Its checksum at the sender.
    pub checksum: String,
    /// Its size in bytes.
    pub size: u64,
    /// The sender's store that holds it.
    pub store: String,
    /// When the sender's copy was made.
    pub copied_at: Timestamp,
}

/// Idempotency keys: 1–128 ASCII letters, digits, `-`, `_`, `.` or `:`.
pub fn validate_call_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "the Idempotency-Key header must be 1-128 characters of letters, digits, '-', '_', '.' or ':'".into(),
        ))
    }
}

impl Librarian {
    /// Apply a `holds` call from `peer` carrying idempotency `key`: record that the
    /// peer holds the file. Answers `{"recorded": true, "replayed": false}` the first
    /// time and the same with `"replayed": true` for a repeat of the key (nothing
    /// changes). [`Error::NotFound`] when no such file is catalogued here;
    /// [`Error::Conflict`] (and a `conflict` event here) when its checksum differs.
    pub fn receive_holds(&self, peer: &str, key: &str, call: &HoldsCall) -> Result<serde_json::Value> {
        validate_call_key(key)?;
        let name = FileName::new(&call.name)?;
        let checksum = Checksum::parse(&call.checksum)?;
        crate::config::validate_store_name(&call.store)?;
        let answer = serde_json::json!({ "name": name, "peer": peer, "store": call.store, "recorded": true });
        let now = Timestamp::now();
        let applied = self.catalog().apply_holds(
            peer,
            key,
            &name,
            &checksum,
            &call.store,
            call.copied_at,
            &answer.to_string(),
            now,
        )?;
        let with_replayed = |text: &str, replayed: bool| -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("replayed".into(), replayed.into());
            }
            v
        };
        match applied {
            HoldsApplied::Recorded(text) => Ok(with_replayed(&text, false)),
            HoldsApplied::Replayed(text) => Ok(with_replayed(&text, true)),
            HoldsApplied::Missing => Err(Error::NotFound { kind: ObjectKind::File, name: name.to_string() }),
            HoldsApplied::Differs(ours) => {
                self.raise_event(&NewEvent {
                    severity: Severity::Error,
                    category: Category::Conflict,
                    subject: name.to_string(),
                    message: format!(
                        "{peer} says it holds {name} with checksum {}, but this site has {ours}",
                        call.checksum
                    ),
                })?;
                Err(Error::Conflict {
                    name: name.to_string(),
                    existing: ours.to_string(),
                    incoming: call.checksum.clone(),
                })
            }
        }
    }
}
