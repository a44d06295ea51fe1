//! One line of the prediction log, as the server writes it and every monitor reads it: the
//! one type both sides share, so a field renamed on one side cannot silently vanish on the
//! other.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One inference request and its answer (or refusal), one JSON line of
/// `predictions-*.jsonl`. Feedback lines (`"kind": "feedback"`) share the file; they read
/// as records with `kind` set and are skipped by the monitors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub ts: f64,
    /// The model name (`(unknown)` for a request to no served model).
    #[serde(default)]
    pub model: String,
    /// The version that answered or refused (0 when none did).
    #[serde(default, deserialize_with = "zero_if_null")]
    pub version: u32,
    /// The request's `id`, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// HTTP status of the answer.
    #[serde(default)]
    pub status: u16,
    /// Time to answer, in microseconds.
    #[serde(default)]
    pub latency_us: f64,
    /// Rows predicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// The request's input tensors (binary ones as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// The answer's output tensors (`probabilities` and `label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    /// What the shadow answered, when it saw this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Value>,
    /// Why the request was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set on lines that are not inference records (`feedback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl PredictionRecord {
    /// Whether this is an answered inference request (not a refusal, not feedback).
    pub fn answered(&self) -> bool {
        self.status == 200 && self.kind.is_none()
    }
}

/// A feedback line writes `"version": null` for an id it could not match.
fn zero_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_feedback_lines_read_as_not_answered() {
        let r = PredictionRecord {
            ts: 1.5,
            model: "m".into(),
            version: 2,
            status: 200,
            rows: Some(1),
            inputs: Some(serde_json::json!([{"name": "x", "data": [1.0]}])),
            ..PredictionRecord::default()
        };
        let line = serde_json::to_string(&r).expect("serialise");
        assert!(
            !line.contains("\"error\""),
            "absent fields are left out: {line}"
        );
        let back: PredictionRecord = serde_json::from_str(&line).expect("parse");
        assert_eq!(back, r);
        assert!(back.answered());
        let feedback: PredictionRecord = serde_json::from_str(
            r#"{"kind":"feedback","model":"m","id":"q","labels":["a"],"version":null,"ts":2}"#,
        )
        .expect("feedback parses");
        assert!(!feedback.answered());
        assert_eq!(feedback.version, 0);
    }
}
