//! The `[clone]` table of `librarian.toml`: which peers this site sends to, with which
//! managers, in batches of what size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ManagerKind;

/// `[clone]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloneConfig {
    /// Managers this site uses to send and accepts to receive, in order of preference
    /// (`local`, `rsync`, `globus`).
    pub managers: Vec<String>,
    /// When receiving with rsync over ssh: the `user@host` senders must write to
    /// (destinations are then given as `host:path`). Unset: plain local paths.
    pub rsync_host: Option<String>,
    /// Most files in one batch.
    pub batch_files: usize,
    /// Most bytes in one batch (a single larger file still goes alone); a number of
    /// bytes or a size such as `"64G"`.
    #[serde(deserialize_with = "crate::model::size_serde::deserialize")]
    pub batch_bytes: u64,
    /// Batches planned per peer in one run of the `send-clones` task.
    pub batches_per_run: usize,
    /// Times a failed batch is started before its transfers fail.
    pub max_batch_attempts: u32,
    /// Incoming transfers verified and committed per run of `receive-clones`.
    pub receive_per_run: usize,
    /// A transfer unchanged for this long (e.g. `"6h"`) is reconciled with its peer.
    pub stale_after: String,
    /// Receiving: most items one `stage` call may offer; the items after these are
    /// refused with code `too_many_items` (the sender offers them again later).
    pub max_stage_items: usize,
    /// Receiving: most incoming transfers of one peer not yet finished (initiated,
    /// ongoing or staged); items over it are refused with code `too_many_outstanding`.
    pub max_outstanding_transfers: u64,
    /// Receiving: most bytes (as declared) of one peer's unfinished incoming
    /// transfers; items over it are refused with code `too_many_outstanding`. A
    /// number of bytes or a size such as `"2T"`.
    #[serde(deserialize_with = "crate::model::size_serde::deserialize")]
    pub max_outstanding_bytes: u64,
    /// Peers to send to, by name: `[clone.to.site-b]`.
    pub to: BTreeMap<String, SendTo>,
    /// Filling drives from a local store (`[clone.local]`, the `clone-local` task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalClone>,
    /// Receiving from a site that still runs the original Librarian
    /// (`/api/v2/clone/batch_stage`): the transfer managers its sender is offered,
    /// as the original's stores configure them (`[clone.original_providers.local]`
    /// `available = true`, `hostnames = ["host"]`, or `rsync`, `globus`). Default:
    /// `local` with this host's name (the sender copies into our staging area
    /// through a shared filesystem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_providers: Option<BTreeMap<String, OriginalProvider>>,
}

/// A transfer manager offered to a sender running the original Librarian, in its
/// own terms (`local`: `hostnames`; `rsync`: `hostname`; `globus`:
/// `destination_endpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalProvider {
    /// Offered at all (the original drops providers without it).
    #[serde(default = "yes")]
    pub available: bool,
    /// `local`: the hosts that share this site's staging filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostnames: Option<Vec<String>>,
    /// `rsync`: the host the sender must be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `globus`: this site's Globus collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_endpoint: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for CloneConfig {
    fn default() -> Self {
        CloneConfig {
            managers: vec!["local".into(), "rsync".into()],
            rsync_host: None,
            batch_files: 1000,
            batch_bytes: 64 << 30,
            batches_per_run: 20,
            max_batch_attempts: 3,
            receive_per_run: 10_000,
            stale_after: "6h".into(),
            max_stage_items: 1000,
            max_outstanding_transfers: 10_000,
            max_outstanding_bytes: 2 << 40,
            to: BTreeMap::new(),
            local: None,
            original_providers: None,
        }
    }
}

/// `[clone.local]`: the `clone-local` task copies files of store `from` that none of
/// the `to` stores (drives) holds onto the first of them with room, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalClone {
    /// The store to copy from.
    pub from: String,
    /// The stores to fill, in order: the next one when one is full.
    pub to: Vec<String>,
}

impl LocalClone {
    fn validate(&self) -> Result<()> {
        crate::config::validate_store_name(&self.from)?;
        if self.to.is_empty() {
            return Err(Error::invalid("clone.local.to", "clone.local.to must name at least one store"));
        }
        for (k, s) in self.to.iter().enumerate() {
            crate::config::validate_store_name(s)?;
            if *s == self.from {
                return Err(Error::invalid("clone.local", format!("clone.local: store {s:?} is both from and to")));
            }
            if self.to[..k].contains(s) {
                return Err(Error::invalid("clone.local.to", format!("clone.local.to names store {s:?} twice")));
            }
        }
        Ok(())
    }
}

/// `[clone.to.PEER]`: what to send to that peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendTo {
    /// Only names starting with this.
    pub prefix: Option<String>,
    /// Only instances on this store.
    pub store: Option<String>,
    /// Only files catalogued at this site (their `arrived_at`) within this interval
    /// (e.g. `"30d"`).
    pub max_age: Option<String>,
    /// Where this site may write for that peer: an absolute path (`local` manager,
    /// rsync to a local path), `host:/path` (rsync over ssh) or
    /// `globus:COLLECTION-UUID:/path` (the peer's Globus collection and the path in it
    /// below which its staging areas lie). A staging destination
    /// the peer names must lie below it; anything else is refused, so a peer can
    /// never make this site write (or create directories) elsewhere. Required for
    /// every `[clone.to.PEER]` (the configuration is refused without it).
    pub destination_root: Option<String>,
}

/// A parsed `destination_root`: where writes for a peer may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DestinationRoot {
    /// `Some(host)` for rsync over ssh (`host:/path`).
    pub host: Option<String>,
    /// `Some(UUID)` for the peer's Globus collection (`globus:UUID:/path`, the path
    /// being in that collection).
    pub collection: Option<String>,
    /// The absolute directory.
    pub path: std::path::PathBuf,
}

impl DestinationRoot {
    /// Parse `"/abs/path"`, `"host:/abs/path"` or `"globus:UUID:/path"`; the path must
    /// be absolute with no `.`/`..` components.
    pub(crate) fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Err(Error::invalid("destination_root", format!("destination_root {s:?}: {why}")));
        if let Some(rest) = s.strip_prefix("globus:") {
            let Some((collection, path)) = rest.split_once(':') else {
                return bad("a Globus destination_root is globus:COLLECTION-UUID:/path");
            };
            let Ok(collection) = uuid::Uuid::parse_str(collection) else {
                return bad("the Globus collection is not a UUID");
            };
            let path = std::path::PathBuf::from(path);
            if let Err(why) = plain_absolute(&path) {
                return bad(why);
            }
            return Ok(DestinationRoot { host: None, collection: Some(collection.hyphenated().to_string()), path });
        }
        let (host, path) = match s.split_once(':') {
            Some((h, p)) if !s.starts_with('/') => (Some(h.to_owned()), p),
            _ => (None, s),
        };
        if let Some(h) = &host
            && !plain_host(h)
        {
            return bad("not a plain host name before ':'");
        }
        let path = std::path::PathBuf::from(path);
        if let Err(why) = plain_absolute(&path) {
            return bad(why);
        }
        Ok(DestinationRoot { host, collection: None, path })
    }
}

/// An absolute path with no `.` or `..` components (else why not).
pub(crate) fn plain_absolute(path: &std::path::Path) -> std::result::Result<(), &'static str> {
    if !path.is_absolute() {
        return Err("not an absolute path");
    }
    if path.components().any(|c| !matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_))) {
        return Err("it has '.' or '..' components");
    }
    Ok(())
}

impl CloneConfig {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == CloneConfig::default()
    }

    /// The managers, parsed, in order of preference.
    pub fn manager_kinds(&self) -> Result<Vec<ManagerKind>> {
        self.managers
            .iter()
            .map(|m| match m.parse()? {
                ManagerKind::Sneakernet => {
                    Err(Error::invalid("clone.managers", "clone.managers: sneakernet is not a network manager"))
                }
                k => Ok(k),
            })
            .collect()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.manager_kinds()?;
        crate::model::parse_interval(&self.stale_after)?;
        if self.batch_files == 0 || self.batch_bytes == 0 || self.batches_per_run == 0 || self.receive_per_run == 0 {
            return Err(Error::invalid(
                "clone",
                "clone.batch_files, batch_bytes, batches_per_run and receive_per_run must be at least 1",
            ));
        }
        if self.max_stage_items == 0 || self.max_outstanding_transfers == 0 || self.max_outstanding_bytes == 0 {
            return Err(Error::invalid(
                "clone",
                "clone.max_stage_items, max_outstanding_transfers and max_outstanding_bytes must be at least 1",
            ));
        }
        if self.max_stage_items > crate::model::MAX_STAGE_ITEMS {
            return Err(Error::invalid(
                "clone",
                format!("clone.max_stage_items must be at most {}", crate::model::MAX_STAGE_ITEMS),
            ));
        }
        if self.max_batch_attempts == 0 {
            return Err(Error::invalid("clone.max_batch_attempts", "clone.max_batch_attempts must be at least 1"));
        }
        if let Some(local) = &self.local {
            local.validate()?;
        }
        for (peer, to) in &self.to {
            crate::config::validate_site_name(peer)?;
            if let Some(age) = &to.max_age {
                crate::model::parse_interval(age)?;
            }
            match &to.destination_root {
                Some(root) => {
                    DestinationRoot::parse(root)?;
                }
                None => {
                    return Err(Error::invalid(
                        "clone.to",
                        format!(
                            "[clone.to.{peer}] needs destination_root: the directory (or host:/directory for rsync \
                         over ssh) below which this site may write {peer}'s staged data; see docs/cloning.md"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
/// A plain host name (optionally `user@`) for rsync over ssh: nothing an option parser
/// or a shell could take for something else.
pub(crate) fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('-')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@' | b'[' | b']'))
}
