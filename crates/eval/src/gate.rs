//! Gates: the thresholds a recipe sets (`[gates]`) and their verdicts on a measured
//! student. A gate whose measurement is unavailable fails, naming why, rather than passing
//! silently; `run` and `eval` exit 1 when any gate fails.

use serde::{Deserialize, Serialize};

use crate::run_report::{GateResult, ModelSummary, SliceReport};

/// A recipe's `[gates]`: thresholds that make a run exit 1 when the student falls short.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Minimum argmax agreement with the teacher on the test rows.
    #[serde(default)]
    pub min_fidelity: Option<f64>,
    /// Largest allowed drop of test accuracy vs the teacher (absolute, e.g. 0.01).
    #[serde(default)]
    pub max_accuracy_drop: Option<f64>,
    /// Largest allowed teacher-minus-student accuracy in any declared or single-feature slice.
    #[serde(default)]
    pub max_slice_gap: Option<f64>,
    /// Largest allowed accuracy drop of the int8 student vs the fp32 student, over all test
    /// rows and in any declared or single-feature slice.
    #[serde(default)]
    pub max_int8_drop: Option<f64>,
    /// Largest allowed expected calibration error of the student.
    #[serde(default)]
    pub max_ece: Option<f64>,
    /// Largest allowed median single-row latency of the student, in µs.
    #[serde(default)]
    pub max_latency_us: Option<f64>,
    /// Largest allowed student file size in bytes.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// What the gates are checked against.
pub struct GateInputs<'a> {
    /// The teacher's summary; without one, the teacher-relative gates fail.
    pub teacher: Option<&'a ModelSummary>,
    /// The student being judged.
    pub student: &'a ModelSummary,
    /// The student's slice report (for `max_slice_gap`).
    pub slices: Option<&'a SliceReport>,
    /// The int8 student and its slices measured against the fp32 student.
    pub int8: Option<(&'a ModelSummary, &'a SliceReport)>,
}

/// Verdicts of every configured gate. A gate whose measurement is unavailable (no teacher,
/// no slice with enough rows, no int8 student) fails, naming why, rather than passing
/// silently.
pub fn verdicts(gates: &Gates, input: &GateInputs<'_>) -> Vec<GateResult> {
    let (teacher, student, slices) = (input.teacher, input.student, input.slices);
    let mut out = Vec::new();
    let mut push =
        |gate: &str, threshold: f64, value: Option<f64>, at_most: bool, detail: Option<String>| {
            let passed = value.is_some_and(|v| {
                if at_most {
                    v <= threshold
                } else {
                    v >= threshold
                }
            });
            out.push(GateResult {
                gate: gate.into(),
                threshold,
                value: value.unwrap_or(f64::NAN),
                passed,
                detail: if value.is_none() {
                    Some(detail.unwrap_or_else(|| "not measured".into()))
                } else {
                    detail
                },
            });
        };
    if let Some(min) = gates.min_fidelity {
        let value = teacher.map(|_| student.fidelity);
        push(
            "min_fidelity",
            min,
            value,
            false,
            teacher
                .is_none()
                .then(|| "no teacher to compare with".into()),
        );
    }
    if let Some(max) = gates.max_accuracy_drop {
        let value = teacher.map(|t| t.accuracy - student.accuracy);
        push(
            "max_accuracy_drop",
            max,
            value,
            true,
            teacher
                .is_none()
                .then(|| "no teacher to compare with".into()),
        );
    }
    if let Some(max) = gates.max_slice_gap {
        let gap = slices.and_then(|s| s.gap.as_ref());
        let detail = match (teacher, gap) {
            (None, _) => Some("no teacher to compare with".to_string()),
            (_, Some(g)) => Some(format!("{}, {} rows", g.slice.name, g.slice.labelled)),
            (_, None) => Some("no slice has enough labelled rows".to_string()),
        };
        push(
            "max_slice_gap",
            max,
            gap.filter(|_| teacher.is_some()).map(|g| g.gap),
            true,
            detail,
        );
    }
    if let Some(max) = gates.max_int8_drop {
        let (value, detail) = match input.int8 {
            None => (
                None,
                Some("no int8 student: set [quantize] int8 = true".to_string()),
            ),
            Some((q, sl)) => {
                let overall = student.accuracy - q.accuracy;
                match &sl.gap {
                    Some(g) if g.gap > overall => (
                        Some(g.gap),
                        Some(format!("{}, {} rows", g.slice.name, g.slice.labelled)),
                    ),
                    _ => (Some(overall), Some("all test rows".to_string())),
                }
            }
        };
        push("max_int8_drop", max, value, true, detail);
    }
    if let Some(max) = gates.max_ece {
        push("max_ece", max, Some(student.quality.ece), true, None);
    }
    if let Some(max) = gates.max_latency_us {
        push("max_latency_us", max, student.latency_us, true, None);
    }
    if let Some(max) = gates.max_bytes {
        push(
            "max_bytes",
            max as f64,
            student.bytes.map(|b| b as f64),
            true,
            None,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_report::Quality;

    fn summary(accuracy: f64, fidelity: f64) -> ModelSummary {
        ModelSummary {
            kind: "m".into(),
            accuracy,
            macro_f1: accuracy,
            log_loss: 0.3,
            fidelity,
            mean_kl: 0.0,
            parameters: None,
            bytes: Some(1000),
            latency_us: Some(1.0),
            quality: Quality::of(&[0.9, 0.1], 2, &[Some(0)], None, 1),
            training: None,
        }
    }

    #[test]
    fn gates_pass_fail_and_fail_when_unmeasured() {
        let gates = Gates {
            min_fidelity: Some(0.95),
            max_accuracy_drop: Some(0.02),
            max_bytes: Some(500),
            ..Gates::default()
        };
        let (teacher, student) = (summary(0.87, 1.0), summary(0.86, 0.96));
        let with_teacher = verdicts(
            &gates,
            &GateInputs {
                teacher: Some(&teacher),
                student: &student,
                slices: None,
                int8: None,
            },
        );
        let passed: Vec<(&str, bool)> = with_teacher
            .iter()
            .map(|g| (g.gate.as_str(), g.passed))
            .collect();
        assert_eq!(
            passed,
            [
                ("min_fidelity", true),
                ("max_accuracy_drop", true),
                ("max_bytes", false)
            ]
        );
        let without = verdicts(
            &gates,
            &GateInputs {
                teacher: None,
                student: &student,
                slices: None,
                int8: None,
            },
        );
        assert!(!without[0].passed);
        assert_eq!(
            without[0].detail.as_deref(),
            Some("no teacher to compare with")
        );
    }
}
