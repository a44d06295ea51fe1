//! A whole registry's metadata as plain rows, for `distillery registry migrate`: read from
//! one backend and written into another in one transaction, keeping every audit entry's
//! time, actor and reason as they were recorded.

use crate::records::{AuditEntry, Dataset, ModelVersion, RunRecord};
use crate::signing::DetachedSignature;

/// Every row of a registry, oldest first within each table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dump {
    /// Datasets by fingerprint.
    pub datasets: Vec<Dataset>,
    /// Runs.
    pub runs: Vec<RunRecord>,
    /// Versions with their artifacts.
    pub versions: Vec<ModelVersion>,
    /// `(model, alias, version)` as they point now.
    pub aliases: Vec<(String, String, u32)>,
    /// `(model, alias, version)` in the order they were set (`None` = removed).
    pub alias_history: Vec<(String, String, Option<u32>)>,
    /// `(model, version, key, value)`.
    pub tags: Vec<(String, u32, String, String)>,
    /// Audit entries with the model each concerns.
    pub audit: Vec<(String, AuditEntry)>,
    /// `(model, version, signature, signed at)`.
    pub signatures: Vec<(String, u32, DetachedSignature, String)>,
    /// Registry settings (`objects`: where the artifacts live).
    pub settings: Vec<(String, String)>,
}

impl Dump {
    /// True when the registry holds nothing a migration could overwrite.
    pub fn is_empty(&self) -> bool {
        self.datasets.is_empty()
            && self.runs.is_empty()
            && self.versions.is_empty()
            && self.audit.is_empty()
    }

    /// One line of counts, for the migrate command's report.
    pub fn summary(&self) -> String {
        format!(
            "{} datasets, {} runs, {} versions, {} aliases, {} alias changes, {} tags, {} audit entries, {} signatures",
            self.datasets.len(),
            self.runs.len(),
            self.versions.len(),
            self.aliases.len(),
            self.alias_history.len(),
            self.tags.len(),
            self.audit.len(),
            self.signatures.len()
        )
    }
}
