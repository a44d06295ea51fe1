//! Watching a deployed student: reference profiles computed once at training time, batch
//! drift reports that reproduce Evidently's test selection, and (later) streaming
//! detectors and label-free performance estimates.
//!
//! The crate never touches the server or training code: it takes distributions in and
//! gives verdicts out, so the CLI, the server and the benchmarks share one implementation.

pub mod cbpe;
pub mod cbpe_multiclass;
pub mod drift;
pub mod error;
pub mod live;
pub mod log;
pub mod multivariate;
pub mod profile;
pub mod render;
pub mod sample;
pub mod stattest;
pub mod stream;

pub use drift::{ColumnDrift, DriftOptions, DriftReport};
pub use error::MonitorError;
pub use profile::Profile;
pub use sample::{Categories, Distribution, Numbers};
pub use stattest::{StatTest, TestOutcome};
