//! CBPE for students with more than two classes, as NannyML does it: each class's
//! probability is calibrated one-vs-rest (isotonic, when that lowers the calibration error
//! on the reference), rows are renormalised to sum to 1, the expected accuracy is the mean
//! calibrated probability of the predicted class, and the expected macro F1 averages each
//! class's one-vs-rest expected F1.

use serde::{Deserialize, Serialize};

use crate::cbpe::{
    Baseline, ChunkEstimate, Isotonic, argmax, chunks, needs_calibration, population_std,
};
use crate::error::MonitorError;

/// Labelled reference predictions of a multiclass student.
#[derive(Debug, Clone)]
pub struct MulticlassReference<'a> {
    /// Class probabilities per row (k each).
    pub probabilities: &'a [Vec<f64>],
    /// Predicted class per row.
    pub predicted: &'a [usize],
    /// True class per row.
    pub truth: &'a [usize],
}

/// A fitted multiclass estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassCbpe {
    /// Rows per chunk.
    pub chunk_size: usize,
    /// Per class, the calibrator when calibration helps.
    pub calibrators: Vec<Option<Isotonic>>,
    accuracy_std: f64,
    /// Per class: variance and share of the rows that count for its F1.
    f1_components: Vec<(f64, f64)>,
    /// Alert thresholds (low, high) for accuracy.
    pub accuracy_thresholds: (f64, f64),
    /// Alert thresholds for macro F1.
    pub f1_thresholds: (f64, f64),
}

impl MulticlassCbpe {
    /// Fits on labelled reference rows.
    ///
    /// # Errors
    /// Fewer rows than two chunks, rows of different widths, or columns of different
    /// lengths.
    pub fn fit(
        reference: &MulticlassReference<'_>,
        chunk_size: usize,
        seed: u64,
    ) -> Result<MulticlassCbpe, MonitorError> {
        let n = reference.probabilities.len();
        let k = reference.probabilities.first().map_or(0, Vec::len);
        if reference.predicted.len() != n || reference.probabilities.iter().any(|p| p.len() != k) {
            return Err(MonitorError::Invalid(
                "reference columns have different lengths".into(),
            ));
        }
        let baseline = Baseline::fit(reference.predicted, reference.truth, chunk_size, |p, t| {
            realized(p, t, k)
        })?;
        let calibrators = (0..k)
            .map(|c| {
                let p: Vec<f64> = reference.probabilities.iter().map(|r| r[c]).collect();
                let y: Vec<u8> = reference.truth.iter().map(|&t| u8::from(t == c)).collect();
                needs_calibration(&p, &y, seed).then(|| {
                    let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
                    Isotonic::fit(&p, &yf)
                })
            })
            .collect();
        let f1_components = (0..k)
            .map(|c| {
                let mut values = Vec::new();
                for (&p, &t) in reference.predicted.iter().zip(reference.truth) {
                    match (p == c, t == c) {
                        (true, true) => values.push(1.0),
                        (true, false) | (false, true) => values.push(0.0),
                        (false, false) => {}
                    }
                }
                let sd = population_std(&values);
                (sd * sd, values.len() as f64 / n as f64)
            })
            .collect();
        Ok(MulticlassCbpe {
            chunk_size,
            calibrators,
            accuracy_std: baseline.accuracy_std,
            f1_components,
            accuracy_thresholds: baseline.accuracy_thresholds,
            f1_thresholds: baseline.f1_thresholds,
        })
    }

    /// The calibrated, renormalised probabilities of one row.
    pub fn calibrate(&self, row: &[f64]) -> Vec<f64> {
        let k = row.len();
        let mut p: Vec<f64> = row
            .iter()
            .zip(&self.calibrators)
            .map(|(&v, c)| c.as_ref().map_or(v, |c| c.predict(v)))
            .collect();
        let sum: f64 = p.iter().sum();
        if sum == 0.0 {
            p.iter_mut().for_each(|v| *v = 1.0 / k as f64);
        } else {
            p.iter_mut().for_each(|v| *v /= sum);
        }
        p
    }

    /// Estimates each chunk; `truth` adds the realized values.
    pub fn estimate(
        &self,
        probabilities: &[Vec<f64>],
        predicted: &[usize],
        truth: Option<&[usize]>,
    ) -> Vec<ChunkEstimate> {
        let k = self.calibrators.len();
        chunks(probabilities.len(), self.chunk_size)
            .into_iter()
            .map(|(start, end)| {
                let rows = (end - start) as f64;
                let calibrated: Vec<Vec<f64>> = probabilities[start..end]
                    .iter()
                    .map(|r| self.calibrate(r))
                    .collect();
                let accuracy = calibrated
                    .iter()
                    .zip(&predicted[start..end])
                    .map(|(p, &y)| p[y])
                    .sum::<f64>()
                    / rows;
                let f1 = (0..k)
                    .map(|c| {
                        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
                        for (p, &y) in calibrated.iter().zip(&predicted[start..end]) {
                            if y == c {
                                tp += p[c];
                                fp += 1.0 - p[c];
                            } else {
                                fn_ += p[c];
                            }
                        }
                        let d = tp + 0.5 * (fp + fn_);
                        if d != 0.0 { tp / d } else { 0.0 }
                    })
                    .sum::<f64>()
                    / k as f64;
                let f1_sampling_error = self
                    .f1_components
                    .iter()
                    .map(|(v, share)| v / (rows * share))
                    .sum::<f64>()
                    .sqrt()
                    / k as f64;
                ChunkEstimate::judge(
                    (start, end),
                    (accuracy, self.accuracy_std / rows.sqrt()),
                    (f1, f1_sampling_error),
                    (self.accuracy_thresholds, self.f1_thresholds),
                    truth.map(|t| realized(&predicted[start..end], &t[start..end], k)),
                )
            })
            .collect()
    }
}

/// Accuracy and macro F1 (scikit-learn's, a class never predicted nor present scoring 0).
fn realized(predicted: &[usize], truth: &[usize], k: usize) -> (f64, f64) {
    let right = predicted.iter().zip(truth).filter(|(p, t)| p == t).count() as f64;
    let f1 = (0..k)
        .map(|c| {
            let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
            for (&p, &t) in predicted.iter().zip(truth) {
                match (p == c, t == c) {
                    (true, true) => tp += 1.0,
                    (true, false) => fp += 1.0,
                    (false, true) => fn_ += 1.0,
                    _ => {}
                }
            }
            if tp + fp + fn_ > 0.0 {
                2.0 * tp / (2.0 * tp + fp + fn_)
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / k as f64;
    (right / predicted.len().max(1) as f64, f1)
}

/// Label-free performance estimation for any student: CBPE for two classes (F1 of the
/// second class) or more (macro F1), fitted on a run's labelled held-out rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Estimator {
    /// Two classes.
    Binary(crate::cbpe::Cbpe),
    /// Three or more.
    Multiclass(MulticlassCbpe),
}

impl Estimator {
    /// Fits on the labelled reference a run keeps in its profile.
    ///
    /// # Errors
    /// Too few rows for two chunks, or inconsistent rows.
    pub fn fit(
        labelled: &crate::profile::LabelledReference,
        chunk_size: usize,
        seed: u64,
    ) -> Result<Estimator, MonitorError> {
        if labelled.classes.len() == 2 {
            let probability: Vec<f64> = labelled
                .probabilities
                .iter()
                .map(|p| p.get(1).copied().unwrap_or(f64::NAN))
                .collect();
            let predicted: Vec<u8> = probability.iter().map(|&p| u8::from(p >= 0.5)).collect();
            let truth: Vec<u8> = labelled.truth.iter().map(|&t| u8::from(t == 1)).collect();
            let reference = crate::cbpe::BinaryReference {
                probability: &probability,
                predicted: &predicted,
                truth: &truth,
            };
            return Ok(Estimator::Binary(crate::cbpe::Cbpe::fit(
                &reference, chunk_size, seed,
            )?));
        }
        let predicted: Vec<usize> = labelled.probabilities.iter().map(|p| argmax(p)).collect();
        let reference = MulticlassReference {
            probabilities: &labelled.probabilities,
            predicted: &predicted,
            truth: &labelled.truth,
        };
        Ok(Estimator::Multiclass(MulticlassCbpe::fit(
            &reference, chunk_size, seed,
        )?))
    }

    /// Estimates each chunk of rows of class probabilities; `truth` adds realized values.
    pub fn estimate(
        &self,
        probabilities: &[Vec<f64>],
        truth: Option<&[usize]>,
    ) -> Vec<ChunkEstimate> {
        match self {
            Estimator::Binary(cbpe) => {
                let p: Vec<f64> = probabilities
                    .iter()
                    .map(|r| r.get(1).copied().unwrap_or(f64::NAN))
                    .collect();
                let predicted: Vec<u8> = p.iter().map(|&x| u8::from(x >= 0.5)).collect();
                let truth: Option<Vec<u8>> =
                    truth.map(|t| t.iter().map(|&c| u8::from(c == 1)).collect());
                cbpe.estimate(&p, &predicted, truth.as_deref())
            }
            Estimator::Multiclass(cbpe) => {
                let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
                cbpe.estimate(probabilities, &predicted, truth)
            }
        }
    }

    /// Alert thresholds (low, high) for accuracy and for F1.
    pub fn thresholds(&self) -> ((f64, f64), (f64, f64)) {
        match self {
            Estimator::Binary(c) => (c.accuracy_thresholds, c.f1_thresholds),
            Estimator::Multiclass(c) => (c.accuracy_thresholds, c.f1_thresholds),
        }
    }

    /// True when some probability is recalibrated before estimating.
    pub fn calibrated(&self) -> bool {
        match self {
            Estimator::Binary(c) => c.calibrator.is_some(),
            Estimator::Multiclass(c) => c.calibrators.iter().any(Option::is_some),
        }
    }
}
