//! The HTTP shim: a small synchronous server through which other Librarians (and
//! monitoring) talk to this site. `librarian serve` is a thin wrapper around
//! [`Shim::bind`] and [`Shim::run`].
//!
//! - a bounded pool of worker threads, each with its own catalog connection;
//! - HTTP Basic auth against the site's accounts (argon2id), with verified
//!   credentials cached in memory ([`auth`]);
//! - a request body limit, and read/write timeouts on every connection (set on the
//!   listening socket, which accepted sockets inherit on Linux), so a slow or silent
//!   client cannot hold a thread forever;
//! - JSON errors with a stable `code` and the right status; a client's mistake is
//!   never a 500;
//! - graceful stop: when the stop flag is set, workers finish their request, answer
//!   what is already queued with 503, and return.

mod auth;
mod metrics;
mod response;
mod router;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::librarian::Librarian;

/// The `[server]` table of `librarian.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`--listen` overrides it). Plain HTTP: keep it on
    /// loopback and put a TLS-terminating proxy in front for other hosts.
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
        Ok(())
    }
}

/// A bound, not yet running, server.
pub struct Shim {
    server: tiny_http::Server,
    addr: SocketAddr,
    config_path: PathBuf,
    settings: ServerConfig,
}

impl std::fmt::Debug for Shim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shim").field("addr", &self.addr).field("config_path", &self.config_path).finish()
    }
}

fn set_timeouts(listener: &TcpListener, timeout: Duration) -> Result<()> {
    let tv =
        libc::timeval { tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX), tv_usec: 0 };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: a valid socket descriptor and a pointer to a timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw const tv).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(Error::io("cannot set socket timeouts on", "listener", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

impl Shim {
    /// Bind the server of `lib`'s site to `listen` (default: `[server] listen`).
    pub fn bind(lib: &Librarian, listen: Option<&str>) -> Result<Shim> {
        let settings = lib.config().server.clone();
        let listen = listen.unwrap_or(&settings.listen).to_owned();
        let addr = listen
            .to_socket_addrs()
            .map_err(|e| Error::InvalidArgument(format!("cannot resolve listen address {listen:?}: {e}")))?
            .next()
            .ok_or_else(|| Error::InvalidArgument(format!("listen address {listen:?} resolves to nothing")))?;
        let listener = TcpListener::bind(addr).map_err(|e| Error::io("cannot listen on", listen.clone(), e))?;
        set_timeouts(&listener, Duration::from_secs(settings.io_timeout_secs))?;
        let addr = listener.local_addr().map_err(|e| Error::io("cannot read the address of", listen.clone(), e))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::InvalidArgument(format!("cannot start the server: {e}")))?;
        Ok(Shim { server, addr, config_path: lib.config_path().to_owned(), settings })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `stop` is set. Each worker opens the site itself, so requests do
    /// not share one catalog connection.
    pub fn run(self, stop: &AtomicBool) -> Result<()> {
        let cache = auth::CredentialCache::new(Duration::from_secs(self.settings.auth_cache_secs));
        let mut sites = Vec::with_capacity(self.settings.workers);
        for _ in 0..self.settings.workers {
            sites.push(Librarian::open(&self.config_path)?);
        }
        log::info!("serving {} on http://{} with {} workers", self.config_path.display(), self.addr, sites.len());
        let ctx = router::Context { cache: &cache, settings: &self.settings };
        std::thread::scope(|s| {
            for lib in &sites {
                let server = &self.server;
                let ctx = &ctx;
                s.spawn(move || worker(server, lib, ctx, stop));
            }
        });
        log::info!("stopped");
        Ok(())
    }
}

fn worker(server: &tiny_http::Server, lib: &Librarian, ctx: &router::Context<'_>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(req)) => router::handle(req, lib, ctx),
            Ok(None) => {}
            Err(e) => log::warn!("cannot receive a request: {e}"),
        }
    }
    // Shutting down: answer what is already queued, then return.
    while let Ok(Some(req)) = server.try_recv() {
        response::send(req, response::ApiError::shutting_down().into_response());
    }
}
