//! The scrub: re-read local copies from the disk, least recently verified first,
//! within a budget of bytes and time and under a read-rate ceiling, toward a coverage
//! target (every copy re-read at least every `[scrub] cover_every`). What it finds is
//! recorded as `verify` records it (`verify::Checker`): a damaged copy is marked
//! `corrupt` or `missing`, raises an event, and is no longer used; it is never
//! deleted here.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::catalog::{ScrubCursor, before};
use crate::error::Result;
use crate::model::{Category, CheckStatus, NewEvent, ScrubReport, ScrubStop, Severity, StoreCoverage};
use crate::progress::Progress;
use crate::site::Site;
use crate::verify::{Checker, check_catalog};

/// Copies listed per catalog query.
const PAGE: usize = 256;

/// Names of the running counters a scrub adds to (`/metrics`).
pub(crate) const SCRUB_BYTES: &str = "scrub_bytes";
/// Copies re-read, in all runs.
pub(crate) const SCRUB_INSTANCES: &str = "scrub_instances";
/// Damaged copies found, in all runs.
pub(crate) const SCRUB_PROBLEMS: &str = "scrub_problems";

/// What one run may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubOptions {
    /// Stop starting copies once this many bytes were read (the one that crosses it
    /// is finished). `None`: no byte limit.
    pub budget_bytes: Option<u64>,
    /// Stop starting copies after this long. `None`: no time limit.
    pub budget_time: Option<SignedDuration>,
    /// Read at most this many bytes per second. `None`: as fast as the disk goes.
    pub max_rate: Option<u64>,
    /// Only this store's copies.
    pub store: Option<String>,
    /// With neither budget set: read what is past the coverage target plus this
    /// run's share of the coverage window (the bytes on the stores times `pace` over
    /// `[scrub] cover_every`), for runs every `pace` (the `scrub` task). `None`: no limit.
    pub pace: Option<SignedDuration>,
}

/// Run one scrub.
pub(crate) fn scrub(site: &Site, opts: &ScrubOptions, progress: &dyn Progress) -> Result<ScrubReport> {
    if opts.max_rate == Some(0) {
        return Err(crate::error::Error::invalid(
            "max_rate",
            "the scrub's max_rate must be more than 0 bytes per second",
        ));
    }
    let started = Instant::now();
    let run_start = Timestamp::now();
    let cat = site.catalog();
    let store = opts.store.as_deref().map(|s| cat.store(s)).transpose()?;
    let catalog = check_catalog(site, false);
    let mut checker = Checker::new(site, catalog.ok, true)?;
    let deadline = opts.budget_time.map(|t| started + t.unsigned_abs());
    let before = coverage(site)?;
    let mine = |c: &&StoreCoverage| store.as_ref().is_none_or(|s| s.name == c.store);
    let total: u64 = before.iter().filter(mine).map(|c| c.bytes).sum();
    let budget = match (opts.budget_bytes, opts.budget_time, opts.pace) {
        (Some(b), _, _) => b,
        (None, None, Some(every)) => {
            let overdue: u64 = before.iter().filter(mine).map(|c| c.overdue_bytes).sum();
            let share = every.as_secs_f64() / site.config().scrub.cover_every().as_secs_f64().max(1.0);
            overdue.saturating_add((total as f64 * share).ceil() as u64).max(1)
        }
        (None, _, _) => u64::MAX,
    };
    let throttle = Throttle::new(progress, opts.max_rate);
    throttle.inner.start(budget.min(total));
    let (mut instances, mut bytes, mut problems) = (0u64, 0u64, Vec::new());
    let mut unreachable: Vec<String> = Vec::new();
    let mut cursor = ScrubCursor::Start;
    let stopped = 'run: loop {
        let page = cat.scrub_page(store.as_ref().map(|s| s.id), cursor, run_start, PAGE)?;
        if page.is_empty() {
            break ScrubStop::Done;
        }
        for (file, inst) in page {
            if bytes >= budget {
                break 'run ScrubStop::Bytes;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break 'run ScrubStop::Time;
            }
            cursor = match inst.verified_at {
                None => ScrubCursor::Unverified(inst.id.0),
                Some(at) => ScrubCursor::Verified(at, inst.id.0),
            };
            if let Some(why) = checker.offline(inst.store_id) {
                // Not read, not counted, not marked: the store is not there.
                if !unreachable.contains(&why) {
                    unreachable.push(why);
                }
                continue;
            }
            let check = checker.check(&file, &inst, &throttle)?;
            instances += 1;
            bytes = bytes.saturating_add(file.size);
            if check.status != CheckStatus::Ok {
                problems.push(check);
            }
        }
    };
    throttle.inner.finish();
    if catalog.ok {
        cat.add_counter(SCRUB_BYTES, bytes)?;
        cat.add_counter(SCRUB_INSTANCES, instances)?;
        cat.add_counter(SCRUB_PROBLEMS, problems.len() as u64)?;
    }
    let coverage = coverage(site)?;
    if catalog.ok {
        report_coverage(site, &coverage)?;
    }
    Ok(ScrubReport {
        ok: catalog.ok && problems.is_empty() && unreachable.is_empty(),
        unreachable,
        instances,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        stopped,
        problems,
        catalog,
        coverage,
    })
}

/// Each store's coverage now, against the `[scrub] cover_every` target.
pub(crate) fn coverage(site: &Site) -> Result<Vec<StoreCoverage>> {
    let now = Timestamp::now();
    let cut_off = before(now, site.config().scrub.cover_every());
    Ok(site
        .catalog()
        .coverage(cut_off)?
        .into_iter()
        .map(|c| StoreCoverage {
            covered: if c.bytes == 0 { 1.0 } else { 1.0 - c.overdue_bytes as f64 / c.bytes as f64 },
            store: c.store,
            instances: c.instances,
            bytes: c.bytes,
            overdue_instances: c.overdue_instances,
            overdue_bytes: c.overdue_bytes,
            oldest_verified_at: c.oldest_verified,
            damaged: c.damaged,
        })
        .collect())
}

/// A `scrub_behind` event for each store with copies past the coverage target;
/// cleared for the others.
fn report_coverage(site: &Site, coverage: &[StoreCoverage]) -> Result<()> {
    let now = Timestamp::now();
    let every = crate::model::format_interval(site.config().scrub.cover_every());
    for c in coverage {
        if c.overdue_instances == 0 {
            site.catalog().resolve_event(Category::ScrubBehind, &c.store, now)?;
        } else {
            site.raise_event(&NewEvent {
                severity: Severity::Warning,
                category: Category::ScrubBehind,
                subject: c.store.clone(),
                message: format!(
                    "{} cop{} ({} bytes) on store {} not re-read within {every}: raise the [scrub] budget or run it more often",
                    c.overdue_instances,
                    if c.overdue_instances == 1 { "y" } else { "ies" },
                    c.overdue_bytes,
                    c.store
                ),
            })?;
        }
    }
    Ok(())
}

/// Forwards progress and, with a rate, sleeps whenever the bytes read run ahead of
/// `rate` bytes per second since the start.
struct Throttle<'a> {
    inner: &'a dyn Progress,
    rate: Option<u64>,
    state: Mutex<(Instant, u64)>,
}

impl<'a> Throttle<'a> {
    fn new(inner: &'a dyn Progress, rate: Option<u64>) -> Self {
        Throttle { inner, rate, state: Mutex::new((Instant::now(), 0)) }
    }
}

impl Progress for Throttle<'_> {
    fn start(&self, bytes: u64) {
        self.inner.start(bytes);
    }

    fn advance(&self, bytes: u64) {
        self.inner.advance(bytes);
        let Some(rate) = self.rate else { return };
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.1 = s.1.saturating_add(bytes);
            let due = Duration::from_secs_f64(s.1 as f64 / rate as f64);
            due.checked_sub(s.0.elapsed())
        };
        if let Some(w) = wait {
            std::thread::sleep(w);
        }
    }

    fn finish(&self) {
        self.inner.finish();
    }
}
