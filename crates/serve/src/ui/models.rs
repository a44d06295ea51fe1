//! `/ui/models` (every registered model, its aliases and newest version) and
//! `/ui/models/{name}` (versions, aliases, signatures checked against the trusted keys,
//! the audit trail, and the lineage drawn as a graph).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use distillery_registry::{ModelVersion, Registry};

use super::lineage::{Chain, svg};
use super::page::{Section, Status, esc, num, page, summary, th};
use super::{Console, html, not_found, safe_segment};

/// Every model name, in order.
pub(crate) fn names(registry: &Registry) -> Vec<String> {
    let mut names: Vec<String> = registry
        .store()
        .versions(None)
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.dedup();
    names
}

/// A version's metric from its run record.
pub(crate) fn metric(registry: &Registry, v: &ModelVersion, key: &str) -> Option<f64> {
    registry
        .store()
        .run(&v.run_id)
        .ok()
        .flatten()
        .and_then(|r| r.metrics.get(key).copied())
}

fn no_registry() -> String {
    summary(
        Status::Amber,
        "No registry here yet.",
        &["A run whose gates pass registers its student; run `distillery demo` or start the console with --registry.".into()],
    )
}

/// `GET /ui/models`.
pub(crate) async fn list(State(console): State<Arc<Console>>) -> Response {
    let body = tokio::task::spawn_blocking(move || list_body(&console))
        .await
        .unwrap_or_default();
    html(page("Models", Section::Models, &body))
}

fn list_body(console: &Console) -> String {
    let mut body = String::from("<h1>Models</h1>");
    let Some(registry) = console.registry() else {
        body.push_str(&no_registry());
        return body;
    };
    let names = names(&registry);
    let mut todo = Vec::new();
    let mut rows = String::new();
    for name in &names {
        let versions = registry.store().versions(Some(name)).unwrap_or_default();
        let aliases = registry.store().aliases(name).unwrap_or_default();
        let newest = versions.last();
        let production = aliases
            .iter()
            .find(|(a, _)| a == "production")
            .map(|(_, v)| *v);
        if production.is_none() {
            todo.push(format!(
                "{name}: no production version; promote one (`distillery registry promote {name}/<version> --to production`)"
            ));
        } else if let (Some(p), Some(n)) = (production, newest)
            && n.version > p
            && n.gates_passed
        {
            todo.push(format!(
                "{name}: version {} passed its gates and is newer than production ({p}); compare and promote it if it is better",
                n.version
            ));
        }
        let alias_text: Vec<String> = aliases.iter().map(|(a, v)| format!("{a} → {v}")).collect();
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/models/{n}\">{n}</a></td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            versions.len(),
            esc(&alias_text.join(", ")),
            num(production.and_then(|p| versions.iter().find(|v| v.version == p)).and_then(|v| metric(&registry, v, "accuracy")), 4),
            num(production.and_then(|p| versions.iter().find(|v| v.version == p)).and_then(|v| metric(&registry, v, "fidelity")), 4),
            n = esc(name),
        ));
    }
    let status = if names.is_empty() {
        Status::Amber
    } else if todo.is_empty() {
        Status::Green
    } else {
        Status::Amber
    };
    body.push_str(&summary(
        status,
        &format!(
            "{} in {}.",
            super::page::count(names.len(), "registered model"),
            registry.dir().display()
        ),
        &todo,
    ));
    body.push_str("<table><thead><tr><th scope=\"col\">Model</th><th scope=\"col\" class=\"n\">Versions</th><th scope=\"col\">Aliases</th>");
    body.push_str(&th("Production accuracy", "accuracy"));
    body.push_str(&th("Production fidelity", "fidelity"));
    body.push_str("</tr></thead><tbody>");
    body.push_str(&rows);
    body.push_str("</tbody></table>");
    body
}

/// `GET /ui/models/{name}`.
pub(crate) async fn one(State(console): State<Arc<Console>>, Path(name): Path<String>) -> Response {
    if !safe_segment(&name) {
        return not_found("No such model.", "/ui/models", Section::Models);
    }
    let shown = name.clone();
    let body = tokio::task::spawn_blocking(move || one_body(&console, &name))
        .await
        .ok()
        .flatten();
    match body {
        Some(body) => html(page(&shown, Section::Models, &body)),
        None => not_found(
            &format!("No model named {shown} is registered."),
            "/ui/models",
            Section::Models,
        ),
    }
}

fn one_body(console: &Console, name: &str) -> Option<String> {
    let registry = console.registry()?;
    let versions = registry.store().versions(Some(name)).ok()?;
    if versions.is_empty() {
        return None;
    }
    let aliases = registry.store().aliases(name).unwrap_or_default();
    let trusted = registry.trusted_keys().unwrap_or_default();
    let policy = registry.config().registry.require_signature;
    let mut body = format!("<h1>{}</h1>", esc(name));
    let mut todo = Vec::new();
    let mut rows = String::new();
    let mut chains = Vec::new();
    for v in versions.iter().rev() {
        let signatures = registry
            .store()
            .signatures(name, v.version)
            .unwrap_or_default();
        let verified = signatures
            .iter()
            .filter(|s| distillery_registry::verify(v, s, &trusted).is_ok())
            .count();
        let on: Vec<&str> = aliases
            .iter()
            .filter(|(_, n)| *n == v.version)
            .map(|(a, _)| a.as_str())
            .collect();
        if policy && on.contains(&"production") && verified == 0 {
            todo.push(format!(
                "version {} is in production without a signature from a trusted key",
                v.version
            ));
        }
        let signed = match (signatures.len(), verified) {
            (0, _) => "not signed".to_string(),
            (n, 0) => format!("{n} signature(s), none from a trusted key"),
            (n, k) => format!("{k} of {n} verified"),
        };
        let run = registry.store().run(&v.run_id).ok().flatten();
        rows.push_str(&format!(
            "<tr><td>{version}</td><td>{aliases}</td><td>{created}</td><td>{actor}</td><td>{gates}</td><td class=\"n\">{acc}</td><td class=\"n\">{fid}</td><td>{signed}</td><td><a href=\"/ui/runs/{run}\">{run}</a></td></tr>",
            version = v.version,
            aliases = esc(&on.join(", ")),
            created = esc(&v.created),
            actor = esc(&v.actor),
            gates = if v.gates_passed { "<span class=\"pass\">passed</span>" } else { "<span class=\"fail\">failed</span>" },
            acc = num(run.as_ref().and_then(|r| r.metrics.get("accuracy").copied()), 4),
            fid = num(run.as_ref().and_then(|r| r.metrics.get("fidelity").copied()), 4),
            signed = esc(&signed),
            run = esc(&v.run_id),
        ));
        if chains.len() < 12 {
            chains.push(Chain {
                dataset: run.as_ref().map_or_else(
                    || "?".into(),
                    |r| {
                        format!(
                            "dataset {}",
                            &r.dataset.chars().take(12).collect::<String>()
                        )
                    },
                ),
                teacher: run
                    .as_ref()
                    .map_or_else(|| "?".into(), |r| r.teacher.clone()),
                run: v.run_id.clone(),
                version: v.label(),
                aliases: on.iter().map(|a| format!("@{a}")).collect(),
            });
        }
    }
    let status = if todo.is_empty() {
        Status::Green
    } else {
        Status::Red
    };
    let headline = format!(
        "{}; {}.",
        super::page::count(versions.len(), "version"),
        if aliases.is_empty() {
            "no alias points at any".to_string()
        } else {
            aliases
                .iter()
                .map(|(a, v)| format!("{a} → {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    body.push_str(&summary(status, &headline, &todo));
    body.push_str("<h2>Versions</h2><table><thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Aliases</th><th scope=\"col\">Registered</th><th scope=\"col\">By</th>");
    body.push_str(&th("Gates", "gates"));
    body.push_str(&th("Accuracy", "accuracy"));
    body.push_str(&th("Fidelity", "fidelity"));
    body.push_str("<th scope=\"col\"><abbr title=\"signatures: ed25519 signatures over the version's artifacts, checked against the registry's trusted keys\">Signatures</abbr></th><th scope=\"col\">Run</th></tr></thead><tbody>");
    body.push_str(&rows);
    body.push_str("</tbody></table><h2>Lineage</h2>");
    body.push_str(&svg(&chains));
    body.push_str("<h2>Audit trail</h2><p class=\"muted\">Every change to this model: who, when, what and why. Append-only.</p><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">What</th><th scope=\"col\">Target</th><th scope=\"col\">Why</th></tr></thead><tbody>");
    let mut audit = registry.store().audit(Some(name)).unwrap_or_default();
    audit.reverse();
    for e in &audit {
        // An alias move says which versions it went between.
        let moved = match (e.details.get("from"), e.details.get("to")) {
            (Some(from), Some(to)) => {
                let v = |x: &serde_json::Value| x.as_u64().map_or("none".into(), |v| v.to_string());
                format!(" ({} → {})", v(from), v(to))
            }
            _ => String::new(),
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
            esc(&e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.target),
            esc(&moved),
            esc(&e.why)
        ));
    }
    body.push_str("</tbody></table>");
    Some(body)
}
