//! Live monitoring inside the server: answered requests and feedback go through a bounded
//! queue to one background thread that runs a [`LiveMonitor`] per model (drift against the
//! version's profile, teacher fidelity, CBPE, streaming detectors) and carries out the
//! alert actions: a log line, a webhook, a command, or launching `distillery redistill` as
//! its own process (so a slow or failing re-distillation never touches serving).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use distillery_monitor::Profile;
use distillery_monitor::live::{Alert, LiveConfig, LiveMonitor, LiveState};
use distillery_teacher::Teacher;
use serde_json::{Value, json};

use crate::exposition::{Exposition, Kind};

/// Events queued for the monitor thread before new ones are dropped (and counted).
const QUEUE: usize = 10_000;

/// How long the monitor thread sleeps once its queue is empty; at 50,000 watched requests
/// a second a tick queues 250, far below [`QUEUE`].
const TICK: std::time::Duration = std::time::Duration::from_millis(5);

/// Longest a version's published state lags behind its monitor.
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// What an alert does.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertAction {
    /// A warning in the server's log.
    Log,
    /// POST the alert as JSON to a URL.
    Webhook {
        /// Where to send it.
        url: String,
    },
    /// Run a program with the alert as JSON in `DISTILLERY_ALERT`.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Take the model's canary out of routing (through the server's own admin API) when
    /// the alert was raised on the canary's traffic; alerts on the stable version are left
    /// to the other actions.
    RollbackCanary,
    /// Launch `distillery redistill` for the model: teacher-labelled recent traffic, a new
    /// student through the recipe's gates, registered and deployed as a canary.
    Redistill {
        /// The recipe the served student came from.
        recipe: PathBuf,
        /// Canary weight (0–100) of the new version.
        canary_weight: u8,
        /// Register only; a person deploys it.
        require_approval: bool,
        /// Most recent logged rows to re-distil on.
        rows: usize,
    },
}

/// Builds a teacher for a version from its reference profile, when one is configured.
pub type TeacherFactory = Box<dyn Fn(&Profile) -> Option<Box<dyn Teacher>> + Send + Sync>;

/// The monitor's settings, as the CLI resolves them.
pub struct MonitorSettings {
    /// Windows, teacher fraction and rules.
    pub config: LiveConfig,
    /// What alerts do, in order.
    pub actions: Vec<AlertAction>,
    /// Reference profiles by version label (`name/3`); other versions' profiles (a canary,
    /// a promoted re-distillation) are read from the registry when their traffic arrives.
    pub profiles: BTreeMap<String, Profile>,
    /// The teacher for each model, when fidelity is watched.
    pub teacher: TeacherFactory,
    /// The registry directory and prediction-log directory passed to `redistill`.
    pub registry_dir: PathBuf,
    /// Where the prediction log is written (re-distillation reads it).
    pub log_dir: Option<PathBuf>,
}

enum Event {
    Record(String, u32, Box<distillery_monitor::PredictionRecord>),
    Feedback(String, u32, bool),
}

/// The server's handle on the monitor thread.
pub struct Monitors {
    tx: SyncSender<Event>,
    /// Hand every `period`-th request to the monitor (1 = all).
    period: u64,
    requests: AtomicU64,
    states: Arc<Mutex<BTreeMap<String, LiveState>>>,
    dropped: Arc<AtomicU64>,
    alerts: Arc<AtomicU64>,
    /// The server's own address, known once it listens (for `redistill --server`).
    pub base_url: Arc<OnceLock<String>>,
}

impl Monitors {
    /// Starts the monitor thread; `admin_token` is handed to `redistill` through its
    /// environment (never on a command line or in a log).
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        settings: MonitorSettings,
        admin_token: Option<String>,
    ) -> std::io::Result<Monitors> {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let period = (1.0 / settings.config.sample.clamp(1e-6, 1.0))
            .round()
            .max(1.0) as u64;
        let states = Arc::new(Mutex::new(BTreeMap::new()));
        let alerts = Arc::new(AtomicU64::new(0));
        let base_url = Arc::new(OnceLock::new());
        let worker = Worker {
            settings,
            monitors: BTreeMap::new(),
            states: Arc::clone(&states),
            alerts: Arc::clone(&alerts),
            base_url: Arc::clone(&base_url),
            admin_token,
            registry: None,
            unmonitored: std::collections::BTreeSet::new(),
            published: BTreeMap::new(),
        };
        std::thread::Builder::new()
            .name("distillery-monitor".into())
            .spawn(move || worker.run(&rx))?;
        Ok(Monitors {
            tx,
            period,
            requests: AtomicU64::new(0),
            states,
            dropped: Arc::new(AtomicU64::new(0)),
            alerts,
            base_url,
        })
    }

    /// True when this request is one the monitor samples (decided before any copying).
    pub(crate) fn wants_next(&self) -> bool {
        self.period == 1
            || self
                .requests
                .fetch_add(1, Relaxed)
                .is_multiple_of(self.period)
    }

    /// Queues a request `version` of `model` answered (`{"rows", "inputs", "outputs"}`)
    /// without waiting.
    pub(crate) fn observe(
        &self,
        model: &str,
        version: u32,
        record: distillery_monitor::PredictionRecord,
    ) {
        self.send(Event::Record(model.to_string(), version, Box::new(record)));
    }

    /// Queues one row of feedback on an answer of `version`.
    pub(crate) fn feedback(&self, model: &str, version: u32, correct: bool) {
        self.send(Event::Feedback(model.to_string(), version, correct));
    }

    fn send(&self, event: Event) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(event)
        {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Every model's state, for `GET /monitor`.
    pub fn snapshot(&self) -> Value {
        let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
        json!({ "models": states, "dropped_events": self.dropped.load(Relaxed) })
    }

    /// Every watched model's state, keyed `model/version` (the console's health page).
    pub(crate) fn states(&self) -> BTreeMap<String, LiveState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The live page (`GET /monitor/page`).
    pub fn page(&self) -> String {
        let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
        distillery_monitor::render::live_html(&states)
    }

    /// Writes the monitor's families: per served version the last closed window's signals
    /// and the windows closed, then alerts fired and requests not monitored.
    pub(crate) fn render(&self, out: &mut Exposition) {
        // Read under the lock (writing lines is quick) rather than copying every history.
        let empty = BTreeMap::new();
        let guard = self.states.lock();
        let states = guard.as_deref().unwrap_or(&empty);
        let per_version = |out: &mut Exposition,
                           name: &str,
                           kind: Kind,
                           help: &str,
                           value: &dyn Fn(&LiveState) -> Option<f64>| {
            out.family(name, kind, help);
            for (key, s) in states {
                let (model, version) = key.rsplit_once('/').unwrap_or((key, ""));
                if let Some(v) = value(s) {
                    out.sample(name, &[("model", model), ("version", version)], v);
                }
            }
        };
        per_version(
            out,
            "distillery_monitor_fidelity",
            Kind::Gauge,
            "Agreement of student and teacher in the last closed window.",
            &|s| s.history.back()?.fidelity,
        );
        per_version(
            out,
            "distillery_monitor_drift_share",
            Kind::Gauge,
            "Share of features drifted in the last closed window.",
            &|s| Some(s.history.back()?.drift_share),
        );
        per_version(
            out,
            "distillery_monitor_estimated_accuracy",
            Kind::Gauge,
            "CBPE accuracy estimate of the last closed window.",
            &|s| s.history.back()?.estimated_accuracy,
        );
        per_version(
            out,
            "distillery_monitor_windows_total",
            Kind::Counter,
            "Monitoring windows closed.",
            &|s| Some(s.windows as f64),
        );
        per_version(
            out,
            "distillery_monitor_teacher_errors_total",
            Kind::Counter,
            "Windows whose teacher call failed, leaving them without fidelity.",
            &|s| Some(s.teacher_errors as f64),
        );
        out.single(
            "distillery_monitor_alerts_total",
            Kind::Counter,
            "Monitoring alerts fired.",
            self.alerts.load(Relaxed),
        );
        out.single(
            "distillery_monitor_dropped_events_total",
            Kind::Counter,
            "Requests not monitored because the queue was full.",
            self.dropped.load(Relaxed),
        );
    }
}

/// An HTTP client for alert actions (webhooks, the rollback call) that gives up after
/// ten seconds: a hung receiver must not stall the monitor thread.
fn alert_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into()
}

struct Worker {
    settings: MonitorSettings,
    monitors: BTreeMap<String, LiveMonitor>,
    states: Arc<Mutex<BTreeMap<String, LiveState>>>,
    alerts: Arc<AtomicU64>,
    base_url: Arc<OnceLock<String>>,
    admin_token: Option<String>,
    /// Opened when a version's profile was not loaded at start.
    registry: Option<distillery_registry::Registry>,
    /// Versions without a usable profile.
    unmonitored: std::collections::BTreeSet<String>,
    /// When each version's state was last published, and at how many windows.
    published: BTreeMap<String, (usize, std::time::Instant)>,
}

impl Worker {
    /// Drains the queue, then sleeps a [`TICK`]: a request handler never has to wake this
    /// thread (a futex wake per watched request cost the server more than the monitoring).
    fn run(mut self, rx: &Receiver<Event>) {
        loop {
            loop {
                match rx.try_recv() {
                    Ok(event) => self.handle(event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            std::thread::sleep(TICK);
        }
    }

    fn handle(&mut self, event: Event) {
        let (key, alert) = match event {
            Event::Record(model, version, record) => {
                let alert = self
                    .monitor(&model, version)
                    .and_then(|m| m.observe(&record));
                (format!("{model}/{version}"), alert)
            }
            Event::Feedback(model, version, correct) => {
                if let Some(m) = self.monitor(&model, version) {
                    m.feedback(correct);
                }
                (format!("{model}/{version}"), None)
            }
        };
        self.publish(&key, alert.is_some());
        if let Some(alert) = alert {
            self.alerts.fetch_add(1, Relaxed);
            self.act(&alert);
        }
    }

    /// Copies a monitor's state where `GET /monitor` and `/metrics` read it: at once when a
    /// window closed or an alert fired, else at most every [`PUBLISH_EVERY`], so a busy
    /// server does not copy the whole history on every request.
    fn publish(&mut self, key: &str, now: bool) {
        let Some(m) = self.monitors.get(key) else {
            return;
        };
        let windows = m.state().windows;
        let seen = self.published.get(key).copied();
        let due = now || seen.is_none_or(|(w, at)| w != windows || at.elapsed() >= PUBLISH_EVERY);
        if due && let Ok(mut states) = self.states.lock() {
            states.insert(key.to_string(), m.state().clone());
            self.published
                .insert(key.to_string(), (windows, std::time::Instant::now()));
        }
    }

    /// The monitor of one version, created on its first request.
    fn monitor(&mut self, model: &str, version: u32) -> Option<&mut LiveMonitor> {
        let key = format!("{model}/{version}");
        if !self.monitors.contains_key(&key) {
            if self.unmonitored.contains(&key) {
                return None;
            }
            let profile = match self.settings.profiles.get(&key) {
                Some(p) => p.clone(),
                None => match self.profile_from_registry(model, version) {
                    Some(p) => {
                        self.settings.profiles.insert(key.clone(), p.clone());
                        p
                    }
                    None => {
                        // Reported once; this version's traffic then goes unwatched.
                        self.unmonitored.insert(key);
                        return None;
                    }
                },
            };
            let teacher = (self.settings.teacher)(&profile);
            let mut m = LiveMonitor::new(model, profile, self.settings.config.clone(), teacher);
            m.set_version(version);
            self.monitors.insert(key.clone(), m);
        }
        self.monitors.get_mut(&key)
    }

    fn profile_from_registry(&mut self, model: &str, version: u32) -> Option<Profile> {
        if self.registry.is_none() {
            match distillery_registry::Registry::open(&self.settings.registry_dir) {
                Ok(r) => self.registry = Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "the monitor cannot open the registry");
                    return None;
                }
            }
        }
        let registry = self.registry.as_ref()?;
        let loaded = distillery_registry::Reference::parse(&format!("{model}/{version}"))
            .map_err(|e| e.to_string())
            .and_then(|r| registry.resolve(&r).map_err(|e| e.to_string()))
            .and_then(|v| registry.load(&v, "profile").map_err(|e| e.to_string()))
            .and_then(|bytes| serde_json::from_slice::<Profile>(&bytes).map_err(|e| e.to_string()));
        match loaded {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(model = %model, version, error = %e, "no reference profile: this version is not monitored");
                None
            }
        }
    }

    fn act(&mut self, alert: &Alert) {
        let payload = json!({ "kind": "distillery.monitor.alert", "alert": alert });
        for action in &self.settings.actions.clone() {
            match action {
                AlertAction::Log => tracing::warn!(
                    model = %alert.model,
                    window = alert.window,
                    reasons = %alert.reasons.join("; "),
                    "monitoring alert"
                ),
                AlertAction::Webhook { url } => {
                    let sent = alert_agent().post(url).send_json(&payload);
                    if let Err(e) = sent {
                        tracing::error!(url = %url, error = %e, "alert webhook failed");
                    }
                }
                AlertAction::Command { argv } => {
                    let Some((program, rest)) = argv.split_first() else {
                        continue;
                    };
                    let spawned = std::process::Command::new(program)
                        .args(rest)
                        .env("DISTILLERY_ALERT", payload.to_string())
                        .spawn();
                    if let Err(e) = spawned {
                        tracing::error!(program = %program, error = %e, "alert command failed to start");
                    }
                }
                AlertAction::RollbackCanary => self.rollback_canary(alert),
                AlertAction::Redistill {
                    recipe,
                    canary_weight,
                    require_approval,
                    rows,
                } => self.redistill(alert, recipe, *canary_weight, *require_approval, *rows),
            }
        }
    }

    fn rollback_canary(&mut self, alert: &Alert) {
        if self.registry.is_none() {
            self.registry = distillery_registry::Registry::open(&self.settings.registry_dir).ok();
        }
        let production = self
            .registry
            .as_ref()
            .and_then(|r| r.store().alias(&alert.model, "production").ok().flatten());
        if production == Some(alert.version) {
            tracing::info!(model = %alert.model, version = alert.version, "alert on the stable version: no canary to roll back");
            return;
        }
        let (Some(base), Some(token)) = (self.base_url.get(), &self.admin_token) else {
            tracing::error!("rolling a canary back needs the admin API: set an admin token");
            return;
        };
        let url = format!("{base}/admin/models/{}/rollback", alert.model);
        let why = format!(
            "monitoring alert on {}/{} at window {}: {}",
            alert.model,
            alert.version,
            alert.window,
            alert.reasons.join("; ")
        );
        let sent = alert_agent()
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(json!({ "why": why }));
        match sent {
            Ok(_) => {
                tracing::warn!(model = %alert.model, version = alert.version, "canary rolled back by the monitor")
            }
            Err(e) => tracing::error!(url = %url, error = %e, "canary rollback failed"),
        }
    }

    fn redistill(
        &self,
        alert: &Alert,
        recipe: &std::path::Path,
        weight: u8,
        approval: bool,
        rows: usize,
    ) {
        let Some(log_dir) = &self.settings.log_dir else {
            tracing::error!("re-distillation needs the prediction log; it is off");
            return;
        };
        let Ok(exe) = std::env::current_exe() else {
            tracing::error!("cannot find the distillery binary to launch redistill");
            return;
        };
        let mut command = std::process::Command::new(exe);
        command
            .arg("redistill")
            .arg("--model")
            .arg(&alert.model)
            .arg("--recipe")
            .arg(recipe)
            .arg("--log-dir")
            .arg(log_dir)
            .arg("--registry")
            .arg(&self.settings.registry_dir)
            .arg("--rows")
            .arg(rows.to_string())
            .arg("--canary-weight")
            .arg(weight.to_string())
            .arg("--why")
            .arg(format!(
                "monitoring alert on {}/{} at window {}: {}",
                alert.model,
                alert.version,
                alert.window,
                alert.reasons.join("; ")
            ))
            .arg("--json")
            .stdin(std::process::Stdio::null());
        if approval {
            command.arg("--require-approval");
        }
        let payload = json!({ "kind": "distillery.monitor.alert", "alert": alert });
        command.env("DISTILLERY_ALERT", payload.to_string());
        if let Some(url) = self.base_url.get() {
            command.arg("--server").arg(url);
        }
        if let Some(token) = &self.admin_token {
            command.env("DISTILLERY_ADMIN_TOKEN", token);
        }
        let report = log_dir.join(format!("redistill-window-{}.json", alert.window));
        match std::fs::File::create(&report) {
            Ok(file) => {
                command.stdout(file);
            }
            Err(e) => tracing::error!(error = %e, "cannot create the re-distillation report"),
        }
        match command.spawn() {
            Ok(mut child) => {
                tracing::warn!(model = %alert.model, report = %report.display(), "re-distillation launched");
                // Reap the child when it ends so it never lingers as a zombie.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
            }
            Err(e) => tracing::error!(error = %e, "cannot launch redistill"),
        }
    }
}

/// `GET /monitor` (JSON) and `GET /monitor/page` (for people): the live monitor's state.
pub(crate) fn routes() -> axum::Router<crate::app::Shared> {
    axum::Router::new()
        .route("/monitor", axum::routing::get(monitor))
        .route("/monitor/page", axum::routing::get(monitor_page))
}

/// `GET /monitor`: every watched model's windows, signals and alerts.
async fn monitor(
    axum::extract::State(server): axum::extract::State<crate::app::Shared>,
) -> axum::response::Response {
    match &server.monitors {
        Some(m) => axum::response::IntoResponse::into_response(axum::Json(m.snapshot())),
        None => crate::reply::error(
            axum::http::StatusCode::NOT_FOUND,
            "monitoring is off; add a [monitor] section to serve.toml",
        ),
    }
}

/// `GET /monitor/page`: the same state as a page for people (refreshes itself).
async fn monitor_page(
    axum::extract::State(server): axum::extract::State<crate::app::Shared>,
) -> axum::response::Response {
    match &server.monitors {
        Some(m) => axum::response::IntoResponse::into_response(axum::response::Html(m.page())),
        None => crate::reply::error(
            axum::http::StatusCode::NOT_FOUND,
            "monitoring is off; add a [monitor] section to serve.toml",
        ),
    }
}
