//! `/ui/approvals`: re-distilled versions waiting for a person (`require_approval`), each
//! with its evidence beside the buttons — old and new students against the teacher on
//! held-out traffic, the slices that got worse, the alert that started it — and Approve →
//! canary or Reject. The page also counts the decisions made by machines and by people,
//! so nobody mistakes a quiet dashboard for oversight.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use distillery_registry::{ModelVersion, Registry};
use serde_json::Value;

use super::actions::AWAITING;
use super::page::{Section, Status, esc, num, page, summary};
use super::session::Operator;
use super::{Console, html};

/// `GET /ui/approvals`.
pub(crate) async fn show(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let operator = console.sessions.operator(&headers);
    let done = super::deployments::flash(&console, &headers);
    let c = Arc::clone(&console);
    let body = tokio::task::spawn_blocking(move || body(&c, operator.as_ref(), &done))
        .await
        .unwrap_or_default();
    html(page("Approvals", Section::Approvals, &body))
}

/// Versions whose `redistill` tag says they wait for approval, oldest first.
fn waiting(registry: &Registry) -> Vec<ModelVersion> {
    registry
        .store()
        .versions(None)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            registry
                .store()
                .tags(&v.name, v.version)
                .unwrap_or_default()
                .iter()
                .any(|(k, t)| k == "redistill" && t == AWAITING)
        })
        .collect()
}

/// Whether `v` is a re-distilled version a person has not approved (waiting or rejected):
/// it is not offered as a canary outside the approval queue.
pub(crate) fn held_back(registry: &Registry, v: &ModelVersion) -> bool {
    registry
        .store()
        .tags(&v.name, v.version)
        .unwrap_or_default()
        .iter()
        .any(|(k, t)| k == "redistill" && !t.starts_with("approved"))
}

/// How many deployment decisions the audit trail holds, automatic and by a person.
pub(crate) fn decision_counts(console: &Console) -> String {
    let Some(registry) = console.registry() else {
        return String::new();
    };
    let audit = registry.store().audit(None).unwrap_or_default();
    let decisions: Vec<_> = audit.iter().filter(|e| e.is_decision()).collect();
    let automatic = decisions.iter().filter(|e| e.is_automatic()).count();
    let human = decisions.len() - automatic;
    format!(
        "<p aria-label=\"decisions\"><strong>Decisions so far:</strong> <span id=\"automatic\">{automatic}</span> automatic (guardrails, the monitor, re-distillation) and <span id=\"human\">{human}</span> by a person. <span class=\"muted\">Each is in the audit trail of its model's page.</span></p>"
    )
}

fn body(console: &Console, operator: Option<&Operator>, done: &str) -> String {
    let mut out = String::from("<h1>Approvals</h1>");
    out.push_str(done);
    let Some(registry) = console.registry() else {
        out.push_str(&summary(
            Status::Green,
            "No registry here yet, so nothing waits.",
            &[],
        ));
        return out;
    };
    let queue = waiting(&registry);
    let todo: Vec<String> = queue
        .iter()
        .map(|v| format!("{}/{}: re-distilled and waiting for a decision; read its evidence, then approve it as a canary or reject it", v.name, v.version))
        .collect();
    let status = if queue.is_empty() {
        Status::Green
    } else {
        Status::Amber
    };
    let headline = if queue.is_empty() {
        "Nothing waits for approval.".to_string()
    } else {
        format!(
            "{} waiting for a person.",
            super::page::count(queue.len(), "version")
        )
    };
    out.push_str(&summary(status, &headline, &todo));
    out.push_str(&decision_counts(console));
    for v in &queue {
        out.push_str(&card(console, &registry, v, operator));
    }
    out
}

fn card(
    console: &Console,
    registry: &Registry,
    v: &ModelVersion,
    operator: Option<&Operator>,
) -> String {
    let evidence: Value = registry
        .load(v, "evidence")
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let old = evidence["stable_version"]
        .as_u64()
        .and_then(|o| u32::try_from(o).ok())
        .and_then(|o| registry.store().version(&v.name, o).ok().flatten());
    let n = esc(&v.name);
    let mut out = format!(
        "<section class=\"card\" aria-labelledby=\"a-{n}-{ver}\"><h2 id=\"a-{n}-{ver}\">{n} version {ver}</h2>",
        ver = v.version
    );
    if evidence.is_null() {
        out.push_str("<p class=\"fail\">This version carries no re-distillation evidence (redistill.json); approve it only after comparing it yourself on the models page.</p>");
    } else {
        out.push_str(&evidence_html(registry, v, old.as_ref(), &evidence));
    }
    out.push_str(&buttons(console, operator, v));
    out.push_str("</section>");
    out
}

fn evidence_html(
    registry: &Registry,
    v: &ModelVersion,
    old: Option<&ModelVersion>,
    e: &Value,
) -> String {
    let f = |k: &str| e[k].as_f64();
    let old_label = old.map_or("stable".to_string(), |o| {
        format!("version {} (stable when re-distilled)", o.version)
    });
    let row = |label: &str, why: &str, a: Option<f64>, b: Option<f64>, digits: usize| {
        let better = match (a, b) {
            (Some(a), Some(b)) if b > a => " class=\"pass\"",
            (Some(a), Some(b)) if b < a => " class=\"fail\"",
            _ => "",
        };
        format!(
            "<tr><th scope=\"row\"><abbr title=\"{}\">{}</abbr></th><td class=\"n\">{}</td><td class=\"n\"{better}>{}</td></tr>",
            esc(why),
            esc(label),
            num(a, digits),
            num(b, digits)
        )
    };
    let metric = |k: &str| {
        (
            old.and_then(|o| super::models::metric(registry, o, k)),
            super::models::metric(registry, v, k),
        )
    };
    let (acc_a, acc_b) = metric("accuracy");
    let (fid_a, fid_b) = metric("fidelity");
    let table = format!(
        "<table><caption>Old and new, side by side</caption><thead><tr><th scope=\"col\">Measure</th><th scope=\"col\" class=\"n\">{}</th><th scope=\"col\" class=\"n\">version {} (new)</th></tr></thead><tbody>{}{}{}</tbody></table>",
        esc(&old_label),
        v.version,
        row(
            "Fidelity on held-out traffic",
            "how often each student agrees with the teacher on recent traffic the new one never trained on",
            f("fidelity_before"),
            f("fidelity_after"),
            4
        ),
        row(
            "Accuracy on its own test split",
            "each run's accuracy on the test rows of the data it was distilled on",
            acc_a,
            acc_b,
            4
        ),
        row(
            "Fidelity on its own test split",
            "each run's agreement with its teacher on its test rows",
            fid_a,
            fid_b,
            4
        ),
    );
    let worse: Vec<&Value> = e["slices"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["before"].as_f64() > s["after"].as_f64())
                .collect()
        })
        .unwrap_or_default();
    let slices = if worse.is_empty() {
        "<p class=\"pass\">No slice of the held-out traffic got worse.</p>".to_string()
    } else {
        let rows: String = worse
            .iter()
            .take(10)
            .map(|s| {
                format!(
                    "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n fail\">{}</td></tr>",
                    esc(s["slice"].as_str().unwrap_or("")),
                    s["rows"],
                    num(s["before"].as_f64(), 3),
                    num(s["after"].as_f64(), 3)
                )
            })
            .collect();
        format!(
            "<table><caption>Slices that got worse ({} of {}; agreement with the teacher on held-out traffic)</caption><thead><tr><th scope=\"col\">Slice</th><th scope=\"col\" class=\"n\">Rows</th><th scope=\"col\" class=\"n\">Old</th><th scope=\"col\" class=\"n\">New</th></tr></thead><tbody>{rows}</tbody></table>",
            worse.len(),
            e["slices"].as_array().map_or(0, Vec::len)
        )
    };
    let alert = &e["alert"];
    let trigger = if alert.is_null() {
        format!(
            "<p><strong>Why it was re-distilled:</strong> {}</p>",
            esc(e["why"].as_str().unwrap_or("(not recorded)"))
        )
    } else {
        let reasons: Vec<&str> = alert["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let s = &alert["summary"];
        format!(
            "<p><strong>The alert that started it:</strong> {} at window {}: {}. That window: fidelity {}, drift share {}, drifted columns {}.</p>",
            esc(&format!(
                "{}/{}",
                alert["model"].as_str().unwrap_or(""),
                alert["version"]
            )),
            alert["window"],
            esc(&reasons.join("; ")),
            num(s["fidelity"].as_f64(), 3),
            num(s["drift_share"].as_f64(), 3),
            esc(&s["drifted_columns"]
                .as_array()
                .map(|c| c
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()),
        )
    };
    format!(
        "{trigger}<p>Trained on {} logged rows labelled by the teacher; compared on {} held-out rows. Gates: {}.</p><div class=\"grid2\"><div>{table}</div><div>{slices}</div></div>",
        e["fit_rows"],
        e["holdout_rows"],
        if e["gates_passed"] == true {
            "<span class=\"pass\">passed</span>"
        } else {
            "<span class=\"fail\">failed</span>"
        },
    )
}

fn buttons(console: &Console, operator: Option<&Operator>, v: &ModelVersion) -> String {
    if !console.actions_possible() {
        return "<p class=\"muted\">Deciding needs a running server's console with an admin token (<code>distillery serve --runs runs</code>).</p>".into();
    }
    if operator.is_none() {
        return "<p><a href=\"/ui/login?next=/ui/approvals\">Log in</a> to approve or reject.</p>"
            .into();
    }
    format!(
        "<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"approve\"><input type=\"hidden\" name=\"version\" value=\"{v}\">\
<label for=\"aw-{n}-{v}\">Canary weight (%)</label><input id=\"aw-{n}-{v}\" name=\"weight\" type=\"number\" min=\"0\" max=\"100\" value=\"10\" required>\
<button type=\"submit\">Approve → canary…</button></form>\
<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"reject\"><input type=\"hidden\" name=\"version\" value=\"{v}\"><button type=\"submit\" class=\"danger\">Reject…</button></form>",
        n = esc(&v.name),
        v = v.version,
    )
}
