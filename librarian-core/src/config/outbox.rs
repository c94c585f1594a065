//! The `[outbox]` table: how calls to peers are retried.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::format_interval;

/// The `[outbox]` table of `librarian.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Wait after the first failed attempt (default `"10s"`); doubled after each
    /// further failure.
    pub retry_initial: Option<String>,
    /// Longest wait between attempts (default `"1h"`).
    pub retry_max: Option<String>,
    /// Most calls sent to one peer per run (default 1000).
    pub batch: Option<usize>,
}

/// Wait after the first failed attempt when `retry_initial` is unset.
const DEFAULT_RETRY_INITIAL: SignedDuration = SignedDuration::from_secs(10);
/// Longest wait when `retry_max` is unset.
const DEFAULT_RETRY_MAX: SignedDuration = SignedDuration::from_hours(1);
/// Calls sent to one peer per run when `batch` is unset.
pub const DEFAULT_OUTBOX_BATCH: usize = 1000;

impl OutboxConfig {
    /// These settings with the defaults written out (`librarian config show --defaults`).
    pub fn filled(&self) -> OutboxConfig {
        OutboxConfig {
            retry_initial: Some(self.retry_initial.clone().unwrap_or_else(|| format_interval(DEFAULT_RETRY_INITIAL))),
            retry_max: Some(self.retry_max.clone().unwrap_or_else(|| format_interval(DEFAULT_RETRY_MAX))),
            batch: Some(self.batch.unwrap_or(DEFAULT_OUTBOX_BATCH)),
        }
    }

    /// True when nothing is set (then `init` writes no table).
    pub fn is_default(&self) -> bool {
        *self == OutboxConfig::default()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.retry_initial.as_deref().map(crate::model::parse_interval).transpose()?;
        self.retry_max.as_deref().map(crate::model::parse_interval).transpose()?;
        if self.batch == Some(0) {
            return Err(Error::invalid("outbox.batch", "outbox.batch must be at least 1"));
        }
        Ok(())
    }

    fn initial(&self) -> SignedDuration {
        self.retry_initial
            .as_deref()
            .and_then(|t| crate::model::parse_interval(t).ok())
            .unwrap_or(DEFAULT_RETRY_INITIAL)
    }

    fn max(&self) -> SignedDuration {
        self.retry_max.as_deref().and_then(|t| crate::model::parse_interval(t).ok()).unwrap_or(DEFAULT_RETRY_MAX)
    }

    /// The wait after failed attempt number `attempts` (0 for the first).
    pub fn backoff(&self, attempts: u64) -> SignedDuration {
        let factor = 1_i32.checked_shl(u32::try_from(attempts).unwrap_or(u32::MAX).min(30)).unwrap_or(i32::MAX);
        self.initial().checked_mul(factor).unwrap_or(self.max()).min(self.max())
    }
}
