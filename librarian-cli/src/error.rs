//! The CLI's one error type and its one exit code.
//!
//! Every error has a code from the core's table ([`librarian_core::ERROR_CODES`]),
//! printed as the JSON `code` under `--json`; the exit code follows that table's
//! `usage` column: 2 only when the caller's input was wrong, 1 when the operation
//! failed. Clap's own errors (unknown command, bad flag) are usage errors too.

use librarian_core::{Error, ErrorCode};

/// `Result` with [`CliError`] as its default error.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] Error),
    /// A file or terminal operation of the CLI itself failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A result could not be encoded as JSON (a bug).
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The command line was well formed for clap but its values are wrong (e.g. a
    /// `--since` that is no date, two passwords that differ).
    #[error("invalid argument: {0}")]
    Usage(String),
}

impl CliError {
    /// [`CliError::Io`] for `.map_err`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }

    /// The stable code: the JSON `code` of the error document.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Core(e) => e.code(),
            CliError::Io { .. } => "io",
            CliError::Json(_) => "internal",
            CliError::Usage(_) => "invalid_argument",
        }
    }

    /// 2 when the code's row in the core's table says the input was wrong, else 1.
    pub fn exit_code(&self) -> u8 {
        ErrorCode::find(self.code()).map_or(1, ErrorCode::exit_code)
    }
}

/// The code of a command line clap refused: `invalid_argument`, the core's code for
/// "the caller's input was wrong" (the table has no separate code for syntax).
pub const CLAP_ERROR_CODE: &str = "invalid_argument";

/// The exit code of a command line clap refused: 0 for `--help` and `--version`
/// (printed on stdout), 2 for a usage error.
pub fn clap_exit_code(e: &clap::Error) -> u8 {
    if e.use_stderr() { ErrorCode::find(CLAP_ERROR_CODE).map_or(2, ErrorCode::exit_code) } else { 0 }
}

/// The `--json` error document of a command line clap refused: code
/// [`CLAP_ERROR_CODE`], and clap's first line as the message (its full text, with the
/// usage, still goes to stderr).
pub fn clap_error_document(e: &clap::Error) -> serde_json::Value {
    let text = e.render().to_string();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("invalid command line");
    let message = first.strip_prefix("error:").map_or(first, str::trim);
    serde_json::json!({ "error": { "code": CLAP_ERROR_CODE, "message": message } })
}

/// Whether the command line asks for `--json` (before any `--`): for the errors clap
/// finds before there is a parsed command line to ask.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter().skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_seen_before_a_double_dash_only() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(json_requested(args(&["librarian", "--json", "frob"])));
        assert!(json_requested(args(&["librarian", "upload", "--json"])));
        assert!(!json_requested(args(&["librarian", "upload", "--", "--json"])));
        assert!(!json_requested(args(&["--json"])), "argv[0] is the program");
    }

    #[test]
    fn exit_2_only_for_usage_codes() {
        let cases: Vec<(CliError, &str, u8)> = vec![
            (CliError::Usage("--since".into()), "invalid_argument", 2),
            (Error::invalid("limit", "must be at least 1").into(), "invalid_argument", 2),
            (Error::InvalidChecksum { text: "x".into(), reason: "y".into() }.into(), "invalid_checksum", 2),
            (Error::NotFound { kind: librarian_core::ObjectKind::File, name: "x".into() }.into(), "not_found", 1),
            (Error::internal("a thread panicked").into(), "internal", 1),
            (Error::corrupt_row("files.kind", "symlink").into(), "corrupt", 1),
            (CliError::Io { context: "demo".into(), source: std::io::Error::other("x") }, "io", 1),
            (CliError::Json(serde_json::from_str::<serde_json::Value>("{").unwrap_err()), "internal", 1),
        ];
        for (e, code, exit) in cases {
            assert_eq!((e.code(), e.exit_code()), (code, exit), "{e}");
            let row = ErrorCode::find(e.code());
            assert!(row.is_some(), "{e}: code {} is not in the core's table", e.code());
            assert_eq!(row.map(|r| r.usage), Some(exit == 2), "{e}");
        }
    }
}
