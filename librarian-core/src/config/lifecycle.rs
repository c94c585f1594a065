//! The `[scrub]` table (re-reading every copy on a schedule) and the
//! `[deletion.STORE]` tables (rolling deletion of old copies once they are safe
//! elsewhere).

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{format_interval, parse_interval, parse_size};

/// Coverage target when `cover_every` is unset: every copy re-read at least monthly.
const DEFAULT_COVER_EVERY: SignedDuration = SignedDuration::from_hours(30 * 24);
/// How recent a peer's re-verification must be when `verified_within` is unset.
const DEFAULT_VERIFIED_WITHIN: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The `[scrub]` table of `librarian.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubConfig {
    /// Most bytes one run re-reads (`"100GB"`); the copy that crosses it is finished.
    /// Unset (and `budget_time` unset): each run reads what is overdue plus its share
    /// of the coverage window.
    pub budget_bytes: Option<String>,
    /// Longest run (`"30m"`): no copy is started after it.
    pub budget_time: Option<String>,
    /// Ceiling on the read rate, bytes per second (`"200MB"`), so a scrub leaves the
    /// disks to ingest and transfers.
    pub max_rate: Option<String>,
    /// Coverage target: every copy re-read at least this often (default `"30d"`).
    /// Copies older than this are read first; when a run cannot reach them all, a
    /// `scrub_behind` event says so.
    pub cover_every: Option<String>,
    /// Repair the damaged copies a run finds, from another copy here or at a peer
    /// (default false: they are marked and raise an event; `librarian repair NAME`).
    pub repair: Option<bool>,
}

impl ScrubConfig {
    /// True when nothing is set.
    pub fn is_default(&self) -> bool {
        *self == ScrubConfig::default()
    }

    /// These settings with the defaults written out (`config show --defaults`).
    pub fn filled(&self) -> ScrubConfig {
        ScrubConfig {
            cover_every: Some(self.cover_every.clone().unwrap_or_else(|| format_interval(DEFAULT_COVER_EVERY))),
            repair: Some(self.repair.unwrap_or(false)),
            ..self.clone()
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.budget_bytes.as_deref().map(parse_size).transpose()?;
        self.budget_time.as_deref().map(parse_interval).transpose()?;
        self.cover_every.as_deref().map(parse_interval).transpose()?;
        if self.max_rate.as_deref().map(parse_size).transpose()? == Some(0) {
            return Err(Error::invalid("scrub.max_rate", "scrub.max_rate must be more than 0 bytes per second"));
        }
        Ok(())
    }

    /// `budget_bytes`, parsed.
    pub fn budget_bytes(&self) -> Option<u64> {
        self.budget_bytes.as_deref().and_then(|t| parse_size(t).ok())
    }

    /// `budget_time`, parsed.
    pub fn budget_time(&self) -> Option<SignedDuration> {
        self.budget_time.as_deref().and_then(|t| parse_interval(t).ok())
    }

    /// `max_rate` in bytes per second.
    pub fn max_rate(&self) -> Option<u64> {
        self.max_rate.as_deref().and_then(|t| parse_size(t).ok())
    }

    /// The coverage target.
    pub fn cover_every(&self) -> SignedDuration {
        self.cover_every.as_deref().and_then(|t| parse_interval(t).ok()).unwrap_or(DEFAULT_COVER_EVERY)
    }
}

/// One `[deletion.STORE]` table: rolling deletion on that store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionConfig {
    /// Copies older than this (since they were made here) may go (`"30d"`; required).
    pub after: String,
    /// Remote copies, re-verified by their peers within `verified_within`, that must
    /// exist before a copy here goes (default 1). With 0, another good copy
    /// somewhere is still required: the last copy is never deleted.
    #[serde(default = "default_min_copies")]
    pub min_copies: u32,
    /// How recent those re-verifications must be (default `"7d"`); older ones are
    /// asked for again right before deleting.
    pub verified_within: Option<String>,
}

fn default_min_copies() -> u32 {
    1
}

impl DeletionConfig {
    /// The age after which copies may go.
    pub fn after(&self) -> SignedDuration {
        parse_interval(&self.after).unwrap_or(SignedDuration::MAX)
    }

    /// How recent a peer's re-verification must be.
    pub fn verified_within(&self) -> SignedDuration {
        self.verified_within.as_deref().and_then(|t| parse_interval(t).ok()).unwrap_or(DEFAULT_VERIFIED_WITHIN)
    }
}

/// Check the `[deletion]` tables: names that are store names, intervals that parse.
pub(crate) fn validate_deletion(tables: &BTreeMap<String, DeletionConfig>) -> Result<()> {
    for (store, d) in tables {
        crate::name::validate_store_name(store)?;
        parse_interval(&d.after)
            .map_err(|e| Error::invalid("deletion.after", format!("[deletion.{store}] after: {e}")))?;
        if let Some(v) = &d.verified_within {
            parse_interval(v).map_err(|e| {
                Error::invalid("deletion.verified_within", format!("[deletion.{store}] verified_within: {e}"))
            })?;
        }
    }
    Ok(())
}
