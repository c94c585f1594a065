//! HTTPS end to end: `librarian serve` with `[server] tls_cert`/`tls_key`, and the peer
//! client with `[client] ca_bundle`, between real processes on 127.0.0.1 (port 0).
//! Certificates are made here, self-signed with rcgen, for `localhost` and
//! `127.0.0.1`; the test speaks TLS itself through rustls.
//!
//! The contract under test: a peer ping over https works when the peer's certificate
//! chains to our CA bundle and fails as `peer_unreachable` naming the certificate
//! problem otherwise; a plain-HTTP client or silent TCP clients on the TLS port get
//! nothing and stop nobody else; SIGTERM still exits 0; a bad certificate or key
//! keeps the server from starting, naming the file; plain HTTP is refused off
//! loopback (server and peer URLs alike); no password appears in any output.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use librarian_e2e::*;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// `io_timeout_secs` of every TLS test site.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the test client waits on a socket before calling the server hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

const READER_PW: &str = "reader-secret-7f3a";
const PEER_PW: &str = "a-at-b-secret-91c2";

// ---------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------

/// A self-signed certificate for `localhost` and `127.0.0.1`, and its key, as PEM.
struct Cert {
    cert_pem: String,
    key_pem: String,
}

impl Cert {
    fn new() -> Cert {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generate a self-signed certificate");
        Cert { cert_pem: ck.cert.pem(), key_pem: ck.signing_key.serialize_pem() }
    }

    /// A rustls client configuration that trusts only this certificate.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()) {
            roots.add(c.expect("PEM certificate")).expect("add root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

/// A site `name` serving HTTPS with `cert`: the PEM files go to `<site>/tls/`, named
/// in `[server]` by paths relative to the configuration file.
fn tls_site(name: &str, cert: &Cert) -> Site {
    let site = Site::named(name);
    let dir = site.dir().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
    append_config(
        &site,
        &format!(
            "\n[server]\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\nio_timeout_secs = {}\n",
            IO_TIMEOUT.as_secs()
        ),
    );
    site
}

fn append_config(site: &Site, text: &str) {
    let base = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(site.config(), format!("{base}{text}")).unwrap();
}

/// Write `text` to `<tmp>/NAME` and return the path as a string.
fn tmp_file(site: &Site, name: &str, text: &str) -> String {
    let p = site.tmp().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// A site that calls peers, with `[client] ca_bundle` set to `bundle` if given.
fn caller(name: &str, bundle: Option<&str>) -> Site {
    let site = Site::named(name);
    if let Some(b) = bundle {
        append_config(&site, &format!("\n[client]\nca_bundle = \"{}\"\n", tmp_file(&site, "ca.pem", b)));
    }
    site
}

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

/// `librarian serve --listen LISTEN` logging at `info` (the tests read the log).
fn serve_at(site: &Site, listen: &str) -> Server {
    Server::spawn(site, &[("LIBRARIAN_LOG", "info")], &["serve", "--listen", listen])
}

/// `librarian serve --listen 127.0.0.1:0` logging at `info`.
fn serve(site: &Site) -> Server {
    serve_at(site, "127.0.0.1:0")
}

// ---------------------------------------------------------------------------------
// A tiny HTTPS client (rustls over TcpStream)
// ---------------------------------------------------------------------------------

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr`, verified for `host` (the handshake happens on first use).
fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, host: &str) -> Tls {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    let name = ServerName::try_from(host.to_owned()).expect("server name");
    let conn = rustls::ClientConnection::new(Arc::clone(config), name).expect("client connection");
    rustls::StreamOwned::new(conn, tcp)
}

/// A response: status and body.
#[derive(Debug)]
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Send one request (`Connection: keep-alive` unless `close`) and read its response
/// (by its `Content-Length`).
fn request(s: &mut Tls, path: &str, auth: Option<(&str, &str)>, close: bool) -> io::Result<Resp> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    if let Some((user, pw)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        req.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    req.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    s.write_all(req.as_bytes())?;
    s.flush()?;
    // Read the head byte by byte (small), then the body by its length.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b)?;
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body)?;
    Ok(Resp { status, body: String::from_utf8_lossy(&body).into_owned() })
}

/// One request on a fresh TLS connection, which is then closed.
#[track_caller]
fn https_get(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, path: &str, auth: Option<(&str, &str)>) -> Resp {
    let mut s = connect(addr, config, "localhost");
    request(&mut s, path, auth, true).unwrap_or_else(|e| panic!("GET {path} over TLS failed: {e}"))
}

/// `account add NAME --level LEVEL --password-file F`.
fn add_account(site: &Site, name: &str, level: &str, password: &str) {
    let pw = tmp_file(site, &format!("{name}.pw"), &format!("{password}\n"));
    make_private(std::path::Path::new(&pw));
    site.run(["account", "add", name, "--level", level, "--password-file", &pw]).ok();
}

/// `peer add NAME --url URL --account site-a --password-file F` (JSON outcome).
fn add_peer(site: &Site, name: &str, url: &str) -> Outcome {
    let pw = tmp_file(site, &format!("{name}-peer.pw"), &format!("{PEER_PW}\n"));
    make_private(std::path::Path::new(&pw));
    site.json(["peer", "add", name, "--url", url, "--account", "site-a", "--password-file", &pw])
}

#[track_caller]
fn assert_no_secret(texts: &[&str], what: &str) {
    for t in texts {
        for secret in [READER_PW, PEER_PW] {
            assert!(!t.contains(secret), "a password leaked into {what}:\n{t}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[test]
fn peer_ping_over_https_needs_the_peers_ca_in_the_bundle() {
    let cert = Cert::new();
    let b = tls_site("site-b", &cert);
    add_account(&b, "site-a", "read-only", PEER_PW);
    let mut srv = serve(&b);
    let port = srv.addr.port();
    srv.wait_log(&format!("on https://127.0.0.1:{port}"));

    // (a) B's certificate is A's CA bundle: by IP address and by host name.
    for (caller_name, host) in [("site-a", "127.0.0.1"), ("site-a2", "localhost")] {
        let a = caller(caller_name, Some(&cert.cert_pem));
        add_peer(&a, "site-b", &format!("https://{host}:{port}")).ok();
        let ok = a.json(["peer", "ping", "site-b"]);
        ok.ok();
        let j = ok.json();
        assert_eq!((j["site"].as_str(), j["url"].as_str()), (Some("site-b"), Some(&*format!("https://{host}:{port}"))));
        assert_no_secret(&[&ok.stdout, &ok.stderr], "peer ping output");
    }

    // (b) No CA bundle: the built-in roots do not know a self-signed certificate.
    let a = caller("site-a", None);
    add_peer(&a, "site-b", &format!("https://localhost:{port}")).ok();
    let out = a.json(["peer", "ping", "site-b"]);
    let msg = out.expect_error(1, "peer_unreachable");
    assert!(msg.contains("certificate") && msg.contains("ca_bundle"), "{out}");
    assert_no_secret(&[&out.stdout, &out.stderr], "a failed ping");

    // A bundle holding another CA: rejected too, and the message names the bundle.
    let other = Cert::new();
    let a = caller("site-a", Some(&other.cert_pem));
    add_peer(&a, "site-b", &format!("https://127.0.0.1:{port}")).ok();
    let out = a.json(["peer", "ping", "site-b"]);
    let msg = out.expect_error(1, "peer_unreachable");
    assert!(msg.contains("certificate") && msg.contains("ca.pem"), "{out}");

    // A CA bundle that is missing or holds no certificate: a config error naming it.
    let a = caller("site-a", Some("not a certificate\n"));
    add_peer(&a, "site-b", &format!("https://127.0.0.1:{port}")).ok();
    let out = a.json(["peer", "ping", "site-b"]);
    let msg = out.expect_error(1, "config");
    assert!(msg.contains("ca_bundle") && msg.contains("ca.pem") && msg.contains("no PEM certificate"), "{out}");
    std::fs::remove_file(a.tmp().join("ca.pem")).unwrap();
    let out = a.json(["peer", "ping", "site-b"]);
    let msg = out.expect_error(1, "config");
    assert!(msg.contains("ca.pem") && msg.contains("No such file"), "{out}");

    // An https:// URL to a server that speaks plain HTTP: a TLS failure, not a hang.
    let plain = Site::named("site-p");
    let plain_srv = Server::start(&plain);
    let a = caller("site-a", Some(&cert.cert_pem));
    add_peer(&a, "site-p", &plain_srv.url.replace("http://", "https://")).ok();
    let out = a.json(["peer", "ping", "site-p"]);
    let msg = out.expect_error(1, "peer_unreachable");
    assert!(msg.contains("TLS"), "{out}");

    srv.assert_running("after the failed handshakes");
    let (_, err) = srv.stop();
    assert_no_secret(&[&err], "the server's log");
}

#[test]
fn authenticated_status_over_tls_with_a_raw_rustls_client() {
    let cert = Cert::new();
    let site = tls_site("tls-status", &cert);
    add_account(&site, "reader", "read-only", READER_PW);
    let srv = serve(&site);
    let cfg = cert.client_config();

    // (i) Authenticated status, then refusals, over one keep-alive connection.
    let mut s = connect(srv.addr, &cfg, "localhost");
    let ok = request(&mut s, "/api/v1/status", Some(("reader", READER_PW)), false).unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["files"], 0, "{ok:?}");
    let no_auth = request(&mut s, "/api/v1/status", None, false).unwrap();
    assert_eq!((no_auth.status, no_auth.json()["error"]["code"].as_str()), (401, Some("unauthorized")));
    let wrong = request(&mut s, "/api/v1/status", Some(("reader", "wrong")), false).unwrap();
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let ping = request(&mut s, "/api/v1/ping", None, true).unwrap();
    assert_eq!(ping.json()["site"], "tls-status");
    drop(s);

    // By IP address too (the certificate names 127.0.0.1).
    let mut s = connect(srv.addr, &cfg, "127.0.0.1");
    assert_eq!(request(&mut s, "/api/v1/ping", None, true).unwrap().status, 200);

    // A client that does not trust the certificate gets no answer.
    let stranger = Cert::new().client_config();
    let mut s = connect(srv.addr, &stranger, "localhost");
    let err = request(&mut s, "/api/v1/ping", None, true).expect_err("an untrusted certificate was accepted");
    assert!(err.to_string().contains("certificate") || err.to_string().contains("UnknownIssuer"), "{err}");

    assert_eq!(https_get(srv.addr, &cfg, "/api/v1/ping", None).status, 200);
    let (_, log) = srv.stop();
    assert!(log.contains("method=GET path=/api/v1/status status=200"), "no request log:\n{log}");
    assert_no_secret(&[&log], "the server's log");
}

#[test]
fn plain_http_and_silent_clients_on_the_tls_port_stop_nobody() {
    let cert = Cert::new();
    let site = tls_site("tls-robust", &cert);
    let mut srv = serve(&site);
    let cfg = cert.client_config();

    // (c) Plain HTTP to the TLS port: no HTTP answer (a TLS alert or nothing), the
    // connection is closed, and the next TLS client is served.
    let mut plain = TcpStream::connect(srv.addr).unwrap();
    plain.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    plain.write_all(b"GET /api/v1/ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "plain HTTP got an HTTP answer: {:?}", String::from_utf8_lossy(&got));
    assert!(started.elapsed() < CLIENT_TIMEOUT, "the plain-HTTP connection was not closed");
    assert_eq!(https_get(srv.addr, &cfg, "/api/v1/ping", None).status, 200);

    // (d) Ten clients connect and send nothing (no handshake): an eleventh TLS client is
    // served at once, not after their timeout.
    let silent: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(srv.addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = https_get(srv.addr, &cfg, "/api/v1/ping", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(started.elapsed() < IO_TIMEOUT, "the eleventh client waited {:?}", started.elapsed());

    // The silent ones are closed after io_timeout_secs (not left open until ours gives up).
    for mut s in silent {
        s.set_read_timeout(Some(IO_TIMEOUT * 3)).unwrap();
        let mut got = Vec::new();
        let r = s.read_to_end(&mut got);
        assert!(
            !matches!(&r, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
            "a silent connection was kept open past io_timeout_secs: {r:?}"
        );
        assert!(got.is_empty(), "a silent connection got {got:?}");
    }
    srv.assert_running("after silent clients");
    assert_eq!(https_get(srv.addr, &cfg, "/api/v1/ping", None).status, 200);
    srv.stop();
}

#[test]
fn sigterm_with_tls_exits_zero_with_idle_and_half_open_connections() {
    let cert = Cert::new();
    let site = tls_site("tls-stop", &cert);
    let srv = serve(&site);
    let cfg = cert.client_config();
    // (e) An idle keep-alive TLS connection and a TCP connection that never shakes
    // hands are open when SIGTERM arrives.
    let mut idle = connect(srv.addr, &cfg, "localhost");
    assert_eq!(request(&mut idle, "/api/v1/ping", None, false).unwrap().status, 200);
    let _half = TcpStream::connect(srv.addr).unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    srv.stop();
    assert!(started.elapsed() < IO_TIMEOUT, "the stop waited for idle connections: {:?}", started.elapsed());
    let mut buf = [0u8; 16];
    assert!(!matches!(idle.read(&mut buf), Ok(n) if n > 0), "the idle connection got data after the stop");
}

#[test]
fn bad_certificate_or_key_files_keep_the_server_from_starting() {
    let cert = Cert::new();
    let other = Cert::new();
    let site = tls_site("tls-bad", &cert);
    let tls_dir = site.dir().join("tls");
    let serve = |site: &Site| run_outcome(site.cmd().args(["--json", "serve", "--listen", "127.0.0.1:0"]));
    #[track_caller]
    fn refused(out: &Outcome, needles: &[&str]) {
        let msg = out.expect_error(1, "config");
        for n in needles {
            assert!(msg.contains(n), "{n:?} missing from the message: {out}");
        }
        assert!(!out.stdout.contains("listening on"), "{out}");
    }

    // (f) A key that belongs to another certificate.
    std::fs::write(tls_dir.join("key.pem"), &other.key_pem).unwrap();
    refused(&serve(&site), &["tls_key", &tls_dir.join("key.pem").display().to_string(), "does not fit"]);
    // A missing certificate file, named by its resolved path.
    std::fs::write(tls_dir.join("key.pem"), &cert.key_pem).unwrap();
    std::fs::remove_file(tls_dir.join("cert.pem")).unwrap();
    refused(&serve(&site), &["tls_cert", &tls_dir.join("cert.pem").display().to_string(), "No such file"]);
    // A certificate file with no certificate; a key file with no key; a directory.
    std::fs::write(tls_dir.join("cert.pem"), &cert.key_pem).unwrap();
    refused(&serve(&site), &["tls_cert", "cert.pem", "no PEM certificate"]);
    std::fs::write(tls_dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(tls_dir.join("key.pem"), &cert.cert_pem).unwrap();
    refused(&serve(&site), &["tls_key", "key.pem", "no PEM private key"]);
    std::fs::remove_file(tls_dir.join("key.pem")).unwrap();
    std::fs::create_dir(tls_dir.join("key.pem")).unwrap();
    refused(&serve(&site), &["tls_key", "key.pem", "not a file"]);
    // Broken PEM.
    std::fs::remove_dir(tls_dir.join("key.pem")).unwrap();
    std::fs::write(tls_dir.join("key.pem"), "-----BEGIN PRIVATE KEY-----\n!!!!\n").unwrap();
    refused(&serve(&site), &["tls_key", "key.pem"]);

    // Only one of the two set: the configuration is refused.
    let half = Site::named("tls-half");
    append_config(&half, "\n[server]\ntls_cert = \"cert.pem\"\n");
    refused(&serve(&half), &["tls_cert and server.tls_key must be set together"]);
}

#[test]
fn plain_http_is_refused_off_loopback() {
    // (g) 0.0.0.0 without TLS: refused before listening, naming the way out.
    let site = Site::named("plain-wide");
    let out = run_outcome(site.cmd().args(["--json", "serve", "--listen", "0.0.0.0:0"]));
    let msg = out.expect_error(2, "invalid_argument");
    assert!(msg.contains("0.0.0.0") && msg.contains("tls_cert") && msg.contains("insecure_plain_http"), "{out}");
    assert!(!out.stdout.contains("listening on"), "{out}");
    // The same from the config's `listen`.
    append_config(&site, "\n[server]\nlisten = \"0.0.0.0:0\"\n");
    run_outcome(site.cmd().args(["--json", "serve"])).expect_error(2, "invalid_argument");
    // --listen on loopback overrides it.
    serve(&site).stop();

    // With insecure_plain_http = true it serves (plain HTTP).
    append_config(&site, "insecure_plain_http = true\n");
    let srv = serve_at(&site, "0.0.0.0:0");
    let mut s = TcpStream::connect(srv.local()).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    srv.stop();

    // With TLS, any address.
    let cert = Cert::new();
    let tls = tls_site("tls-wide", &cert);
    let srv = serve_at(&tls, "0.0.0.0:0");
    assert_eq!(https_get(srv.local(), &cert.client_config(), "/api/v1/ping", None).json()["site"], "tls-wide");
    srv.stop();
}

#[test]
fn peer_urls_need_https_unless_loopback() {
    // (h) Plain http:// to another host is refused; https:// and loopback http:// are not.
    let a = Site::named("site-a");
    for url in ["http://b.example.org:8443", "http://10.1.2.3:8420", "http://0.0.0.0:8420", "http://[2001:db8::1]:1"] {
        let out = add_peer(&a, "site-b", url);
        let msg = out.expect_error(2, "invalid_argument");
        assert!(msg.contains("https://") && msg.contains("loopback"), "{out}");
        assert_no_secret(&[&out.stdout, &out.stderr], "peer add output");
    }
    assert!(a.json(["peer", "list"]).json().as_array().is_some_and(Vec::is_empty));
    for (name, url) in [
        ("site-b", "https://b.example.org:8443"),
        ("site-c", "https://10.1.2.3"),
        ("site-d", "http://127.0.0.1:8420"),
        ("site-e", "http://localhost:8420/"),
        ("site-f", "http://[::1]:8420"),
    ] {
        let out = add_peer(&a, name, url);
        out.ok();
        assert_eq!(out.json()["url"].as_str(), Some(url.trim_end_matches('/')), "{out}");
    }
}

/// SIGHUP reloads the certificate and key (a renewed certificate needs no restart):
/// new connections get the new pair, a connection opened before keeps working, and a
/// pair that does not load is refused with an error in the log while the one in use
/// stays. The server keeps running through all of it.
#[test]
fn sighup_reloads_the_certificate_and_keeps_the_old_one_when_the_new_does_not_load() {
    let old = Cert::new();
    let site = tls_site("site-a", &old);
    let mut srv = serve(&site);
    let early = {
        let mut s = connect(srv.addr, &old.client_config(), "localhost");
        assert_eq!(request(&mut s, "/api/v1/ping", None, false).unwrap().status, 200);
        s
    };
    // Renewed: both files replaced, then SIGHUP.
    let new = Cert::new();
    let dir = site.dir().join("tls");
    std::fs::write(dir.join("cert.pem"), &new.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &new.key_pem).unwrap();
    srv.signal(libc::SIGHUP);
    srv.wait_log("reloaded the TLS certificate and key");
    srv.assert_running("after SIGHUP");
    assert_eq!(https_get(srv.addr, &new.client_config(), "/api/v1/ping", None).status, 200);
    let mut s = connect(srv.addr, &old.client_config(), "localhost");
    assert!(request(&mut s, "/api/v1/ping", None, true).is_err(), "new connections no longer get the old certificate");
    let mut early = early;
    assert_eq!(
        request(&mut early, "/api/v1/ping", None, true).unwrap().status,
        200,
        "an open connection keeps its own"
    );

    // A key that does not belong to the certificate: refused, the renewed pair stays.
    std::fs::write(dir.join("key.pem"), &Cert::new().key_pem).unwrap();
    srv.signal(libc::SIGHUP);
    srv.wait_log("kept the TLS certificate in use");
    srv.assert_running("after a SIGHUP with a bad pair");
    assert_eq!(https_get(srv.addr, &new.client_config(), "/api/v1/ping", None).status, 200);
    let (_, log) = srv.stop();
    assert!(log.contains("does not fit server.tls_cert"), "{log}");
}

/// `[client] system_roots = true` trusts the system's CA store (here pointed at B's
/// certificate with `SSL_CERT_FILE`, as an operator's private CA would be installed):
/// the ping that the built-in roots refuse goes through, and `status`-style messages
/// name where the roots came from. An empty system store is a `config` error.
#[test]
fn system_roots_trust_the_systems_ca_store() {
    let cert = Cert::new();
    let b = tls_site("site-b", &cert);
    add_account(&b, "site-a", "read-only", PEER_PW);
    let srv = serve(&b);
    let port = srv.addr.port();
    let store = b.tmp().join("system-store.pem");
    std::fs::write(&store, &cert.cert_pem).unwrap();

    let a = caller("site-a", None);
    add_peer(&a, "site-b", &format!("https://localhost:{port}")).ok();
    let ping = |site: &Site, store: &std::path::Path| {
        run_outcome(
            site.cmd()
                .env("SSL_CERT_FILE", store)
                .env_remove("SSL_CERT_DIR")
                .args(["--json", "peer", "ping", "site-b"]),
        )
    };
    // Without system_roots the built-in roots decide: refused, even with the store set.
    ping(&a, &store).expect_error(1, "peer_unreachable");
    append_config(&a, "\n[client]\nsystem_roots = true\n");
    let ok = ping(&a, &store);
    ok.ok();
    assert_eq!(ok.json()["site"], "site-b", "{ok}");
    // A store with another CA only: refused, and the message says the system's store.
    let other = a.tmp().join("other.pem");
    std::fs::write(&other, Cert::new().cert_pem).unwrap();
    let out = ping(&a, &other);
    assert!(out.expect_error(1, "peer_unreachable").contains("system"), "{out}");
    // An empty one: a configuration error.
    let empty = a.tmp().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let out = ping(&a, &empty);
    assert!(out.expect_error(1, "config").contains("system_roots"), "{out}");
    srv.stop();
}
