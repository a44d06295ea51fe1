//! The whole of `audit.json`: the evasion attack `distillery audit` runs, beside the
//! attacks the run itself measured (membership inference, attribute inference,
//! extraction) and its differential-privacy guarantee, so one file answers "what can an
//! attacker do with this student?" and says plainly which attacks were not measured.

use serde::{Deserialize, Serialize};

use crate::attribute::AttributeInference;
use crate::evasion::EvasionAudit;
use crate::extraction::ExtractionReport;
use crate::membership::MembershipReport;
use crate::privacy::PrivacyReport;
use crate::run_report::Report;

/// `audit.json`: the evasion audit's fields at the top level (schema `distillery-audit/1`
/// is unchanged), then the run's own attack results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditFile {
    /// The evasion attack, run by this command.
    #[serde(flatten)]
    pub evasion: EvasionAudit,
    /// Membership inference on the teacher, the student (and a DP student), from the run.
    pub membership: Option<MembershipReport>,
    /// Attribute inference on the `sensitive` columns, from the run.
    pub attribute_inference: Vec<AttributeInference>,
    /// The extraction curve (queries → a clone's fidelity), from the run.
    pub extraction: Option<ExtractionReport>,
    /// The student's differential-privacy guarantee, when it was trained with one.
    pub privacy: Option<PrivacyReport>,
    /// Attacks the run did not measure, each with the recipe line that turns it on.
    pub not_measured: Vec<String>,
}

impl AuditFile {
    /// Joins the evasion audit with what the run's report measured (`None`: the student
    /// was audited from files alone, and no run results are known).
    pub fn new(evasion: EvasionAudit, run: Option<&Report>) -> AuditFile {
        let Some(r) = run else {
            return AuditFile {
                evasion,
                membership: None,
                attribute_inference: Vec::new(),
                extraction: None,
                privacy: None,
                not_measured: vec![
                    "membership, attribute inference and extraction: audit a run directory or a registered version (name@alias) to include what its run measured".into(),
                ],
            };
        };
        let mut not_measured = Vec::new();
        if r.membership.is_none() {
            not_measured.push(
                "membership inference: measured by `distillery run` when the run evaluates a test split".into(),
            );
        }
        if r.attribute_inference.is_empty() {
            not_measured
                .push("attribute inference: declare `[evaluate] sensitive = [\"column\"]`".into());
        }
        if r.extraction.is_none() {
            not_measured.push("extraction: set `[evaluate] extraction = true`".into());
        }
        AuditFile {
            evasion,
            membership: r.membership.clone(),
            attribute_inference: r.attribute_inference.clone(),
            extraction: r.extraction.clone(),
            privacy: r.privacy.clone(),
            not_measured,
        }
    }

    /// Plain-text lines for a terminal: the evasion curve, then one line per other attack.
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.evasion.lines();
        if let Some(m) = &self.membership {
            out.push(m.line());
        }
        if !self.attribute_inference.is_empty() {
            out.push(AttributeInference::line(&self.attribute_inference));
        }
        if let Some(e) = &self.extraction {
            out.push(e.line());
        }
        if let Some(p) = &self.privacy {
            out.push(p.line().trim_end().to_string());
        }
        for n in &self.not_measured {
            out.push(format!("not measured: {n}"));
        }
        out
    }
}
