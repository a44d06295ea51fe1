//! Training settings: an unchecked [`DistillParams`] (what the recipe says) and the
//! [`ValidDistillParams`] that [`DistillParams::check`] returns, which is the only type the
//! training loop accepts.

use serde::{Deserialize, Serialize};

use crate::error::ParamsError;

/// How to train a student (or an in-house teacher). Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillParams {
    /// Hidden layer widths; empty = multinomial logistic regression. Default `[64]`.
    pub hidden: Vec<usize>,
    /// Softmax temperature T for the teacher's and student's soft distributions. Default 4.
    pub temperature: f32,
    /// Weight of the soft (teacher) term; hard labels get `1 − soft_weight`. Default 0.7.
    pub soft_weight: f32,
    /// Passes over the transfer set when `steps` is `None`. Default 30.
    pub epochs: usize,
    /// Optimizer-step budget: training runs `ceil(steps / steps per epoch)` epochs (at most
    /// [`MAX_EPOCHS`]), so a small transfer set gets enough updates and a large one no more
    /// passes than it needs. `None` = `epochs` passes.
    pub steps: Option<u64>,
    /// Rows per step. Default 256.
    pub batch_size: usize,
    /// Peak AdamW learning rate (cosine-decayed to 0). Default 0.003.
    pub learning_rate: f32,
    /// Decoupled AdamW weight decay on weights (not biases). Default 1e-4.
    pub weight_decay: f32,
    /// Epochs without a better validation loss before stopping; 0 = never stop early. Default 5.
    pub patience: usize,
    /// Patience in optimizer steps instead of epochs (training stops once this many steps
    /// have passed since the best validation loss); overrides `patience` when set.
    pub patience_steps: Option<u64>,
    /// Seed for initialisation and shuffling. Default 7.
    pub seed: u64,
}

impl Default for DistillParams {
    fn default() -> Self {
        DistillParams {
            hidden: vec![64],
            temperature: 4.0,
            soft_weight: 0.7,
            epochs: 30,
            steps: None,
            batch_size: 256,
            learning_rate: 0.003,
            weight_decay: 1e-4,
            patience: 5,
            patience_steps: None,
            seed: 7,
        }
    }
}

/// Parameters that passed [`DistillParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDistillParams(DistillParams);

impl std::ops::Deref for ValidDistillParams {
    type Target = DistillParams;
    fn deref(&self) -> &DistillParams {
        &self.0
    }
}

impl DistillParams {
    /// Validates every setting, reporting all problems at once.
    ///
    /// # Errors
    /// The list of settings out of range.
    pub fn check(self) -> Result<ValidDistillParams, Vec<ParamsError>> {
        let mut errors = Vec::new();
        let mut range = |ok: bool, name: &'static str, value: String, expected: &'static str| {
            if !ok {
                errors.push(ParamsError::OutOfRange {
                    name,
                    value,
                    expected,
                });
            }
        };
        let t = self.temperature;
        range(
            t.is_finite() && t > 0.0,
            "temperature",
            t.to_string(),
            "> 0",
        );
        let w = self.soft_weight;
        range(
            (0.0..=1.0).contains(&w),
            "soft_weight",
            w.to_string(),
            "between 0 and 1",
        );
        range(self.epochs >= 1, "epochs", self.epochs.to_string(), ">= 1");
        if let Some(steps) = self.steps {
            range(
                (1..=100_000_000).contains(&steps),
                "steps",
                steps.to_string(),
                "1 to 100000000",
            );
        }
        range(
            self.batch_size >= 1,
            "batch_size",
            self.batch_size.to_string(),
            ">= 1",
        );
        let lr = self.learning_rate;
        range(
            lr.is_finite() && lr > 0.0,
            "learning_rate",
            lr.to_string(),
            "> 0",
        );
        let wd = self.weight_decay;
        range(
            wd.is_finite() && wd >= 0.0,
            "weight_decay",
            wd.to_string(),
            ">= 0",
        );
        range(
            self.hidden
                .iter()
                .all(|&h| (1..=MAX_LAYER_WIDTH).contains(&h))
                && self.hidden.len() <= MAX_LAYERS,
            "hidden",
            format!("{:?}", self.hidden),
            "at most 16 layers, each 1 to 65536 wide",
        );
        if errors.is_empty() {
            Ok(ValidDistillParams(self))
        } else {
            Err(errors)
        }
    }
}

/// The most passes a step budget may turn into (a tiny transfer set does not need more).
pub const MAX_EPOCHS: usize = 300;

impl DistillParams {
    /// Epochs training will run over `rows` usable rows: `epochs`, or the step budget
    /// divided by the steps per epoch.
    pub fn epochs_for(&self, rows: usize) -> usize {
        match self.steps {
            None => self.epochs,
            Some(steps) => {
                let per_epoch = rows.max(1).div_ceil(self.batch_size.max(1)) as u64;
                (steps.div_ceil(per_epoch) as usize).clamp(1, MAX_EPOCHS)
            }
        }
    }
}

/// The widest hidden layer a recipe may ask for: a student is meant to be small, and a
/// typo (`100000000`) must be refused before it allocates tens of gigabytes.
pub const MAX_LAYER_WIDTH: usize = 65_536;

/// The most hidden layers a recipe may ask for.
pub const MAX_LAYERS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_lists_every_bad_setting() {
        let p = DistillParams {
            temperature: 0.0,
            soft_weight: 1.5,
            ..Default::default()
        };
        let errors = p.check().unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(DistillParams::default().check().is_ok());
        let huge = DistillParams {
            hidden: vec![100_000_000],
            ..Default::default()
        };
        assert!(
            huge.check().is_err(),
            "a 1e8-wide layer is refused up front"
        );
    }
}
