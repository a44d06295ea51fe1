//! Command-line definitions. Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Distil a big, slow teacher model into a small, fast student.
#[derive(Debug, Parser)]
#[command(name = "distillery", version, about, long_about = None)]
pub(crate) struct Cli {
    /// No progress bars or log lines on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the whole job on the bundled Adult census data and LightGBM teacher.
    Demo(DemoArgs),
    /// Write a starter recipe for a CSV/Parquet file (schema inferred and printed).
    Init(InitArgs),
    /// Check a recipe's data (integrity, train/test hygiene, leakage, PII) without training.
    Check(CheckArgs),
    /// Run a recipe: validate → teacher → distill → evaluate → runs/<run-id>/.
    Run(RunArgs),
    /// Score a CSV or Parquet file with a student.
    Predict(PredictArgs),
    /// Export a student to ONNX (the encoder included: the model takes raw inputs).
    Export(ExportArgs),
    /// Quantize a student to int8 (per-channel weights, calibrated activations).
    Quantize(QuantizeArgs),
    /// Measure a run's student (fp32, int8) against onnxruntime and the teacher.
    Bench(BenchArgs),
    /// Evaluate a student on any labelled file (e.g. next month's data).
    Eval(EvalArgs),
    /// The model registry: versions, aliases, tags, audit log, integrity.
    Registry(RegistryArgs),
    /// Where a registered version came from: dataset → teacher → run → version → aliases.
    Lineage(LineageArgs),
    /// Serve registered students over the Open Inference Protocol (KServe v2) REST API.
    Serve(Box<ServeArgs>),
    /// Change a running server's deployments through its admin API.
    Deploy(DeployArgs),
    /// The operator console: runs, their reports and comparisons, models with versions,
    /// aliases, signatures, audit trail and lineage, as web pages (http://host:port/ui).
    Ui(UiArgs),
    /// Compare current data (a file or the server's prediction log) with a run's reference
    /// profile: a drift test per column, PSI, and a dataset verdict.
    Drift(DriftArgs),
    /// Estimate a student's accuracy and F1 on unlabelled data (CBPE), chunk by chunk,
    /// from its calibrated probabilities and the run's labelled held-out rows.
    Estimate(EstimateArgs),
    /// Re-distil a served model on its recent traffic, labelled by the recipe's teacher:
    /// gates, registration and a canary deployment (what a monitoring alert launches).
    Redistill(RedistillArgs),
    /// Run streaming drift detectors (ADWIN, Page–Hinkley, KSWIN, DDM) over one column of a
    /// data file or of the prediction log, in row order, and list where they fire.
    Detect(DetectArgs),
    /// The differential-privacy accountant (Rényi DP of DP-SGD, as Opacus computes it):
    /// ε for a training schedule, or the noise that meets a target ε.
    Privacy(PrivacyArgs),
    /// Attack a student (PGD on numbers, one categorical change) and transfer the attack
    /// to its teacher: robust accuracy over an ε sweep, written as audit.json.
    Audit(AuditArgs),
    /// Make an ed25519 key pair for signing versions (<out>.secret, <out>.pub).
    Keygen(KeygenArgs),
    /// Sign a registered version: a detached signature over its artifact hashes.
    Sign(SignArgs),
    /// Check a version's signatures against its artifacts as they are now.
    Verify(VerifyArgs),
}

/// `distillery check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The recipe (TOML) whose data to check.
    #[arg(required_unless_present = "against")]
    pub(crate) recipe: Option<PathBuf>,
    /// A run directory whose schema contract (contract.json) `--data` must meet.
    #[arg(long, requires = "data")]
    pub(crate) against: Option<PathBuf>,
    /// Later data to check against the run's contract.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Also look for label errors: cross-validate the recipe's student ([evaluate] cv_folds,
    /// else 5 folds) and apply confident learning to its out-of-fold probabilities.
    #[arg(long)]
    pub(crate) label_issues: bool,
    /// Where --label-issues writes its CSV of flagged rows (default: label_issues.csv next
    /// to the recipe).
    #[arg(long, requires = "label_issues")]
    pub(crate) out: Option<PathBuf>,
    /// Print every finding as one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery serve`. Every setting can also come from `--config serve.toml`; a flag
/// given here overrides the file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Read an admin token on stdin, print the `blake3:…` form an admin token file may hold
    /// instead of the token itself, and exit.
    #[arg(long)]
    pub(crate) hash_token: bool,
    /// Follow the registry: apply promotions, rollbacks, canary and shadow changes made
    /// anywhere (another replica, `registry promote`) while serving. On by default for a
    /// PostgreSQL registry, which replicas share; `--follow false` pins what was loaded.
    #[arg(long, value_name = "true|false")]
    pub(crate) follow: Option<bool>,
    /// Also serve the operator console at /ui, over this folder of runs and the registry
    /// (read-only: the console has no login yet, so keep the server private).
    #[arg(long, value_name = "DIR")]
    pub(crate) runs: Option<std::path::PathBuf>,
    /// How often a following server polls the registry for alias changes, in milliseconds
    /// (on PostgreSQL it is also woken at once by NOTIFY).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub(crate) poll_ms: u64,
    /// A TOML file of serve settings (see docs/serving.md's serve.toml); flags override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Port to listen on (default 8080; 0: any free port, the address is printed).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Address to bind (default 127.0.0.1).
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Models to serve (name@alias, name/3 or name); default: every model with a production alias.
    #[arg(long = "model")]
    pub(crate) models: Vec<String>,
    /// A canary version (e.g. name/4) that receives --canary-weight % of its model's traffic
    /// (a request with an id always goes the same way).
    #[arg(long)]
    pub(crate) canary: Option<String>,
    /// Share of traffic, 0–100, that the canary receives (default 10).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub(crate) canary_weight: Option<u8>,
    /// A shadow version (e.g. name/4) that sees a copy of --shadow-fraction of its model's
    /// requests; its answers are compared and logged, never returned.
    #[arg(long)]
    pub(crate) shadow: Option<String>,
    /// Fraction (0–1) of requests copied to the shadow (default 1).
    #[arg(long)]
    pub(crate) shadow_fraction: Option<f64>,
    /// File holding the admin API's bearer token (else DISTILLERY_ADMIN_TOKEN; neither: the
    /// admin API is off). The token is never logged.
    #[arg(long)]
    pub(crate) admin_token_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long)]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long)]
    pub(crate) tls_key: Option<PathBuf>,
    /// Directory of the prediction log (default "predictions"; predictions-<n>.jsonl, one
    /// request and answer per line).
    #[arg(long)]
    pub(crate) log_dir: Option<PathBuf>,
    /// Do not log predictions.
    #[arg(long)]
    pub(crate) no_log: bool,
    /// This server's name among replicas: its prediction log goes to <log-dir>/<replica>/,
    /// so replicas can share one log place (a folder, or s3://bucket/prefix) and `drift`,
    /// `estimate` and `redistill` read the union. Default: the host name when the log
    /// goes to S3, none otherwise.
    #[arg(long, env = "DISTILLERY_REPLICA")]
    pub(crate) replica: Option<String>,
    /// When the log's queue is full: "block" (default; nothing is lost) or "drop" (counted in /metrics).
    #[arg(long)]
    pub(crate) log_policy: Option<String>,
    /// Records the log's queue holds before the policy applies (default 10000).
    #[arg(long)]
    pub(crate) log_queue: Option<usize>,
    /// Start a new log file after this many MiB (default 64).
    #[arg(long)]
    pub(crate) log_rotate_mib: Option<u64>,
    /// Guardrail: canary requests the limits are judged over (default 100).
    #[arg(long)]
    pub(crate) guard_window: Option<usize>,
    /// Guardrail: canary requests before any limit applies (default 20).
    #[arg(long)]
    pub(crate) guard_min_requests: Option<usize>,
    /// Guardrail: roll the canary back when more than this share of its requests fail.
    #[arg(long)]
    pub(crate) guard_max_error_rate: Option<f64>,
    /// Guardrail: roll the canary back when its p99 latency exceeds this many milliseconds.
    #[arg(long)]
    pub(crate) guard_max_p99_ms: Option<f64>,
    /// Guardrail: roll the canary back when it labels more than this share of rows
    /// differently from the stable version.
    #[arg(long)]
    pub(crate) guard_max_disagreement: Option<f64>,
    /// Micro-batching (off unless set): most rows gathered into one prediction.
    #[arg(long)]
    pub(crate) batch_max_rows: Option<usize>,
    /// Micro-batching: longest a request waits for others, in microseconds (default 500).
    #[arg(long)]
    pub(crate) batch_max_wait_us: Option<u64>,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// File holding the admin token (else DISTILLERY_ADMIN_TOKEN).
    #[arg(long)]
    pub(crate) token_file: Option<PathBuf>,
    /// Why, for the audit log.
    #[arg(long, default_value = "")]
    pub(crate) why: String,
    #[command(subcommand)]
    pub(crate) action: DeployAction,
}

/// What to change.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployAction {
    /// Start a canary (name/version) or change its weight.
    Canary {
        /// The canary version, e.g. adult/4.
        reference: String,
        /// Share of traffic, 0–100.
        #[arg(long, default_value_t = 10)]
        weight: u8,
    },
    /// Take a model's canary out of traffic.
    Rollback {
        /// The model name.
        name: String,
    },
    /// Make a model's canary its stable version and production alias.
    Promote {
        /// The model name.
        name: String,
    },
    /// Start a shadow (name/version) that sees a copy of --fraction of the traffic, or
    /// stop a model's shadow with --stop (then give just the name).
    Shadow {
        /// The shadow version, e.g. adult/5 (or the model name with --stop).
        reference: String,
        /// Fraction (0–1) of requests copied to the shadow.
        #[arg(long, default_value_t = 1.0)]
        fraction: f64,
        /// Stop the model's shadow.
        #[arg(long)]
        stop: bool,
    },
}

/// `distillery keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Path prefix of the key files.
    #[arg(long, default_value = "distillery-key")]
    pub(crate) out: PathBuf,
}

/// `distillery sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The version: name/3, name@alias or name.
    pub(crate) reference: String,
    /// The secret key file from `distillery keygen`.
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Also write the detached signature (JSON) to this file.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The version: name/3, name@alias or name.
    pub(crate) reference: String,
    /// Accept only signatures by this public key file.
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Check this detached signature file instead of the ones stored in the registry.
    #[arg(long)]
    pub(crate) signature: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// The registry directory when neither `--registry` nor the environment names one.
pub(crate) const DEFAULT_REGISTRY: &str = ".distillery";

/// Where the registry lives and who is acting.
#[derive(Debug, Args, Clone)]
pub(crate) struct RegistryOptions {
    /// Registry directory (registry.db + objects/), or a PostgreSQL server
    /// (postgres://user@host:5432/db) that several machines share.
    #[arg(
        long,
        env = "DISTILLERY_REGISTRY",
        default_value = DEFAULT_REGISTRY,
        global = true
    )]
    pub(crate) registry: PathBuf,
    /// Where the registry's artifacts live: a folder, or s3://bucket/prefix. Needed once,
    /// when a PostgreSQL registry is first used; the registry remembers it.
    #[arg(long, env = "DISTILLERY_OBJECTS", global = true)]
    pub(crate) objects: Option<String>,
    /// Who is acting, for the audit log (default: the OS user).
    #[arg(long, global = true)]
    pub(crate) actor: Option<String>,
}

/// `distillery registry`.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
    #[command(subcommand)]
    pub(crate) command: RegistryCommand,
}

/// Registry subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// List models and versions, with their aliases.
    Ls {
        /// Only this model.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one version: name, name/3 or name@alias.
    Show {
        /// The version.
        reference: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register a run directory's student as the next version of its model.
    Add {
        /// The run directory (runs/<run-id>).
        run: PathBuf,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        why: String,
    },
    /// Point an alias (e.g. production) at a version.
    Promote {
        /// The version: name/3 (or name@alias, name).
        reference: String,
        /// The alias to set.
        #[arg(long)]
        to: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        why: String,
        /// Promote a version that failed a gate (needs --why).
        #[arg(long)]
        force: bool,
    },
    /// Point an alias back at the version it named before its last change.
    Rollback {
        /// The model name.
        name: String,
        /// The alias.
        #[arg(long, default_value = "production")]
        alias: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        why: String,
    },
    /// Set a tag on a version: key=value.
    Tag {
        /// The version.
        reference: String,
        /// key=value.
        tag: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        why: String,
    },
    /// Compare two versions: metrics, slice gap and gates side by side.
    Diff {
        /// The first version.
        a: String,
        /// The second version.
        b: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The append-only audit log.
    Audit {
        /// Only this model.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the database and re-hash every artifact; exit 1 on any inconsistency.
    Verify,
    /// Show the promotion policy, or store a new one (a config.toml file) in the registry,
    /// where every machine that shares it applies it.
    Config {
        /// The policy to store: `[registry] require_signature = true`, `trusted_keys = [...]`.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Why, for the audit log (needed with --file).
        #[arg(long, default_value = "")]
        why: String,
    },
    /// Copy a whole registry, with its history, into an empty one: e.g. from the local
    /// SQLite registry to a PostgreSQL server that several machines share.
    Migrate {
        /// The registry to copy: a folder (or sqlite://folder) or postgres://….
        #[arg(long)]
        from: String,
        /// The empty registry to copy into: postgres://… or a folder.
        #[arg(long)]
        to: String,
        /// Where the target keeps its artifacts (a folder or s3://bucket/prefix); needed
        /// when the target is a PostgreSQL registry that has none recorded yet.
        #[arg(long)]
        to_objects: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy one artifact of a version out of the registry (its hash is checked first).
    Get {
        /// The version.
        reference: String,
        /// Which artifact: student, onnx, int8, int8_onnx, report, report_html, model_card, recipe.
        #[arg(long, default_value = "student")]
        artifact: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `distillery lineage`.
#[derive(Debug, Args)]
pub(crate) struct LineageArgs {
    /// The version: name, name/3 or name@alias.
    pub(crate) reference: String,
    /// Print JSON instead of the text chain.
    #[arg(long)]
    pub(crate) json: bool,
    /// `text` (default), `json`, or `openlineage`: OpenLineage 2-0-2 run events, one JSON
    /// document per line.
    #[arg(long, default_value = "text")]
    pub(crate) format: String,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery drift`.
#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// The reference: a run directory (its profile.json), a profile.json, a data file
    /// (CSV, CSV.gz or Parquet) compared as is, or a registered version (`name@production`,
    /// `name/3`: its stored profile).
    #[arg(long)]
    pub(crate) reference: PathBuf,
    /// The current data: a data file, or a prediction-log directory of `distillery serve
    /// --log-dir` (then the served inputs and the student's answers are compared).
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// With a prediction log: only requests to this model.
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Force a test for a column (repeatable): "column=test", test one of ks, chisquare, z,
    /// wasserstein, jensenshannon, psi.
    #[arg(long = "test", value_name = "COLUMN=TEST")]
    pub(crate) tests: Vec<String>,
    /// Change a test's threshold (repeatable): "test=value", e.g. "ks=0.01", "psi=0.2".
    #[arg(long = "threshold", value_name = "TEST=VALUE")]
    pub(crate) thresholds: Vec<String>,
    /// Share of drifted columns at or above which the dataset counts as drifted.
    #[arg(long, default_value_t = 0.5)]
    pub(crate) drift_share: f64,
    /// Compare only these columns (comma-separated); default every reference feature.
    #[arg(long, value_delimiter = ',')]
    pub(crate) columns: Vec<String>,
    /// With a data-file reference: columns to leave out (the target, ids), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) ignore: Vec<String>,
    /// Write the report with per-column distribution plots as self-contained HTML.
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
    /// Also test the joint distribution: MMD with a permutation test and a domain
    /// classifier's AUC, on up to 1,000 rows a side (needs the reference's row sample: a run
    /// or a data file). Either rejecting at p < 0.025 (Bonferroni) makes the dataset drift.
    #[arg(long)]
    pub(crate) multivariate: bool,
    /// Seed of the multivariate tests' subsamples and permutations.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Exit 1 when the dataset drifted (for cron jobs and CI).
    #[arg(long)]
    pub(crate) fail_on_drift: bool,
    /// Print the report as one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery estimate`.
#[derive(Debug, Args)]
pub(crate) struct EstimateArgs {
    /// The run directory whose student and profile.json (held-out rows with labels) to
    /// use, or a registered version (`name@production`, `name/3`).
    #[arg(long)]
    pub(crate) reference: PathBuf,
    /// Unlabelled data: a data file (the student scores it) or a prediction-log directory
    /// (the answers it gave).
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// Rows per chunk.
    #[arg(long, default_value_t = 500)]
    pub(crate) chunk_size: usize,
    /// With a data file: its label column, to print the realized values beside the estimates.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// With a prediction log: only requests to this model.
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Seed of the calibration check's splits.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Exit 1 when any chunk's estimate leaves the reference thresholds.
    #[arg(long)]
    pub(crate) fail_on_alert: bool,
    /// Print the estimates as one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery redistill`.
#[derive(Debug, Args)]
pub(crate) struct RedistillArgs {
    /// The served model's name (its production version supplies the features and classes).
    #[arg(long)]
    pub(crate) model: String,
    /// The recipe the student came from; its ONNX teacher labels the traffic and its
    /// student, distillation and gates settings are reused.
    #[arg(long)]
    pub(crate) recipe: PathBuf,
    /// The prediction-log directory to take traffic from.
    #[arg(long)]
    pub(crate) log_dir: PathBuf,
    /// Most recent logged rows to use.
    #[arg(long, default_value_t = 5000)]
    pub(crate) rows: usize,
    /// Share of those rows held out to compare old and new students with the teacher.
    #[arg(long, default_value_t = 0.25)]
    pub(crate) holdout: f64,
    /// Canary weight (0–100) of the new version.
    #[arg(long, default_value_t = 10)]
    pub(crate) canary_weight: u8,
    /// A running server to deploy the canary through (its admin API; the token comes from
    /// DISTILLERY_ADMIN_TOKEN); without it the registry's `canary` alias is set.
    #[arg(long)]
    pub(crate) server: Option<String>,
    /// Register the new version but leave deployment to a person (tagged "awaiting approval").
    #[arg(long)]
    pub(crate) require_approval: bool,
    /// Why, for the audit log.
    #[arg(long, default_value = "re-distilled on recent traffic")]
    pub(crate) why: String,
    /// Seed of the hold-out split.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Print the outcome as one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery privacy`.
#[derive(Debug, Args)]
pub(crate) struct PrivacyArgs {
    #[command(subcommand)]
    pub(crate) command: PrivacyCommand,
}

/// What `distillery privacy` computes.
#[derive(Debug, Subcommand)]
pub(crate) enum PrivacyCommand {
    /// ε spent by DP-SGD: `steps` steps of Poisson-sampled batches with Gaussian noise.
    Epsilon(EpsilonArgs),
    /// The smallest noise multiplier (to 0.01 in ε) that keeps a schedule within a target ε.
    Noise(NoiseArgs),
}

/// `distillery privacy epsilon`.
#[derive(Debug, Args)]
pub(crate) struct EpsilonArgs {
    /// Probability that a row is in a step's batch (batch size / training rows).
    #[arg(long)]
    pub(crate) sample_rate: f64,
    /// Noise standard deviation over the per-example clipping norm.
    #[arg(long)]
    pub(crate) noise_multiplier: f64,
    /// Optimizer steps taken.
    #[arg(long)]
    pub(crate) steps: u64,
    /// δ of the (ε, δ) guarantee (take it below 1 / the number of training rows).
    #[arg(long, default_value_t = 1e-5)]
    pub(crate) delta: f64,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery privacy noise`.
#[derive(Debug, Args)]
pub(crate) struct NoiseArgs {
    /// Target ε.
    #[arg(long)]
    pub(crate) epsilon: f64,
    /// Probability that a row is in a step's batch (batch size / training rows).
    #[arg(long)]
    pub(crate) sample_rate: f64,
    /// Optimizer steps to take.
    #[arg(long)]
    pub(crate) steps: u64,
    /// δ of the (ε, δ) guarantee.
    #[arg(long, default_value_t = 1e-5)]
    pub(crate) delta: f64,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery detect`.
#[derive(Debug, Args)]
pub(crate) struct DetectArgs {
    /// A data file (rows in time order) or a prediction-log directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// The numeric column to watch (for DDM: 1 = error, 0 = correct).
    #[arg(long)]
    pub(crate) column: String,
    /// adwin, page-hinkley, kswin, ddm, or all (every detector but DDM, plus DDM when the
    /// column holds only 0 and 1).
    #[arg(long, default_value = "all")]
    pub(crate) detector: String,
    /// Seed of KSWIN's draws (river's examples use 42).
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Standardise the column by the mean and standard deviation of its first N values
    /// before watching it: Page–Hinkley's threshold (50) is in the data's own units, so a
    /// column like age in years makes it fire constantly.
    #[arg(long, value_name = "N")]
    pub(crate) standardize: Option<usize>,
    /// With a prediction log: only requests to this model.
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// With a prediction log: the run, profile or registered version whose features the
    /// requests carry, so requests sent as one [n, d] tensor are read column by column.
    #[arg(long)]
    pub(crate) reference: Option<PathBuf>,
    /// Print the detections as one JSON document on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}

/// `distillery eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The student (.safetensors).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Labelled rows (CSV, CSV.gz or Parquet) with the student's feature columns.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// The label column.
    #[arg(long)]
    pub(crate) target: String,
    /// An ONNX teacher to measure fidelity and slice gaps against.
    #[arg(long)]
    pub(crate) teacher: Option<PathBuf>,
    /// A recipe whose [evaluate] and [gates] sections apply (slices, search, gates).
    #[arg(long)]
    pub(crate) recipe: Option<PathBuf>,
    /// A slice to report, as in [evaluate] slices (repeatable): "sex", "age:quantile(4)", "race × sex".
    #[arg(long = "slice")]
    pub(crate) slices: Vec<String>,
    /// Directory that receives the report directory.
    #[arg(long, default_value = "runs")]
    pub(crate) out: PathBuf,
    /// Print report.json on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Seed of the bootstrap interval.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
}

/// `distillery audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// A run directory (runs/<run-id>): its student, its teacher.onnx when it trained one,
    /// its test file and target, and audit.json written into it. Or a registered version
    /// (name@production, name/3): its student, test file and target from the registry,
    /// audit.json in the current directory (the registry's files never change).
    pub(crate) run: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
    /// The student (.safetensors), instead of a run's.
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
    /// Labelled rows to attack (CSV, CSV.gz or Parquet); default: the run's test file.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// The label column; default: the run's target.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// An ONNX teacher to transfer the adversarial rows to; default: the run's teacher.onnx.
    #[arg(long)]
    pub(crate) teacher: Option<PathBuf>,
    /// A column the attacker cannot change (repeatable), e.g. age or sex.
    #[arg(long = "immutable")]
    pub(crate) immutable: Vec<String>,
    /// Radii of the numeric perturbation in standard deviations (repeatable).
    #[arg(long = "epsilon", default_values_t = [0.05f32, 0.1, 0.25, 0.5, 1.0])]
    pub(crate) epsilons: Vec<f32>,
    /// The ball's norm: inf (every column moves at most ε) or l2.
    #[arg(long, default_value = "inf", value_parser = ["inf", "l2"])]
    pub(crate) norm: String,
    /// PGD steps per ε (step size 2.5 ε / steps).
    #[arg(long, default_value_t = 10)]
    pub(crate) steps: usize,
    /// Attack at most this many labelled rows (a seeded sample).
    #[arg(long, default_value_t = 2000)]
    pub(crate) rows: usize,
    /// Seed of the row sample.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Where audit.json goes; default: inside the run directory, else ./audit.json.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Print audit.json on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// A run directory (runs/<run-id>) holding student.safetensors and student.onnx.
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// Rows to predict on (CSV, CSV.gz or Parquet), e.g. the test file.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Skip the onnxruntime comparison (which runs `python3 bench/ort_bench.py`).
    #[arg(long)]
    pub(crate) no_ort: bool,
    /// The onnxruntime benchmark script.
    #[arg(long, default_value = "bench/ort_bench.py")]
    pub(crate) ort_script: PathBuf,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery quantize`.
#[derive(Debug, Args)]
pub(crate) struct QuantizeArgs {
    /// The fp32 student (.safetensors).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Rows to calibrate activation scales on (CSV, CSV.gz or Parquet; e.g. training data).
    #[arg(long)]
    pub(crate) calibration: PathBuf,
    /// Where to write the int8 student (.safetensors).
    #[arg(long)]
    pub(crate) output: PathBuf,
    /// Also write the int8 model as ONNX (QDQ) here.
    #[arg(long)]
    pub(crate) onnx: Option<PathBuf>,
    /// "percentile" or "minmax".
    #[arg(long, default_value = "percentile")]
    pub(crate) method: String,
    /// Percentile of |activation| that maps to 127.
    #[arg(long, default_value_t = 99.99)]
    pub(crate) percentile: f32,
    /// Calibration rows to use (the first ones).
    #[arg(long, default_value_t = 2000)]
    pub(crate) rows: usize,
}

/// `distillery export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The student (.safetensors).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Where to write the ONNX model.
    #[arg(long)]
    pub(crate) output: PathBuf,
}

/// `distillery demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to write the demo data, recipe and runs.
    #[arg(long, default_value = "distillery-demo")]
    pub(crate) dir: PathBuf,
    /// Print the run report (report.json) as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `distillery init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The data file (CSV, CSV.gz or Parquet).
    pub(crate) data: PathBuf,
    /// The column to predict.
    #[arg(long)]
    pub(crate) target: String,
    /// An ONNX teacher to distil (default: train an MLP teacher from the labels).
    #[arg(long)]
    pub(crate) teacher: Option<PathBuf>,
    /// Where to write the recipe.
    #[arg(long, short, default_value = "recipe.toml")]
    pub(crate) output: PathBuf,
    /// Overwrite an existing recipe.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `distillery run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The recipe (TOML).
    pub(crate) recipe: PathBuf,
    /// Print the run report (report.json) as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Directory that receives runs/<run-id>/.
    #[arg(long, default_value = "runs")]
    pub(crate) out: PathBuf,
    /// Continue an interrupted run from its last per-epoch checkpoint.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Do not register the student, even when every gate passes.
    #[arg(long)]
    pub(crate) no_register: bool,
    #[command(flatten)]
    pub(crate) registry: RegistryOptions,
}

/// `distillery predict`.
#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// The student (.safetensors from a run directory).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Rows to score (CSV, CSV.gz or Parquet) with the student's feature columns.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Output, CSV (or Parquet for .parquet): the copied input columns, one probability
    /// column per class (`prob_<class>`) and `prediction`.
    #[arg(long)]
    pub(crate) output: PathBuf,
    /// Input columns copied to the output: `all`, `none`, or a comma-separated list. By
    /// default all of them for files of up to 32 columns, none for wider ones (rows keep
    /// their order, so the output joins back to the input by row number).
    #[arg(long)]
    pub(crate) columns: Option<String>,
}

/// `distillery ui`.
#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8090)]
    pub(crate) port: u16,
    /// Address to listen on (the console has no login yet: keep it on localhost).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The run folder whose runs the console lists.
    #[arg(long, default_value = "runs")]
    pub(crate) runs: PathBuf,
    #[command(flatten)]
    pub(crate) options: RegistryOptions,
}
