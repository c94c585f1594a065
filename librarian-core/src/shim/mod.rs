//! The HTTP shim: a small synchronous server through which other Librarians (and
//! monitoring) talk to this site. `librarian serve` is a thin wrapper around
//! [`Shim::bind`] and [`Shim::run`].
//!
//! - HTTPS in process ([`tls`]: rustls with the `ring` provider) when `[server]
//!   tls_cert` and `tls_key` are set; plain HTTP otherwise, which [`Shim::bind`] allows
//!   only on a loopback address unless `insecure_plain_http = true` (sites send HTTP
//!   Basic credentials, which must not cross a network in clear);
//! - an acceptor thread that never reads from or writes to a client, and one thread
//!   per connection, whose reads obey a per-read timeout and deadlines (the whole TLS
//!   handshake and the whole request head within `head_timeout_secs`, a body at
//!   `min_body_rate`, an idle keep-alive connection for `idle_timeout_secs`), so a
//!   slow or silent client holds only its own thread, and not for long;
//! - caps: `max_waiting_per_client` connections waiting for a request head per client
//!   address (IPv6: /64) and `max_connections` in all; over either, the oldest
//!   waiting connection is closed to make room (over a client's share, only one that
//!   has waited [`EVICTION_MIN_AGE`]), and with none to close the new connection gets
//!   503 `busy` with `Retry-After`
//!   (see docs/security.md, "The HTTP layer", for why this keeps a well-behaved
//!   client served even when an attacker shares its address);
//! - a bounded pool of `workers` catalog handles: at most that many requests are
//!   processed at once, each with its own SQLite connection;
//! - HTTP Basic auth against the site's accounts (argon2id), with verified
//!   credentials cached in memory, argon2 run outside the worker pool a few at a
//!   time, and a per-client back-off after failures ([`auth`]);
//! - panics in connection threads, handlers and the scheduler are caught, so none can
//!   change the exit status of a clean stop;
//! - limits on request head and body size;
//! - JSON errors with a stable `code` and the right status; a client's mistake is
//!   never a 500;
//! - graceful stop: when the stop flag is set, the listener closes, idle connections
//!   are shut (through a clone of their TCP socket, TLS or not), and requests being
//!   processed finish;
//! - a scheduler thread runs the background tasks that are due, as `tasks run`
//!   does (the task leases keep it from overlapping with cron).

mod auth;
mod http;
mod response;
mod router;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::librarian::Librarian;

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Shim {
    listener: TcpListener,
    addr: SocketAddr,
    config_path: PathBuf,
    /// The site, opened once: every worker reopens it (its own catalog connection,
    /// one shared configuration).
    origin: Librarian,
    settings: ServerConfig,
    /// Set when serving HTTPS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The certificate and key it serves, reloadable.
    cert: Option<Arc<crate::tls::ServerCert>>,
}

/// Catalog handles lent to requests, one at a time each.
#[derive(Debug)]
struct Pool {
    free: Mutex<Vec<Librarian>>,
    available: Condvar,
}

impl Pool {
    /// Run `f` with a handle; `None` if it panicked (the handle is given back either
    /// way, so a panic cannot shrink the pool).
    fn with<T>(&self, f: impl FnOnce(&Librarian) -> T) -> Option<T> {
        let lib = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(l) = free.pop() {
                    break l;
                }
                free = self.available.wait(free).unwrap_or_else(|p| p.into_inner());
            }
        };
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| f(&lib))).ok();
        self.free.lock().unwrap_or_else(|p| p.into_inner()).push(lib);
        self.available.notify_one();
        out
    }
}

/// [`Slot::state`] of a connection whose request head is in (being read, processed
/// or answered).
const HEAD_IN: u64 = 0;
/// [`Slot::state`] of a connection closed to make room.
const EVICTED: u64 = u64::MAX;
/// [`Slot::state`] of a connection whose thread has not started yet (waiting, but
/// not to be blamed for the scheduler's delay: never closed to make room).
const STARTING: u64 = u64::MAX - 1;

/// An open connection, as the acceptor sees it.
#[derive(Debug)]
struct Slot {
    /// A clone of its TCP socket, to shut it (at stop, or to make room).
    stream: TcpStream,
    /// Whether a request's head has been received and not yet answered.
    busy: Arc<AtomicBool>,
    /// The client's address (IPv6: its /64).
    client: IpAddr,
    /// [`HEAD_IN`], [`EVICTED`], [`STARTING`], or 1 + the millisecond (since the
    /// server started) at which it began waiting for a request head.
    state: Arc<AtomicU64>,
}

/// Everything the connection threads share.
#[derive(Debug)]
struct Shared<'a> {
    pool: Pool,
    ctx: router::Context<'a>,
    stop: &'a AtomicBool,
    open: Mutex<HashMap<u64, Slot>>,
    next_id: AtomicU64,
    started: Instant,
    /// Threads answering 503 to connections over the cap.
    refusers: AtomicUsize,
    /// Bytes of request bodies held (being received, processed or answered), and the
    /// most that may be.
    bodies: AtomicU64,
    body_budget: u64,
    tls: Option<&'a Arc<rustls::ServerConfig>>,
}

impl Shared<'_> {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Count `n` more body bytes as held, if the budget allows.
    fn hold_body(&self, n: u64) -> bool {
        self.bodies
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(n).filter(|total| *total <= self.body_budget)
            })
            .is_ok()
    }
}

/// Request bodies held in memory at once, by all connections: this, or
/// `max_body_bytes` when larger (so one body of the largest size always fits alone).
const BODY_BUDGET: u64 = 64 << 20;

/// The body bytes one request holds, given back to the budget when dropped.
struct HeldBody<'s, 'a> {
    shared: &'s Shared<'a>,
    bytes: std::cell::Cell<u64>,
}

impl HeldBody<'_, '_> {
    fn hold(&self, n: u64) -> bool {
        let ok = self.shared.hold_body(n);
        if ok {
            self.bytes.set(self.bytes.get() + n);
        }
        ok
    }
}

impl Drop for HeldBody<'_, '_> {
    fn drop(&mut self) {
        let n = self.bytes.get();
        let _ =
            self.shared.bodies.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| Some(held.saturating_sub(n)));
    }
}

/// Most threads answering 503 `busy` at once; past it, connections over the cap are
/// simply closed.
const MAX_REFUSERS: usize = 16;
/// How long a refusal may take (TLS handshake, reading the head, answering).
const REFUSAL_TIME: Duration = Duration::from_secs(2);

impl Shim {
    /// Bind the server of `lib`'s site to `listen` (default: `[server] listen`).
    ///
    /// With `[server] tls_cert` and `tls_key` the server speaks HTTPS; both files are
    /// loaded here, so a bad one is reported before anything listens. Without them,
    /// an address that is not loopback is refused unless `insecure_plain_http`.
    pub fn bind(lib: &Librarian, listen: Option<&str>) -> Result<Shim> {
        let settings = lib.config().server.clone();
        let config_path = lib.config_path();
        let listen = listen.unwrap_or(&settings.listen).to_owned();
        let addr = listen
            .to_socket_addrs()
            .map_err(|e| Error::invalid("listen address", format!("cannot resolve {listen:?}: {e}")))?
            .next()
            .ok_or_else(|| Error::invalid("listen address", format!("{listen:?} resolves to nothing")))?;
        let (tls, cert) = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => {
                let (tls, cert) = crate::tls::server_config(
                    config_path,
                    &crate::config::resolve(config_path, cert),
                    &crate::config::resolve(config_path, key),
                )?;
                (Some(tls), Some(cert))
            }
            _ => (None, None),
        };
        if tls.is_none() && !addr.ip().to_canonical().is_loopback() && !settings.insecure_plain_http {
            return Err(Error::invalid(
                "listen address",
                format!(
                    "refusing to serve plain HTTP on {addr}, which is not a loopback address: callers send their \
                 passwords with every request. Set [server] tls_cert and tls_key in {} to serve HTTPS (or, only \
                 behind a TLS-terminating proxy on this host or on a private network you trust, \
                 insecure_plain_http = true)",
                    config_path.display()
                ),
            ));
        }
        let listener = TcpListener::bind(addr).map_err(|e| Error::io("cannot listen on", listen.clone(), e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("cannot configure", listen.clone(), e))?;
        // A longer accept queue than std's 128: a burst of connections (an attack that
        // reconnects in bulk) must not overflow it, or a good client's handshake is
        // dropped and retried a second later.
        // SAFETY: listen(2) again on our own listening socket only changes its backlog.
        if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
            log::warn!("cannot lengthen the accept queue: {}", std::io::Error::last_os_error());
        }
        let addr = listener.local_addr().map_err(|e| Error::io("cannot read the address of", listen.clone(), e))?;
        Ok(Shim { listener, addr, config_path: config_path.to_owned(), origin: lib.reopen()?, settings, tls, cert })
    }

    /// Whether the server speaks HTTPS (`[server] tls_cert` and `tls_key` are set).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `stop` is set, then return once every request being processed has
    /// been answered.
    pub fn run(self, stop: &AtomicBool) -> Result<()> {
        self.run_reloading(stop, &AtomicBool::new(false))
    }

    /// [`Shim::run`], and whenever `reload` is set (`librarian serve` sets it on
    /// SIGHUP): read the TLS certificate and key files again. New connections get the
    /// new pair; open ones keep theirs. A pair that does not load is logged and the
    /// old one stays in use. (Logs go to stderr, which the service manager owns:
    /// there is no log file to reopen.)
    pub fn run_reloading(self, stop: &AtomicBool, reload: &AtomicBool) -> Result<()> {
        let cache = auth::CredentialCache::new(Duration::from_secs(self.settings.auth_cache_secs));
        let guard = auth::Guard::new(auth::Guard::max_checks(), self.settings.auth_free_failures);
        let mut libs = Vec::with_capacity(self.settings.workers);
        for _ in 0..self.settings.workers {
            libs.push(self.origin.reopen()?);
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        log::info!("serving {} on {scheme}://{} with {} workers", self.config_path.display(), self.addr, libs.len());
        let shared = Shared {
            pool: Pool { free: Mutex::new(libs), available: Condvar::new() },
            ctx: router::Context { cache: &cache, guard: &guard, settings: &self.settings },
            stop,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            started: Instant::now(),
            refusers: AtomicUsize::new(0),
            bodies: AtomicU64::new(0),
            body_budget: BODY_BUDGET.max(self.settings.max_body_bytes),
            tls: self.tls.as_ref(),
        };
        let scheduler_site = self.origin.reopen()?;
        raise_open_files_limit();
        std::thread::scope(|s| {
            // No thread's panic may escape into the scope: it would turn a clean stop
            // into a crash (exit 101).
            let spawned = std::thread::Builder::new().name("scheduler".into()).spawn_scoped(s, || {
                if std::panic::catch_unwind(AssertUnwindSafe(|| scheduler(&scheduler_site, stop))).is_err() {
                    log::error!("the task scheduler panicked; background tasks stop until the server restarts");
                }
            });
            if let Err(e) = spawned {
                log::warn!("cannot start the task scheduler: {e}");
            }
            while !stop.load(Ordering::Relaxed) {
                if reload.swap(false, Ordering::SeqCst) {
                    match &self.cert {
                        Some(cert) => match cert.reload() {
                            Ok(()) => log::warn!("reloaded the TLS certificate and key"),
                            Err(e) => log::error!("kept the TLS certificate in use: {e}"),
                        },
                        None => log::warn!("reload asked: nothing to reload (no TLS)"),
                    }
                }
                match self.listener.accept() {
                    Ok((stream, peer)) => accept(s, &shared, stream, peer.ip()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait_for_connection(&self.listener),
                    Err(e) => {
                        log::warn!("cannot accept a connection: {e}");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            // Stop: close connections that have no complete request head (waiting for
            // one, or receiving one slowly); those whose request is in (its body
            // arriving, or being processed or answered) finish, for at most STOP_GRACE.
            shut(&shared, false);
            let stopping = Instant::now();
            while !shared.open.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                if stopping.elapsed() > STOP_GRACE {
                    log::warn!("closing connections still busy {} s after the stop", STOP_GRACE.as_secs());
                    shut(&shared, true);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        log::info!("stopped");
        Ok(())
    }
}

/// The accept queue's length (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: libc::c_int = 4096;

/// Wait until a connection is ready to accept, or 50 ms (to check the stop flag).
fn wait_for_connection(listener: &TcpListener) {
    let mut fd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll(2) on one valid pollfd that lives across the call.
    if unsafe { libc::poll(&mut fd, 1, 50) } < 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Raise the soft limit on open files to the hard limit: each connection holds two
/// descriptors (its socket and the registry's clone), and the common soft limit of
/// 1024 would make `accept` fail below `max_connections`.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                log::warn!("cannot raise the open files limit: {}", std::io::Error::last_os_error());
            }
        }
    }
}

/// How often the server's scheduler looks for due tasks.
const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// Run due background tasks until `stop`, as `librarian tasks run` would; the task
/// leases keep this from overlapping with cron runs of the same tasks.
fn scheduler(lib: &Librarian, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match lib.run_tasks(&[]) {
            Ok(outcomes) => {
                for o in outcomes.iter().filter(|o| o.finished_at.is_some()) {
                    log::info!("task {}: {} ({})", o.task, o.status.as_str(), o.message);
                }
            }
            Err(e) => log::warn!("cannot run background tasks: {e}"),
        }
        let mut waited = Duration::ZERO;
        while waited < SCHEDULER_TICK && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
    }
}

/// How long a stop waits for requests already received before closing them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Shut connections down: those without a request in progress, or (`all`) every one.
fn shut(shared: &Shared<'_>, all: bool) {
    for slot in shared.open.lock().unwrap_or_else(|p| p.into_inner()).values() {
        if all || !slot.busy.load(Ordering::SeqCst) {
            let _ = slot.stream.shutdown(Shutdown::Both);
        }
    }
}

/// A client over its share of waiting connections has one closed to make room only
/// if it has waited this long (counted from when its thread started): a client that
/// sends its head at once (after its TLS handshake) gets it in, however fast others
/// connect from the same address. (Otherwise the client goes over its share, within
/// `max_connections`.)
const EVICTION_MIN_AGE: Duration = Duration::from_millis(250);

/// Close, to make room, the connection that has waited longest for its request head
/// (and at least `min_age`) among `open` connections that pass `pick`; one whose
/// thread has not started yet is never picked. False when there is none.
fn evict_oldest(open: &mut HashMap<u64, Slot>, now_ms: u64, min_age: Duration, pick: impl Fn(&Slot) -> bool) -> bool {
    let min_age = min_age.as_millis() as u64;
    let mut waiting: Vec<(u64, u64)> = open
        .iter()
        .filter(|(_, slot)| pick(slot))
        .filter_map(|(id, slot)| match slot.state.load(Ordering::SeqCst) {
            HEAD_IN | EVICTED | STARTING => None,
            since if since + min_age <= now_ms + 1 => Some((since, *id)),
            _ => None,
        })
        .collect();
    waiting.sort_unstable();
    for (since, id) in waiting {
        // Only if it is still waiting (its head may have just come in).
        let Some(slot) = open.get(&id) else { continue };
        if slot.state.compare_exchange(since, EVICTED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            let _ = slot.stream.shutdown(Shutdown::Both);
            open.remove(&id);
            return true;
        }
    }
    false
}

/// Take a new connection (on the acceptor thread, which never waits for a client):
/// make room if needed, register it, and start its thread; or refuse it.
fn accept<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    shared: &'env Shared<'env>,
    stream: TcpStream,
    ip: IpAddr,
) {
    let settings = shared.ctx.settings;
    let client = auth::client_key(ip);
    let Ok(handle) = stream.try_clone() else { return };
    let busy = Arc::new(AtomicBool::new(false));
    let state = Arc::new(AtomicU64::new(STARTING));
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut open = shared.open.lock().unwrap_or_else(|p| p.into_inner());
        let waiting_here = open
            .values()
            .filter(|slot| slot.client == client && !matches!(slot.state.load(Ordering::SeqCst), HEAD_IN | EVICTED))
            .count() as u64;
        let now_ms = shared.now_ms();
        if waiting_here >= settings.max_waiting_per_client {
            // Over its share: its oldest waiting connection makes room (if one is old
            // enough; otherwise it goes over, within max_connections).
            evict_oldest(&mut open, now_ms, EVICTION_MIN_AGE, |slot| slot.client == client);
        }
        // Full: the oldest waiting connection of anyone makes room (with 512 slots, a
        // good client's head gets in long before 512 newer connections push it out).
        if open.len() as u64 >= settings.max_connections && !evict_oldest(&mut open, now_ms, Duration::ZERO, |_| true) {
            drop(open);
            refuse(s, shared, stream);
            return;
        }
        open.insert(id, Slot { stream: handle, busy: Arc::clone(&busy), client, state: Arc::clone(&state) });
    }
    let spawned = std::thread::Builder::new().name("connection".into()).spawn_scoped(s, move || {
        let _registered = Registered { shared, id };
        // Waiting from now on (unless already evicted, which STARTING prevents).
        let _ = state.compare_exchange(STARTING, shared.now_ms() + 1, Ordering::SeqCst, Ordering::SeqCst);
        let run = AssertUnwindSafe(|| connection(stream, ip, shared, &busy, &state));
        if std::panic::catch_unwind(run).is_err() {
            log::error!("a connection thread panicked; the connection was closed");
        }
    });
    if let Err(e) = spawned {
        log::warn!("cannot start a connection thread: {e}");
        shared.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

/// Answer a connection over the cap with 503 `busy` and `Retry-After` (after its TLS
/// handshake and request head, for at most [`REFUSAL_TIME`]), on a thread of its own;
/// or, when [`MAX_REFUSERS`] are already at it, just close it.
fn refuse<'scope, 'env>(s: &'scope std::thread::Scope<'scope, 'env>, shared: &'env Shared<'env>, stream: TcpStream) {
    if shared.refusers.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSERS {
        shared.refusers.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let spawned = std::thread::Builder::new().name("refusal".into()).spawn_scoped(s, move || {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| refusal(stream, shared.tls)));
        shared.refusers.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        shared.refusers.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refusal(stream: TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) {
    if stream.set_nonblocking(false).is_err() || http::configure(&stream, REFUSAL_TIME).is_err() {
        return;
    }
    let clock = http::Clock::new(REFUSAL_TIME, REFUSAL_TIME, 1);
    clock.set_deadline(Instant::now() + REFUSAL_TIME);
    let conn = http::Conn::new(stream, Rc::clone(&clock));
    let reply = response::ApiError::busy("too many connections; try again later").into_response();
    match tls {
        None => {
            let mut conn = conn;
            skip_head(&mut conn);
            let _ = http::write_response(&mut conn, &reply, true);
            http::linger(&conn.tcp);
        }
        Some(config) => {
            let Ok(session) = rustls::ServerConnection::new(Arc::clone(config)) else { return };
            let mut tls = rustls::StreamOwned::new(session, conn);
            if handshake(&mut tls).is_err() {
                return;
            }
            skip_head(&mut tls);
            let _ = http::write_response(&mut tls, &reply, true);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            http::linger(&tls.sock.tcp);
        }
    }
}

/// Read (and drop) up to the end of a request head, or 16 KiB, or until the clock's
/// deadline.
fn skip_head(r: &mut impl Read) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while seen.len() < http::MAX_HEAD_BYTES {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

/// Complete a TLS handshake (under the connection's deadline).
fn handshake(tls: &mut rustls::StreamOwned<rustls::ServerConnection, http::Conn>) -> std::io::Result<()> {
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(())
}

/// Removes a connection from the registry when its thread ends, however it ends.
struct Registered<'s, 'a> {
    shared: &'s Shared<'a>,
    id: u64,
}

impl Drop for Registered<'_, '_> {
    fn drop(&mut self) {
        self.shared.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// What one connection's thread shares with the acceptor.
struct Phase<'c> {
    busy: &'c AtomicBool,
    state: &'c AtomicU64,
    clock: Rc<http::Clock>,
}

/// Serve one connection, over TLS when the server has TLS: requests one after another
/// until it closes, misses a deadline, is closed to make room, or the server stops.
/// The deadlines and the stop's shutdown act on the TCP socket under the TLS session,
/// so they cover the handshake too.
fn connection(stream: TcpStream, ip: IpAddr, shared: &Shared<'_>, busy: &AtomicBool, state: &AtomicU64) {
    let settings = shared.ctx.settings;
    let io_timeout = Duration::from_secs(settings.io_timeout_secs);
    let head_timeout = Duration::from_secs(settings.head_timeout_secs);
    if stream.set_nonblocking(false).is_err() || http::configure(&stream, io_timeout).is_err() {
        return;
    }
    let clock = http::Clock::new(io_timeout, head_timeout, settings.min_body_rate);
    clock.set_deadline(Instant::now() + head_timeout);
    let conn = http::Conn::new(stream, Rc::clone(&clock));
    let phase = Phase { busy, state, clock };
    match shared.tls {
        None => {
            let mut reader = BufReader::new(conn);
            if serve(&mut reader, shared, &phase, ip) {
                http::linger(&reader.get_ref().tcp);
            }
        }
        Some(config) => {
            let session = match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("cannot start a TLS session: {e}");
                    return;
                }
            };
            let mut tls = rustls::StreamOwned::new(session, conn);
            if let Err(e) = handshake(&mut tls) {
                if is_tls_error(&e) {
                    log::debug!("TLS handshake failed: {e}");
                }
                return;
            }
            // The head deadline starts after the handshake.
            phase.clock.set_deadline(Instant::now() + head_timeout);
            let mut reader = BufReader::new(tls);
            let rejected = serve(&mut reader, shared, &phase, ip);
            // Say goodbye properly (the write fails harmlessly when the socket is gone).
            let tls_stream = reader.get_mut();
            tls_stream.conn.send_close_notify();
            let _ = tls_stream.flush();
            if rejected {
                http::linger(&tls_stream.sock.tcp);
            }
        }
    }
}

/// The request loop of one connection; responses are written through
/// `reader.get_mut()`, to the same stream (HTTP/1.1 answers in order). True when it
/// ended by refusing a request (the connection should linger before closing).
fn serve<S: Read + Write>(reader: &mut BufReader<S>, shared: &Shared<'_>, phase: &Phase<'_>, ip: IpAddr) -> bool {
    let settings = shared.ctx.settings;
    let max_body = settings.max_body_bytes;
    let head_timeout = Duration::from_secs(settings.head_timeout_secs);
    let idle_timeout = Duration::from_secs(settings.idle_timeout_secs);
    let mut first = true;
    loop {
        phase.busy.store(false, Ordering::SeqCst);
        if !first {
            // Waiting for a head again: evictable. (Unless already evicted.)
            let since = shared.now_ms() + 1;
            if phase.state.compare_exchange(HEAD_IN, since, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return false;
            }
            phase.clock.set_deadline(Instant::now() + idle_timeout);
        }
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        // Wait for the first byte of the next request (or EOF, or a deadline).
        match reader.fill_buf() {
            Ok(buf) if !buf.is_empty() => {}
            Ok(_) | Err(_) => return false,
        }
        if !first {
            phase.clock.set_deadline(Instant::now() + head_timeout);
        }
        first = false;
        // A request that starts after the stop began is refused; one whose head was
        // in before it (even if its body is still arriving) is served.
        let after_stop = shared.stop.load(Ordering::SeqCst);
        let head_done = || {
            phase.busy.store(true, Ordering::SeqCst);
            // No longer evictable; a body must keep up the minimum rate.
            let _ = phase.state.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| (s != EVICTED).then_some(HEAD_IN));
            phase.clock.start_body();
        };
        // Given back once this request is answered (or refused).
        let held = HeldBody { shared, bytes: std::cell::Cell::new(0) };
        let req = match http::read_request(reader, max_body, &head_done, &|n| held.hold(n)) {
            Ok(r) => r,
            Err(http::ReadError::Closed) => return false,
            Err(http::ReadError::Reject(status, code, message)) => {
                phase.clock.clear();
                let mut error = response::ApiError::new(status, code, message);
                if status == 503 {
                    error = error.retry_after(1);
                }
                let reply = error.into_response();
                let _ = http::write_response(reader.get_mut(), &reply, true);
                return true;
            }
        };
        phase.clock.clear();
        let req = http::HttpRequest { peer: Some(ip), ..req };
        if after_stop {
            let reply = response::ApiError::shutting_down().into_response();
            let _ = http::write_response(reader.get_mut(), &reply, true);
            return false;
        }
        let reply = answer(&req, shared);
        let close = !req.keep_alive || shared.stop.load(Ordering::SeqCst);
        if http::write_response(reader.get_mut(), &reply, close).is_err() || close {
            return false;
        }
    }
}

/// The answer to a request. Credentials found in the cache are accepted with the
/// same catalog handle that then serves the request; others are checked with argon2
/// without holding a handle (so a queue of password checks never delays `ping` or
/// cached callers), then the request takes a handle again.
fn answer(req: &http::HttpRequest, shared: &Shared<'_>) -> response::Reply {
    let started = Instant::now();
    let reply = answer_unlogged(req, shared);
    access_log(req, &reply, started.elapsed());
    reply
}

/// One line per request, in `key=value` form for log shippers: the client's address,
/// the account (`-` when none authenticated), method, path, status and latency. The
/// path is the client's; the log escapes control characters.
fn access_log(req: &http::HttpRequest, reply: &response::Reply, took: Duration) {
    log::info!(
        target: "librarian::access",
        "client={} account={} method={} path={} status={} ms={:.1}",
        req.peer.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
        reply.account.as_deref().unwrap_or("-"),
        req.method,
        req.path,
        reply.status,
        took.as_secs_f64() * 1000.0
    );
}

fn answer_unlogged(req: &http::HttpRequest, shared: &Shared<'_>) -> response::Reply {
    let ctx = &shared.ctx;
    let credentials = router::credentials(req, ctx.settings);
    let first = shared.pool.with(|lib| {
        let Some((name, password)) = &credentials else { return Ok(router::handle(req, lib, ctx, None)) };
        let found = match lib.site().catalog().account_with_hash(name) {
            Ok(found) => found,
            Err(e) => return Ok(router::handle(req, lib, ctx, Some(Err(response::ApiError::from(e))))),
        };
        match ctx.cache.cached(name, password, found.as_ref()) {
            Some(account) => Ok(router::handle(req, lib, ctx, Some(Ok(account)))),
            None => Err(found),
        }
    });
    let reply = match first {
        Some(Ok(reply)) => Some(reply),
        Some(Err(found)) => {
            let checked = match &credentials {
                Some((name, password)) => ctx.cache.verify(ctx.guard, req.peer, name, password, found),
                None => Err(response::ApiError::unauthorized()),
            };
            shared.pool.with(|lib| router::handle(req, lib, ctx, Some(checked)))
        }
        None => None,
    };
    reply.unwrap_or_else(|| {
        log::error!("{} {}: the handler panicked", req.method, req.path);
        response::ApiError::new(500, "internal", "the server failed while handling this request").into_response()
    })
}

/// Whether an I/O error carries a rustls error (a failed handshake, a bad record).
fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Librarian;

    #[test]
    fn a_panicking_request_gives_its_catalog_handle_back() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Librarian::init(&dir.path().join("site"), "pool").unwrap();
        let pool = Pool { free: Mutex::new(vec![lib]), available: Condvar::new() };
        let panicked = pool.with(|_| -> u32 { panic!("a handler bug") });
        assert!(panicked.is_none());
        // The one handle is back: this would wait forever otherwise.
        assert_eq!(pool.with(|l| l.config().name.clone()), Some("pool".to_owned()));
    }

    #[test]
    fn absurd_server_settings_are_refused() {
        let ok = ServerConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            ServerConfig { max_body_bytes: 200_000_000_000, ..ServerConfig::default() },
            ServerConfig { max_body_bytes: u64::MAX, ..ServerConfig::default() },
            ServerConfig { head_timeout_secs: 0, ..ServerConfig::default() },
            ServerConfig { idle_timeout_secs: 100_000, ..ServerConfig::default() },
            ServerConfig { min_body_rate: 0, ..ServerConfig::default() },
            ServerConfig { auth_cache_secs: u64::MAX, ..ServerConfig::default() },
            ServerConfig { max_connections: 0, ..ServerConfig::default() },
            ServerConfig { max_waiting_per_client: 0, ..ServerConfig::default() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let at_cap = ServerConfig { max_body_bytes: crate::config::MAX_BODY_LIMIT, ..ServerConfig::default() };
        assert!(at_cap.validate().is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(auth::client_key(a), auth::client_key(b));
        assert_ne!(auth::client_key(a), auth::client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(auth::client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
