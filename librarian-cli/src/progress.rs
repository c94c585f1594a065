//! Progress bars (indicatif) for long uploads and verifies: drawn on stderr only when
//! it is a terminal, and only for work above a size threshold; nothing on a pipe or
//! under cron.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use librarian_core::Progress;

/// Work smaller than this finishes too fast to need a bar.
const THRESHOLD: u64 = 64 << 20;

/// A lazily shown byte progress bar.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    enabled: bool,
}

impl Bar {
    pub fn new(label: &'static str) -> Self {
        let enabled = std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style =
            ProgressStyle::with_template("{msg:>7} {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label);
        Bar { bar, enabled }
    }
}

impl Progress for Bar {
    fn start(&self, bytes: u64) {
        self.bar.set_length(bytes);
        if self.enabled && bytes >= THRESHOLD {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
