//! The running server's state and its admin API (`/admin/…`, bearer-token protected with
//! a constant-time comparison): change a canary's version or weight, promote the canary to
//! stable, roll the canary back. Every change is written to the registry — the `canary`
//! and `production` aliases and their audit entries — and swaps the routing snapshot
//! atomically.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::Json;
use axum::extract::{Path, State};

use axum::response::{IntoResponse, Response};
use distillery_registry::{Change, Reference, Registry};
use serde_json::{Value, json};

use crate::guard::{CanaryObservation, Guardrails, Window};
use crate::reply::{ApiError, JsonObject};
use crate::{Models, Served, load_version};

/// Routing plus what the admin API and the guardrails need.
pub struct Server {
    routing: RwLock<Arc<Models>>,
    pub(crate) registry: Mutex<Registry>,
    /// Which aliases this replica follows in the registry, when it follows it.
    pub(crate) following: Option<crate::follow::Following>,
    /// What the registry said at the last look.
    pub(crate) seen: Mutex<crate::follow::Seen>,
    /// BLAKE3 of the admin token: the token itself is not kept.
    admin_token: Option<[u8; 32]>,
    actor: String,
    guard: Option<Guardrails>,
    windows: Mutex<BTreeMap<String, Window>>,
    /// Recent answers, for feedback to be matched against.
    pub(crate) answers: crate::feedback::Answers,
    /// The micro-batcher, when batching is on.
    pub(crate) batcher: Option<crate::batch::Batcher>,
    /// Live monitoring, when `[monitor]` is set.
    pub monitors: Option<crate::Monitors>,
    /// Per-client rate limits and quotas, when `[limits]` is set.
    pub(crate) limiter: Option<crate::limits::Limiter>,
    /// The extraction-sweep rule, under `[extraction]`.
    pub(crate) sweep: Option<crate::sweep::SweepWatch>,
    /// Connections closed at accept because `[connections] max` were open.
    pub connections_refused: Arc<std::sync::atomic::AtomicU64>,
}

impl Server {
    /// A server over `models`; `admin_token` (never logged) enables `/admin/…`; `guard`
    /// (when it sets a limit) rolls canaries back automatically.
    pub fn new(
        models: Models,
        registry: Registry,
        admin_token: Option<String>,
        actor: String,
        guard: Option<Guardrails>,
    ) -> Server {
        Server {
            routing: RwLock::new(Arc::new(models)),
            registry: Mutex::new(registry),
            following: None,
            seen: Mutex::default(),
            admin_token: admin_token
                .filter(|t| !t.is_empty())
                .map(|t| token_hash(&t)),
            actor,
            guard: guard.filter(Guardrails::any),
            windows: Mutex::new(BTreeMap::new()),
            answers: crate::feedback::Answers::new(crate::feedback::REMEMBERED),
            batcher: None,
            monitors: None,
            limiter: None,
            sweep: None,
            connections_refused: Arc::default(),
        }
    }

    /// Limits each client's inference requests (`[limits]`).
    #[must_use]
    pub fn with_limits(mut self, limits: crate::Limits) -> Server {
        self.limiter = Some(crate::limits::Limiter::new(limits));
        self
    }

    /// Follows the registry's aliases, so changes made anywhere reach this replica.
    #[must_use]
    pub fn with_following(mut self, following: crate::follow::Following) -> Server {
        self.following = Some(following);
        self
    }

    /// Watches each client for queries that sweep the input space (`[extraction]`).
    #[must_use]
    pub fn with_sweep_rule(mut self, rule: crate::SweepRule) -> Server {
        self.sweep = Some(crate::sweep::SweepWatch::new(rule));
        self
    }

    /// Turns live monitoring on.
    #[must_use]
    pub fn with_monitors(mut self, monitors: crate::Monitors) -> Server {
        self.monitors = Some(monitors);
        self
    }

    /// Turns micro-batching on; call from inside the tokio runtime that will serve.
    #[must_use]
    pub fn with_batching(mut self, limits: crate::Batching) -> Server {
        self.batcher = Some(crate::batch::Batcher::start(limits));
        self
    }

    /// Records a request that `name`'s canary answered; rolls the canary back when it
    /// breaches a guardrail.
    pub(crate) fn observe_canary(&self, name: &str, o: CanaryObservation) {
        let Some(g) = &self.guard else { return };
        let breach = match self.windows.lock() {
            Ok(mut w) => w.entry(name.to_string()).or_default().observe(g, o),
            Err(_) => None,
        };
        if let Some(reason) = breach {
            self.guardrail_rollback(name, &reason);
        }
    }

    /// A fresh start for `name`'s guardrail window (a new canary or a new weight).
    pub(crate) fn forget_canary(&self, name: &str) {
        if let Ok(mut w) = self.windows.lock() {
            w.remove(name);
        }
    }

    fn guardrail_rollback(&self, name: &str, reason: &str) {
        let Ok(registry) = self.registry.lock() else {
            return;
        };
        let mut models = (*self.current()).clone();
        let Some((canary, _)) = models.canaries.remove(name) else {
            return; // another request already rolled it back
        };
        self.swap(models);
        self.remember_own_change(name);
        tracing::warn!(
            model = name,
            version = canary.version.version,
            reason,
            "guardrail rolled the canary back"
        );
        let why = format!("guardrail breached: {reason}");
        let change = Change {
            actor: &self.actor,
            why: &why,
        };
        // Decided once, in the registry: of replicas breaching together, one clears the
        // alias; the others find it already moved and record nothing.
        match registry.store().clear_alias_if(
            name,
            "canary",
            canary.version.version,
            "guardrail rollback",
            &change,
        ) {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                model = name,
                "the canary alias had already moved (another replica decided)"
            ),
            Err(e) => {
                tracing::error!(model = name, error = %e, "could not record the guardrail rollback");
            }
        }
        self.current().metrics.record_guardrail_rollback(name);
    }

    /// The current routing snapshot.
    pub fn current(&self) -> Arc<Models> {
        match self.routing.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn swap(&self, models: Models) {
        match self.routing.write() {
            Ok(mut g) => *g = Arc::new(models),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(models),
        }
    }
}

impl Server {
    /// Whether the admin API (and so the console's actions) is on.
    pub(crate) fn admin_enabled(&self) -> bool {
        self.admin_token.is_some()
    }

    /// Whether `token` is the admin token, compared in constant time; false when it is off.
    pub(crate) fn is_admin_token(&self, token: &str) -> bool {
        self.admin_token
            .as_ref()
            .is_some_and(|t| same(blake3::hash(token.as_bytes()).as_bytes(), t))
    }
}

/// Equal-length byte strings compared without an early exit.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hash an admin token is checked against. A token written as `blake3:<64 hex digits>`
/// (what `distillery serve --hash-token` prints) is already its hash, so the server's
/// token file need not hold the secret itself.
pub fn token_hash(token: &str) -> [u8; 32] {
    let parsed = token.strip_prefix("blake3:").and_then(|hex| {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        <[u8; 32]>::try_from(bytes?).ok()
    });
    parsed.unwrap_or_else(|| *blake3::hash(token.as_bytes()).as_bytes())
}

/// A caller that holds the admin token: an admin handler that takes this runs only for
/// such callers, and the body of anyone else is never read.
pub(crate) struct Admin;

impl axum::extract::FromRequestParts<Arc<Server>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        server: &Arc<Server>,
    ) -> Result<Admin, ApiError> {
        if !server.admin_enabled() {
            return Err(ApiError::Forbidden(
                "the admin API is off; start the server with --admin-token-file or DISTILLERY_ADMIN_TOKEN".into(),
            ));
        }
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if server.is_admin_token(given) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized(
                "missing or wrong admin token (Authorization: Bearer …)".into(),
            ))
        }
    }
}

/// The registry lock every admin change takes first: it serialises routing changes so none
/// is lost. A following replica first catches up with the registry, so it never acts on a
/// routing another replica has already changed.
fn lock(server: &Server) -> Result<std::sync::MutexGuard<'_, Registry>, ApiError> {
    server.sync_with_registry().map_err(internal)?;
    server
        .registry
        .lock()
        .map_err(|_| ApiError::Internal("the registry lock is poisoned".into()))
}

/// A copy of the routing snapshot and the stable version of `name`, which must be served.
fn snapshot(server: &Server, name: &str) -> Result<(Models, Arc<Served>), ApiError> {
    let models = (*server.current()).clone();
    let stable = models
        .by_name
        .get(name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("model '{name}' is not served")))?;
    Ok((models, stable))
}

/// For a change that ends `name`'s canary (promotion or rollback): the registry, a copy of
/// the routing snapshot without the canary, and the canary itself.
fn take_canary<'s>(
    server: &'s Server,
    name: &str,
    verb: &str,
) -> Result<(std::sync::MutexGuard<'s, Registry>, Models, Arc<Served>), ApiError> {
    let registry = lock(server)?;
    let mut models = (*server.current()).clone();
    let (canary, _) = models
        .canaries
        .remove(name)
        .ok_or_else(|| ApiError::BadRequest(format!("model '{name}' has no canary to {verb}")))?;
    Ok((registry, models, canary))
}

/// A registry write that failed: the server's fault, not the caller's.
fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Version `v` of the stable version's model, loaded to serve beside it (as a canary or a
/// shadow): not the stable version itself, and servable (known, signed when required,
/// intact), else a 400 saying why.
fn other_version(registry: &Registry, stable: &Served, v: u64) -> Result<Arc<Served>, ApiError> {
    if v == u64::from(stable.version.version) {
        return Err(ApiError::BadRequest(format!(
            "version {v} is the stable version"
        )));
    }
    let version = u32::try_from(v)
        .map_err(|_| ApiError::BadRequest(format!("version {v} does not exist")))?;
    let reference = Reference::Version(stable.version.name.clone(), version);
    load_version(registry, &reference)
        .map(Arc::new)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A re-distilled version that waits for a person's approval, or was rejected, is not
/// deployed by any path: only approving it (the console's Approvals page) lets it out.
fn approved(registry: &Registry, v: &distillery_registry::ModelVersion) -> Result<(), ApiError> {
    let tags = registry
        .store()
        .tags(&v.name, v.version)
        .map_err(internal)?;
    match tags.iter().find(|(k, _)| k == "redistill") {
        Some((_, t)) if !t.starts_with("approved") => Err(ApiError::BadRequest(format!(
            "{}/{} is a re-distilled version marked '{t}'; approve it first (the console's Approvals page)",
            v.name, v.version
        ))),
        _ => Ok(()),
    }
}

fn why(body: &Value) -> String {
    body["why"].as_str().unwrap_or("").to_string()
}

/// The admin API: canary, promotion, rollback and shadow, each behind the bearer token.
pub(crate) fn routes() -> axum::Router<crate::app::Shared> {
    use axum::routing::post;
    axum::Router::new()
        .route("/admin/models/{name}/canary", post(canary))
        .route("/admin/models/{name}/promote", post(promote))
        .route("/admin/models/{name}/rollback", post(rollback))
        .route("/admin/models/{name}/shadow", post(shadow))
}

/// `POST /admin/models/{m}/canary {"version": 4, "weight": 10, "why": "…"}`.
async fn canary(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    _: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let who = Who {
        actor: &server.actor,
        why: &why(&body),
    };
    let done = set_canary(
        &server,
        &name,
        body["version"].as_u64(),
        body["weight"].as_u64(),
        who,
    )?;
    Ok(Json(done).into_response())
}

/// `POST /admin/models/{m}/promote {"why": "…"}`: the canary becomes the stable version and
/// the registry's `production` alias.
async fn promote(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    _: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let reason = why(&body);
    let who = Who {
        actor: &server.actor,
        why: &reason,
    };
    Ok(Json(promote_canary(&server, &name, who)?).into_response())
}

/// `POST /admin/models/{m}/rollback {"why": "…"}`: the canary stops receiving traffic.
async fn rollback(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    _: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let reason = why(&body);
    let who = Who {
        actor: &server.actor,
        why: &reason,
    };
    Ok(Json(rollback_canary(&server, &name, who)?).into_response())
}

/// Who asks for a routing change and why: the admin API's actor, or the person logged in
/// to the console.
#[derive(Clone, Copy)]
pub(crate) struct Who<'a> {
    pub(crate) actor: &'a str,
    pub(crate) why: &'a str,
}

impl<'a> Who<'a> {
    fn change(self) -> Change<'a> {
        Change {
            actor: self.actor,
            why: self.why,
        }
    }
}

/// Sets `name`'s canary (a version, a weight, or both; each kept when not given), in the
/// registry and in routing. The admin API and the console both act through this.
pub(crate) fn set_canary(
    server: &Server,
    name: &str,
    version: Option<u64>,
    weight: Option<u64>,
    who: Who<'_>,
) -> Result<Value, ApiError> {
    let registry = lock(server)?;
    let (mut models, stable) = snapshot(server, name)?;
    let weight = match weight {
        Some(w) if w <= 100 => w as u8,
        Some(w) => {
            return Err(ApiError::BadRequest(format!(
                "weight {w} must be between 0 and 100"
            )));
        }
        None => match models.canaries.get(name) {
            Some((_, w)) => *w,
            None => return Err(ApiError::BadRequest("give \"weight\" (0–100)".into())),
        },
    };
    let canary = match version {
        Some(v) => {
            let c = other_version(&registry, &stable, v)?;
            approved(&registry, &c.version)?;
            c
        }
        None => match models.canaries.get(name) {
            Some((c, _)) => Arc::clone(c),
            None => {
                return Err(ApiError::BadRequest(
                    "no canary yet; give \"version\"".into(),
                ));
            }
        },
    };
    // The weight first: a replica that sees the alias change reads the new weight with it.
    registry
        .store()
        .set_routing(name, "canary_weight", Some(&weight.to_string()))
        .map_err(internal)?;
    registry
        .store()
        .set_alias(
            name,
            "canary",
            Some(canary.version.version),
            &format!("canary version {} weight {weight}", canary.version.version),
            &who.change(),
        )
        .map_err(internal)?;
    let version = canary.version.version;
    models.canaries.insert(name.to_string(), (canary, weight));
    server.swap(models);
    server.remember_own_change(name);
    server.forget_canary(name);
    tracing::info!(model = %name, canary = version, weight, actor = %who.actor, "canary set");
    Ok(
        json!({ "model": name, "stable": stable.version.version, "canary": version, "weight": weight }),
    )
}

/// Makes `name`'s canary the stable version and the registry's `production` alias.
pub(crate) fn promote_canary(server: &Server, name: &str, who: Who<'_>) -> Result<Value, ApiError> {
    let (registry, mut models, canary) = take_canary(server, name, "promote")?;
    let change = who.change();
    registry
        .promote(&canary.version, "production", false, &change)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let _ = registry
        .store()
        .set_alias(name, "canary", None, "canary promoted", &change);
    let version = canary.version.version;
    models.by_name.insert(name.to_string(), canary);
    server.swap(models);
    server.remember_own_change(name);
    server.forget_canary(name);
    tracing::info!(model = %name, stable = version, actor = %who.actor, "canary promoted");
    Ok(json!({ "model": name, "stable": version }))
}

/// Takes `name`'s canary out of traffic and clears the registry's `canary` alias.
pub(crate) fn rollback_canary(
    server: &Server,
    name: &str,
    who: Who<'_>,
) -> Result<Value, ApiError> {
    let (registry, models, canary) = take_canary(server, name, "roll back")?;
    registry
        .store()
        .set_alias(name, "canary", None, "canary rollback", &who.change())
        .map_err(internal)?;
    server.swap(models);
    server.remember_own_change(name);
    server.forget_canary(name);
    tracing::info!(model = %name, version = canary.version.version, actor = %who.actor, "canary rolled back");
    Ok(json!({ "model": name, "rolled_back": canary.version.version }))
}

/// `POST /admin/models/{m}/shadow {"version": 5, "fraction": 0.1, "why": "…"}` starts a
/// shadow or changes it; `{"version": null}` stops it. Recorded as the `shadow` alias.
async fn shadow(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    _: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let registry = lock(&server)?;
    let (mut models, stable) = snapshot(&server, &name)?;
    let reason = why(&body);
    let change = Change {
        actor: &server.actor,
        why: &reason,
    };
    if body.get("version").is_some_and(Value::is_null) {
        let (old, _) = models
            .shadows
            .remove(&name)
            .ok_or_else(|| ApiError::BadRequest(format!("model '{name}' has no shadow to stop")))?;
        registry
            .store()
            .set_alias(&name, "shadow", None, "shadow stopped", &change)
            .map_err(internal)?;
        server.swap(models);
        server.remember_own_change(&name);
        return Ok(Json(json!({ "model": name, "stopped": old.version.version })).into_response());
    }
    let fraction = match body.get("fraction").map(Value::as_f64) {
        Some(Some(f)) if (0.0..=1.0).contains(&f) => f,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "\"fraction\" must be a number between 0 and 1".into(),
            ));
        }
        None => models.shadows.get(&name).map_or(1.0, |(_, f)| *f),
    };
    let shadow = match body["version"].as_u64() {
        Some(v) => other_version(&registry, &stable, v)?,
        None => match models.shadows.get(&name) {
            Some((sh, _)) => Arc::clone(sh),
            None => {
                return Err(ApiError::BadRequest(
                    "no shadow yet; give \"version\"".into(),
                ));
            }
        },
    };
    registry
        .store()
        .set_routing(&name, "shadow_fraction", Some(&fraction.to_string()))
        .map_err(internal)?;
    registry
        .store()
        .set_alias(
            &name,
            "shadow",
            Some(shadow.version.version),
            &format!("shadow fraction {fraction}"),
            &change,
        )
        .map_err(internal)?;
    let version = shadow.version.version;
    models.shadows.insert(name.clone(), (shadow, fraction));
    server.swap(models);
    server.remember_own_change(&name);
    Ok(Json(json!({ "model": name, "shadow": version, "fraction": fraction })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same(b"secret-token", b"secret-token"));
        assert!(!same(b"secret-token", b"secret-tokeN"));
        assert!(!same(b"secret", b"secret-token"));
    }
}
