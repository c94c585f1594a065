//! The fake driven over HTTP with `ureq`: the real binary, real temporary collection
//! directories. One test binary, one module per topic.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod faults;
mod paths;
mod scenarios;
mod state;
mod submit;
