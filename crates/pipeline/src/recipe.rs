//! The recipe: the user's one TOML file. Every key has a default except `[data] train`,
//! `[data] target` and the teacher source. Unknown keys are rejected with the nearest
//! known key suggested, because a typo silently falling back to a default would make a
//! run look valid while ignoring what the user asked for.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, PipelineError, Result, invalid_recipe, recipe_error};

/// A parsed recipe. Relative paths are relative to the recipe file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Run name; default: the recipe file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// `[data]`: the files and the target.
    pub data: DataSection,
    /// `[teacher]`: where soft labels come from (absent only under `[privacy] mode =
    /// "pate"`, which trains its own teachers).
    #[serde(default)]
    pub teacher: TeacherSection,
    /// `[student]`: the network's shape.
    #[serde(default)]
    pub student: StudentSection,
    /// `[distill]`: temperature, soft weight and training.
    #[serde(default)]
    pub distill: DistillSection,
    /// `[gates]`: what the student must reach to pass.
    #[serde(default)]
    pub gates: GatesSection,
    /// `[quantize]`: the int8 student.
    #[serde(default)]
    pub quantize: QuantizeSection,
    /// `[evaluate]`: slices, cross-validation, ablation groups.
    #[serde(default)]
    pub evaluate: EvaluateSection,
    /// `[sweep]`: extra students for the ablation table.
    #[serde(default)]
    pub sweep: SweepSection,
    /// `[quality]`: the data checks.
    #[serde(default)]
    pub quality: QualitySection,
    /// `[privacy]`: train the student with DP-SGD to a target ε.
    #[serde(default)]
    pub privacy: Option<crate::privacy::PrivacySection>,
    /// The file the recipe came from (messages name it); not a key.
    #[serde(skip)]
    pub file: PathBuf,
}

/// `[quality]`: the data checks that run before training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualitySection {
    /// Run the checks (default true).
    pub checks: bool,
    /// Findings accepted as they are: `check` or `check:column` (e.g. "leakage:id", "overlap").
    pub acknowledge: Vec<String>,
    /// Severity per check ("info", "warn" or "block"), e.g. { duplicates = "block" }.
    pub severity: std::collections::BTreeMap<String, distillery_quality::Severity>,
    /// A column with each row's time: test rows dated before training rows are reported.
    pub time_column: Option<String>,
    /// What to do with suspected label errors found by cross-validation: "report"
    /// (default), "drop" them from training, or "downweight" (soft labels only).
    pub label_issues: LabelIssueMode,
}

/// `[quality] label_issues`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelIssueMode {
    /// List them only.
    #[default]
    Report,
    /// Leave them out of training.
    Drop,
    /// Train on the teacher's soft labels alone for them.
    Downweight,
}

impl Default for QualitySection {
    fn default() -> Self {
        QualitySection {
            checks: true,
            acknowledge: Vec::new(),
            severity: Default::default(),
            time_column: None,
            label_issues: LabelIssueMode::Report,
        }
    }
}

/// `[evaluate]`: slices, the weak-slice search, cross-validation and feature groups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluateSection {
    /// Declared slices: `"sex"`, `"age:quantile(4)"`, `"hours:bins(20, 40)"`, `"race × sex"`.
    pub slices: Vec<String>,
    /// Search 1- and 2-feature conjunctions for weak slices (default true).
    pub discover: bool,
    /// Smallest slice counted, in labelled rows (default: 1% of the test rows, at least 30).
    pub min_slice_rows: Option<usize>,
    /// False-discovery rate of the search (default 0.05).
    pub fdr: f64,
    /// Smallest standardised effect size reported by the search (default 0.2).
    pub min_effect: f64,
    /// Stratified k-fold cross-validation of the whole recipe; 0 = off (default 0).
    pub cv_folds: usize,
    /// Named groups of feature columns; each is left out in turn and the student re-distilled.
    pub feature_groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Columns an attacker must not recover from the student's answers (attribute
    /// inference: the attacker's accuracy with and without the answers).
    pub sensitive: Vec<String>,
    /// Measure the student's extraction curve (queries → a clone's fidelity): about ten
    /// small trainings (default false).
    pub extraction: bool,
    /// Shadow students for the likelihood-ratio membership attack (LiRA) on the student;
    /// 0 = off (default). 16 is a good start.
    pub shadow_models: usize,
}

impl Default for EvaluateSection {
    fn default() -> Self {
        EvaluateSection {
            slices: Vec::new(),
            discover: true,
            min_slice_rows: None,
            fdr: 0.05,
            min_effect: 0.2,
            cv_folds: 0,
            feature_groups: Default::default(),
            sensitive: Vec::new(),
            extraction: false,
            shadow_models: 0,
        }
    }
}

/// `[sweep]`: alternative settings, each list crossed with the others; an empty list keeps
/// the recipe's value. Every combination is distilled and measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSection {
    /// Temperatures.
    pub temperature: Vec<f32>,
    /// Soft weights.
    pub soft_weight: Vec<f32>,
    /// Hidden layer widths.
    pub hidden: Vec<Vec<usize>>,
}

impl SweepSection {
    /// True when the recipe asks for a sweep.
    pub fn is_active(&self) -> bool {
        !(self.temperature.is_empty() && self.soft_weight.is_empty() && self.hidden.is_empty())
    }
}

/// `[quantize]`: int8 post-training quantization of the student.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuantizeSection {
    /// Also produce `student.int8.safetensors` and `student.int8.onnx` (default false).
    pub int8: bool,
    /// "percentile" (default) or "minmax" activation calibration.
    pub method: String,
    /// Percentile of |activation| that maps to 127 (default 99.99).
    pub percentile: f32,
    /// Training rows used for calibration (default 2000).
    pub calibration_rows: usize,
}

impl Default for QuantizeSection {
    fn default() -> Self {
        QuantizeSection {
            int8: false,
            method: "percentile".into(),
            percentile: 99.99,
            calibration_rows: 2000,
        }
    }
}

impl QuantizeSection {
    /// The calibration rule.
    pub fn calibration(&self) -> Result<distillery_runtime::Calibration> {
        calibration(&self.method, self.percentile)
    }
}

/// Parses a calibration method name.
pub fn calibration(method: &str, percentile: f32) -> Result<distillery_runtime::Calibration> {
    match method {
        "minmax" => Ok(distillery_runtime::Calibration::MinMax),
        "percentile" if (50.0..=100.0).contains(&percentile) => {
            Ok(distillery_runtime::Calibration::Percentile(percentile))
        }
        "percentile" => {
            invalid_recipe!("[quantize] percentile = {percentile} must be between 50 and 100")
        }
        other => {
            invalid_recipe!(
                "[quantize] method = \"{other}\" is unknown; use \"percentile\" or \"minmax\""
            )
        }
    }
}

/// `[data]`: where the rows are and what the columns mean.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Training file (CSV, CSV.gz or Parquet).
    pub train: PathBuf,
    /// Optional separate test file; otherwise `test_fraction` of `train` is held out.
    #[serde(default)]
    pub test: Option<PathBuf>,
    /// Optional file of unlabelled rows (same feature columns, target absent or ignored):
    /// a transfer set the teacher labels, trained on through its soft labels alone.
    #[serde(default)]
    pub unlabelled: Option<PathBuf>,
    /// The class label column.
    pub target: String,
    /// Share of rows held out for testing (default 0.2).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Share of rows used for early stopping (default 0.1).
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
    /// Columns forced to be categorical.
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Columns forced to be numeric.
    #[serde(default)]
    pub numeric: Vec<String>,
    /// Columns left out.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Free-text columns (hashed word n-grams; detected when mostly unique and wordy).
    #[serde(default)]
    pub text: Vec<String>,
    /// Cell values meaning "missing" (default: "", "?", "NA", "N/A", "NaN", "nan", "null").
    #[serde(default = "distillery_data::default_missing")]
    pub missing: Vec<String>,
}

fn default_test_fraction() -> f64 {
    0.2
}
fn default_validation_fraction() -> f64 {
    0.1
}

/// `[teacher]`: exactly one of `onnx`, `columns`, `train`, `url`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    /// An ONNX model run at run time.
    #[serde(default)]
    pub onnx: Option<PathBuf>,
    /// With `onnx`: the transformer's `tokenizer.json`; the teacher then reads the text
    /// column (`inputs = ["body"]`, or the only text column) as token ids.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Prefix of precomputed soft-label columns (one per class).
    #[serde(default)]
    pub columns: Option<String>,
    /// Train a teacher from the labels (gradient-boosted trees by default, or a large MLP).
    #[serde(default)]
    pub train: Option<TeacherTraining>,
    /// A teacher served over the Open Inference Protocol (`http://host:port/v2/models/name`:
    /// Triton, KServe, MLServer, `distillery serve`), asked in batches.
    #[serde(default)]
    pub url: Option<String>,
    /// Remote teacher: rows per request (default 1024).
    #[serde(default)]
    pub batch_rows: Option<usize>,
    /// Remote teacher: requests in flight at once (default 4).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Remote teacher: extra attempts for a request that failed in transport or got 429 or
    /// 5xx, with back-off (default 4).
    #[serde(default)]
    pub retries: Option<usize>,
    /// Columns fed to the ONNX teacher, in order (default: the model's metadata, else all
    /// feature columns in file order).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// ONNX output to read (default: `probabilities` or the only float matrix output).
    #[serde(default)]
    pub output: Option<String>,
    /// Whether the teacher gives "probabilities", "logits" or "auto" (default: auto).
    #[serde(default)]
    pub scores: distillery_teacher::OutputKind,
}

/// Which model `[teacher] train` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeacherModel {
    /// Gradient-boosted trees (forust-ml), soft labels for the training rows by K-fold
    /// cross-fitting: tabular data's strongest model, and `init`'s default.
    Gbdt,
    /// A large MLP trained by distillery's own engine.
    Mlp,
}

/// `[teacher] train = { … }`: a teacher trained in-house from the labels.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherTraining {
    /// "gbdt" or "mlp" (default: "mlp" when `hidden` is given, else "gbdt").
    #[serde(default)]
    pub kind: Option<TeacherModel>,
    /// MLP: hidden widths (default [256, 256]).
    #[serde(default)]
    pub hidden: Option<Vec<usize>>,
    /// MLP: epochs (default: `[distill] epochs`).
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Learning rate (default 0.001 for the MLP, 0.1 for boosting).
    #[serde(default)]
    pub learning_rate: Option<f32>,
    /// GBDT: most boosting rounds per class (default 1000; early stopping on the validation
    /// rows usually ends far sooner).
    #[serde(default)]
    pub iterations: Option<usize>,
    /// GBDT: deepest split level (default: 6 or 3, whichever cross-fits better, up to
    /// 50,000 training rows × boosters; 6 above).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// GBDT: folds of the cross-fitting that labels the training rows (default 5; each
    /// training row is labelled by a model that never saw it).
    #[serde(default)]
    pub folds: Option<usize>,
}

impl TeacherTraining {
    /// The model this section builds.
    pub fn model(&self) -> TeacherModel {
        self.kind.unwrap_or(if self.hidden.is_some() {
            TeacherModel::Mlp
        } else {
            TeacherModel::Gbdt
        })
    }

    /// The MLP's hidden widths.
    pub fn mlp_hidden(&self) -> Vec<usize> {
        self.hidden.clone().unwrap_or_else(|| vec![256, 256])
    }

    /// The boosting settings (defaults filled in), seeded by the recipe's seed.
    pub fn gbdt_params(&self, seed: u64) -> distillery_train::GbdtParams {
        let d = distillery_train::GbdtParams::default();
        distillery_train::GbdtParams {
            iterations: self.iterations.unwrap_or(d.iterations),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            max_depth: self.max_depth.unwrap_or(d.max_depth),
            seed,
            ..d
        }
    }

    /// Cross-fitting folds (default 5).
    pub fn cross_fit_folds(&self) -> usize {
        self.folds.unwrap_or(5)
    }

    /// Checks the settings against the chosen model.
    fn check(&self, path: &str, seed: u64) -> Result<()> {
        let foreign = self.foreign_keys();
        if !foreign.is_empty() {
            let kind = match self.model() {
                TeacherModel::Gbdt => "gbdt",
                TeacherModel::Mlp => "mlp",
            };
            invalid_recipe!(
                "{path}: [teacher] train = {{ kind = \"{kind}\" }} does not read {}; remove it or choose the other kind",
                foreign.join(", ")
            );
        }
        if self.model() == TeacherModel::Gbdt {
            self.gbdt_params(seed)
                .check()
                .map_err(|e| recipe_error!("{path}: [teacher] train: {e}"))?;
            if !(2..=20).contains(&self.cross_fit_folds()) {
                invalid_recipe!(
                    "{path}: [teacher] train folds = {} must be 2 to 20 (5 is usual)",
                    self.cross_fit_folds()
                );
            }
        }
        Ok(())
    }

    /// Keys given that the chosen model does not read, named for the error.
    pub fn foreign_keys(&self) -> Vec<&'static str> {
        let (mlp, gbdt) = (
            [
                ("hidden", self.hidden.is_some()),
                ("epochs", self.epochs.is_some()),
            ],
            [
                ("iterations", self.iterations.is_some()),
                ("max_depth", self.max_depth.is_some()),
                ("folds", self.folds.is_some()),
            ],
        );
        match self.model() {
            TeacherModel::Mlp => gbdt.iter().filter(|k| k.1).map(|k| k.0).collect(),
            TeacherModel::Gbdt => mlp.iter().filter(|k| k.1).map(|k| k.0).collect(),
        }
    }
}

/// `[student]`: the architecture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSection {
    /// Hidden widths; `[]` = multinomial logistic regression. Giving them pins the
    /// architecture; without them the run searches for the student (see `size`).
    #[serde(default = "default_student_hidden")]
    pub hidden: Vec<usize>,
    /// "auto": search a family of widths, depths, temperatures and soft weights under the
    /// budget (the default when `hidden` is not given).
    #[serde(default)]
    pub size: Option<StudentSize>,
    /// Search budget: the student's file size in bytes (default [`DEFAULT_MAX_BYTES`] when
    /// no budget is given).
    #[serde(default)]
    pub max_bytes: Option<usize>,
    /// Search budget: median latency of one row through the student, in microseconds,
    /// measured on the machine running the search.
    #[serde(default)]
    pub max_latency_us: Option<f64>,
    /// Whether the recipe wrote `hidden` (filled by [`Recipe::parse`]).
    #[serde(skip)]
    pub pinned: bool,
    /// Numeric columns that also get a one-hot slot per frequent exact value (e.g. sparse,
    /// heavy-tailed amounts whose exact values a tree teacher splits on).
    #[serde(default)]
    pub value_levels: Vec<String>,
    /// Quantile bins of every numeric feature's piecewise-linear encoding (0 = one
    /// standardised number only); see [`DEFAULT_NUMERIC_BINS`].
    #[serde(default = "default_numeric_bins")]
    pub numeric_bins: usize,
    /// Give value levels to every numeric column with a point mass (one value in at least
    /// half the training rows, more than ten values), as `value_levels` does by name, when
    /// there are at least [`POINT_MASS_MIN_ROWS`] training rows.
    #[serde(default = "default_true")]
    pub point_mass_levels: bool,
    /// How text columns are hashed into the student's inputs (`[student.text]`: `buckets`,
    /// `word_ngrams`, `char_ngrams`, `max_tokens`).
    #[serde(default)]
    pub text: TextSection,
}

/// `[student.text]`: the hashed n-gram features of text columns (see
/// `distillery_runtime::TextHashing` for the exact hashing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextSection {
    /// Hashed slots per text column (the first layer's width for it).
    pub buckets: u32,
    /// Longest word n-gram.
    pub word_ngrams: u8,
    /// Shortest and longest character n-gram; `[0, 0]` is off.
    pub char_ngrams: [u8; 2],
    /// Tokens read per text.
    pub max_tokens: u32,
    /// Word vectors whose mean over a text's words joins its hashed n-grams: a `.vec` file
    /// (`tools/word_vectors.py` derives one from the teacher's encoder), `"teacher"` (the
    /// run derives them from a transformer teacher run here; the default with `[teacher]
    /// onnx` and `tokenizer`), or `"none"`.
    pub vectors: Option<PathBuf>,
}

impl Default for TextSection {
    fn default() -> Self {
        let h = distillery_runtime::TextHashing::default();
        TextSection {
            buckets: h.buckets,
            word_ngrams: h.word_ngrams,
            char_ngrams: h.char_ngrams,
            max_tokens: h.max_tokens,
            vectors: None,
        }
    }
}

impl TextSection {
    /// The runtime's hashing for these settings.
    pub fn hashing(&self) -> distillery_runtime::TextHashing {
        distillery_runtime::TextHashing {
            buckets: self.buckets,
            word_ngrams: self.word_ngrams,
            char_ngrams: self.char_ngrams,
            max_tokens: self.max_tokens,
        }
    }
}

/// `[student.text] vectors = "none"`: no word vectors, even with a transformer teacher.
pub const VECTORS_OFF: &str = "none";

/// `[student.text] vectors = "teacher"`: word vectors from the transformer teacher's encoder.
pub const VECTORS_FROM_TEACHER: &str = "teacher";

/// Dimensions kept of the teacher's word embeddings (their top principal components), as
/// `tools/word_vectors.py` does by default. 256 against 64 lifted the distilled student
/// 0.30 pp on Rotten Tomatoes (six splits) and 0.12 pp on SpamAssassin (four), for a file
/// 2.5× larger (the vectors are int8); a linear probe had found 64 enough.
pub const TEACHER_VECTOR_DIMS: usize = 256;

/// Fewest training rows for `point_mass_levels` to apply: each level is one more input the
/// student must learn from the rows that hold it. Below this (phishing, credit_data,
/// mlc_churn) the levels measured no better or worse than one standardised number; above
/// it (adult, census_kdd) they gained 0.2–1.3 pp.
pub const POINT_MASS_MIN_ROWS: usize = 10_000;

/// Default [`StudentSection::numeric_bins`]: off. Bins raised magic's student 0.5 pp but
/// lowered mlc_churn's and adult's, for no gain in mean test accuracy over the shared sets on
/// two splits, and they widen the first layer (README, *Student inputs*).
pub const DEFAULT_NUMERIC_BINS: usize = 0;

fn default_numeric_bins() -> usize {
    DEFAULT_NUMERIC_BINS
}

fn default_true() -> bool {
    true
}

impl Default for StudentSection {
    fn default() -> Self {
        StudentSection {
            hidden: default_student_hidden(),
            size: None,
            max_bytes: None,
            max_latency_us: None,
            pinned: false,
            value_levels: Vec::new(),
            numeric_bins: DEFAULT_NUMERIC_BINS,
            point_mass_levels: true,
            text: TextSection::default(),
        }
    }
}

impl StudentSection {
    /// The search budget, or `None` when `hidden` pins the architecture.
    fn search_budget(&self, path: &str) -> Result<Option<SearchBudget>> {
        let asked =
            self.size.is_some() || self.max_bytes.is_some() || self.max_latency_us.is_some();
        if self.pinned {
            if asked {
                invalid_recipe!(
                    "{path}: [student] hidden pins the architecture, so size / max_bytes / max_latency_us have nothing to search; remove hidden to search under the budget, or remove the budget"
                );
            }
            return Ok(None);
        }
        if let Some(b) = self.max_bytes
            && b < 1_000
        {
            invalid_recipe!(
                "{path}: [student] max_bytes = {b} is below any student's header; give at least 1000"
            );
        }
        if let Some(us) = self.max_latency_us
            && !(us.is_finite() && us > 0.0)
        {
            invalid_recipe!("{path}: [student] max_latency_us = {us} must be above 0");
        }
        let max_bytes = match (self.max_bytes, self.max_latency_us) {
            (None, None) => Some(DEFAULT_MAX_BYTES),
            (b, _) => b,
        };
        Ok(Some(SearchBudget {
            max_bytes,
            max_latency_us: self.max_latency_us,
            explicit: self.max_bytes.is_some() || self.max_latency_us.is_some(),
        }))
    }
}

fn default_student_hidden() -> Vec<usize> {
    vec![64]
}

/// The optimizer-step budget when a recipe gives neither `steps` nor `epochs`. Measured
/// with the boosted teacher, 30 epochs left the student improving at its last epoch on
/// most sets (mlc_churn, magic); a fixed step count gives a 5,000-row set as many updates
/// as a 50,000-row one (README, "Training").
pub const AUTO_STEPS: u64 = 15_000;

/// `[student] size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudentSize {
    /// Search for the student under the budget.
    Auto,
}

/// The byte budget of a search when the recipe gives none and the teacher's size is unknown
/// (soft-label columns, a served teacher): a student that fits comfortably
/// in a microcontroller's flash or an edge binary, and answers in well under a microsecond
/// on one core for tabular widths (the search measures and reports each candidate's latency).
pub const DEFAULT_MAX_BYTES: usize = 50_000;

/// How many times smaller than its teacher the student is when the recipe sets no budget
/// and the teacher's size is known: the search's byte budget is the teacher's file over 20.
/// Measured with `bench/defaults.sh` and `bench/defaults_lgbm.sh` (README, "Student search"):
/// letter's 17 MB forest kept 98.6% of its accuracy in 50 kB and 99.95% in 90 kB, and the
/// small sets' students lost nothing at 1/20 of their 60–340 kB boosted teachers.
pub const TEACHER_SIZE_RATIO: u64 = 20;

/// The budget a student search must respect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchBudget {
    /// Most bytes of the student's file.
    pub max_bytes: Option<usize>,
    /// Most microseconds per row.
    pub max_latency_us: Option<f64>,
    /// True when the recipe gave the budget; the default one may be raised to admit the
    /// smallest candidate of each depth when nothing fits it (very wide inputs).
    pub explicit: bool,
}

/// `[distill]`: the training of the student.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistillSection {
    /// Softmax temperature (default 4).
    pub temperature: f32,
    /// Weight of the teacher term (default 0.7).
    pub soft_weight: f32,
    /// Passes over the transfer set; giving it trains by epochs instead of by `steps`.
    pub epochs: Option<usize>,
    /// Optimizer-step budget (default [`AUTO_STEPS`] when neither `steps` nor `epochs` is
    /// given), turned into whole epochs of the transfer set (at most 300).
    pub steps: Option<u64>,
    /// Rows per step (default 256).
    pub batch_size: usize,
    /// Peak AdamW learning rate (default 0.003).
    pub learning_rate: f32,
    /// AdamW weight decay (default 1e-4).
    pub weight_decay: f32,
    /// Early-stopping patience in epochs; 0 = off (default 5 when training by epochs).
    pub patience: Option<usize>,
    /// Early-stopping patience in optimizer steps (default: a quarter of the step budget when
    /// training by steps and `patience` is not given).
    pub patience_steps: Option<u64>,
    /// Seed of every random choice (default 7).
    pub seed: u64,
    /// "auto", "none", "munge", "gibbs", "mixed" or "tokens" (default "auto": synthetic rows
    /// sized by the training set, half MUNGE, half Gibbs-sampled — token dropout / swap for
    /// text — when the teacher can label new rows).
    pub augment: Augment,
    /// Synthetic rows per training row under "munge", "gibbs", "mixed" or "tokens" (default 1).
    pub augment_factor: usize,
    /// MUNGE swap probability p, and the share of columns a Gibbs sweep resamples
    /// (default 0.5).
    pub munge_probability: f64,
    /// MUNGE spread s (default 1).
    pub munge_spread: f64,
    /// Adversarial training of the student and the scratch baseline (off by default).
    pub adversarial: Option<AdversarialSection>,
}

/// `[distill] adversarial = { epsilon = 0.1, steps = 3 }`: every training batch is replaced
/// by PGD examples against the network being trained (L∞ on numeric columns, in standard
/// deviations, inside the training range), which learns the clean rows' targets on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdversarialSection {
    /// Radius of the perturbation, in standard deviations.
    pub epsilon: f32,
    /// PGD steps per batch (default 3), each of 2.5 ε / steps.
    #[serde(default = "default_adversarial_steps")]
    pub steps: usize,
    /// Columns the attack must not move (numeric or categorical).
    #[serde(default)]
    pub immutable: Vec<String>,
    /// Whether the attack may also switch one categorical column to another level, the
    /// switch the gradient favours (default true; false: only numbers move).
    #[serde(default = "default_true")]
    pub categorical: bool,
}

fn default_adversarial_steps() -> usize {
    3
}

impl Default for DistillSection {
    fn default() -> Self {
        let p = distillery_train::DistillParams::default();
        DistillSection {
            temperature: p.temperature,
            soft_weight: p.soft_weight,
            epochs: None,
            steps: None,
            batch_size: p.batch_size,
            learning_rate: p.learning_rate,
            weight_decay: p.weight_decay,
            patience: None,
            patience_steps: None,
            seed: p.seed,
            augment: Augment::Auto,
            augment_factor: 1,
            munge_probability: 0.5,
            munge_spread: 1.0,
            adversarial: None,
        }
    }
}

/// Transfer-set augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Augment {
    /// Synthetic rows up to about [`AUTO_TRANSFER_ROWS`] transfer rows (at most
    /// [`AUTO_MAX_FACTOR`] per real row), half MUNGE and half Gibbs-sampled, when the
    /// teacher can label new rows; none for large training sets, soft-label columns, or
    /// `soft_weight = 0`.
    Auto,
    /// Train on the given rows only.
    None,
    /// Add teacher-labelled MUNGE neighbours (Buciluǎ et al. 2006).
    Munge,
    /// Add teacher-labelled rows from a Gibbs-style sampler of each column given the others
    /// (the FAST-DAD idea, with nearest-neighbour conditionals; `distillery_train::gibbs`).
    Gibbs,
    /// Both generators, half of `augment_factor` each (MUNGE takes the odd one).
    Mixed,
    /// Text columns only: copies of the training rows with words dropped and neighbouring
    /// words swapped (Tang et al. 2019), labelled by the teacher.
    Tokens,
}

/// Transfer rows (real + synthetic) `augment = "auto"` aims for: a small student learns its
/// teacher's function better from more of the teacher's answers than the labelled rows
/// hold (on magic, 13k rows: +0.5 pp over scratch with 4× the rows, none without).
pub const AUTO_TRANSFER_ROWS: usize = 50_000;

/// Most synthetic rows per real row under `augment = "auto"`.
pub const AUTO_MAX_FACTOR: usize = 9;

/// Transfer texts (real + token-augmented) `augment = "auto"` aims for when the data have
/// text columns and the teacher can label new texts.
pub const AUTO_TEXT_ROWS: usize = 20_000;

/// Most token-augmented copies per real text under `augment = "auto"`.
pub const AUTO_TEXT_MAX_FACTOR: usize = 4;

/// Seconds of transformer time `augment = "auto"` may spend labelling new texts (or as
/// long as labelling the data took, when that is longer).
pub const AUTO_TEXT_SECONDS: f64 = 300.0;

/// `[gates]`: thresholds that make `run` exit 1 when the student falls short (defined
/// with their verdicts in `distillery_eval::gate`).
pub type GatesSection = distillery_eval::gate::Gates;

impl Recipe {
    /// Reads a recipe file, parses it and checks every setting.
    pub fn load(path: &Path) -> Result<(ValidRecipe, String)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read recipe {}; check the path", path.display()))?;
        let recipe = Recipe::parse(&text, path)?.check()?;
        Ok((recipe, text))
    }

    /// Parses recipe text (`path` is used in messages and as the base for relative paths).
    /// Only the shape is checked here (TOML, known keys, types); [`Recipe::check`] checks
    /// the values.
    pub fn parse(text: &str, path: &Path) -> Result<Recipe> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| recipe_error!("{}: not valid TOML: {e}", path.display()))?;
        let mut recipe: Recipe =
            toml::from_str(text).map_err(|e| toml_error(&path.display().to_string(), text, &e))?;
        recipe.student.pinned = table.get("student").and_then(|t| t.get("hidden")).is_some();
        let base = path.parent().unwrap_or(Path::new("."));
        recipe.data.train = base.join(&recipe.data.train);
        recipe.data.test = recipe.data.test.map(|t| base.join(t));
        recipe.data.unlabelled = recipe.data.unlabelled.map(|t| base.join(t));
        recipe.teacher.onnx = recipe.teacher.onnx.map(|t| base.join(t));
        recipe.teacher.tokenizer = recipe.teacher.tokenizer.map(|t| base.join(t));
        recipe.student.text.vectors = recipe.student.text.vectors.map(|t| {
            if t == Path::new(VECTORS_OFF) || t == Path::new(VECTORS_FROM_TEACHER) {
                t
            } else {
                base.join(t)
            }
        });
        recipe.file = path.to_path_buf();
        Ok(recipe)
    }

    /// Checks every value once, before any work starts, and returns the recipe with its
    /// checked settings, so no stage re-validates.
    pub fn check(mut self) -> Result<ValidRecipe> {
        let path = self.file.display().to_string();
        let sources = [
            self.teacher.onnx.is_some(),
            self.teacher.columns.is_some(),
            self.teacher.train.is_some(),
            self.teacher.url.is_some(),
        ];
        let pate = self
            .privacy
            .as_ref()
            .is_some_and(|p| p.mode == crate::privacy::PrivacyMode::Pate);
        match sources.iter().filter(|s| **s).count() {
            1 => {}
            // PATE trains its own teachers (checked with [privacy] below).
            _ if pate => {}
            0 => invalid_recipe!(
                "{path}: [teacher] needs one source: onnx = \"model.onnx\", columns = \"prefix_\", train = {{ kind = \"gbdt\" }} or url = \"http://host:port/v2/models/name\""
            ),
            _ => invalid_recipe!(
                "{path}: [teacher] has more than one source; keep exactly one of onnx, columns, train, url"
            ),
        }
        let text = &self.student.text;
        if !(16..=1 << 20).contains(&text.buckets)
            || !(1..=3).contains(&text.word_ngrams)
            || text.max_tokens == 0
            || (text.char_ngrams != [0, 0]
                && !(1 <= text.char_ngrams[0]
                    && text.char_ngrams[0] <= text.char_ngrams[1]
                    && text.char_ngrams[1] <= 8))
        {
            invalid_recipe!(
                "{path}: [student.text] needs 16 ≤ buckets ≤ 1048576, word_ngrams 1–3, max_tokens ≥ 1 and char_ngrams [0, 0] (off) or [lo, hi] with 1 ≤ lo ≤ hi ≤ 8; got {text:?}"
            );
        }
        let remote_knobs = [
            self.teacher.batch_rows.is_some(),
            self.teacher.concurrency.is_some(),
            self.teacher.retries.is_some(),
        ];
        if self.teacher.url.is_none() && remote_knobs.iter().any(|k| *k) {
            invalid_recipe!(
                "{path}: [teacher] batch_rows, concurrency and retries apply to a url teacher only"
            );
        }
        if let Some(url) = &self.teacher.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            invalid_recipe!(
                "{path}: [teacher] url = {url:?} must start with http:// or https://, e.g. \"http://localhost:8080/v2/models/teacher\""
            );
        }
        if self.teacher.batch_rows == Some(0) || self.teacher.concurrency == Some(0) {
            invalid_recipe!("{path}: [teacher] batch_rows and concurrency must be at least 1");
        }
        if let Some(name) = &self.name {
            distillery_registry::model_name(name)
                .with_context(|| format!("{path}: `name` becomes the registered model's name"))?;
        }
        let calibration = self.quantize.calibration()?;
        if self.distill.augment_factor == 0 {
            invalid_recipe!("{path}: [distill] augment_factor must be at least 1");
        }
        if let Some(a) = &self.distill.adversarial
            && (!a.epsilon.is_finite() || a.epsilon <= 0.0 || a.steps == 0)
        {
            invalid_recipe!(
                "{path}: [distill] adversarial needs epsilon > 0 (standard deviations, e.g. 0.1) and steps ≥ 1"
            );
        }
        self.check_evaluate(&path)?;
        crate::privacy::check(&self, &path)?;
        if let Some(t) = &self.teacher.train {
            t.check(&path, self.distill.seed)?;
        }
        let search = self.student.search_budget(&path)?;
        let params = self.distill_params()?;
        let sweep = self.sweep_params()?;
        if self.name.is_none() {
            self.name = self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
        }
        Ok(ValidRecipe {
            recipe: self,
            params,
            calibration,
            sweep,
            search,
        })
    }

    /// Checks `[evaluate]` and `[quality] label_issues`.
    fn check_evaluate(&self, path: &str) -> Result<()> {
        let e = &self.evaluate;
        if (1..4).contains(&e.shadow_models) || e.shadow_models > 256 {
            invalid_recipe!(
                "{path}: [evaluate] shadow_models = {} must be 0 (off) or between 4 and 256; each row needs shadows that trained on it and shadows that did not",
                e.shadow_models
            );
        }
        for spec in &e.slices {
            distillery_eval::slices::SliceSpec::parse(spec)
                .map_err(|m| recipe_error!("{path}: [evaluate] slices: {m}"))?;
        }
        if self.quality.label_issues != LabelIssueMode::Report && e.cv_folds < 2 {
            invalid_recipe!(
                "{path}: [quality] label_issues = \"{}\" needs the out-of-fold probabilities of [evaluate] cv_folds = 5 (or any k ≥ 2)",
                if self.quality.label_issues == LabelIssueMode::Drop {
                    "drop"
                } else {
                    "downweight"
                }
            );
        }
        if e.cv_folds == 1 {
            invalid_recipe!(
                "{path}: [evaluate] cv_folds = 1 cannot hold rows out; use 0 (off) or at least 2"
            );
        }
        if !(e.fdr > 0.0 && e.fdr < 1.0) {
            invalid_recipe!(
                "{path}: [evaluate] fdr = {} must be between 0 and 1 (e.g. 0.05)",
                e.fdr
            );
        }
        for (group, columns) in &e.feature_groups {
            if columns.is_empty() {
                invalid_recipe!(
                    "{path}: [evaluate] feature_groups.{group} is empty; list its columns"
                );
            }
        }
        Ok(())
    }

    /// Every `[sweep]` combination as checked training parameters, recipe order
    /// (hidden, then temperature, then soft weight).
    fn sweep_params(&self) -> Result<Vec<distillery_train::ValidDistillParams>> {
        let s = &self.sweep;
        if !s.is_active() {
            return Ok(Vec::new());
        }
        let or = |v: &[f32], d: f32| if v.is_empty() { vec![d] } else { v.to_vec() };
        let hidden = if s.hidden.is_empty() {
            vec![self.student.hidden.clone()]
        } else {
            s.hidden.clone()
        };
        let mut out = Vec::new();
        for h in &hidden {
            for &t in &or(&s.temperature, self.distill.temperature) {
                for &w in &or(&s.soft_weight, self.distill.soft_weight) {
                    let mut r = self.clone();
                    r.student.hidden = h.clone();
                    r.distill.temperature = t;
                    r.distill.soft_weight = w;
                    out.push(r.distill_params().map_err(|e| {
                        recipe_error!(
                            "[sweep] hidden = {h:?}, temperature = {t}, soft_weight = {w}: {e}"
                        )
                    })?);
                }
            }
        }
        Ok(out)
    }

    /// The run name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("run")
    }

    /// The student's training parameters, checked.
    fn distill_params(&self) -> Result<distillery_train::ValidDistillParams> {
        let d = &self.distill;
        let p = distillery_train::DistillParams::default();
        let steps = match (d.steps, d.epochs) {
            (Some(s), _) => Some(s),
            (None, Some(_)) => None,
            (None, None) => Some(AUTO_STEPS),
        };
        let patience_steps = match (d.patience_steps, d.patience, steps) {
            (Some(s), _, _) => Some(s),
            (None, None, Some(budget)) => Some((budget / 4).max(1)),
            _ => None,
        };
        distillery_train::DistillParams {
            hidden: self.student.hidden.clone(),
            temperature: d.temperature,
            soft_weight: d.soft_weight,
            epochs: d.epochs.unwrap_or(p.epochs),
            steps,
            batch_size: d.batch_size,
            learning_rate: d.learning_rate,
            weight_decay: d.weight_decay,
            patience: d.patience.unwrap_or(p.patience),
            patience_steps,
            seed: d.seed,
        }
        .check()
        .map_err(|errors| {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            recipe_error!("invalid [distill]/[student] settings: {}", list.join("; "))
        })
    }
}

/// A recipe whose every setting has been checked ([`Recipe::check`]), with the checked
/// values each stage needs. Reads as a [`Recipe`] through `Deref`.
#[derive(Debug, Clone)]
pub struct ValidRecipe {
    recipe: Recipe,
    /// The student's training parameters.
    pub params: distillery_train::ValidDistillParams,
    /// How the int8 student is calibrated.
    pub calibration: distillery_runtime::Calibration,
    /// `[sweep]`'s combinations, recipe order; empty without a sweep.
    pub sweep: Vec<distillery_train::ValidDistillParams>,
    /// The student search's budget; `None` when `hidden` pins the architecture.
    pub search: Option<SearchBudget>,
}

impl std::ops::Deref for ValidRecipe {
    type Target = Recipe;

    fn deref(&self) -> &Recipe {
        &self.recipe
    }
}

impl ValidRecipe {
    /// The same recipe training the student with `params` (the search's winner).
    pub fn with_params(&self, params: distillery_train::ValidDistillParams) -> ValidRecipe {
        ValidRecipe {
            params,
            ..self.clone()
        }
    }

    /// The recipe as written (paths resolved).
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }
}

/// A TOML file that parses but does not fit its schema: the file, the line of the bad
/// value and what was wrong with it (`recipe.toml, line 4: invalid type: …`).
pub fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> PipelineError {
    PipelineError::Recipe(distillery_data::describe_toml_error(
        file,
        text,
        e.message(),
        e.span(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "[data]\ntrain = \"d.csv\"\ntarget = \"y\"\n[teacher]\nonnx = \"t.onnx\"\n";

    #[test]
    fn minimal_recipe_gets_defaults_and_relative_paths() {
        let r = Recipe::parse(MINIMAL, Path::new("dir/census.toml"))
            .unwrap()
            .check()
            .unwrap();
        assert_eq!(r.name(), "census");
        assert_eq!(r.data.train, Path::new("dir/d.csv"));
        assert_eq!(r.student.hidden, [64]);
        assert_eq!(r.distill.temperature, 4.0);
        assert_eq!(r.distill.augment, Augment::Auto);
        let text = Recipe::parse(
            "[data]\ntrain = \"d.csv\"\nunlabelled = \"u.csv\"\ntarget = \"y\"\n[teacher]\nonnx = \"t.onnx\"\ntokenizer = \"tokenizer.json\"\n",
            Path::new("dir/text.toml"),
        )
        .unwrap();
        assert_eq!(
            text.data.unlabelled.as_deref(),
            Some(Path::new("dir/u.csv"))
        );
        assert_eq!(
            text.teacher.tokenizer.as_deref(),
            Some(Path::new("dir/tokenizer.json"))
        );
    }

    #[test]
    fn training_runs_by_a_step_budget_unless_epochs_are_given() {
        let check = |extra: &str| {
            Recipe::parse(&format!("{MINIMAL}[distill]\n{extra}"), Path::new("r.toml"))
                .unwrap()
                .check()
                .unwrap()
                .params
        };
        let auto = check("");
        assert_eq!(auto.steps, Some(AUTO_STEPS));
        assert_eq!(auto.patience_steps, Some(AUTO_STEPS / 4));
        let by_epochs = check("epochs = 12\n");
        assert_eq!((by_epochs.steps, by_epochs.epochs), (None, 12));
        assert_eq!((by_epochs.patience, by_epochs.patience_steps), (5, None));
        let budget = check("steps = 800\npatience = 3\n");
        assert_eq!(
            (budget.steps, budget.patience, budget.patience_steps),
            (Some(800), 3, None)
        );
        let bad = Recipe::parse(
            &format!("{MINIMAL}[distill]\nsteps = 0\n"),
            Path::new("r.toml"),
        )
        .unwrap()
        .check();
        assert!(bad.is_err());
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let text = format!("{MINIMAL}[distill]\ntempreature = 2.0\n");
        let err = Recipe::parse(&text, Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown key 'tempreature' in [distill]; did you mean 'temperature'?"),
            "{err}"
        );
    }

    #[test]
    fn exactly_one_teacher_source() {
        let text = MINIMAL.replace("onnx = \"t.onnx\"", "onnx = \"t.onnx\"\ncolumns = \"p_\"");
        assert!(
            Recipe::parse(&text, Path::new("r.toml"))
                .unwrap()
                .check()
                .is_err()
        );
        let text = MINIMAL.replace("onnx = \"t.onnx\"", "");
        assert!(
            Recipe::parse(&text, Path::new("r.toml"))
                .unwrap()
                .check()
                .is_err()
        );
    }
}
