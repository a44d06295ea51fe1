//! End-to-end tests: the real `distillery` binary on real files from `tests/data/` and the
//! bundled demo. One module per area.

mod errors;
mod init;
mod predict;
mod run;
mod util;
