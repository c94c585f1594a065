//! Quick start: create a site, ingest a file and a book, look them up, verify them.
//! Run with `cargo run -p librarian-core --example quickstart`.

use std::error::Error;

use librarian_core::{FileName, Librarian, NoProgress, SearchQuery, UploadOptions, UploadStatus};

fn main() -> Result<(), Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    let lib = Librarian::init(&tmp.path().join("site"), "site-a")?;

    // Some data: one file and one book (a directory).
    let raw = tmp.path().join("raw");
    std::fs::create_dir_all(raw.join("book_0001/detector_1"))?;
    std::fs::write(raw.join("obs_0001.dat"), vec![42u8; 1 << 20])?;
    std::fs::write(raw.join("book_0001/detector_1/tod.dat"), b"samples")?;

    let file = FileName::new("2026/11/obs_0001.dat")?;
    let book = FileName::new("2026/11/book_0001")?;
    let up = lib.upload(&raw.join("obs_0001.dat"), &file, &UploadOptions::default(), &NoProgress)?;
    println!("{} {} bytes {}", up.file.name, up.file.size, up.file.checksum);
    lib.upload(&raw.join("book_0001"), &book, &UploadOptions::default(), &NoProgress)?;

    // Uploading the same bytes again is an idempotent success.
    let again = lib.upload(&raw.join("obs_0001.dat"), &file, &UploadOptions::default(), &NoProgress)?;
    assert_eq!(again.status, UploadStatus::AlreadyPresent);

    let found = lib.search(&SearchQuery { name_glob: Some("2026/11/*".into()), ..Default::default() })?;
    assert_eq!(found.len(), 2);
    for f in &found {
        println!("{}  {}  {}", f.kind.as_str(), f.checksum, f.name);
    }

    // Re-read everything from disk and re-hash it.
    let report = lib.verify(&[], None, &NoProgress)?.into_result()?;
    println!("verified {} instance(s)", report.checked.len());
    Ok(())
}
