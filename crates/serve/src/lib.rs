//! Serving registered students over the Open Inference Protocol (KServe v2) REST API:
//! health, server and model metadata, readiness and inference, with the protocol's error
//! shape (`{"error": "…"}`: 400 for bad input naming the input or row, 404 for an unknown
//! model, 413 for an oversized body). Students are loaded from the registry, each artifact
//! hash-checked, and predict in-process through `distillery-runtime`.

mod admin;
mod app;
mod batch;
mod binary;
mod exposition;
mod feedback;
mod follow;
mod guard;
mod limits;
mod listen;
mod log;
mod metrics;
mod monitor;
mod oip;
mod pii;
mod predict;
mod recent;
mod reply;
mod settings;
mod ship;
mod sweep;
mod teacher_source;
mod tls;
pub mod ui;

use std::collections::BTreeMap;
use std::sync::Arc;

use distillery_registry::{ModelVersion, Reference, Registry};
use distillery_runtime::Student;

pub use admin::{Server, token_hash};
pub use app::app;
pub use batch::Batching;
pub use follow::Following;
pub use guard::{CanaryObservation, Guardrails, Window};
pub use limits::Limits;
pub use listen::{Connections, ListenOptions, Stopped, Timeouts, serve};
pub use log::{Policy, PredictionLog};
pub use metrics::Metrics;
pub use monitor::{AlertAction, MonitorSettings, Monitors, TeacherFactory};
pub use oip::MAX_BODY_BYTES;
pub use pii::{PiiAction, PiiPolicy};
pub use predict::decode_request;
pub use recent::VersionTraffic;
pub use settings::{LogSettings, MonitorResolved, ServeFlags, Settings, SettingsError};
pub use ship::LogShipper;
pub use sweep::SweepRule;
pub use teacher_source::{TeacherSource, teacher_for};
pub use tls::{TlsError, acceptor};

/// Serving errors.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A registry problem (missing alias, corrupt artifact, …).
    #[error(transparent)]
    Registry(#[from] distillery_registry::RegistryError),
    /// A stored student that does not load.
    #[error("{model}: {source}")]
    Student {
        /// `name/version`.
        model: String,
        /// Why it does not load.
        source: distillery_runtime::RuntimeError,
    },
    /// Nothing to serve.
    #[error("{0}")]
    Nothing(String),
}

/// One served model.
pub struct Served {
    /// The registry version behind it.
    pub version: ModelVersion,
    /// The student, ready to predict.
    pub student: Student,
    /// Input columns the data checks flagged as personal data (from the version's
    /// report): hashed in the prediction log unless serve.toml says otherwise.
    pub flagged_pii: Vec<String>,
}

/// Every served model, by name: one routing snapshot. The admin API replaces the whole
/// snapshot at once; requests in flight keep the one they started with, so a swap never
/// drops or mixes a request. Counters and the log are shared by all snapshots.
#[derive(Clone)]
pub struct Models {
    /// Name → model.
    pub by_name: BTreeMap<String, Arc<Served>>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where every request and answer is appended, when logging is on.
    pub log: Option<Arc<PredictionLog>>,
    /// Canary versions by model name, with the share of traffic (0–100) they receive.
    pub canaries: BTreeMap<String, (Arc<Served>, u8)>,
    /// Spreads requests without an id over stable and canary.
    pub counter: Arc<std::sync::atomic::AtomicU64>,
    /// Shadow versions by model name, with the fraction (0–1) of requests copied to them.
    /// A shadow's answers are compared and logged, never returned.
    pub shadows: BTreeMap<String, (Arc<Served>, f64)>,
}

/// Loads one version's student from the registry (hash-checked). Every served version
/// comes through here (stable, canary, shadow, admin API), so the registry's signature
/// policy is enforced once for all of them.
pub fn load_version(registry: &Registry, reference: &Reference) -> Result<Served, ServeError> {
    let version = registry.resolve(reference)?;
    registry.check_servable(&version)?;
    let bytes = registry.load(&version, "student")?;
    let student = Student::from_bytes(&bytes).map_err(|source| ServeError::Student {
        model: version.label(),
        source,
    })?;
    let flagged_pii = flagged_pii(registry, &version);
    Ok(Served {
        version,
        student,
        flagged_pii,
    })
}

/// The columns a version's data checks flagged as PII (`pii` findings in its report).
fn flagged_pii(registry: &Registry, version: &ModelVersion) -> Vec<String> {
    let Ok(bytes) = registry.load(version, "report") else {
        return Vec::new();
    };
    let Ok(report) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    report["checks"]["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter(|f| f["check"] == "pii")
                .filter_map(|f| f["column"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Models {
    /// Adds a shadow: `reference` sees a copy of `fraction` of the requests to the served
    /// model with the same name; its answers are compared with the served ones and logged.
    pub fn add_shadow(
        &mut self,
        registry: &Registry,
        reference: &str,
        fraction: f64,
    ) -> Result<(), ServeError> {
        let shadow = load_version(registry, &Reference::parse(reference)?)?;
        let name = shadow.version.name.clone();
        let Some(stable) = self.by_name.get(&name) else {
            return Err(ServeError::Nothing(format!(
                "shadow {reference}: model '{name}' is not served; serve its stable version too"
            )));
        };
        if stable.version.version == shadow.version.version {
            return Err(ServeError::Nothing(format!(
                "shadow {reference} is the stable version itself; name another version"
            )));
        }
        self.shadows
            .insert(name, (Arc::new(shadow), fraction.clamp(0.0, 1.0)));
        Ok(())
    }

    /// Adds a canary: `reference` (e.g. `name/4`) receives `weight`% of the traffic of the
    /// served model with the same name; a request with an `id` always goes the same way.
    pub fn add_canary(
        &mut self,
        registry: &Registry,
        reference: &str,
        weight: u8,
    ) -> Result<(), ServeError> {
        let canary = load_version(registry, &Reference::parse(reference)?)?;
        let name = canary.version.name.clone();
        let Some(stable) = self.by_name.get(&name) else {
            return Err(ServeError::Nothing(format!(
                "canary {reference}: model '{name}' is not served; serve its stable version too"
            )));
        };
        if stable.version.version == canary.version.version {
            return Err(ServeError::Nothing(format!(
                "canary {reference} is the stable version itself; name another version"
            )));
        }
        self.canaries
            .insert(name, (Arc::new(canary), weight.min(100)));
        Ok(())
    }

    /// Loads the named references (`name@alias`, `name/3`, `name`), or, when none are
    /// given, every model that has a `production` alias.
    pub fn load(registry: &Registry, references: &[String]) -> Result<Models, ServeError> {
        let refs: Vec<Reference> = if references.is_empty() {
            let mut names: Vec<String> = registry
                .store()
                .versions(None)?
                .into_iter()
                .map(|v| v.name)
                .collect();
            names.dedup();
            names
                .into_iter()
                .filter(|n| {
                    registry
                        .store()
                        .alias(n, "production")
                        .ok()
                        .flatten()
                        .is_some()
                })
                .map(|n| Reference::Alias(n, "production".into()))
                .collect()
        } else {
            references
                .iter()
                .map(|r| Reference::parse(r))
                .collect::<Result<_, _>>()?
        };
        if refs.is_empty() {
            return Err(ServeError::Nothing(
                "no model has a production alias; promote one (`distillery registry promote name/1 --to production`) or name models with --model".into(),
            ));
        }
        let mut by_name = BTreeMap::new();
        for r in &refs {
            let served = load_version(registry, r)?;
            by_name.insert(served.version.name.clone(), Arc::new(served));
        }
        Ok(Models {
            by_name,
            metrics: Arc::new(Metrics::default()),
            log: None,
            canaries: BTreeMap::new(),
            counter: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            shadows: BTreeMap::new(),
        })
    }
}
