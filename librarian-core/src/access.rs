//! Who may call this site (accounts) and whom this site calls (peers).

use std::sync::OnceLock;

use jiff::Timestamp;

use crate::config::validate_site_name;
use crate::error::{Error, Result};
use crate::model::Peer;
use crate::model::{Account, Level, Password};
use crate::peer::ClientTls;
use crate::peer::client::PeerClient;
use crate::site::Site;

/// The result of [`Librarian::ping_peer`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeerPing {
    /// The peer's name here.
    pub peer: String,
    /// Its URL.
    pub url: String,
    /// The site name it answers with (equal to `peer`, or the ping fails).
    pub site: String,
    /// Its librarian version.
    pub version: String,
    /// Milliseconds for the unauthenticated ping.
    pub latency_ms: f64,
}

fn validate_account_name(name: &str) -> Result<()> {
    validate_site_name(name).map_err(|_| {
        Error::invalid("account name", format!(
            "account name {name:?} must be 1-64 characters of letters, digits, '.', '_' or '-', not starting with '.'"
        ))
    })
}

/// A hash to check against when the account does not exist, so that an unknown
/// account costs the same time as a wrong password.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| Password::new("decoy-password".into()).and_then(|p| crate::model::hash_password(&p)).ok())
        .as_deref()
}

/// Add an account that may call this site. `callback` accounts must name the peer
/// they belong to; other levels may.
pub(crate) fn add_account(
    site: &Site,
    name: &str,
    level: Level,
    for_peer: Option<&str>,
    password: &Password,
) -> Result<Account> {
    validate_account_name(name)?;
    if level == Level::Callback && for_peer.is_none() {
        return Err(Error::invalid(
            "for_peer",
            "a callback account must belong to a peer: name it (--for-peer PEER, for_peer=...)",
        ));
    }
    let hash = crate::model::hash_password(password)?;
    site.catalog().insert_account(name, &hash, level, for_peer, Timestamp::now())?;
    site.catalog()
        .account_with_hash(name)?
        .map(|(a, _)| a)
        .ok_or_else(|| Error::NotFound { kind: crate::error::ObjectKind::Account, name: name.to_owned() })
}

/// All accounts (never their password hashes).
pub(crate) fn accounts(site: &Site) -> Result<Vec<Account>> {
    site.catalog().accounts()
}

/// Remove an account.
pub(crate) fn remove_account(site: &Site, name: &str) -> Result<()> {
    site.catalog().delete_account(name)
}

/// Check a name and password (argon2id). Unknown account and wrong password both
/// give [`Error::Unauthorized`], after the same amount of work.
pub(crate) fn authenticate(site: &Site, name: &str, password: &Password) -> Result<Account> {
    let unauthorized = || Error::Unauthorized { account: name.to_owned() };
    match site.catalog().account_with_hash(name)? {
        Some((acct, hash)) if crate::model::verify_password(&hash, password) => Ok(acct),
        Some(_) => Err(unauthorized()),
        None => {
            if let Some(decoy) = decoy_hash() {
                let _ = crate::model::verify_password(decoy, password);
            }
            Err(unauthorized())
        }
    }
}

/// Add a peer: its shim's base URL, and the account and password we use there.
pub(crate) fn add_peer(site: &Site, name: &str, url: &str, account_at_peer: &str, password: &Password) -> Result<Peer> {
    validate_site_name(name)?;
    validate_account_name(account_at_peer)?;
    let url = crate::model::normalise_url(url)?;
    site.catalog().insert_peer(name, &url, account_at_peer, password, Timestamp::now())?;
    Ok(site.catalog().peer_with_password(name)?.0)
}

/// One peer (never the password we use there).
pub(crate) fn peer(site: &Site, name: &str) -> Result<Peer> {
    Ok(site.catalog().peer_with_password(name)?.0)
}

/// All peers (never the passwords we use there).
pub(crate) fn peers(site: &Site) -> Result<Vec<Peer>> {
    site.catalog().peers()
}

/// Remove a peer; refused ([`Error::InvalidArgument`], naming what blocks it) while
/// accounts belong to it, calls to it are queued, or any transfer with it is on
/// record: the history of what was copied where is kept, so a peer that ever
/// exchanged a file is disabled (`set_peer_transfers(name, false)`), not removed.
pub(crate) fn remove_peer(site: &Site, name: &str) -> Result<()> {
    site.catalog().delete_peer(name)
}

/// Check a peer: it answers `ping` as the site we call it, and accepts our
/// credentials. [`Error::PeerUnreachable`] when it cannot be reached,
/// [`Error::PeerRefused`] when it answers but refuses (or is another site).
pub(crate) fn ping_peer(site: &Site, name: &str) -> Result<PeerPing> {
    let client = peer_client(site, name)?;
    let peer = client.peer().clone();
    let started = std::time::Instant::now();
    let crate::peer::client::PingAnswer { site, version, .. } = client.ping()?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if site != peer.name {
        return Err(Error::PeerRefused {
            peer: peer.name.clone(),
            status: 200,
            code: "wrong_site".into(),
            message: format!("{} answers as site {site:?}, not {:?}", peer.url, peer.name),
        });
    }
    // Every account a peer gives us may call this, whatever its level.
    client.whoami()?;
    Ok(PeerPing { peer: peer.name, url: peer.url, site, version, latency_ms })
}

/// A client for peer `name`, with the password we use there and the trust roots of
/// the site's `[client]` table (`ca_bundle`, read now). [`Error::InvalidArgument`]
/// for a stored plain `http://` URL to a host that is not loopback;
/// [`Error::Config`] for an unreadable CA bundle.
pub(crate) fn peer_client(site: &Site, name: &str) -> Result<PeerClient> {
    let (peer, password) = site.catalog().peer_with_password(name)?;
    let tls = ClientTls::load(&site.config().client, site.config_path())?;
    Ok(PeerClient::new(peer, &password, &tls)?.calling_as(&site.config().name))
}

/// Allow (`true`) or stop (`false`) new transfers to a peer.
/// Point peer `name` at `url` (checked as `peer add` checks it). Its account,
/// password, history and queued calls stay; queued calls go to the new URL.
pub(crate) fn set_peer_url(site: &Site, name: &str, url: &str) -> Result<Peer> {
    let url = crate::model::normalise_url(url)?;
    site.catalog().set_peer_url(name, &url)
}

/// Speak `protocol` to peer `name`: `original-v2` for a site that still runs the
/// original Librarian (its calls are then answered under `/api/v2`, ours go there).
pub(crate) fn set_peer_protocol(site: &Site, name: &str, protocol: crate::model::PeerProtocol) -> Result<Peer> {
    site.catalog().set_peer_protocol(name, protocol)
}

pub(crate) fn set_peer_transfers(site: &Site, name: &str, enabled: bool) -> Result<Peer> {
    site.catalog().set_peer_transfers(name, enabled)
}

#[cfg(test)]
mod tests {
    use crate::{Error, Level, Librarian, Password};

    fn site() -> (tempfile::TempDir, Librarian) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = Librarian::init(&dir.path().join("s"), "site-a").expect("init");
        (dir, lib)
    }

    fn pw(s: &str) -> Password {
        Password::new(s.into()).expect("password")
    }

    #[test]
    fn accounts_authenticate_and_reject() {
        let (_d, lib) = site();
        let a = lib.add_account("alice", Level::ReadAppend, None, &pw("s3cret-alice")).expect("add");
        assert_eq!((a.name.as_str(), a.level, a.peer.as_deref()), ("alice", Level::ReadAppend, None));
        assert_eq!(lib.authenticate("alice", &pw("s3cret-alice")).expect("auth").level, Level::ReadAppend);
        assert!(matches!(lib.authenticate("alice", &pw("wrong")), Err(Error::Unauthorized { .. })));
        assert!(matches!(lib.authenticate("nobody", &pw("s3cret-alice")), Err(Error::Unauthorized { .. })));
        assert!(matches!(lib.add_account("alice", Level::Admin, None, &pw("x")), Err(Error::AlreadyExists { .. })));
        assert!(matches!(
            lib.add_account("bad name", Level::Admin, None, &pw("x")),
            Err(Error::InvalidArgument { .. })
        ));
        lib.remove_account("alice").expect("remove");
        assert!(matches!(lib.authenticate("alice", &pw("s3cret-alice")), Err(Error::Unauthorized { .. })));
        assert!(matches!(lib.remove_account("alice"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn callback_accounts_belong_to_a_peer_and_pin_it() {
        let (_d, lib) = site();
        assert!(matches!(lib.add_account("cb", Level::Callback, None, &pw("x")), Err(Error::InvalidArgument { .. })));
        assert!(matches!(
            lib.add_account("cb", Level::Callback, Some("site-b"), &pw("x")),
            Err(Error::NotFound { .. })
        ));
        let p = lib.add_peer("site-b", "https://b.example:8443/", "site-a-at-b", &pw("pw-at-b")).expect("peer");
        assert_eq!(p.url, "https://b.example:8443");
        let cb = lib.add_account("cb", Level::Callback, Some("site-b"), &pw("x")).expect("cb");
        assert_eq!(cb.peer.as_deref(), Some("site-b"));
        assert!(matches!(lib.remove_peer("site-b"), Err(Error::InvalidArgument { .. })), "accounts pin their peer");
        lib.remove_account("cb").expect("remove account");
        let off = lib.set_peer_transfers("site-b", false).expect("disable");
        assert!(!off.transfers_enabled);
        let (_, secret) = lib.catalog().peer_with_password("site-b").expect("secret");
        assert_eq!(secret.expose(), "pw-at-b");
        lib.remove_peer("site-b").expect("remove peer");
        assert!(lib.peers().expect("peers").is_empty());
        assert!(matches!(lib.add_peer("x", "ftp://x", "a", &pw("p")), Err(Error::InvalidArgument { .. })));
    }
}
