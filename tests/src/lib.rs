//! Helpers for the end-to-end tests: find the `librarian` binary built by this
//! workspace and run it against a site in a temporary directory.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `librarian` binary: `$LIBRARIAN_BIN`, else `<target dir>/<profile>/librarian`
/// next to this test executable.
pub fn librarian_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LIBRARIAN_BIN") {
        return PathBuf::from(p);
    }
    // Test executables live in <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
    profile_dir.join("librarian")
}

/// A `Command` for `librarian` with `--config` pointing at `config`.
pub fn librarian(config: &Path) -> Command {
    let mut c = Command::new(librarian_bin());
    c.arg("--config").arg(config).env_remove("LIBRARIAN_CONFIG");
    c
}

/// Run and capture.
pub fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {:?}: {e}", cmd),
    }
}
