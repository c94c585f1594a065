//! Values of an import from the original (Python) Librarian (issue 14): how its
//! times, levels, policies and statuses read here, its paths remapped, and the
//! report of what an import brought, skipped and could not carry over.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::{DeletionPolicy, Level, TransferStatus};
use crate::error::{Error, Result};

/// A time as the original stores it: naive UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]`
/// (SQLAlchemy drops the zone of `datetime.now(timezone.utc)`), a `T` separator and
/// a trailing offset (`Z`, `+00:00`) accepted too.
pub fn parse_original_time(text: &str) -> Result<Timestamp> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil: jiff::civil::DateTime =
        t.parse().map_err(|e| Error::corrupt("the original catalog", format!("the time {t:?} does not parse: {e}")))?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| Error::corrupt("the original catalog", format!("the time {t:?} is out of range: {e}")))
}

/// What a user of the original becomes here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMapping {
    /// This level (for `callback` and peer accounts, the peer of the same name).
    Level(Level),
    /// A callback account with no peer of its name: it keeps reading (`CALLBACK`
    /// ranks above `READONLY` in the original).
    CallbackWithoutPeer,
    /// Not imported (`NONE`: it could only ping).
    NotImported,
}

/// The level of a user of the original (`auth_level`, its member name).
/// `READWRITE` grants nothing beyond `READAPPEND` in the original, so both are
/// `read-append`. `None` for a name the original does not have.
pub fn map_level(auth_level: &str, has_peer: bool) -> Option<LevelMapping> {
    Some(match auth_level.trim() {
        "ADMIN" => LevelMapping::Level(Level::Admin),
        "READWRITE" | "READAPPEND" => LevelMapping::Level(Level::ReadAppend),
        "READONLY" => LevelMapping::Level(Level::ReadOnly),
        "CALLBACK" if has_peer => LevelMapping::Level(Level::Callback),
        "CALLBACK" => LevelMapping::CallbackWithoutPeer,
        "NONE" => LevelMapping::NotImported,
        _ => return None,
    })
}

/// A deletion policy of the original: its member name in the database, `0`/`1` on
/// its wire and manifests.
pub fn map_policy(text: &str) -> Option<DeletionPolicy> {
    match text.trim() {
        "DISALLOWED" | "0" => Some(DeletionPolicy::Disallowed),
        "ALLOWED" | "1" => Some(DeletionPolicy::Allowed),
        _ => None,
    }
}

/// A transfer status of the original (its member name): the same six states.
pub fn map_status(text: &str) -> Option<TransferStatus> {
    Some(match text.trim() {
        "INITIATED" => TransferStatus::Initiated,
        "ONGOING" => TransferStatus::Ongoing,
        "STAGED" => TransferStatus::Staged,
        "COMPLETED" => TransferStatus::Completed,
        "FAILED" => TransferStatus::Failed,
        "CANCELLED" => TransferStatus::Cancelled,
        _ => return None,
    })
}

/// The URL of a peer of the original: it keeps scheme and host in `url` and the
/// port apart, and calls `<scheme>://<host>:<port><path>`.
pub fn original_peer_url(url: &str, port: i64) -> Result<String> {
    let bad = |why: &str| Error::invalid("peer url", format!("{url:?} (port {port}): {why}"));
    let (scheme, rest) = url.trim().split_once("://").ok_or_else(|| bad("no scheme"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("no host, or credentials in it"));
    }
    let has_port = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').is_some_and(|(_, after)| !after.is_empty()),
        None => authority.contains(':'),
    };
    if has_port {
        return Err(bad("the host already carries a port"));
    }
    if !(1..=65535).contains(&port) {
        return Err(bad("the port is out of range"));
    }
    Ok(format!("{scheme}://{authority}:{port}{path}"))
}

/// `--map-prefix OLD=NEW`, repeatable: where the original's absolute paths are now.
/// The longest `OLD` that is a whole-component prefix of a path wins (`/srv/so` does
/// not match `/srv/so-librarian`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixMap(Vec<(PathBuf, PathBuf)>);

impl PrefixMap {
    /// Parse `OLD=NEW` pairs; both must be absolute.
    pub fn parse(pairs: &[String]) -> Result<Self> {
        let mut out = Vec::new();
        for p in pairs {
            let (old, new) =
                p.split_once('=').ok_or_else(|| Error::invalid("--map-prefix", format!("{p:?} is not OLD=NEW")))?;
            let (old, new) = (PathBuf::from(old), PathBuf::from(new));
            if !old.is_absolute() || !new.is_absolute() {
                return Err(Error::invalid("--map-prefix", format!("{p:?}: both paths must be absolute")));
            }
            out.push((old, new));
        }
        out.sort_by_key(|(old, _)| std::cmp::Reverse(old.components().count()));
        Ok(PrefixMap(out))
    }

    /// `path` with the longest matching prefix replaced (unchanged when none matches).
    pub fn map(&self, path: &Path) -> PathBuf {
        for (old, new) in &self.0 {
            if let Ok(rest) = path.strip_prefix(old) {
                return if rest.as_os_str().is_empty() { new.clone() } else { new.join(rest) };
            }
        }
        path.to_owned()
    }
}

/// What happened to one kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportTally {
    /// Stores.
    pub stores: u64,
    /// Peers.
    pub peers: u64,
    /// Accounts.
    pub accounts: u64,
    /// Files (books included).
    pub files: u64,
    /// Of them, books.
    pub books: u64,
    /// Instances.
    pub instances: u64,
    /// Remote instances.
    pub remote_instances: u64,
    /// Transfers (history and resumed).
    pub transfers: u64,
    /// Events.
    pub events: u64,
}

/// A row of the original not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// The original's table.
    pub table: String,
    /// The row (its id or name).
    pub row: String,
    /// Why.
    pub reason: String,
}

/// What became of a transfer in flight in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InFlightAction {
    /// Carried on here with the original's id (a SneakerNet drive copy: the drive's
    /// manifest quotes the id and the receiver's callback will name it).
    Resumed,
    /// Recorded here as failed, with why; the file is left for the next clone round
    /// (or a drive).
    Failed,
    /// Not recorded (an upload: this site keeps no upload history); its staging
    /// directory is named.
    NotCarried,
}

impl InFlightAction {
    all_variants!(
        /// Every action.
        Resumed, Failed, NotCarried
    );

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InFlightAction::Resumed => "resumed",
            InFlightAction::Failed => "failed",
            InFlightAction::NotCarried => "not_carried",
        }
    }
}

/// A transfer in flight in the original at the import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InFlight {
    /// `outgoing`, `incoming` (a clone received) or `upload`.
    pub direction: String,
    /// Its id in the original.
    pub original_id: i64,
    /// The file.
    pub file: String,
    /// The peer or uploading user.
    pub party: String,
    /// Its status there.
    pub status: String,
    /// What the import did.
    pub action: InFlightAction,
    /// Why, and what is left (a staging directory).
    pub detail: String,
}

/// A name the target site already holds differently: the import is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportConflict {
    /// `store`, `peer`, `account`, `file` or `transfer`.
    pub kind: String,
    /// Its name (or id).
    pub name: String,
    /// What this site holds.
    pub existing: String,
    /// What the original holds.
    pub incoming: String,
}

/// Rows per table of the source (`None`: no such table there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OriginalCounts {
    /// `files`.
    pub files: Option<u64>,
    /// `instances`.
    pub instances: Option<u64>,
    /// `remote_instances`.
    pub remote_instances: Option<u64>,
    /// `users`.
    pub users: Option<u64>,
    /// `librarians`.
    pub librarians: Option<u64>,
    /// `store_metadata`.
    pub stores: Option<u64>,
    /// `incoming_transfers`.
    pub incoming_transfers: Option<u64>,
    /// `outgoing_transfers`.
    pub outgoing_transfers: Option<u64>,
    /// `clone_transfers`.
    pub clone_transfers: Option<u64>,
    /// `send_queue`.
    pub send_queue: Option<u64>,
    /// `completed_transfers`.
    pub completed_transfers: Option<u64>,
    /// `corrupt_files`.
    pub corrupt_files: Option<u64>,
    /// `errors`.
    pub errors: Option<u64>,
}

/// What `import-original` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginalImportReport {
    /// The source (a URL without its password).
    pub source: String,
    /// The source's alembic head.
    pub alembic_version: String,
    /// The original site's name (from `--original-config`), when given.
    pub original_site: Option<String>,
    /// Nothing was written.
    pub dry_run: bool,
    /// The rows of the source, per table.
    pub source_rows: OriginalCounts,
    /// Rows added to this site.
    pub added: ImportTally,
    /// Rows already here, identical (a re-run adds nothing).
    pub present: ImportTally,
    /// Instances added, per state (`ok`, `corrupt`, `missing`, `retired`, `deleted`).
    pub instance_states: std::collections::BTreeMap<String, u64>,
    /// Rows not imported, with why.
    pub skipped: Vec<SkippedRow>,
    /// Transfers in flight in the original, and what became of each.
    pub in_flight: Vec<InFlight>,
    /// Kinds of rows this site has no place for, with their numbers.
    pub not_carried: Vec<(String, u64)>,
    /// What an operator should know (mappings that change meaning).
    pub notes: Vec<String>,
    /// Names this site holds differently: when not empty, nothing was (or would be)
    /// written.
    pub conflicts: Vec<ImportConflict>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_times_read_as_utc() {
        let t = parse_original_time("2026-12-02 03:19:27.439426").expect("time");
        assert_eq!(t.as_microsecond(), 1_796_181_567_439_426);
        assert_eq!(
            parse_original_time("2026-12-02 03:19:27").expect("no fraction").as_microsecond(),
            1_796_181_567_000_000
        );
        assert_eq!(parse_original_time("2026-12-02T03:19:27.4394").expect("T").as_microsecond(), 1_796_181_567_439_400);
        assert_eq!(
            parse_original_time("2026-12-02 03:19:27+00:00").expect("offset").as_microsecond(),
            1_796_181_567_000_000
        );
        assert_eq!(parse_original_time("yesterday").expect_err("garbage").code(), "corrupt");
    }

    #[test]
    fn levels_policies_and_statuses_map_by_member_name() {
        assert_eq!(map_level("ADMIN", false), Some(LevelMapping::Level(Level::Admin)));
        assert_eq!(map_level("READWRITE", false), Some(LevelMapping::Level(Level::ReadAppend)));
        assert_eq!(map_level("READAPPEND", true), Some(LevelMapping::Level(Level::ReadAppend)));
        assert_eq!(map_level("READONLY", false), Some(LevelMapping::Level(Level::ReadOnly)));
        assert_eq!(map_level("CALLBACK", true), Some(LevelMapping::Level(Level::Callback)));
        assert_eq!(map_level("CALLBACK", false), Some(LevelMapping::CallbackWithoutPeer));
        assert_eq!(map_level("NONE", false), Some(LevelMapping::NotImported));
        assert_eq!(map_level("ROOT", false), None);
        assert_eq!(map_policy("DISALLOWED"), Some(DeletionPolicy::Disallowed));
        assert_eq!(map_policy("1"), Some(DeletionPolicy::Allowed));
        assert_eq!(map_policy("maybe"), None);
        assert_eq!(map_status("STAGED"), Some(TransferStatus::Staged));
        assert_eq!(map_status("staged"), None);
    }

    #[test]
    fn peer_urls_get_their_port_after_the_host() {
        assert_eq!(original_peer_url("http://127.0.0.1", 18902).expect("url"), "http://127.0.0.1:18902");
        assert_eq!(
            original_peer_url("https://lib.example.org/api", 443).expect("path"),
            "https://lib.example.org:443/api"
        );
        assert_eq!(original_peer_url("http://[::1]", 80).expect("v6"), "http://[::1]:80");
        assert!(original_peer_url("http://127.0.0.1:80", 80).is_err());
        assert!(original_peer_url("http://[::1]:80", 80).is_err());
        assert!(original_peer_url("127.0.0.1", 80).is_err());
        assert!(original_peer_url("http://u:p@host", 80).is_err());
        assert!(original_peer_url("http://host", 0).is_err());
    }

    #[test]
    fn in_flight_actions_are_spelled_as_in_json() {
        for a in InFlightAction::ALL {
            assert_eq!(serde_json::to_value(a).expect("json"), serde_json::json!(a.as_str()));
        }
    }

    #[test]
    fn the_longest_whole_component_prefix_wins() {
        let m =
            PrefixMap::parse(&["/srv/so=/x".into(), "/srv/so-librarian=/new".into(), "/srv/so-librarian/a=/a".into()])
                .expect("map");
        assert_eq!(m.map(Path::new("/srv/so-librarian/b/f")), PathBuf::from("/new/b/f"));
        assert_eq!(m.map(Path::new("/srv/so-librarian/a/f")), PathBuf::from("/a/f"));
        assert_eq!(m.map(Path::new("/srv/so/f")), PathBuf::from("/x/f"));
        assert_eq!(m.map(Path::new("/srv/so-librarian")), PathBuf::from("/new"));
        assert_eq!(m.map(Path::new("/elsewhere/f")), PathBuf::from("/elsewhere/f"));
        assert!(PrefixMap::parse(&["relative=/x".into()]).is_err());
        assert!(PrefixMap::parse(&["/no-equals".into()]).is_err());
    }
}
