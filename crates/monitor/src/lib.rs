//! Watching a deployed student: reference profiles computed once at training time, batch
//! drift reports that reproduce Evidently's test selection (plus MMD and a domain
//! classifier for the joint distribution), streaming detectors that fire where river's
//! do, label-free performance estimates (CBPE, as NannyML computes them), and the live
//! engine that turns served traffic and teacher answers into windows, rules and alerts.
//!
//! The crate never touches the server or training code: it takes distributions and
//! records in and gives verdicts out, so the CLI, the server and the benchmarks share one
//! implementation.

pub mod cbpe;
pub mod cbpe_multiclass;
pub mod drift;
pub mod error;
pub mod live;
pub mod log;
pub mod multivariate;
pub mod profile;
pub mod record;
pub mod render;
pub mod sample;
pub mod stattest;
pub mod stream;
pub mod text;

pub use drift::{ColumnDrift, DriftOptions, DriftReport};
pub use error::MonitorError;
pub use profile::Profile;
pub use record::PredictionRecord;
pub use sample::{Categories, Distribution, Numbers};
pub use stattest::{StatTest, TestOutcome};
