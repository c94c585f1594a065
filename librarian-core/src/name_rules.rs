//! Why a name was refused: one variant per naming rule (the rules are in [`crate::name`]).

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
    /// An invisible or bidirectional formatting character (category Cf or another
    /// default-ignorable code point, e.g. U+202E, U+200B, U+FEFF).
    #[error("name contains invisible or formatting character U+{0:04X}")]
    InvisibleCharacter(u32),
    /// A character that looks like `/`, `\` or a space but is not one (e.g. U+FF0F,
    /// U+2215, U+00A0).
    #[error("name contains U+{0:04X}, which looks like a slash, backslash or space but is not one")]
    LookAlike(u32),
    /// Not in Unicode Normalization Form C (e.g. `café` with a combining accent).
    #[error("name is not in Unicode Normalization Form C (NFC); give it in NFC")]
    NotNfc,
}
