//! The error table of `docs/architecture.md` ("Errors") is `ERROR_CODES`, row for
//! row: a code added, renamed or reclassified in the core fails here until the
//! documentation says the same.

#![allow(clippy::panic)]

use librarian_core::{ERROR_CODES, ErrorCode};

const HEADER: &str = "| code | Python | CLI exit | meaning |";

fn doc_rows() -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().skip_while(|l| l.trim() != HEADER);
    assert_eq!(lines.next().map(str::trim), Some(HEADER), "{}: no error table", path.display());
    assert_eq!(lines.next().map(str::trim), Some("|---|---|---|---|"), "{}: malformed table", path.display());
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim().trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

fn expected(row: &ErrorCode) -> Vec<String> {
    vec![row.code.to_owned(), row.python_class.to_owned(), row.exit_code().to_string(), row.meaning.to_owned()]
}

#[test]
fn the_documented_error_table_is_the_core_table() {
    let doc = doc_rows();
    let want: Vec<Vec<String>> = ERROR_CODES.iter().map(expected).collect();
    for (i, (d, w)) in doc.iter().zip(&want).enumerate() {
        assert_eq!(d, w, "row {} of the table in docs/architecture.md", i + 1);
    }
    assert_eq!(doc.len(), want.len(), "docs/architecture.md lists {} codes, the core has {}", doc.len(), want.len());
}

#[test]
fn usage_is_exit_2_and_nothing_else_is() {
    for row in ERROR_CODES {
        assert_eq!(row.exit_code(), if row.usage { 2 } else { 1 }, "{row:?}");
    }
    assert_eq!(ErrorCode::find("corrupt").map(|r| r.usage), Some(false));
    assert_eq!(ErrorCode::find("internal").map(|r| r.usage), Some(false));
    assert_eq!(ErrorCode::find("invalid_argument").map(|r| r.usage), Some(true));
    assert_eq!(ErrorCode::find("no_such_code"), None);
}
