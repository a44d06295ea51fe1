//! The storage behind the registry, as a trait so that a PostgreSQL + object-store backend
//! can replace SQLite without touching callers. Every method is one atomic change.

use crate::dump::Dump;
use crate::error::Result;
use crate::records::{Artifact, AuditEntry, Dataset, ModelVersion, RunRecord};
use crate::signing::DetachedSignature;

/// A change's who and why, written to the audit log in the same transaction.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Who.
    pub actor: &'a str,
    /// Why.
    pub why: &'a str,
}

/// Metadata storage of the registry.
pub trait Store: Send {
    /// Records a dataset (kept as first seen when the fingerprint exists).
    fn put_dataset(&self, d: &Dataset) -> Result<()>;
    /// A dataset by fingerprint.
    fn dataset(&self, fingerprint: &str) -> Result<Option<Dataset>>;
    /// Records a run (kept as first seen when the id exists).
    fn put_run(&self, r: &RunRecord) -> Result<()>;
    /// A run by id.
    fn run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    /// Creates the next version of `name`, atomically with its audit entry; returns it.
    fn create_version(
        &self,
        name: &str,
        run_id: &str,
        artifacts: &[Artifact],
        gates_passed: bool,
        change: &Change<'_>,
    ) -> Result<ModelVersion>;
    /// The versions of `name` (all names when `None`), oldest first.
    fn versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>>;
    /// One version.
    fn version(&self, name: &str, version: u32) -> Result<Option<ModelVersion>>;
    /// Points `alias` of `name` at `version` (or removes it with `None`); returns the
    /// previous target. Recorded in the alias history and the audit log.
    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<u32>,
        action: &str,
        change: &Change<'_>,
    ) -> Result<Option<u32>>;
    /// The version an alias points at.
    fn alias(&self, name: &str, alias: &str) -> Result<Option<u32>>;
    /// Every alias of `name` and its version.
    fn aliases(&self, name: &str) -> Result<Vec<(String, u32)>>;
    /// The successive targets of an alias, oldest first (`None` = removed).
    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<Option<u32>>>;
    /// Sets a tag on a version.
    fn set_tag(
        &self,
        name: &str,
        version: u32,
        key: &str,
        value: &str,
        change: &Change<'_>,
    ) -> Result<()>;
    /// The tags of a version.
    fn tags(&self, name: &str, version: u32) -> Result<Vec<(String, String)>>;
    /// The audit log (of one model when `name` is given), oldest first.
    fn audit(&self, name: Option<&str>) -> Result<Vec<AuditEntry>>;
    /// Stores a detached signature of a version (one per public key; re-signing replaces it).
    fn add_signature(
        &self,
        name: &str,
        version: u32,
        s: &DetachedSignature,
        change: &Change<'_>,
    ) -> Result<()>;
    /// The signatures of a version.
    fn signatures(&self, name: &str, version: u32) -> Result<Vec<DetachedSignature>>;
    /// The backend's own consistency check; an empty list means healthy.
    fn integrity_check(&self) -> Result<Vec<String>>;
    /// A registry setting (`objects`: where its artifacts live), when one was recorded.
    fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Records a setting unless one is already there; returns the value that holds.
    fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String>;
    /// Replaces a setting, with an audit entry (`configure`) in the same transaction.
    fn put_setting(&self, key: &str, value: &str, change: &Change<'_>) -> Result<()>;
    /// Every row, for a migration.
    fn dump(&self) -> Result<Dump>;
    /// Writes a dump into this registry in one transaction, keeping recorded times and
    /// actors. Refuses a registry that already holds datasets, runs, versions or audit.
    fn restore(&self, dump: &Dump) -> Result<()>;
    /// Removes `alias` of `name` only if it still points at `expected`, in one transaction
    /// (audited like `set_alias`); false when it had already moved. This is how a decision
    /// that several replicas may reach at once (a guardrail rollback) is taken exactly once.
    fn clear_alias_if(
        &self,
        name: &str,
        alias: &str,
        expected: u32,
        action: &str,
        change: &Change<'_>,
    ) -> Result<bool>;
    /// Records how a served model's traffic is split (`canary_weight`, `shadow_fraction`)
    /// for every replica to apply; `None` removes it. The alias change that goes with it
    /// is what the audit log records.
    fn set_routing(&self, name: &str, key: &str, value: Option<&str>) -> Result<()>;
    /// The traffic split recorded for `name`, by key.
    fn routing(&self, name: &str) -> Result<Vec<(String, String)>>;
    /// Counts alias changes so far: a cheap value that replicas poll to notice a change
    /// made by another process.
    fn alias_generation(&self) -> Result<i64>;
}
