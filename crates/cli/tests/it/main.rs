//! End-to-end tests: the real `distillery` binary on real files from `tests/data/` and the
//! bundled demo. One module per area.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod audit;
mod browser;
mod console;
mod console_browser;
mod datasets;
mod detect;
mod drift;
mod errors;
mod estimate;
mod evaluate;
mod init;
mod kubernetes;
mod live;
mod network_teacher;
mod postgres;
mod predict;
mod privacy;
mod quality;
mod registry;
mod replicas;
mod run;
mod s3;
mod serve;
mod serve_deploy;
mod serve_errors;
mod serve_feedback;
mod serve_protection;
mod text;
mod text_transformer;
mod traffic;
mod triton;
mod util;
