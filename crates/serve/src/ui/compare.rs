//! `/ui/compare?a=<run>&b=<run>`: two runs side by side — metrics with the change and
//! which way is better, calibration, the declared slices (those that got worse first), the
//! gates, and what changed in the recipe, line by line.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::page::{Section, Status, esc, num, page, summary};
use super::run_pages::compare_form;
use super::runs::RunSummary;
use super::{Console, html, not_found, safe_segment};

/// The two runs.
#[derive(Debug, Deserialize)]
pub(crate) struct Pair {
    a: String,
    b: String,
}

/// One compared number: where it is in the report, and whether higher is better.
struct Row {
    label: &'static str,
    metric: &'static str,
    pointer: &'static str,
    higher_is_better: bool,
    digits: usize,
}

const ROWS: &[Row] = &[
    Row {
        label: "Student accuracy",
        metric: "accuracy",
        pointer: "/student/accuracy",
        higher_is_better: true,
        digits: 4,
    },
    Row {
        label: "Fidelity",
        metric: "fidelity",
        pointer: "/student/fidelity",
        higher_is_better: true,
        digits: 4,
    },
    Row {
        label: "Macro F1",
        metric: "macro_f1",
        pointer: "/student/macro_f1",
        higher_is_better: true,
        digits: 4,
    },
    Row {
        label: "Log loss",
        metric: "log_loss",
        pointer: "/student/log_loss",
        higher_is_better: false,
        digits: 4,
    },
    Row {
        label: "Calibration error (ECE)",
        metric: "ece",
        pointer: "/student/quality/ece",
        higher_is_better: false,
        digits: 4,
    },
    Row {
        label: "Teacher accuracy",
        metric: "teacher_accuracy",
        pointer: "/teacher/accuracy",
        higher_is_better: true,
        digits: 4,
    },
    Row {
        label: "Student size (bytes)",
        metric: "bytes",
        pointer: "/student/bytes",
        higher_is_better: false,
        digits: 0,
    },
    Row {
        label: "Latency (µs)",
        metric: "latency",
        pointer: "/student/latency_us",
        higher_is_better: false,
        digits: 3,
    },
    Row {
        label: "Parameters",
        metric: "parameters",
        pointer: "/student/parameters",
        higher_is_better: false,
        digits: 0,
    },
    Row {
        label: "Run time (s)",
        metric: "seconds",
        pointer: "/seconds",
        higher_is_better: false,
        digits: 1,
    },
];

fn metrics_table(a: &Value, b: &Value) -> String {
    let mut t = String::from(
        "<h2>Metrics</h2><table><thead><tr><th scope=\"col\">Metric</th><th scope=\"col\" class=\"n\">First</th><th scope=\"col\" class=\"n\">Second</th><th scope=\"col\" class=\"n\">Change</th><th scope=\"col\">Verdict</th></tr></thead><tbody>",
    );
    for row in ROWS {
        let x = a.pointer(row.pointer).and_then(Value::as_f64);
        let y = b.pointer(row.pointer).and_then(Value::as_f64);
        let (change, verdict) = match (x, y) {
            (Some(x), Some(y)) => {
                let d = y - x;
                let better = if row.higher_is_better {
                    d > 0.0
                } else {
                    d < 0.0
                };
                let verdict = if d == 0.0 {
                    "same"
                } else if better {
                    "<span class=\"pass\">better</span>"
                } else {
                    "<span class=\"fail\">worse</span>"
                };
                (format!("{d:+.prec$}", prec = row.digits), verdict)
            }
            _ => ("–".into(), "–"),
        };
        let label = format!(
            "<th scope=\"row\">{}</th>",
            super::page::explained(row.label, row.metric)
        );
        t.push_str(&format!(
            "<tr>{label}<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{change}</td><td>{verdict}</td></tr>",
            num(x, row.digits),
            num(y, row.digits)
        ));
    }
    t.push_str("</tbody></table>");
    t
}

/// Declared slices present in both runs: the student's accuracy in each, worst change first.
fn slices_table(a: &Value, b: &Value) -> (String, Vec<String>) {
    let slices = |r: &Value| -> Vec<(String, f64, u64)> {
        r["slices"]["declared"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["slices"].as_array().into_iter().flatten())
            .filter_map(|s| {
                Some((
                    s["name"].as_str()?.to_string(),
                    s["student_accuracy"].as_f64()?,
                    s["labelled"].as_u64().unwrap_or(0),
                ))
            })
            .collect()
    };
    let first = slices(a);
    let second = slices(b);
    let mut both: Vec<(String, f64, f64, u64)> = first
        .iter()
        .filter_map(|(name, x, _)| {
            let (_, y, n) = second.iter().find(|(m, _, _)| m == name)?;
            Some((name.clone(), *x, *y, *n))
        })
        .collect();
    if both.is_empty() {
        return (
            "<h2>Slices</h2><p class=\"muted\">No declared slice is measured in both runs (declare them with <code>[evaluate] slices</code>).</p>".into(),
            Vec::new(),
        );
    }
    both.sort_by(|p, q| (p.2 - p.1).total_cmp(&(q.2 - q.1)));
    let worse: Vec<String> = both
        .iter()
        .filter(|(_, x, y, _)| y - x < -0.01)
        .map(|(name, x, y, _)| format!("slice {name}: accuracy {x:.3} → {y:.3}"))
        .collect();
    let mut t = String::from(
        "<h2>Slices</h2><table><caption class=\"muted\">The student's accuracy in each declared slice, the largest drop first.</caption><thead><tr><th scope=\"col\">Slice</th><th scope=\"col\" class=\"n\">Rows</th><th scope=\"col\" class=\"n\">First</th><th scope=\"col\" class=\"n\">Second</th><th scope=\"col\" class=\"n\">Change</th></tr></thead><tbody>",
    );
    for (name, x, y, n) in &both {
        let class = if y - x < -0.01 { " class=\"del\"" } else { "" };
        t.push_str(&format!(
            "<tr{class}><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{x:.4}</td><td class=\"n\">{y:.4}</td><td class=\"n\">{:+.4}</td></tr>",
            esc(name),
            y - x
        ));
    }
    t.push_str("</tbody></table>");
    (t, worse)
}

/// What changed in the recipe between the two runs, as a unified line diff.
fn recipe_diff(console: &Console, a: &RunSummary, b: &RunSummary) -> String {
    let read = |r: &RunSummary| {
        std::fs::read_to_string(console.runs.dir().join(&r.id).join("recipe.toml")).ok()
    };
    let (Some(x), Some(y)) = (read(a), read(b)) else {
        return "<h2>Recipe</h2><p class=\"muted\">One of the runs kept no recipe.toml.</p>".into();
    };
    if x == y {
        return "<h2>Recipe</h2><p>The two recipes are identical: the difference is the data or the seed.</p>".into();
    }
    let diff = similar::TextDiff::from_lines(&x, &y);
    let mut out = String::from(
        "<h2>Recipe</h2><p class=\"muted\">Lines removed from the first run's recipe, then added in the second's.</p><pre class=\"diff\">",
    );
    for group in diff.grouped_ops(2) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let (class, sign) = match change.tag() {
                    similar::ChangeTag::Delete => (" class=\"del\"", "-"),
                    similar::ChangeTag::Insert => (" class=\"add\"", "+"),
                    similar::ChangeTag::Equal => ("", " "),
                };
                out.push_str(&format!(
                    "<span{class}>{sign} {}</span>",
                    esc(&change.to_string_lossy())
                ));
            }
        }
        out.push_str("<span class=\"muted\">…\n</span>");
    }
    out.push_str("</pre>");
    out
}

/// `GET /ui/compare?a=…&b=…`.
async fn render(console: Arc<Console>, pair: Pair) -> Response {
    let all = tokio::task::spawn_blocking({
        let console = Arc::clone(&console);
        move || console.runs.all()
    })
    .await
    .unwrap_or_default();
    let find = |id: &str| all.iter().find(|r| r.id == id && safe_segment(id)).cloned();
    let (Some(a), Some(b)) = (find(&pair.a), find(&pair.b)) else {
        return not_found(
            "One of the two runs does not exist; pick both from the lists.",
            "/ui/runs#compare",
            Section::Runs,
        );
    };
    let (ra, rb) = (
        console.runs.report(&a.id).unwrap_or_default(),
        console.runs.report(&b.id).unwrap_or_default(),
    );
    let (slices, worse) = slices_table(&ra, &rb);
    let gates_a = a.passed();
    let gates_b = b.passed();
    let mut todo = worse.clone();
    if !gates_b {
        todo.push("the second run failed a gate".into());
    }
    let status = if !gates_b {
        Status::Red
    } else if worse.is_empty() {
        Status::Green
    } else {
        Status::Amber
    };
    let headline = format!(
        "{} ({}) against {} ({}).",
        a.id,
        if gates_a {
            "gates passed"
        } else {
            "a gate failed"
        },
        b.id,
        if gates_b {
            "gates passed"
        } else {
            "a gate failed"
        }
    );
    let mut body = format!(
        "<h1>Compare runs</h1><p><a href=\"/ui/runs/{ia}\">{na} · {ia}</a> (first) and <a href=\"/ui/runs/{ib}\">{nb} · {ib}</a> (second)</p>",
        ia = esc(&a.id),
        na = esc(&a.name),
        ib = esc(&b.id),
        nb = esc(&b.name)
    );
    body.push_str(&summary(status, &headline, &todo));
    body.push_str(&metrics_table(&ra, &rb));
    body.push_str(&slices);
    body.push_str(&recipe_diff(&console, &a, &b));
    body.push_str(&compare_form(&all, Some(&a.id)));
    html(page("Compare runs", Section::Runs, &body))
}

/// The handler as axum takes it.
pub(crate) async fn show(
    State(console): State<Arc<Console>>,
    Query(pair): Query<Pair>,
) -> Response {
    render(console, pair).await
}
