//! Replicas that follow the registry: every server on a shared registry applies alias
//! changes made anywhere (a `registry promote` from a laptop, another replica's admin API,
//! a guardrail rollback) within a bounded time. The registry is the one truth: a replica
//! reads the followed alias (`production`), the `canary` and `shadow` aliases and the
//! traffic split recorded beside them, and makes its routing match whatever changed since
//! it last looked.
//!
//! A cheap counter of alias changes is polled (default every second); on PostgreSQL a
//! `LISTEN` connection wakes the replica at once. What a replica was started with (a
//! `--canary` flag, a pinned `--model name/3`) stays until the registry changes that alias.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use distillery_registry::{Reference, Registry, RegistryError};

use crate::admin::Server;
use crate::{Models, load_version};

/// What the registry says one served model's routing should be.
#[derive(Debug, Clone, PartialEq)]
struct Routing {
    /// The followed alias's version (`None` when the model is pinned, or the alias is gone).
    stable: Option<u32>,
    canary: Option<u32>,
    canary_weight: Option<u8>,
    shadow: Option<u32>,
    shadow_fraction: Option<f64>,
}

/// What this replica last saw in the registry.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The alias-change counter at the last look (`None`: look again).
    generation: Option<i64>,
    /// True once the starting point is recorded.
    started: bool,
    per_model: BTreeMap<String, Routing>,
}

/// Which alias each served model follows (`name` → `production`); absent = pinned.
#[derive(Debug, Clone, Default)]
pub struct Following {
    /// Model name → the alias whose changes it applies.
    pub aliases: BTreeMap<String, String>,
    /// How often the alias-change counter is polled.
    pub poll: Duration,
    /// The alias-change counter read just before the served models were loaded. When the
    /// first look finds another value, an alias changed while the replica was starting, so
    /// that look applies whatever the registry names that the replica does not serve
    /// instead of taking it as the starting point (a canary set then would never be routed
    /// to). `None`: the first look is the starting point.
    pub loaded_at: Option<i64>,
}

fn read(registry: &Registry, name: &str, alias: Option<&str>) -> Result<Routing, RegistryError> {
    let store = registry.store();
    let split: BTreeMap<String, String> = store.routing(name)?.into_iter().collect();
    Ok(Routing {
        stable: match alias {
            Some(a) => store.alias(name, a)?,
            None => None,
        },
        canary: store.alias(name, "canary")?,
        canary_weight: split.get("canary_weight").and_then(|w| w.parse().ok()),
        shadow: store.alias(name, "shadow")?,
        shadow_fraction: split.get("shadow_fraction").and_then(|f| f.parse().ok()),
    })
}

/// The routing this replica serves for `name`, in the registry's terms.
fn served(models: &Models, following: &Following, name: &str) -> Routing {
    Routing {
        stable: following
            .aliases
            .get(name)
            .and_then(|_| models.by_name.get(name))
            .map(|s| s.version.version),
        canary: models.canaries.get(name).map(|(c, _)| c.version.version),
        canary_weight: models.canaries.get(name).map(|(_, w)| *w),
        shadow: models.shadows.get(name).map(|(s, _)| s.version.version),
        shadow_fraction: models.shadows.get(name).map(|(_, f)| *f),
    }
}

/// Loads version `v` of `name` for serving, or says in the log why it cannot be.
fn load(registry: &Registry, name: &str, v: u32) -> Option<Arc<crate::Served>> {
    match load_version(registry, &Reference::Version(name.to_string(), v)) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::error!(model = name, version = v, error = %e, "cannot serve the version the registry names; keeping the current one");
            None
        }
    }
}

/// Applies to `next` what changed for `name` between `before` and `now`; true if anything did.
fn apply(
    registry: &Registry,
    next: &mut Models,
    name: &str,
    before: &Routing,
    now: &Routing,
) -> bool {
    let mut changed = false;
    if now.stable != before.stable
        && let Some(v) = now.stable
        && next
            .by_name
            .get(name)
            .is_some_and(|s| s.version.version != v)
        && let Some(s) = load(registry, name, v)
    {
        tracing::info!(
            model = name,
            stable = v,
            "following the registry: new stable version"
        );
        next.by_name.insert(name.to_string(), s);
        changed = true;
    }
    if now.canary != before.canary || now.canary_weight != before.canary_weight {
        match now.canary {
            None => changed |= next.canaries.remove(name).is_some(),
            Some(v) => {
                let current = next.canaries.get(name).cloned();
                let weight = now
                    .canary_weight
                    .or(current.as_ref().map(|(_, w)| *w))
                    .unwrap_or(10);
                let weight = weight.min(100);
                let served = match current {
                    // This replica's own change, seen back from the registry: nothing to
                    // do (and the guardrail's window must not restart).
                    Some((c, w)) if c.version.version == v && w == weight => None,
                    Some((c, _)) if c.version.version == v => Some(c),
                    _ => load(registry, name, v),
                };
                if let Some(c) = served {
                    next.canaries.insert(name.to_string(), (c, weight));
                    changed = true;
                }
            }
        }
    }
    if now.shadow != before.shadow || now.shadow_fraction != before.shadow_fraction {
        match now.shadow {
            None => changed |= next.shadows.remove(name).is_some(),
            Some(v) => {
                let current = next.shadows.get(name).cloned();
                let fraction = now
                    .shadow_fraction
                    .or(current.as_ref().map(|(_, f)| *f))
                    .unwrap_or(1.0);
                let fraction = fraction.clamp(0.0, 1.0);
                let served = match current {
                    Some((s, f)) if s.version.version == v && f == fraction => None,
                    Some((s, _)) if s.version.version == v => Some(s),
                    _ => load(registry, name, v),
                };
                if let Some(s) = served {
                    next.shadows.insert(name.to_string(), (s, fraction));
                    changed = true;
                }
            }
        }
    }
    changed
}

impl Server {
    /// Looks at the registry once: the first look records what it says; later looks apply
    /// what changed since. Returns true when the routing changed. Blocking: call it off the
    /// async threads.
    ///
    /// # Errors
    /// The registry cannot be read (the routing is left as it was).
    pub fn sync_with_registry(&self) -> Result<bool, RegistryError> {
        let Some(following) = &self.following else {
            return Ok(false);
        };
        let registry = self
            .registry
            .lock()
            .map_err(|_| RegistryError::Invalid("the registry lock is poisoned".into()))?;
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| RegistryError::Invalid("the follow state is poisoned".into()))?;
        let generation = registry.store().alias_generation()?;
        if seen.generation == Some(generation) {
            return Ok(false);
        }
        let current = self.current();
        // Changed while starting: compare the registry with what this replica serves.
        let started_stale = !seen.started && following.loaded_at.is_some_and(|g| g != generation);
        let mut next = (*current).clone();
        let mut changed = Vec::new();
        for name in current.by_name.keys() {
            let alias = following.aliases.get(name).map(String::as_str);
            let now = read(&registry, name, alias)?;
            let before = if started_stale {
                Some(served(&current, following, name))
            } else {
                seen.per_model.get(name).cloned()
            };
            if let Some(before) = before
                && apply(&registry, &mut next, name, &before, &now)
            {
                changed.push(name.clone());
            }
            seen.per_model.insert(name.clone(), now);
        }
        seen.generation = Some(generation);
        seen.started = true;
        if changed.is_empty() {
            return Ok(false);
        }
        self.swap(next);
        for name in &changed {
            self.forget_canary(name);
        }
        Ok(true)
    }

    /// Records this replica's own change to `name` as seen: what it now serves is what it
    /// wrote to the registry. Without this, a change that another replica undoes before
    /// the next look would look like no change at all, and the routing would stay stale.
    pub(crate) fn remember_own_change(&self, name: &str) {
        let Some(following) = &self.following else {
            return;
        };
        let mine = served(&self.current(), following, name);
        if let Ok(mut seen) = self.seen.lock()
            && seen.started
        {
            seen.per_model.insert(name.to_string(), mine);
            // Look again next time even if no one else changes anything.
            seen.generation = None;
        }
    }

    /// Starts following the registry: polls at `following.poll`, and on PostgreSQL also
    /// wakes on every `NOTIFY`. Call inside the tokio runtime, after a first
    /// [`Server::sync_with_registry`] has recorded the starting point.
    pub fn start_following(self: &Arc<Server>) {
        let Some(following) = &self.following else {
            return;
        };
        let poll = following.poll;
        let wake = Arc::new(tokio::sync::Notify::new());
        let listening = {
            let wake = Arc::clone(&wake);
            match self.registry.lock() {
                Ok(r) => r.listen_for_alias_changes(Box::new(move || wake.notify_one())),
                Err(_) => false,
            }
        };
        tracing::info!(
            poll_ms = poll.as_millis() as u64,
            listening,
            "following the registry's aliases"
        );
        let server = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = wake.notified() => {}
                }
                let s = Arc::clone(&server);
                match tokio::task::spawn_blocking(move || s.sync_with_registry()).await {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "could not read the registry; will retry");
                    }
                    Err(e) => tracing::error!(error = %e, "the registry follower failed"),
                    Ok(Ok(_)) => {}
                }
            }
        });
    }
}
