//! `/ui/runs` (the table of runs: filter, sort, pick two to compare) and `/ui/runs/{id}`
//! (one run: its numbers, its gates and its full report).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::page::{Section, Status, esc, micros, num, page, size, summary, th};
use super::runs::{RunSummary, matches, sort};
use super::{Console, html, not_found, safe_segment};

/// The runs table's query: `?q=adult&sort=fidelity&dir=desc`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
}

/// The summary of the runs page: the newest run of each model, judged.
fn judge(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return summary(
            Status::Amber,
            "No runs yet.",
            &[
                "Run `distillery demo` or `distillery run recipe.toml`; its folder appears here."
                    .into(),
            ],
        );
    }
    let mut newest: Vec<&RunSummary> = Vec::new();
    for r in runs {
        if !newest.iter().any(|n| n.name == r.name) {
            newest.push(r);
        }
    }
    let mut todo = Vec::new();
    let mut status = Status::Green;
    for r in &newest {
        if !r.passed() {
            status = Status::Red;
            let failed: Vec<&str> = r
                .gates
                .iter()
                .filter(|(_, p)| !p)
                .map(|(g, _)| g.as_str())
                .collect();
            todo.push(format!(
                "{}: the newest run failed {} and was not registered; open it to see why",
                r.name,
                failed.join(", ")
            ));
        } else if r.gates.is_empty() {
            status = status.max(Status::Amber);
            todo.push(format!(
                "{}: the recipe declares no gates, so every run is registered unchecked; add [gates]",
                r.name
            ));
        } else if r.fidelity.is_some_and(|f| f < 0.95) {
            status = status.max(Status::Amber);
            todo.push(format!(
                "{}: the student agrees with its teacher on {:.1}% of rows only; consider a bigger student or more transfer rows",
                r.name,
                100.0 * r.fidelity.unwrap_or(0.0)
            ));
        }
    }
    let headline = format!(
        "{} of {}; the newest run of each model {}.",
        super::page::count(runs.len(), "run"),
        super::page::count(newest.len(), "model"),
        if status == Status::Green {
            "passed every gate"
        } else {
            "is listed below when it needs you"
        }
    );
    summary(status, &headline, &todo)
}

fn gates_cell(r: &RunSummary) -> String {
    if r.gates.is_empty() {
        return "<td>–</td>".into();
    }
    if r.passed() {
        return "<td><span class=\"pass\">passed</span></td>".into();
    }
    let failed: Vec<String> = r
        .gates
        .iter()
        .filter(|(_, p)| !p)
        .map(|(g, _)| esc(g))
        .collect();
    format!(
        "<td><span class=\"fail\">failed</span> <small>{}</small></td>",
        failed.join(", ")
    )
}

/// A sortable column header: a link that sorts by it (descending first, then toggles).
fn sort_link(label: &str, key: &str, metric: &str, q: &ListQuery) -> String {
    let descending = !(q.sort == key && q.dir != "asc");
    let arrow = if q.sort == key {
        if q.dir == "asc" { " ▲" } else { " ▼" }
    } else {
        ""
    };
    let aria = if q.sort == key {
        if q.dir == "asc" {
            " aria-sort=\"ascending\""
        } else {
            " aria-sort=\"descending\""
        }
    } else {
        ""
    };
    let href = format!(
        "/ui/runs?q={}&amp;sort={key}&amp;dir={}",
        esc(&urlencode(&q.q)),
        if descending { "desc" } else { "asc" }
    );
    let inner = super::page::explained(label, metric);
    format!("<th scope=\"col\"{aria}><a href=\"{href}\">{inner}</a>{arrow}</th>")
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /ui/runs`.
pub(crate) async fn list(
    State(console): State<Arc<Console>>,
    Query(q): Query<ListQuery>,
) -> Response {
    let all = tokio::task::spawn_blocking({
        let console = Arc::clone(&console);
        move || console.runs.all()
    })
    .await
    .unwrap_or_default();
    let mut runs: Vec<RunSummary> = all.iter().filter(|r| matches(r, &q.q)).cloned().collect();
    if !q.sort.is_empty() {
        sort(&mut runs, &q.sort, q.dir != "asc");
    }
    let mut body = String::from("<h1>Runs</h1>");
    body.push_str(&judge(&all));
    body.push_str(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/ui/runs\" role=\"search\">\
<label for=\"q\">Filter by model, run or teacher<input id=\"q\" name=\"q\" value=\"{}\"></label>\
<input type=\"hidden\" name=\"sort\" value=\"{}\"><input type=\"hidden\" name=\"dir\" value=\"{}\">\
<button type=\"submit\">Filter</button></form>",
        esc(&q.q),
        esc(&q.sort),
        esc(&q.dir)
    ));
    body.push_str(&format!(
        "<p class=\"muted\">{} of {} runs in {}.</p>",
        runs.len(),
        all.len(),
        esc(&console.runs.dir().display().to_string())
    ));
    body.push_str("<table><caption class=\"muted\">Click a column to sort; hover a heading for what it means.</caption><thead><tr>");
    body.push_str(&sort_link("Model", "name", "", &q));
    body.push_str(&sort_link("Date", "created", "", &q));
    body.push_str("<th scope=\"col\">Teacher</th>");
    body.push_str(&sort_link(
        "Teacher acc.",
        "teacher_accuracy",
        "teacher_accuracy",
        &q,
    ));
    body.push_str(&sort_link("Accuracy", "accuracy", "accuracy", &q));
    body.push_str(&sort_link("Fidelity", "fidelity", "fidelity", &q));
    body.push_str(&sort_link("Size", "bytes", "bytes", &q));
    body.push_str(&sort_link("Latency", "latency", "latency", &q));
    body.push_str(&th("Gates", "gates"));
    body.push_str("</tr></thead><tbody>");
    for r in &runs {
        body.push_str(&format!(
            "<tr><td><a href=\"/ui/runs/{id}\">{name}</a><br><small>{id}</small></td><td>{created}</td><td>{teacher}</td>\
<td class=\"n\">{ta}</td><td class=\"n\">{acc}</td><td class=\"n\">{fid}</td><td class=\"n\">{size}</td><td class=\"n\">{lat}</td>{gates}</tr>",
            id = esc(&r.id),
            name = esc(&r.name),
            created = esc(&r.created),
            teacher = esc(&r.teacher),
            ta = num(r.teacher_accuracy, 4),
            acc = num(r.accuracy, 4),
            fid = num(r.fidelity, 4),
            size = size(r.bytes),
            lat = micros(r.latency_us),
            gates = gates_cell(r),
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str(&compare_form(&all, None));
    html(page("Runs", Section::Runs, &body))
}

/// Two menus of runs and a button: the comparison, without JavaScript.
pub(crate) fn compare_form(runs: &[RunSummary], first: Option<&str>) -> String {
    if runs.len() < 2 {
        return String::new();
    }
    let options = |selected: Option<&str>| -> String {
        runs.iter()
            .map(|r| {
                let sel = if Some(r.id.as_str()) == selected {
                    " selected"
                } else {
                    ""
                };
                format!(
                    "<option value=\"{id}\"{sel}>{name} · {created}</option>",
                    id = esc(&r.id),
                    name = esc(&r.name),
                    created = esc(&r.created)
                )
            })
            .collect()
    };
    let second = runs
        .iter()
        .map(|r| r.id.as_str())
        .find(|id| Some(*id) != first.or(runs.first().map(|r| r.id.as_str())));
    format!(
        "<h2 id=\"compare\">Compare two runs</h2><form class=\"filters\" method=\"get\" action=\"/ui/compare\">\
<label for=\"a\">First run<select id=\"a\" name=\"a\">{}</select></label>\
<label for=\"b\">Second run<select id=\"b\" name=\"b\">{}</select></label>\
<button type=\"submit\">Compare</button></form>",
        options(first.or(runs.first().map(|r| r.id.as_str()))),
        options(second)
    )
}

/// `GET /ui/runs/{id}`.
pub(crate) async fn one(State(console): State<Arc<Console>>, Path(id): Path<String>) -> Response {
    let all = tokio::task::spawn_blocking({
        let console = Arc::clone(&console);
        move || console.runs.all()
    })
    .await
    .unwrap_or_default();
    let Some(r) = all.iter().find(|r| r.id == id && safe_segment(&id)) else {
        return not_found(&format!("There is no run {id}."), "/ui/runs", Section::Runs);
    };
    let report = console.runs.report(&r.id).unwrap_or_default();
    let mut body = format!("<h1>{} <small>{}</small></h1>", esc(&r.name), esc(&r.id));
    let status = if !r.passed() {
        Status::Red
    } else if r.gates.is_empty() || r.fidelity.is_some_and(|f| f < 0.95) {
        Status::Amber
    } else {
        Status::Green
    };
    let headline = if r.gates.is_empty() {
        "The recipe declares no gates: the run registered its student without checks. Add [gates] (min_fidelity, max_accuracy_drop) to the recipe."
    } else if r.passed() {
        "Every gate passed: the run registered its student."
    } else {
        "A gate failed: this student was not registered."
    };
    body.push_str(&summary(status, headline, &[]));
    body.push_str("<table><thead><tr><th scope=\"col\">Model</th>");
    for (label, metric) in [
        ("Accuracy", "accuracy"),
        ("Fidelity", "fidelity"),
        ("Macro F1", "macro_f1"),
        ("Log loss", "log_loss"),
        ("Size", "bytes"),
        ("Latency", "latency"),
        ("Parameters", "parameters"),
    ] {
        body.push_str(&th(label, metric));
    }
    body.push_str("</tr></thead><tbody>");
    for (who, v) in [
        ("Student", &report["student"]),
        ("Teacher", &report["teacher"]),
        ("Scratch (no teacher)", &report["scratch"]),
    ] {
        if v.is_null() {
            continue;
        }
        body.push_str(&format!(
            "<tr><th scope=\"row\">{who}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            num(v["accuracy"].as_f64(), 4),
            num(v["fidelity"].as_f64(), 4),
            num(v["macro_f1"].as_f64(), 4),
            num(v["log_loss"].as_f64(), 4),
            size(v["bytes"].as_f64()),
            micros(v["latency_us"].as_f64()),
            v["parameters"].as_u64().map_or("–".into(), |p| p.to_string()),
        ));
    }
    body.push_str("</tbody></table><h2>Gates</h2><table><thead><tr><th scope=\"col\">Gate</th><th scope=\"col\" class=\"n\">Threshold</th><th scope=\"col\" class=\"n\">Value</th><th scope=\"col\">Verdict</th></tr></thead><tbody>");
    for g in report["gates"].as_array().into_iter().flatten() {
        let passed = g["passed"].as_bool().unwrap_or(false);
        body.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(g["gate"].as_str().unwrap_or("")),
            num(g["threshold"].as_f64(), 4),
            num(g["value"].as_f64(), 4),
            if passed {
                "<span class=\"pass\">passed</span>"
            } else {
                "<span class=\"fail\">failed</span>"
            }
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str(&compare_form(&all, Some(&r.id)));
    body.push_str(&format!(
        "<h2>Full report</h2><p><a href=\"/ui/runs/{id}/report.html\">Open the report on its own page</a></p>\
<iframe title=\"the full report of run {id}\" src=\"/ui/runs/{id}/report.html\" sandbox></iframe>",
        id = esc(&r.id)
    ));
    html(page(&r.name, Section::Runs, &body))
}

/// `GET /ui/runs/{id}/report.html`: the run's own report, as written by the run.
pub(crate) async fn report(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
) -> Response {
    if !safe_segment(&id) {
        return not_found("No such run.", "/ui/runs", Section::Runs);
    }
    let path = console.runs.dir().join(&id).join("report.html");
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => {
            let mut r = html(text);
            // The report is the run's own document: no script runs, nothing is fetched.
            r.headers_mut().insert(
                axum::http::header::CONTENT_SECURITY_POLICY,
                axum::http::HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
                ),
            );
            r
        }
        Err(_) => not_found(
            &format!("Run {id} has no report.html."),
            "/ui/runs",
            Section::Runs,
        ),
    }
}
