//! The server's settings: the flags, over an optional `serve.toml` (paths in the file are
//! relative to the file), over the defaults. Every value is checked here, before anything
//! is loaded or bound, so a typo fails fast.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use distillery_monitor::live::LiveConfig;
use serde::Deserialize;

use crate::teacher_source::TeacherSource;
use crate::{AlertAction, Batching, Guardrails, Policy};

/// A setting that cannot be used, in words that say what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// Shorthand for this module's results.
type Result<T> = std::result::Result<T, SettingsError>;

/// Returns early with a [`SettingsError`] built like `format!`.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(SettingsError(format!($($t)*)))
    };
}

/// What the command line gave (`None`: not given); the CLI fills this from its flags.
#[derive(Debug, Default, Clone)]
pub struct ServeFlags {
    /// `--config serve.toml`.
    pub config: Option<PathBuf>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--host`.
    pub host: Option<String>,
    /// `--model` (repeatable): the models to serve.
    pub models: Vec<String>,
    /// `--canary name@alias`.
    pub canary: Option<String>,
    /// `--canary-weight` (percent).
    pub canary_weight: Option<u8>,
    /// `--shadow name@alias`.
    pub shadow: Option<String>,
    /// `--shadow-fraction`.
    pub shadow_fraction: Option<f64>,
    /// `--admin-token-file`.
    pub admin_token_file: Option<PathBuf>,
    /// `--tls-cert` (PEM chain).
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` (PEM private key).
    pub tls_key: Option<PathBuf>,
    /// `--log-dir`.
    pub log_dir: Option<PathBuf>,
    /// `--no-log`.
    pub no_log: bool,
    /// `--log-policy block | drop`.
    pub log_policy: Option<String>,
    /// `--log-queue` (records).
    pub log_queue: Option<usize>,
    /// `--log-rotate-mib`.
    pub log_rotate_mib: Option<u64>,
    /// `--guard-window` (requests).
    pub guard_window: Option<usize>,
    /// `--guard-min-requests`.
    pub guard_min_requests: Option<usize>,
    /// `--guard-max-error-rate`.
    pub guard_max_error_rate: Option<f64>,
    /// `--guard-max-p99-ms`.
    pub guard_max_p99_ms: Option<f64>,
    /// `--guard-max-disagreement`.
    pub guard_max_disagreement: Option<f64>,
    /// `--batch-max-rows`.
    pub batch_max_rows: Option<usize>,
    /// `--batch-max-wait-us`.
    pub batch_max_wait_us: Option<u64>,
    /// The registry directory (flag, environment or default).
    pub registry: PathBuf,
    /// True when the registry came from the flag or the environment, not the default:
    /// only then does it win over the file's `registry`.
    pub registry_chosen: bool,
    /// `--actor`.
    pub actor: Option<String>,
    /// `PATH`, to check that alert commands exist.
    pub search_path: Option<OsString>,
}

/// What the server runs with, fully resolved.
#[derive(Debug)]
pub struct Settings {
    /// Address to bind.
    pub host: String,
    /// Port to bind.
    pub port: u16,
    /// The registry the models come from.
    pub registry: PathBuf,
    /// Who the audit log names for admin actions.
    pub actor: Option<String>,
    /// Models to serve (`name@alias`); empty: every model with a `production` alias.
    pub models: Vec<String>,
    /// A canary and its weight in percent.
    pub canary: Option<(String, u8)>,
    /// A shadow and the share of requests mirrored to it.
    pub shadow: Option<(String, f64)>,
    /// The file holding the admin API's bearer token.
    pub admin_token_file: Option<PathBuf>,
    /// The prediction log (`None`: off).
    pub log: Option<LogSettings>,
    /// Limits that roll a canary back.
    pub guard: Guardrails,
    /// Server-side batching (`None`: off).
    pub batching: Option<Batching>,
    /// Live monitoring (`None`: off).
    pub monitor: Option<MonitorResolved>,
    /// How long clients may idle and requests may drain.
    pub timeouts: crate::Timeouts,
    /// Per-client rate limits and quotas on inference (`None`: unlimited).
    pub limits: Option<crate::Limits>,
    /// HTTPS certificate chain and key files (`None`: plain HTTP).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The extraction-sweep rule (`None`: off).
    pub extraction: Option<crate::SweepRule>,
    /// Connection and header limits.
    pub connections: crate::Connections,
}

/// Live monitoring, resolved.
#[derive(Debug)]
pub struct MonitorResolved {
    /// Windows, thresholds and seeds.
    pub config: LiveConfig,
    /// Where live rows get their teacher's answer.
    pub teacher: Option<TeacherSource>,
    /// What an alert does.
    pub actions: Vec<AlertAction>,
}

/// The prediction log's settings.
#[derive(Debug)]
pub struct LogSettings {
    /// Where the log files go.
    pub dir: PathBuf,
    /// Block or drop when the writer falls behind.
    pub policy: Policy,
    /// Records the writer's queue holds.
    pub queue: usize,
    /// A file is rotated past this size.
    pub rotate_bytes: u64,
    /// What happens to personal data before a record is written.
    pub pii: crate::PiiPolicy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    host: Option<String>,
    port: Option<u16>,
    registry: Option<PathBuf>,
    actor: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    admin_token_file: Option<PathBuf>,
    canary: Option<CanaryFile>,
    shadow: Option<ShadowFile>,
    #[serde(default)]
    log: LogFile,
    guardrails: Option<Guardrails>,
    batching: Option<Batching>,
    monitor: Option<MonitorFile>,
    timeouts: Option<TimeoutsFile>,
    limits: Option<crate::Limits>,
    tls: Option<TlsFile>,
    extraction: Option<crate::SweepRule>,
    connections: Option<crate::Connections>,
}

/// `[tls]`: serve HTTPS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    /// PEM certificate chain, leaf first.
    cert: PathBuf,
    /// PEM private key of the leaf.
    key: PathBuf,
}

/// `[timeouts]`: seconds the server waits on clients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutsFile {
    /// Headers must arrive (and keep-alive connections may idle) within this.
    idle_s: Option<f64>,
    /// After SIGTERM, requests in flight may take this long before connections are dropped.
    drain_s: Option<f64>,
}

impl TimeoutsFile {
    fn resolve(&self) -> Result<crate::Timeouts> {
        let default = crate::Timeouts::default();
        let seconds = |what: &str, v: Option<f64>, or: std::time::Duration| match v {
            None => Ok(or),
            Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => {
                Ok(std::time::Duration::from_secs_f64(s))
            }
            Some(s) => {
                bail!("[timeouts] {what} = {s}: give a number of seconds between 0 and 3600")
            }
        };
        Ok(crate::Timeouts {
            idle: seconds("idle_s", self.idle_s, default.idle)?,
            drain: seconds("drain_s", self.drain_s, default.drain)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorFile {
    sample: Option<f64>,
    window: Option<usize>,
    teacher: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    teacher_url: Option<String>,
    teacher_fraction: Option<f64>,
    min_fidelity: Option<f64>,
    max_drift_share: Option<f64>,
    min_estimated_accuracy: Option<f64>,
    consecutive: Option<usize>,
    cooldown: Option<usize>,
    seed: Option<u64>,
    #[serde(default)]
    actions: Vec<ActionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionFile {
    kind: String,
    url: Option<String>,
    run: Option<Vec<String>>,
    recipe: Option<PathBuf>,
    canary_weight: Option<u8>,
    require_approval: Option<bool>,
    rows: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CanaryFile {
    model: String,
    weight: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowFile {
    model: String,
    fraction: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    policy: Option<String>,
    queue: Option<usize>,
    rotate_mib: Option<u64>,
    /// Column → hash | mask | drop | keep, over the data checks' flags (hash).
    #[serde(default)]
    pii: std::collections::BTreeMap<String, crate::PiiAction>,
    /// A file holding the secret `hash` is keyed with (any text); without it the key is
    /// random per start, so hashes do not join across restarts.
    pii_key_file: Option<PathBuf>,
}

impl Settings {
    /// Resolves the flags over the config file over the defaults.
    ///
    /// # Errors
    /// A value out of range, an unknown key, a missing file or program.
    pub fn resolve(args: &ServeFlags) -> Result<Settings> {
        let (file, base) = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    SettingsError(format!("reading the serve config {}: {e}", path.display()))
                })?;
                let file: File = toml::from_str(&text).map_err(|e| {
                    let file = format!("the serve config {}", path.display());
                    SettingsError(distillery_data::describe_toml_error(
                        &file,
                        &text,
                        e.message(),
                        e.span(),
                    ))
                })?;
                let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
                (file, base)
            }
            None => (File::default(), PathBuf::new()),
        };
        let here = |p: PathBuf| {
            let text = p.to_string_lossy();
            if p.is_absolute()
                || distillery_registry::is_postgres(&text)
                || text.starts_with("s3://")
            {
                p
            } else {
                base.join(p)
            }
        };
        // `--registry` has a default, so the file's value wins only over that default.
        let registry = match file.registry {
            Some(r) if !args.registry_chosen => here(r),
            _ => args.registry.clone(),
        };
        let canary = match (&args.canary, file.canary) {
            (Some(m), f) => Some((m.clone(), args.canary_weight.or(f.and_then(|f| f.weight)))),
            (None, Some(f)) => Some((f.model, args.canary_weight.or(f.weight))),
            (None, None) => None,
        }
        .map(|(m, w)| (m, w.unwrap_or(10)));
        if let Some((m, w)) = &canary
            && *w > 100
        {
            bail!("canary {m}: weight {w} must be between 0 and 100");
        }
        let shadow = match (&args.shadow, file.shadow) {
            (Some(m), f) => Some((
                m.clone(),
                args.shadow_fraction.or(f.and_then(|f| f.fraction)),
            )),
            (None, Some(f)) => Some((f.model, args.shadow_fraction.or(f.fraction))),
            (None, None) => None,
        }
        .map(|(m, f)| (m, f.unwrap_or(1.0)));
        if let Some((m, f)) = &shadow
            && !(0.0..=1.0).contains(f)
        {
            bail!("shadow {m}: fraction {f} must be between 0 and 1");
        }
        let logging = !args.no_log && file.log.enabled.unwrap_or(true);
        let log = if logging {
            let policy = match args
                .log_policy
                .as_deref()
                .or(file.log.policy.as_deref())
                .unwrap_or("block")
            {
                "block" => Policy::Block,
                "drop" => Policy::Drop,
                other => bail!("log policy '{other}' is unknown; use block or drop"),
            };
            let queue = args.log_queue.or(file.log.queue).unwrap_or(10_000);
            if queue == 0 {
                bail!("the log queue must hold at least one record");
            }
            let rotate_mib = args.log_rotate_mib.or(file.log.rotate_mib).unwrap_or(64);
            let key = match &file.log.pii_key_file {
                Some(path) => {
                    let path = here(path.clone());
                    let secret = std::fs::read(&path).map_err(|e| {
                        SettingsError(format!(
                            "[log] pii_key_file {}: {e}; give a readable file holding a secret",
                            path.display()
                        ))
                    })?;
                    if secret.trim_ascii().len() < 16 {
                        bail!(
                            "[log] pii_key_file {}: the secret must be at least 16 characters",
                            path.display()
                        );
                    }
                    *blake3::hash(secret.trim_ascii()).as_bytes()
                }
                None => rand::random::<[u8; 32]>(),
            };
            Some(LogSettings {
                dir: args
                    .log_dir
                    .clone()
                    .or(file.log.dir.map(here))
                    .unwrap_or_else(|| "predictions".into()),
                policy,
                queue,
                rotate_bytes: rotate_mib.max(1) << 20,
                pii: crate::PiiPolicy {
                    columns: file.log.pii.clone(),
                    key,
                },
            })
        } else {
            None
        };
        let mut guard = file.guardrails.unwrap_or_default();
        guard.window = args.guard_window.unwrap_or(guard.window);
        guard.min_requests = args.guard_min_requests.unwrap_or(guard.min_requests);
        guard.max_error_rate = args.guard_max_error_rate.or(guard.max_error_rate);
        guard.max_p99_ms = args.guard_max_p99_ms.or(guard.max_p99_ms);
        guard.max_disagreement = args.guard_max_disagreement.or(guard.max_disagreement);
        check_guardrails(&guard)?;
        let batching = match (args.batch_max_rows, file.batching) {
            (Some(max_rows), f) => Some(Batching {
                max_rows,
                max_wait_us: args
                    .batch_max_wait_us
                    .or(f.map(|f| f.max_wait_us))
                    .unwrap_or(500),
            }),
            (None, Some(f)) => Some(Batching {
                max_wait_us: args.batch_max_wait_us.unwrap_or(f.max_wait_us),
                ..f
            }),
            (None, None) => None,
        };
        if let Some(b) = &batching {
            if b.max_rows < 2 {
                bail!("batching max_rows {} must be at least 2", b.max_rows);
            }
            if b.max_wait_us > 1_000_000 {
                bail!(
                    "batching max_wait_us {} is over a second; use a few hundred",
                    b.max_wait_us
                );
            }
        }
        let monitor = file
            .monitor
            .map(|m| resolve_monitor(m, &here, log.is_some(), args.search_path.as_deref()))
            .transpose()?;
        let mut models = args.models.clone();
        if models.is_empty() {
            models = file.models;
        }
        let timeouts = match &file.timeouts {
            Some(t) => t.resolve()?,
            None => crate::Timeouts::default(),
        };
        if let Some(l) = &file.limits {
            l.check().map_err(SettingsError)?;
        }
        if let Some(e) = &file.extraction {
            e.check().map_err(SettingsError)?;
        }
        let connections = file.connections.unwrap_or_default();
        if connections.max == 0 || connections.max_headers == 0 {
            return Err(SettingsError(
                "[connections] max and max_headers must be at least 1".into(),
            ));
        }
        let tls = match (args.tls_cert.clone(), args.tls_key.clone(), file.tls) {
            (Some(cert), Some(key), _) => Some((cert, key)),
            (None, None, Some(t)) => Some((here(t.cert), here(t.key))),
            (None, None, None) => None,
            _ => {
                return Err(SettingsError(
                    "--tls-cert and --tls-key go together: give both, or neither (and [tls] cert and key in the file)".into(),
                ));
            }
        };
        Ok(Settings {
            host: args
                .host
                .clone()
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.or(file.port).unwrap_or(8080),
            registry,
            actor: args.actor.clone().or(file.actor),
            models,
            canary,
            shadow,
            admin_token_file: args
                .admin_token_file
                .clone()
                .or(file.admin_token_file.map(here)),
            log,
            guard,
            batching,
            monitor,
            timeouts,
            limits: file.limits,
            tls,
            extraction: file.extraction,
            connections,
        })
    }
}

fn resolve_monitor(
    m: MonitorFile,
    here: &dyn Fn(PathBuf) -> PathBuf,
    logging: bool,
    search_path: Option<&std::ffi::OsStr>,
) -> Result<MonitorResolved> {
    let defaults = LiveConfig::default();
    let config = LiveConfig {
        sample: m.sample.unwrap_or(defaults.sample),
        window: m.window.unwrap_or(defaults.window),
        teacher_fraction: m.teacher_fraction.unwrap_or(defaults.teacher_fraction),
        min_fidelity: m.min_fidelity,
        max_drift_share: m.max_drift_share,
        min_estimated_accuracy: m.min_estimated_accuracy,
        consecutive: m.consecutive.unwrap_or(defaults.consecutive),
        cooldown: m.cooldown.unwrap_or(defaults.cooldown),
        seed: m.seed.unwrap_or(defaults.seed),
    };
    if config.window < 10 {
        bail!(
            "[monitor] window {} is too small; use at least 10 rows (hundreds are typical)",
            config.window
        );
    }
    if (config.window as u64) < distillery_monitor::drift::FEW_ROWS {
        tracing::warn!(
            window = config.window,
            "[monitor] windows under {} rows give noisy drift shares (a distance from so few values is mostly noise); use hundreds of rows when max_drift_share matters",
            distillery_monitor::drift::FEW_ROWS
        );
    }
    if !(config.sample > 0.0 && config.sample <= 1.0) {
        bail!(
            "[monitor] sample {} must be a share in (0, 1]",
            config.sample
        );
    }
    if config.consecutive == 0 {
        bail!("[monitor] consecutive must be at least 1 window");
    }
    for (what, v) in [
        ("teacher_fraction", Some(config.teacher_fraction)),
        ("min_fidelity", config.min_fidelity),
        ("max_drift_share", config.max_drift_share),
        ("min_estimated_accuracy", config.min_estimated_accuracy),
    ] {
        if let Some(v) = v
            && !(0.0..=1.0).contains(&v)
        {
            bail!("[monitor] {what} {v} must be a share between 0 and 1");
        }
    }
    if m.tokenizer.is_some() && m.teacher.is_none() {
        bail!(
            "[monitor] tokenizer goes with teacher = \"teacher.onnx\" (a transformer over the text column); set both"
        );
    }
    let teacher = match (m.teacher, m.teacher_url) {
        (Some(_), Some(_)) => {
            bail!("[monitor] give teacher (an ONNX file) or teacher_url, not both")
        }
        (Some(p), None) => Some(match m.tokenizer {
            Some(t) => TeacherSource::Text {
                onnx: here(p),
                tokenizer: here(t),
            },
            None => TeacherSource::Onnx(here(p)),
        }),
        (None, Some(u)) => Some(TeacherSource::Url(u.trim_end_matches('/').to_string())),
        (None, None) => None,
    };
    if config.min_fidelity.is_some() && teacher.is_none() {
        bail!(
            "[monitor] min_fidelity needs a teacher: set teacher = \"teacher.onnx\" or teacher_url"
        );
    }
    let mut actions = Vec::new();
    for (i, a) in m.actions.into_iter().enumerate() {
        let at = format!("[[monitor.actions]] #{} ({})", i + 1, a.kind);
        actions.push(match a.kind.as_str() {
            "log" => AlertAction::Log,
            "rollback" => AlertAction::RollbackCanary,
            "webhook" => {
                let url = a
                    .url
                    .ok_or_else(|| SettingsError(format!("{at} needs url = \"http://…\"")))?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("{at}: url {url:?} must start with http:// or https://");
                }
                AlertAction::Webhook { url }
            }
            "command" => {
                let argv = a.run.filter(|r| !r.is_empty()).ok_or_else(|| {
                    SettingsError(format!("{at} needs run = [\"program\", \"arg\", …]"))
                })?;
                if !program_exists(&argv[0], search_path) {
                    bail!(
                        "{at}: program {:?} is not an executable file and is not on PATH",
                        argv[0]
                    );
                }
                AlertAction::Command { argv }
            }
            "redistill" => {
                if !logging {
                    bail!("{at} re-distils on the prediction log, but logging is off");
                }
                let recipe = here(a.recipe.ok_or_else(|| {
                    SettingsError(format!("{at} needs recipe = \"recipe.toml\""))
                })?);
                if !recipe.is_file() {
                    bail!("{at}: recipe {} does not exist", recipe.display());
                }
                let canary_weight = a.canary_weight.unwrap_or(10);
                if canary_weight > 100 {
                    bail!("{at}: canary_weight {canary_weight} must be between 0 and 100");
                }
                AlertAction::Redistill {
                    recipe,
                    canary_weight,
                    require_approval: a.require_approval.unwrap_or(false),
                    rows: a.rows.unwrap_or(5000),
                }
            }
            other => bail!("[[monitor.actions]] kind '{other}' is unknown; use log, webhook, command, rollback or redistill"),
        });
    }
    if actions.is_empty() {
        actions.push(AlertAction::Log);
    }
    Ok(MonitorResolved {
        config,
        teacher,
        actions,
    })
}

/// True when `program` names an executable file: a path as given, or a name found in a
/// directory of `PATH` (what the alert's process spawn will look for).
fn program_exists(program: &str, search_path: Option<&std::ffi::OsStr>) -> bool {
    let executable = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if program.contains(std::path::MAIN_SEPARATOR) || program.contains('/') {
        return executable(Path::new(program));
    }
    search_path
        .is_some_and(|paths| std::env::split_paths(paths).any(|dir| executable(&dir.join(program))))
}

fn check_guardrails(g: &Guardrails) -> Result<()> {
    if g.window == 0 {
        bail!("guardrail window must be at least 1 request");
    }
    if g.min_requests > g.window {
        bail!(
            "guardrail min_requests {} exceeds the window of {}: no limit could ever apply",
            g.min_requests,
            g.window
        );
    }
    for (what, v) in [
        ("max_error_rate", g.max_error_rate),
        ("max_disagreement", g.max_disagreement),
    ] {
        if let Some(v) = v
            && !(0.0..=1.0).contains(&v)
        {
            bail!("guardrail {what} {v} must be a share between 0 and 1");
        }
    }
    if let Some(ms) = g.max_p99_ms
        && (ms.is_nan() || ms <= 0.0)
    {
        bail!("guardrail max_p99_ms {ms} must be a positive number of milliseconds");
    }
    Ok(())
}
