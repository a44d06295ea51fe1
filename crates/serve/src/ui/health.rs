//! `/ui/health`: per served version, the live monitor's windows — fidelity to the teacher,
//! drift share, the label-free accuracy estimate, feedback accuracy — and its alerts, with
//! each window's drifted columns one click from that window's drift report
//! (`/ui/health/{model}/{version}/{window}`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use distillery_monitor::live::{LiveState, WindowSummary};

use super::page::{Section, Status, esc, num, page, summary};
use super::{Console, html, not_found};

fn th(label: &str, why: &str) -> String {
    format!(
        "<th scope=\"col\" class=\"n\"><abbr title=\"{}\">{}</abbr></th>",
        esc(why),
        esc(label)
    )
}

fn pct(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{}%", num(Some(v * 100.0), 1)))
}

/// Share of feedback rows the student had right, when any came.
fn feedback_accuracy((rows, wrong): (u64, u64)) -> Option<f64> {
    (rows > 0).then(|| (rows - wrong) as f64 / rows as f64)
}

/// `GET /ui/health`.
pub(crate) async fn show(State(console): State<Arc<Console>>) -> Response {
    html(page("Health", Section::Health, &body(&console)))
}

fn body(console: &Console) -> String {
    let mut out = String::from("<h1>Health</h1>");
    let Some(monitors) = console.server.as_ref().and_then(|s| s.monitors.as_ref()) else {
        out.push_str(&summary(
            Status::Amber,
            "Live monitoring is not running here.",
            &["Add a [monitor] section to serve.toml (README: Monitoring) and open the console of that server.".into()],
        ));
        return out;
    };
    let states = monitors.states();
    let served = console.server.as_ref().map(|s| s.current());
    let is_served = |model: &str, version: u32| {
        served.as_ref().is_some_and(|m| {
            m.by_name
                .get(model)
                .is_some_and(|s| s.version.version == version)
                || m.canaries
                    .get(model)
                    .is_some_and(|(c, _)| c.version.version == version)
        })
    };
    let mut status = Status::Green;
    let mut todo = Vec::new();
    let mut sections = String::new();
    for state in states.values() {
        let last = state.history.back();
        let live = is_served(&state.model, state.version);
        if !live {
            // A version no longer served: its history stays readable, it needs no action.
        } else if !state.alerts.is_empty() {
            status = Status::Red;
            let a = &state.alerts[state.alerts.len() - 1];
            todo.push(format!(
                "{}/{}: alert at window {}: {}; see its windows below and consider rolling back or re-distilling",
                state.model, state.version, a.window, a.reasons.join("; ")
            ));
        } else if last.is_some_and(|w| !w.breaches.is_empty()) {
            status = status.max(Status::Amber);
            todo.push(format!(
                "{}/{}: the last window breached a rule; an alert fires if the next ones do too",
                state.model, state.version
            ));
        }
        sections.push_str(&version_section(state, live));
    }
    if states.is_empty() {
        sections.push_str("<p>No served traffic has reached the monitor yet.</p>");
    }
    let headline = match status {
        Status::Green => "Every watched version is within its rules.",
        Status::Amber => "A rule was breached in the last window.",
        Status::Red => "A watched version raised an alert.",
    };
    out.push_str(&summary(status, headline, &todo));
    out.push_str("<p class=\"muted\">Fidelity: how often the student agrees with its teacher on a sample of live rows. Drift share: the share of input columns whose distribution moved away from the training data. Estimated accuracy: the label-free CBPE estimate from the student's own confidence. Feedback accuracy: the share right among rows whose true label was sent back.</p>");
    out.push_str(&sections);
    out
}

fn version_section(state: &LiveState, live: bool) -> String {
    let rows: String = state
        .history
        .iter()
        .rev()
        .map(|w| window_row(state, w))
        .collect();
    let alerts: String = state
        .alerts
        .iter()
        .rev()
        .take(10)
        .map(|a| {
            format!(
                "<li>Window {}: {}</li>",
                a.window,
                esc(&a.reasons.join("; "))
            )
        })
        .collect();
    let c = &state.config;
    let rules = [
        c.min_fidelity.map(|v| format!("fidelity ≥ {v}")),
        c.max_drift_share.map(|v| format!("drift share < {v}")),
        c.min_estimated_accuracy
            .map(|v| format!("estimated accuracy ≥ {v}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    let id = format!("h-{}-{}", state.model, state.version);
    format!(
        "<section class=\"card\" aria-labelledby=\"{id}\"><h2 id=\"{id}\">{m} version {v}{gone}</h2>\
<p>{rows_seen} rows seen in {windows} windows of {size}; feedback accuracy so far {fb}; rules: {rules}.</p>\
{alerts}<table><thead><tr><th scope=\"col\">Window</th><th scope=\"col\" class=\"n\">Rows</th>{}{}{}{}<th scope=\"col\">Drifted columns</th><th scope=\"col\">Breaches</th></tr></thead><tbody>{rows}</tbody></table></section>",
        th(
            "Fidelity",
            "how often the student agrees with its teacher on the sampled rows"
        ),
        th(
            "Drift share",
            "share of input columns whose distribution moved from the training data"
        ),
        th(
            "Est. accuracy",
            "label-free estimate (CBPE) from the student's confidence"
        ),
        th(
            "Feedback accuracy",
            "share right among this window's rows with a true label sent back"
        ),
        id = esc(&id),
        gone = if live {
            ""
        } else {
            " <small>(no longer served)</small>"
        },
        m = esc(&state.model),
        v = state.version,
        rows_seen = state.rows,
        windows = state.windows,
        size = c.window,
        fb = pct(feedback_accuracy(state.feedback)),
        rules = if rules.is_empty() {
            "none set".into()
        } else {
            esc(&rules.join(", "))
        },
        alerts = if alerts.is_empty() {
            "<p class=\"pass\">No alerts.</p>".to_string()
        } else {
            format!("<h3>Alerts</h3><ul class=\"fail\">{alerts}</ul>")
        },
    )
}

fn window_row(state: &LiveState, w: &WindowSummary) -> String {
    let drifted = if w.drifted_columns.is_empty() {
        "none".to_string()
    } else {
        esc(&w.drifted_columns.join(", "))
    };
    format!(
        "<tr><td>{n}</td><td class=\"n\">{rows}</td><td class=\"n\">{fid}</td><td class=\"n\">{share}</td><td class=\"n\">{est}</td><td class=\"n\">{fb}</td>\
<td><a href=\"/ui/health/{m}/{v}/{n}\" aria-label=\"drift report of window {n}: {drifted}\">{drifted}</a></td><td>{breaches}</td></tr>",
        n = w.window,
        rows = w.rows,
        fid = pct(w.fidelity),
        share = pct(Some(w.drift_share)),
        est = pct(w.estimated_accuracy),
        fb = pct(feedback_accuracy(w.feedback)),
        m = esc(&state.model),
        v = state.version,
        breaches = if w.breaches.is_empty() {
            "–".into()
        } else {
            format!(
                "<span class=\"fail\">{}</span>",
                esc(&w.breaches.join("; "))
            )
        },
    )
}

/// `GET /ui/health/{model}/{version}/{window}`: that window's drift report, column by column.
pub(crate) async fn window(
    State(console): State<Arc<Console>>,
    Path((model, version, window)): Path<(String, u32, usize)>,
) -> Response {
    let state = console
        .server
        .as_ref()
        .and_then(|s| s.monitors.as_ref())
        .and_then(|m| {
            m.states()
                .into_values()
                .find(|s| s.model == model && s.version == version)
        });
    let Some(w) = state
        .as_ref()
        .and_then(|s| s.history.iter().find(|w| w.window == window))
    else {
        return not_found(
            &format!(
                "No window {window} of {model}/{version} is kept (the monitor keeps the most recent windows)."
            ),
            "/ui/health",
            Section::Health,
        );
    };
    let rows: String = w
        .drift
        .iter()
        .map(|c| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>",
                esc(&c.column),
                esc(&c.kind),
                esc(c.outcome.test.name()),
                num(Some(c.outcome.statistic), 4),
                num(c.outcome.p_value, 4),
                num(Some(c.outcome.threshold), 3),
                num(Some(c.psi), 3),
                c.current_rows,
                if c.outcome.drifted { "fail" } else { "pass" },
                if c.outcome.drifted { "drifted" } else { "stable" },
            )
        })
        .collect();
    let body = format!(
        "<h1>Drift report: {m} version {v}, window {n}</h1>{summary}\
<p><a href=\"/ui/health\">Back to health</a></p>\
<table><thead><tr><th scope=\"col\">Column</th><th scope=\"col\">Kind</th><th scope=\"col\">Test</th><th scope=\"col\" class=\"n\">Statistic</th><th scope=\"col\" class=\"n\">p-value</th><th scope=\"col\" class=\"n\">Threshold</th><th scope=\"col\" class=\"n\"><abbr title=\"population stability index: how far the column's distribution moved (above 0.2 is a large move)\">PSI</abbr></th><th scope=\"col\" class=\"n\">Rows</th><th scope=\"col\">Verdict</th></tr></thead><tbody>{rows}</tbody></table>",
        m = esc(&model),
        v = version,
        n = window,
        summary = summary(
            if w.drifted_columns.is_empty() {
                Status::Green
            } else {
                Status::Amber
            },
            &format!(
                "{} of {} columns drifted in this window ({} rows).",
                w.drifted_columns.len(),
                w.drift.len(),
                w.rows
            ),
            &if w.drifted_columns.is_empty() {
                Vec::new()
            } else {
                vec!["Drift alone does not mean worse answers: compare fidelity and estimated accuracy for the same window before acting.".into()]
            },
        ),
    );
    html(page("Drift report", Section::Health, &body))
}
