//! Opening the registry the way every command does: `--registry` (or
//! `DISTILLERY_REGISTRY`), refusing a path that holds none unless the command registers,
//! and the actor its audit entries name.

use anyhow::{Context, Result};
use distillery_registry::Registry;

use crate::cli::RegistryOptions;

/// Opens an existing registry. A path that holds none is refused, not silently created
/// empty: a mistyped `--registry` would otherwise look like a registry with no models.
pub(crate) fn open(options: &RegistryOptions) -> Result<Registry> {
    let db = options.registry.join("registry.db");
    if !db.exists() {
        anyhow::bail!(
            "no registry in {}: nothing was ever registered there; check --registry (or DISTILLERY_REGISTRY). `distillery run` creates the registry when it registers its first student",
            options.registry.display()
        );
    }
    open_or_create(options)
}

/// Opens the registry, creating it if it does not exist yet (registering commands).
pub(crate) fn open_or_create(options: &RegistryOptions) -> Result<Registry> {
    Registry::open(&options.registry)
        .with_context(|| format!("opening the registry in {}", options.registry.display()))
}

/// `--actor`, else the OS user.
pub(crate) fn actor(options: &RegistryOptions) -> String {
    options
        .actor
        .clone()
        .unwrap_or_else(|| crate::environment::user().unwrap_or_else(|| "unknown".into()))
}
