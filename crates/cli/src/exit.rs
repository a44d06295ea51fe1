//! Exit codes, in one place: 0 ok, 1 a gate failed, 2 bad input or usage.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything worked and every gate passed.
    Ok,
    /// The run completed but the student failed a gate.
    GateFailed,
    /// Bad input, bad usage, or a failure that stopped the work.
    BadInput,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(match s {
            ExitStatus::Ok => 0,
            ExitStatus::GateFailed => 1,
            ExitStatus::BadInput => 2,
        })
    }
}
