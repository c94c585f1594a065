//! `librarian account ...` and `librarian peer ...`, and where passwords come from.

use std::io::IsTerminal;
use std::path::Path;

use clap::Subcommand;
use librarian_core::{FileName, Level, Librarian, Password};

use crate::error::{CliError, Result};
use crate::output::Out;

/// Environment variable holding a password (for scripts; prefer `--password-file`).
pub const PASSWORD_ENV: &str = "LIBRARIAN_PASSWORD";

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Add an account that may call this site's server. The password comes from
    /// --password-file, else $LIBRARIAN_PASSWORD, else a prompt on the terminal.
    Add {
        /// Account name (used in HTTP Basic auth).
        name: String,
        /// What the account may do.
        #[arg(long, value_parser = ["admin", "read-append", "read-only", "callback"])]
        level: String,
        /// The peer this account belongs to (required for callback accounts).
        #[arg(long, value_name = "PEER")]
        for_peer: Option<String>,
        /// File whose first line is the password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<std::path::PathBuf>,
    },
    /// List accounts (never their passwords).
    List,
    /// Remove an account.
    Remove {
        /// Account name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Add another Librarian we call. The password of our account there comes from
    /// --password-file, else $LIBRARIAN_PASSWORD, else a prompt on the terminal.
    Add {
        /// The peer's site name.
        name: String,
        /// Base URL of its server, e.g. https://librarian.example.org:8443.
        #[arg(long)]
        url: String,
        /// Our account at the peer.
        #[arg(long, value_name = "ACCOUNT_AT_PEER")]
        account: String,
        /// File whose first line is the password of that account.
        #[arg(long, value_name = "FILE")]
        password_file: Option<std::path::PathBuf>,
    },
    /// List peers (never the passwords we use there).
    List,
    /// Remove a peer (refused while accounts belong to it).
    Remove {
        /// Peer name.
        name: String,
    },
    /// Point a peer at a new URL (it moved, or a site migrated from the original
    /// Librarian answers elsewhere); its account, password, history and queued calls
    /// are kept.
    SetUrl {
        /// Peer name.
        name: String,
        /// Its base URL: https://host[:port][/path] (http:// only to this host).
        url: String,
    },
    /// Set the protocol a peer speaks: `librarian` (ours, the default) or
    /// `original-v2` for a site that still runs the original Librarian (its calls are
    /// then answered under /api/v2, and ours to it go there).
    SetProtocol {
        /// Peer name.
        name: String,
        /// librarian | original-v2
        protocol: String,
    },
    /// Allow new transfers to a peer.
    Enable {
        /// Peer name.
        name: String,
    },
    /// Stop new transfers to a peer (queued work is kept).
    Disable {
        /// Peer name.
        name: String,
    },
    /// Check a peer: it answers as that site and accepts our credentials.
    Ping {
        /// Peer name.
        name: String,
    },
    /// Tell a peer that this site holds these files, so it records remote instances
    /// here (e.g. after both sites got the same data by other means). The calls go
    /// through the outbox: `tasks run` delivers them, now or once the peer is back.
    Announce {
        /// Peer name.
        name: String,
        /// Catalog names of files with an available copy here.
        #[arg(required = true)]
        files: Vec<String>,
    },
}

/// The password: from `file`, else `$LIBRARIAN_PASSWORD`, else asked on the terminal
/// without echo. Never from the command line itself.
fn password(file: Option<&Path>, what: &str) -> Result<Password> {
    if let Some(f) = file {
        return Ok(Password::from_file(f)?);
    }
    if let Some(v) = std::env::var_os(PASSWORD_ENV) {
        let v = v.into_string().map_err(|_| CliError::Usage(format!("${PASSWORD_ENV} is not UTF-8")))?;
        return Ok(Password::new(v)?);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {what}: "))
            .map_err(CliError::io("cannot read the password"))?;
        let again = rpassword::prompt_password("again: ").map_err(CliError::io("cannot read the password"))?;
        if first != again {
            return Err(CliError::Usage("the two passwords differ".into()));
        }
        return Ok(Password::new(first)?);
    }
    Err(CliError::Usage(format!(
        "no password for {what}: give --password-file FILE, set ${PASSWORD_ENV}, or run on a terminal"
    )))
}

pub fn account(lib: &Librarian, cmd: &AccountCommand, out: &Out) -> Result<()> {
    match cmd {
        AccountCommand::Add { name, level, for_peer, password_file } => {
            let level: Level = level.parse()?;
            let pw = password(password_file.as_deref(), &format!("account {name}"))?;
            out.account(&lib.add_account(name, level, for_peer.as_deref(), &pw)?)
        }
        AccountCommand::List => out.accounts(&lib.accounts()?),
        AccountCommand::Remove { name } => {
            lib.remove_account(name)?;
            out.removed("account", name)
        }
    }
}

pub fn peer(lib: &Librarian, cmd: &PeerCommand, out: &Out) -> Result<()> {
    match cmd {
        PeerCommand::Add { name, url, account, password_file } => {
            let pw = password(password_file.as_deref(), &format!("account {account} at {name}"))?;
            out.peer(&lib.add_peer(name, url, account, &pw)?)
        }
        PeerCommand::List => out.peers(&lib.peers()?),
        PeerCommand::Remove { name } => {
            lib.remove_peer(name)?;
            out.removed("peer", name)
        }
        PeerCommand::SetUrl { name, url } => out.peer(&lib.set_peer_url(name, url)?),
        PeerCommand::SetProtocol { name, protocol } => out.peer(&lib.set_peer_protocol(name, protocol.parse()?)?),
        PeerCommand::Enable { name } => out.peer(&lib.set_peer_transfers(name, true)?),
        PeerCommand::Disable { name } => out.peer(&lib.set_peer_transfers(name, false)?),
        PeerCommand::Ping { name } => out.peer_ping(&lib.ping_peer(name)?, lib.check_globus()?.as_ref()),
        PeerCommand::Announce { name, files } => {
            let names = files.iter().map(|f| FileName::new(f)).collect::<Result<Vec<_>, _>>()?;
            crate::notices::calls(out, &lib.announce(name, &names)?)
        }
    }
}
