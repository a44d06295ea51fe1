//! One module per subcommand; each exposes `run(args, …) -> Result<ExitStatus>`.

mod audit;
mod bench;
mod check;
mod demo;
mod deploy;
mod detect;
mod drift;
mod estimate;
mod eval;
mod export;
mod init;
mod predict;
mod privacy;
mod quantize;
mod redistill;
mod registry;
mod run;
mod serve;
mod signing;
mod ui;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;
use crate::progress::Terminal;

/// Dispatches a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<ExitStatus> {
    let progress = Terminal::detect(cli.quiet);
    match cli.command {
        Command::Demo(args) => demo::run(&args, progress),
        Command::Init(args) => init::run(&args),
        Command::Run(args) => run::run(&args, progress),
        Command::Check(args) => check::run(&args, progress),
        Command::Predict(args) => predict::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Eval(args) => eval::run(&args),
        // A log in object storage (s3://…) is fetched first: every replica's files.
        Command::Drift(mut args) => {
            let log = crate::log_source::local(&args.current)?;
            args.current.clone_from(&log.dir);
            drift::run(&args)
        }
        Command::Detect(mut args) => {
            let log = crate::log_source::local(&args.data)?;
            args.data.clone_from(&log.dir);
            detect::run(&args)
        }
        Command::Estimate(mut args) => {
            let log = crate::log_source::local(&args.current)?;
            args.current.clone_from(&log.dir);
            estimate::run(&args)
        }
        Command::Redistill(mut args) => {
            let log = crate::log_source::local(&args.log_dir)?;
            args.log_dir.clone_from(&log.dir);
            redistill::run(&args, progress)
        }
        Command::Registry(args) => registry::run(&args),
        Command::Lineage(args) => registry::lineage(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Ui(args) => ui::run(&args),
        Command::Privacy(args) => privacy::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Keygen(args) => signing::keygen(&args),
        Command::Sign(args) => signing::sign(&args),
        Command::Verify(args) => signing::verify(&args),
    }
}
