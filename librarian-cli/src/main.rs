//! `librarian`: the command-line front end. Each command parses its arguments, makes
//! one call into `librarian-core`, and prints the result (human text, or one JSON
//! document with `--json`). Exit codes: 0 success, 1 the operation failed or found a
//! problem, 2 usage error (the caller's input was wrong: see [`error::CliError::exit_code`]).

mod access;
mod alerts;
mod clone;
mod demo;
mod error;
mod import_original;
mod lifecycle;
mod logging;
mod notices;
mod output;
mod progress;
mod table;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use librarian_core::{
    Algorithm, Checksum, DeletionPolicy, FileName, Librarian, SearchQuery, StoreSpec, TaskKind, TaskStatus,
    UploadOptions,
};

use crate::error::{CliError, Result};
use crate::output::Out;

#[derive(Parser, Debug)]
#[command(
    name = "librarian",
    version,
    about = "Move research data between sites and prove every copy is intact.",
    after_help = "Exit codes: 0 success; 1 the operation failed or found a problem (e.g. verify found \
                  corruption, a damaged catalog, a failed demo); 2 usage error (the command line or an \
                  argument's value is wrong).\nLogging: on stderr, default warn; -v info, -vv debug, -vvv trace, -q errors only,\n\
                  --log-format json for log shippers; LIBRARIAN_LOG=LEVEL overrides.\n\
                  Documentation: docs/operations.md"
)]
struct Cli {
    /// Configuration file (default: $LIBRARIAN_CONFIG, else /etc/librarian/librarian.toml,
    /// else ./librarian.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// More log lines on stderr: -v info (e.g. the server's access log), -vv debug,
    /// -vvv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Only errors on stderr's log.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log line format on stderr: text (time, level, module, message) or json (one
    /// object per line: ts, level, target, msg).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a site in DIR: DIR/librarian.toml, the database, and a store "main".
    Init {
        /// Directory of the new site (created if missing).
        dir: PathBuf,
        /// The site's name.
        #[arg(long)]
        name: String,
    },
    /// The configuration: `config show [--defaults]`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manage the accounts that may call this site's server.
    #[command(subcommand)]
    Account(access::AccountCommand),
    /// Manage the other Librarians this site calls.
    #[command(subcommand)]
    Peer(access::PeerCommand),
    /// Transfers to and from peers.
    #[command(subcommand)]
    Transfers(clone::TransfersCommand),
    /// Copy files to other sites now (the send-clones task does it on schedule).
    #[command(subcommand)]
    Clone(clone::CloneCommand),
    /// Drives carried by hand: export, verify (offline), import.
    #[command(subcommand)]
    Sneakernet(clone::SneakernetCommand),
    /// Calls queued for peers (delivered by the deliver-outbox task).
    #[command(subcommand)]
    Outbox(notices::OutboxCommand),
    /// Events: what an operator must know (unreachable peers, refused calls, conflicts).
    #[command(subcommand)]
    Events(notices::EventsCommand),
    /// Alerts: events sent to the [alerts] sinks of the configuration (webhooks,
    /// command hooks) by the deliver-alerts task: `alerts test`, `alerts list`.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Ingest a file or a directory (book) under NAME, verified on the way in.
    Upload(UploadArgs),
    /// Show a file with its instances and remote instances.
    Info {
        /// The file's name in the catalog.
        name: OsString,
    },
    /// Search the catalog.
    Search(SearchArgs),
    /// Copy a file or book out of the stores to DEST (which must not exist), from
    /// the best local instance, hashing while copying: DEST appears only if the bytes
    /// match the catalog (exit 1, nothing written, when no instance matches).
    Get {
        /// The file or book.
        name: OsString,
        /// Where to put it (a new path; its parent must exist).
        dest: PathBuf,
    },
    /// Re-read and re-hash instances; exit 1 on any mismatch or missing copy. A
    /// damaged copy is marked corrupt or missing (an event says so) and is no longer
    /// used until repaired; a damaged copy found intact again is restored.
    ///
    /// With --budget it is a scrub: copies are re-read from the disk (not the page
    /// cache), least recently verified first, until the budget is spent; the
    /// report lists only the damaged copies, with each store's coverage.
    Verify {
        /// Files to verify (default: every instance).
        names: Vec<OsString>,
        /// Only instances on this store.
        #[arg(long)]
        store: Option<String>,
        /// Scrub within a budget: a size ("100GB", "2TiB": the copy that crosses it
        /// is finished) or a duration ("30min", "2h": no copy is started after it).
        /// Give it twice for both.
        #[arg(long, value_name = "BYTES|DURATION", conflicts_with = "names")]
        budget: Vec<String>,
        /// With --budget: read at most this many bytes per second ("200MB").
        #[arg(long, value_name = "BYTES", requires = "budget")]
        max_rate: Option<String>,
        /// Ask this peer to re-read its own copies of NAMES now (it answers per copy;
        /// the answers are recorded on the remote instances here, which rolling
        /// deletion counts). Exit 1 unless every file has an intact copy there.
        #[arg(long, value_name = "PEER", conflicts_with_all = ["budget", "store"], requires = "names")]
        remote: Option<String>,
    },
    /// Repair every damaged (corrupt or missing) copy of NAME: the good bytes come
    /// from another copy here, or else from a peer that holds one (it re-reads its
    /// copy first); they are hashed again as they are written, and replace the bad
    /// ones only when they match the catalog. Exit 1 when a copy stays damaged.
    Repair {
        /// The file or book.
        name: OsString,
    },
    /// Disaster recovery. --from-stores: the catalog is lost or damaged; move it
    /// aside (never deleted; its stores, peers and accounts are copied when it can
    /// still be read) and catalogue every file and book found in the stores' data
    /// areas, hashed again (BLAKE3). A directory without write bits is a book
    /// (committed books are read-only); so is one matching --book. --remote PEER:
    /// then ask PEER to re-verify its copies of every file, restoring the remote
    /// instances (run it for each peer, once the peers are known again).
    Rebuild {
        /// Rebuild the catalog from the stores' data areas.
        #[arg(long, conflicts_with = "remote", required_unless_present = "remote")]
        from_stores: bool,
        /// A store to read besides those the old catalog still names: NAME=ROOT
        /// (the data area; staging: ROOT.staging). Default, when no store is known
        /// at all: the `main` store of `librarian init`.
        #[arg(long = "store", value_name = "NAME=ROOT")]
        stores: Vec<String>,
        /// A glob of names that are books (`*`, `?`), for books committed before
        /// committed data was read-only.
        #[arg(long = "book", value_name = "GLOB")]
        books: Vec<String>,
        /// Restore the remote instances at this peer.
        #[arg(long, value_name = "PEER")]
        remote: Option<String>,
    },
    /// Import a site of the original (Python) Librarian into this one, in one
    /// transaction: its stores as they are on disk, files with their legacy
    /// checksums, instances, remote instances, users (their passwords keep working),
    /// peers, the history of its transfers and its corrupt-file records. Transfers in
    /// flight are resumed (SneakerNet drive copies) or failed with a reason, and
    /// listed. Run it again and it adds nothing; a name this site holds differently
    /// refuses the whole import (exit 1). Stop the original's server and background
    /// tasks first. See docs/migrating.md.
    ImportOriginal {
        /// Its catalog: a SQLite file, or a postgresql:// URL (Unix socket or
        /// loopback host only).
        source: String,
        /// The original server's JSON config: its site name and the encryption_key
        /// of its peers' credentials (or set LIBRARIAN_SERVER_ENCRYPTION_KEY).
        #[arg(long, value_name = "FILE")]
        original_config: Option<PathBuf>,
        /// OLD=NEW: the original's absolute paths starting with OLD are now under NEW
        /// (repeatable; the longest whole-component match wins).
        #[arg(long = "map-prefix", value_name = "OLD=NEW")]
        map_prefix: Vec<String>,
        /// NAME=DIR: store NAME's data area, instead of the one the original recorded.
        #[arg(long = "store-root", value_name = "NAME=DIR")]
        store_root: Vec<String>,
        /// NAME=DIR: store NAME's staging area, instead of the one the original recorded.
        #[arg(long = "store-staging", value_name = "NAME=DIR")]
        store_staging: Vec<String>,
        /// NAME=URL: peer NAME's URL, instead of the original's host and port.
        #[arg(long = "peer-url", value_name = "NAME=URL")]
        peer_url: Vec<String>,
        /// PEER:ID=NAME: the name of store number ID at PEER (the original knows only
        /// the number); default original-store-ID.
        #[arg(long = "remote-store", value_name = "PEER:ID=NAME")]
        remote_store: Vec<String>,
        /// Print what would be imported and every row that cannot be, and why; write
        /// nothing. Exit 1 when the import would be refused.
        #[arg(long)]
        dry_run: bool,
        /// Also re-hash every available copy with its legacy algorithm, and record a
        /// BLAKE3 digest beside the legacy checksum.
        #[arg(long)]
        verify: bool,
    },
    /// Delete the copy of NAME on STORE, never the last good one: at least
    /// --min-copies remote copies must have been re-verified by their peers within
    /// the store's [deletion] verified_within (default 7d; older ones are asked
    /// again first), and one good copy must remain somewhere even with 0. The
    /// instance row stays, marked deleted with the reason.
    Drop {
        /// The file or book.
        name: OsString,
        /// The store to delete it from.
        #[arg(long)]
        store: String,
        /// Remote copies required (default: the store's [deletion] min_copies, else 1).
        #[arg(long, value_name = "K")]
        min_copies: Option<u32>,
        /// Print the plan; ask no peer, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run rolling deletion now on one store (or every store with a [deletion.STORE]
    /// table): copies older than its `after` go once enough verified copies exist
    /// elsewhere (what the rolling-deletion task does on schedule).
    RollingDeletion {
        /// Only this store.
        #[arg(long)]
        store: Option<String>,
        /// Print the plan; ask no peer, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show the site: stores with used and free bytes and file counts; per peer, the
    /// files a send round may offer it (its [clone.to.PEER] filters) that have no copy
    /// there yet, active transfers and queued calls.
    Status,
    /// Roll back interrupted ingests and remove stale staging directories.
    Cleanup,
    /// Background tasks (run them from cron with `tasks run`).
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Serve this site's HTTP API (for other Librarians and monitoring) until SIGTERM
    /// or SIGINT; SIGHUP reloads the TLS certificate and key (new connections get
    /// them; a pair that does not load is logged and the old one kept). Prints
    /// `listening on ADDR` first; with --json, one JSON line instead:
    /// {"listening": "http://ADDR", "address": "ADDR", "site", "tls", "pid"}.
    Serve {
        /// Address to listen on (default: [server] listen in the config, 127.0.0.1:8420).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// Run a demonstration end to end in a temporary directory.
    Demo {
        /// Keep the demo's directory instead of removing it.
        #[arg(long)]
        keep: bool,
        /// Move the bytes with the Globus manager, through the fake Globus of the test
        /// suite (`fake-globus`, next to this binary or at $FAKE_GLOBUS_BIN; from a
        /// source checkout: `cargo build -p fake-globus`).
        #[arg(long)]
        globus: bool,
    },
    /// Print a shell completion script on stdout, e.g.
    /// `librarian completions bash > /etc/bash_completion.d/librarian`.
    Completions {
        /// The shell (bash, zsh, fish, elvish, powershell).
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, e.g. `librarian man | man -l -`, or
    /// `librarian man > /usr/local/share/man/man1/librarian.1`.
    Man,
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Add a store.
    Add {
        /// Store name.
        name: String,
        /// Data area (created if missing).
        #[arg(long)]
        root: PathBuf,
        /// Staging area, on the same filesystem (default: ROOT.staging).
        #[arg(long)]
        staging: Option<PathBuf>,
        /// Do not accept new uploads on this store.
        #[arg(long)]
        no_ingest: bool,
        /// Free space to keep in reserve: bytes, or a size such as 500G, 2T, 1.5TiB
        /// (K/M/G/T/P and KiB.. are powers of 1024; KB/MB/GB/TB/PB powers of 1000).
        #[arg(long, default_value = "0", value_parser = parse_size)]
        reserve: u64,
    },
    /// List stores.
    List,
    /// Enable a store.
    Enable {
        /// Store name.
        name: String,
    },
    /// Disable a store (no reads or writes through the librarian).
    Disable {
        /// Store name.
        name: String,
    },
    /// Forget a store (refused while it holds available copies or active transfers).
    /// Nothing on disk is touched.
    Remove {
        /// Store name.
        name: String,
    },
    /// Recycle a drive whose copies were all delivered (its drive_done event): delete
    /// its retired data, the directories left empty (never the root) and the manifest,
    /// and enable it again (the catalog keeps a record of
    /// what it carried, so those files are not copied onto it again).
    Recycle {
        /// Store name.
        name: String,
    },
}

/// Exit code of `tasks run` when no task failed but one could not make all its
/// progress (a cron wrapper can alert on it).
const EXIT_DEGRADED: u8 = 3;

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the configuration in effect as TOML, and where it was found (--config,
    /// else $LIBRARIAN_CONFIG, else /etc/librarian/librarian.toml, else ./librarian.toml).
    /// Needs no catalog.
    Show {
        /// Every table and key with the defaults filled in (unset keys that have no
        /// default as comments): the reference of all settings.
        #[arg(long)]
        defaults: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TasksCommand {
    /// Run every task that is due, once, and exit: 0 when every task that ran
    /// succeeded, 1 when one failed, 3 when none failed but one could not make all its
    /// progress ("degraded": a peer did not answer or refused, every drive is full, an
    /// alert sink is failing). Tasks that another run is executing are skipped. Then
    /// write the [alerts] textfile, if configured.
    Run {
        // The help names every task: see `only_help`.
        #[arg(long, value_name = "TASK", num_args = 1.., help = only_help())]
        only: Vec<String>,
    },
    /// Show each task's schedule and last run.
    List,
}

/// `tasks run --only`'s help, naming every task of `TaskKind::ALL` (so a new task is
/// listed without anyone editing this). The names are parsed by the core, so an
/// unknown one is an `invalid_argument` error like any other, also in `--json`.
fn only_help() -> String {
    let names: Vec<&str> = TaskKind::ALL.iter().map(|t| t.as_str()).collect();
    format!("Run only these tasks, now, whatever their schedule (tasks: {})", names.join(", "))
}

#[derive(Args, Debug)]
struct UploadArgs {
    /// File or directory to ingest.
    src: PathBuf,
    /// Name in the catalog (relative path, e.g. 2026/11/obs_0001). Taken as raw bytes so a
    /// non-UTF-8 name is refused by the naming rules (`invalid_name`), not by the parser.
    name: OsString,
    /// Store to put it on (default: first enabled, ingestable store with room).
    #[arg(long)]
    store: Option<String>,
    /// Rename the source into the store instead of copying (same filesystem only).
    #[arg(long = "move")]
    move_source: bool,
    /// Deletion policy of the new instance.
    #[arg(long, default_value = "disallowed", value_parser = ["allowed", "disallowed"])]
    deletion_policy: String,
    /// Refuse (committing nothing) unless the data hashes to this checksum.
    #[arg(long, value_name = "CHECKSUM")]
    expect_checksum: Option<String>,
    /// Checksum algorithm for the new file (xxh3, md5: the older Librarian's).
    #[arg(long, value_parser = ["blake3", "sha256", "xxh3", "md5"])]
    algorithm: Option<String>,
    /// Uploader recorded in the catalog (default: $USER).
    #[arg(long)]
    uploader: Option<String>,
}

#[derive(Args, Debug)]
struct SearchArgs {
    /// Glob on the name (`*`, `?`, `[..]`; case-sensitive), e.g. '2026/11/*'.
    #[arg(long)]
    name: Option<String>,
    /// Created at or after (RFC 3339 time or YYYY-MM-DD, UTC). A file's creation
    /// time is the one at its origin site: a clone or a drive keeps it.
    #[arg(long)]
    since: Option<String>,
    /// Created before (RFC 3339 time or YYYY-MM-DD, UTC).
    #[arg(long)]
    until: Option<String>,
    /// Uploader.
    #[arg(long)]
    uploader: Option<String>,
    /// Source site.
    #[arg(long)]
    source: Option<String>,
    /// At most this many results (more matches: said on stderr, with the --after to
    /// continue from).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Only names after NAME in the listing's order: the next page after one that
    /// ended with NAME (any text works; files catalogued meanwhile never shift a page).
    #[arg(long, value_name = "NAME")]
    after: Option<String>,
    /// With --json, print {"files": [...], "truncated": BOOL, "next": NAME|null} instead
    /// of the bare array (pass "next" as --after for the next page).
    #[arg(long)]
    page: bool,
}

/// The value of `--reserve`: a size (clap shows the core's message).
fn parse_size(text: &str) -> std::result::Result<u64, librarian_core::Error> {
    librarian_core::parse_size(text)
}

/// The value of `--since` or `--until` (`flag`).
fn parse_time(flag: &str, text: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|_| CliError::Usage(format!("{flag}: {text:?} is not an RFC 3339 time or a YYYY-MM-DD date")))
}

fn name_arg(s: &OsStr) -> Result<FileName> {
    Ok(FileName::from_os(s)?)
}

/// Open the site for a command. The catalog must pass its integrity check first
/// (`PRAGMA quick_check`, skipped when the file is unchanged since it last passed): a
/// command never answers from a damaged catalog (exit 1, code `database`).
fn open(cli: &Cli) -> Result<Librarian> {
    let lib = open_unchecked(cli)?;
    lib.require_intact()?;
    let _ = CHECKED.set(lib.catalog_path().to_owned());
    Ok(lib)
}

/// The catalog this command found sound when it opened it: recorded as sound again
/// when the command ends well (`catalog::record_intact`), so its own writes do not
/// make the next command check the whole file again.
static CHECKED: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Open the site without the integrity check: for `verify`, which runs the check
/// itself and reports it.
fn open_unchecked(cli: &Cli) -> Result<Librarian> {
    Ok(Librarian::open_default(cli.config.as_deref())?)
}

fn run(cli: &Cli, out: &mut Out) -> Result<ExitCode> {
    match &cli.command {
        Command::Init { dir, name } => {
            let lib = Librarian::init(dir, name)?;
            out.init(&lib)?;
        }
        Command::Config(ConfigCommand::Show { defaults }) => {
            let path = librarian_core::locate_config(cli.config.as_deref())?;
            let config = librarian_core::Config::load(&path)?;
            if out.json() {
                out.emit_value(&serde_json::json!({ "path": path, "config": config.show_json(*defaults)? }))?;
            } else {
                output::say!("# {}", path.display());
                crate::output::put!("{}", config.show(*defaults)?.trim_end());
            }
        }
        Command::Store(sc) => {
            let lib = open(cli)?;
            match sc {
                StoreCommand::Add { name, root, staging, no_ingest, reserve } => {
                    let spec = StoreSpec {
                        name: name.clone(),
                        root: root.clone(),
                        staging: staging.clone(),
                        ingestable: !no_ingest,
                        reserve_bytes: *reserve,
                    };
                    out.store(&lib.add_store(&spec)?)?;
                }
                StoreCommand::List => out.stores(&lib.stores()?)?,
                StoreCommand::Enable { name } => out.store(&lib.set_store_enabled(name, true)?)?,
                StoreCommand::Disable { name } => out.store(&lib.set_store_enabled(name, false)?)?,
                StoreCommand::Remove { name } => {
                    lib.remove_store(name)?;
                    out.removed("store", name)?;
                }
                StoreCommand::Recycle { name } => {
                    let n = lib.recycle_store(name)?;
                    if out.json() {
                        out.emit_value(&serde_json::json!({ "recycled": name, "copies_deleted": n }))?;
                    } else {
                        crate::output::put!(
                            "recycled store {name}: {n} delivered cop(ies) deleted; the store is enabled again"
                        );
                    }
                }
            }
        }
        Command::Account(ac) => access::account(&open(cli)?, ac, out)?,
        Command::Peer(pc) => access::peer(&open(cli)?, pc, out)?,
        Command::Outbox(oc) => notices::outbox(&open(cli)?, oc, out)?,
        Command::Transfers(tc) => clone::transfers(&open(cli)?, tc, out)?,
        Command::Clone(cc) => return clone::clone_with_exit(&open(cli)?, cc, out),
        Command::Events(ec) => notices::events(&open(cli)?, ec, out)?,
        Command::Alerts(ac) => return alerts::alerts(&open(cli)?, ac, out),
        Command::Upload(a) => {
            let name = name_arg(&a.name)?;
            let opts = UploadOptions {
                store: a.store.clone(),
                move_source: a.move_source,
                deletion_policy: a.deletion_policy.parse::<DeletionPolicy>()?,
                expect_checksum: a.expect_checksum.as_deref().map(Checksum::parse).transpose()?,
                algorithm: a.algorithm.as_deref().map(str::parse::<Algorithm>).transpose()?,
                uploader: a.uploader.clone(),
                source: None,
                created_at: None,
            };
            let lib = open(cli)?;
            let bar = progress::Bar::new("upload");
            let up = lib.upload(&a.src, &name, &opts, &bar)?;
            out.upload(&up)?;
        }
        Command::Info { name } => {
            let name = name_arg(name)?;
            out.file(&open(cli)?.file(&name)?)?;
        }
        Command::Search(a) => {
            let q = SearchQuery {
                name_glob: a.name.clone(),
                since: a.since.as_deref().map(|t| parse_time("--since", t)).transpose()?,
                until: a.until.as_deref().map(|t| parse_time("--until", t)).transpose()?,
                uploader: a.uploader.clone(),
                source: a.source.clone(),
                limit: Some(a.limit),
                after: a.after.clone(),
            };
            out.search_page(&open(cli)?.search_page(&q)?, a.limit, a.page)?;
        }
        Command::Get { name, dest } => {
            let name = name_arg(name)?;
            let lib = open(cli)?;
            let bar = progress::Bar::new("get");
            out.retrieved(&lib.get(&name, dest, &bar)?)?;
        }
        Command::Verify { names, remote: Some(peer), .. } => {
            let names = names.iter().map(|n| name_arg(n)).collect::<Result<Vec<_>, _>>()?;
            return lifecycle::verify_remote(&open(cli)?, peer, &names, out);
        }
        Command::Rebuild { from_stores: true, stores, books, .. } => {
            let mut opts = librarian_core::RebuildOptions { books: books.clone(), ..Default::default() };
            for s in stores {
                let Some((name, root)) = s.split_once('=') else {
                    return Err(CliError::Usage(format!("--store {s:?}: write NAME=ROOT")));
                };
                opts.stores.push(StoreSpec {
                    name: name.to_owned(),
                    root: PathBuf::from(root),
                    staging: None,
                    ingestable: true,
                    reserve_bytes: 0,
                });
            }
            let config = librarian_core::locate_config(cli.config.as_deref())?;
            let bar = progress::Bar::new("rebuild");
            let (_, report) = Librarian::rebuild_from_stores(&config, &opts, &bar)?;
            return lifecycle::rebuilt(&report, out);
        }
        Command::Rebuild { remote: Some(peer), .. } => {
            let (asked, intact) = open(cli)?.restore_remote(peer)?;
            return lifecycle::restored(peer, asked, intact, out);
        }
        Command::Rebuild { .. } => {
            return Err(CliError::Usage("rebuild needs --from-stores or --remote PEER".into()));
        }
        Command::ImportOriginal {
            source,
            original_config,
            map_prefix,
            store_root,
            store_staging,
            peer_url,
            remote_store,
            dry_run,
            verify,
        } => {
            let opts = librarian_core::ImportOriginalOptions {
                original_config: original_config.clone(),
                map_prefix: map_prefix.clone(),
                store_roots: store_root.clone(),
                store_staging: store_staging.clone(),
                peer_urls: peer_url.clone(),
                remote_stores: remote_store.clone(),
                dry_run: *dry_run,
                verify: *verify,
            };
            let bar = progress::Bar::new("import");
            let report = open(cli)?.import_original(source, &opts, &bar)?;
            return import_original::report(&report, out);
        }
        Command::Repair { name } => {
            let name = name_arg(name)?;
            let lib = open(cli)?;
            let bar = progress::Bar::new("repair");
            return lifecycle::repair(&lib.repair(&name, &bar)?, out);
        }
        Command::Drop { name, store, min_copies, dry_run } => {
            let name = name_arg(name)?;
            let report = open(cli)?.drop_copy(&name, store, *min_copies, *dry_run)?;
            let code = lifecycle::deletion(&report, out)?;
            if !*dry_run && report.deleted == 0 {
                let line =
                    format!("librarian: drop: the copy of {name} on store {store} was kept (see the reason above)");
                eprintln!("{}", librarian_core::escape(&line));
                return Ok(ExitCode::from(1));
            }
            return Ok(code);
        }
        Command::RollingDeletion { store, dry_run } => {
            let lib = open(cli)?;
            let stores: Vec<String> = match store {
                Some(s) => vec![s.clone()],
                None => lib.config().deletion.keys().cloned().collect(),
            };
            if stores.is_empty() {
                return Err(CliError::Usage(
                    "no store has a [deletion.STORE] table in the configuration: nothing to do".into(),
                ));
            }
            let reports = stores.iter().map(|s| lib.rolling_deletion(s, *dry_run)).collect::<Result<Vec<_>, _>>()?;
            return lifecycle::deletions(&reports, store.is_some(), out);
        }
        Command::Verify { budget, max_rate, store, .. } if !budget.is_empty() => {
            let lib = open_unchecked(cli)?;
            return lifecycle::scrub(&lib, budget, max_rate.as_deref(), store.as_deref(), out);
        }
        Command::Verify { names, store, .. } => {
            let names = names.iter().map(|n| name_arg(n)).collect::<Result<Vec<_>, _>>()?;
            let lib = open_unchecked(cli)?;
            let bar = progress::Bar::new("verify");
            let report = lib.verify(&names, store.as_deref(), &bar)?;
            out.verify(&report)?;
            if !report.ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Status => {
            let lib = open(cli)?;
            out.status(&lib.status()?, &lib.peer_statuses()?, lib.check_globus()?.as_ref())?;
        }
        Command::Cleanup => {
            let removed = open(cli)?.cleanup_staging()?;
            out.cleanup(&removed)?;
        }
        Command::Tasks(TasksCommand::Run { only }) => {
            let only = only.iter().map(|t| t.parse::<TaskKind>()).collect::<Result<Vec<_>, _>>()?;
            let outcomes = open(cli)?.run_tasks(&only)?;
            out.task_outcomes(&outcomes)?;
            if outcomes.iter().any(|o| o.status == TaskStatus::Failed) {
                return Ok(ExitCode::from(1));
            }
            if outcomes.iter().any(|o| o.status == TaskStatus::Degraded) {
                return Ok(ExitCode::from(EXIT_DEGRADED));
            }
        }
        Command::Tasks(TasksCommand::List) => {
            let lib = open(cli)?;
            out.task_list(&lib, &lib.task_records()?)?;
        }
        Command::Serve { listen } => serve(cli, listen.as_deref())?,
        Command::Demo { keep, globus } => return demo::run(out, *keep, *globus),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "librarian", &mut script);
            print_text(&script);
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(CliError::io("cannot render the man page"))?;
            print_text(&page);
        }
        Command::Sneakernet(clone::SneakernetCommand::Verify { path }) => return clone::sneakernet_verify(path, out),
        Command::Sneakernet(sc) => return clone::sneakernet(&open(cli)?, sc, out),
    }
    Ok(ExitCode::SUCCESS)
}

/// Print generated text (a completion script, a man page) through [`output::print_line`],
/// so a closed pipe ends the command quietly.
fn print_text(text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    output::print_line(text.strip_suffix('\n').unwrap_or(&text));
}

/// `librarian serve`: stop cleanly on SIGTERM or SIGINT; reload the TLS certificate
/// and key on SIGHUP.
fn serve(cli: &Cli, listen: Option<&str>) -> Result<()> {
    use std::io::Write;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .map_err(CliError::io(format!("cannot handle signal {signal}")))?;
    }
    let reload = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, std::sync::Arc::clone(&reload))
        .map_err(CliError::io("cannot handle signal SIGHUP"))?;
    let lib = open(cli)?;
    let shim = librarian_core::Shim::bind(&lib, listen)?;
    let addr = shim.local_addr();
    if cli.json {
        // One line a script can parse as soon as it is printed (the server runs on).
        let scheme = if shim.is_tls() { "https" } else { "http" };
        let doc = serde_json::json!({
            "listening": format!("{scheme}://{addr}"),
            "address": addr.to_string(),
            "site": lib.config().name,
            "tls": shim.is_tls(),
            "pid": std::process::id(),
        });
        crate::output::put!("{doc}");
    } else {
        crate::output::put!("listening on {addr}");
    }
    let _ = std::io::stdout().flush();
    Ok(shim.run_reloading(&stop, &reload)?)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = error::clap_exit_code(&e);
            // A script asked for JSON: it gets the error document on stdout too
            // (`--help` and `--version` are text, exit 0).
            if code != 0 && error::json_requested(std::env::args_os()) {
                crate::output::put!("{}", error::clap_error_document(&e));
            }
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let mut out = Out::new(cli.json);
    match run(&cli, &mut out) {
        Ok(code) => {
            // Every handle on the site is closed by now (each command drops its own).
            if let Some(db) = CHECKED.get() {
                librarian_core::record_intact(db);
            }
            code
        }
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
