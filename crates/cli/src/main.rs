//! The `distillery` binary: parses arguments, sets up logging, dispatches to a command and
//! turns the outcome into an exit code. All the work happens in the library crates.

mod cli;
mod commands;
mod environment;
mod exit;
mod log_source;
mod progress;
mod reference;
mod registry_access;
mod run_output;
mod student_input;

/// mimalloc: the server frees request buffers on other threads (the prediction log's
/// writer, the monitor), where glibc's allocator contends.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use exit::ExitStatus;

fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitStatus::Ok
                }
                _ => ExitStatus::BadInput,
            }
            .into();
        }
    };
    let level = if cli.quiet { "error" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env(environment::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // DISTILLERY_LOG_FORMAT=json: one JSON object per line, with time and fields, for log
    // collectors (e.g. under `distillery serve`); otherwise plain lines for people.
    if environment::json_logs() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        // Colour only for a person at a terminal, and never under NO_COLOR (no-color.org).
        use std::io::IsTerminal as _;
        let colour = std::io::stderr().is_terminal() && environment::colour_allowed();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(colour)
            .with_target(false)
            .without_time()
            .init();
    }
    match commands::run(cli) {
        Ok(status) => status.into(),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitStatus::Ok.into();
            }
            eprintln!("error: {}", message(&e));
            ExitStatus::BadInput.into()
        }
    }
}

/// The error and its causes, joined by ": ", leaving out a cause whose text an outer
/// message already quotes (typed errors often include their source in their own text).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A closed stdout (e.g. `distillery run … --json | head`) is not an error. JSON written
/// straight to stdout fails as a `serde_json` error that carries the kind.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == pipe
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == pipe
    })
}
