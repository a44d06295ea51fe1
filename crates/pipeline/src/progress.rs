//! Feedback from long stages through a trait: the CLI draws progress bars, a notebook or a
//! test passes its own callbacks (or [`LogProgress`], plain `tracing` lines).

use distillery_train::EpochRecord;

/// Receives the pipeline's feedback. Called from worker threads (cross-validation folds and
/// ablation variants train side by side), hence `Sync`.
pub trait Progress: Sync {
    /// A new stage begins ("labelling the transfer set with the teacher").
    fn stage(&self, message: &str);
    /// A training job of `total` epochs begins; the returned value hears each epoch.
    fn epochs(&self, what: &str, total: usize) -> Box<dyn EpochProgress + '_>;
    /// A set of `total` jobs begins that finish in any order, from any thread.
    fn jobs(&self, what: &str, total: usize) -> Box<dyn JobProgress + '_>;
}

/// Hears one training job's epochs.
pub trait EpochProgress: Send + Sync {
    /// One epoch finished.
    fn epoch(&self, record: &EpochRecord);
    /// The job finished (close a bar).
    fn finish(&self) {}
}

/// Hears a set of jobs finish.
pub trait JobProgress: Sync {
    /// One job finished.
    fn done(&self, name: &str);
    /// Every job finished (close a bar).
    fn finish(&self) {}
}

/// Plain `tracing` lines: a stage per line, an epoch per line, a job per line. The default
/// for library callers.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProgress;

/// No feedback at all (tests, nested runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for LogProgress {
    fn stage(&self, message: &str) {
        tracing::info!("{message}");
    }

    fn epochs(&self, what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
        Box::new(EpochLines {
            what: what.to_string(),
        })
    }

    fn jobs(&self, what: &str, total: usize) -> Box<dyn JobProgress + '_> {
        Box::new(JobLines::new(what, total))
    }
}

impl Progress for Silent {
    fn stage(&self, _message: &str) {}

    fn epochs(&self, _what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
        Box::new(Silent)
    }

    fn jobs(&self, _what: &str, _total: usize) -> Box<dyn JobProgress + '_> {
        Box::new(Silent)
    }
}

impl EpochProgress for Silent {
    fn epoch(&self, _record: &EpochRecord) {}
}

impl JobProgress for Silent {
    fn done(&self, _name: &str) {}
}

/// One line per epoch.
struct EpochLines {
    what: String,
}

impl EpochProgress for EpochLines {
    fn epoch(&self, record: &EpochRecord) {
        tracing::info!(
            "{}: epoch {} train loss {:.4} validation loss {:.4}",
            self.what,
            record.epoch,
            record.train_loss,
            record.validation_loss
        );
    }
}

/// One line per finished job, counting.
pub struct JobLines {
    what: String,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl JobLines {
    /// Counts `total` jobs of `what`.
    pub fn new(what: &str, total: usize) -> JobLines {
        JobLines {
            what: what.to_string(),
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl JobProgress for JobLines {
    fn done(&self, name: &str) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        tracing::info!("{}: {n}/{} done ({name})", self.what, self.total);
    }
}

/// Another progress with epochs silenced: for training jobs that run side by side, whose
/// progress is reported per job instead.
pub(crate) struct WithoutEpochs<'a>(pub(crate) &'a dyn Progress);

impl Progress for WithoutEpochs<'_> {
    fn stage(&self, message: &str) {
        self.0.stage(message);
    }

    fn epochs(&self, _what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
        Box::new(Silent)
    }

    fn jobs(&self, what: &str, total: usize) -> Box<dyn JobProgress + '_> {
        self.0.jobs(what, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every callback, as a library caller would.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn stage(&self, message: &str) {
            self.0.lock().unwrap().push(format!("stage {message}"));
        }
        fn epochs(&self, what: &str, _total: usize) -> Box<dyn EpochProgress + '_> {
            self.0.lock().unwrap().push(format!("epochs {what}"));
            Box::new(Silent)
        }
        fn jobs(&self, what: &str, _total: usize) -> Box<dyn JobProgress + '_> {
            self.0.lock().unwrap().push(format!("jobs {what}"));
            Box::new(Silent)
        }
    }

    #[test]
    fn without_epochs_forwards_stages_and_jobs_but_not_epochs() {
        let recorder = Recorder::default();
        let quiet = WithoutEpochs(&recorder);
        quiet.stage("fold 1");
        quiet.epochs("student", 10).finish();
        quiet.jobs("cross-validation", 5).finish();
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["stage fold 1", "jobs cross-validation"]
        );
    }
}
