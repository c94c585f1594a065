//! `fake-globus`: a local stand-in for Globus Auth's token endpoint and the Globus
//! Transfer API v0.10 that really copies files between local directories, so a
//! Globus client can be tested end to end offline. See README.md.

// The task document is one large `json!`.
#![recursion_limit = "256"]

mod api;
mod auth;
mod control;
mod copy;
mod errors;
mod http;
mod persist;
mod runner;
mod server;
mod tasks;
mod transfer;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Auth;
use crate::server::{Fake, Inner, Settings};
use crate::tasks::{Scenario, Status};

const USAGE: &str = "usage: fake-globus --listen HOST:PORT [--collection UUID=DIR]... [--client ID:SECRET]... \
[--refresh-token CLIENT_ID:TOKEN]... [--token-lifetime SECS] [--state FILE] [--max-pending N]";

/// The command line.
#[derive(Debug)]
struct Args {
    listen: String,
    collections: HashMap<String, PathBuf>,
    clients: Vec<(String, String)>,
    refresh_tokens: Vec<(String, String)>,
    token_lifetime: u64,
    state: Option<PathBuf>,
    max_pending: usize,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = None;
    let mut parsed = Args {
        listen: String::new(),
        collections: HashMap::new(),
        clients: Vec::new(),
        refresh_tokens: Vec::new(),
        token_lifetime: 172_800,
        state: None,
        max_pending: 100,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let pair = |sep: char| -> Result<(String, String), String> {
            value
                .split_once(sep)
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("{flag} {value}: expected two parts separated by '{sep}'"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(value.clone()),
            "--collection" => {
                let (id, dir) = pair('=')?;
                let id = uuid::Uuid::parse_str(&id).map_err(|e| format!("--collection {id}: not a UUID: {e}"))?;
                let dir = std::fs::canonicalize(&dir).map_err(|e| format!("--collection {dir}: {e}"))?;
                if !dir.is_dir() {
                    return Err(format!("--collection {}: not a directory", dir.display()));
                }
                parsed.collections.insert(id.hyphenated().to_string(), dir);
            }
            "--client" => parsed.clients.push(pair(':')?),
            "--refresh-token" => parsed.refresh_tokens.push(pair(':')?),
            "--token-lifetime" => {
                parsed.token_lifetime = value.parse().map_err(|e| format!("--token-lifetime {value}: {e}"))?;
            }
            "--state" => parsed.state = Some(PathBuf::from(&value)),
            "--max-pending" => parsed.max_pending = value.parse().map_err(|e| format!("--max-pending {value}: {e}"))?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    parsed.listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    Ok(parsed)
}

fn main() {
    if let Err(message) = run() {
        eprintln!("fake-globus: {message}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args(std::env::args().skip(1))?;
    let saved = match &args.state {
        Some(path) => persist::load(path).map_err(|e| format!("--state {}: {e}", path.display()))?,
        None => persist::Saved::default(),
    };
    let listener = TcpListener::bind(&args.listen).map_err(|e| format!("--listen {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let inner = Inner {
        auth: Auth::new(&args.clients, &args.refresh_tokens, Duration::from_secs(args.token_lifetime)),
        tasks: saved.tasks,
        owners: saved.owners.into_iter().collect::<BTreeMap<_, _>>(),
        log: Vec::new(),
        injections: Vec::new(),
        scenario: Scenario::default(),
    };
    let settings =
        Settings { collections: args.collections, max_pending: args.max_pending, state_file: args.state.clone() };
    let fake = Arc::new(Fake::new(settings, inner));
    let unfinished: Vec<String> = fake
        .lock()
        .tasks
        .iter()
        .filter(|t| matches!(t.status, Status::Active | Status::Inactive))
        .map(|t| t.task_id.clone())
        .collect();
    if !unfinished.is_empty() {
        fake.changed(&fake.lock());
    }
    for task_id in &unfinished {
        runner::spawn(&fake, task_id);
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{address}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
    let handler = Arc::clone(&fake);
    http::serve(listener, Arc::new(move |request| handler.handle(request)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Args, String> {
        parse_args(text.split_whitespace().map(str::to_string))
    }

    #[test]
    fn command_line() {
        let dir = tempfile::tempdir().unwrap();
        let line = format!(
            "--listen 127.0.0.1:0 --collection AA752CEA-8222-5BC8-ACD9-555B090C0CCB={} --client id:se:cret \
             --refresh-token app:rt --token-lifetime 2 --max-pending 3",
            dir.path().display()
        );
        let parsed = args(&line).unwrap();
        assert!(parsed.collections.contains_key("aa752cea-8222-5bc8-acd9-555b090c0ccb"));
        assert_eq!(parsed.clients, vec![("id".to_string(), "se:cret".to_string())]);
        assert_eq!(parsed.refresh_tokens, vec![("app".to_string(), "rt".to_string())]);
        assert_eq!((parsed.token_lifetime, parsed.max_pending), (2, 3));
        assert!(args("--collection x=/tmp").is_err());
        assert!(args("--listen 127.0.0.1:0 --collection not-a-uuid=/tmp").is_err());
        assert!(args("--listen 127.0.0.1:0 --bogus 1").is_err());
    }
}
