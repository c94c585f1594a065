//! Validated catalog names (design §2, invariant 3).
//!
//! A [`FileName`] is a relative, normalised, UTF-8 path: segments separated by a
//! single `/`, none empty, `.` or `..`, no backslash, no NUL or other control
//! character, at most [`MAX_NAME_BYTES`] bytes. Such a name can never resolve
//! outside the store it is placed in.
//!
//! A new name must also look like what it is (issue 9, "look-alikes"): it is refused
//! when it holds an invisible or bidirectional formatting character (Unicode category
//! Cf and the other default-ignorable code points: U+202E, zero-width space, BOM,
//! variation selectors...), a character that passes for a slash or a backslash
//! (fullwidth solidus U+FF0F, division slash U+2215, fraction slash U+2044...), a
//! space other than U+0020 (no-break space, ideographic space, line separator...), or
//! when it is not in Unicode Normalization Form C. A name is a contract: two names
//! that display alike must not name two files, and a name is never rewritten
//! silently (normalising `café` typed as NFD would store a name the uploader did not
//! give), so such names are refused, never normalised.
//!
//! Names read back from a catalog ([`FileName::from_catalog`]) are held only to the
//! structural rules, so a name recorded before these rules stays readable.

use std::ffi::OsStr;
use std::fmt;

use crate::error::{Error, Result};
pub use crate::name_rules::{MAX_NAME_BYTES, MAX_SEGMENT_BYTES, NameError};

/// A validated catalog name. Construct with [`FileName::new`] or `parse`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(String);

impl FileName {
    /// Validate `name`: the structural rules and the look-alike rules.
    pub fn new(name: &str) -> Result<Self> {
        check(name)
            .and_then(|()| check_look_alikes(name))
            .map_err(|reason| Error::InvalidName { name: name.to_owned(), reason })?;
        Ok(FileName(name.to_owned()))
    }

    /// A name read back from a catalog: held to the structural rules only (it can
    /// never escape a store), so a name recorded before the look-alike rules existed
    /// stays readable. A name that breaks them is [`Error::Corrupt`]: no librarian
    /// wrote it, and the caller's input is not at fault.
    pub(crate) fn from_catalog(name: &str) -> Result<Self> {
        check(name).map_err(|reason| Error::corrupt("the catalog", format!("file name {name:?}: {reason}")))?;
        Ok(FileName(name.to_owned()))
    }

    /// Validate a name given as an OS string (command-line argument, path component).
    pub fn from_os(name: &OsStr) -> Result<Self> {
        match name.to_str() {
            Some(s) => Self::new(s),
            None => Err(Error::InvalidName { name: name.to_string_lossy().into_owned(), reason: NameError::NotUtf8 }),
        }
    }

    /// Validate raw bytes.
    pub fn from_bytes(name: &[u8]) -> Result<Self> {
        match std::str::from_utf8(name) {
            Ok(s) => Self::new(s),
            Err(_) => {
                Err(Error::InvalidName { name: String::from_utf8_lossy(name).into_owned(), reason: NameError::NotUtf8 })
            }
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments of the name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for FileName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for FileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Check one path segment (used for entries inside a book too).
pub(crate) fn check_segment(seg: &str) -> Result<(), NameError> {
    match seg {
        "" => return Err(NameError::EmptySegment),
        "." => return Err(NameError::CurrentSegment),
        ".." => return Err(NameError::ParentSegment),
        _ => {}
    }
    if seg.len() > MAX_SEGMENT_BYTES {
        return Err(NameError::SegmentTooLong(seg.len()));
    }
    for c in seg.chars() {
        match c {
            '\0' => return Err(NameError::Nul),
            '\\' => return Err(NameError::Backslash),
            '/' => return Err(NameError::EmptySegment),
            c if c.is_control() => return Err(NameError::ControlCharacter(c as u32)),
            _ => {}
        }
    }
    Ok(())
}

fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    if name.starts_with('/') {
        return Err(NameError::Absolute);
    }
    if name.ends_with('/') {
        return Err(NameError::TrailingSlash);
    }
    name.split('/').try_for_each(check_segment)
}

/// Characters that pass for `/`, `\` or a space: slash and backslash look-alikes,
/// and every whitespace character other than U+0020 (which [`char::is_whitespace`]
/// and `is_control` cover together with the line and paragraph separators).
fn is_look_alike(c: char) -> bool {
    matches!(
        c,
        '\u{0337}' | '\u{0338}' // combining short / long solidus overlay
            | '\u{1735}' // Philippine single punctuation
            | '\u{2044}' // fraction slash
            | '\u{2215}' // division slash
            | '\u{2216}' // set minus
            | '\u{2571}' | '\u{2572}' // box drawings diagonals
            | '\u{27CB}' | '\u{27CD}' // mathematical rising / falling diagonal
            | '\u{29F5}' // reverse solidus operator
            | '\u{29F8}' | '\u{29F9}' // big solidus / big reverse solidus
            | '\u{3033}' // vertical kana repeat mark upper half
            | '\u{FE68}' // small reverse solidus
            | '\u{FF0F}' | '\u{FF3C}' // fullwidth solidus / reverse solidus
    ) || (c.is_whitespace() && c != ' ')
}

/// Invisible characters: category Cf and the other default-ignorable code points
/// (Unicode `DerivedCoreProperties.txt`, `Default_Ignorable_Code_Point`), plus the
/// Hangul and Braille blanks that render as nothing.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD // soft hyphen
            | 0x034F // combining grapheme joiner
            | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x115F..=0x1160 // Hangul fillers
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F // Mongolian variation selectors and vowel separator
            | 0x200B..=0x200F // zero-width space, joiners, LRM, RLM
            | 0x202A..=0x202E // bidi embeddings and overrides
            | 0x2060..=0x206F // word joiner, invisible operators, bidi isolates
            | 0x2800 // Braille blank
            | 0x3164 // Hangul filler
            | 0xFE00..=0xFE0F // variation selectors
            | 0xFEFF // zero-width no-break space (BOM)
            | 0xFFA0 // halfwidth Hangul filler
            | 0xFFF0..=0xFFFB // interlinear annotations and unassigned specials
            | 0x110BD | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF // tags and variation selectors supplement
    )
}

/// The look-alike rules, for names given to this site (see the module documentation).
fn check_look_alikes(name: &str) -> Result<(), NameError> {
    if name.is_ascii() {
        return Ok(());
    }
    for c in name.chars() {
        if is_invisible(c) {
            return Err(NameError::InvisibleCharacter(c as u32));
        }
        if is_look_alike(c) {
            return Err(NameError::LookAlike(c as u32));
        }
    }
    if !unicode_normalization::is_nfc(name) {
        return Err(NameError::NotNfc);
    }
    Ok(())
}

/// Site names: 1–64 bytes of ASCII letters, digits, `.`, `_` and `-`, not starting with `.`.
pub fn validate_site_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "site name",
            format!("{name:?} must be 1-64 characters of letters, digits, '.', '_' or '-', not starting with '.'"),
        ))
    }
}

/// Store names follow the site-name rules.
pub fn validate_store_name(name: &str) -> Result<()> {
    validate_site_name(name).map_err(|_| {
        Error::invalid(
            "store name",
            format!("{name:?} must be 1-64 characters of letters, digits, '.', '_' or '-', not starting with '.'"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> NameError {
        match FileName::new(name) {
            Err(Error::InvalidName { reason, .. }) => reason,
            other => panic!("{name:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["a", "2026/11/book_0001", "x.fits", "a/b.c/d", "..a", "a..", ".hidden", "ünï/çødé", "with space"]
        {
            assert_eq!(FileName::new(ok).map(|n| n.to_string()).ok().as_deref(), Some(ok));
        }
    }

    #[test]
    fn rejects_each_rule_with_its_own_reason() {
        assert_eq!(reason(""), NameError::Empty);
        assert_eq!(reason("/etc/passwd"), NameError::Absolute);
        assert_eq!(reason("a/../b"), NameError::ParentSegment);
        assert_eq!(reason(".."), NameError::ParentSegment);
        assert_eq!(reason("./a"), NameError::CurrentSegment);
        assert_eq!(reason("a/./b"), NameError::CurrentSegment);
        assert_eq!(reason("a//b"), NameError::EmptySegment);
        assert_eq!(reason("a/"), NameError::TrailingSlash);
        assert_eq!(reason("a\\b"), NameError::Backslash);
        assert_eq!(reason("a\0b"), NameError::Nul);
        assert_eq!(reason("a\nb"), NameError::ControlCharacter(0x0a));
        assert_eq!(reason("a\u{7f}"), NameError::ControlCharacter(0x7f));
        assert_eq!(reason("a\u{85}"), NameError::ControlCharacter(0x85));
        assert_eq!(reason(&"x".repeat(1025)), NameError::TooLong(1025));
        assert_eq!(reason(&"x".repeat(256)), NameError::SegmentTooLong(256));
        assert!(FileName::new(&["x".repeat(255), "y".repeat(255), "z".repeat(255), "w".repeat(255)].join("/")).is_ok());
        match FileName::from_bytes(b"a\xffb") {
            Err(Error::InvalidName { reason: NameError::NotUtf8, .. }) => {}
            other => panic!("non-UTF-8 accepted: {other:?}"),
        }
    }

    #[test]
    fn refuses_look_alikes_and_says_which_character() {
        // Bidi overrides and isolates, zero-width and other invisible characters.
        assert_eq!(reason("n/evil\u{202E}txt.exe"), NameError::InvisibleCharacter(0x202E));
        assert_eq!(reason("n/caf\u{200B}e"), NameError::InvisibleCharacter(0x200B));
        assert_eq!(reason("\u{FEFF}n/a"), NameError::InvisibleCharacter(0xFEFF));
        assert_eq!(reason("n/a\u{2066}b"), NameError::InvisibleCharacter(0x2066));
        assert_eq!(reason("n/a\u{00AD}b"), NameError::InvisibleCharacter(0xAD));
        assert_eq!(reason("n/a\u{FE0F}"), NameError::InvisibleCharacter(0xFE0F));
        assert_eq!(reason("n/a\u{E0041}"), NameError::InvisibleCharacter(0xE0041));
        assert_eq!(reason("n/\u{3164}"), NameError::InvisibleCharacter(0x3164));
        // Slash, backslash and space look-alikes.
        assert_eq!(reason("n\u{FF0F}caf\u{E9}"), NameError::LookAlike(0xFF0F));
        assert_eq!(reason("n\u{2215}a"), NameError::LookAlike(0x2215));
        assert_eq!(reason("n\u{2044}a"), NameError::LookAlike(0x2044));
        assert_eq!(reason("n\u{29F8}a"), NameError::LookAlike(0x29F8));
        assert_eq!(reason("n\u{FF3C}a"), NameError::LookAlike(0xFF3C));
        assert_eq!(reason("n/a\u{00A0}b"), NameError::LookAlike(0xA0));
        assert_eq!(reason("n/a\u{3000}b"), NameError::LookAlike(0x3000));
        assert_eq!(reason("n/a\u{2028}b"), NameError::LookAlike(0x2028));
        // NFD `café` (e + U+0301) is refused; NFC `café` (U+00E9) is accepted.
        assert_eq!(reason("n/cafe\u{301}"), NameError::NotNfc);
        assert_eq!(reason("n/\u{212B}ngstr\u{F6}m"), NameError::NotNfc, "the Angstrom sign is not NFC");
        assert!(FileName::new("n/caf\u{E9}").is_ok());
        // Names already in a catalog are read back under the structural rules only.
        assert_eq!(
            FileName::from_catalog("n/cafe\u{301}").map(|n| n.to_string()).ok().as_deref(),
            Some("n/cafe\u{301}")
        );
        assert!(matches!(FileName::from_catalog("../x"), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn ordinary_non_ascii_names_stay_valid() {
        // Names of the SO Librarian fixtures and of common scripts.
        for ok in [
            "spaces and \u{FC}n\u{EF}c\u{F8}d\u{E9} \u{2013} file \u{2116}1.txt",
            "\u{65E5}\u{672C}\u{8A9E}/\u{30C7}\u{30FC}\u{30BF}.txt",
            "\u{D55C}\u{AE00}/\u{D30C}\u{C77C}",
            "\u{0645}\u{0644}\u{0641}/x",
            "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",
            "emoji/\u{1F600}.txt",
            "a-b_c.d~e+f=g,h;i'j(k)l[m]n{o}p@q#r$s%t&u^v",
        ] {
            assert_eq!(FileName::new(ok).map(|n| n.to_string()).ok().as_deref(), Some(ok), "{ok:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn accepted_names_never_escape(s in "[a-z./\\\\]{0,12}") {
            if let Ok(n) = FileName::new(&s) {
                let p = std::path::Path::new(n.as_str());
                proptest::prop_assert!(p.is_relative());
                proptest::prop_assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            }
        }
    }
}
