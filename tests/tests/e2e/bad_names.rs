//! Invariant 3 through the CLI: every rejected name form exits 2 with a message naming
//! the problem (`invalid_name` with `--json`) and changes nothing; hostile entries
//! inside a book make the upload fail (exit 1), naming the entry, and commit nothing.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use librarian_e2e::{Site, list_dir, walk, write_text};

/// (name, text the error message must contain)
fn rejected() -> Vec<(OsString, &'static str)> {
    let mut v: Vec<(OsString, &'static str)> = vec![
        ("/etc/passwd".into(), "absolute path"),
        ("/".into(), "absolute path"),
        ("a/../b".into(), "'..' segment"),
        ("..".into(), "'..' segment"),
        ("../escape".into(), "'..' segment"),
        (".".into(), "'.' segment"),
        ("./a".into(), "'.' segment"),
        ("a/./b".into(), "'.' segment"),
        ("a//b".into(), "empty segment"),
        ("a/".into(), "ends with '/'"),
        ("a\\b".into(), "backslash"),
        ("..\\x".into(), "backslash"),
        ("a\nb".into(), "control character U+000A"),
        ("a\tb".into(), "control character U+0009"),
        ("a\u{7f}b".into(), "control character U+007F"),
        ("a\u{85}b".into(), "control character U+0085"),
        ("".into(), "empty"),
        ("x".repeat(1025).into(), "1025 bytes"),
        (format!("{}/{}", "y".repeat(600), "z".repeat(600)).into(), "1201 bytes"),
    ];
    v.push((OsString::from_vec(b"bad\xffname".to_vec()), "not valid UTF-8"));
    v.push((OsString::from_vec(b"ok/\xc3\x28".to_vec()), "not valid UTF-8"));
    v
}

fn assert_untouched(site: &Site) {
    let data = walk(&site.data());
    assert!(data.is_empty(), "data area changed: {data:?}");
    let staging = list_dir(&site.staging());
    assert!(staging.is_empty(), "staging area changed: {staging:?}");
    assert!(site.files().is_empty(), "catalog changed: {:?}", site.files());
}

#[test]
fn every_rejected_name_form_exits_2_and_changes_nothing() {
    let site = Site::new();
    let src = site.src("payload.txt");
    write_text(&src, "some bytes\n");
    for (name, why) in rejected() {
        let shown = String::from_utf8_lossy(name.as_bytes()).into_owned();
        // Human mode: exit 2, diagnostic on stderr naming the rule, nothing on stdout.
        let text = librarian_e2e::run_outcome(site.cmd().arg("upload").arg(&src).arg(&name));
        text.expect_code(2);
        assert!(text.stderr.contains("invalid name"), "{shown:?}: {text}");
        assert!(text.stderr.contains(why), "{shown:?}: stderr does not say {why:?}: {text}");
        assert!(text.stdout.is_empty(), "{shown:?}: {text}");
        // JSON mode: one document {"error": {"code": "invalid_name", "message": ...}}.
        let json = librarian_e2e::run_outcome(site.cmd().arg("--json").arg("upload").arg(&src).arg(&name));
        let message = json.expect_error(2, "invalid_name");
        assert!(message.contains(why), "{shown:?}: message does not say {why:?}: {json}");
        // Lookups with the same bad name are refused the same way.
        let info = librarian_e2e::run_outcome(site.cmd().arg("--json").arg("info").arg(&name));
        info.expect_error(2, "invalid_name");
        assert_untouched(&site);
    }
    // The source is untouched.
    assert_eq!(std::fs::read_to_string(&src).unwrap(), "some bytes\n");
}

#[test]
fn names_at_the_limits_are_accepted() {
    // The rejections above are of the rules, not of everything unusual: these pass.
    let site = Site::new();
    let src = site.src("payload.txt");
    write_text(&src, "x");
    // 1024 bytes in segments no longer than a filesystem's NAME_MAX (255).
    let long =
        format!("{}/{}/{}/{}/{}", "a".repeat(255), "b".repeat(255), "c".repeat(255), "d".repeat(250), "e".repeat(5));
    assert_eq!(long.len(), 1024);
    for name in [long.as_str(), "..a", "a..", ".hidden", "with space/ünïcødé", "a/b.c/d"] {
        let up = site.upload(&src, name, &[]);
        up.ok();
        assert_eq!(up.json()["file"]["name"], name);
    }
    site.assert_consistent();
}

#[test]
fn nul_is_rejected_by_the_core_and_cannot_reach_argv() {
    use librarian_core::{Error, FileName, NameError};
    for r in [FileName::new("a\0b"), FileName::from_bytes(b"a\0b"), FileName::from_os(std::ffi::OsStr::new("a\0b"))] {
        match r {
            Err(Error::InvalidName { reason: NameError::Nul, .. }) => {}
            other => panic!("a name with NUL was not refused as Nul: {other:?}"),
        }
    }
    // argv is NUL-terminated: the OS interface cannot even carry such a name to the CLI.
    let err = std::process::Command::new(librarian_e2e::librarian_bin())
        .args(["upload", "x", "a\0b"])
        .output()
        .expect_err("spawning with a NUL in argv must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// Build a book with one ordinary file and one hostile entry made by `make`, upload
/// it, and check the failure: exit 1, `unsupported_entry`, the entry named, the
/// reason given, nothing committed, nothing left in staging.
fn hostile_book(what: &str, entry_shown: &str, reason: &str, make: &dyn Fn(&Path)) {
    let site = Site::new();
    let book = site.src("book");
    write_text(&book.join("fine.txt"), "fine\n");
    write_text(&book.join("sub/also-fine.txt"), "fine too\n");
    make(&book);

    let text = site.run([OsString::from("upload"), book.clone().into(), "hostile/book".into()]);
    text.expect_code(1);
    // On the terminal, control characters are shown escaped (`\x0a`); JSON keeps them.
    let shown = librarian_core::escape(entry_shown);
    assert!(text.stderr.contains(&*shown), "{what}: stderr does not name {shown:?}: {text}");
    assert!(text.stderr.contains(reason), "{what}: stderr does not say {reason:?}: {text}");

    let json = site.upload(&book, "hostile/book", &[]);
    let message = json.expect_error(1, "unsupported_entry");
    assert!(message.contains(entry_shown), "{what}: message does not name {entry_shown:?}: {json}");
    assert!(message.contains(reason), "{what}: message does not say {reason:?}: {json}");

    assert_untouched(&site);
    // Cleanup finds nothing to remove: the failed upload left no staging directory.
    let cleanup = site.json(["cleanup"]);
    cleanup.ok();
    assert_eq!(cleanup.json()["removed"], serde_json::json!([]), "{cleanup}");
    // The source book is left as it was.
    assert_eq!(std::fs::read_to_string(book.join("fine.txt")).unwrap(), "fine\n");
}

#[test]
fn book_with_symlink_to_outside_is_refused() {
    hostile_book("symlink", "sub/passwd", "symbolic link", &|b| {
        std::os::unix::fs::symlink("/etc/passwd", b.join("sub/passwd")).unwrap();
    });
}

#[test]
fn book_with_symlink_inside_is_refused() {
    hostile_book("internal symlink", "alias", "symbolic link", &|b| {
        std::os::unix::fs::symlink("fine.txt", b.join("alias")).unwrap();
    });
}

#[test]
fn book_with_symlinked_directory_is_refused() {
    hostile_book("directory symlink", "sub/up", "symbolic link", &|b| {
        std::os::unix::fs::symlink("..", b.join("sub/up")).unwrap();
    });
}

#[test]
fn book_with_fifo_is_refused() {
    hostile_book("fifo", "sub/pipe", "named pipe", &|b| {
        let path = std::ffi::CString::new(b.join("sub/pipe").as_os_str().as_bytes()).unwrap();
        // SAFETY: `path` is a valid NUL-terminated C string.
        let rc = unsafe { libc::mkfifo(path.as_ptr(), 0o644) };
        assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
    });
}

#[test]
fn book_with_socket_is_refused() {
    // The listener must outlive the upload; it lives until the end of this test.
    let listener = std::cell::RefCell::new(None);
    hostile_book("socket", "sub/sock", "socket", &|b| {
        *listener.borrow_mut() = Some(std::os::unix::net::UnixListener::bind(b.join("sub/sock")).unwrap());
    });
    assert!(listener.borrow().is_some());
}

#[test]
fn book_with_a_device_node_is_refused() {
    // A character device like /dev/null (needs root, as CI runs; skipped otherwise).
    let probe = tempfile::tempdir().unwrap();
    let make = |at: &Path| {
        let path = std::ffi::CString::new(at.as_os_str().as_bytes()).unwrap();
        // SAFETY: `path` is a valid NUL-terminated C string.
        unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) }
    };
    if make(&probe.path().join("dev")) != 0 {
        librarian_e2e::skip("cannot create device nodes here (not root?)");
        return;
    }
    hostile_book("device", "sub/null", "devices cannot be stored", &|b| {
        assert_eq!(make(&b.join("sub/null")), 0, "mknod: {}", std::io::Error::last_os_error());
    });
}

#[test]
fn book_entry_with_newline_is_refused() {
    hostile_book("newline", "sub/bad\nname", "control character U+000A", &|b| {
        write_text(&b.join("sub/bad\nname"), "x");
    });
}

#[test]
fn book_entry_with_backslash_is_refused() {
    hostile_book("backslash", "bad\\name", "backslash", &|b| {
        write_text(&b.join("bad\\name"), "x");
    });
}

#[test]
fn book_directory_with_control_character_is_refused() {
    hostile_book("directory with DEL", "dir\u{7f}x", "control character U+007F", &|b| {
        write_text(&b.join("dir\u{7f}x/inner.txt"), "x");
    });
}

#[test]
fn book_entry_with_non_utf8_name_is_refused() {
    hostile_book("non-UTF-8", "sub/bad\u{fffd}name", "not valid UTF-8", &|b| {
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
        write_text(&b.join("sub").join(name), "x");
    });
}

#[test]
fn segment_longer_than_the_filesystem_allows_is_refused_up_front() {
    // Within the 1024-byte limit, but one segment is longer than a path component may
    // be (NAME_MAX = 255): refused by the naming rules before anything is written.
    let site = Site::new();
    let src = site.src("payload.txt");
    write_text(&src, "payload");
    let name = format!("x/y/{}", "d".repeat(256));
    let out = site.upload(&src, &name, &[]);
    let msg = out.expect_error(2, "invalid_name");
    assert!(msg.contains("256 bytes"), "{out}");
    assert!(site.files().is_empty());
    assert!(list_dir(&site.staging()).is_empty(), "staging: {:?}", list_dir(&site.staging()));
    assert!(list_dir(&site.data()).is_empty(), "data: {:?}", list_dir(&site.data()));
    let up = site.upload(&src, "x", &[]);
    up.ok();
    assert_eq!(up.json()["status"], "ingested");
    site.assert_consistent();
}
