//! Personal data out of the prediction log. Columns the data checks flagged as PII (in the
//! served version's report) are hashed before a record is written; serve.toml's
//! `[log.pii]` names more columns, or another action: `hash` (keyed BLAKE3, so equal
//! values stay joinable within one key without being readable), `mask` (all but the last
//! four characters replaced by `*`, as the data checks show examples), `redact` (free
//! text with each detected piece of personal data replaced by its kind, `<email>`: the
//! default for a flagged text column, so its words stay for drift monitoring), or `drop`
//! (the values never reach the disk). Inputs sent as one tensor per feature are matched by
//! name; a single `[n, d]` tensor is matched by column position in the student's inputs.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// What happens to one PII column's values in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiAction {
    /// Keyed BLAKE3 of the value (`"h:…"`, 32 hex digits).
    Hash,
    /// All but the last four characters replaced by `*`.
    Mask,
    /// Removed (a per-feature tensor disappears; a column of a matrix becomes null).
    Drop,
    /// Free text with each piece of personal data the data checks detect (e-mail, phone,
    /// card, IBAN, SSN, IP) replaced by its kind (`<email>`): the default for a flagged
    /// text column, whose words drift monitoring still reads.
    Redact,
    /// Logged as sent (overrides the data checks' flag for this column).
    Keep,
}

/// The log's PII policy: explicit actions by column, and the key for `hash`.
#[derive(Debug, Clone)]
pub struct PiiPolicy {
    /// Column → action, from serve.toml (these win over the data checks' flags).
    pub columns: BTreeMap<String, PiiAction>,
    /// The BLAKE3 key of `hash`.
    pub key: [u8; 32],
}

impl PiiPolicy {
    /// The action for `column` of a model whose data checks flagged `flagged` and whose
    /// free-text columns are `text`.
    fn action(&self, column: &str, flagged: &[String], text: &[&str]) -> Option<PiiAction> {
        match self.columns.get(column) {
            Some(PiiAction::Keep) => None,
            Some(a) => Some(*a),
            None => flagged
                .iter()
                .any(|f| f == column)
                .then_some(if text.contains(&column) {
                    PiiAction::Redact
                } else {
                    PiiAction::Hash
                }),
        }
    }

    fn apply(&self, action: PiiAction, v: &Value) -> Value {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => return Value::Null,
            other => other.to_string(),
        };
        match action {
            PiiAction::Hash => {
                let h = blake3::keyed_hash(&self.key, text.as_bytes());
                Value::String(format!("h:{}", &h.to_hex()[..32]))
            }
            PiiAction::Mask => {
                let chars: Vec<char> = text.chars().collect();
                let keep = chars.len().saturating_sub(4);
                Value::String(
                    chars
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            if i < keep && !c.is_whitespace() {
                                '*'
                            } else {
                                *c
                            }
                        })
                        .collect(),
                )
            }
            PiiAction::Redact => Value::String(distillery_quality::pii::redact(&text)),
            PiiAction::Drop | PiiAction::Keep => Value::Null,
        }
    }

    /// False when nothing can need scrubbing (no column named, none flagged): the log
    /// then writes requests without copying them.
    pub fn may_apply(&self, flagged: &[String]) -> bool {
        !flagged.is_empty() || self.columns.values().any(|a| *a != PiiAction::Keep)
    }

    /// Scrubs a request's `inputs` (the OIP array) in place for a student whose inputs are
    /// `features` (in order, the free-text ones among them `text`) and whose data checks
    /// flagged `flagged`.
    pub fn scrub(&self, inputs: &mut Value, features: &[&str], text: &[&str], flagged: &[String]) {
        let Some(tensors) = inputs.as_array_mut() else {
            return;
        };
        let by_position: Vec<Option<PiiAction>> = features
            .iter()
            .map(|f| self.action(f, flagged, text))
            .collect();
        if by_position.iter().all(Option::is_none) {
            return;
        }
        tensors.retain_mut(|t| {
            let name = t["name"].as_str().unwrap_or_default().to_string();
            if let Some(action) = self.action(&name, flagged, text) {
                if action == PiiAction::Drop {
                    return false;
                }
                if let Some(data) = t["data"].as_array_mut() {
                    for v in data.iter_mut() {
                        *v = self.apply(action, v);
                    }
                }
                return true;
            }
            // A matrix of every feature: scrub by column position.
            let d = features.len();
            if t["shape"]
                .as_array()
                .is_some_and(|s| s.len() == 2 && s[1] == d)
                && let Some(data) = t["data"].as_array_mut()
            {
                for (i, v) in data.iter_mut().enumerate() {
                    if let Some(action) = by_position[i % d] {
                        *v = self.apply(action, v);
                    }
                }
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> PiiPolicy {
        PiiPolicy {
            columns: BTreeMap::from([
                ("phone".to_string(), PiiAction::Mask),
                ("name".to_string(), PiiAction::Drop),
                ("age".to_string(), PiiAction::Keep),
            ]),
            key: [7; 32],
        }
    }

    #[test]
    fn per_feature_tensors_are_hashed_masked_or_dropped_by_name() {
        let mut inputs = json!([
            {"name": "email", "datatype": "BYTES", "shape": [2, 1], "data": ["a@x.org", "b@y.org"]},
            {"name": "phone", "datatype": "BYTES", "shape": [1, 1], "data": ["+44 20 7946 0958"]},
            {"name": "name", "datatype": "BYTES", "shape": [1, 1], "data": ["Ada"]},
            {"name": "age", "datatype": "FP32", "shape": [1, 1], "data": [37]}
        ]);
        let features = ["email", "phone", "name", "age"];
        let flagged = vec!["email".to_string(), "age".to_string()];
        policy().scrub(&mut inputs, &features, &[], &flagged);
        let t = inputs.as_array().unwrap();
        assert_eq!(t.len(), 3, "the dropped tensor is gone");
        let h = t[0]["data"][0].as_str().unwrap();
        assert!(h.starts_with("h:") && h.len() == 34, "{h}");
        assert_ne!(t[0]["data"][0], t[0]["data"][1]);
        assert_eq!(t[1]["data"][0], "*** ** **** 0958");
        assert_eq!(t[2]["data"][0], 37, "keep overrides the data checks' flag");
        // The same value and key give the same hash; another key another.
        let mut again = json!([{"name": "email", "data": ["a@x.org"], "shape": [1, 1]}]);
        policy().scrub(&mut again, &features, &[], &flagged);
        assert_eq!(again[0]["data"][0], t[0]["data"][0]);
        let other = PiiPolicy {
            key: [8; 32],
            ..policy()
        };
        let mut third = json!([{"name": "email", "data": ["a@x.org"], "shape": [1, 1]}]);
        other.scrub(&mut third, &features, &[], &flagged);
        assert_ne!(third[0]["data"][0], t[0]["data"][0]);
    }

    #[test]
    fn a_flagged_text_column_keeps_its_words_without_the_personal_data() {
        let mut inputs = json!([
            {"name": "body", "datatype": "BYTES", "shape": [1], "data": ["Reply to jo@example.org before Friday"]},
            {"name": "email", "datatype": "BYTES", "shape": [1], "data": ["jo@example.org"]}
        ]);
        let flagged = vec!["body".to_string(), "email".to_string()];
        policy().scrub(&mut inputs, &["body", "email"], &["body"], &flagged);
        assert_eq!(inputs[0]["data"][0], "Reply to <email> before Friday");
        assert!(inputs[1]["data"][0].as_str().unwrap().starts_with("h:"));
    }

    #[test]
    fn a_matrix_is_scrubbed_by_column_position() {
        let mut inputs = json!([
            {"name": "x", "datatype": "BYTES", "shape": [2, 3], "data": ["a@x.org", "Ada", 1, "b@y.org", "Bob", 2]}
        ]);
        policy().scrub(
            &mut inputs,
            &["email", "name", "n"],
            &[],
            &["email".to_string()],
        );
        let d = inputs[0]["data"].as_array().unwrap();
        assert!(d[0].as_str().unwrap().starts_with("h:"));
        assert_eq!(d[1], Value::Null);
        assert_eq!(d[2], 1);
        assert!(d[3].as_str().unwrap().starts_with("h:"));
        assert_eq!(d[4], Value::Null);
    }
}
