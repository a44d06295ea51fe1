//! Attribute inference: how much the model's answers help an attacker who knows a row's
//! other columns recover a sensitive one (sex, race, a diagnosis). The attacker is trained
//! twice on the same rows, with and without the model's probabilities among its inputs;
//! the difference in its accuracy is what the model leaks about that column.

use serde::{Deserialize, Serialize};

/// One sensitive column's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeInference {
    /// The sensitive column.
    pub column: String,
    /// Rows the attacker is scored on.
    pub rows: usize,
    /// Accuracy of always guessing the most common value.
    pub majority: f64,
    /// The attacker's accuracy from the other columns alone.
    pub without_outputs: f64,
    /// The attacker's accuracy from the other columns and the student's probabilities.
    pub with_outputs: f64,
    /// McNemar's exact p-value for the two attackers on the same rows: small means the
    /// answers really changed what the attacker gets right.
    pub p_value: f64,
}

impl AttributeInference {
    /// Percentage points the student's answers add to the attacker: the measured leak.
    pub fn gain(&self) -> f64 {
        self.with_outputs - self.without_outputs
    }

    /// One line for the summary.
    pub fn line(all: &[AttributeInference]) -> String {
        let parts: Vec<String> = all
            .iter()
            .map(|a| {
                format!(
                    "{} {:+.2} pp ({:.3} → {:.3}, McNemar p = {:.3}; majority {:.3})",
                    a.column,
                    100.0 * a.gain(),
                    a.without_outputs,
                    a.with_outputs,
                    a.p_value,
                    a.majority
                )
            })
            .collect();
        format!(
            "attribute inference (what the student's answers add to guessing a sensitive column): {}\n",
            parts.join(", ")
        )
    }
}
