//! What a packager installs besides the binary: shell completions (`librarian
//! completions SHELL`), the man page (`librarian man`) and the example systemd units
//! in `examples/systemd/`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// `[section] -> key -> values` of a systemd unit file, read as INI the way systemd
/// does (comments with `#` or `;`, `Key=Value` lines inside a section, a key may
/// repeat); panics naming the line on anything else.
fn parse_unit(path: &Path) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let at = format!("{}:{}: {raw:?}", path.display(), n + 1);
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(!sections.contains_key(name), "{at}: section [{name}] twice");
            sections.insert(name.to_owned(), BTreeMap::new());
            current = Some(name.to_owned());
            continue;
        }
        let section = current.as_ref().unwrap_or_else(|| panic!("{at}: a line before any section"));
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{at}: not Key=Value"));
        let key = key.trim();
        assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()), "{at}: bad key");
        assert!(!line.ends_with('\\'), "{at}: no continuation lines in these examples");
        sections.get_mut(section).unwrap().entry(key.to_owned()).or_default().push(value.trim().to_owned());
    }
    sections
}

fn units() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/systemd");
    let mut units = list_dir(&dir);
    units.retain(|p| p.extension().is_some_and(|e| e == "service" || e == "timer"));
    units
}

#[test]
fn the_example_systemd_units_are_valid() {
    let units = units();
    let names: Vec<String> = units.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["librarian-tasks.service", "librarian-tasks.timer", "librarian.service"]);
    let parsed: BTreeMap<String, _> = names.iter().cloned().zip(units.iter().map(|p| parse_unit(p))).collect();
    let one = |unit: &str, section: &str, key: &str| -> String {
        let values = parsed[unit].get(section).and_then(|s| s.get(key));
        match values.map(Vec::as_slice) {
            Some([v]) => v.clone(),
            other => panic!("{unit}: [{section}] {key} should be set once, is {other:?}"),
        }
    };
    // The server: a long-running service, started at boot, stopped with SIGTERM.
    assert_eq!(one("librarian.service", "Service", "ExecStart"), "/usr/local/bin/librarian serve");
    assert_eq!(one("librarian.service", "Service", "KillSignal"), "SIGTERM");
    assert_eq!(one("librarian.service", "Install", "WantedBy"), "multi-user.target");
    // The tasks: one run per start of the oneshot service, started by the timer.
    assert_eq!(one("librarian-tasks.service", "Service", "Type"), "oneshot");
    assert_eq!(one("librarian-tasks.service", "Service", "ExecStart"), "/usr/local/bin/librarian --json tasks run");
    assert!(!parsed["librarian-tasks.service"].contains_key("Install"), "the timer starts it, nothing else");
    assert_eq!(one("librarian-tasks.timer", "Timer", "Unit"), "librarian-tasks.service");
    assert!(parsed["librarian-tasks.timer"]["Timer"].contains_key("OnCalendar"));
    assert_eq!(one("librarian-tasks.timer", "Install", "WantedBy"), "timers.target");
    for unit in ["librarian.service", "librarian-tasks.service"] {
        let env = one(unit, "Service", "Environment");
        assert_eq!(env, "LIBRARIAN_CONFIG=/srv/librarian/librarian.toml", "{unit}");
        assert!(one(unit, "Service", "ReadWritePaths").starts_with("/srv/librarian"), "{unit}");
    }

    // The commands the units run work as written, against a real site.
    let site = Site::new();
    let exec = one("librarian-tasks.service", "Service", "ExecStart");
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    let ran = run_outcome(bare_librarian().env("LIBRARIAN_CONFIG", site.config()).args(&args));
    ran.ok();
    assert!(ran.json().as_array().is_some_and(|a| !a.is_empty()), "{ran}");

    // systemd's own check, where it is installed (the binary path is the only thing
    // changed: the one built here instead of /usr/local/bin/librarian).
    let Some(analyze) = which("systemd-analyze") else {
        // Not installed (CI's machine has no systemd): the INI checks above are the
        // check. Said, not silent.
        eprintln!("systemd-analyze is not installed: the units were checked as INI files only");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for (p, name) in units.iter().zip(&names) {
        let text = std::fs::read_to_string(p).unwrap();
        let text = text.replace("/usr/local/bin/librarian", librarian_bin().to_str().unwrap());
        let copy = tmp.path().join(name);
        std::fs::write(&copy, text).unwrap();
        copies.push(copy);
    }
    let verify = run_outcome(Command::new(analyze).args(["verify", "--man=no"]).args(&copies));
    verify.ok();
    assert!(verify.stderr.trim().is_empty(), "systemd-analyze verify complained: {verify}");
}
