//! `[privacy] mode = "pate"`: private aggregation of teacher ensembles (Papernot et al.
//! 2017, 2018), distillation as the privacy mechanism.
//!
//! The private training rows are split into disjoint partitions, and one in-house booster is
//! trained on each. Public, unlabelled rows are then labelled by the teachers' vote with
//! Gaussian noise on every count (GNMax), and the student learns only from those public rows
//! and their noisy labels. One private row sits in one partition, so it can move one vote
//! from one class to another: the vote counts have L2 sensitivity √2, and each labelled row
//! is one Gaussian mechanism of noise σ, whose argmax is the row's label. The accountant
//! charges every query with that data-independent bound (RDP α/σ² per query, the same
//! Rényi accountant as DP-SGD's at sampling rate 1 and noise multiplier σ/√2), so σ is
//! chosen for the recipe's ε before any vote is counted. Papernot et al.'s data-dependent analysis charges confident votes
//! far less; it is not used here, so the ε reported is an upper bound.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use distillery_data::Table;
use distillery_eval::privacy::{PateReport, PrivacyReport};
use distillery_train::accountant::{self, SgmSteps};
use distillery_train::{GbdtModel, encode_rows};

use crate::RunOptions;
use crate::data::Prepared;
use crate::distill::Transfer;
use crate::error::{Context, Result, recipe_error};
use crate::privacy::PrivacySection;
use crate::recipe::{Recipe, TeacherTraining};
use crate::teacher::TeacherOutputs;

/// Fewest private rows a teacher may learn from.
const MIN_ROWS_PER_TEACHER: usize = 10;

/// What PATE gives the run: the ensemble as its teacher (noise-free vote shares, for the
/// report's fidelity and attacks), the public rows with their noisy labels as the transfer
/// set, and the privacy report.
pub(crate) struct Labelled {
    pub(crate) teacher: TeacherOutputs,
    pub(crate) transfer: Transfer,
    pub(crate) privacy: PrivacyReport,
}

/// Trains the teachers, labels the public rows by noisy vote and accounts for it.
pub(crate) fn label(
    recipe: &Recipe,
    section: &PrivacySection,
    data: &Prepared,
    options: &RunOptions<'_>,
) -> Result<Labelled> {
    let seed = recipe.distill.seed;
    let k = data.labels.n_classes();
    let parts = partitions(data, section.teachers, seed)?;
    let rows_per_teacher = parts.iter().map(Vec::len).min().unwrap_or(0);

    // The public rows are read (and refused) before any teacher trains.
    let Some(path) = section.public.as_deref() else {
        return Err(recipe_error!(
            "[privacy] mode = \"pate\" needs public = \"file\""
        ));
    };
    let public = Table::read(path, &crate::data::read_options(recipe))
        .with_context(|| format!("reading the public rows {}", path.display()))?;
    let mut rows: Vec<usize> = (0..public.n_rows()).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x9a7e));
    rows.truncate(section.queries);
    rows.sort_unstable();
    if rows.is_empty() {
        return Err(recipe_error!(
            "[privacy] public = {}: the file has no rows to label",
            path.display()
        ));
    }
    let queries = rows.len();
    let x_public = encode_rows(&data.encoder, &public, &rows)
        .with_context(|| format!("encoding the public rows of {}", path.display()))?;

    let params = TeacherTraining::default().gbdt_params(seed);
    let (models, feed) = crate::gbdt_teacher::train_partitions(&params, data, &parts, options)?;
    let counts = votes(
        &answers(&models, &feed.build(&public, &rows)?, queries, k),
        k,
    );

    // σ for the recipe's ε over every query, before any noisy answer is drawn.
    let (noise_multiplier, _) =
        accountant::noise_multiplier(section.epsilon, section.delta, 1.0, queries as u64, 0.01)
            .map_err(|e| recipe_error!("[privacy]: {e}"))?;
    let sigma = noise_multiplier * std::f64::consts::SQRT_2;
    let spent = accountant::epsilon(
        &[SgmSteps {
            sample_rate: 1.0,
            noise_multiplier,
            steps: queries as u64,
        }],
        section.delta,
        &accountant::default_orders(),
    )
    .map_or(f64::INFINITY, |p| p.epsilon);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006e_015e);
    let noisy_counts: Vec<f64> = counts
        .iter()
        .map(|&n| n + sigma * gaussian(&mut rng))
        .collect();
    let noisy: Vec<u32> = noisy_counts.chunks(k).map(argmax).collect();
    let plurality: Vec<u32> = counts.chunks(k).map(argmax).collect();
    let agreement = share_equal(&noisy, &plurality);
    let public_label_accuracy =
        public_labels(recipe, data, &public, &rows).map(|truth| share_equal_known(&noisy, &truth));

    // The teachers' answer for a public row is its noisy label alone: the students learn it
    // as a hard label. (The noisy histogram's shares would cost no more privacy, but at
    // these noise levels they taught the student worse than the label: bench/pate.sh.)
    let mut p = vec![0.0f32; queries * k];
    for (i, &c) in noisy.iter().enumerate() {
        p[i * k + c as usize] = 1.0;
    }
    let transfer = Transfer {
        x: x_public,
        p,
        y: noisy.iter().map(|&c| Some(c)).collect(),
        augmented: 0,
        real: queries,
    };

    let n = models.len() as f64;
    let shares = |answers: &[Vec<u32>]| -> Vec<f32> {
        votes(answers, k).iter().map(|&c| (c / n) as f32).collect()
    };
    let test_answers = answers(
        &models,
        &feed.build(data.test_table(), &data.test_rows)?,
        data.test_rows.len(),
        k,
    );
    let teacher_accuracy = test_answers
        .iter()
        .map(|a| accuracy(a, &data.test_labels))
        .sum::<f64>()
        / n;
    let test = shares(&test_answers);
    let ensemble_accuracy = accuracy(
        &test.chunks(k).map(argmax).collect::<Vec<_>>(),
        &data.test_labels,
    );
    let on_training_file = |rows: &[usize]| -> Result<Vec<f32>> {
        let x = feed.build(&data.train_table, rows)?;
        Ok(shares(&answers(&models, &x, rows.len(), k)))
    };
    let teacher = TeacherOutputs {
        train: on_training_file(&data.train_rows)?,
        validation: on_training_file(&data.val_rows)?,
        test,
        kind: format!(
            "PATE ensemble: {} in-house GBDTs on disjoint partitions (noise-free vote shares)",
            models.len()
        ),
        identity: format!("pate:{}:{seed}", models.len()),
        parameters: None,
        bytes: None,
        latency_us: None,
        in_house: None,
        labeller: None,
        text_rate: None,
    };
    let privacy = PrivacyReport {
        accountant: "rdp (PATE GNMax, data-independent)".into(),
        target_epsilon: section.epsilon,
        epsilon: spent,
        scratch_epsilon: spent,
        delta: section.delta,
        noise_multiplier,
        max_grad_norm: std::f64::consts::SQRT_2,
        sample_rate: 1.0,
        steps: queries as u64,
        planned_steps: queries as u64,
        covers: format!(
            "(ε, δ)-differential privacy of the private training rows through the teachers' noisy votes (PATE with GNMax: {} teachers on disjoint partitions, Gaussian noise σ = {sigma:.2} on every vote count, whose L2 sensitivity is √2; each of the {queries} labelled public rows charged by the data-independent Rényi-DP bound). The students learn from the public rows and these labels alone, so their training adds nothing. Early stopping and the best epoch are chosen on the private validation rows, which are not covered, and the public rows must really be public.",
            models.len()
        ),
        pate: Some(PateReport {
            teachers: models.len(),
            rows_per_teacher,
            queries,
            sigma,
            agreement,
            teacher_accuracy,
            ensemble_accuracy,
            public_label_accuracy,
        }),
    };
    Ok(Labelled {
        teacher,
        transfer,
        privacy,
    })
}

/// The labelled training rows dealt into `teachers` disjoint parts (seeded shuffle, then
/// round robin), refusing partitions too small to learn from.
fn partitions(data: &Prepared, teachers: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let mut rows: Vec<usize> = data
        .train_rows
        .iter()
        .copied()
        .filter(|&r| data.labels.y[r].is_some())
        .collect();
    if rows.len() < teachers * MIN_ROWS_PER_TEACHER {
        return Err(recipe_error!(
            "[privacy] teachers = {teachers} leaves {} labelled training rows per teacher; each needs at least {MIN_ROWS_PER_TEACHER}: lower teachers to {} or fewer",
            rows.len() / teachers.max(1),
            rows.len() / MIN_ROWS_PER_TEACHER
        ));
    }
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0xa17e));
    let mut parts = vec![Vec::new(); teachers];
    for (i, r) in rows.into_iter().enumerate() {
        parts[i % teachers].push(r);
    }
    for part in &mut parts {
        part.sort_unstable();
    }
    Ok(parts)
}

/// Each teacher's answer (its most probable class) for each of `rows` rows of `x`.
fn answers(models: &[GbdtModel], x: &[f32], rows: usize, k: usize) -> Vec<Vec<u32>> {
    models
        .iter()
        .map(|m| m.predict_proba(x, rows).chunks(k).map(argmax).collect())
        .collect()
}

/// Vote counts, `rows × k`, from every teacher's answers.
fn votes(answers: &[Vec<u32>], k: usize) -> Vec<f64> {
    let rows = answers.first().map_or(0, Vec::len);
    let mut counts = vec![0.0f64; rows * k];
    for teacher in answers {
        for (i, &c) in teacher.iter().enumerate() {
            counts[i * k + c as usize] += 1.0;
        }
    }
    counts
}

/// The index of the largest value (the first on ties).
fn argmax<T: PartialOrd + Copy>(v: &[T]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn share_equal(a: &[u32], b: &[u32]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
}

/// Share of `truth`'s known labels that `a` matches.
fn share_equal_known(a: &[u32], truth: &[Option<u32>]) -> f64 {
    let known: Vec<(u32, u32)> = a
        .iter()
        .zip(truth)
        .filter_map(|(&x, y)| y.map(|y| (x, y)))
        .collect();
    known.iter().filter(|(x, y)| x == y).count() as f64 / known.len().max(1) as f64
}

fn accuracy(predicted: &[u32], labels: &[Option<u32>]) -> f64 {
    share_equal_known(predicted, labels)
}

/// The public file's own labels of `rows`, when it has the target column with the
/// training classes (only to report how often the noisy labels are right).
fn public_labels(
    recipe: &Recipe,
    data: &Prepared,
    public: &Table,
    rows: &[usize],
) -> Option<Vec<Option<u32>>> {
    let column = public.column(&recipe.data.target).ok()?;
    let labels = distillery_data::Labels::from_column(column, Some(&data.labels.classes)).ok()?;
    Some(rows.iter().map(|&r| labels.y[r]).collect())
}

/// A standard normal draw (Box–Muller on two uniforms in (0, 1]).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[2u32, 1]), 0);
    }

    #[test]
    fn the_noise_meets_the_target_epsilon_for_every_query() {
        // 500 queries at ε = 3, δ = 1e-5: the data-independent GNMax bound.
        let (nm, _) = accountant::noise_multiplier(3.0, 1e-5, 1.0, 500, 0.01).unwrap();
        let spent = accountant::epsilon(
            &[SgmSteps {
                sample_rate: 1.0,
                noise_multiplier: nm,
                steps: 500,
            }],
            1e-5,
            &accountant::default_orders(),
        )
        .unwrap()
        .epsilon;
        assert!(spent <= 3.0 && spent > 2.95, "{spent}");
        // One query of the Gaussian mechanism costs α/σ² in RDP with σ = √2 · nm: so at
        // 500 queries σ is about √(500 · α / budget), tens of votes.
        let sigma = nm * std::f64::consts::SQRT_2;
        assert!((20.0..80.0).contains(&sigma), "{sigma}");
    }
}
