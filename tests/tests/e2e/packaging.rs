//! What a packager installs besides the binary: shell completions (`librarian
//! completions SHELL`) and the man page (`librarian man`).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use librarian_e2e::*;

/// Run `bash -c SCRIPT` and capture it.
fn bash(script: &str) -> Outcome {
    run_outcome(Command::new("bash").args(["--norc", "--noprofile", "-c", script]))
}

#[test]
fn the_bash_completion_script_parses_and_completes_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let generated = run_outcome(bare_librarian().args(["completions", "bash"]));
    generated.ok();
    let script = tmp.path().join("librarian.bash");
    std::fs::write(&script, &generated.stdout).unwrap();
    // bash accepts it.
    run_outcome(Command::new("bash").arg("-n").arg(&script)).ok();
    // Sourced, it registers a completion for `librarian`, and `librarian st<TAB>`
    // offers the subcommands starting with "st"; `librarian store <TAB>` the store ones.
    let complete = |words: &str| -> Vec<String> {
        let cword = words.split(' ').count() - 1;
        let out = bash(&format!(
            "source {}; complete -p librarian || exit 3; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
             _librarian librarian \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ));
        out.ok();
        assert!(out.stdout.contains("-F _librarian") && out.stdout.contains(" librarian\n"), "{out}");
        out.stdout.lines().skip(1).map(str::to_owned).collect()
    };
    let st = complete("librarian st");
    assert!(st.contains(&"store".to_owned()) && st.contains(&"status".to_owned()), "{st:?}");
    assert!(!st.contains(&"search".to_owned()), "{st:?}");
    let store = complete("librarian store ''");
    for sub in ["add", "list", "recycle"] {
        assert!(store.contains(&sub.to_owned()), "{sub} missing from {store:?}");
    }
    // The other shells get a script too; an unknown shell is a usage error.
    for shell in ["zsh", "fish"] {
        let out = run_outcome(bare_librarian().args(["completions", shell]));
        out.ok();
        assert!(out.stdout.contains("librarian") && out.stdout.contains("recycle"), "{out}");
    }
    run_outcome(bare_librarian().args(["--json", "completions", "tcsh"])).expect_error(2, "invalid_argument");
}

#[test]
fn the_man_page_renders() {
    let generated = run_outcome(bare_librarian().arg("man"));
    generated.ok();
    assert!(generated.stdout.contains(".TH librarian 1"), "not a man page: {generated}");
    for needle in ["store", "completions", "\\-\\-json"] {
        assert!(generated.stdout.contains(needle), "{needle:?} missing from the man page");
    }
    let Some(man) = which("man") else {
        skip("rendering the man page (`man` is not installed; .ci/run installs man-db)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("librarian.1");
    std::fs::write(&page, &generated.stdout).unwrap();
    let shown = run_outcome(Command::new(man).arg("-l").arg(&page).env("MANPAGER", "cat").env("MANWIDTH", "80"));
    shown.ok();
    for needle in ["NAME", "Move research data", "SYNOPSIS", "--json", "SUBCOMMANDS"] {
        assert!(shown.stdout.contains(needle), "{needle:?} missing from the rendered page: {shown}");
    }
}
