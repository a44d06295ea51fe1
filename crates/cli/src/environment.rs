//! Every environment variable distillery reads, in one place, so what a command depends
//! on can be seen at a glance. (`DISTILLERY_REGISTRY` is also `--registry`'s fallback,
//! declared on the flag in `cli.rs`.)

/// The admin API's bearer token (`serve`, `deploy`, `redistill --server`).
pub(crate) const ADMIN_TOKEN: &str = "DISTILLERY_ADMIN_TOKEN";
/// The log level, as a `tracing` filter (`warn`, `debug`, `distillery=trace`, …).
pub(crate) const LOG: &str = "DISTILLERY_LOG";
/// `json` makes each log line one JSON object, for log collectors.
const LOG_FORMAT: &str = "DISTILLERY_LOG_FORMAT";
/// The registry folder when `--registry` is not given.
const REGISTRY: &str = "DISTILLERY_REGISTRY";
/// Tests only: stop training after this epoch, as an interruption would.
const STOP_AFTER_EPOCH: &str = "DISTILLERY_STOP_AFTER_EPOCH";

/// The admin token from the environment, when set.
pub(crate) fn admin_token() -> Option<String> {
    std::env::var(ADMIN_TOKEN).ok()
}

/// Host names the operator console answers to besides IP addresses and `localhost`
/// (`DISTILLERY_CONSOLE_HOSTS`, comma-separated).
pub(crate) fn console_hosts() -> Vec<String> {
    std::env::var("DISTILLERY_CONSOLE_HOSTS")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect()
}

/// Whether log lines should be JSON objects.
pub(crate) fn json_logs() -> bool {
    std::env::var(LOG_FORMAT).is_ok_and(|f| f == "json")
}

/// Whether log lines may carry colour: never under `NO_COLOR` (no-color.org).
pub(crate) fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether `DISTILLERY_REGISTRY` is set (it then wins over a serve.toml's registry).
pub(crate) fn registry_set() -> bool {
    std::env::var_os(REGISTRY).is_some()
}

/// How the CLI runs a recipe: into `out_dir`, resuming or not, with its progress display
/// (and the test hook that stops training after an epoch).
pub(crate) fn run_options(
    out_dir: std::path::PathBuf,
    resume: bool,
    progress: &crate::progress::Terminal,
) -> distillery_pipeline::RunOptions<'_> {
    distillery_pipeline::RunOptions {
        out_dir,
        resume,
        progress,
        stop_after_epoch: stop_after_epoch(),
    }
}

/// The epoch after which training stops as if interrupted (resume tests).
fn stop_after_epoch() -> Option<usize> {
    std::env::var(STOP_AFTER_EPOCH)
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The OS user, for audit entries when `--actor` is not given.
pub(crate) fn user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
}

/// The program search path (`PATH`).
pub(crate) fn search_path() -> Option<std::ffi::OsString> {
    std::env::var_os("PATH")
}
