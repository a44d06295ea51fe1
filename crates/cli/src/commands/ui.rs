//! `distillery ui [--port 8090] [--runs runs] [--registry …]`: the operator console over
//! the run folder and the registry, served until SIGTERM or Ctrl-C.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::UiArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &UiArgs) -> Result<ExitStatus> {
    if !args.runs.is_dir() && !crate::registry_access::present(&args.options) {
        anyhow::bail!(
            "{} is not a folder of runs and there is no registry at {}; run `distillery demo` (or start the console where your runs/ folder is, or give --runs and --registry)",
            args.runs.display(),
            crate::registry_access::shown(&args.options)
        );
    }
    let console = Arc::new(
        distillery_serve::ui::Console::new(&args.runs, &args.options.registry)
            .with_hosts(crate::environment::console_hosts()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the console's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
        let address = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "console on http://{address}/ui")?;
            out.flush()?;
        }
        tracing::info!(address = %address, runs = %args.runs.display(), "console");
        let stop = super::serve::stop_signal()?;
        axum::serve(listener, distillery_serve::ui::router(console))
            .with_graceful_shutdown(stop)
            .await
            .context("serving the console")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitStatus::Ok)
}
