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
    /// PATE's own numbers, when the guarantee comes from noisy teacher votes instead of
    /// DP-SGD (`[privacy] mode = "pate"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pate: Option<PateReport>,
}

/// How PATE labelled the student's public rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PateReport {
    /// Teachers, each trained on its own disjoint partition of the private rows.
    pub teachers: usize,
    /// Private training rows per teacher (the smallest partition).
    pub rows_per_teacher: usize,
    /// Public rows labelled: the queries the accountant charged.
    pub queries: usize,
    /// Standard deviation of the Gaussian noise added to each vote count.
    pub sigma: f64,
    /// Share of queries whose noisy label is the teachers' plurality vote.
    pub agreement: f64,
    /// Mean test accuracy of one teacher alone.
    pub teacher_accuracy: f64,
    /// Test accuracy of the noise-free plurality vote.
    pub ensemble_accuracy: f64,
    /// Share of noisy labels equal to the public file's own labels, when it has them.
    pub public_label_accuracy: Option<f64>,
}

impl PrivacyReport {
    /// The guarantee in one sentence for the model card and report.html: how the model was
    /// made private, the (ε, δ) and the settings, then what the guarantee covers.
    pub fn sentence(&self) -> String {
        match &self.pate {
            Some(p) => format!(
                "Trained with PATE: (ε = {:.3}, δ = {}) differential privacy ({} accountant). {} teachers of {} private rows each labelled {} public rows by noisy vote (σ = {:.1} per vote count); {:.1}% of the noisy labels are the teachers' plurality vote{}. {}",
                self.epsilon,
                self.delta,
                self.accountant,
                p.teachers,
                p.rows_per_teacher,
                p.queries,
                p.sigma,
                100.0 * p.agreement,
                p.public_label_accuracy
                    .map_or_else(String::new, |a| format!(
                        ", {:.1}% equal the public file's labels",
                        100.0 * a
                    )),
                self.covers
            ),
            None => format!(
                "Trained with DP-SGD: (ε = {:.3}, δ = {}) differential privacy ({} accountant; noise multiplier {:.3}, clipping norm {}, {} steps at sampling rate {:.5}). {}",
                self.epsilon,
                self.delta,
                self.accountant,
                self.noise_multiplier,
                self.max_grad_norm,
                self.steps,
                self.sample_rate,
                self.covers
            ),
        }
    }

    /// One line for the summary.
    pub fn line(&self) -> String {
        if let Some(p) = &self.pate {
            return format!(
                "differential privacy (PATE): ε = {:.3} (target {}) at δ = {:e}; {} teachers of {} rows labelled {} public rows, vote noise σ = {:.1}, {:.1}% of labels are the plurality vote ({} accountant)\n",
                self.epsilon,
                self.target_epsilon,
                self.delta,
                p.teachers,
                p.rows_per_teacher,
                p.queries,
                p.sigma,
                100.0 * p.agreement,
                self.accountant
            );
        }
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
