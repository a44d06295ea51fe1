//! Feedback for long work: progress bars on a terminal, plain `tracing` log lines
//! otherwise (CI logs, pipes). Both go to stderr so `--json` stdout stays clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// How to report progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    bars: bool,
    /// Per-epoch feedback at all (off for jobs that run side by side).
    epochs: bool,
}

impl Progress {
    /// Bars when stderr is a terminal and `quiet` is off.
    pub(crate) fn detect(quiet: bool) -> Progress {
        Progress {
            bars: !quiet && std::io::stderr().is_terminal(),
            epochs: true,
        }
    }

    /// The same, without per-epoch bars or lines: for training jobs run in parallel, whose
    /// progress is reported per job instead.
    pub(crate) fn without_epochs(self) -> Progress {
        Progress {
            bars: false,
            epochs: false,
        }
    }

    /// Announces a stage.
    pub(crate) fn stage(&self, message: &str) {
        tracing::info!("{message}");
    }

    /// A bar for `total` epochs of `what`.
    pub(crate) fn epochs(&self, what: &str, total: usize) -> EpochBar {
        let bar = self.bars.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} epochs {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b
        });
        EpochBar {
            bar,
            what: what.to_string(),
            log: self.epochs,
        }
    }
}

impl Progress {
    /// A bar counting `total` jobs of `what` that finish in any order, from any thread.
    pub(crate) fn jobs(&self, what: &str, total: usize) -> JobBar {
        let bar = self.bars.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b
        });
        JobBar {
            bar,
            what: what.to_string(),
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// Feedback for a set of jobs.
pub(crate) struct JobBar {
    bar: Option<ProgressBar>,
    what: String,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl JobBar {
    /// Reports one finished job.
    pub(crate) fn done(&self, name: &str) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        match &self.bar {
            Some(b) => {
                b.set_position(n as u64);
                b.set_message(name.to_string());
            }
            None => tracing::info!("{}: {n}/{} done ({name})", self.what, self.total),
        }
    }

    /// Closes the bar.
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Per-epoch feedback for one training job.
pub(crate) struct EpochBar {
    bar: Option<ProgressBar>,
    what: String,
    log: bool,
}

impl EpochBar {
    /// Reports one finished epoch.
    pub(crate) fn epoch(&self, record: &distillery_train::EpochRecord) {
        match &self.bar {
            Some(b) => {
                b.set_position(record.epoch as u64);
                b.set_message(format!("val loss {:.4}", record.validation_loss));
            }
            None if !self.log => {}
            None => tracing::info!(
                "{}: epoch {} train loss {:.4} validation loss {:.4}",
                self.what,
                record.epoch,
                record.train_loss,
                record.validation_loss
            ),
        }
    }

    /// Closes the bar.
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
