//! The student search: when the recipe does not pin `[student] hidden`, a small family of
//! widths and depths, each with a few temperature / soft-weight pairs, is measured against
//! the budget (file bytes exactly, latency on this machine), and the candidates within it
//! compete by successive halving: every one trains for 1/27 of the step budget, the best
//! third for 1/9 (longer when fewer fit: the rounds cost the same whatever the budget
//! admits), and the best of those is the student, trained to the end by the run.
//! Candidates are ranked by validation fidelity (agreement with the teacher: what a student
//! is for), ties by validation accuracy, then by fewer bytes. In the final pick, fidelities
//! within one standard error of the best count as tied and the smallest of them wins
//! (Breiman's one-standard-error rule): a few validation rows do not buy a larger network.
//! Rounds train candidates in parallel; each fit is seeded and single-threaded, so the
//! choice does not depend on the thread count.

use distillery_eval::search::{SearchCandidate, StudentSearch, front};
use distillery_runtime::{Dense, Provenance, RawValue, Student};
use distillery_train::{DistillParams, ValidDistillParams};

use crate::RunOptions;
use crate::data::Prepared;
use crate::distill::{self, Checkpoints, Job, Target, Transfer};
use crate::error::{Result, recipe_error, refuse};
use crate::measure;
use crate::recipe::{DEFAULT_MAX_BYTES, SearchBudget, TEACHER_SIZE_RATIO, ValidRecipe};
use crate::teacher::TeacherOutputs;

/// Hidden widths tried, narrowest first. [16, 16] is there for wide inputs: on mlc_churn,
/// where nothing larger fits the default budget, a second narrow layer lifted the student
/// from 0.9480 to 0.9556 over ten seeds for 20% more bytes than [16].
pub const FAMILY: [&[usize]; 8] = [
    &[16],
    &[32],
    &[16, 16],
    &[64],
    &[128],
    &[32, 32],
    &[64, 64],
    &[128, 128],
];

/// Tried only when no member of [`FAMILY`] fits a budget the recipe writes: a narrower
/// student that meets the user's budget beats refusing. The default budget is raised to
/// [16] instead: on mlc_churn [8] met it and lost 1 pp of accuracy over ten seeds.
pub const NARROW: &[usize] = &[8];

/// Temperature and soft-weight pairs tried with each architecture: calibrated teachers
/// (T = 1), Hinton's moderate softening (T = 2), and strong softening (T = 4).
pub const PAIRS: [(f32, f32); 3] = [(1.0, 0.5), (2.0, 0.7), (4.0, 0.7)];

/// Fractions of the step budget spent per round (1/27, then 1/9) when the whole family is
/// within the budget, each round keeping the best third. Fewer candidates train longer:
/// see [`round_steps`].
const ROUNDS: [u64; 2] = [27, 9];

/// How much longer than [`ROUNDS`] says each candidate may train when few are within the
/// budget: at most 9×, so the second round never exceeds the full step budget.
const MAX_STRETCH: f64 = 9.0;

/// Steps per candidate in each round. The search costs the same whatever the budget
/// admits: what the whole family would spend (24 × 1/27 + 8 × 1/9 of the step budget) is
/// shared among the `admitted` candidates, so six candidates train 4× longer each (1/27 →
/// 4/27, 1/9 → 4/9). Short rounds favour networks that learn fast over ones that end
/// better; on mlc_churn, where the budget admits only [16] and [16, 16], rounds of 1/27
/// and 1/9 judged the deeper one before it had caught up.
fn round_steps(steps_budget: u64, admitted: usize) -> [u64; 2] {
    let cost = |n: usize| n as f64 / ROUNDS[0] as f64 + n.div_ceil(3) as f64 / ROUNDS[1] as f64;
    let stretch =
        (cost(FAMILY.len() * PAIRS.len()) / cost(admitted.max(1))).clamp(1.0, MAX_STRETCH);
    ROUNDS
        .map(|d| ((steps_budget as f64 * stretch / d as f64) as u64).clamp(1, steps_budget.max(1)))
}

/// What the search hands the run.
pub(crate) struct Searched {
    /// The winner's training parameters, with the recipe's full step budget.
    pub(crate) params: ValidDistillParams,
    /// The record for the report.
    pub(crate) report: StudentSearch,
}

/// Everything the search trains with.
pub(crate) struct Inputs<'a> {
    pub(crate) recipe: &'a ValidRecipe,
    pub(crate) budget: SearchBudget,
    pub(crate) prepared: &'a Prepared,
    pub(crate) transfer: &'a Transfer,
    pub(crate) teacher: &'a TeacherOutputs,
    pub(crate) checkpoints: &'a Checkpoints<'a>,
    pub(crate) options: &'a RunOptions<'a>,
    /// The provenance the shipped student will carry (its header's size counts).
    pub(crate) provenance: &'a Provenance,
}

/// Runs the search.
pub(crate) fn run(cx: &Inputs<'_>) -> Result<Searched> {
    let progress = cx.options.progress;
    progress.stage("student search: measuring the candidates' size and latency");
    let raw_rows = measure::test_raw_rows(cx.prepared);
    let (budget, mut budget_note) = effective_budget(cx.budget, cx.teacher.bytes);
    let mut candidates = Vec::new();
    for hidden in FAMILY {
        add_candidates(cx, &budget, hidden, &raw_rows, &mut candidates)?;
    }
    if budget.explicit && candidates.iter().all(|c| !c.within_budget) {
        add_candidates(cx, &budget, NARROW, &raw_rows, &mut candidates)?;
        if candidates.iter().any(|c| c.within_budget) {
            budget_note = format!(
                "{budget_note} (no member of the family fits that budget; the narrower {NARROW:?} does)"
            );
        }
    }
    let mut max_bytes = budget.max_bytes;
    if !budget.explicit && candidates.iter().all(|c| !c.within_budget) {
        // Inputs so wide (many one-hot levels) that even [16] exceeds the default byte
        // budget: the default yields to the smallest architecture of each depth rather
        // than fail, and the rounds choose between them.
        let admitted = admit_smallest_per_depth(&mut candidates);
        max_bytes = Some(admitted);
        budget_note = format!(
            "{budget_note} (that budget, {} bytes, fits no student over these inputs, so it was raised to admit the smallest architecture of each depth, up to {admitted} bytes)",
            budget.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
        );
    }
    let mut alive: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].within_budget)
        .collect();
    if alive.is_empty() {
        // Only a written budget gets here, and it has tried [16] (first) and [8] (last).
        let sizes: Vec<String> = [&candidates[0], &candidates[candidates.len() - 1]]
            .iter()
            .map(|c| {
                format!(
                    "{:?} takes {} bytes, {:.2} µs",
                    c.hidden, c.bytes, c.latency_us
                )
            })
            .collect();
        refuse!(
            "no student of the search family fits the budget (max_bytes = {:?}, max_latency_us = {:?}); here {}. Raise the budget or pin [student] hidden",
            budget.max_bytes,
            budget.max_latency_us,
            sizes.join("; ")
        );
    }
    let steps_budget = total_steps(cx);
    let per_round = round_steps(steps_budget, alive.len());
    let mut sizes = vec![alive.len()];
    for (round, &steps) in per_round.iter().enumerate() {
        progress.stage(&format!(
            "student search round {}: {} candidates × {steps} steps",
            round + 1,
            alive.len()
        ));
        let params: Vec<ValidDistillParams> = alive
            .iter()
            .map(|&i| candidate_params(cx.recipe, &candidates[i], Some(steps)))
            .collect::<Result<_>>()?;
        score_round(cx, &params, &alive, round, &mut candidates)?;
        alive.sort_by(|&a, &b| rank(&candidates[a], &candidates[b]).then(a.cmp(&b)));
        if round + 1 < ROUNDS.len() {
            alive.truncate(alive.len().div_ceil(3));
            sizes.push(alive.len());
        }
    }
    let (winner, tolerance) = pick(&alive, &candidates, cx.prepared.val_rows.len());
    let w = &candidates[winner];
    let best = candidates[alive[0]].validation_fidelity.unwrap_or(0.0);
    let reason = format!(
        "validation fidelity {:.4} (accuracy {:.4}): the smallest candidate within one standard error ({tolerance:.4}) of the best fidelity ({best:.4}), then the most faithful, then the most accurate; by successive halving: {} candidates trained for {} steps, the best {} for {} (of {steps_budget}){budget_note}",
        w.validation_fidelity.unwrap_or(0.0),
        w.validation_accuracy.unwrap_or(0.0),
        sizes[0],
        per_round[0],
        sizes[1],
        per_round[1]
    );
    let params = candidate_params(cx.recipe, w, None)?;
    Ok(Searched {
        params,
        report: StudentSearch {
            max_bytes,
            max_latency_us: budget.max_latency_us,
            pareto: front(&candidates),
            candidates,
            winner,
            reason,
        },
    })
}

/// Measures `hidden` and adds one candidate per temperature / soft-weight pair.
fn add_candidates(
    cx: &Inputs<'_>,
    budget: &SearchBudget,
    hidden: &[usize],
    raw_rows: &[Vec<RawValue<'_>>],
    candidates: &mut Vec<SearchCandidate>,
) -> Result<()> {
    let (bytes, latency_us) = size_and_latency(cx, hidden, raw_rows)?;
    let within = budget.max_bytes.is_none_or(|b| bytes <= b)
        && budget.max_latency_us.is_none_or(|l| latency_us <= l);
    for (temperature, soft_weight) in PAIRS {
        candidates.push(SearchCandidate {
            hidden: hidden.to_vec(),
            temperature,
            soft_weight,
            bytes,
            latency_us,
            within_budget: within,
            steps: 0,
            validation_fidelity: None,
            validation_accuracy: None,
        });
    }
    Ok(())
}

/// The budget the search applies, and a note for the report when it differs from the
/// recipe's. A recipe without a budget gets a [`TEACHER_SIZE_RATIO`]th of the teacher's file
/// when the teacher's size is known (a 17 MB forest may be distilled into up to 870 kB, a
/// 70 kB one into 3.5 kB), else [`DEFAULT_MAX_BYTES`]. A budget the recipe writes is never
/// changed.
fn effective_budget(budget: SearchBudget, teacher_bytes: Option<u64>) -> (SearchBudget, String) {
    match (budget.explicit, teacher_bytes) {
        (false, Some(teacher)) => {
            let share = usize::try_from(teacher / TEACHER_SIZE_RATIO).unwrap_or(usize::MAX);
            (
                SearchBudget {
                    max_bytes: Some(share),
                    ..budget
                },
                format!(
                    " (the recipe sets no budget: 1/{TEACHER_SIZE_RATIO} of the teacher's {teacher} bytes)"
                ),
            )
        }
        _ => (budget, String::new()),
    }
}

/// Admits, when no candidate fits the default budget, the smallest architecture of each
/// depth ([16] and [16, 16]); returns the largest of their sizes, the budget in effect.
fn admit_smallest_per_depth(candidates: &mut [SearchCandidate]) -> usize {
    let mut admitted = 0;
    let depths: std::collections::BTreeSet<usize> =
        candidates.iter().map(|c| c.hidden.len()).collect();
    for depth in depths {
        let least = candidates
            .iter()
            .filter(|c| c.hidden.len() == depth)
            .map(|c| c.bytes)
            .min()
            .unwrap_or(0);
        for c in candidates
            .iter_mut()
            .filter(|c| c.hidden.len() == depth && c.bytes <= least)
        {
            c.within_budget = true;
        }
        admitted = admitted.max(least);
    }
    admitted
}

/// The final pick among the last round's candidates (`alive`, best first by [`rank`]) and
/// the tolerance used: fidelities within one standard error of the best,
/// sqrt(f (1 − f) / n) on `n` validation rows, are tied, and the tie goes to the smallest
/// file, then to the higher fidelity and accuracy (Breiman's one-standard-error rule).
/// Fidelity alone let a few validation rows choose a larger network that then generalised
/// worse (credit_data: a [64, 64] 2.6 pp below scratch under a LightGBM teacher).
fn pick(alive: &[usize], candidates: &[SearchCandidate], n: usize) -> (usize, f64) {
    let fidelity = |i: usize| candidates[i].validation_fidelity.unwrap_or(0.0);
    let accuracy = |i: usize| candidates[i].validation_accuracy.unwrap_or(0.0);
    let best = fidelity(alive[0]);
    let tolerance = (best * (1.0 - best) / n.max(1) as f64).sqrt();
    let Some(&winner) = alive
        .iter()
        .filter(|&&i| fidelity(i) >= best - tolerance)
        .min_by(|&&a, &&b| {
            candidates[a]
                .bytes
                .cmp(&candidates[b].bytes)
                .then(fidelity(b).total_cmp(&fidelity(a)))
                .then(accuracy(b).total_cmp(&accuracy(a)))
                .then(a.cmp(&b))
        })
    else {
        unreachable!("the best candidate is within its own tolerance")
    };
    (winner, tolerance)
}

/// Better first: higher validation fidelity, then accuracy, then fewer bytes.
fn rank(a: &SearchCandidate, b: &SearchCandidate) -> std::cmp::Ordering {
    let key = |c: &SearchCandidate| {
        (
            c.validation_fidelity.unwrap_or(-1.0),
            c.validation_accuracy.unwrap_or(-1.0),
        )
    };
    let (fa, aa) = key(a);
    let (fb, ab) = key(b);
    fb.total_cmp(&fa)
        .then(ab.total_cmp(&aa))
        .then(a.bytes.cmp(&b.bytes))
}

/// The run's step budget: `steps`, or `epochs` passes over the transfer set.
fn total_steps(cx: &Inputs<'_>) -> u64 {
    let p = &cx.recipe.params;
    p.steps.unwrap_or_else(|| {
        let rows = cx.transfer.y.len().max(1);
        p.epochs as u64 * rows.div_ceil(p.batch_size.max(1)) as u64
    })
}

/// The recipe's parameters with the candidate's architecture and pair; `steps` = a round's
/// budget (no early stopping inside a round), `None` = the recipe's own budget.
fn candidate_params(
    recipe: &ValidRecipe,
    c: &SearchCandidate,
    steps: Option<u64>,
) -> Result<ValidDistillParams> {
    let base: DistillParams = (*recipe.params).clone();
    let round = steps.is_some();
    DistillParams {
        hidden: c.hidden.clone(),
        temperature: c.temperature,
        soft_weight: c.soft_weight,
        steps: steps.or(base.steps),
        patience: if round { 0 } else { base.patience },
        patience_steps: if round { None } else { base.patience_steps },
        ..base
    }
    .check()
    .map_err(|e| recipe_error!("search candidate {:?}: {e:?}", c.hidden))
}

/// Trains one round's candidates in parallel and records their validation scores.
fn score_round(
    cx: &Inputs<'_>,
    params: &[ValidDistillParams],
    alive: &[usize],
    round: usize,
    candidates: &mut [SearchCandidate],
) -> Result<()> {
    let jobs: Vec<Job<'_>> = params
        .iter()
        .zip(alive)
        .map(|(p, &i)| Job {
            role: format!("search-{round}-{i}"),
            params: p,
            target: Target::Teacher,
            mask: None,
            verbose: false,
            privacy: None,
            adversarial: None,
        })
        .collect();
    let names: Vec<String> = alive
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            format!("{:?} T={} w={}", c.hidden, c.temperature, c.soft_weight)
        })
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let bar = cx
        .options
        .progress
        .jobs(&format!("search round {}", round + 1), jobs.len());
    let fits = distill::train_many(
        cx.prepared,
        cx.transfer,
        cx.teacher,
        &jobs,
        &name_refs,
        cx.checkpoints,
        cx.options,
        bar.as_ref(),
    )?;
    bar.finish();
    let k = cx.prepared.labels.n_classes();
    let n = cx.prepared.val_rows.len();
    for ((fit, &i), p) in fits.iter().zip(alive).zip(params) {
        let student = distill::student(cx.recipe, cx.prepared, fit, &Provenance::new(), "search")?;
        let probs = student.predict_encoded_batch(&cx.prepared.val_x, n);
        let (agree, right, labelled) = agreement(&probs, &cx.teacher.validation, cx.prepared, k);
        let c = &mut candidates[i];
        c.steps = p.steps.unwrap_or(0);
        c.validation_fidelity = Some(agree as f64 / n.max(1) as f64);
        c.validation_accuracy = Some(right as f64 / labelled.max(1) as f64);
    }
    Ok(())
}

/// Rows where the student's argmax matches the teacher's, rows where it matches the label,
/// and labelled rows, on the validation split.
fn agreement(
    student: &[f32],
    teacher: &[f32],
    prepared: &Prepared,
    k: usize,
) -> (usize, usize, usize) {
    let argmax = |row: &[f32]| {
        (0..k)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    let (mut agree, mut right, mut labelled) = (0, 0, 0);
    for ((s, t), &r) in student
        .chunks_exact(k)
        .zip(teacher.chunks_exact(k))
        .zip(&prepared.val_rows)
    {
        let guess = argmax(s);
        agree += usize::from(guess == argmax(t));
        if let Some(y) = prepared.labels.y[r] {
            labelled += 1;
            right += usize::from(guess as u32 == y);
        }
    }
    (agree, right, labelled)
}

/// The file size and one-row latency of a student of this architecture: weights are set to
/// a fixed non-zero pattern so no layer is skipped as it would be with zeros.
fn size_and_latency(
    cx: &Inputs<'_>,
    hidden: &[usize],
    rows: &[Vec<RawValue<'_>>],
) -> Result<(usize, f64)> {
    let mut dims = vec![cx.prepared.encoder.width()];
    dims.extend(hidden);
    dims.push(cx.prepared.labels.n_classes());
    let layers: Vec<Dense> = dims
        .windows(2)
        .map(|w| Dense {
            inputs: w[0],
            outputs: w[1],
            weight: (0..w[0] * w[1])
                .map(|i| ((i * 7919 % 13) as f32 - 6.0) * 0.01)
                .collect::<Vec<f32>>()
                .into(),
            bias: vec![0.1; w[1]],
        })
        .collect();
    let student = Student::new(
        cx.prepared.encoder.clone(),
        cx.prepared.labels.classes.clone(),
        layers,
        cx.recipe.data.missing.clone(),
        shipped_provenance(cx.provenance),
    )?;
    let bytes = student.to_bytes()?.len();
    Ok((bytes, measure::student_latency_of(&student, rows)))
}

/// The provenance as the shipped student carries it (with its role), so the measured bytes
/// are the shipped file's: the header is compressed, so its size depends on its content.
fn shipped_provenance(provenance: &Provenance) -> Provenance {
    let mut p = provenance.clone();
    p.insert("role".into(), "distilled".into());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(f: f64, a: f64, bytes: usize) -> SearchCandidate {
        SearchCandidate {
            hidden: vec![8],
            temperature: 1.0,
            soft_weight: 0.5,
            bytes,
            latency_us: 0.1,
            within_budget: true,
            steps: 1,
            validation_fidelity: Some(f),
            validation_accuracy: Some(a),
        }
    }

    #[test]
    fn candidates_rank_by_fidelity_then_accuracy_then_size() {
        use std::cmp::Ordering::{Greater, Less};
        assert_eq!(rank(&c(0.95, 0.8, 100), &c(0.94, 0.9, 10)), Less);
        assert_eq!(rank(&c(0.95, 0.8, 100), &c(0.95, 0.9, 100)), Greater);
        assert_eq!(rank(&c(0.95, 0.9, 100), &c(0.95, 0.9, 200)), Less);
    }

    #[test]
    fn the_final_pick_takes_the_smallest_within_a_standard_error_of_the_best_fidelity() {
        // 400 validation rows at fidelity 0.95: one standard error is 0.0109.
        let cands = [c(0.95, 0.80, 300), c(0.94, 0.86, 100), c(0.93, 0.90, 50)];
        let (winner, tolerance) = pick(&[0, 1, 2], &cands, 400);
        assert!((tolerance - 0.0109).abs() < 1e-4, "{tolerance}");
        // 0.94 is tied with 0.95 and smaller; 0.93 is not tied, however small.
        assert_eq!(winner, 1);
        // Equal size among the tied: the higher fidelity, then accuracy.
        let cands = [c(0.945, 0.90, 100), c(0.95, 0.86, 100), c(0.95, 0.87, 100)];
        assert_eq!(pick(&[1, 2, 0], &cands, 400).0, 2);
        // Many rows make the tie narrow: then fidelity alone decides.
        let cands = [c(0.95, 0.86, 300), c(0.945, 0.86, 100)];
        assert_eq!(pick(&[0, 1], &cands, 1_000_000).0, 0);
    }

    #[test]
    fn fewer_candidates_train_longer_for_the_same_search_cost() {
        // The whole family: 1/27 and 1/9 of the budget.
        assert_eq!(round_steps(27_000, 24), [1000, 3000]);
        // Six candidates (two architectures) share the same cost: 4× each.
        assert_eq!(round_steps(27_000, 6), [4000, 12_000]);
        // One or two: stretched at most 9×, so a round never exceeds the budget.
        assert_eq!(round_steps(27_000, 1), [9000, 27_000]);
        assert_eq!(round_steps(27_000, 2), [9000, 27_000]);
        // A budget too small to divide still trains every candidate a step.
        assert_eq!(round_steps(3, 24), [1, 1]);
    }

    #[test]
    fn the_fallback_admits_the_smallest_network_of_each_depth() {
        let mut cands: Vec<SearchCandidate> = [
            (&[16][..], 6608),
            (&[32], 11_000),
            (&[16, 16], 7700),
            (&[32, 32], 15_000),
        ]
        .iter()
        .map(|&(hidden, bytes)| SearchCandidate {
            hidden: hidden.to_vec(),
            within_budget: false,
            ..c(0.9, 0.9, bytes)
        })
        .collect();
        assert_eq!(admit_smallest_per_depth(&mut cands), 7700);
        let admitted: Vec<bool> = cands.iter().map(|c| c.within_budget).collect();
        assert_eq!(admitted, [true, false, true, false]);
    }

    #[test]
    fn the_first_member_of_the_family_is_the_smallest_and_pairs_are_distinct() {
        // The first member is the smallest over any input width (the refusal quotes it).
        for inputs in [8, 77, 500] {
            let params = |hidden: &[usize]| {
                let mut dims = vec![inputs];
                dims.extend(hidden);
                dims.push(2);
                dims.windows(2).map(|w| (w[0] + 1) * w[1]).sum::<usize>()
            };
            assert!(
                FAMILY
                    .iter()
                    .all(|h| params(FAMILY[0]) < params(h) || h == &FAMILY[0])
            );
        }
        let mut pairs = PAIRS.to_vec();
        pairs.dedup();
        assert_eq!(pairs.len(), PAIRS.len());
    }

    #[test]
    fn the_default_budget_is_a_twentieth_of_the_teacher() {
        let default = SearchBudget {
            max_bytes: Some(DEFAULT_MAX_BYTES),
            max_latency_us: None,
            explicit: false,
        };
        // 1/20 of the teacher, big or small.
        let (b, note) = effective_budget(default, Some(17_420_773));
        assert_eq!(b.max_bytes, Some(871_038));
        assert!(note.contains("17420773"), "{note}");
        assert_eq!(
            effective_budget(default, Some(69_274)).0.max_bytes,
            Some(3_463)
        );
        // No teacher size known (soft-label columns, a served teacher): the default stays.
        assert_eq!(effective_budget(default, None).0, default);
        // A budget the recipe writes is never raised.
        let written = SearchBudget {
            max_bytes: Some(20_000),
            explicit: true,
            ..default
        };
        assert_eq!(effective_budget(written, Some(17_420_773)).0, written);
    }
}
