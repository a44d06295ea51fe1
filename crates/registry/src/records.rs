//! What the registry records: datasets, runs, model versions, aliases, tags and the audit
//! log, plus the `name`, `name/3`, `name@production` references users type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// A dataset as the run saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// BLAKE3 of the normalised content and schema.
    pub fingerprint: String,
    /// Training file.
    pub source: String,
    /// Test file, when separate.
    pub test_source: Option<String>,
    /// Rows used (train + validation + test).
    pub rows: u64,
    /// Class names.
    pub classes: Vec<String>,
    /// Data-check verdicts, when checks ran.
    pub checks: serde_json::Value,
}

/// One `distillery run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run directory name.
    pub run_id: String,
    /// Recipe name.
    pub name: String,
    /// BLAKE3 of the recipe text.
    pub recipe_hash: String,
    /// Seed.
    pub seed: u64,
    /// distillery version.
    pub tool_version: String,
    /// When the run's report was written (RFC 3339).
    pub ended: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// `completed` (failed runs write no run directory).
    pub status: String,
    /// Dataset fingerprint.
    pub dataset: String,
    /// Teacher identity (`onnx:<blake3>`, `mlp:<blake3>` or `columns:<prefix>`).
    pub teacher: String,
    /// Headline metrics of the student (accuracy, fidelity, …).
    pub metrics: BTreeMap<String, f64>,
    /// Gate verdicts as in `report.json`.
    pub gates: serde_json::Value,
}

/// One stored file of a version: its role and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// `student`, `onnx`, `int8`, `int8_onnx`, `report`, `report_html`, `model_card`, `recipe`.
    pub role: String,
    /// File name in the run directory.
    pub file: String,
    /// BLAKE3 of the content (the object's name).
    pub hash: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Model name (the recipe name).
    pub name: String,
    /// 1, 2, 3, … per name.
    pub version: u32,
    /// The run it came from.
    pub run_id: String,
    /// Its files.
    pub artifacts: Vec<Artifact>,
    /// Whether every gate passed in its run.
    pub gates_passed: bool,
    /// Registration time (RFC 3339).
    pub created: String,
    /// Who registered it.
    pub actor: String,
}

impl ModelVersion {
    /// `name/version`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.name, self.version)
    }

    /// The artifact with `role`.
    pub fn artifact(&self, role: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.role == role)
    }
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (`--actor` or the OS user).
    pub actor: String,
    /// `register`, `alias`, `rollback`, `tag`, …
    pub action: String,
    /// What it acted on (`name/3`, `name@production`).
    pub target: String,
    /// Why, as the actor said.
    pub why: String,
    /// Extra facts (previous alias target, tag value, …).
    pub details: serde_json::Value,
}

/// Reasons that mark a decision a machine made: a guardrail's rollback, the live monitor's
/// actions, and what re-distillation deploys on its own.
const AUTOMATIC_REASONS: &[&str] = &["guardrail breached", "monitoring alert"];

impl AuditEntry {
    /// Whether the entry is a deployment decision — an alias moved (canary, promotion,
    /// rollback) or a re-distilled version approved or rejected — not bookkeeping.
    pub fn is_decision(&self) -> bool {
        self.target.contains('@')
            || matches!(self.action.as_str(), "promote" | "rollback")
            || (self.action == "tag"
                && self.details["key"] == "redistill"
                && self.details["value"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("approved") || v.starts_with("rejected")))
    }

    /// Whether a machine made it (a guardrail, the monitor, re-distillation), not a person:
    /// the counter to automation bias is knowing how many decisions nobody looked at.
    pub fn is_automatic(&self) -> bool {
        self.actor == "redistill" || AUTOMATIC_REASONS.iter().any(|r| self.why.starts_with(r))
    }
}

/// What a user names: `name` (latest version), `name/3` or `name@alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The newest version.
    Latest(String),
    /// A version number.
    Version(String, u32),
    /// An alias.
    Alias(String, String),
}

impl Reference {
    /// Parses `name`, `name/3` or `name@alias`; the name and alias must follow the
    /// registry's grammar (see [`crate::model_name`]), the alias is normalised.
    pub fn parse(text: &str) -> Result<Reference> {
        let bad = |why: String| {
            RegistryError::Invalid(format!(
                "'{text}' is not a model reference ({why}); write name, name/3 or name@production"
            ))
        };
        let name = |n: &str| {
            crate::names::model_name(n)
                .map(str::to_string)
                .map_err(|e| bad(e.to_string()))
        };
        if let Some((n, alias)) = text.split_once('@') {
            let alias = crate::names::alias_name(alias).map_err(|e| bad(e.to_string()))?;
            return Ok(Reference::Alias(name(n)?, alias));
        }
        if let Some((n, v)) = text.rsplit_once('/') {
            let v: u32 = v
                .parse()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| bad(format!("version {v:?} is not a number from 1")))?;
            return Ok(Reference::Version(name(n)?, v));
        }
        Ok(Reference::Latest(name(text)?))
    }

    /// The model name.
    pub fn name(&self) -> &str {
        match self {
            Reference::Latest(n) | Reference::Version(n, _) | Reference::Alias(n, _) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            Reference::parse("adult@production").unwrap(),
            Reference::Alias("adult".into(), "production".into())
        );
        assert_eq!(
            Reference::parse("adult/3").unwrap(),
            Reference::Version("adult".into(), 3)
        );
        assert_eq!(
            Reference::parse("adult").unwrap(),
            Reference::Latest("adult".into())
        );
        assert_eq!(
            Reference::parse("adult@Production ").unwrap(),
            Reference::Alias("adult".into(), "production".into())
        );
        for bad in ["", "@x", "a@", "a/0", "a/x", "a/b/1", "a@../../x", "a b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
