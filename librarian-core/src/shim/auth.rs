//! HTTP Basic authentication against the site's accounts, with a cache so argon2
//! does not run on every request.
//!
//! A cache entry remembers, for one account name: a keyed BLAKE3 digest of the
//! password that was verified (the key is random per process, so the digest is
//! useless outside it), the account's stored argon2 hash at that time, and an expiry.
//! A request is accepted from the cache only if the account still exists with the
//! *same* stored hash (so a removed account, or a changed password, is re-checked)
//! and the supplied password has the same digest (so a wrong password is never
//! accepted). Everything else goes through argon2.
//!
//! argon2 is expensive on purpose, so it is also rationed ([`Guard`]):
//!
//! - at most [`Guard::max_checks`] argon2 verifications run at once (half the CPUs,
//!   at least one); the others wait for a turn *without* holding one of the server's
//!   catalog workers, so `ping` and requests whose credentials are cached are never
//!   queued behind them; a turn not given within [`CHECK_WAIT`] is answered 503
//!   `busy` with `Retry-After`;
//! - each client (an IPv4 address, or the /64 of an IPv6 one) may fail
//!   `[server] auth_free_failures` times (default 5); after that each further attempt of that client that
//!   needs argon2 waits 1 s after its last failure, then 2 s, 4 s, ... up to
//!   [`MAX_BACKOFF`]; an attempt inside that window is answered 429
//!   `too_many_attempts` with `Retry-After`, without running argon2. The count is
//!   forgotten [`FORGET_AFTER`] after the last failure. Credentials found in the cache
//!   are accepted whatever the back-off, so an attacker sharing an address with a
//!   legitimate peer cannot lock it out while its credentials are cached, and cannot
//!   lock out a peer on another address at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::response::ApiError;
use crate::librarian::Librarian;
use crate::model::{Account, Password};

/// Longest wait imposed after a failure.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A client's failures are forgotten this long after its last one.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Longest wait for a turn to run argon2.
pub(crate) const CHECK_WAIT: Duration = Duration::from_secs(10);
/// Clients whose failures are remembered at once (the oldest is forgotten first).
const MAX_TRACKED: usize = 4096;

/// The back-off key of a client: its IPv4 address, or the /64 of its IPv6 address
/// (one host often owns a whole /64).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::V6(o.into())
        }
        v4 => v4,
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Rations argon2: failed-attempt back-off per client, and a bound on concurrent checks.
#[derive(Debug)]
pub(crate) struct Guard {
    failures: Mutex<HashMap<IpAddr, Failures>>,
    running: Mutex<usize>,
    freed: Condvar,
    max_checks: usize,
    free_failures: u32,
}

/// A turn to run argon2; given back when dropped.
struct Turn<'g>(&'g Guard);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *running = running.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

impl Guard {
    /// At most `max_checks` (at least 1) argon2 verifications at once; a client is
    /// slowed down after `free_failures` failures.
    pub fn new(max_checks: usize, free_failures: u32) -> Guard {
        Guard {
            failures: Mutex::new(HashMap::new()),
            running: Mutex::new(0),
            freed: Condvar::new(),
            max_checks: max_checks.max(1),
            free_failures,
        }
    }

    /// Half the CPUs, at least one.
    pub fn max_checks() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
    }

    /// How long `ip` must still wait before its next attempt (`None`: it may try).
    fn backoff(&self, ip: IpAddr) -> Option<Duration> {
        let f = *self.failures.lock().unwrap_or_else(|p| p.into_inner()).get(&client_key(ip))?;
        let now = Instant::now();
        if f.count < self.free_failures || now.duration_since(f.last) > FORGET_AFTER {
            return None;
        }
        let delay = Duration::from_secs(1u64 << (f.count - self.free_failures).min(6)).min(MAX_BACKOFF);
        let left = (f.last + delay).saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let f = map.entry(client_key(ip)).or_insert(Failures { count: 0, last: now });
        if now.duration_since(f.last) > FORGET_AFTER {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if map.len() > MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.last) <= FORGET_AFTER);
            while map.len() > MAX_TRACKED {
                let Some(oldest) = map.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k) else { break };
                map.remove(&oldest);
            }
        }
    }

    /// Wait (at most [`CHECK_WAIT`]) for a turn to run argon2.
    fn turn(&self) -> Option<Turn<'_>> {
        let until = Instant::now() + CHECK_WAIT;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= self.max_checks {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            running = self.freed.wait_timeout(running, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        *running += 1;
        Some(Turn(self))
    }
}

fn too_many(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        429,
        "too_many_attempts",
        format!("too many failed authentications from this address; try again in {secs} s"),
    )
    .retry_after(secs)
}

/// A hash to check when the account does not exist, so that an unknown account costs
/// the same time as a wrong password.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| Password::new("decoy-password".into()).and_then(|p| crate::model::hash_password(&p)).ok())
        .as_deref()
}

/// Verified credentials, per account name.
#[derive(Debug)]
pub(crate) struct CredentialCache {
    ttl: Duration,
    key: [u8; 32],
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    digest: [u8; 32],
    stored_hash: String,
    account: Account,
    expires: Instant,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        CredentialCache { ttl, key, entries: Mutex::new(HashMap::new()) }
    }

    fn digest(&self, password: &Password) -> [u8; 32] {
        *blake3::keyed_hash(&self.key, password.expose().as_bytes()).as_bytes()
    }

    /// Authenticate `name`/`password`: from the cache when it is safe, else argon2.
    pub fn authenticate(&self, lib: &Librarian, name: &str, password: &Password) -> Result<Account, ApiError> {
        let Some((_, stored_hash)) = lib.site().catalog().account_with_hash(name).map_err(ApiError::from)? else {
            // Same work as a wrong password, so unknown names cannot be told apart.
            let _ = lib.authenticate(name, password);
            return Err(ApiError::unauthorized());
        };
        let digest = self.digest(password);
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get(name)
                && e.stored_hash == stored_hash
                && e.digest == digest
                && e.expires > Instant::now()
            {
                return Ok(e.account.clone());
            }
        }
        let account = lib.authenticate(name, password).map_err(ApiError::from)?;
        if !self.ttl.is_zero()
            && let Some(expires) = Instant::now().checked_add(self.ttl)
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.insert(name.to_owned(), Entry { digest, stored_hash, account: account.clone(), expires });
        }
        Ok(account)
    }

    /// The account of `name`/`password` if the cache may accept it: `found` (the
    /// account and its stored hash, as the catalog has them now) has the hash that
    /// was verified, the password has the same digest, and the entry has not expired.
    pub fn cached(&self, name: &str, password: &Password, found: Option<&(Account, String)>) -> Option<Account> {
        let (_, stored_hash) = found?;
        let digest = self.digest(password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(name)?;
        (e.stored_hash == *stored_hash && e.digest == digest && e.expires > Instant::now()).then(|| e.account.clone())
    }

    /// Authenticate `name`/`password` from `client` with argon2, under the
    /// [`Guard`]'s rules (call [`CredentialCache::cached`] first; this runs without a
    /// catalog worker). `found` is the account and its stored hash.
    pub fn verify(
        &self,
        guard: &Guard,
        client: Option<IpAddr>,
        name: &str,
        password: &Password,
        found: Option<(Account, String)>,
    ) -> Result<Account, ApiError> {
        let digest = self.digest(password);
        let waiting = || client.and_then(|ip| guard.backoff(ip));
        if let Some(wait) = waiting() {
            return Err(too_many(wait));
        }
        let Some(_turn) = guard.turn() else {
            return Err(ApiError::busy("too many password checks at once; try again later"));
        };
        // Failures may have been recorded while this one waited for its turn.
        if let Some(wait) = waiting() {
            return Err(too_many(wait));
        }
        let verified = match found {
            Some((account, stored_hash)) if crate::model::verify_password(&stored_hash, password) => {
                Some((account, stored_hash))
            }
            Some(_) => None,
            None => {
                if let Some(decoy) = decoy_hash() {
                    let _ = crate::model::verify_password(decoy, password);
                }
                None
            }
        };
        let Some((account, stored_hash)) = verified else {
            if let Some(ip) = client {
                guard.failed(ip);
            }
            return Err(ApiError::unauthorized());
        };
        if !self.ttl.is_zero()
            && let Some(expires) = Instant::now().checked_add(self.ttl)
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.insert(name.to_owned(), Entry { digest, stored_hash, account: account.clone(), expires });
        }
        Ok(account)
    }
}

/// The `(account, password)` of an `Authorization: Basic ...` header value. `None`
/// when the header is absent; an error when it is malformed.
pub(crate) fn parse_basic(value: Option<&str>) -> Result<Option<(String, Password)>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let malformed = || ApiError::bad_request("malformed Authorization header: expected Basic base64(account:password)");
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    // The password may contain ':'; the account name may not.
    let (name, password) = text.split_once(':').ok_or_else(malformed)?;
    let password = Password::new(password.to_owned()).map_err(|_| ApiError::unauthorized())?;
    Ok(Some((name.to_owned(), password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn basic_headers() {
        assert!(matches!(parse_basic(None), Ok(None)));
        let ok = parse_basic(Some(&format!("Basic {}", b64("alice:pa:ss")))).ok().flatten();
        assert_eq!(ok.map(|(n, p)| (n, p.expose().to_owned())), Some(("alice".into(), "pa:ss".into())));
        for bad in ["Basic", "Basic !!!", &format!("Basic {}", b64("no-colon"))] {
            assert!(matches!(parse_basic(Some(bad)), Err(ApiError { status: 400, .. })), "{bad}");
        }
        assert!(matches!(parse_basic(Some("Bearer x")), Err(ApiError { status: 401, .. })));
    }

    #[test]
    fn failures_back_off_per_client_after_the_free_ones() {
        let guard = Guard::new(1, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        guard.failed(ip);
        assert!(guard.backoff(ip).is_none(), "the first failures are free");
        guard.failed(ip);
        let wait = guard.backoff(ip).unwrap();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        guard.failed(ip);
        assert!(guard.backoff(ip).unwrap() > Duration::from_millis(1900), "then 2 s");
        for _ in 0..20 {
            guard.failed(ip);
        }
        assert!(guard.backoff(ip).unwrap() <= MAX_BACKOFF, "capped");
        assert!(guard.backoff(other).is_none(), "another client is not slowed down");
        // One IPv6 host usually owns its /64.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        guard.failed(v6);
        guard.failed("2001:db8::2".parse().unwrap());
        assert!(guard.backoff("2001:db8::3".parse().unwrap()).is_some());
    }

    #[test]
    fn argon2_turns_are_bounded() {
        let guard = Guard::new(2, 5);
        let a = guard.turn();
        let b = guard.turn();
        assert!(a.is_some() && b.is_some());
        assert_eq!(*guard.running.lock().unwrap(), 2);
        drop(a);
        assert!(guard.turn().is_some(), "a turn given back is given again");
        drop(b);
        assert_eq!(*guard.running.lock().unwrap(), 0);
    }
}
