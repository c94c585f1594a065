//! Strings that come from elsewhere (a peer's call, a catalog another process wrote):
//! identifiers are checked and refused when they hold what a terminal or a reader
//! could be fooled by; free text is cleaned and cut; anything shown to a person is
//! escaped (issue 9, "calls from peers").

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::{Error, Result};

/// Longest uploader accepted from a peer, in bytes.
pub const MAX_UPLOADER_BYTES: usize = 256;
/// Longest failure reason kept from a peer, in characters (longer ones are cut).
pub const MAX_REASON_CHARS: usize = 1000;

/// Whether `c` must not appear in an identifier or reach a terminal as is: a control
/// character (C0, DEL, C1), a line or paragraph separator, or an invisible or
/// bidirectional formatting character (U+202E, U+200B, U+FEFF...).
pub fn is_hazard(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || crate::name::is_invisible(c)
}

/// Check an identifier a peer sends (an uploader): at most `max` bytes, and no
/// character for which [`is_hazard`] holds. [`Error::InvalidArgument`] names the
/// field and the character.
pub fn check_identifier(what: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(what, format!("{} bytes long; the limit is {max}", value.len())));
    }
    if let Some(c) = value.chars().find(|c| is_hazard(*c)) {
        return Err(Error::invalid(
            what,
            format!("{} contains control or formatting character U+{:04X}", escape(value), c as u32),
        ));
    }
    Ok(())
}

/// Free text a peer sends (a failure reason): every hazardous character becomes a
/// visible escape (`\x1b`, `\u{202e}`), then the text is cut to `max` characters
/// (marked with `…`).
pub fn clean_free_text(value: &str, max: usize) -> String {
    let escaped = escape(value);
    match escaped.char_indices().nth(max) {
        None => escaped.into_owned(),
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
    }
}

/// An error code a peer sends (`store_full`, `conflict`, …): kept when it is 1-64 of
/// `[a-z0-9_]`, else `unknown`, so a peer's code is always safe to store, compare
/// and print.
pub fn peer_code(code: &str) -> String {
    let plain = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { code.to_owned() } else { "unknown".to_owned() }
}

/// A code from an external service (Globus: `PERMISSION_DENIED`,
/// `ClientError.NotFound`, `invalid_client`): kept when plain (ASCII letters,
/// digits, `_`, `.`, `-`, at most 100 bytes), else `unknown`.
pub fn service_code(code: &str) -> String {
    let plain = !code.is_empty()
        && code.len() <= 100
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if plain { code.to_owned() } else { "unknown".to_owned() }
}

/// `value` with every hazardous character (see [`is_hazard`]) written as an escape:
/// `\x1b` for ASCII and C1 controls below U+0100, `\u{202e}` for the others. What a
/// terminal shows is then what the bytes are, and no escape sequence stored in a
/// catalog can drive the terminal. Borrowed when there is nothing to escape.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_hazard) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if !is_hazard(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_drive_a_terminal() {
        assert_eq!(escape("plain/ünï"), "plain/ünï");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("../../../etc/\x1b[31mEVIL"), "../../../etc/\\x1b[31mEVIL");
        assert_eq!(escape("a\nb\r\t\u{7f}\u{9b}"), "a\\x0ab\\x0d\\x09\\x7f\\x9b");
        assert_eq!(escape("evil\u{202E}txt"), "evil\\u{202e}txt");
        assert_eq!(escape("x\u{200B}\u{2028}"), "x\\u{200b}\\u{2028}");
    }

    #[test]
    fn identifiers_are_refused_free_text_is_cleaned_and_cut() {
        assert!(check_identifier("uploader", "alice", MAX_UPLOADER_BYTES).is_ok());
        assert!(check_identifier("uploader", "Ålice Bø", MAX_UPLOADER_BYTES).is_ok());
        for bad in ["a\x1b[2J", "a\nb", "a\u{202E}b", "a\u{85}"] {
            match check_identifier("uploader", bad, MAX_UPLOADER_BYTES) {
                Err(e @ Error::InvalidArgument { .. }) => assert!(!e.to_string().chars().any(is_hazard), "{e:?}"),
                other => panic!("{bad:?} accepted: {other:?}"),
            }
        }
        assert!(check_identifier("uploader", &"u".repeat(MAX_UPLOADER_BYTES + 1), MAX_UPLOADER_BYTES).is_err());
        assert_eq!(clean_free_text("disk \x1b[31mred", 100), "disk \\x1b[31mred");
        let long = clean_free_text(&"é".repeat(5000), MAX_REASON_CHARS);
        assert_eq!(long.chars().count(), MAX_REASON_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(clean_free_text("short", 5), "short");
    }
}
