//! The site's configuration file (TOML): process settings only. Stores, peers,
//! accounts and all catalog state live in the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod alerts;
mod client;
mod clone;
mod globus;
mod lifecycle;
mod outbox;
mod server;
mod tasks;

pub use alerts::{AlertSink, AlertsConfig, CommandSink, SinkTarget, WebhookFormat, WebhookSink};
pub use client::ClientConfig;
pub use clone::{CloneConfig, LocalClone, SendTo};
pub(crate) use clone::{DestinationRoot, plain_absolute, plain_host};
pub use globus::{GLOBUS_REFRESH_ENV, GLOBUS_SECRET_ENV, GlobusConfig, GlobusGrant, StoreCollection};
pub use lifecycle::{DeletionConfig, ScrubConfig};
pub use outbox::{DEFAULT_OUTBOX_BATCH, OutboxConfig};
#[cfg(test)]
pub(crate) use server::MAX_BODY_LIMIT;
pub use server::ServerConfig;
pub use tasks::TaskConfig;

use crate::error::{Error, ObjectKind, Result};
use crate::model::{TaskKind, format_interval};
pub use crate::name::{validate_site_name, validate_store_name};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "LIBRARIAN_CONFIG";
/// The system-wide configuration file, looked for after `$LIBRARIAN_CONFIG`.
pub const SYSTEM_CONFIG: &str = "/etc/librarian/librarian.toml";
/// Configuration file looked for in the current directory, last.
pub const DEFAULT_CONFIG: &str = "librarian.toml";

/// Contents of `librarian.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The site's name (letters, digits, `.`, `_`, `-`; at most 64 bytes).
    pub name: String,
    /// The catalog database; a relative path is relative to the configuration file.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Schedules of background tasks, by task name (`[tasks.cleanup-staging]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, TaskConfig>,
    /// Settings of `librarian serve` (`[server]`).
    #[serde(default, skip_serializing_if = "ServerConfig::is_default")]
    pub server: ServerConfig,
    /// How this site calls its peers (`[client]`): TLS trust roots.
    #[serde(default, skip_serializing_if = "ClientConfig::is_default")]
    pub client: ClientConfig,
    /// Delivery of calls to peers (`[outbox]`).
    #[serde(default, skip_serializing_if = "OutboxConfig::is_default")]
    pub outbox: OutboxConfig,
    /// Cloning to and from peers (`[clone]`, `[clone.to.PEER]`).
    #[serde(default, skip_serializing_if = "CloneConfig::is_default")]
    pub clone: CloneConfig,
    /// The Globus transfer manager (`[globus]`, `[globus.stores.NAME]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globus: Option<GlobusConfig>,
    /// Re-reading every copy on a schedule (`[scrub]`).
    #[serde(default, skip_serializing_if = "ScrubConfig::is_default")]
    pub scrub: ScrubConfig,
    /// Rolling deletion, per store (`[deletion.STORE]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deletion: BTreeMap<String, DeletionConfig>,
    /// Alerts (`[alerts]`, `[[alerts.webhook]]`, `[[alerts.command]]`) and the
    /// Prometheus textfile.
    #[serde(default, skip_serializing_if = "AlertsConfig::is_default")]
    pub alerts: AlertsConfig,
}

fn default_database() -> PathBuf {
    PathBuf::from("librarian.db")
}

impl Config {
    /// A configuration for site `name` with the default database path.
    pub fn new(name: &str) -> Result<Self> {
        validate_site_name(name)?;
        Ok(Config {
            name: name.to_owned(),
            database: default_database(),
            tasks: BTreeMap::new(),
            server: ServerConfig::default(),
            client: ClientConfig::default(),
            outbox: OutboxConfig::default(),
            clone: CloneConfig::default(),
            globus: None,
            scrub: ScrubConfig::default(),
            deletion: BTreeMap::new(),
            alerts: AlertsConfig::default(),
        })
    }

    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound { kind: ObjectKind::Config, name: path.display().to_string() }
            }
            _ => Error::Config { path: path.to_owned(), message: e.to_string() },
        })?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        validate_site_name(&cfg.name).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        tasks::validate_config(&cfg.tasks)
            .and_then(|()| cfg.server.validate())
            .and_then(|()| cfg.outbox.validate())
            .and_then(|()| cfg.clone.validate())
            .and_then(|()| cfg.validate_globus())
            .and_then(|()| cfg.scrub.validate())
            .and_then(|()| lifecycle::validate_deletion(&cfg.deletion))
            .and_then(|()| cfg.alerts.validate())
            .map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        Ok(cfg)
    }

    /// `[globus]` is valid, and present when `[clone] managers` names `globus`.
    fn validate_globus(&self) -> Result<()> {
        if let Some(g) = &self.globus {
            g.validate()?;
        }
        let uses_globus = self.clone.manager_kinds()?.contains(&crate::model::ManagerKind::Globus);
        if uses_globus && self.globus.is_none() {
            return Err(Error::invalid(
                "globus",
                "clone.managers names globus but there is no [globus] table (client_id, credentials, \
                 [globus.stores.NAME]); see docs/globus.md",
            ));
        }
        Ok(())
    }

    /// The database path, resolved against the directory of `config_path`.
    pub fn database_path(&self, config_path: &Path) -> PathBuf {
        resolve(config_path, &self.database)
    }

    /// The configuration text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(encode_error)
    }

    /// This configuration with every default written out: each task's `every` and
    /// `enabled`, the `[outbox]` and `[alerts]` settings (the other tables hold their
    /// defaults as values already).
    pub fn with_defaults(&self) -> Config {
        let mut c = self.clone();
        for task in TaskKind::ALL {
            let t = c.tasks.entry(task.as_str().to_owned()).or_default();
            t.every.get_or_insert_with(|| format_interval(task.default_every()));
            t.enabled.get_or_insert(true);
        }
        c.outbox = c.outbox.filled();
        c.scrub = c.scrub.filled();
        c.alerts = c.alerts.filled();
        c
    }

    /// The configuration as `librarian config show` prints it: what the file sets
    /// (`defaults` false), or every table and key with the defaults filled in, keys
    /// that have no default and are unset shown as comments (`defaults` true: the
    /// reference of every setting). The text loads back as the same configuration.
    pub fn show(&self, defaults: bool) -> Result<String> {
        if !defaults {
            return self.to_toml();
        }
        let mut table = self.full_table()?;
        // The site's own keys first, then the tables (in name order).
        let mut text = String::new();
        for key in ["name", "database"] {
            if let Some(v) = table.remove(key) {
                text.push_str(&format!("{key} = {v}\n"));
            }
        }
        text.push('\n');
        text.push_str(&toml::to_string(&table).map_err(encode_error)?);
        let server = &self.server;
        let mut unset = |header: &str, lines: &[&str]| text = add_comments(&text, header, lines);
        if server.tls_cert.is_none() {
            unset(
                "[server]",
                &[
                    "# tls_cert = \"tls/cert.pem\"    # HTTPS: PEM certificate chain, with tls_key (docs/operations.md)",
                    "# tls_key = \"tls/key.pem\"      # its private key",
                ],
            );
        }
        if self.client.ca_bundle.is_none() {
            unset(
                "[client]",
                &["# ca_bundle = \"/etc/ssl/certs/ca-certificates.crt\"    # else the built-in Mozilla roots"],
            );
        }
        if self.clone.rsync_host.is_none() {
            unset("[clone]", &["# rsync_host = \"librarian@this-host\"    # receiving with rsync over ssh"]);
        }
        if self.clone.local.is_none() {
            unset("[clone]", &["# [clone.local]    # filling drives: from = \"main\", to = [\"drive1\", \"drive2\"]"]);
        }
        if self.globus.is_none() {
            unset(
                "[clone]",
                &[
                    "# [globus]    # the Globus manager: client_id, client_secret_file, [globus.stores.NAME] (docs/globus.md)",
                ],
            );
        }
        let scrub = &self.scrub;
        if scrub.budget_bytes.is_none() && scrub.budget_time.is_none() {
            unset(
                "[scrub]",
                &[
                    "# budget_bytes = \"100GB\"    # most bytes a scrub run re-reads; unset with budget_time: what is overdue plus the run's share",
                    "# budget_time = \"30min\"     # longest scrub run",
                ],
            );
        }
        if scrub.max_rate.is_none() {
            unset("[scrub]", &["# max_rate = \"200MB\"    # bytes per second, at most"]);
        }
        if self.deletion.is_empty() {
            unset(
                "[scrub]",
                &[
                    "# [deletion.STORE]    # rolling deletion: after = \"30d\", min_copies = 1, verified_within = \"7d\" (docs/operations.md)",
                ],
            );
        }
        if self.clone.to.is_empty() {
            unset(
                "[clone]",
                &[
                    "# [clone.to.PEER]    # sending to PEER: destination_root = \"/path\", \"host:/path\" or \"globus:UUID:/path\" (required), prefix, store, max_age",
                ],
            );
        }
        if self.alerts.textfile.is_none() {
            unset(
                "[alerts]",
                &[
                    "# textfile = \"/var/lib/node_exporter/textfile/librarian.prom\"    # written after each `tasks run`",
                ],
            );
        }
        if self.alerts.webhook.is_empty() {
            unset(
                "[alerts]",
                &[
                    "# [[alerts.webhook]]    # url = \"https://hooks.slack.com/services/...\", format = \"slack\" or \"json\", min_severity = \"warning\", max_per_hour = 30, name",
                ],
            );
        }
        if self.alerts.command.is_empty() {
            unset(
                "[alerts]",
                &[
                    "# [[alerts.command]]    # argv = [\"/usr/local/bin/page\", \"--team\", \"data\"] (the alert's JSON on stdin), timeout = \"30s\", min_severity, max_per_hour, name",
                ],
            );
        }
        Ok(text)
    }

    /// [`Config::show`] as JSON (`librarian --json config show`): the same tables.
    pub fn show_json(&self, defaults: bool) -> Result<serde_json::Value> {
        let value = if defaults { serde_json::to_value(self.full_table()?) } else { serde_json::to_value(self) };
        value.map_err(|e| Error::internal(format!("cannot encode the configuration: {e}")))
    }

    /// Every table and key, defaults filled in (tables the file may leave out, and keys
    /// serialization skips when they hold their default, included).
    fn full_table(&self) -> Result<toml::Table> {
        let c = self.with_defaults();
        let mut t = toml::Table::new();
        t.insert("name".into(), toml::Value::String(c.name.clone()));
        t.insert("database".into(), toml::Value::try_from(&c.database).map_err(encode_error)?);
        t.insert("tasks".into(), toml::Value::try_from(&c.tasks).map_err(encode_error)?);
        let mut server = toml::Value::try_from(&c.server).map_err(encode_error)?;
        if let Some(s) = server.as_table_mut() {
            s.entry("insecure_plain_http").or_insert(c.server.insecure_plain_http.into());
        }
        t.insert("server".into(), server);
        t.insert("client".into(), toml::Value::try_from(&c.client).map_err(encode_error)?);
        t.insert("outbox".into(), toml::Value::try_from(&c.outbox).map_err(encode_error)?);
        let mut clone = toml::Value::try_from(&c.clone).map_err(encode_error)?;
        if let Some(cl) = clone.as_table_mut()
            && cl.get("to").and_then(toml::Value::as_table).is_some_and(toml::Table::is_empty)
        {
            // No peer to send to: no empty `[clone.to]` header (a comment says how).
            cl.remove("to");
        }
        t.insert("clone".into(), clone);
        if let Some(g) = &c.globus {
            t.insert("globus".into(), toml::Value::try_from(g.filled()).map_err(encode_error)?);
        }
        t.insert("scrub".into(), toml::Value::try_from(&c.scrub).map_err(encode_error)?);
        if !c.deletion.is_empty() {
            t.insert("deletion".into(), toml::Value::try_from(&c.deletion).map_err(encode_error)?);
        }
        t.insert("alerts".into(), toml::Value::try_from(&c.alerts).map_err(encode_error)?);
        Ok(t)
    }
}

fn encode_error(e: toml::ser::Error) -> Error {
    Error::internal(format!("cannot encode the configuration: {e}"))
}

/// `text` with `lines` added at the end of the table that starts with the line
/// `header` (before the next table's header), or at the end.
fn add_comments(text: &str, header: &str, lines: &[&str]) -> String {
    let mut out: Vec<&str> = text.lines().collect();
    let at = match out.iter().position(|l| l.trim() == header) {
        Some(h) => {
            let next = out[h + 1..].iter().position(|l| l.starts_with('[')).map_or(out.len(), |i| h + 1 + i);
            // Before the blank line that separates the tables.
            if next > h + 1 && out[next - 1].trim().is_empty() && next < out.len() { next - 1 } else { next }
        }
        None => {
            out.push("");
            out.push(header);
            out.len()
        }
    };
    for (k, l) in lines.iter().enumerate() {
        out.insert(at + k, l);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// A path from the configuration file: a relative one is relative to the directory
/// of `config_path`.
pub fn resolve(config_path: &Path, path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    }
}

/// Which configuration file to use: `explicit` (`--config`), else `$LIBRARIAN_CONFIG`,
/// else [`SYSTEM_CONFIG`] if it exists, else `./librarian.toml` if it exists. When none
/// is given and neither file exists: [`Error::NotFound`] naming every place looked at
/// and how to make a site (`librarian init`). A path that is given is returned as it
/// is (loading it says if it is missing).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    locate_in(explicit, std::env::var_os(CONFIG_ENV), Path::new(SYSTEM_CONFIG), Path::new(DEFAULT_CONFIG))
}

/// [`locate`] with the environment's value and the two files to look for as
/// parameters (so tests can point the system path elsewhere).
fn locate_in(explicit: Option<&Path>, env: Option<std::ffi::OsString>, system: &Path, local: &Path) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for candidate in [system, local] {
        // A file that exists but cannot be read is found (loading it says why).
        if std::fs::symlink_metadata(candidate).is_ok() {
            return Ok(candidate.to_owned());
        }
    }
    let here = std::env::current_dir().map(|d| d.join(local)).unwrap_or_else(|_| local.to_owned());
    Err(Error::NotFound {
        kind: ObjectKind::Config,
        name: format!(
            "no configuration file: looked for --config, then ${CONFIG_ENV} (unset), then {}, then {} (none \
             exists); create a site with `librarian init DIR --name NAME` and use its DIR/librarian.toml \
             (--config DIR/librarian.toml or export {CONFIG_ENV}=DIR/librarian.toml)",
            system.display(),
            here.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_path_is_flag_env_system_then_here() {
        let tmp = tempfile::tempdir().unwrap();
        let system = tmp.path().join("etc/librarian.toml");
        let local = tmp.path().join("cwd/librarian.toml");
        let flag = Path::new("/from/flag.toml");
        let env = || Some(std::ffi::OsString::from("/from/env.toml"));
        let find = |explicit, env| locate_in(explicit, env, &system, &local);
        // Neither file exists: the flag, then the environment, else an error saying all.
        assert_eq!(find(Some(flag), env()).unwrap(), flag);
        assert_eq!(find(None, env()).unwrap(), Path::new("/from/env.toml"));
        let Err(e) = find(None, Some("".into())) else { panic!("found a file that does not exist") };
        assert_eq!(e.code(), "not_found");
        let msg = e.to_string();
        for needle in ["--config", "$LIBRARIAN_CONFIG", &system.display().to_string(), "librarian init"] {
            assert!(msg.contains(needle), "{needle:?} missing from {msg}");
        }
        // ./librarian.toml when it is the only one; the system file before it.
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, "name = \"here\"\n").unwrap();
        assert_eq!(find(None, None).unwrap(), local);
        std::fs::create_dir_all(system.parent().unwrap()).unwrap();
        std::fs::write(&system, "name = \"system\"\n").unwrap();
        assert_eq!(find(None, None).unwrap(), system);
        // The flag and the environment still win over both.
        assert_eq!(find(None, env()).unwrap(), Path::new("/from/env.toml"));
        assert_eq!(find(Some(flag), None).unwrap(), flag);
    }

    #[test]
    fn globus_is_checked_at_load_and_shown_with_its_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("librarian.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(&path)
        };
        let e = load("name = \"a\"\n[clone]\nmanagers = [\"globus\"]\n").unwrap_err().to_string();
        assert!(e.contains("[globus]") && e.contains("docs/globus.md"), "{e}");
        let e = load("name = \"a\"\n[globus]\nclient_id = \"nope\"\n").unwrap_err().to_string();
        assert!(e.contains("globus.client_id") && e.contains(&path.display().to_string()), "{e}");
        let e = load("name = \"a\"\n[globus]\nclient_id = \"6f1c2b4e-5d3a-4c7b-9e8f-0a1b2c3d4e5f\"\nsecret = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "a misspelt key is refused: {e}");
        let cfg = load(
            "name = \"a\"\n[clone]\nmanagers = [\"globus\"]\n[globus]\nclient_id = \"6f1c2b4e-5d3a-4c7b-9e8f-0a1b2c3d4e5f\"\n\
             [globus.stores.main]\ncollection = \"aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa\"\n",
        )
        .unwrap();
        let text = cfg.show(true).unwrap();
        for needle in
            ["[globus]", "auth_url = \"https://auth.globus.org\"", "items_per_task = 1000", "max_task_age = \"7d\""]
        {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
        std::fs::write(&path, &text).unwrap();
        assert_eq!(Config::load(&path).unwrap().globus.unwrap().filled(), cfg.globus.unwrap().filled());
    }

    #[test]
    fn show_with_defaults_lists_everything_and_loads_back() {
        let mut cfg = Config::new("site-a").unwrap();
        cfg.tasks.insert("send-clones".into(), TaskConfig { every: Some("2m".into()), enabled: None });
        cfg.server.workers = 3;
        let text = cfg.show(true).unwrap();
        for needle in [
            "[server]",
            "workers = 3",
            "insecure_plain_http = false",
            "# tls_cert = ",
            "[client]",
            "# ca_bundle = ",
            "[outbox]",
            "retry_initial = \"10s\"",
            "batch = 1000",
            "[clone]",
            "# [clone.to.PEER]",
            "[tasks.send-clones]",
            "every = \"2m\"",
            "[tasks.deliver-outbox]",
            "every = \"30s\"",
            "[tasks.deliver-alerts]",
            "[alerts]",
            "retry_max = \"15m\"",
            "# textfile = ",
            "# [[alerts.webhook]]",
            "# [[alerts.command]]",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
        assert!(text.starts_with("name = \"site-a\"\ndatabase = \"librarian.db\"\n"), "{text}");
        assert!(!text.contains("[clone.to]"), "{text}");
        // The comments sit inside their own table.
        let client = text.find("[client]").unwrap();
        let bundle = text.find("# ca_bundle").unwrap();
        let next = text[client + 1..].find("\n[").map(|i| client + 1 + i).unwrap();
        assert!(client < bundle && bundle < next, "{text}");
        // It is a configuration: the same one, defaults written out.
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, cfg.with_defaults());
        assert_eq!(back.with_defaults(), back, "filling twice changes nothing");
        // Without --defaults: only what is set.
        let set = cfg.show(false).unwrap();
        assert!(set.contains("workers = 3") && !set.contains("[outbox]") && !set.contains("deliver-outbox"), "{set}");
        assert_eq!(toml::from_str::<Config>(&set).unwrap(), cfg);
        let json = cfg.show_json(true).unwrap();
        assert_eq!(json["tasks"]["cleanup-staging"]["every"], "1h", "{json}");
        assert_eq!(json["server"]["workers"], 3, "{json}");
    }
}
