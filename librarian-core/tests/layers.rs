//! The core's modules import only downward (issue 10): this test reads `src/` and
//! fails naming every `crate::` reference that points at a module of the same rank or
//! above. The order below is the layer graph of `docs/architecture.md`, bottom first;
//! a module may use any module listed before it, never one after it (so there is no
//! import cycle). Test modules (`#[cfg(test)] mod tests`) may use the facade and are
//! not checked. Names the crate root re-exports (`crate::Error`) count as their home
//! module.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom first. Keep in step with `docs/architecture.md`.
const LAYERS: &[(&str, &[&str])] = &[
    ("values", &["name_rules", "error", "progress", "name", "text", "checksum", "model"]),
    ("configuration", &["config"]),
    ("catalog", &["catalog"]),
    ("files, stores, processes, network", &["fault", "process", "tls", "store", "tree", "peer", "globus"]),
    ("site context", &["site"]),
    (
        "flows",
        &[
            "access",
            "queries",
            "ingest",
            "stores",
            "verify",
            "scrub",
            "remote_verify",
            "deletion",
            "retrieve",
            "repair",
            "outbox",
            "transfers",
            "original_v2",
            "sneakernet",
            "rebuild",
            "import_original",
            "metrics",
            "alerts",
            "tasks",
        ],
    ),
    ("facade", &["librarian"]),
    ("server", &["shim"]),
];

fn rank() -> BTreeMap<&'static str, usize> {
    LAYERS.iter().flat_map(|(_, mods)| mods.iter()).copied().enumerate().map(|(i, m)| (m, i)).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without line comments and without the trailing test module.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The first path segment of every `crate::` reference, including each item of a
/// `crate::{a, b::c}` group.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i + "crate::".len();
        at = start;
        if bytes.get(start) == Some(&b'{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for &b in &bytes[start..] {
                match b {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if b == b',' && depth == 1 {
                    items.push(std::mem::take(&mut item));
                } else if depth == 1 && b != b'{' || depth > 1 {
                    item.push(b as char);
                }
            }
            items.push(item);
            for it in items {
                let name: String = it.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = code[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
    }
    out
}

/// What the crate root re-exports: item name → home module.
fn reexports(lib_rs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let code = code_of(lib_rs);
    for stmt in code.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else { continue };
        let Some((module, items)) = rest.split_once("::") else { continue };
        for item in items.split(|c: char| c == ',' || c == '{' || c == '}' || c.is_whitespace()) {
            if !item.is_empty() {
                out.insert(item.to_owned(), module.to_owned());
            }
        }
    }
    out
}

#[test]
fn modules_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = rank();
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let reexported = reexports(&lib_rs);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(&src).expect("below src");
        let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
        if module == "lib" {
            continue;
        }
        seen.insert(module.clone());
        let Some(&own) = rank.get(module.as_str()) else {
            problems.push(format!("{}: module {module} is in no layer (add it to LAYERS and the docs)", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("read");
        for name in references(&code_of(&text)) {
            let target = reexported.get(&name).cloned().unwrap_or(name.clone());
            if target == module || target == "test_skip" {
                continue;
            }
            match rank.get(target.as_str()) {
                Some(&r) if r < own => {}
                Some(_) => {
                    problems.push(format!("{}: {module} uses crate::{name} ({target}), not below it", rel.display()))
                }
                None => problems.push(format!("{}: crate::{name} is not a module of any layer", rel.display())),
            }
        }
    }
    for module in rank.keys() {
        if !seen.contains(*module) {
            problems.push(format!("LAYERS names {module}, which is not a module of src/"));
        }
    }
    assert!(problems.is_empty(), "imports that point up or sideways:\n{}", problems.join("\n"));
    // Print the graph that passed (cargo nextest --no-capture shows it).
    for (layer, mods) in LAYERS {
        println!("{layer}: {}", mods.join(", "));
    }
}

#[test]
fn the_checker_sees_grouped_and_root_imports() {
    let refs = references("use crate::{a::B, c, d::{e, f}};\nlet x = crate::g::h();");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["a", "c", "d", "g"]);
    let map = reexports("pub use error::{Error, Result};\npub use x::Y;");
    assert_eq!(map.get("Error").map(String::as_str), Some("error"));
    assert_eq!(map.get("Y").map(String::as_str), Some("x"));
    assert_eq!(code_of("a // crate::b\n#[cfg(test)]\nmod tests { crate::c }"), "a ");
}
