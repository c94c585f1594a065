//! Log lines on stderr: a timestamp (UTC, RFC 3339), the level, the module, and the
//! message, escaped like all human output (a log line can quote what a peer sent). As
//! JSON, one object per line (`ts`, `level`, `target`, `msg`) for log shippers.
//!
//! The level: `LIBRARIAN_LOG` when set (env_logger syntax: `info`,
//! `librarian::access=info,warn`, ...), else `warn`, one step more per `-v` (`info`,
//! `debug`, `trace`), or `error` with `-q`. The server's access log is target
//! `librarian::access` at `info`.

use std::io::Write;

use clap::ValueEnum;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// `2026-12-02T14:00:00.123Z INFO  librarian_core::shim: message`
    #[default]
    Text,
    /// `{"ts":"2026-12-02T14:00:00.123Z","level":"INFO","target":"...","msg":"..."}`
    Json,
}

/// The level filter for `verbose` `-v`s and `quiet`.
fn default_level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    }
}

/// One formatted line (without the newline).
fn line(format: LogFormat, ts: &str, level: log::Level, target: &str, msg: &str) -> String {
    match format {
        LogFormat::Text => format!("{ts} {level:<5} {target}: {}", librarian_core::escape(msg)),
        LogFormat::Json => {
            serde_json::json!({ "ts": ts, "level": level.as_str(), "target": target, "msg": msg }).to_string()
        }
    }
}

/// Install the logger.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    env_logger::Builder::from_env(env_logger::Env::default().filter_or("LIBRARIAN_LOG", default_level(verbose, quiet)))
        .format(move |buf, record| {
            let ts = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            let msg = record.args().to_string();
            writeln!(buf, "{}", line(format, &ts, record.level(), record.target(), &msg))
        })
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_v_and_q() {
        assert_eq!(default_level(0, false), "warn");
        assert_eq!(default_level(1, false), "info");
        assert_eq!(default_level(2, false), "debug");
        assert_eq!(default_level(5, false), "trace");
        assert_eq!(default_level(3, true), "error");
    }

    #[test]
    fn lines_carry_time_level_target_and_an_escaped_message() {
        let text = line(LogFormat::Text, "2026-12-02T14:00:00.000Z", log::Level::Info, "t", "a\u{1b}[31mb");
        assert!(text.starts_with("2026-12-02T14:00:00.000Z INFO  t: a"), "{text}");
        assert!(!text.contains('\u{1b}'), "control characters are escaped: {text}");
        let json = line(LogFormat::Json, "2026-12-02T14:00:00.000Z", log::Level::Warn, "t", "x\"y");
        let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
        assert_eq!(
            (v["level"].as_str(), v["target"].as_str(), v["msg"].as_str()),
            (Some("WARN"), Some("t"), Some("x\"y"))
        );
    }
}
