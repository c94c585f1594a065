//! Checksums: algorithms, the text form, hashing files while copying them, the
//! path-aware directory digest and the older Librarian's legacy directory digest
//! (design §3; exact algorithms in `docs/checksums.md`).

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::mpsc;

use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::progress::Progress;

/// A digest algorithm. All four can be computed; [`Algorithm::Xxh3`] and
/// [`Algorithm::Md5`] are the older (Python) Librarian's, kept so its drives and
/// catalogs can be verified and imported with their original checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// BLAKE3 (256-bit), the default.
    #[default]
    Blake3,
    /// SHA-256.
    Sha256,
    /// XXH3 128-bit, seed 0 (legacy: the older Librarian's default).
    Xxh3,
    /// MD5 (legacy: the older Librarian's first algorithm).
    Md5,
}

impl Algorithm {
    all_variants!(
        /// Every algorithm, the default first.
        Blake3, Sha256, Xxh3, Md5
    );

    /// The lowercase name used in the text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
            Algorithm::Xxh3 => "xxh3",
            Algorithm::Md5 => "md5",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Blake3 | Algorithm::Sha256 => 64,
            Algorithm::Xxh3 | Algorithm::Md5 => 32,
        }
    }

    /// Whether this is one of the older Librarian's algorithms, whose directory
    /// digest is the legacy one (see [`directory_digest`]).
    pub fn is_legacy(self) -> bool {
        matches!(self, Algorithm::Xxh3 | Algorithm::Md5)
    }

    /// A fresh hashing state. Every algorithm is computable today; the `Result` stays
    /// so a future parse-only algorithm can be refused here, before any work.
    pub fn hasher(self) -> Result<Hasher> {
        Ok(match self {
            Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            Algorithm::Sha256 => Hasher::Sha256(Box::default()),
            Algorithm::Xxh3 => Hasher::Xxh3(Box::new(Xxh3State(xxhash_rust::xxh3::Xxh3Default::new()))),
            Algorithm::Md5 => Hasher::Md5(Box::default()),
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "blake3" => Ok(Algorithm::Blake3),
            "sha256" => Ok(Algorithm::Sha256),
            "xxh3" => Ok(Algorithm::Xxh3),
            "md5" => Ok(Algorithm::Md5),
            other => Err(Error::invalid(
                "algorithm",
                format!("unknown checksum algorithm {other:?}; algorithms: blake3, sha256, xxh3, md5"),
            )),
        }
    }
}

/// A digest with its algorithm. Text form (what `Display` prints) `<algorithm>:<hex>`
/// for every algorithm, e.g. `blake3:<64 hex>` or `xxh3:<32 hex>`; the older
/// Librarian's forms `xxh3:::<hex>`, `md5:::<hex>` and bare 32-hex (md5) are accepted
/// on input too, so every accepted form parses back to the same checksum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: Algorithm,
    hex: String,
}

impl Checksum {
    /// Build from an algorithm and a lowercase or uppercase hex digest.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Self> {
        let text = format!("{}:{hex}", algorithm.as_str());
        if hex.len() != algorithm.hex_len() {
            return Err(Error::InvalidChecksum {
                text,
                reason: format!("{algorithm} digests have {} hex digits, got {}", algorithm.hex_len(), hex.len()),
            });
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidChecksum { text, reason: "digest is not hexadecimal".into() });
        }
        Ok(Checksum { algorithm, hex: hex.to_ascii_lowercase() })
    }

    /// Parse any accepted text form.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidChecksum { text: text.to_owned(), reason: reason.to_owned() };
        let (alg, hex) = if let Some((alg, hex)) = text.split_once(":::") {
            (alg, hex)
        } else if let Some((alg, hex)) = text.split_once(':') {
            (alg, hex)
        } else if text.len() == 32 {
            ("md5", text)
        } else {
            return Err(bad("expected <algorithm>:<hex>, e.g. blake3:<64 hex digits>"));
        };
        let algorithm = match alg {
            "blake3" => Algorithm::Blake3,
            "sha256" => Algorithm::Sha256,
            "xxh3" => Algorithm::Xxh3,
            "md5" => Algorithm::Md5,
            _ => return Err(bad(&format!("unsupported algorithm {alg:?}"))),
        };
        Self::from_hex(algorithm, hex)
            .map_err(|_| bad(&format!("{algorithm} digests are {} hex digits", algorithm.hex_len())))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex digest.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Compare with another checksum of the same algorithm; comparing different
    /// algorithms is an error, never a silent mismatch.
    pub fn matches(&self, other: &Checksum) -> Result<bool> {
        if self.algorithm != other.algorithm {
            return Err(Error::AlgorithmMismatch {
                left: self.algorithm.to_string(),
                right: other.algorithm.to_string(),
            });
        }
        Ok(self.hex == other.hex)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Checksum {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// An incremental hashing state for a computable algorithm.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// BLAKE3.
    Blake3(Box<blake3::Hasher>),
    /// SHA-256.
    Sha256(Box<sha2::Sha256>),
    /// XXH3 128-bit, seed 0.
    Xxh3(Box<Xxh3State>),
    /// MD5.
    Md5(Box<md5::Md5>),
}

/// XXH3-128 streaming state (seed 0, default secret), as Python's `xxhash.xxh3_128()`.
#[derive(Clone)]
pub struct Xxh3State(xxhash_rust::xxh3::Xxh3Default);

impl fmt::Debug for Xxh3State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Xxh3State")
    }
}

impl Hasher {
    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sha256(h) => h.update(data),
            Hasher::Xxh3(h) => h.0.update(data),
            Hasher::Md5(h) => h.update(data),
        }
    }

    /// Finish and return the checksum.
    pub fn finish(self) -> Checksum {
        match self {
            Hasher::Blake3(h) => Checksum { algorithm: Algorithm::Blake3, hex: h.finalize().to_hex().to_string() },
            Hasher::Sha256(h) => Checksum { algorithm: Algorithm::Sha256, hex: hex::encode(h.finalize()) },
            // The canonical (big-endian) form, as `xxh3_128().hexdigest()` prints it:
            // xxhash-rust returns the high 64 bits in the high half of the u128.
            Hasher::Xxh3(h) => Checksum { algorithm: Algorithm::Xxh3, hex: format!("{:032x}", h.0.digest128()) },
            Hasher::Md5(h) => Checksum { algorithm: Algorithm::Md5, hex: hex::encode(h.finalize()) },
        }
    }
}

/// Checksum of a byte slice.
pub fn hash_bytes(algorithm: Algorithm, data: &[u8]) -> Result<Checksum> {
    let mut h = algorithm.hasher()?;
    h.update(data);
    Ok(h.finish())
}

/// Size of each I/O buffer of the copy/hash pipeline.
pub(crate) const CHUNK: usize = 1 << 20;
/// Buffers in flight between the reader and the hasher thread.
const BUFFERS: usize = 4;

/// Which side of a copy failed, so the caller can name the right path.
#[derive(Debug)]
pub(crate) enum PipeError {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Read `src` to its end once, feeding every byte to the hasher and, when given, to
/// `dst`. For inputs longer than one buffer, hashing runs on a second thread so it
/// overlaps the I/O. `scratch` is a reusable buffer of [`CHUNK`] bytes. Returns the
/// checksum and the number of bytes.
pub(crate) fn pipe(
    algorithm: Algorithm,
    src: &mut dyn Read,
    mut dst: Option<&mut dyn Write>,
    progress: &dyn Progress,
    scratch: &mut Vec<u8>,
) -> Result<std::result::Result<(Checksum, u64), PipeError>> {
    let mut hasher = algorithm.hasher()?;
    if scratch.len() != CHUNK {
        scratch.resize(CHUNK, 0);
    }
    let n = match read_full(src, scratch) {
        Ok(n) => n,
        Err(e) => return Ok(Err(PipeError::Read(e))),
    };
    if let Some(d) = dst.as_deref_mut()
        && let Err(e) = d.write_all(&scratch[..n])
    {
        return Ok(Err(PipeError::Write(e)));
    }
    progress.advance(n as u64);
    if n < CHUNK {
        // Small input: no thread.
        hasher.update(&scratch[..n]);
        return Ok(Ok((hasher.finish(), n as u64)));
    }
    let first = std::mem::take(scratch);
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 1..BUFFERS {
        let _ = free_tx.send(vec![0u8; CHUNK]);
    }
    let (result, joined) = std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let mut total = 0u64;
            while let Ok((buf, len)) = full_rx.recv() {
                hasher.update(&buf[..len]);
                total += len as u64;
                if free_tx.send(buf).is_err() {
                    break;
                }
            }
            (hasher, total)
        });
        let mut result = Ok(());
        let mut pending = Some((first, n));
        loop {
            if let Some(item) = pending.take()
                && full_tx.send(item).is_err()
            {
                break;
            }
            let Ok(mut buf) = free_rx.recv() else { break };
            let len = match read_full(src, &mut buf) {
                Ok(len) => len,
                Err(e) => {
                    result = Err(PipeError::Read(e));
                    break;
                }
            };
            if len == 0 {
                *scratch = buf;
                break;
            }
            if let Some(d) = dst.as_deref_mut()
                && let Err(e) = d.write_all(&buf[..len])
            {
                result = Err(PipeError::Write(e));
                break;
            }
            progress.advance(len as u64);
            pending = Some((buf, len));
        }
        drop(full_tx);
        (result, worker.join())
    });
    if scratch.len() != CHUNK {
        *scratch = vec![0u8; CHUNK];
    }
    match (result, joined) {
        (Err(e), _) => Ok(Err(e)),
        (Ok(()), Ok((hasher, total))) => Ok(Ok((hasher.finish(), total))),
        (Ok(()), Err(_)) => Err(Error::internal("the hashing thread panicked")),
    }
}

/// Fill `buf` as far as the reader allows; returns bytes read (short only at EOF).
fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Kind of an entry inside a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory (below the book's root).
    Directory,
}

impl EntryKind {
    all_variants!(
        /// Every kind.
        File, Directory
    );

    /// `"file"` or `"directory"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Directory => "directory",
        }
    }
}

/// One entry of a book: relative path, kind, size and (for files) its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the book's root, `/`-separated, no trailing slash.
    pub path: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Bytes (0 for directories).
    pub size: u64,
    /// Hex digest of the contents; `None` for directories.
    pub digest: Option<String>,
}

/// The digest line written for a directory entry: 64 zeros (see `docs/checksums.md`).
pub const DIRECTORY_MARKER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Entry {
    /// The path as it appears in the listing: directories end with `/`.
    pub fn listing_path(&self) -> String {
        match self.kind {
            EntryKind::File => self.path.clone(),
            EntryKind::Directory => format!("{}/", self.path),
        }
    }
}

/// The canonical listing of a book: one line `<hex>  <path>\n` per entry (directories
/// with [`DIRECTORY_MARKER`] and a trailing `/`), sorted by the bytes of the path.
pub fn listing(entries: &[Entry]) -> String {
    let mut lines: Vec<(String, &str)> =
        entries.iter().map(|e| (e.listing_path(), e.digest.as_deref().unwrap_or(DIRECTORY_MARKER))).collect();
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::with_capacity(lines.len() * 96);
    for (path, hex) in lines {
        out.push_str(hex);
        out.push_str("  ");
        out.push_str(&path);
        out.push('\n');
    }
    out
}

/// The digest of a book. For BLAKE3 and SHA-256, the path-aware digest: the algorithm
/// applied to [`listing`]. For the legacy algorithms (XXH3, MD5), the older Librarian's
/// `dirhash`: see [`legacy_directory_digest`].
pub fn directory_digest(algorithm: Algorithm, entries: &[Entry]) -> Result<Checksum> {
    if algorithm.is_legacy() {
        return legacy_directory_digest(algorithm, entries);
    }
    hash_bytes(algorithm, listing(entries).as_bytes())
}

/// The older (Python) Librarian's directory digest (`dirhash` of its
/// `hera_librarian/utils.py`): the lowercase hex digests of all file entries, sorted
/// as strings, each fed as ASCII to one new hasher of the same algorithm. Paths and
/// directories take no part, so an empty book (or one of empty directories only)
/// has the digest of empty input. Every file entry must carry its digest.
pub fn legacy_directory_digest(algorithm: Algorithm, entries: &[Entry]) -> Result<Checksum> {
    let mut digests = Vec::with_capacity(entries.len());
    for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
        let Some(d) = e.digest.as_deref() else {
            return Err(Error::invalid("entries", format!("book entry {:?} has no digest", e.path)));
        };
        digests.push(d.to_ascii_lowercase());
    }
    digests.sort_unstable();
    let mut h = algorithm.hasher()?;
    for d in &digests {
        h.update(d.as_bytes());
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    fn file(path: &str, content: &[u8]) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            size: content.len() as u64,
            digest: Some(blake3::hash(content).to_hex().to_string()),
        }
    }

    #[test]
    fn known_answers_for_files() {
        // Published BLAKE3 and SHA-256 digests of the empty input and of "abc".
        let empty = hash_bytes(Algorithm::Blake3, b"").map(|c| c.to_string()).ok();
        assert_eq!(empty.as_deref(), Some("blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"));
        let abc = hash_bytes(Algorithm::Sha256, b"abc").map(|c| c.to_string()).ok();
        assert_eq!(abc.as_deref(), Some("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        let abc3 = hash_bytes(Algorithm::Blake3, b"abc").map(|c| c.to_string()).ok();
        assert_eq!(abc3.as_deref(), Some("blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"));
    }

    #[test]
    fn known_answer_for_a_directory() {
        let entries = vec![
            file("b.txt", b"abc"),
            file("a/x", b""),
            Entry { path: "a".into(), kind: EntryKind::Directory, size: 0, digest: None },
        ];
        let text = listing(&entries);
        assert_eq!(
            text,
            format!(
                "{DIRECTORY_MARKER}  a/\naf1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  a/x\n6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  b.txt\n"
            )
        );
        let d = directory_digest(Algorithm::Blake3, &entries).ok();
        assert_eq!(d, hash_bytes(Algorithm::Blake3, text.as_bytes()).ok());
    }

    #[test]
    fn renaming_or_adding_an_empty_directory_changes_the_digest() {
        let base = vec![file("a", b"1"), file("b", b"2")];
        let renamed = vec![file("a", b"1"), file("c", b"2")];
        let swapped = vec![file("a", b"2"), file("b", b"1")];
        let mut with_dir = base.clone();
        with_dir.push(Entry { path: "empty".into(), kind: EntryKind::Directory, size: 0, digest: None });
        let d = |e: &[Entry]| directory_digest(Algorithm::Blake3, e).ok();
        assert_ne!(d(&base), d(&renamed));
        assert_ne!(d(&base), d(&swapped));
        assert_ne!(d(&base), d(&with_dir));
        // Order of discovery does not matter.
        let reversed: Vec<Entry> = base.iter().rev().cloned().collect();
        assert_eq!(d(&base), d(&reversed));
    }

    #[test]
    fn text_forms() {
        let b = "blake3:AF1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        let c = Checksum::parse(b).ok();
        assert_eq!(c.as_ref().map(|c| c.hex().starts_with("af1349")), Some(true));
        let x = Checksum::parse("xxh3:::0123456789abcdef0123456789abcdef").ok();
        assert_eq!(x.map(|c| c.algorithm()), Some(Algorithm::Xxh3));
        let m = Checksum::parse("md5:::d41d8cd98f00b204e9800998ecf8427e").ok();
        assert_eq!(m.map(|c| c.algorithm()), Some(Algorithm::Md5));
        let bare = Checksum::parse("d41d8cd98f00b204e9800998ecf8427e").ok();
        assert_eq!(bare.map(|c| c.to_string()), Some("md5:d41d8cd98f00b204e9800998ecf8427e".to_string()));
        for bad in ["", "blake3:", "blake3:zz", "crc32:00000000", "blake3:abcd", "nonsense"] {
            assert!(matches!(Checksum::parse(bad), Err(Error::InvalidChecksum { .. })), "{bad}");
        }
    }

    #[test]
    fn different_algorithms_do_not_compare() {
        let a = hash_bytes(Algorithm::Blake3, b"x");
        let b = hash_bytes(Algorithm::Sha256, b"x");
        if let (Ok(a), Ok(b)) = (a, b) {
            assert!(matches!(a.matches(&b), Err(Error::AlgorithmMismatch { .. })));
            assert!(matches!(a.matches(&a), Ok(true)));
        } else {
            panic!("hashing failed");
        }
    }

    fn text(algorithm: Algorithm, data: &[u8]) -> Option<String> {
        hash_bytes(algorithm, data).map(|c| c.to_string()).ok()
    }

    /// `(i * 31 % 251) as u8` for `i` in `0..len`.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn known_answers_for_legacy_files() {
        // XXH3-128: the published empty-input digest; the others cross-checked with
        // Python's `xxhash.xxh3_128(data).hexdigest()` (xxhash 4.1.0).
        let x = |data: &[u8]| text(Algorithm::Xxh3, data);
        assert_eq!(x(b"").as_deref(), Some("xxh3:99aa06d3014798d86001c324468d497f"));
        assert_eq!(x(b"a").as_deref(), Some("xxh3:a96faf705af16834e6c632b61e964e1f"));
        assert_eq!(x(b"abc").as_deref(), Some("xxh3:06b05ab6733a618578af5f94892f3950"));
        assert_eq!(x(&pattern(1000)).as_deref(), Some("xxh3:17a0f7b2ab909d68404e1417800eb486"));
        // MD5: RFC 1321 test suite, and Python's hashlib for the pattern.
        let m = |data: &[u8]| text(Algorithm::Md5, data);
        assert_eq!(m(b"").as_deref(), Some("md5:d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(m(b"a").as_deref(), Some("md5:0cc175b9c0f1b6a831c399e269772661"));
        assert_eq!(m(b"abc").as_deref(), Some("md5:900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(m(&pattern(1000)).as_deref(), Some("md5:d676565de2976219305a8e7e6698b024"));
    }

    #[test]
    fn legacy_pipe_matches_python_on_a_multi_buffer_input() {
        // 5 MiB + 17 bytes: goes through the hashing thread. Expected values from
        // Python's xxhash.xxh3_128 and hashlib.md5 of the same pattern.
        let data = pattern(5 * CHUNK + 17);
        for (alg, want) in [
            (Algorithm::Xxh3, "9f2b20d144a7517b571262b2471b6ed9"),
            (Algorithm::Md5, "d9c6ab76b9294f51f98fc99f101f76af"),
        ] {
            let got = pipe(alg, &mut &data[..], None, &NoProgress, &mut Vec::new());
            let Ok(Ok((sum, n))) = got else { panic!("pipe failed for {alg}") };
            assert_eq!((sum.algorithm(), sum.hex(), n), (alg, want, data.len() as u64));
        }
    }

    /// The legacy dirhash computed straight from the `md-5` crate, independently of
    /// the code under test: md5 of the concatenated, sorted md5 hex digests.
    fn md5_dirhash_by_hand(contents: &[&[u8]]) -> String {
        let mut hexes: Vec<String> = contents.iter().map(|c| hex::encode(md5::Md5::digest(c))).collect();
        hexes.sort();
        hex::encode(md5::Md5::digest(hexes.concat().as_bytes()))
    }

    fn legacy_file(algorithm: Algorithm, path: &str, content: &[u8]) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            size: content.len() as u64,
            digest: hash_bytes(algorithm, content).map(|c| c.hex().to_owned()).ok(),
        }
    }

    fn dir(path: &str) -> Entry {
        Entry { path: path.into(), kind: EntryKind::Directory, size: 0, digest: None }
    }

    #[test]
    fn legacy_directory_digest_ignores_paths_and_directories() {
        let f = |p: &str, c: &[u8]| legacy_file(Algorithm::Md5, p, c);
        let entries = vec![
            dir("a"),
            f("a/one", b"same"),
            dir("a/b"),
            f("a/b/two", b"same"),
            f("top", b"abc"),
            dir("empty"),
            f("z", b""),
        ];
        let want = md5_dirhash_by_hand(&[b"same", b"same", b"abc", b""]);
        let got = directory_digest(Algorithm::Md5, &entries).ok();
        assert_eq!(got.as_ref().map(|c| c.to_string()), Some(format!("md5:{want}")));
        // Renames, moves and empty directories do not change it; contents do.
        let moved = vec![f("x", b"abc"), f("deep/er/y", b"same"), f("q", b""), f("r", b"same"), dir("new")];
        assert_eq!(directory_digest(Algorithm::Md5, &moved).ok(), got);
        let changed = vec![f("a/one", b"same"), f("a/b/two", b"other"), f("top", b"abc"), f("z", b"")];
        assert_ne!(directory_digest(Algorithm::Md5, &changed).ok(), got);
        // Uppercase per-entry digests are read as lowercase (Python's hexdigest).
        let mut upper = entries.clone();
        for e in &mut upper {
            e.digest = e.digest.as_deref().map(str::to_ascii_uppercase);
        }
        assert_eq!(directory_digest(Algorithm::Md5, &upper).ok(), got);
        // No files at all: the digest of empty input.
        for alg in [Algorithm::Md5, Algorithm::Xxh3] {
            assert_eq!(directory_digest(alg, &[dir("e"), dir("e/f")]).ok(), hash_bytes(alg, b"").ok());
            assert_eq!(directory_digest(alg, &[]).ok(), hash_bytes(alg, b"").ok());
        }
        // A file entry without a digest cannot be summed.
        let missing = vec![Entry { digest: None, ..f("a", b"") }];
        assert!(matches!(directory_digest(Algorithm::Md5, &missing), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn legacy_directory_digest_matches_python() {
        // The tree of `tests/legacy_checksums.rs`; expected values from the recipe in
        // docs/checksums.md run with Python's hashlib / xxhash over os.walk.
        let tree: [(&str, &[u8]); 5] = [
            ("top.txt", b"hello librarian\n"),
            ("a/one.dat", b"same content"),
            ("a/b/two.dat", b"same content"),
            ("a/b/c/deep.bin", b"deep\x00\x01\x02"),
            ("empty-file", b""),
        ];
        for (alg, want) in [
            (Algorithm::Md5, "bd01d07fd3eb9809a3d067bb3e37aa10"),
            (Algorithm::Xxh3, "ce30f949cf4e35a40bea12e1e2d45e5b"),
        ] {
            let mut entries: Vec<Entry> = tree.iter().map(|(p, c)| legacy_file(alg, p, c)).collect();
            entries.extend(["a", "a/b", "a/b/c", "empty", "z", "z/empty-too"].map(dir));
            let got = directory_digest(alg, &entries).ok();
            assert_eq!(got.as_ref().map(Checksum::hex), Some(want), "{alg}");
        }
        let contents: Vec<&[u8]> = tree.iter().map(|(_, c)| *c).collect();
        assert_eq!(md5_dirhash_by_hand(&contents), "bd01d07fd3eb9809a3d067bb3e37aa10");
    }

    #[test]
    fn blake3_and_sha256_books_keep_the_path_aware_digest() {
        for alg in [Algorithm::Blake3, Algorithm::Sha256] {
            let entries = vec![legacy_file(alg, "a", b"1"), dir("d")];
            assert_eq!(directory_digest(alg, &entries).ok(), hash_bytes(alg, listing(&entries).as_bytes()).ok());
        }
    }

    #[test]
    fn every_text_form_round_trips_through_display() {
        for (input, shown) in [
            ("xxh3:::99AA06D3014798D86001C324468D497F", "xxh3:99aa06d3014798d86001c324468d497f"),
            ("xxh3:99aa06d3014798d86001c324468d497f", "xxh3:99aa06d3014798d86001c324468d497f"),
            ("md5:::d41d8cd98f00b204e9800998ecf8427e", "md5:d41d8cd98f00b204e9800998ecf8427e"),
            ("d41d8cd98f00b204e9800998ecf8427e", "md5:d41d8cd98f00b204e9800998ecf8427e"),
        ] {
            let Ok(c) = Checksum::parse(input) else { panic!("{input} does not parse") };
            assert_eq!(c.to_string(), shown);
            assert_eq!(Checksum::parse(&c.to_string()).ok(), Some(c.clone()), "{input}");
        }
        // A computed legacy checksum equals the parsed legacy text of the same digest.
        let computed = hash_bytes(Algorithm::Md5, b"").ok();
        assert_eq!(computed, Checksum::parse("d41d8cd98f00b204e9800998ecf8427e").ok());
    }

    #[test]
    fn pipe_copies_and_hashes_in_one_read() {
        for len in [0usize, 10, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut out = Vec::new();
            let mut scratch = Vec::new();
            let got = pipe(Algorithm::Blake3, &mut &data[..], Some(&mut out), &NoProgress, &mut scratch);
            let (sum, n) = match got {
                Ok(Ok(v)) => v,
                _ => panic!("pipe failed"),
            };
            assert_eq!(n, len as u64);
            assert_eq!(out, data);
            assert_eq!(Some(sum), hash_bytes(Algorithm::Blake3, &data).ok());
        }
    }
}
