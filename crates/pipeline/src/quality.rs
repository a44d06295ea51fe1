//! The data checks as the first stage of a run (and of `distillery check`): findings,
//! `check.json` and `data_card.md`, and the refusal to train on unacknowledged `block`
//! findings.

use std::fmt::Write;

use distillery_quality::{CheckReport, Input, Settings, Severity};

use crate::cv::LabelIssueRows;
use crate::data::Prepared;
use crate::error::{Result, data_error, refuse};
use crate::recipe::Recipe;

/// Runs the checks on the prepared data.
pub fn check(recipe: &Recipe, prepared: &Prepared) -> CheckReport {
    let features: Vec<String> = prepared.features.iter().map(|(n, _)| n.clone()).collect();
    let text_columns: Vec<String> = prepared
        .features
        .iter()
        .filter(|(_, k)| *k == distillery_data::Kind::Text)
        .map(|(n, _)| n.clone())
        .collect();
    let settings = Settings {
        severity: recipe.quality.severity.clone(),
        acknowledge: recipe.quality.acknowledge.clone(),
    };
    distillery_quality::check(
        &Input {
            train: &prepared.train_table,
            test: prepared.test_table.as_deref(),
            target: &recipe.data.target,
            features: &features,
            text_columns: &text_columns,
            train_labels: &prepared.labels.y,
            test_labels: prepared
                .test_table
                .as_ref()
                .map(|_| prepared.test_labels.as_slice()),
            classes: &prepared.labels.classes,
            time_column: recipe.quality.time_column.as_deref(),
            held_out: if prepared.test_table.is_some() {
                &[]
            } else {
                &prepared.test_rows
            },
        },
        &settings,
    )
}

/// Fails (naming every blocking finding and how to accept it) when one is unacknowledged.
pub fn refuse_blocking(report: &CheckReport) -> Result<()> {
    let blocking = report.blocking();
    if blocking.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = blocking
        .iter()
        .map(|f| format!("  - [{}] {}", f.key, f.message))
        .collect();
    let keys: Vec<String> = blocking.iter().map(|f| format!("\"{}\"", f.key)).collect();
    refuse!(
        "the data checks found {} problem(s) that block training:\n{}\nfix the data, or accept them with [quality] acknowledge = [{}]",
        blocking.len(),
        list.join("\n"),
        keys.join(", ")
    )
}

/// Adds the label issues found in the cross-validation's out-of-fold probabilities.
pub fn add_label_issues(
    report: &mut CheckReport,
    prepared: &Prepared,
    issues: &LabelIssueRows,
    mode: crate::recipe::LabelIssueMode,
    file: &str,
) {
    let n = issues.rows.len();
    let classes = &prepared.labels.classes;
    let examples = issues
        .rows
        .iter()
        .zip(&issues.found.suggested)
        .take(3)
        .map(|(&r, &s)| {
            let given = prepared.labels.y[r].map_or("?", |y| classes[y as usize].as_str());
            format!("row {}: labelled {given}, looks like {}", r + 1, classes[s])
        })
        .collect();
    report.findings.push(distillery_quality::Finding {
        check: "label_issues".into(),
        column: None,
        key: "label_issues".into(),
        severity: Severity::Warn,
        acknowledged: false,
        message: format!(
            "{n} of {} labels look wrong by confident learning on the {} out-of-fold probabilities (cleanlab's prune_by_noise_rate); every one is listed in {file}{}",
            issues.examined,
            issues.source,
            match mode {
                crate::recipe::LabelIssueMode::Report => "",
                crate::recipe::LabelIssueMode::Drop => "; their training rows were dropped",
                crate::recipe::LabelIssueMode::Downweight =>
                    "; their training rows were trained on the teacher's soft labels only",
            }
        ),
        count: n,
        share: n as f64 / issues.examined.max(1) as f64,
        examples,
    });
}

/// One flagged row, for `label_issues.csv` and `check --json`: `row` is 1-based over the
/// data rows of the training file (the header is not counted, so row 1 is the file's
/// second line).
#[derive(Debug, serde::Serialize)]
pub struct FlaggedRow {
    /// 1-based data row of the training file.
    pub row: usize,
    /// The label as given.
    pub label: String,
    /// The class the out-of-fold probabilities favour.
    pub likely_label: String,
    /// The probability given to the label as given (low: likely wrong).
    pub self_confidence: f64,
}

/// Every flagged row, least self-confident first.
pub fn flagged_rows(prepared: &Prepared, issues: &LabelIssueRows) -> Vec<FlaggedRow> {
    let classes = &prepared.labels.classes;
    issues
        .rows
        .iter()
        .zip(&issues.found.suggested)
        .zip(&issues.found.self_confidence)
        .map(|((&r, &s), &c)| FlaggedRow {
            row: r + 1,
            label: prepared.labels.y[r].map_or(String::new(), |y| classes[y as usize].clone()),
            likely_label: classes[s].clone(),
            self_confidence: c,
        })
        .collect()
}

/// `label_issues.csv`: row (1-based data row), given label, likely label, self-confidence,
/// least self-confident first.
pub fn label_issues_csv(prepared: &Prepared, issues: &LabelIssueRows) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["row", "label", "likely_label", "self_confidence"])?;
    for f in flagged_rows(prepared, issues) {
        w.write_record([
            f.row.to_string(),
            f.label,
            f.likely_label,
            format!("{:.6}", f.self_confidence),
        ])?;
    }
    w.into_inner()
        .map_err(|e| data_error!("writing label_issues.csv: {e}"))
}

/// A readable summary of the findings (one line each, most severe first).
pub fn table(report: &CheckReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "checked {} rows × {} columns{}: {} findings",
        report.rows,
        report.columns,
        report
            .test_rows
            .map(|t| format!(" (+ {t} test rows)"))
            .unwrap_or_default(),
        report.findings.len()
    );
    for f in &report.findings {
        let _ = writeln!(
            s,
            "{:<5} {}{}",
            match f.severity {
                Severity::Info => "info",
                Severity::Warn => "warn",
                Severity::Block => "BLOCK",
            },
            f.message,
            if f.acknowledged {
                " (acknowledged)"
            } else {
                ""
            }
        );
    }
    s
}

/// `data_card.md`: provenance, missing values and the checks' verdicts.
pub fn data_card(recipe: &Recipe, prepared: &Prepared, report: &CheckReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Data card: {}\n", recipe.name());
    let _ = writeln!(s, "## Provenance\n");
    let _ = writeln!(
        s,
        "- Training file: `{}` ({} rows, {} columns)",
        recipe.data.train.display(),
        report.rows,
        report.columns
    );
    if let (Some(t), Some(n)) = (&recipe.data.test, report.test_rows) {
        let _ = writeln!(s, "- Test file: `{}` ({n} rows)", t.display());
    }
    let _ = writeln!(
        s,
        "- Fingerprint (BLAKE3 of the normalised content and schema): `{}`",
        prepared.fingerprint
    );
    let _ = writeln!(
        s,
        "- Target: `{}` with classes {}",
        recipe.data.target,
        prepared.labels.classes.join(", ")
    );
    let _ = writeln!(
        s,
        "\n## Missing values\n\n| column | missing | share |\n|---|---|---|"
    );
    for m in report.missing.iter().filter(|m| m.count > 0) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2}% |",
            m.column,
            m.count,
            m.share * 100.0
        );
    }
    let _ = writeln!(s, "\n## Findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for f in &report.findings {
        let _ = writeln!(
            s,
            "- **{:?}** `{}`: {}{}",
            f.severity,
            f.key,
            f.message,
            if f.acknowledged {
                " — acknowledged in the recipe"
            } else {
                ""
            }
        );
    }
    s
}
