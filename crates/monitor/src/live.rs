//! Monitoring live traffic, window by window: every `window` served rows are compared with
//! the reference profile (share of drifted features), a sampled fraction of them is sent
//! to the teacher to measure **fidelity** (agreement with the student), and CBPE estimates
//! accuracy. Rules on those signals, held for `consecutive` windows,
//! raise an alert; the caller decides what an alert does (log, webhook, command,
//! re-distil). Streaming detectors run alongside: ADWIN on per-row teacher disagreement
//! and DDM on the errors that feedback reveals.
//!
//! The engine has no threads and no I/O of its own: the server feeds it records from a
//! background thread, so a slow teacher never delays an answer.

use std::collections::VecDeque;
use std::path::Path;

use distillery_data::{Kind, Table};
use distillery_teacher::Teacher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cbpe::argmax;
use crate::cbpe_multiclass::Estimator;
use crate::drift::{DriftOptions, DriftReport};
use crate::log::TrafficBuffer;
use crate::profile::Profile;
use crate::stream::{Adwin, Ddm, Detector, Signal};

/// Windows kept in the state's history.
const HISTORY: usize = 50;

/// What to watch and when to alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Share (0–1] of requests the server hands to the monitor: every request at 1, one in
    /// ten at 0.1. Windows then count sampled rows.
    pub sample: f64,
    /// Served rows per window.
    pub window: usize,
    /// Fraction (0–1) of rows sent to the teacher.
    pub teacher_fraction: f64,
    /// Alert when a window's fidelity (agreement with the teacher) is below this.
    pub min_fidelity: Option<f64>,
    /// Alert when a window's share of drifted features is at least this.
    pub max_drift_share: Option<f64>,
    /// Alert when a window's CBPE accuracy estimate is below this.
    pub min_estimated_accuracy: Option<f64>,
    /// Windows in a row that must breach a rule before the alert fires.
    pub consecutive: usize,
    /// Windows after an alert during which no new alert fires.
    pub cooldown: usize,
    /// Seed of the teacher sample.
    pub seed: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            sample: 1.0,
            window: 1000,
            teacher_fraction: 0.1,
            min_fidelity: None,
            max_drift_share: None,
            min_estimated_accuracy: None,
            consecutive: 2,
            cooldown: 5,
            seed: 7,
        }
    }
}

/// One closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    /// 1-based window number.
    pub window: usize,
    /// Rows in the window.
    pub rows: usize,
    /// Agreement of student and teacher on the sampled rows.
    pub fidelity: Option<f64>,
    /// Rows the teacher saw.
    pub teacher_rows: usize,
    /// Share of features that drifted against the reference profile.
    pub drift_share: f64,
    /// The features that drifted.
    pub drifted_columns: Vec<String>,
    /// Every compared feature's test, statistic and verdict: the window's drift report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::drift::ColumnDrift>,
    /// Feedback (ground truth) rows received while the window was open, and how many of
    /// them the student had wrong.
    #[serde(default)]
    pub feedback: (u64, u64),
    /// CBPE's accuracy estimate.
    pub estimated_accuracy: Option<f64>,
    /// The rules this window breached, in words.
    pub breaches: Vec<String>,
    /// Why the teacher could not be consulted, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_error: Option<String>,
    /// Non-finite values set aside in this window (never scored by any monitor).
    #[serde(default)]
    pub non_finite: crate::log::NonFinite,
}

/// An alert: rules breached for enough windows in a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The model watched.
    pub model: String,
    /// The version whose traffic raised it (0 when not set).
    #[serde(default)]
    pub version: u32,
    /// The window that fired it.
    pub window: usize,
    /// What was breached, in words.
    pub reasons: Vec<String>,
    /// The window's figures.
    pub summary: WindowSummary,
}

/// Everything `GET /monitor` shows for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// The model watched.
    pub model: String,
    /// The version watched (0 when not set).
    #[serde(default)]
    pub version: u32,
    /// The settings in force.
    pub config: LiveConfig,
    /// Rows observed so far.
    pub rows: u64,
    /// Rows waiting in the open window.
    pub open_window_rows: usize,
    /// Windows closed so far.
    pub windows: usize,
    /// The last windows, newest last.
    pub history: VecDeque<WindowSummary>,
    /// Alerts fired, oldest first.
    pub alerts: Vec<Alert>,
    /// ADWIN alarms on per-row teacher disagreement.
    pub disagreement_alarms: u64,
    /// ADWIN alarms on each numeric feature's values, row by row.
    pub feature_alarms: std::collections::BTreeMap<String, u64>,
    /// Feedback rows seen and how many were wrong.
    pub feedback: (u64, u64),
    /// DDM alarms on feedback errors.
    pub error_alarms: u64,
    /// Windows whose teacher call failed (so they have no fidelity).
    #[serde(default)]
    pub teacher_errors: u64,
}

/// The monitor of one served model.
pub struct LiveMonitor {
    profile: Profile,
    classes: Vec<String>,
    buffer: TrafficBuffer,
    teacher: Option<Box<dyn Teacher>>,
    cbpe: Option<Estimator>,
    rng: ChaCha8Rng,
    disagreement: Adwin,
    features: Vec<(String, Adwin)>,
    errors: Ddm,
    in_breach: usize,
    cooldown_left: usize,
    /// Feedback rows and wrong ones since the last window closed.
    window_feedback: (u64, u64),
    state: LiveState,
}

impl LiveMonitor {
    /// Watches `model` against its reference `profile`; `teacher`, when given, measures
    /// fidelity on `config.teacher_fraction` of the rows.
    pub fn new(
        model: &str,
        profile: Profile,
        config: LiveConfig,
        teacher: Option<Box<dyn Teacher>>,
    ) -> LiveMonitor {
        let features = profile.features();
        let classes = profile
            .prediction
            .as_ref()
            .map(|p| p.classes.clone())
            .unwrap_or_default();
        let cbpe = profile.labelled.as_ref().and_then(|l| {
            Estimator::fit(l, config.window.min(l.truth.len() / 2).max(1), config.seed).ok()
        });
        LiveMonitor {
            buffer: TrafficBuffer::new(&features),
            classes,
            teacher,
            cbpe,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            disagreement: Adwin::default(),
            features: features
                .iter()
                .filter(|(_, k)| *k == Kind::Numeric)
                .map(|(n, _)| (n.clone(), Adwin::default()))
                .collect(),
            errors: Ddm::default(),
            in_breach: 0,
            cooldown_left: 0,
            window_feedback: (0, 0),
            state: LiveState {
                model: model.to_string(),
                version: 0,
                config,
                rows: 0,
                open_window_rows: 0,
                windows: 0,
                history: VecDeque::new(),
                alerts: Vec::new(),
                disagreement_alarms: 0,
                feature_alarms: std::collections::BTreeMap::new(),
                feedback: (0, 0),
                error_alarms: 0,
                teacher_errors: 0,
            },
            profile,
        }
    }

    /// Records which registry version this monitor watches.
    pub fn set_version(&mut self, version: u32) {
        self.state.version = version;
    }

    /// What the monitor knows now.
    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// Adds one answered request; returns the alert when the request closed a window that
    /// fired one.
    pub fn observe(&mut self, record: &crate::PredictionRecord) -> Option<Alert> {
        let before = self.buffer.rows();
        if !self.buffer.add(record) {
            return None;
        }
        self.state.rows += (self.buffer.rows() - before) as u64;
        self.state.open_window_rows = self.buffer.rows();
        if self.buffer.rows() < self.state.config.window {
            return None;
        }
        self.close_window()
    }

    /// Adds ground truth for one answered row (true when the student was right).
    pub fn feedback(&mut self, correct: bool) {
        self.state.feedback.0 += 1;
        self.window_feedback.0 += 1;
        if !correct {
            self.state.feedback.1 += 1;
            self.window_feedback.1 += 1;
        }
        if self.errors.update(f64::from(u8::from(!correct))) == Signal::Drift {
            self.state.error_alarms += 1;
        }
    }

    fn close_window(&mut self) -> Option<Alert> {
        let non_finite = self.buffer.non_finite();
        let Ok((table, probabilities)) = self.buffer.take(Path::new("live traffic")) else {
            return None;
        };
        self.state.open_window_rows = 0;
        self.state.windows += 1;
        let mut summary = WindowSummary {
            window: self.state.windows,
            rows: table.n_rows(),
            fidelity: None,
            teacher_rows: 0,
            drift_share: 0.0,
            drifted_columns: Vec::new(),
            drift: Vec::new(),
            feedback: std::mem::take(&mut self.window_feedback),
            estimated_accuracy: None,
            breaches: Vec::new(),
            teacher_error: None,
            non_finite,
        };
        self.drift(&table, &mut summary);
        self.feature_detectors(&table);
        self.fidelity(&table, &probabilities, &mut summary);
        // Rows without (finite) probabilities are left out of the estimate, not the window.
        let answered: Vec<Vec<f64>> = probabilities
            .iter()
            .filter(|p| p.len() == self.classes.len())
            .cloned()
            .collect();
        if let Some(cbpe) = &self.cbpe
            && !answered.is_empty()
        {
            let chunks = cbpe.estimate(&answered, None);
            let total: f64 = chunks
                .iter()
                .map(|c| c.accuracy * (c.end - c.start) as f64)
                .sum();
            summary.estimated_accuracy = Some(total / answered.len() as f64);
        }
        self.judge(&mut summary);
        let alert = self.maybe_alert(&summary);
        self.state.history.push_back(summary);
        if self.state.history.len() > HISTORY {
            self.state.history.pop_front();
        }
        alert
    }

    fn drift(&self, table: &Table, summary: &mut WindowSummary) {
        let Ok(current) = Profile::current(table, &self.profile) else {
            return;
        };
        // Columns with no values in this window (all missing) are left out, not errors.
        let options = DriftOptions {
            columns: current
                .columns
                .iter()
                .filter(|c| c.distribution.n() > 0)
                .map(|c| c.name.clone())
                .collect(),
            ..DriftOptions::default()
        };
        if options.columns.is_empty() {
            return;
        }
        if let Ok(report) = DriftReport::compare(&self.profile, &current, &options) {
            summary.drift_share = report.share_drifted;
            summary.drifted_columns = report
                .columns
                .iter()
                .filter(|c| c.outcome.drifted)
                .map(|c| c.column.clone())
                .collect();
            summary.drift = report.columns;
        }
    }

    /// Streams each numeric feature's values, in row order, through its own ADWIN.
    fn feature_detectors(&mut self, table: &Table) {
        for (name, detector) in &mut self.features {
            let Ok(column) = table.column(name) else {
                continue;
            };
            let fired = (0..column.len())
                .filter_map(|r| column.number(r))
                .filter(|&x| detector.update(x) == Signal::Drift)
                .count() as u64;
            if fired > 0 {
                *self.state.feature_alarms.entry(name.clone()).or_default() += fired;
            }
        }
    }

    fn fidelity(&mut self, table: &Table, probabilities: &[Vec<f64>], summary: &mut WindowSummary) {
        let Some(teacher) = self.teacher.as_mut() else {
            return;
        };
        let fraction = self.state.config.teacher_fraction.clamp(0.0, 1.0);
        let rows: Vec<usize> = (0..table.n_rows())
            .filter(|_| self.rng.random::<f64>() < fraction)
            .filter(|&r| probabilities.get(r).is_some_and(|p| !p.is_empty()))
            .collect();
        if rows.is_empty() {
            return;
        }
        let k = teacher.classes().len().max(1);
        match teacher.label(table, &rows) {
            Ok(teacher_p) => {
                let mut agree = 0usize;
                for (t, &r) in teacher_p.chunks_exact(k).zip(&rows) {
                    let t: Vec<f64> = t.iter().map(|&p| f64::from(p)).collect();
                    let same = argmax(&t) == argmax(&probabilities[r]);
                    agree += usize::from(same);
                    if self.disagreement.update(f64::from(u8::from(!same))) == Signal::Drift {
                        self.state.disagreement_alarms += 1;
                    }
                }
                summary.teacher_rows = rows.len();
                summary.fidelity = Some(agree as f64 / rows.len() as f64);
            }
            Err(e) => {
                self.state.teacher_errors += 1;
                summary.teacher_error = Some(e.to_string());
            }
        }
    }

    fn judge(&self, summary: &mut WindowSummary) {
        let c = &self.state.config;
        if let (Some(min), Some(f)) = (c.min_fidelity, summary.fidelity)
            && f < min
        {
            summary.breaches.push(format!("fidelity {f:.4} < {min}"));
        }
        if let Some(max) = c.max_drift_share
            && summary.drift_share >= max
        {
            summary.breaches.push(format!(
                "drift share {:.2} ≥ {max} ({})",
                summary.drift_share,
                summary.drifted_columns.join(", ")
            ));
        }
        if let (Some(min), Some(a)) = (c.min_estimated_accuracy, summary.estimated_accuracy)
            && a < min
        {
            summary
                .breaches
                .push(format!("estimated accuracy {a:.4} < {min}"));
        }
    }

    fn maybe_alert(&mut self, summary: &WindowSummary) -> Option<Alert> {
        self.cooldown_left = self.cooldown_left.saturating_sub(1);
        if summary.breaches.is_empty() {
            self.in_breach = 0;
            return None;
        }
        self.in_breach += 1;
        if self.in_breach < self.state.config.consecutive.max(1) || self.cooldown_left > 0 {
            return None;
        }
        self.in_breach = 0;
        self.cooldown_left = self.state.config.cooldown + 1;
        let alert = Alert {
            model: self.state.model.clone(),
            version: self.state.version,
            window: summary.window,
            reasons: summary.breaches.clone(),
            summary: summary.clone(),
        };
        self.state.alerts.push(alert.clone());
        Some(alert)
    }

    /// The classes the student predicts, in order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_data::Column;
    use serde_json::json;
    use std::path::PathBuf;

    /// A teacher that says class 1 when x > threshold.
    struct Threshold(f64, Vec<String>);

    impl Threshold {
        fn new(threshold: f64) -> Threshold {
            Threshold(threshold, vec!["a".into(), "b".into()])
        }
    }

    impl Teacher for Threshold {
        fn classes(&self) -> &[String] {
            &self.1
        }
        fn label(&self, table: &Table, rows: &[usize]) -> distillery_teacher::Result<Vec<f32>> {
            let x = table
                .column("x")
                .map_err(|e| distillery_teacher::TeacherError::Feed(e.to_string()))?;
            Ok(rows
                .iter()
                .flat_map(|&r| {
                    if x.number(r).unwrap_or(0.0) > self.0 {
                        [0.0, 1.0]
                    } else {
                        [1.0, 0.0]
                    }
                })
                .collect())
        }
        fn describe(&self) -> String {
            "threshold".into()
        }
    }

    fn record(xs: &[f64], student_threshold: f64) -> crate::PredictionRecord {
        let probs: Vec<f64> = xs
            .iter()
            .flat_map(|&x| {
                if x > student_threshold {
                    [0.2, 0.8]
                } else {
                    [0.8, 0.2]
                }
            })
            .collect();
        crate::PredictionRecord {
            rows: Some(xs.len()),
            inputs: Some(
                json!([{"name": "x", "datatype": "FP64", "shape": [xs.len()], "data": xs}]),
            ),
            outputs: Some(
                json!([{"name": "probabilities", "datatype": "FP32", "shape": [xs.len(), 2], "data": probs}]),
            ),
            ..crate::PredictionRecord::default()
        }
    }

    #[test]
    fn falling_fidelity_and_drift_fire_one_alert_after_consecutive_windows() {
        let reference: Vec<f64> = (0..1000).map(|i| f64::from(i % 100) / 100.0).collect();
        let table = Table::from_columns(
            PathBuf::from("t.csv"),
            vec!["x".into()],
            vec![Column::Numeric(reference)],
        )
        .expect("table");
        let profile = Profile::from_table(&table, &[("x".into(), Kind::Numeric)])
            .expect("profile")
            .with_predictions(&["no".into(), "yes".into()], &[vec![0.5, 0.5]]);
        let config = LiveConfig {
            window: 100,
            teacher_fraction: 1.0,
            min_fidelity: Some(0.9),
            max_drift_share: Some(0.5),
            consecutive: 2,
            cooldown: 3,
            ..LiveConfig::default()
        };
        let mut m = LiveMonitor::new("m", profile, config, Some(Box::new(Threshold::new(0.5))));
        // Student and teacher agree on reference-like traffic: no alert.
        for _ in 0..3 {
            let xs: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
            assert!(m.observe(&record(&xs, 0.5)).is_none());
        }
        assert_eq!(m.state().history.back().and_then(|w| w.fidelity), Some(1.0));
        // Traffic moves to [1, 2): drift, and the student's boundary (1.5) now disagrees
        // with the teacher's (0.5) on half the rows.
        let moved: Vec<f64> = (0..100).map(|i| 1.0 + f64::from(i) / 100.0).collect();
        assert!(
            m.observe(&record(&moved, 1.5)).is_none(),
            "one window in breach is not enough"
        );
        let alert = m
            .observe(&record(&moved, 1.5))
            .expect("the second window fires");
        assert!(
            alert.reasons.iter().any(|r| r.starts_with("fidelity 0.49")),
            "{alert:?}"
        );
        assert!(
            alert
                .reasons
                .iter()
                .any(|r| r.starts_with("drift share 1.00")),
            "{alert:?}"
        );
        // Cooldown: the next windows in breach stay quiet.
        for _ in 0..3 {
            assert!(m.observe(&record(&moved, 1.5)).is_none());
        }
        assert_eq!(m.state().alerts.len(), 1);
        assert_eq!(m.state().windows, 8);
        assert!(
            m.state().feature_alarms.get("x").is_some_and(|&n| n >= 1),
            "ADWIN sees x move"
        );
    }
}
