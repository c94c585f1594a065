//! The hostile-input suite (issue 9): every byte from a peer, a drive or a client is
//! treated as an attack. Each module keeps the cases of one boundary; decoy files
//! outside the sites must keep their bytes, mode and mtime.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod catalog;
mod drive;
mod http;
mod lifecycle;
mod peers;
