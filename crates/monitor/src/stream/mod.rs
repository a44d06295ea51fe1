//! Streaming drift detectors, fed one value at a time: ADWIN, Page–Hinkley and KSWIN on
//! real values (a feature, a probability, teacher–student disagreement), DDM on bits (1 =
//! the student was wrong). Each follows river 0.26's implementation and defaults, so the
//! same stream fires at the same indices (checked against fixtures from
//! `tools/make_stream_fixtures.py`), and each starts afresh after it fires, as river's do.

mod adwin;
mod ddm;
mod kswin;
mod page_hinkley;
mod python_random;

pub use adwin::Adwin;
pub use ddm::Ddm;
pub use kswin::Kswin;
pub use page_hinkley::PageHinkley;

use serde::{Deserialize, Serialize};

/// What a detector says after one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Nothing unusual.
    Stable,
    /// Early warning (DDM only).
    Warning,
    /// Drift: the detector fired and starts again from the next value.
    Drift,
}

/// A detector that watches one stream of numbers.
pub trait Detector: Send {
    /// Adds one value and says whether the stream drifted.
    fn update(&mut self, x: f64) -> Signal;
    /// The detector's name as used in reports and on the command line.
    fn name(&self) -> &'static str;
}

/// Builds a detector by name with river's default parameters (`seed` for KSWIN).
///
/// # Errors
/// An unknown name; the message lists the known ones.
pub fn by_name(name: &str, seed: u64) -> Result<Box<dyn Detector>, crate::MonitorError> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "adwin" => Box::new(Adwin::default()),
        "page-hinkley" | "page_hinkley" | "ph" => Box::new(PageHinkley::default()),
        "ddm" => Box::new(Ddm::default()),
        "kswin" => Box::new(Kswin::new(seed)),
        other => {
            return Err(crate::MonitorError::Invalid(format!(
                "unknown detector `{other}` (known: adwin, page-hinkley, ddm, kswin)"
            )));
        }
    })
}

/// Indices at which `detector` fires on `stream`.
pub fn detections(
    detector: &mut dyn Detector,
    stream: impl IntoIterator<Item = f64>,
) -> Vec<usize> {
    stream
        .into_iter()
        .enumerate()
        .filter_map(|(i, x)| (detector.update(x) == Signal::Drift).then_some(i))
        .collect()
}

/// The incremental mean river's detectors keep (`n += 1; m += (x − m) / n`), step for step.
#[derive(Debug, Clone, Copy, Default)]
struct RunningMean {
    n: f64,
    mean: f64,
}

impl RunningMean {
    fn update(&mut self, x: f64) {
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
    }
}
