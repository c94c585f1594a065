//! Calling other Librarians: the HTTP client ([`client`]) and how it checks their
//! certificates ([`tls`]).

pub mod client;
mod original_v2;
pub mod tls;

pub(crate) use client::http_agent;
pub use tls::ClientTls;
