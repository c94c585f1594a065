//! The end-to-end tests: real `librarian` processes (built by `cargo build -p
//! librarian-cli`) against real sites in temporary directories. One test binary, one
//! module per topic (linking one binary instead of twenty); the shared helpers are the
//! library crate `librarian_e2e` (`tests/src/`).
//!
//! Run with `cargo nextest run -p librarian-e2e` (every test in its own process; one
//! module with `-E 'test(/^serve::/)'`), as `scripts/test-all` does. The tests do not
//! change process-global state (environment variables and working directories are set
//! on the `Command` of a child, never on the test process), so nothing depends on a
//! test having its process to itself.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod alerts;
mod bad_names;
mod checksum_recipe;
mod cli_contract;
mod clone;
mod concurrency;
mod corruption;
mod crash;
mod error_codes;
mod full_disk;
mod globus;
mod hostile;
mod legacy_recipe;
mod lifecycle;
mod local_clone;
mod original_drive;
mod original_import;
mod original_postgres;
mod original_v2;
mod outbox;
mod packaging;
mod peer_ping;
mod reconcile;
mod retrieve;
mod serve;
mod shared_catalog;
mod sneakernet;
mod tasks;
mod tls;
