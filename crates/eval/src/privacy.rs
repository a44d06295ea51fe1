//! The report of a differentially private run: the (ε, δ) the student's training spent,
//! the settings that produced it, and, in words, what the guarantee covers.

use serde::{Deserialize, Serialize};

/// DP-SGD's guarantee for one run (`[privacy]` in the recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// The accountant: `rdp` (Rényi DP of the Sampled Gaussian Mechanism, as Opacus').
    pub accountant: String,
    /// The ε the recipe allowed.
    pub target_epsilon: f64,
    /// The ε the distilled student's training spent (≤ the target; less when early
    /// stopping ended training before its last scheduled step).
    pub epsilon: f64,
    /// The ε the scratch baseline's training spent (it is trained privately too).
    pub scratch_epsilon: f64,
    /// δ of the guarantee.
    pub delta: f64,
    /// Noise standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// Per-example clipping norm.
    pub max_grad_norm: f64,
    /// Probability that a row is in a step's batch (batch size / training rows).
    pub sample_rate: f64,
    /// Steps the accountant charged for the student.
    pub steps: u64,
    /// Steps the noise was sized for (the step budget); fewer were taken when early
    /// stopping ended training, and ε is then below its target.
    pub planned_steps: u64,
    /// What the guarantee covers and what it does not.
    pub covers: String,
}

impl PrivacyReport {
    /// One line for the summary.
    pub fn line(&self) -> String {
        format!(
            "differential privacy: ε = {:.3} (target {}) at δ = {:e}, noise multiplier {:.3}, clipping norm {}, {} steps at sample rate {:.5} ({} accountant)\n",
            self.epsilon,
            self.target_epsilon,
            self.delta,
            self.noise_multiplier,
            self.max_grad_norm,
            self.steps,
            self.sample_rate,
            self.accountant
        )
    }
}
