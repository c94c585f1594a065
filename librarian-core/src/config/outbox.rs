//! The `[outbox]` table: how calls to peers are retried.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

impl OutboxConfig {
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
            .unwrap_or(SignedDuration::from_secs(10))
    }

    fn max(&self) -> SignedDuration {
        self.retry_max
            .as_deref()
            .and_then(|t| crate::model::parse_interval(t).ok())
            .unwrap_or(SignedDuration::from_hours(1))
    }

    /// The wait after failed attempt number `attempts` (0 for the first).
    pub fn backoff(&self, attempts: u64) -> SignedDuration {
        let factor = 1_i32.checked_shl(u32::try_from(attempts).unwrap_or(u32::MAX).min(30)).unwrap_or(i32::MAX);
        self.initial().checked_mul(factor).unwrap_or(self.max()).min(self.max())
    }
}
