//! Sizes and durations the way people write them: `10G`, `1.5 TiB`, `500MB`;
//! `90s`, `15m`, `1h30m`, `5 minutes`, `2d`, `PT6H`.

use jiff::{SignedDuration, Span, SpanRelativeTo};

use crate::error::{Error, Result};

/// Parse a positive interval: a number and a unit (`90s`, `15m`, `1h`, `2d`), or
/// several (`1h30m`, `2 days 6 hours`, `5 minutes`), or ISO 8601 (`PT6H`). A day is
/// 24 hours.
pub fn parse_interval(text: &str) -> Result<SignedDuration> {
    let bad = || {
        Error::invalid(
            "interval",
            format!(
                "interval {text:?} must be a positive duration such as \"90s\", \"15m\", \"1h30m\", \"5 minutes\" or \"2d\""
            ),
        )
    };
    let t = text.trim();
    let duration = match t.parse::<SignedDuration>() {
        Ok(d) => d,
        // Days (and weeks) are not fixed-length to jiff; here a day is 24 hours.
        Err(_) => t
            .parse::<Span>()
            .ok()
            .and_then(|s| s.to_duration(SpanRelativeTo::days_are_24_hours()).ok())
            .ok_or_else(bad)?,
    };
    if duration.is_negative() || duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

/// An interval the way `librarian.toml` writes it, in the largest unit that divides
/// it: `30s`, `5m`, `90m`, `1h`, `2d` (a day is 24 hours; fractions of a second are
/// dropped). [`parse_interval`] reads it back.
pub fn format_interval(d: SignedDuration) -> String {
    match d.as_secs().max(0) {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Parse a size in bytes: a plain number of bytes, or a number (fractions allowed)
/// with a unit: `K`, `M`, `G`, `T`, `P` (or `KiB`, `MiB`, ...) are powers of 1024,
/// `KB`, `MB`, `GB`, `TB`, `PB` powers of 1000; `B` is bytes. Case does not matter,
/// a space between number and unit is allowed.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = || {
        Error::invalid(
            "size",
            format!(
                "size {text:?} must be a number of bytes, or a number and a unit such as \"500M\", \"10G\", \"1.5TiB\" or \"20GB\""
            ),
        )
    };
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "p" | "pib" => 1 << 50,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        _ => return Err(bad()),
    };
    match number.split_once('.') {
        None => number.parse::<u64>().ok().and_then(|n| n.checked_mul(factor)).ok_or_else(bad),
        Some((whole, frac)) => {
            // Exact integer arithmetic: whole * factor + frac * factor / 10^digits.
            if frac.contains('.') || frac.len() > 18 {
                return Err(bad());
            }
            let whole: u128 = whole.parse().map_err(|_| bad())?;
            let digits: u128 = frac.parse().map_err(|_| bad())?;
            let scale = 10u128.pow(u32::try_from(frac.len()).map_err(|_| bad())?);
            let bytes = whole * u128::from(factor) + digits * u128::from(factor) / scale;
            u64::try_from(bytes).map_err(|_| bad())
        }
    }
}

/// One limit of a run: bytes or time (`librarian verify --budget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// At most this many bytes.
    Bytes(u64),
    /// At most this long.
    Time(SignedDuration),
}

/// Parse a budget: a size (`100GB`, `2TiB`, `500000`) or a duration (`30min`, `2h`,
/// `90s`). A bare `m`/`M` unit is refused as ambiguous (mebibytes or minutes?).
pub fn parse_budget(text: &str) -> Result<Budget> {
    let t = text.trim();
    let unit = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.').trim();
    if unit.eq_ignore_ascii_case("m") {
        return Err(Error::invalid(
            "budget",
            format!(
                "budget {text:?} is ambiguous: write \"{0}MiB\" or \"{0}MB\" for bytes, \"{0}min\" for minutes",
                &t[..t.len() - unit.len()].trim()
            ),
        ));
    }
    if let Ok(bytes) = parse_size(t) {
        return Ok(Budget::Bytes(bytes));
    }
    parse_interval(t).map(Budget::Time).map_err(|_| {
        Error::invalid(
            "budget",
            format!("budget {text:?} must be a size (\"100GB\", \"2TiB\") or a duration (\"30min\", \"2h\")"),
        )
    })
}

/// Serde: a size as a number of bytes or a string [`parse_size`] accepts (for
/// `librarian.toml`: `batch_bytes = "64G"`).
pub(crate) mod size_serde {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Size::deserialize(d)? {
            Size::Bytes(n) => Ok(n),
            Size::Text(t) => super::parse_size(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_bytes_or_time_and_never_ambiguous() {
        assert_eq!(parse_budget("100MB").ok(), Some(Budget::Bytes(100_000_000)));
        assert_eq!(parse_budget("2GiB").ok(), Some(Budget::Bytes(2 << 30)));
        assert_eq!(parse_budget("4096").ok(), Some(Budget::Bytes(4096)));
        assert_eq!(parse_budget("30min").ok(), Some(Budget::Time(SignedDuration::from_secs(1800))));
        assert_eq!(parse_budget("2h").ok(), Some(Budget::Time(SignedDuration::from_secs(7200))));
        for bad in ["10m", "10M", "", "fast", "-1h"] {
            let e = parse_budget(bad).expect_err(bad);
            assert_eq!(e.code(), "invalid_argument", "{bad}");
        }
        assert!(parse_budget("10m").err().is_some_and(|e| e.to_string().contains("10min")));
    }

    #[test]
    fn intervals_people_write() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("2d", 172_800),
            ("1h30m", 5400),
            ("5 minutes", 300),
            ("2 days 6 hours", 194_400),
            ("PT6H", 21_600),
            (" 10s ", 10),
        ] {
            assert_eq!(parse_interval(text).ok(), Some(SignedDuration::from_secs(secs)), "{text}");
        }
        for bad in ["", "soon", "0s", "-5m", "15", "1h-", "3 fortnights"] {
            assert!(matches!(parse_interval(bad), Err(Error::InvalidArgument { .. })), "{bad}");
        }
    }

    #[test]
    fn intervals_are_written_back_the_way_people_write_them() {
        for (secs, text) in [(30, "30s"), (90, "90s"), (300, "5m"), (5400, "90m"), (3600, "1h"), (172_800, "2d")] {
            let d = SignedDuration::from_secs(secs);
            assert_eq!(format_interval(d), text);
            assert_eq!(parse_interval(text).ok(), Some(d), "{text} reads back");
        }
    }

    #[test]
    fn sizes_people_write() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("10G", 10 << 30),
            ("10g", 10 << 30),
            ("10 GiB", 10 << 30),
            ("20GB", 20_000_000_000),
            ("500M", 500 << 20),
            ("1.5T", 3 << 39),
            ("1.25K", 1280),
            ("7B", 7),
            ("16P", 16 << 50),
        ] {
            assert_eq!(parse_size(text).ok(), Some(bytes), "{text}");
        }
        for bad in ["", "G", "ten", "1.2.3G", ".5G", "5.G", "-1G", "10X", "99999999999P", "1e9"] {
            assert!(matches!(parse_size(bad), Err(Error::InvalidArgument { .. })), "{bad}");
        }
    }
}
