//! The HTTP shim: a small synchronous server through which other Librarians (and
//! monitoring) talk to this site. `librarian serve` is a thin wrapper around
//! [`Shim::bind`] and [`Shim::run`].
//!
//! - HTTPS in process ([`tls`]: rustls with the `ring` provider) when `[server]
//!   tls_cert` and `tls_key` are set; plain HTTP otherwise, which [`Shim::bind`] allows
//!   only on a loopback address unless `insecure_plain_http = true` (sites send HTTP
//!   Basic credentials, which must not cross a network in clear);
//! - one thread per connection (at most [`MAX_CONNECTIONS`]; more are answered 503,
//!   or simply closed under TLS), each reading with read/write timeouts on its TCP
//!   socket, so a slow or silent client (including one that never finishes the TLS
//!   handshake) holds only its own thread, and only until the timeout;
//! - a bounded pool of `workers` catalog handles: at most that many requests are
//!   processed at once, each with its own SQLite connection;
//! - HTTP Basic auth against the site's accounts (argon2id), with verified
//!   credentials cached in memory ([`auth`]);
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
mod metrics;
mod response;
mod router;
mod tls;

pub(crate) use tls::load_certs;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::librarian::Librarian;

/// The `[server]` table of `librarian.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`--listen` overrides it). Without TLS it must be a
    /// loopback address (unless `insecure_plain_http`).
    pub listen: String,
    /// Worker threads (requests handled at once).
    pub workers: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Seconds a connection may stay silent (reading) or stalled (writing).
    pub io_timeout_secs: u64,
    /// Seconds a verified credential is trusted without re-running argon2.
    pub auth_cache_secs: u64,
    /// Whether `/metrics` needs a read-only account.
    pub metrics_auth: bool,
    /// PEM certificate chain (leaf first) to serve HTTPS with; relative to the
    /// configuration file's directory. Set together with `tls_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1); relative to the
    /// configuration file's directory. Keep it readable by the server's user only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address that is not loopback. Only for a TLS-terminating
    /// proxy on the same host, or a private network you trust: HTTP Basic credentials
    /// cross the network in clear otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_plain_http: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8420".into(),
            workers: 8,
            max_body_bytes: 1 << 20,
            io_timeout_secs: 30,
            auth_cache_secs: 60,
            metrics_auth: true,
            tls_cert: None,
            tls_key: None,
            insecure_plain_http: false,
        }
    }
}

impl ServerConfig {
    /// True when nothing differs from the defaults (then `init` writes no table).
    pub fn is_default(&self) -> bool {
        *self == ServerConfig::default()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.workers == 0 || self.workers > 256 {
            return Err(Error::InvalidArgument("server.workers must be between 1 and 256".into()));
        }
        if self.io_timeout_secs == 0 {
            return Err(Error::InvalidArgument("server.io_timeout_secs must be at least 1".into()));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Error::InvalidArgument(
                "server.tls_cert and server.tls_key must be set together (or neither, for plain HTTP)".into(),
            ));
        }
        Ok(())
    }
}

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: u64 = 512;

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Shim {
    listener: TcpListener,
    addr: SocketAddr,
    config_path: PathBuf,
    settings: ServerConfig,
    /// Set when serving HTTPS.
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Catalog handles lent to requests, one at a time each.
#[derive(Debug)]
struct Pool {
    free: Mutex<Vec<Librarian>>,
    available: Condvar,
}

impl Pool {
    fn with<T>(&self, f: impl FnOnce(&Librarian) -> T) -> T {
        let lib = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(l) = free.pop() {
                    break l;
                }
                free = self.available.wait(free).unwrap_or_else(|p| p.into_inner());
            }
        };
        let out = f(&lib);
        self.free.lock().unwrap_or_else(|p| p.into_inner()).push(lib);
        self.available.notify_one();
        out
    }
}

/// Everything the connection threads share.
#[derive(Debug)]
struct Shared<'a> {
    pool: Pool,
    ctx: router::Context<'a>,
    stop: &'a AtomicBool,
    /// Open connections, by id: a clone of the stream (to shut it at stop) and
    /// whether a request's head has been received and not yet answered.
    open: Mutex<HashMap<u64, (TcpStream, Arc<AtomicBool>)>>,
    next_id: AtomicU64,
}

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
            .map_err(|e| Error::InvalidArgument(format!("cannot resolve listen address {listen:?}: {e}")))?
            .next()
            .ok_or_else(|| Error::InvalidArgument(format!("listen address {listen:?} resolves to nothing")))?;
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(
                config_path,
                &crate::config::resolve(config_path, cert),
                &crate::config::resolve(config_path, key),
            )?),
            _ => None,
        };
        if tls.is_none() && !addr.ip().to_canonical().is_loopback() && !settings.insecure_plain_http {
            return Err(Error::InvalidArgument(format!(
                "refusing to serve plain HTTP on {addr}, which is not a loopback address: callers send their \
                 passwords with every request. Set [server] tls_cert and tls_key in {} to serve HTTPS (or, only \
                 behind a TLS-terminating proxy on this host or on a private network you trust, \
                 insecure_plain_http = true)",
                config_path.display()
            )));
        }
        let listener = TcpListener::bind(addr).map_err(|e| Error::io("cannot listen on", listen.clone(), e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("cannot configure", listen.clone(), e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("cannot read the address of", listen.clone(), e))?;
        Ok(Shim { listener, addr, config_path: config_path.to_owned(), settings, tls })
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
        let cache = auth::CredentialCache::new(Duration::from_secs(self.settings.auth_cache_secs));
        let mut libs = Vec::with_capacity(self.settings.workers);
        for _ in 0..self.settings.workers {
            libs.push(Librarian::open(&self.config_path)?);
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        log::info!("serving {} on {scheme}://{} with {} workers", self.config_path.display(), self.addr, libs.len());
        let shared = Shared {
            pool: Pool { free: Mutex::new(libs), available: Condvar::new() },
            ctx: router::Context { cache: &cache, settings: &self.settings },
            stop,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        };
        let timeout = Duration::from_secs(self.settings.io_timeout_secs);
        let scheduler_site = Librarian::open(&self.config_path)?;
        std::thread::scope(|s| {
            s.spawn(|| scheduler(&scheduler_site, stop));
            while !stop.load(Ordering::Relaxed) {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        let open = shared.open.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
                        if open >= MAX_CONNECTIONS {
                            // Under TLS a 503 would need a handshake on this thread:
                            // close instead.
                            if self.tls.is_none() {
                                refuse(stream, timeout);
                            }
                            continue;
                        }
                        let (shared, tls) = (&shared, self.tls.as_ref());
                        s.spawn(move || connection(stream, shared, timeout, tls));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
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
            let stopping = std::time::Instant::now();
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
    for (stream, busy) in shared.open.lock().unwrap_or_else(|p| p.into_inner()).values() {
        if all || !busy.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
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

fn refuse(mut stream: TcpStream, timeout: Duration) {
    let _ = http::configure(&stream, timeout);
    let reply = response::ApiError::new(503, "busy", "too many connections; try again later").into_response();
    let _ = http::write_response(&mut stream, &reply, true);
}

/// Serve one connection, over TLS when `tls` is set: requests one after another until
/// it closes, times out, or the server stops. The timeouts and the stop's shutdown act
/// on the TCP socket under the TLS session, so they cover the handshake too.
fn connection(stream: TcpStream, shared: &Shared<'_>, timeout: Duration, tls: Option<&Arc<rustls::ServerConfig>>) {
    if stream.set_nonblocking(false).is_err() || http::configure(&stream, timeout).is_err() {
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let Ok(registry_handle) = stream.try_clone() else { return };
    let busy = Arc::new(AtomicBool::new(false));
    shared.open.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (registry_handle, Arc::clone(&busy)));
    let _registered = Registered { shared, id };
    match tls {
        None => serve(&mut BufReader::new(stream), shared, &busy),
        Some(config) => {
            let session = match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("cannot start a TLS session: {e}");
                    return;
                }
            };
            let mut reader = BufReader::new(rustls::StreamOwned::new(session, stream));
            serve(&mut reader, shared, &busy);
            // Say goodbye properly, if there was a session (the write fails harmlessly
            // when the socket is gone).
            let tls_stream = reader.get_mut();
            if !tls_stream.conn.is_handshaking() {
                tls_stream.conn.send_close_notify();
                let _ = tls_stream.flush();
            }
        }
    }
}

/// The request loop of one connection; responses are written through
/// `reader.get_mut()`, to the same stream (HTTP/1.1 answers in order).
fn serve<S: Read + Write>(reader: &mut BufReader<S>, shared: &Shared<'_>, busy: &AtomicBool) {
    let max_body = shared.ctx.settings.max_body_bytes;
    loop {
        busy.store(false, Ordering::SeqCst);
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        // Wait for the first byte of the next request (or EOF, or the timeout). Under
        // TLS, the handshake happens inside the first of these reads.
        match reader.fill_buf() {
            Ok(buf) if !buf.is_empty() => {}
            Ok(_) => break,
            Err(e) => {
                if is_tls_error(&e) {
                    log::debug!("TLS handshake or record failed: {e}");
                }
                break;
            }
        }
        // A request that starts after the stop began is refused; one whose head was
        // in before it (even if its body is still arriving) is served.
        let after_stop = shared.stop.load(Ordering::SeqCst);
        let req = match http::read_request(reader, max_body, &|| busy.store(true, Ordering::SeqCst)) {
            Ok(r) => r,
            Err(http::ReadError::Closed) => break,
            Err(http::ReadError::Reject(status, code, message)) => {
                let reply = response::ApiError::new(status, code, message).into_response();
                let _ = http::write_response(reader.get_mut(), &reply, true);
                break;
            }
        };
        if after_stop {
            let reply = response::ApiError::shutting_down().into_response();
            let _ = http::write_response(reader.get_mut(), &reply, true);
            break;
        }
        let reply = shared.pool.with(|lib| router::handle(&req, lib, &shared.ctx));
        let close = !req.keep_alive || shared.stop.load(Ordering::SeqCst);
        if http::write_response(reader.get_mut(), &reply, close).is_err() || close {
            break;
        }
    }
}

/// Whether an I/O error carries a rustls error (a failed handshake, a bad record).
fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}
