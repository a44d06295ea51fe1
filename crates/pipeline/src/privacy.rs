//! `[privacy]`: train the student (and the scratch baseline) with DP-SGD to a target ε.
//!
//! The recipe gives ε (and optionally δ and the clipping norm); the run derives the noise
//! multiplier from the accountant for the planned schedule (batch size / training rows as
//! the sampling rate, the step budget as the steps), trains with it, and reports the ε the
//! steps actually taken spent. Anything that would train further models on the private
//! rows outside that accounting — the student search, a sweep, cross-validation, synthetic
//! rows generated from the private rows — is refused, so the reported ε is the whole cost.

use serde::{Deserialize, Serialize};

use distillery_eval::privacy::PrivacyReport;
use distillery_train::accountant::{self, SgmSteps};
use distillery_train::{DpSgd, FitOutcome, ValidDistillParams};

use crate::error::{Result, recipe_error};
use crate::recipe::{Augment, Recipe};

/// `[privacy]` as written in the recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySection {
    /// The ε the student's training may spend.
    pub epsilon: f64,
    /// δ of the guarantee. Default 1e-5; take it below 1 / the number of training rows.
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Per-example L2 clipping norm of the gradient. Default 1.0.
    #[serde(default = "default_clip")]
    pub max_grad_norm: f64,
    /// `dp-sgd` (default): the student trains with DP-SGD. `pate`: in-house teachers on
    /// disjoint partitions label public rows by noisy vote, and the student learns only
    /// from those (Papernot et al. 2018).
    #[serde(default)]
    pub mode: PrivacyMode,
    /// PATE: the unlabelled public rows the teachers' noisy votes label (CSV or Parquet
    /// with the feature columns; a target column, if present, is only used to report how
    /// often the noisy labels are right).
    #[serde(default)]
    pub public: Option<std::path::PathBuf>,
    /// PATE: teachers, one per disjoint partition of the training rows (default 100).
    #[serde(default = "default_teachers")]
    pub teachers: usize,
    /// PATE: public rows labelled, each one query charged to ε (default 2,000; fewer
    /// queries buy less noise per vote, more give the student more rows).
    #[serde(default = "default_queries")]
    pub queries: usize,
}

/// How `[privacy]` protects the training rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrivacyMode {
    /// Per-example clipping and Gaussian noise in the student's own training.
    #[default]
    DpSgd,
    /// Private aggregation of teacher ensembles: noisy votes label public rows.
    Pate,
}

fn default_teachers() -> usize {
    100
}

fn default_queries() -> usize {
    2000
}

fn default_delta() -> f64 {
    1e-5
}

fn default_clip() -> f64 {
    1.0
}

/// Refuses `[privacy]` settings out of range, and the settings that would spend privacy
/// the accountant does not see.
pub(crate) fn check(recipe: &Recipe, path: &str) -> Result<()> {
    let Some(p) = &recipe.privacy else {
        return Ok(());
    };
    if !(p.epsilon > 0.0 && p.epsilon.is_finite()) {
        return Err(recipe_error!(
            "{path}: [privacy] epsilon = {} must be a positive number (1 to 10 is usual)",
            p.epsilon
        ));
    }
    if !(p.delta > 0.0 && p.delta < 1.0) {
        return Err(recipe_error!(
            "{path}: [privacy] delta = {} must lie strictly between 0 and 1 (below 1 / the training rows)",
            p.delta
        ));
    }
    if !(p.max_grad_norm > 0.0 && p.max_grad_norm.is_finite()) {
        return Err(recipe_error!(
            "{path}: [privacy] max_grad_norm = {} must be a positive number",
            p.max_grad_norm
        ));
    }
    if p.mode == PrivacyMode::Pate {
        if p.public.is_none() {
            return Err(recipe_error!(
                "{path}: [privacy] mode = \"pate\" labels public rows with the teachers' noisy votes; name them with public = \"public.csv\" (the feature columns, no labels needed)"
            ));
        }
        if p.teachers < 2 || p.queries == 0 {
            return Err(recipe_error!(
                "{path}: [privacy] mode = \"pate\" needs teachers ≥ 2 (250 is usual) and queries ≥ 1, got teachers = {} and queries = {}",
                p.teachers,
                p.queries
            ));
        }
        let t = &recipe.teacher;
        if t.onnx.is_some() || t.columns.is_some() || t.train.is_some() || t.url.is_some() {
            return Err(recipe_error!(
                "{path}: [privacy] mode = \"pate\" trains its own teachers on partitions of the private rows; remove the [teacher] source"
            ));
        }
    } else if p.public.is_some() {
        return Err(recipe_error!(
            "{path}: [privacy] public only applies to mode = \"pate\"; DP-SGD trains on the private rows themselves"
        ));
    }
    let refuse = |what: &str, fix: &str| {
        Err(recipe_error!(
            "{path}: [privacy] trains the student on the private rows within an ε budget, and {what} would train on them outside it; {fix}"
        ))
    };
    if !recipe.student.pinned {
        return refuse(
            "the student search (every candidate is a model)",
            "pin the student with [student] hidden = [64]",
        );
    }
    if recipe.sweep.is_active() {
        return refuse("a [sweep]", "remove [sweep]");
    }
    if recipe.evaluate.cv_folds >= 2 {
        return refuse("cross-validation", "set [evaluate] cv_folds = 0");
    }
    if !matches!(recipe.distill.augment, Augment::Auto | Augment::None) {
        return refuse(
            "synthetic rows drawn from them",
            "set [distill] augment = \"none\"",
        );
    }
    Ok(())
}

/// The private training of one run: what the accountant was asked, and the DP-SGD
/// settings that answer it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) dp: DpSgd,
    pub(crate) planned_steps: u64,
    pub(crate) target_epsilon: f64,
    pub(crate) delta: f64,
}

/// The noise multiplier that keeps the planned schedule over `rows` training rows within
/// the recipe's ε.
pub(crate) fn plan(
    section: &PrivacySection,
    params: &ValidDistillParams,
    rows: usize,
) -> Result<Plan> {
    let rows = rows.max(1);
    let batch = params.batch_size.min(rows);
    let sample_rate = batch as f64 / rows as f64;
    let planned_steps = params.epochs_for(rows) as u64 * rows.div_ceil(batch) as u64;
    let (sigma, _) = accountant::noise_multiplier(
        section.epsilon,
        section.delta,
        sample_rate,
        planned_steps,
        0.01,
    )
    .map_err(|e| recipe_error!("[privacy]: {e}"))?;
    Ok(Plan {
        dp: DpSgd {
            noise_multiplier: sigma as f32,
            max_grad_norm: section.max_grad_norm as f32,
        },
        planned_steps,
        target_epsilon: section.epsilon,
        delta: section.delta,
    })
}

impl Plan {
    /// ε spent by `steps` steps at `sample_rate` with this plan's noise.
    fn spent(&self, sample_rate: f64, steps: u64) -> f64 {
        accountant::epsilon(
            &[SgmSteps {
                sample_rate,
                noise_multiplier: f64::from(self.dp.noise_multiplier),
                steps,
            }],
            self.delta,
            &accountant::default_orders(),
        )
        .map_or(f64::INFINITY, |p| p.epsilon)
    }

    /// The report section for the two students' training (each charged at its own
    /// sampling rate and steps: the scratch baseline skips rows without a label).
    pub(crate) fn report(
        &self,
        student: &FitOutcome,
        scratch: &FitOutcome,
        teacher_saw_private_rows: bool,
    ) -> PrivacyReport {
        let teacher = if teacher_saw_private_rows {
            "The teacher was trained on the same rows without privacy, and its soft labels carry what it learnt: the guarantee bounds what the student's own training adds, not what the teacher's labels reveal. For an end-to-end guarantee, label with a teacher that never saw the private rows."
        } else {
            "The teacher's labels come from outside this run (a model or soft-label columns): if that teacher saw the private rows, its labels are not covered."
        };
        PrivacyReport {
            accountant: "rdp".into(),
            target_epsilon: self.target_epsilon,
            epsilon: self.spent(student.sample_rate, student.steps),
            scratch_epsilon: self.spent(scratch.sample_rate, scratch.steps),
            delta: self.delta,
            noise_multiplier: f64::from(self.dp.noise_multiplier),
            max_grad_norm: f64::from(self.dp.max_grad_norm),
            sample_rate: student.sample_rate,
            steps: student.steps,
            planned_steps: self.planned_steps,
            covers: format!(
                "(ε, δ)-differential privacy of the student's training rows (DP-SGD: Poisson-sampled batches, per-example clipping, Gaussian noise; Rényi-DP accountant). Early stopping and the best epoch are chosen on the validation rows, which are not covered. {teacher}"
            ),
            pate: None,
        }
    }
}
