//! Opening the registry the way every command does: `--registry` (or
//! `DISTILLERY_REGISTRY`), a folder or a PostgreSQL URL, with `--objects` (or
//! `DISTILLERY_OBJECTS`) the first time a shared registry is used; refusing a folder that
//! holds none unless the command registers; and the actor its audit entries name.

use anyhow::{Context, Result};
use distillery_registry::{Registry, is_postgres, redact};

use crate::cli::RegistryOptions;

/// Whether `--registry` names a PostgreSQL server.
fn on_postgres(options: &RegistryOptions) -> bool {
    is_postgres(&options.registry.to_string_lossy())
}

/// Whether there may be a registry to read: a PostgreSQL server always may, a folder only
/// when it exists.
pub(crate) fn present(options: &RegistryOptions) -> bool {
    on_postgres(options) || options.registry.exists()
}

/// The registry's location for messages, with any password hidden.
pub(crate) fn shown(options: &RegistryOptions) -> String {
    redact(&options.registry.to_string_lossy())
}

/// Opens an existing registry. A folder that holds none is refused, not silently created
/// empty: a mistyped `--registry` would otherwise look like a registry with no models.
pub(crate) fn open(options: &RegistryOptions) -> Result<Registry> {
    if !on_postgres(options) && !options.registry.join("registry.db").exists() {
        anyhow::bail!(
            "no registry in {}: nothing was ever registered there; check --registry (or DISTILLERY_REGISTRY). `distillery run` creates the registry when it registers its first student",
            options.registry.display()
        );
    }
    open_or_create(options)
}

/// Opens the registry, creating it if it does not exist yet (registering commands).
pub(crate) fn open_or_create(options: &RegistryOptions) -> Result<Registry> {
    // An empty DISTILLERY_OBJECTS counts as unset.
    let objects = options.objects.as_deref().filter(|o| !o.is_empty());
    Registry::open_with(&options.registry, objects)
        .with_context(|| format!("opening the registry {}", shown(options)))
}

/// `--actor`, else the OS user.
pub(crate) fn actor(options: &RegistryOptions) -> String {
    options
        .actor
        .clone()
        .unwrap_or_else(|| crate::environment::user().unwrap_or_else(|| "unknown".into()))
}
