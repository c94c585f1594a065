//! The one way the tests run `librarian serve`: start it, wait for its `listening on
//! ADDR` line (or, with `--json`, its JSON line), keep everything it writes, stop it
//! with a signal and check how it ended.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Site;

/// A running `librarian serve`, killed (SIGKILL) and reaped when dropped, also when a
/// test panics. Its stdout and stderr are read on threads as they come (a chatty
/// server never blocks on a full pipe) and kept for assertions and failure messages.
#[derive(Debug)]
pub struct Server {
    /// The server process.
    pub child: Child,
    /// The address from its first stdout line, `listening on ADDR` (with `--json`:
    /// `{"listening": "http://ADDR", "address": "ADDR", ...}`).
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    pumps: Vec<JoinHandle<()>>,
}

/// Copy everything `from` yields into `sink` until end of file.
fn pump(mut from: impl Read + Send + 'static, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    })
}

impl Server {
    /// How long a plain [`Server::stop`] lets the server take to exit after SIGTERM
    /// (generous for a loaded 2-core machine; tests of a prompt stop use
    /// [`Server::stop_within`] with their own bound).
    pub const STOP_LIMIT: Duration = Duration::from_secs(15);

    /// How long the server may take to print its first line.
    const START_LIMIT: Duration = Duration::from_secs(30);

    /// `librarian --config SITE serve --listen 127.0.0.1:0`: a port of the system's choosing.
    pub fn start(site: &Site) -> Server {
        Self::start_at(site, "127.0.0.1:0")
    }

    /// `serve --listen LISTEN` (e.g. the address of a previous run, to restart there).
    pub fn start_at(site: &Site, listen: &str) -> Server {
        Self::spawn(site, &[], &["serve", "--listen", listen])
    }

    /// [`Server::start`] with extra environment variables (e.g. `LIBRARIAN_LOG`).
    pub fn start_with_env(site: &Site, env: &[(&str, &str)]) -> Server {
        Self::spawn(site, env, &["serve", "--listen", "127.0.0.1:0"])
    }

    /// `librarian --config SITE ARGS` (ARGS starting with `serve`) with `env` added.
    /// Waits for the first stdout line, which must be exactly `listening on ADDR` (or,
    /// when `--json` is among ARGS, one JSON object whose `address` is ADDR and whose
    /// `listening` is its URL) with a real port (and, when ARGS has `--listen IP:PORT`,
    /// that IP, and that port unless it is 0). Panics, with what the server wrote, if it
    /// exits or stays silent first.
    pub fn spawn(site: &Site, env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut cmd = site.cmd();
        cmd.envs(env.iter().copied()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn librarian serve");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pumps = vec![
            pump(child.stdout.take().expect("piped stdout"), Arc::clone(&stdout)),
            pump(child.stderr.take().expect("piped stderr"), Arc::clone(&stderr)),
        ];
        let unset = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut srv = Server { child, addr: unset, url: String::new(), stdout, stderr, pumps };
        let deadline = Instant::now() + Self::START_LIMIT;
        let line = loop {
            let out = srv.stdout.lock().expect("stdout buffer").clone();
            if let Some(p) = out.iter().position(|&b| b == b'\n') {
                break String::from_utf8_lossy(&out[..p]).into_owned();
            }
            if let Ok(Some(status)) = srv.child.try_wait() {
                let (out, err) = srv.drain();
                panic!(
                    "librarian serve exited with {status} before printing its address\n--- stdout\n{out}\n--- stderr\n{err}"
                );
            }
            assert!(
                Instant::now() < deadline,
                "librarian serve printed no complete first line within {:?} (not flushed?)\n--- stdout so far\n{}\n--- stderr so far\n{}",
                Self::START_LIMIT,
                srv.stdout_text(),
                srv.stderr_text()
            );
            thread::sleep(Duration::from_millis(10));
        };
        let addr = if args.contains(&"--json") {
            json_address(&line)
        } else {
            line.strip_prefix("listening on ").map(Into::into)
        };
        let addr = addr.and_then(|a| a.parse::<SocketAddr>().ok()).filter(|a| a.port() != 0);
        let Some(addr) = addr else {
            panic!("the first stdout line of librarian serve is {line:?}, not `listening on ADDR` (or its JSON form)");
        };
        let asked = args.iter().position(|&a| a == "--listen").and_then(|i| args.get(i + 1));
        if let Some(asked) = asked.and_then(|a| a.parse::<SocketAddr>().ok()) {
            assert_eq!(addr.ip(), asked.ip(), "librarian serve --listen {asked} says {line:?}");
            assert!(asked.port() == 0 || addr.port() == asked.port(), "librarian serve --listen {asked} says {line:?}");
        }
        srv.addr = addr;
        srv.url = format!("http://{addr}");
        srv
    }

    /// The address to connect to: [`Server::addr`] with a loopback IP when the server
    /// listens on all interfaces.
    pub fn local(&self) -> SocketAddr {
        if self.addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], self.addr.port())) } else { self.addr }
    }

    /// What the server has written to stdout so far.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout buffer")).into_owned()
    }

    /// What the server has written to stderr (its log) so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }

    /// Wait for the pipes to close (the process has exited); all of stdout and stderr.
    pub fn drain(&mut self) -> (String, String) {
        for h in self.pumps.drain(..) {
            let _ = h.join();
        }
        (self.stdout_text(), self.stderr_text())
    }

    /// Send `sig` to the server.
    #[track_caller]
    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed: {}", io::Error::last_os_error());
    }

    /// Panic (with what it wrote) if the server has exited.
    #[track_caller]
    pub fn assert_running(&mut self, ctx: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let (out, err) = self.drain();
            panic!("{ctx}: librarian serve exited on its own with {status}\n--- stdout\n{out}\n--- stderr\n{err}");
        }
    }

    /// The exit status, if the server exits within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait for librarian serve") {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait (up to 10 s) for the log (stderr) to contain `text`.
    #[track_caller]
    pub fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr_text().contains(text) {
            assert!(Instant::now() < deadline, "the log never said {text:?}:\n{}", self.stderr_text());
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's resident memory, in KiB (from `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc/PID/status");
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        kib.expect("VmRSS in /proc/PID/status")
    }

    /// SIGTERM; the server must exit 0 within [`Server::STOP_LIMIT`]. Returns all of its
    /// stdout and stderr.
    #[track_caller]
    pub fn stop(self) -> (String, String) {
        self.stop_within(Self::STOP_LIMIT)
    }

    /// SIGTERM; the server must exit 0 within `limit`. Returns all of its stdout and stderr.
    #[track_caller]
    pub fn stop_within(mut self, limit: Duration) -> (String, String) {
        self.signal(libc::SIGTERM);
        let Some(status) = self.wait_exit(limit) else {
            panic!(
                "librarian serve did not exit within {limit:?} of SIGTERM\n--- stderr so far\n{}",
                self.stderr_text()
            );
        };
        let (out, err) = self.drain();
        assert_eq!(status.code(), Some(0), "librarian serve exited with {status} after SIGTERM\n--- stderr\n{err}");
        (out, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `address` of `serve --json`'s line, checked against its `listening` URL.
fn json_address(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let addr = v["address"].as_str()?;
    let scheme = if v["tls"] == true { "https" } else { "http" };
    (v["listening"].as_str()? == format!("{scheme}://{addr}")).then(|| addr.to_owned())
}

/// A loopback address with a port that nothing listens on now (for a peer that is
/// down and will be started there later).
pub fn free_loopback_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").to_string()
}
