//! The student search's record for the report: every candidate with its size, latency and
//! validation scores, the Pareto front, the winner and why it won.

use serde::{Deserialize, Serialize};

/// One candidate student of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCandidate {
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Distillation temperature.
    pub temperature: f32,
    /// Weight of the teacher term.
    pub soft_weight: f32,
    /// The student's file size in bytes.
    pub bytes: usize,
    /// Median microseconds per row, measured on this machine.
    pub latency_us: f64,
    /// Inside the budget (candidates outside are never trained).
    pub within_budget: bool,
    /// Optimizer steps it was trained for at its last round (0 = not trained).
    pub steps: u64,
    /// Argmax agreement with the teacher on the validation rows, at its last round.
    pub validation_fidelity: Option<f64>,
    /// Accuracy on the labelled validation rows, at its last round.
    pub validation_accuracy: Option<f64>,
}

/// What the search tried and chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudentSearch {
    /// The byte budget, if any.
    pub max_bytes: Option<usize>,
    /// The latency budget in microseconds, if any.
    pub max_latency_us: Option<f64>,
    /// Every candidate, in search order.
    pub candidates: Vec<SearchCandidate>,
    /// Candidates (indices) that no other trained one beats on both validation fidelity and
    /// latency.
    pub pareto: Vec<usize>,
    /// The winner's index; it is then trained with the full step budget.
    pub winner: usize,
    /// Why the winner won, in words.
    pub reason: String,
}

impl StudentSearch {
    /// One line for the summary.
    pub fn line(&self) -> String {
        let w = &self.candidates[self.winner];
        let within = self.candidates.iter().filter(|c| c.within_budget).count();
        format!(
            "student search: {within} of {} candidates within budget; chose {:?} at T = {}, soft weight {} ({} bytes, {:.2} µs): {}\n",
            self.candidates.len(),
            w.hidden,
            w.temperature,
            w.soft_weight,
            w.bytes,
            w.latency_us,
            self.reason
        )
    }
}

/// Indices of the trained candidates on the front of higher validation fidelity and lower
/// latency.
pub fn front(candidates: &[SearchCandidate]) -> Vec<usize> {
    let scored: Vec<(usize, f64, f64)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.validation_fidelity.map(|f| (i, f, c.latency_us)))
        .collect();
    scored
        .iter()
        .filter(|&&(i, f, l)| {
            !scored
                .iter()
                .any(|&(j, g, m)| j != i && g >= f && m <= l && (g > f || m < l))
        })
        .map(|&(i, _, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(f: Option<f64>, l: f64) -> SearchCandidate {
        SearchCandidate {
            hidden: vec![8],
            temperature: 1.0,
            soft_weight: 0.5,
            bytes: 100,
            latency_us: l,
            within_budget: true,
            steps: 10,
            validation_fidelity: f,
            validation_accuracy: f,
        }
    }

    #[test]
    fn the_front_keeps_what_nothing_beats_on_both_axes() {
        let cands = [
            c(Some(0.90), 0.2),
            c(Some(0.95), 0.5),
            c(Some(0.94), 0.6),
            c(None, 0.1),
            c(Some(0.95), 0.9),
        ];
        assert_eq!(front(&cands), vec![0, 1]);
    }
}
