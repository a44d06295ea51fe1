//! `model_card.md`: the report in the sections of Mitchell et al.'s model cards (2019):
//! details, intended use, factors, metrics, evaluation and training data, quantitative
//! analyses, ethical considerations, caveats. Generated text states only what was measured;
//! what the tool cannot know (the intended use) is marked for the owner to fill in.

use std::fmt::Write;

use super::{num, opt_num};
use crate::run_report::Report;

/// Renders the model card.
pub fn model_card(r: &Report) -> String {
    let mut s = String::new();
    let d = &r.dataset;
    let _ = writeln!(s, "# Model card: {}\n", r.name);
    let _ = writeln!(s, "## Model details\n");
    let _ = writeln!(s, "- Model: {}.", r.student.kind);
    if let Some(t) = &r.training_hidden() {
        let _ = writeln!(
            s,
            "- Architecture: MLP with hidden layers {t:?}, softmax over {} classes.",
            d.classes.len()
        );
    }
    if let Some(t) = &r.teacher {
        let _ = writeln!(s, "- Distilled from: {} (teacher).", t.kind);
    }
    let _ = writeln!(
        s,
        "- Produced by distillery {} on {}, run `{}`, seed {}, recipe BLAKE3 `{}`.",
        r.tool_version, r.created, r.run_id, r.seed, r.recipe_hash
    );
    if let (Some(p), Some(b)) = (r.student.parameters, r.student.bytes) {
        let _ = writeln!(
            s,
            "- Size: {p} parameters, {} on disk.",
            crate::run_report::human_bytes(b)
        );
    }
    let _ = writeln!(s, "\n## Intended use\n");
    let _ = writeln!(
        s,
        "- Predicts `{}` ({}) from {} feature columns of tabular data shaped like the training file.",
        r.target_hint(),
        d.classes.join(", "),
        d.features
    );
    let _ = writeln!(
        s,
        "- Intended users and out-of-scope uses: *to be filled in by the model's owner; distillery cannot know them.*"
    );
    let _ = writeln!(
        s,
        "- Not validated outside the population of the evaluation data below."
    );
    let _ = writeln!(s, "\n## Factors\n");
    match &r.slices {
        Some(sl) => {
            let declared: Vec<&str> = sl.declared.iter().map(|g| g.feature.as_str()).collect();
            if declared.is_empty() {
                let _ = writeln!(
                    s,
                    "- No slices were declared; every feature column was searched for weak slices."
                );
            } else {
                let _ = writeln!(s, "- Declared slices: {}.", declared.join(", "));
            }
            if let Some(disc) = &sl.discovery {
                let _ = writeln!(
                    s,
                    "- Automatic search over {} features (1- and 2-feature conjunctions, ≥ {} rows, FDR {}).",
                    disc.features.len(),
                    disc.options.min_rows,
                    disc.options.fdr
                );
            }
        }
        None => {
            let _ = writeln!(s, "- No slice analysis was run.");
        }
    }
    let _ = writeln!(s, "\n## Metrics\n");
    let _ = writeln!(
        s,
        "Accuracy, macro-F1, log loss, ROC-AUC (one-vs-rest macro for several classes), Brier score (summed over classes), ECE (15 equal-width bins on top-label confidence, (lo, hi], the first bin holding 0), fidelity (argmax agreement with the teacher) and mean KL(teacher ‖ student); 95% percentile-bootstrap intervals from 1,000 seeded resamples of the test rows.\n"
    );
    let _ = writeln!(s, "Each value is followed by its 95% bootstrap interval.\n");
    let _ = writeln!(
        s,
        "| model | accuracy | macro-F1 | log loss | ROC-AUC | ECE | fidelity |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let cell = |v: Option<f64>, i: Option<crate::Interval>| match (v, i) {
        (Some(v), Some(i)) if i.lo.is_finite() => {
            format!("{} [{}, {}]", num(v, 4), num(i.lo, 4), num(i.hi, 4))
        }
        (v, _) => opt_num(v, 4),
    };
    for (name, m) in r.models() {
        let iv = &m.quality.intervals;
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            cell(Some(m.accuracy), Some(iv.accuracy)),
            cell(Some(m.macro_f1), Some(iv.macro_f1)),
            cell(Some(m.log_loss), Some(iv.log_loss)),
            cell(m.quality.roc_auc, iv.roc_auc),
            cell(Some(m.quality.ece), Some(iv.ece)),
            cell(Some(m.fidelity).filter(|f| f.is_finite()), iv.fidelity),
        );
    }
    let _ = writeln!(s, "\n### Gates\n");
    if r.gates.is_empty() {
        let _ = writeln!(s, "No gates were configured.");
    }
    for g in &r.gates {
        let _ = writeln!(
            s,
            "- {} **{}**: {} against {}{}",
            g.gate,
            if g.passed { "PASS" } else { "FAIL" },
            super::gate_num(g.value),
            super::gate_num(g.threshold),
            g.detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s, "\n## Evaluation data\n");
    let _ = writeln!(
        s,
        "- {} test rows from `{}`.",
        d.test_rows,
        d.test_file.as_deref().unwrap_or(&d.train_file)
    );
    let _ = writeln!(
        s,
        "- Dataset fingerprint (BLAKE3 of normalised content and schema): `{}`.",
        d.fingerprint
    );
    let _ = writeln!(s, "\n## Training data\n");
    let _ = writeln!(
        s,
        "- `{}`: {} training rows ({} unlabelled), {} validation rows for early stopping, {} synthetic rows labelled by the teacher.",
        d.train_file, d.train_rows, d.unlabelled_rows, d.validation_rows, d.augmented_rows
    );
    if let Some(file) = &d.unlabelled_file {
        let _ = writeln!(
            s,
            "- `{file}`: unlabelled rows labelled by the teacher, counted among the unlabelled training rows above."
        );
    }
    if let Some(findings) = r.checks.as_ref().and_then(|c| c["findings"].as_array()) {
        let count = |sev: &str| findings.iter().filter(|f| f["severity"] == sev).count();
        let acknowledged = findings
            .iter()
            .filter(|f| f["acknowledged"] == true)
            .count();
        let _ = writeln!(
            s,
            "- Data checks: {} findings ({} block, {} warn, {} info; {acknowledged} acknowledged in the recipe); details in `check.json` and `data_card.md`.",
            findings.len(),
            count("block"),
            count("warn"),
            count("info")
        );
        for f in findings.iter().filter(|f| f["severity"] != "info") {
            let _ = writeln!(s, "  - {}", f["message"].as_str().unwrap_or(""));
        }
    }
    let _ = writeln!(s, "\n## Quantitative analyses\n");
    if let Some(sl) = &r.slices {
        if let Some(g) = &sl.gap {
            let _ = writeln!(
                s,
                "Largest teacher-minus-student accuracy gap: **{}** on `{}` ({} rows).\n",
                num(g.gap, 4),
                g.slice.name,
                g.slice.labelled
            );
        }
        for group in &sl.declared {
            let _ = writeln!(
                s,
                "**{}**\n\n| slice | rows | teacher accuracy | student accuracy | gap | fidelity | mean KL |\n|---|---|---|---|---|---|---|",
                group.feature
            );
            for x in &group.slices {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    x.name,
                    x.rows,
                    opt_num(x.teacher_accuracy, 4),
                    opt_num(x.student_accuracy, 4),
                    opt_num(x.gap, 4),
                    opt_num(x.fidelity, 4),
                    opt_num(x.mean_kl, 4)
                );
            }
            s.push('\n');
        }
        if let Some(disc) = &sl.discovery {
            for (metric, list) in [("accuracy", &disc.accuracy), ("fidelity", &disc.fidelity)] {
                if list.is_empty() {
                    let _ = writeln!(s, "No slice is significantly weaker in {metric}.\n");
                } else {
                    let _ = writeln!(s, "Weak slices in {metric} (FDR {}):\n", disc.options.fdr);
                    for f in list {
                        let _ = writeln!(
                            s,
                            "- `{}`: {} on {} rows vs {} elsewhere (effect size {}, q = {:.1e})",
                            f.slice.name,
                            num(f.value, 4),
                            f.slice.rows,
                            num(f.rest, 4),
                            num(f.effect_size, 2),
                            f.q_value
                        );
                    }
                    s.push('\n');
                }
            }
        }
    }
    if let Some(cv) = &r.cross_validation {
        let _ = writeln!(
            s,
            "{}-fold stratified cross-validation{}: student accuracy {} ± {}, teacher {} ± {}, scratch {} ± {}.\n",
            cv.folds.len(),
            cv.student_params
                .as_ref()
                .map_or_else(String::new, |p| format!(" of the student {p}")),
            num(cv.student.accuracy.mean, 4),
            num(cv.student.accuracy.std, 4),
            num(cv.teacher.accuracy.mean, 4),
            num(cv.teacher.accuracy.std, 4),
            num(cv.scratch.accuracy.mean, 4),
            num(cv.scratch.accuracy.std, 4)
        );
    }
    let _ = writeln!(s, "## Ethical considerations\n");
    let _ = writeln!(
        s,
        "- The student imitates its teacher: any bias of the teacher is inherited. Check the slice tables above for the groups that matter to the people affected."
    );
    let _ = writeln!(
        s,
        "- Slices with fewer than the minimum rows are not tested; absence of a finding is not proof of equal performance."
    );
    let _ = writeln!(s, "\n## Caveats and recommendations\n");
    let _ = writeln!(
        s,
        "- Metrics hold for data like the evaluation data; monitor drift and teacher fidelity in production."
    );
    if let Some(q) = &r.int8 {
        let _ = writeln!(
            s,
            "- The int8 student scores accuracy {} and fidelity {} (fp32: {} and {}).",
            num(q.accuracy, 4),
            num(q.fidelity, 4),
            num(r.student.accuracy, 4),
            num(r.student.fidelity, 4)
        );
        if let Some(g) = r.int8_slices.as_ref().and_then(|sl| sl.gap.as_ref()) {
            let _ = writeln!(
                s,
                "- Its largest accuracy drop against the fp32 student in a slice is {} on `{}` ({} rows).",
                num(g.gap, 4),
                g.slice.name,
                g.slice.labelled
            );
        }
    }
    super::governance::privacy_section(r, &mut s);
    super::governance::governance_section(r, &mut s);
    s
}
