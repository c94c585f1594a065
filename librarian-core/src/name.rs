//! Validated catalog names (design §2, invariant 3).
//!
//! A [`FileName`] is a relative, normalised, UTF-8 path: segments separated by a
//! single `/`, none empty, `.` or `..`, no backslash, no NUL or other control
//! character, at most [`MAX_NAME_BYTES`] bytes. Such a name can never resolve
//! outside the store it is placed in.

use std::ffi::OsStr;
use std::fmt;

use crate::error::{Error, Result};

/// Longest accepted name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest accepted segment, in bytes (`NAME_MAX` of common filesystems).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why a name was rejected. Each rule has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name starts with `/`.
    #[error("name is an absolute path (starts with '/')")]
    Absolute,
    /// A segment is `..`.
    #[error("name contains a '..' segment")]
    ParentSegment,
    /// A segment is `.`.
    #[error("name contains a '.' segment")]
    CurrentSegment,
    /// Two slashes in a row (`a//b`).
    #[error("name contains an empty segment ('//')")]
    EmptySegment,
    /// The name ends with `/`.
    #[error("name ends with '/'")]
    TrailingSlash,
    /// A backslash appears.
    #[error("name contains a backslash")]
    Backslash,
    /// A NUL byte appears.
    #[error("name contains a NUL byte")]
    Nul,
    /// Another control character (U+0001..U+001F, U+007F..U+009F) appears.
    #[error("name contains control character U+{0:04X}")]
    ControlCharacter(u32),
    /// Longer than [`MAX_NAME_BYTES`].
    #[error("name is {0} bytes long; the limit is {MAX_NAME_BYTES}")]
    TooLong(usize),
    /// Not valid UTF-8.
    #[error("name is not valid UTF-8")]
    NotUtf8,
    /// One segment is longer than [`MAX_SEGMENT_BYTES`] (no filesystem could store it).
    #[error("a segment of the name is {0} bytes long; the limit is {MAX_SEGMENT_BYTES}")]
    SegmentTooLong(usize),
}

/// A validated catalog name. Construct with [`FileName::new`] or `parse`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(String);

impl FileName {
    /// Validate `name`.
    pub fn new(name: &str) -> Result<Self> {
        check(name).map_err(|reason| Error::InvalidName { name: name.to_owned(), reason })?;
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
