//! Run-time CPU-feature checks, each made once and remembered: the kernels pick their
//! widest instruction set per call, so the check must cost one relaxed load.

use std::sync::atomic::{AtomicU8, Ordering};

/// One cached answer to "does this CPU have …?".
pub(crate) struct Feature(AtomicU8);

impl Feature {
    /// Not checked yet.
    pub(crate) const fn new() -> Feature {
        Feature(AtomicU8::new(0))
    }

    /// The answer, running `detect` the first time only.
    #[inline]
    pub(crate) fn present(&self, detect: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            2 => true,
            1 => false,
            _ => {
                let yes = detect();
                self.0.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
        }
    }
}
