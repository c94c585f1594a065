//! The `[tasks.NAME]` tables: each task's interval and whether it runs on schedule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{TaskKind, parse_interval};

/// One task's settings in `librarian.toml`: `[tasks.cleanup-staging]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Interval between runs, e.g. `"15m"`, `"1h30m"`, `"5 minutes"`, `"2d"` (see
    /// [`crate::parse_interval`]).
    pub every: Option<String>,
    /// Run on schedule at all (default true). `tasks run --only` ignores it.
    pub enabled: Option<bool>,
}

/// Check the `[tasks]` table of a configuration.
pub(crate) fn validate_config(tasks: &BTreeMap<String, TaskConfig>) -> Result<()> {
    for (name, cfg) in tasks {
        name.parse::<TaskKind>()?;
        if let Some(every) = &cfg.every {
            parse_interval(every)?;
        }
    }
    Ok(())
}
