//! `/ui/deployments`: what this server serves — each model's stable version, canary and
//! weight, shadow — with the last minute's request rate, error rate, p50/p99 latency and the
//! canary's disagreement with the stable version; and, for a logged-in operator, the
//! actions (canary weight, a new canary, promote, roll back), each confirmed on its own page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::page::{Section, Status, esc, num, page, summary};
use super::session::Operator;
use super::{Console, html};
use crate::VersionTraffic;

/// The outcome of the operator's last action, shown once, as a status line.
pub(crate) fn flash(console: &Console, headers: &HeaderMap) -> String {
    console
        .sessions
        .take_flash(headers)
        .map(|t| format!("<p class=\"pass\" role=\"status\">{}</p>", esc(&t)))
        .unwrap_or_default()
}

/// Plain words for the live figures.
fn explained(label: &str, why: &str) -> String {
    format!(
        "<th scope=\"col\" class=\"n\"><abbr title=\"{}\">{}</abbr></th>",
        esc(why),
        esc(label)
    )
}

/// `GET /ui/deployments`.
pub(crate) async fn show(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let operator = console.sessions.operator(&headers);
    let done = flash(&console, &headers);
    let c = Arc::clone(&console);
    let body = tokio::task::spawn_blocking(move || body(&c, operator.as_ref(), &done))
        .await
        .unwrap_or_default();
    html(page("Deployments", Section::Deployments, &body))
}

fn body(console: &Console, operator: Option<&Operator>, done: &str) -> String {
    let mut out = String::from("<h1>Deployments</h1>");
    out.push_str(done);
    let Some(server) = &console.server else {
        out.push_str(&summary(
            Status::Amber,
            "This console is not beside a server, so it shows what the registry records, not live traffic.",
            &["Start `distillery serve --runs runs` with an admin token and open its /ui to see live figures and act.".into()],
        ));
        out.push_str(&registry_view(console));
        return out;
    };
    let m = server.current();
    let mut todo = Vec::new();
    let mut status = Status::Green;
    let mut cards = String::new();
    for (name, stable) in &m.by_name {
        let traffic = m.metrics.recent(name);
        let canary = m.canaries.get(name);
        let shadow = m.shadows.get(name);
        for t in &traffic {
            if t.error_rate > 0.05 && t.requests >= 20 {
                status = Status::Red;
                todo.push(format!("{name}: version {} failed {:.0}% of its last minute's requests; look at the server log", t.version, t.error_rate * 100.0));
            }
            if let Some(d) = t.disagreement.filter(|d| *d > 0.1) {
                status = status.max(Status::Amber);
                todo.push(format!("{name}: the canary (version {}) disagrees with the stable version on {:.0}% of rows; check its health before raising its weight", t.version, d * 100.0));
            }
        }
        if let Some((c, w)) = canary {
            status = status.max(Status::Amber);
            todo.push(format!("{name}: version {} is a canary at {w}%; promote it or roll it back once its figures settle", c.version.version));
        }
        let role = |v: u32| {
            if v == stable.version.version {
                "stable".to_string()
            } else if canary.is_some_and(|(c, _)| c.version.version == v) {
                "canary".into()
            } else if shadow.is_some_and(|(s, _)| s.version.version == v) {
                "shadow".into()
            } else if v == 0 {
                "refused before routing".into()
            } else {
                "earlier".into()
            }
        };
        let rows: String = traffic
            .iter()
            .map(|t| traffic_row(t, &role(t.version)))
            .collect();
        let table = if rows.is_empty() {
            "<p class=\"muted\">No requests in the last minute.</p>".to_string()
        } else {
            format!(
                "<table><caption class=\"muted\">The last minute of traffic</caption><thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Role</th>{}{}{}{}{}{}{}</tr></thead><tbody>{rows}</tbody></table>",
                explained("Requests/s", "requests per second over the last minute"),
                explained(
                    "Errors",
                    "share of requests the server failed (5xx): the version's fault"
                ),
                explained(
                    "Refused",
                    "share of requests refused as malformed or over a limit (4xx): the clients' doing"
                ),
                explained("p50", "median time to answer a request"),
                explained("p99", "99 of 100 requests are answered at least this fast"),
                explained(
                    "Compared rows",
                    "canary rows also answered by the stable version"
                ),
                explained(
                    "Disagreement",
                    "share of those rows where the canary's label differs from the stable version's"
                ),
            )
        };
        let shadow_line = shadow.map_or_else(String::new, |(s, f)| {
            format!(
                "<li>Shadow: version {} on {:.0}% of requests (answers compared and logged, never returned)</li>",
                s.version.version,
                f * 100.0
            )
        });
        let canary_line = canary.map_or_else(
            || "<li>Canary: none</li>".to_string(),
            |(c, w)| {
                format!(
                    "<li>Canary: <strong>version {}</strong> on {w}% of traffic</li>",
                    c.version.version
                )
            },
        );
        cards.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"d-{n}\"><h2 id=\"d-{n}\">{n}</h2><ul><li>Stable (production): <strong>version {v}</strong></li>{canary_line}{shadow_line}</ul>{table}{actions}</section>",
            n = esc(name),
            v = stable.version.version,
            actions = actions(console, operator, name, stable.version.version, canary.map(|(c, w)| (c.version.version, *w))),
        ));
    }
    if m.by_name.is_empty() {
        cards.push_str("<p>Nothing is served.</p>");
    }
    let headline = match status {
        Status::Green => "Every served model answers normally.",
        _ => "Deployments in progress or figures to check.",
    };
    out.push_str(&summary(status, headline, &todo));
    out.push_str(&super::approvals::decision_counts(console));
    out.push_str(&cards);
    out
}

fn traffic_row(t: &VersionTraffic, role: &str) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{:.1}%</td><td class=\"n\">{:.2} ms</td><td class=\"n\">{:.2} ms</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        t.version,
        esc(role),
        t.per_second,
        t.error_rate * 100.0,
        t.refused_rate * 100.0,
        t.p50_ms,
        t.p99_ms,
        if t.compared_rows > 0 {
            t.compared_rows.to_string()
        } else {
            "–".into()
        },
        t.disagreement
            .map_or("–".into(), |d| format!("{}%", num(Some(d * 100.0), 1))),
    )
}

/// The action forms for one model (each leads to its confirmation page), or how to get them.
fn actions(
    console: &Console,
    operator: Option<&Operator>,
    name: &str,
    stable: u32,
    canary: Option<(u32, u8)>,
) -> String {
    if !console.actions_possible() {
        return "<p class=\"muted\">Actions are off: this server has no admin token.</p>".into();
    }
    if operator.is_none() {
        return "<p><a href=\"/ui/login?next=/ui/deployments\">Log in</a> to change the canary, promote or roll back.</p>".into();
    }
    let n = esc(name);
    let mut out = String::from("<h3>Actions</h3>");
    if let Some((v, w)) = canary {
        out.push_str(&format!(
            "<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"weight\">\
<label for=\"w-{n}\">Canary weight (%)</label><input id=\"w-{n}\" name=\"weight\" type=\"number\" min=\"0\" max=\"100\" value=\"{w}\" required>\
<button type=\"submit\">Change the weight…</button></form>\
<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"promote\"><button type=\"submit\">Promote version {v}…</button></form>\
<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"rollback\"><button type=\"submit\" class=\"danger\">Roll back version {v}…</button></form>"
        ));
    }
    let Some(registry) = console.registry() else {
        return out;
    };
    let others: String = registry
        .store()
        .versions(Some(name))
        .unwrap_or_default()
        .iter()
        .filter(|v| v.version != stable && v.gates_passed)
        .filter(|v| canary.is_none_or(|(c, _)| c != v.version))
        .filter(|v| !super::approvals::held_back(&registry, v))
        .rev()
        .map(|v| format!("<option value=\"{0}\">version {0}</option>", v.version))
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "<form method=\"get\" action=\"/ui/confirm/{n}\" class=\"inline\"><input type=\"hidden\" name=\"action\" value=\"canary\">\
<label for=\"v-{n}\">New canary</label><select id=\"v-{n}\" name=\"version\">{others}</select>\
<label for=\"cw-{n}\">at weight (%)</label><input id=\"cw-{n}\" name=\"weight\" type=\"number\" min=\"0\" max=\"100\" value=\"10\" required>\
<button type=\"submit\">Start the canary…</button></form>"
        ));
    }
    out
}

/// Without a server: each model's aliases and canary weight as the registry records them.
fn registry_view(console: &Console) -> String {
    let Some(registry) = console.registry() else {
        return "<p>No registry here yet.</p>".into();
    };
    let rows: String = super::models::names(&registry)
        .iter()
        .map(|name| {
            let aliases = registry.store().aliases(name).unwrap_or_default();
            let get = |a: &str| aliases.iter().find(|(x, _)| x == a).map(|(_, v)| *v);
            let routing = registry.store().routing(name).unwrap_or_default();
            let weight = routing.iter().find(|(k, _)| k == "canary_weight").map(|(_, v)| v.clone());
            format!(
                "<tr><td><a href=\"/ui/models/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                get("production").map_or("–".into(), |v| v.to_string()),
                get("canary").map_or("–".into(), |v| format!("{v} at {}%", weight.as_deref().unwrap_or("?"))),
                get("shadow").map_or("–".into(), |v| v.to_string()),
                n = esc(name),
            )
        })
        .collect();
    format!(
        "<table><thead><tr><th scope=\"col\">Model</th><th scope=\"col\">Production</th><th scope=\"col\">Canary</th><th scope=\"col\">Shadow</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}
