//! Progress reporting for long operations. The core reports bytes; front-ends draw.

/// Receives progress of a long operation (upload, verify). Implementations must be
/// cheap: `advance` is called once per I/O buffer.
pub trait Progress: Sync {
    /// The operation will process about `bytes` bytes in all.
    fn start(&self, _bytes: u64) {}
    /// `bytes` more bytes were processed.
    fn advance(&self, _bytes: u64) {}
    /// The operation finished (successfully or not).
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
