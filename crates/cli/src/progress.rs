//! Feedback for long work: progress bars on a terminal, plain `tracing` log lines
//! otherwise (CI logs, pipes). Both go to stderr so `--json` stdout stays clean. The
//! pipeline reports through its `Progress` trait; this is the CLI's implementation.

use std::io::IsTerminal;

use distillery_pipeline::progress::JobLines;
use distillery_pipeline::{EpochProgress, JobProgress, LogProgress, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// Bars on a terminal, `tracing` lines elsewhere.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terminal {
    bars: bool,
}

impl Terminal {
    /// Bars when stderr is a terminal and `quiet` is off.
    pub(crate) fn detect(quiet: bool) -> Terminal {
        Terminal {
            bars: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// A bar for `total` steps of `what`, in the shared style.
fn bar(what: &str, total: usize, unit: &str) -> ProgressBar {
    let b = ProgressBar::new(total as u64);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix:>16}} [{{bar:30}}] {{pos}}/{{len}}{unit} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b.set_prefix(what.to_string());
    b
}

impl Progress for Terminal {
    fn stage(&self, message: &str) {
        LogProgress.stage(message);
    }

    fn epochs(&self, what: &str, total: usize) -> Box<dyn EpochProgress + '_> {
        if self.bars {
            Box::new(Bar(bar(what, total, " epochs")))
        } else {
            LogProgress.epochs(what, total)
        }
    }

    fn jobs(&self, what: &str, total: usize) -> Box<dyn JobProgress + '_> {
        if self.bars {
            Box::new(Bar(bar(what, total, "")))
        } else {
            Box::new(JobLines::new(what, total))
        }
    }
}

/// An indicatif bar, for epochs or jobs.
struct Bar(ProgressBar);

impl EpochProgress for Bar {
    fn epoch(&self, record: &distillery_train::EpochRecord) {
        self.0.set_position(record.epoch as u64);
        self.0
            .set_message(format!("val loss {:.4}", record.validation_loss));
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl JobProgress for Bar {
    fn done(&self, name: &str) {
        self.0.inc(1);
        self.0.set_message(name.to_string());
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
