//! The `[alerts]` table: where events are sent (`[[alerts.webhook]]`,
//! `[[alerts.command]]`), how failed deliveries are retried, and the Prometheus
//! textfile written after each `tasks run`. See `docs/operations.md`, "Alerts".

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Severity, format_interval, parse_interval};

/// Alerts a sink is sent per hour when `max_per_hour` is unset; more wait.
pub const DEFAULT_MAX_PER_HOUR: u32 = 30;
/// A sink's events when `min_severity` is unset: warnings and errors.
pub const DEFAULT_MIN_SEVERITY: Severity = Severity::Warning;
/// How long a command hook may run when `timeout` is unset.
const DEFAULT_COMMAND_TIMEOUT: SignedDuration = SignedDuration::from_secs(30);
/// Wait after the first failed delivery when `retry_initial` is unset.
const DEFAULT_RETRY_INITIAL: SignedDuration = SignedDuration::from_secs(30);
/// Longest wait between attempts when `retry_max` is unset.
const DEFAULT_RETRY_MAX: SignedDuration = SignedDuration::from_mins(15);
/// Longest sink name.
const MAX_SINK_NAME: usize = 64;

/// The `[alerts]` table of `librarian.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Wait after the first failed delivery to a sink (default `"30s"`); doubled after
    /// each further failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_initial: Option<String>,
    /// Longest wait between attempts (default `"15m"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_max: Option<String>,
    /// A Prometheus textfile (node_exporter's textfile collector; the name must end
    /// in `.prom`) written after each `tasks run`; relative to the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub textfile: Option<PathBuf>,
    /// Webhooks (`[[alerts.webhook]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<WebhookSink>,
    /// Command hooks (`[[alerts.command]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<CommandSink>,
}

/// What a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": "one readable line"}`: Slack's incoming webhooks (and Mattermost,
    /// Rocket.Chat and others that accept the same).
    Slack,
    /// The alert's fields as one JSON object ([`crate::AlertBody`]).
    Json,
}

/// `[[alerts.webhook]]`: an HTTP(S) endpoint that is POSTed each alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSink {
    /// The sink's name in `alerts list` and `alerts test --sink` (default
    /// `webhook-` and 8 hex digits of a digest of the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `https://...` (plain `http://` only to a loopback host). A Slack webhook URL is
    /// a secret: it is never printed in messages.
    pub url: String,
    /// `slack` or `json`.
    pub format: WebhookFormat,
    /// The least severe event sent (`info`, `warning`, `error`; default `warning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Most alerts sent per hour (default 30); more wait for the next hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_hour: Option<u32>,
}

/// `[[alerts.command]]`: a program run for each alert, the alert's JSON on its
/// standard input; exit status 0 means delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSink {
    /// The sink's name (default `command-` and 8 hex digits of a digest of `argv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The program and its arguments (no shell). A relative program path with a `/`
    /// is relative to the configuration file; a bare name is looked up in `PATH`.
    pub argv: Vec<String>,
    /// The least severe event sent (default `warning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Most alerts sent per hour (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_hour: Option<u32>,
    /// How long it may run (default `"30s"`); then it is killed and the alert retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Where a sink sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTarget {
    /// POST to a URL.
    Webhook {
        /// The URL.
        url: String,
        /// The body.
        format: WebhookFormat,
    },
    /// Run a program.
    Command {
        /// The program (resolved against the configuration file) and its arguments.
        argv: Vec<String>,
        /// How long it may run.
        timeout: SignedDuration,
    },
}

/// One sink with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSink {
    /// Its name (given, or derived from its URL or argv).
    pub name: String,
    /// The least severe event it is sent.
    pub min_severity: Severity,
    /// Most alerts per hour.
    pub max_per_hour: u32,
    /// Where it sends.
    pub target: SinkTarget,
}

impl AlertSink {
    /// `webhook` or `command`.
    pub fn kind(&self) -> &'static str {
        match self.target {
            SinkTarget::Webhook { .. } => "webhook",
            SinkTarget::Command { .. } => "command",
        }
    }
}

/// `prefix-` and 8 hex digits of the BLAKE3 digest of `what`: a name that stays the
/// same while the sink does, and shows nothing of a secret URL.
fn derived_name(prefix: &str, what: &[u8]) -> String {
    format!("{prefix}-{}", &blake3::hash(what).to_hex()[..8])
}

impl WebhookSink {
    /// Its name.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| derived_name("webhook", self.url.as_bytes()))
    }
}

impl CommandSink {
    /// Its name.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| derived_name("command", self.argv.join("\0").as_bytes()))
    }

    fn timeout(&self) -> SignedDuration {
        self.timeout.as_deref().and_then(|t| parse_interval(t).ok()).unwrap_or(DEFAULT_COMMAND_TIMEOUT)
    }
}

/// `https://host...` → `https://host` (a webhook URL's path is often its secret).
fn scheme_and_host(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}")
        }
        None => "(not a URL)".into(),
    }
}

impl AlertsConfig {
    /// True when nothing is set (then no table is written).
    pub fn is_default(&self) -> bool {
        *self == AlertsConfig::default()
    }

    /// These settings with the defaults written out (`librarian config show --defaults`).
    pub fn filled(&self) -> AlertsConfig {
        AlertsConfig {
            retry_initial: Some(self.retry_initial.clone().unwrap_or_else(|| format_interval(DEFAULT_RETRY_INITIAL))),
            retry_max: Some(self.retry_max.clone().unwrap_or_else(|| format_interval(DEFAULT_RETRY_MAX))),
            textfile: self.textfile.clone(),
            webhook: self
                .webhook
                .iter()
                .map(|w| WebhookSink {
                    name: Some(w.name()),
                    min_severity: Some(w.min_severity.unwrap_or(DEFAULT_MIN_SEVERITY)),
                    max_per_hour: Some(w.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR)),
                    ..w.clone()
                })
                .collect(),
            command: self
                .command
                .iter()
                .map(|c| CommandSink {
                    name: Some(c.name()),
                    min_severity: Some(c.min_severity.unwrap_or(DEFAULT_MIN_SEVERITY)),
                    max_per_hour: Some(c.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR)),
                    timeout: Some(c.timeout.clone().unwrap_or_else(|| format_interval(DEFAULT_COMMAND_TIMEOUT))),
                    ..c.clone()
                })
                .collect(),
        }
    }

    /// Every sink, webhooks first, in the order written, with defaults applied; a
    /// command's relative program path resolved against `config_path`.
    pub fn sinks(&self, config_path: &Path) -> Vec<AlertSink> {
        let webhooks = self.webhook.iter().map(|w| AlertSink {
            name: w.name(),
            min_severity: w.min_severity.unwrap_or(DEFAULT_MIN_SEVERITY),
            max_per_hour: w.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR),
            target: SinkTarget::Webhook { url: w.url.clone(), format: w.format },
        });
        let commands = self.command.iter().map(|c| {
            let mut argv = c.argv.clone();
            if let Some(program) = argv.first_mut()
                && program.contains('/')
                && Path::new(program.as_str()).is_relative()
            {
                *program = super::resolve(config_path, Path::new(program.as_str())).display().to_string();
            }
            AlertSink {
                name: c.name(),
                min_severity: c.min_severity.unwrap_or(DEFAULT_MIN_SEVERITY),
                max_per_hour: c.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR),
                target: SinkTarget::Command { argv, timeout: c.timeout() },
            }
        });
        webhooks.chain(commands).collect()
    }

    /// The textfile's path, resolved against `config_path`.
    pub fn textfile_path(&self, config_path: &Path) -> Option<PathBuf> {
        self.textfile.as_deref().map(|p| super::resolve(config_path, p))
    }

    fn initial(&self) -> SignedDuration {
        self.retry_initial.as_deref().and_then(|t| parse_interval(t).ok()).unwrap_or(DEFAULT_RETRY_INITIAL)
    }

    fn max(&self) -> SignedDuration {
        self.retry_max.as_deref().and_then(|t| parse_interval(t).ok()).unwrap_or(DEFAULT_RETRY_MAX)
    }

    /// The wait after failed attempt number `attempts` (0 for the first).
    pub fn backoff(&self, attempts: u64) -> SignedDuration {
        let factor = 1_i32.checked_shl(u32::try_from(attempts).unwrap_or(u32::MAX).min(30)).unwrap_or(i32::MAX);
        self.initial().checked_mul(factor).unwrap_or(self.max()).min(self.max())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(Error::invalid(format!("alerts.{key}"), why));
        if let Some(t) = &self.retry_initial {
            parse_interval(t)?;
        }
        if let Some(t) = &self.retry_max {
            parse_interval(t)?;
        }
        if let Some(p) = &self.textfile {
            let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if file.len() <= ".prom".len() || !file.ends_with(".prom") {
                return bad(
                    "textfile",
                    format!(
                        "alerts.textfile {:?} must name a file ending in .prom (node_exporter's textfile collector \
                         reads only those)",
                        p.display().to_string()
                    ),
                );
            }
        }
        for (i, w) in self.webhook.iter().enumerate() {
            let at = format!("[[alerts.webhook]] number {}", i + 1);
            if !(w.url.starts_with("https://") || w.url.starts_with("http://"))
                || w.url.split_once("://").is_none_or(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
            {
                return bad("webhook.url", format!("{at}: url {} is not an http(s) URL", scheme_and_host(&w.url)));
            }
            // Webhook URLs carry secrets (Slack's do): never across the network in clear.
            crate::model::check_transport(&w.url).or_else(|_| {
                bad(
                    "webhook.url",
                    format!(
                        "{at}: url {} uses plain http:// to a host that is not loopback; use https:// (plain \
                         http:// is only for localhost, 127.0.0.0/8 and [::1])",
                        scheme_and_host(&w.url)
                    ),
                )
            })?;
            check_rate(&at, w.max_per_hour)?;
        }
        for (i, c) in self.command.iter().enumerate() {
            let at = format!("[[alerts.command]] number {}", i + 1);
            match c.argv.first() {
                None => return bad("command.argv", format!("{at}: argv is empty; give the program and its arguments")),
                Some(p) if p.is_empty() => return bad("command.argv", format!("{at}: argv's program is empty")),
                Some(_) => {}
            }
            if c.argv.iter().any(|a| a.contains('\0')) {
                return bad("command.argv", format!("{at}: argv holds a NUL character"));
            }
            if let Some(t) = &c.timeout {
                parse_interval(t)?;
            }
            check_rate(&at, c.max_per_hour)?;
        }
        let mut names: Vec<String> =
            self.webhook.iter().map(WebhookSink::name).chain(self.command.iter().map(CommandSink::name)).collect();
        for name in &names {
            let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if name.is_empty() || name.len() > MAX_SINK_NAME || !plain {
                return bad(
                    "name",
                    format!(
                        "alert sink name {name:?}: use 1 to {MAX_SINK_NAME} letters, digits, '.', '_' or '-' (it \
                         appears in metrics labels and on the command line)"
                    ),
                );
            }
        }
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad(
                "name",
                format!("two alert sinks are named {:?}: give each a name of its own (name = \"...\")", w[0]),
            );
        }
        Ok(())
    }
}

fn check_rate(at: &str, max_per_hour: Option<u32>) -> Result<()> {
    if max_per_hour == Some(0) {
        return Err(Error::invalid(
            "alerts.max_per_hour",
            format!("{at}: max_per_hour must be at least 1 (alerts are postponed, never dropped)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertsConfig> {
        let cfg: AlertsConfig = toml::from_str(text).map_err(|e| Error::invalid("toml", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    #[test]
    fn sinks_get_their_defaults_and_stable_names() {
        let cfg = parse(
            "textfile = \"metrics/librarian.prom\"\n\
             [[webhook]]\nurl = \"https://hooks.slack.com/services/T0/B0/secret\"\nformat = \"slack\"\n\
             [[webhook]]\nname = \"ops\"\nurl = \"http://127.0.0.1:9000/hook\"\nformat = \"json\"\n\
             min_severity = \"info\"\nmax_per_hour = 5\n\
             [[command]]\nargv = [\"bin/page\", \"--team\", \"data\"]\ntimeout = \"5s\"\n",
        )
        .expect("valid");
        let sinks = cfg.sinks(Path::new("/srv/site/librarian.toml"));
        assert_eq!(sinks.len(), 3);
        assert!(sinks[0].name.starts_with("webhook-") && sinks[0].name.len() == "webhook-".len() + 8);
        assert!(!sinks[0].name.contains("secret"));
        assert_eq!((sinks[0].min_severity, sinks[0].max_per_hour), (Severity::Warning, 30));
        assert_eq!((sinks[1].name.as_str(), sinks[1].min_severity, sinks[1].max_per_hour), ("ops", Severity::Info, 5));
        assert_eq!(sinks[2].kind(), "command");
        assert_eq!(
            sinks[2].target,
            SinkTarget::Command {
                argv: vec!["/srv/site/bin/page".into(), "--team".into(), "data".into()],
                timeout: SignedDuration::from_secs(5)
            }
        );
        assert_eq!(cfg.sinks(Path::new("/elsewhere/l.toml"))[0].name, sinks[0].name, "a name does not move");
        assert_eq!(
            cfg.textfile_path(Path::new("/srv/site/librarian.toml")),
            Some(PathBuf::from("/srv/site/metrics/librarian.prom"))
        );
        // Filled in, it names every sink and loads back as the same sinks.
        let filled = cfg.filled();
        assert_eq!(filled.filled(), filled);
        assert_eq!(filled.sinks(Path::new("/srv/site/librarian.toml")), sinks);
        let back: AlertsConfig = toml::from_str(&toml::to_string(&filled).expect("toml")).expect("parse");
        assert_eq!(back, filled);
    }

    #[test]
    fn bad_sinks_are_refused_naming_the_key() {
        let hook = |extra: &str| format!("[[webhook]]\nurl = \"https://h.example/x\"\nformat = \"json\"\n{extra}");
        let cases = [
            ("[[webhook]]\nurl = \"http://hooks.example.org/secret\"\nformat = \"slack\"\n", "plain http://"),
            ("[[webhook]]\nurl = \"ftp://x/y\"\nformat = \"slack\"\n", "not an http(s) URL"),
            ("[[webhook]]\nurl = \"https://\"\nformat = \"slack\"\n", "not an http(s) URL"),
            ("[[command]]\nargv = []\n", "argv is empty"),
            ("[[command]]\nargv = [\"\"]\n", "program is empty"),
            ("[[command]]\nargv = [\"/bin/true\"]\ntimeout = \"soon\"\n", "interval"),
            ("textfile = \"/var/lib/node_exporter/librarian.txt\"\n", "alerts.textfile"),
            ("textfile = \"/var/lib/node_exporter/.prom\"\n", "alerts.textfile"),
            (&hook("max_per_hour = 0\n"), "max_per_hour"),
            (&hook("name = \"a b\"\n"), "alert sink name"),
            (&format!("{}{}", hook("name = \"x\"\n"), hook("name = \"x\"\n")), "two alert sinks"),
        ];
        for (text, needle) in cases {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e:?} should mention {needle}");
            assert!(!e.contains("secret"), "the URL's path is never shown: {e}");
        }
        for text in [
            "[[webhook]]\nurl = \"https://h.example/x\"\nformat = \"xml\"\n",
            "[[webhook]]\nurl = \"https://h.example/x\"\n",
            "[[webhook]]\nurl = \"https://h.example/x\"\nformat = \"json\"\nmin_severity = \"fatal\"\n",
            "[[command]]\nargv = [\"/bin/true\"]\nshell = true\n",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        let e = toml::from_str::<AlertsConfig>("[[webhook]]\nurl = \"https://h/x\"\nformat = \"xml\"\n")
            .expect_err("format")
            .to_string();
        assert!(e.contains("slack") && e.contains("json"), "names the formats: {e}");
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let c = AlertsConfig::default();
        assert_eq!(c.backoff(0), SignedDuration::from_secs(30));
        assert_eq!(c.backoff(2), SignedDuration::from_secs(120));
        assert_eq!(c.backoff(40), SignedDuration::from_mins(15));
        let fast = AlertsConfig { retry_initial: Some("1s".into()), retry_max: Some("3s".into()), ..c };
        assert_eq!(
            (fast.backoff(0), fast.backoff(1), fast.backoff(9)),
            (SignedDuration::from_secs(1), SignedDuration::from_secs(2), SignedDuration::from_secs(3))
        );
    }
}
