//! An original catalog in PostgreSQL (the original's production backend).

use super::{Cell, OriginalDb};
use crate::error::{Error, Result};

/// A read-only connection to the original's PostgreSQL database.
#[derive(Debug)]
pub(super) struct PgSource {}

impl PgSource {
    pub(super) fn open(url: &str) -> Result<Self> {
        Err(Error::invalid("source", format!("{}: reading PostgreSQL is not built yet", redact(url))))
    }
}

/// `url` without its password, to show.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &url[s + 3..at];
            match auth.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl OriginalDb for PgSource {
    fn tables(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn columns(&mut self, _table: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn query(&mut self, _sql: &str, _each: &mut dyn FnMut(&[Cell]) -> Result<()>) -> Result<()> {
        Ok(())
    }
}
