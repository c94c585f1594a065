//! `librarian demo`: a site end to end in a temporary directory.

use std::process::ExitCode;

use librarian_core::{Error, FileName, Librarian, NoProgress, UploadOptions};

use crate::output::Out;

fn io(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::InvalidArgument(format!("demo: {what}: {e}"))
}

pub fn run(out: &mut Out, keep: bool) -> Result<ExitCode, Error> {
    let tmp = tempfile::Builder::new().prefix("librarian-demo-").tempdir().map_err(io("temporary directory"))?;
    let root = tmp.path().to_owned();
    let say = |s: String| {
        if !out.json() {
            println!("{s}");
        }
    };
    say(format!("demo directory: {}", root.display()));
    let lib = Librarian::init(&root.join("site-a"), "site-a")?;
    say(format!("1. created site site-a with store main ({})", lib.config_path().display()));

    let raw = root.join("incoming");
    std::fs::create_dir_all(raw.join("book_0001/detector_1")).map_err(io("sample data"))?;
    let obs: Vec<u8> = (0u32..(4 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(raw.join("obs_0001.dat"), &obs).map_err(io("sample data"))?;
    for i in 0..5 {
        std::fs::write(raw.join(format!("book_0001/detector_1/tod_{i}.dat")), format!("samples {i}\n").repeat(1000))
            .map_err(io("sample data"))?;
    }
    std::fs::write(raw.join("book_0001/M_index.yaml"), "book_id: book_0001\n").map_err(io("sample data"))?;
    std::fs::create_dir_all(raw.join("book_0001/empty_dir")).map_err(io("sample data"))?;

    let opts = UploadOptions::default();
    let file_name = FileName::new("2026/11/obs_0001.dat")?;
    let book_name = FileName::new("2026/11/book_0001")?;
    let f = lib.upload(&raw.join("obs_0001.dat"), &file_name, &opts, &NoProgress)?;
    say(format!("2. uploaded a file: {} ({} bytes, {})", f.file.name, f.file.size, f.file.checksum));
    let b = lib.upload(&raw.join("book_0001"), &book_name, &opts, &NoProgress)?;
    say(format!("3. uploaded a book: {} ({} bytes in 7 entries, {})", b.file.name, b.file.size, b.file.checksum));
    let again = lib.upload(&raw.join("obs_0001.dat"), &file_name, &opts, &NoProgress)?;
    say(format!("4. uploaded the file again: {:?} (idempotent)", again.status));
    let report = lib.verify(&[], None, &NoProgress)?;
    say(format!(
        "5. verified {} instance(s) by re-reading them from disk: {}",
        report.checked.len(),
        if report.ok { "all intact" } else { "PROBLEMS FOUND" }
    ));
    let status = lib.status()?;
    say(format!("6. site {} holds {} files, {} bytes", status.site, status.files, status.bytes));
    if out.json() {
        out.emit_value(&serde_json::json!({
            "directory": root,
            "uploads": [f, b, again],
            "verify": report,
            "status": status,
        }))?;
    }
    if keep {
        let kept = tmp.keep();
        say(format!("kept {}", kept.display()));
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
