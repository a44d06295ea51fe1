//! The model card's last two sections: privacy and security (what the run measured about
//! leaks), and a governance map from the evidence a run produces to the functions of the
//! NIST AI Risk Management Framework 1.0 (Govern, Map, Measure, Manage), saying for each
//! what this run covers and what the model's owner must still provide.

use std::fmt::Write;

use crate::run_report::Report;

use super::num;

/// `## Privacy and security`: the DP guarantee and the membership-inference table.
pub(crate) fn privacy_section(r: &Report, s: &mut String) {
    let _ = writeln!(s, "\n## Privacy and security\n");
    match &r.privacy {
        Some(p) => {
            let _ = writeln!(s, "- {}", p.sentence());
        }
        None => {
            let _ = writeln!(
                s,
                "- Not trained with differential privacy: nothing bounds what the student's parameters reveal about single training rows beyond the measurements below."
            );
        }
    }
    if let Some(m) = &r.membership {
        let _ = writeln!(
            s,
            "\nMembership inference (threshold attacks). {}\n",
            m.note
        );
        let _ = writeln!(
            s,
            "| model | attack | AUC | TPR at 0.1% FPR | TPR at 1% FPR | advantage |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for a in &m.attacks {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                a.model,
                a.attack,
                num(a.auc, 3),
                num(a.tpr_at_0_1_pct_fpr, 4),
                num(a.tpr_at_1_pct_fpr, 4),
                num(a.advantage, 3)
            );
        }
    }
    if !r.attribute_inference.is_empty() {
        let _ = writeln!(
            s,
            "\nAttribute inference: an attacker's accuracy at recovering each sensitive column from the other columns, without and with the student's answers.\n"
        );
        let _ = writeln!(
            s,
            "| column | majority class | without answers | with answers | gain | McNemar p |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for a in &r.attribute_inference {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:+.2} pp | {} |",
                a.column,
                num(a.majority, 3),
                num(a.without_outputs, 3),
                num(a.with_outputs, 3),
                100.0 * a.gain(),
                num(a.p_value, 3)
            );
        }
    }
    if let Some(e) = &r.extraction {
        let _ = writeln!(
            s,
            "\nExtraction: the fidelity of a clone trained on the student's answers to this many queries. {}\n",
            e.note
        );
        let _ = writeln!(s, "| attacker | queries | clone fidelity |");
        let _ = writeln!(s, "|---|---|---|");
        for p in &e.points {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                p.strategy,
                p.queries,
                num(p.fidelity, 3)
            );
        }
    }
    let mut missing = vec![
        "evasion (adversarial examples: `distillery audit <run>` measures it and adds its section to this card)",
    ];
    if r.attribute_inference.is_empty() {
        missing.push("attribute inference (`[evaluate] sensitive`)");
    }
    if r.extraction.is_none() {
        missing.push("model extraction (`[evaluate] extraction = true`)");
    }
    let _ = writeln!(
        s,
        "\n- Not measured by this run: {}. A served model can be given per-client rate limits and quotas (`[limits]` in serve.toml).",
        missing.join(", ")
    );
}

/// `## Governance map (NIST AI RMF 1.0)`.
pub(crate) fn governance_section(r: &Report, s: &mut String) {
    let _ = writeln!(s, "\n## Governance map (NIST AI RMF 1.0)\n");
    let _ = writeln!(
        s,
        "What this run provides as evidence for each function, and what the owner must add. The mapping is distillery's reading of the framework, not an attestation.\n"
    );
    let _ = writeln!(
        s,
        "| function | evidence from this run | the owner provides |"
    );
    let _ = writeln!(s, "|---|---|---|");
    let gates = if r.gates.is_empty() {
        "no gates were set".to_string()
    } else {
        format!(
            "{} gate(s), {} passed",
            r.gates.len(),
            r.gates.iter().filter(|g| g.passed).count()
        )
    };
    let checks = if r.checks.is_some() {
        "data checks (integrity, hygiene, leakage, imbalance, PII) in `check.json`"
    } else {
        "data checks were off"
    };
    let row = |s: &mut String, function: &str, evidence: String, owner: &str| {
        let _ = writeln!(s, "| {function} | {evidence} | {owner} |");
    };
    row(
        s,
        "GOVERN (policies, accountability)",
        format!(
            "the recipe's hash `{}`; {gates}; the registry's audit log, aliases and signatures when the version is registered and signed",
            r.recipe_hash
        ),
        "the policy the gates encode, who approves a promotion, who holds the signing key",
    );
    row(
        s,
        "MAP (context, intended use, data)",
        format!(
            "training data fingerprint `{}` ({} rows); {checks}; the intended-use section above",
            r.dataset.fingerprint, r.dataset.train_rows
        ),
        "the deployment context, the people affected, out-of-scope uses, the data's consent and licence",
    );
    let mut measured = vec![format!(
        "test metrics with bootstrap intervals on {} rows",
        r.dataset.test_rows
    )];
    if r.cross_validation.is_some() {
        measured.push("cross-validation".into());
    }
    if r.slices.is_some() {
        measured.push("declared and discovered slices (fairness, MEASURE 2.11)".into());
    }
    measured.push(format!(
        "calibration (ECE {})",
        num(r.student.quality.ece, 4)
    ));
    if r.fidelity.is_some() {
        measured.push("teacher fidelity (MEASURE 2.9)".into());
    }
    if let Some(l) = r.student.latency_us {
        measured.push(format!(
            "latency {} µs per row on this machine (MEASURE 2.3)",
            num(l, 2)
        ));
    }
    if r.membership.is_some() {
        measured.push("membership inference (MEASURE 2.10)".into());
    }
    if r.privacy.is_some() {
        measured.push("a differential-privacy guarantee (MEASURE 2.10)".into());
    }
    measured.push(format!("wall time {} s (MEASURE 2.12)", num(r.seconds, 1)));
    row(
        s,
        "MEASURE (TEVV)",
        measured.join("; "),
        "evasion robustness (`distillery audit`) and extraction risk where this card does not show them, energy and hardware records, a review of the slices that matter to the people affected",
    );
    row(
        s,
        "MANAGE (response, monitoring)",
        "gate verdicts that block registration; at serving: canary, shadow and rollback guardrails, drift, label-free accuracy and teacher-fidelity monitors with alerts and re-distillation, rate limits and quotas, PII kept out of the prediction log".into(),
        "turning the monitors and limits on (`[monitor]`, `[limits]` in serve.toml), who answers an alert, when a model is retired",
    );
}
