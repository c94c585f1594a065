//! Issue 3: authenticated `GET /api/v1/status` from a loopback client with 8
//! concurrent keep-alive connections, with the credential cache on (target ≥ 2,000
//! requests/s) and off (argon2id on every request), in one run; then the same with
//! the cache on over HTTPS (rustls on both sides, a self-signed certificate made here).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;

use librarian_core::Shim;
use librarian_core::{Level, Librarian, Password};

use crate::util::Res;
use crate::{Ctx, Row, fresh_dir};

const CLIENTS: usize = 8;
const PASSWORD: &str = "bench-password-1";

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One keep-alive client, over TLS when `tls` is set: send requests until `stop`,
/// counting 200 answers.
fn client(
    addr: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
    auth: &str,
    stop: &AtomicBool,
    ok: &AtomicU64,
) -> Res<()> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    match tls {
        None => requests(BufReader::new(stream), auth, stop, ok),
        Some(config) => {
            let name = rustls_pki_types::ServerName::try_from("localhost")?;
            let conn = rustls::ClientConnection::new(Arc::clone(config), name)?;
            requests(BufReader::new(rustls::StreamOwned::new(conn, stream)), auth, stop, ok)
        }
    }
}

fn requests<S: Read + Write>(mut reader: BufReader<S>, auth: &str, stop: &AtomicBool, ok: &AtomicU64) -> Res<()> {
    let request = format!("GET /api/v1/status HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {auth}\r\n\r\n");
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        reader.get_mut().write_all(request.as_bytes())?;
        reader.get_mut().flush()?;
        line.clear();
        reader.read_line(&mut line)?;
        let status_ok = line.split(' ').nth(1) == Some("200");
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        if !status_ok {
            return Err(format!("unexpected answer {:?}", String::from_utf8_lossy(&body)).into());
        }
        ok.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Requests per second over `duration` against a server of the site at `config`.
fn measure(config: &std::path::Path, tls: Option<&Arc<rustls::ClientConfig>>, duration: Duration) -> Res<f64> {
    let lib = Librarian::open(config)?;
    let shim = Shim::bind(&lib, Some("127.0.0.1:0"))?;
    let addr = shim.local_addr();
    let stop_server = AtomicBool::new(false);
    let stop_clients = AtomicBool::new(false);
    let ok = AtomicU64::new(0);
    let auth = b64(format!("reader:{PASSWORD}").as_bytes());
    let rate = std::thread::scope(|s| -> Res<f64> {
        let server = s.spawn(|| shim.run(&stop_server));
        let started = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| s.spawn(|| client(addr, tls, &auth, &stop_clients, &ok).map_err(|e| e.to_string())))
            .collect();
        std::thread::sleep(duration);
        stop_clients.store(true, Ordering::Relaxed);
        let mut errors = Vec::new();
        for c in clients {
            match c.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push("client panicked".into()),
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        stop_server.store(true, Ordering::Relaxed);
        match server.join() {
            Ok(r) => r?,
            Err(_) => return Err("server panicked".into()),
        }
        if let Some(e) = errors.first() {
            return Err(e.clone().into());
        }
        Ok(ok.load(Ordering::Relaxed) as f64 / elapsed)
    })?;
    Ok(rate)
}

/// The bench.
pub fn http(ctx: &mut Ctx) -> Res<()> {
    ctx.header(&format!("HTTP: authenticated GET /api/v1/status, {CLIENTS} keep-alive connections"), None);
    let site = fresh_dir(ctx, "http-site")?;
    let config = {
        let lib = Librarian::init(&site, "bench")?;
        lib.add_account("reader", Level::ReadOnly, None, &Password::new(PASSWORD.into())?)?;
        lib.config_path().to_owned()
    };
    let base = std::fs::read_to_string(&config)?;
    let mut rates = Vec::new();
    for (label, cache_secs, secs) in [("cache on", 60u64, 5u64), ("cache off (argon2id every request)", 0, 5)] {
        std::fs::write(&config, format!("{base}\n[server]\nauth_cache_secs = {cache_secs}\n"))?;
        let mut runs = Vec::new();
        for _ in 0..ctx.runs.min(3) {
            runs.push(measure(&config, None, Duration::from_secs(secs))?);
        }
        let med = crate::util::median(&runs);
        println!(
            "   {label}: {med:.0} requests/s (runs: {})",
            runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
        );
        rates.push(med);
    }
    // HTTPS, cache on: a self-signed certificate for localhost, trusted by the clients.
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    std::fs::write(site.join("cert.pem"), ck.cert.pem())?;
    std::fs::write(site.join("key.pem"), ck.signing_key.serialize_pem())?;
    std::fs::write(
        &config,
        format!("{base}\n[server]\nauth_cache_secs = 60\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"),
    )?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(ck.cert.pem().as_bytes())?)?;
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let mut runs = Vec::new();
    for _ in 0..ctx.runs.min(3) {
        runs.push(measure(&config, Some(&tls), Duration::from_secs(5))?);
    }
    let https = crate::util::median(&runs);
    println!(
        "   https, cache on: {https:.0} requests/s (runs: {})",
        runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
    );
    ctx.row(Row {
        id: "http",
        what: format!("authenticated GET /status, {CLIENTS} connections, cache on"),
        value: format!("{:.0} req/s", rates[0]),
        baseline: format!("cache off: {:.0} req/s", rates[1]),
        ratio: format!("{:.0}x", rates[0] / rates[1].max(1e-9)),
        target: "≥ 2000 req/s".into(),
        pass: Some(rates[0] >= 2000.0),
    });
    ctx.row(Row {
        id: "https",
        what: format!("authenticated GET /status over TLS, {CLIENTS} connections, cache on"),
        value: format!("{https:.0} req/s"),
        baseline: format!("plain HTTP: {:.0} req/s", rates[0]),
        ratio: format!("{:.2}x", https / rates[0].max(1e-9)),
        target: "≥ 2000 req/s".into(),
        pass: Some(https >= 2000.0),
    });
    Ok(())
}
