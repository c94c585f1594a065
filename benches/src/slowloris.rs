//! Issue 9, defect 5: slowloris. Two `librarian serve` processes (plain HTTP and
//! HTTPS) with the default `[server]` limits each get 600 slow connections from
//! 127.0.0.1 for 60 s: every connection sends an unfinished request head (or TLS
//! ClientHello) one byte every 10 s and is reopened as soon as the server closes it.
//! Meanwhile a well-behaved client, also on 127.0.0.1, pings each server every 100 ms
//! on a fresh connection. Measured: the good client's latency (p50, p99, max) and
//! failures, and the servers' peak resident memory (VmRSS, sampled every 250 ms).
//! Targets: served within 1 s throughout, RSS under 128 MiB.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use librarian_core::Librarian;
use rustls_pki_types::pem::PemObject;

use crate::util::{Res, percentile};
use crate::{Ctx, Row, fresh_dir};

const SLOW: usize = 600;
const DURATION: Duration = Duration::from_secs(60);
const DRIP_EVERY: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_millis(100);
const RSS_LIMIT_KIB: u64 = 128 * 1024;

/// A `librarian serve` child, killed on drop.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(bin: &Path, config: &Path, log: &Path) -> Res<Served> {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(File::create(log)?)
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("librarian serve did not start: {line:?}").into());
        };
        let addr = addr.trim_start_matches("https://").trim_start_matches("http://").parse()?;
        Ok(Served { child, addr })
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 600 slow connections to `addr`, each dripping `payload` a byte every 10 s and
/// reopened when closed, until `stop`. Returns the connections opened.
fn attack(addr: SocketAddr, payload: &[u8], stop: &AtomicBool) -> u64 {
    struct Slow {
        stream: Option<TcpStream>,
        sent: usize,
        next: Instant,
    }
    let open = || {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_nonblocking(true).ok()?;
        Some(s)
    };
    let mut opened = 0u64;
    let now = Instant::now();
    let mut conns: Vec<Slow> = (0..SLOW)
        .map(|i| {
            opened += 1;
            // Spread the drips over the 10 s.
            Slow { stream: open(), sent: 0, next: now + DRIP_EVERY.mul_f64(i as f64 / SLOW as f64) }
        })
        .collect();
    let mut sink = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        for c in &mut conns {
            let alive = match &mut c.stream {
                Some(s) => match s.read(&mut sink) {
                    Ok(0) => false,
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                },
                None => false,
            };
            if !alive {
                opened += 1;
                *c = Slow { stream: open(), sent: 0, next: Instant::now() };
            }
            if Instant::now() >= c.next
                && let Some(s) = &mut c.stream
            {
                let _ = s.write_all(&payload[c.sent % payload.len()..][..1]);
                c.sent += 1;
                c.next = Instant::now() + DRIP_EVERY;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    opened
}

/// One ping on a fresh connection (over TLS when `tls`); an error unless a 200.
fn ping(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> Res<()> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = format!("GET /api/v1/ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    match tls {
        None => {
            let mut s = tcp;
            s.write_all(request.as_bytes())?;
            s.read_to_end(&mut out)?;
        }
        Some(config) => {
            let name = rustls_pki_types::ServerName::try_from("localhost")?;
            let mut s = rustls::StreamOwned::new(rustls::ClientConnection::new(Arc::clone(config), name)?, tcp);
            s.write_all(request.as_bytes())?;
            match s.read_to_end(&mut out) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if out.starts_with(b"HTTP/1.1 200 ") {
        Ok(())
    } else {
        Err(format!("answer {:?}", String::from_utf8_lossy(&out[..out.len().min(120)])).into())
    }
}

/// Latencies (ms) and failures of the good client over `DURATION` (the first few
/// failures are printed).
fn good_client(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> (Vec<f64>, u64) {
    let t0 = Instant::now();
    let (mut lat, mut failed) = (Vec::new(), 0);
    while t0.elapsed() < DURATION {
        let t = Instant::now();
        match ping(addr, tls) {
            Ok(()) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    println!("   a ping failed after {:.0} ms: {e}", t.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        std::thread::sleep(PING_EVERY);
    }
    (lat, failed)
}

/// The bench.
pub fn slowloris(ctx: &mut Ctx) -> Res<()> {
    ctx.header(
        &format!("slowloris: {SLOW} slow connections per server (HTTP and HTTPS) for {} s", DURATION.as_secs()),
        None,
    );
    let bin = crate::memory::librarian_bin(ctx)?;
    let dir = fresh_dir(ctx, "slowloris")?;
    let plain_config = Librarian::init(&dir.join("plain"), "bench")?.config_path().to_owned();
    let tls_site = dir.join("tls");
    let tls_config = Librarian::init(&tls_site, "bench")?.config_path().to_owned();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    std::fs::write(tls_site.join("cert.pem"), ck.cert.pem())?;
    std::fs::write(tls_site.join("key.pem"), ck.signing_key.serialize_pem())?;
    let base = std::fs::read_to_string(&tls_config)?;
    std::fs::write(&tls_config, format!("{base}\n[server]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(ck.cert.pem().as_bytes())?)?;
    let client = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let hello = {
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        let mut c = rustls::ClientConnection::new(Arc::clone(&client), name)?;
        let mut out = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut out)?;
        }
        out
    };

    let plain = Served::start(&bin, &plain_config, &dir.join("plain.log"))?;
    let tls = Served::start(&bin, &tls_config, &dir.join("tls.log"))?;
    let head = format!("GET /api/v1/ping HTTP/1.1\r\nHost: {}\r\nX-Slow: ", plain.addr).into_bytes();
    let stop = AtomicBool::new(false);
    let peaks = [AtomicU64::new(0), AtomicU64::new(0)];
    let (results, opened) = std::thread::scope(|s| {
        let attacks = [s.spawn(|| attack(plain.addr, &head, &stop)), s.spawn(|| attack(tls.addr, &hello, &stop))];
        let watch = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peaks[0].fetch_max(plain.rss_kib(), Ordering::Relaxed);
                peaks[1].fetch_max(tls.rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        // Let the attack reach its 600 connections first.
        std::thread::sleep(Duration::from_secs(2));
        let tls_good = s.spawn(|| good_client(tls.addr, Some(&client)));
        let plain_good = good_client(plain.addr, None);
        let tls_good = tls_good.join().unwrap_or_default();
        stop.store(true, Ordering::Relaxed);
        let opened: Vec<u64> = attacks.into_iter().map(|a| a.join().unwrap_or(0)).collect();
        let _ = watch.join();
        ([plain_good, tls_good], opened)
    });
    for (i, (label, (lat, failed))) in ["http", "https"].iter().zip(results).enumerate() {
        let (p50, p99) = (percentile(&lat, 50.0), percentile(&lat, 99.0));
        let max = lat.iter().copied().fold(0.0, f64::max);
        let rss = peaks[i].load(Ordering::Relaxed);
        println!(
            "   {label}: good client {} pings, {failed} failed; latency p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; \
             server peak RSS {:.1} MiB; slow connections opened {}",
            lat.len(),
            rss as f64 / 1024.0,
            opened[i]
        );
        ctx.row(Row {
            id: if i == 0 { "slowloris" } else { "slowloris-tls" },
            what: format!("good client's ping ({label}) under {SLOW} slow connections for {} s", DURATION.as_secs()),
            value: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.0} ms, {failed} failed"),
            baseline: format!("server peak RSS {:.0} MiB", rss as f64 / 1024.0),
            ratio: String::new(),
            target: "max < 1 s, RSS < 128 MiB".into(),
            pass: Some(failed == 0 && max < 1000.0 && rss < RSS_LIMIT_KIB),
        });
    }
    Ok(())
}
