//! `distillery serve`: registered students behind the Open Inference Protocol REST API.

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result};
use distillery_serve::{Models, PredictionLog, ServeFlags, Server, Settings, app};

use crate::cli::{RegistryOptions, ServeArgs};
use crate::exit::ExitStatus;

pub(crate) fn run(args: &ServeArgs) -> Result<ExitStatus> {
    if args.hash_token {
        let mut token = String::new();
        std::io::stdin()
            .read_line(&mut token)
            .context("reading the token on stdin")?;
        let token = token.trim();
        if token.is_empty() {
            anyhow::bail!(
                "no token on stdin; pipe one in, e.g. `openssl rand -hex 32 | tee token | distillery serve --hash-token`"
            );
        }
        let hash = distillery_serve::token_hash(token);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(std::io::stdout(), "blake3:{hex}")?;
        return Ok(ExitStatus::Ok);
    }
    let mut settings = Settings::resolve(&flags(args))?;
    let shipper = log_place(args, &mut settings)?;
    let options = RegistryOptions {
        registry: settings.registry.clone(),
        objects: args.options.objects.clone(),
        actor: settings.actor.clone(),
    };
    let registry = crate::registry_access::open(&options)?;
    // Read before loading: an alias changed from here on is applied by the first look.
    let loaded_at = registry.store().alias_generation().ok();
    let mut models = Models::load(&registry, &settings.models)?;
    if let Some((canary, weight)) = &settings.canary {
        models.add_canary(&registry, canary, *weight)?;
    }
    if let Some((shadow, fraction)) = &settings.shadow {
        models.add_shadow(&registry, shadow, *fraction)?;
    }
    if let Some(log) = &settings.log {
        let started = PredictionLog::start(&log.dir, log.queue, log.policy, log.rotate_bytes)
            .with_context(|| format!("starting the prediction log in {}", log.dir.display()))?
            .with_pii(log.pii.clone());
        models.log = Some(Arc::new(started));
    }
    if let Some(s) = &shipper {
        s.start(std::time::Duration::from_secs(5));
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
    let token = admin_token(settings.admin_token_file.as_deref())?;
    let following = following(args, &settings, &models, loaded_at);
    let console_runs = args.runs.clone();
    let console_registry = settings.registry.clone();
    let server_follows = following.is_some();
    let monitor_settings = match &settings.monitor {
        Some(m) => Some(monitor_settings(m, &models, &registry, &settings)?),
        None => None,
    };
    let tls = match &settings.tls {
        Some((cert, key)) => Some(distillery_serve::acceptor(cert, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let actor = crate::registry_access::actor(&options);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((settings.host.as_str(), settings.port))
            .await
            .map_err(|e| listen_error(&settings.host, settings.port, &e))?;
        let address = listener.local_addr()?;
        // Take over SIGTERM before saying we serve: a supervisor may stop us at once.
        let stop = stop_signal()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "serving {} on {scheme}://{address}", served.join(", "))?;
            out.flush()?;
        }
        tracing::info!(address = %address, models = %served.join(", "), "serving");
        let monitors = match monitor_settings {
            Some(m) => {
                // A token given as its hash cannot sign the monitor's own admin calls.
                let usable = token.clone().filter(|t| !t.starts_with("blake3:"));
                let monitors =
                    distillery_serve::Monitors::start(m, usable).context("starting the monitor")?;
                let _ = monitors.base_url.set(format!("{scheme}://{address}"));
                Some(monitors)
            }
            None => None,
        };
        let mut server = Server::new(models, registry, token, actor, Some(settings.guard));
        if let Some(f) = following {
            server = server.with_following(f);
        }
        if let Some(m) = monitors {
            server = server.with_monitors(m);
        }
        if let Some(limits) = settings.batching {
            server = server.with_batching(limits);
        }
        if let Some(limits) = settings.limits {
            server = server.with_limits(limits);
        }
        if let Some(rule) = settings.extraction {
            server = server.with_sweep_rule(rule);
        }
        let server = Arc::new(server);
        if server_follows {
            // Tests widen the window between loading the models and the first look, to
            // check that an alias changed in it is applied.
            if let Some(ms) = std::env::var("DISTILLERY_FOLLOW_START_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            // The starting point; changes from here on are applied (and one made since the
            // models were loaded, by this first look).
            let s = Arc::clone(&server);
            tokio::task::spawn_blocking(move || s.sync_with_registry())
                .await
                .context("reading the registry's aliases")?
                .context("reading the registry's aliases")?;
            server.start_following();
        }
        let options = distillery_serve::ListenOptions {
            timeouts: settings.timeouts,
            connections: settings.connections,
            refused: Arc::clone(&server.connections_refused),
            tls,
        };
        let mut routes = app(Arc::clone(&server));
        if let Some(runs) = &console_runs {
            let console = distillery_serve::ui::Console::new(runs, &console_registry)
                .with_server(Arc::clone(&server))
                .with_hosts(crate::environment::console_hosts());
            routes = routes.merge(distillery_serve::ui::pages(Arc::new(console)));
        }
        let stopped = distillery_serve::serve(listener, routes, stop, options).await;
        let drained = match stopped {
            distillery_serve::Stopped::Drained => "requests drained",
            distillery_serve::Stopped::DeadlineReached(_) => {
                "drain deadline reached, connections left open were dropped"
            }
        };
        // The requests answered are in the log's queue; make their records durable.
        if let Some(log) = &server.current().log {
            if log.flush(std::time::Duration::from_secs(30)) {
                tracing::info!("stopped: {drained}, prediction log flushed and synced");
            } else {
                tracing::error!("stopped, but the prediction log did not confirm its flush");
            }
            if let Some(s) = &shipper {
                let s = Arc::clone(s);
                match tokio::task::spawn_blocking(move || s.ship()).await {
                    Ok(Ok(n)) => tracing::info!(files = n, "prediction log shipped"),
                    Ok(Err(e)) => tracing::error!(error = %e, "the last copy of the prediction log failed; it stays in the spool"),
                    Err(e) => tracing::error!(error = %e, "the log shipper failed"),
                }
            }
        } else {
            tracing::info!("stopped: {drained}");
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitStatus::Ok)
}

/// The monitor's settings: each served model's reference profile from the registry (its
/// `profile` artifact, hash-checked) and a teacher for each, checked now so a bad teacher
/// fails at start-up rather than in the first window.
fn monitor_settings(
    m: &distillery_serve::MonitorResolved,
    models: &Models,
    registry: &distillery_registry::Registry,
    settings: &Settings,
) -> Result<distillery_serve::MonitorSettings> {
    let mut profiles = std::collections::BTreeMap::new();
    for (name, served) in &models.by_name {
        let bytes = registry.load(&served.version, "profile").with_context(|| {
            format!(
                "[monitor] needs {}'s reference profile; versions registered before profiles existed have none: re-run the recipe and register it",
                served.version.label()
            )
        })?;
        let profile: distillery_monitor::Profile = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}'s profile.json does not parse", served.version.label()))?;
        if let Some(source) = &m.teacher {
            distillery_serve::teacher_for(source, &profile)
                .map_err(|e| anyhow::anyhow!("[monitor] teacher for {name}: {e}"))?;
        }
        profiles.insert(served.version.label(), profile);
    }
    let teacher_source = m.teacher.clone();
    let teacher: distillery_serve::TeacherFactory = Box::new(move |profile| {
        let source = teacher_source.as_ref()?;
        match distillery_serve::teacher_for(source, profile) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::error!(error = %e, "the monitor's teacher failed to load");
                None
            }
        }
    });
    Ok(distillery_serve::MonitorSettings {
        config: m.config.clone(),
        actions: m.actions.clone(),
        profiles,
        teacher,
        registry_dir: settings.registry.clone(),
        log_dir: settings.log.as_ref().map(|l| l.dir.clone()),
    })
}

/// The admin API's token, from its file or `DISTILLERY_ADMIN_TOKEN`. An empty one is
/// refused (it would silently turn the admin API off); a token file that others can read
/// is warned about.
fn admin_token(file: Option<&std::path::Path>) -> Result<Option<String>> {
    let (token, source) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the admin token file {}", path.display()))?;
            warn_if_readable_by_others(path);
            (
                text.trim().to_string(),
                format!("the admin token file {}", path.display()),
            )
        }
        None => match crate::environment::admin_token() {
            Some(t) => (
                t.trim().to_string(),
                crate::environment::ADMIN_TOKEN.to_string(),
            ),
            None => return Ok(None),
        },
    };
    if !token.is_empty() && !token.starts_with("blake3:") && token.chars().count() < 20 {
        tracing::warn!(
            "{source} holds a short admin token ({} characters): anyone who guesses it controls routing; use a long random one (`openssl rand -hex 32`)",
            token.chars().count()
        );
    }
    if token.is_empty() {
        anyhow::bail!(
            "{source} is empty; put a long random token in it (e.g. `openssl rand -hex 32`), or leave it out to turn the admin API off"
        );
    }
    Ok(Some(token))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o044 != 0
    {
        tracing::warn!(
            file = %path.display(),
            "the admin token file can be read by other users; restrict it with chmod 600"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &std::path::Path) {}

/// Why the server cannot listen, in words that point at the cause: a port in use, an
/// address this machine does not have, a host name that does not resolve, or a privilege.
fn listen_error(host: &str, port: u16, e: &std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let hint = match e.kind() {
        ErrorKind::AddrInUse => {
            format!("port {port} is taken; pick another with --port (0: any free port)")
        }
        ErrorKind::AddrNotAvailable => {
            format!("{host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0")
        }
        ErrorKind::PermissionDenied => {
            format!("no permission to listen on port {port}; ports below 1024 need privileges")
        }
        _ if std::net::IpAddr::from_str(host).is_err() => format!(
            "the host name {host} does not resolve ({e}); give an IP address such as 127.0.0.1 or 0.0.0.0"
        ),
        _ => e.to_string(),
    };
    anyhow::anyhow!("cannot listen on {host}:{port}: {hint}")
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop`, systemd and Kubernetes send). The
/// handlers are installed when this is called, not when the future is first polled, so a
/// signal sent right after the "serving" line still drains instead of killing the process.
pub(crate) fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = term.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("stopping: finishing the requests in flight");
    })
}

/// The command line as the server's settings take it; the environment is read here.
fn flags(args: &ServeArgs) -> ServeFlags {
    let registry = &args.options.registry;
    ServeFlags {
        config: args.config.clone(),
        port: args.port,
        host: args.host.clone(),
        models: args.models.clone(),
        canary: args.canary.clone(),
        canary_weight: args.canary_weight,
        shadow: args.shadow.clone(),
        shadow_fraction: args.shadow_fraction,
        admin_token_file: args.admin_token_file.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        log_dir: args.log_dir.clone(),
        no_log: args.no_log,
        log_policy: args.log_policy.clone(),
        log_queue: args.log_queue,
        log_rotate_mib: args.log_rotate_mib,
        guard_window: args.guard_window,
        guard_min_requests: args.guard_min_requests,
        guard_max_error_rate: args.guard_max_error_rate,
        guard_max_p99_ms: args.guard_max_p99_ms,
        guard_max_disagreement: args.guard_max_disagreement,
        batch_max_rows: args.batch_max_rows,
        batch_max_wait_us: args.batch_max_wait_us,
        registry: registry.clone(),
        registry_chosen: registry != std::path::Path::new(crate::cli::DEFAULT_REGISTRY)
            || crate::environment::registry_set(),
        actor: args.options.actor.clone(),
        search_path: crate::environment::search_path(),
    }
}

/// Which aliases the served models follow: with no `--model`, each model follows
/// `production`; a model named as `name@alias` follows that alias; one named by version
/// is pinned. `None` when the server does not follow the registry.
fn following(
    args: &ServeArgs,
    settings: &Settings,
    models: &distillery_serve::Models,
    loaded_at: Option<i64>,
) -> Option<distillery_serve::Following> {
    let shared = distillery_registry::is_postgres(&settings.registry.to_string_lossy());
    if !args.follow.unwrap_or(shared) {
        return None;
    }
    let aliases = if settings.models.is_empty() {
        models
            .by_name
            .keys()
            .map(|n| (n.clone(), "production".to_string()))
            .collect()
    } else {
        settings
            .models
            .iter()
            .filter_map(|r| match distillery_registry::Reference::parse(r) {
                Ok(distillery_registry::Reference::Alias(n, a)) => Some((n, a)),
                _ => None,
            })
            .collect()
    };
    Some(distillery_serve::Following {
        aliases,
        poll: std::time::Duration::from_millis(args.poll_ms.max(50)),
        loaded_at,
    })
}

/// Where this replica writes its prediction log. With `--replica` the log goes to
/// `<log-dir>/<replica>/`; a log dir of `s3://bucket/prefix` is written to a local spool
/// (`.distillery-logs/<replica>`) and shipped to `s3://bucket/prefix/<replica>/` (replica
/// default: the host name). Rewrites the settings' log dir to the local folder.
fn log_place(
    args: &ServeArgs,
    settings: &mut Settings,
) -> Result<Option<Arc<distillery_serve::LogShipper>>> {
    let Some(log) = settings.log.as_mut() else {
        return Ok(None);
    };
    let text = log.dir.to_string_lossy().to_string();
    if !text.starts_with("s3://") {
        if let Some(r) = &args.replica {
            check_replica(r)?;
            log.dir = log.dir.join(r);
        }
        return Ok(None);
    }
    let replica = args
        .replica
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| format!("replica-{}", std::process::id()));
    check_replica(&replica)?;
    let spool = std::path::PathBuf::from(".distillery-logs").join(&replica);
    let shipper = distillery_serve::LogShipper::new(&spool, &text, &replica)
        .with_context(|| format!("shipping the prediction log to {text}"))?;
    tracing::info!(spool = %spool.display(), to = %shipper.destination(), "prediction log goes to object storage");
    log.dir = spool;
    Ok(Some(Arc::new(shipper)))
}

/// A replica name is one path segment of letters, digits, `-`, `_` and `.`.
fn check_replica(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !fine {
        anyhow::bail!(
            "--replica {name:?}: use letters, digits, '-', '_' and '.' only (it names a folder)"
        );
    }
    Ok(())
}
