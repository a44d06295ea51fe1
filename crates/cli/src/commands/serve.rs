//! `distillery serve`: registered students behind the Open Inference Protocol REST API.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use distillery_serve::{Models, Policy, PredictionLog, Server, router};

use crate::cli::ServeArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &ServeArgs) -> Result<ExitStatus> {
    let registry = super::registry::open(&args.options)?;
    let mut models = Models::load(&registry, &args.models)?;
    if let Some(canary) = &args.canary {
        models.add_canary(&registry, canary, args.canary_weight)?;
    }
    if let Some(shadow) = &args.shadow {
        if !(0.0..=1.0).contains(&args.shadow_fraction) {
            anyhow::bail!(
                "--shadow-fraction {} must be between 0 and 1",
                args.shadow_fraction
            );
        }
        models.add_shadow(&registry, shadow, args.shadow_fraction)?;
    }
    if !args.no_log {
        let policy = match args.log_policy.as_str() {
            "block" => Policy::Block,
            "drop" => Policy::Drop,
            other => anyhow::bail!("--log-policy {other} is unknown; use block or drop"),
        };
        let log = PredictionLog::start(
            &args.log_dir,
            args.log_queue,
            policy,
            args.log_rotate_mib << 20,
        )
        .with_context(|| format!("starting the prediction log in {}", args.log_dir.display()))?;
        models.log = Some(Arc::new(log));
    }
    let mut served: Vec<String> = models.by_name.values().map(|m| m.version.label()).collect();
    served.extend(
        models
            .canaries
            .values()
            .map(|(c, w)| format!("{} (canary, {w}%)", c.version.label())),
    );
    served.extend(
        models
            .shadows
            .values()
            .map(|(sh, f)| format!("{} (shadow, {:.0}%)", sh.version.label(), f * 100.0)),
    );
    let token = match &args.admin_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the admin token file {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("DISTILLERY_ADMIN_TOKEN").ok(),
    };
    let actor = super::registry::actor(&args.options);
    let server = Server::new(models, registry, token, actor);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}; is the port taken?",
                    args.host, args.port
                )
            })?;
        let address = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "serving {} on http://{address}", served.join(", "))?;
            out.flush()?;
        }
        axum::serve(listener, router(Arc::new(server)))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitStatus::Ok)
}
