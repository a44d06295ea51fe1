//! The console's actions, each in two steps: `GET /ui/confirm/{model}?action=…` shows what
//! will change and asks for a reason; `POST /ui/act/{model}` (the logged-in operator's CSRF
//! token, the reason, a confirmation) carries it out through the same functions, registry
//! writes and audit trail as the admin API, under the operator's name.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use distillery_registry::Change;
use serde::Deserialize;

use super::page::{Section, esc, page};
use super::session::{Operator, check_form};
use super::{Console, html, safe_segment};
use crate::admin::{Who, promote_canary, rollback_canary, set_canary};

/// The tag value of a re-distilled version that waits for a person.
pub(crate) const AWAITING: &str = "awaiting approval";

/// What an operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The canary's share of traffic.
    Weight(u8),
    /// A version as the canary at a weight.
    Canary(u32, u8),
    /// The canary becomes the stable version.
    Promote,
    /// The canary stops receiving traffic.
    Rollback,
    /// A re-distilled version waiting for approval goes out as a canary.
    Approve(u32, u8),
    /// A re-distilled version waiting for approval is turned down.
    Reject(u32),
}

/// The fields that name an action (the confirm page's query, the act form's fields).
#[derive(Debug, Deserialize)]
pub(crate) struct Ask {
    action: String,
    version: Option<String>,
    weight: Option<String>,
    /// The canary version the confirmation page showed (weight, promote, rollback).
    #[serde(default)]
    expect: Option<String>,
}

impl Ask {
    fn parse(&self) -> Result<Action, String> {
        let version = || {
            self.version
                .as_deref()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .ok_or_else(|| "give the version (a whole number)".to_string())
        };
        let weight = || {
            self.weight
                .as_deref()
                .and_then(|w| w.trim().parse::<u8>().ok())
                .filter(|w| *w <= 100)
                .ok_or_else(|| "give the canary weight, a whole number from 0 to 100".to_string())
        };
        match self.action.as_str() {
            "weight" => Ok(Action::Weight(weight()?)),
            "canary" => Ok(Action::Canary(version()?, weight()?)),
            "promote" => Ok(Action::Promote),
            "rollback" => Ok(Action::Rollback),
            "approve" => Ok(Action::Approve(version()?, weight()?)),
            "reject" => Ok(Action::Reject(version()?)),
            other => Err(format!(
                "unknown action '{other}'; the console knows weight, canary, promote, rollback, approve and reject"
            )),
        }
    }

    fn hidden(&self) -> String {
        let field = |k: &str, v: Option<&str>| {
            v.map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
                .unwrap_or_default()
        };
        field("action", Some(&self.action))
            + &field("version", self.version.as_deref())
            + &field("weight", self.weight.as_deref())
    }
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Weight(_) => "Change the canary weight",
            Action::Canary(..) => "Start a canary",
            Action::Promote => "Promote the canary",
            Action::Rollback => "Roll the canary back",
            Action::Approve(..) => "Approve and deploy as a canary",
            Action::Reject(_) => "Reject the re-distilled version",
        }
    }

    /// Where the operator goes once it is done.
    fn back(self) -> &'static str {
        match self {
            Action::Approve(..) | Action::Reject(_) => "/ui/approvals",
            _ => "/ui/deployments",
        }
    }
}

/// What `action` would change on `model`, as (what, now, after) lines; or why it cannot.
fn changes(
    server: &crate::Server,
    model: &str,
    action: Action,
) -> Result<Vec<[String; 3]>, String> {
    let m = server.current();
    let stable = m
        .by_name
        .get(model)
        .ok_or_else(|| format!("model '{model}' is not served here"))?
        .version
        .version;
    let canary = m.canaries.get(model).map(|(c, w)| (c.version.version, *w));
    let show = |c: Option<(u32, u8)>| match c {
        Some((v, w)) => format!("version {v} at {w}% of traffic"),
        None => "none".into(),
    };
    let line = |what: &str, now: String, after: String| [what.to_string(), now, after];
    Ok(match action {
        Action::Weight(w) => {
            let (v, _) = canary.ok_or("there is no canary; start one first")?;
            vec![line("canary", show(canary), show(Some((v, w))))]
        }
        Action::Canary(v, w) | Action::Approve(v, w) => {
            if v == stable {
                return Err(format!("version {v} is already the stable version"));
            }
            let mut out = vec![line("canary", show(canary), show(Some((v, w))))];
            if let Action::Approve(..) = action {
                out.push(line(
                    &format!("version {v}"),
                    AWAITING.into(),
                    "approved".into(),
                ));
            }
            out
        }
        Action::Promote => {
            let (v, _) = canary.ok_or("there is no canary to promote")?;
            vec![
                line(
                    "stable (production)",
                    format!("version {stable}"),
                    format!("version {v}, all traffic"),
                ),
                line("canary", show(canary), "none".into()),
            ]
        }
        Action::Rollback => {
            canary.ok_or("there is no canary to roll back")?;
            vec![line(
                "canary",
                show(canary),
                "none (all traffic to the stable version)".into(),
            )]
        }
        Action::Reject(v) => vec![line(
            &format!("version {v}"),
            AWAITING.into(),
            "rejected (never served)".into(),
        )],
    })
}

/// Longest reason kept in the audit trail, in characters.
const MAX_REASON: usize = 500;

/// `version` of `model` is not being served (stable, canary or shadow).
fn not_served(server: &crate::Server, model: &str, version: u32) -> Result<(), String> {
    let m = server.current();
    let serving = m
        .by_name
        .get(model)
        .is_some_and(|s| s.version.version == version)
        || m.canaries
            .get(model)
            .is_some_and(|(c, _)| c.version.version == version)
        || m.shadows
            .get(model)
            .is_some_and(|(s, _)| s.version.version == version);
    if serving {
        Err(format!(
            "{model}/{version} is being served; roll it back before rejecting it"
        ))
    } else {
        Ok(())
    }
}

/// Whether `version` of `model` waits for approval.
fn awaiting(server: &crate::Server, model: &str, version: u32) -> Result<(), String> {
    let registry = server
        .registry
        .lock()
        .map_err(|_| "the registry lock is poisoned".to_string())?;
    let tags = registry
        .store()
        .tags(model, version)
        .map_err(|e| e.to_string())?;
    if tags.iter().any(|(k, v)| k == "redistill" && v == AWAITING) {
        Ok(())
    } else {
        Err(format!("{model}/{version} is not waiting for approval"))
    }
}

/// `GET /ui/confirm/{model}?action=…`: what will change, a reason to give, and Confirm.
pub(crate) async fn confirm(
    State(console): State<Arc<Console>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Response {
    let Some(operator) = console.sessions.operator(&headers) else {
        let here = format!(
            "/ui/confirm/{model}?action={}&version={}&weight={}",
            super::run_pages::urlencode(&ask.action),
            super::run_pages::urlencode(ask.version.as_deref().unwrap_or("")),
            super::run_pages::urlencode(ask.weight.as_deref().unwrap_or(""))
        );
        return Redirect::to(&format!(
            "/ui/login?next={}",
            super::run_pages::urlencode(&here)
        ))
        .into_response();
    };
    off_runtime(console, move |c| confirm_page(c, &model, &ask, &operator)).await
}

/// The server actions go to, or the page saying actions are off here.
fn acting_server(console: &Console) -> Result<&Arc<crate::Server>, Box<Response>> {
    console
        .server
        .as_ref()
        .filter(|_| console.actions_possible())
        .ok_or_else(|| {
            Box::new(failed(
                StatusCode::NOT_FOUND,
                "actions are off on this console",
                "/ui/login",
            ))
        })
}

/// Runs `page` (which reads and writes the registry) off the async runtime.
async fn off_runtime(
    console: Arc<Console>,
    page: impl FnOnce(&Console) -> Response + Send + 'static,
) -> Response {
    tokio::task::spawn_blocking(move || page(&console))
        .await
        .unwrap_or_else(|_| {
            failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed",
                "/ui/deployments",
            )
        })
}

fn confirm_page(console: &Console, model: &str, ask: &Ask, operator: &Operator) -> Response {
    let server = match acting_server(console) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if !safe_segment(model) {
        return failed(
            StatusCode::BAD_REQUEST,
            "that is not a model name",
            "/ui/deployments",
        );
    }
    let action = match ask.parse() {
        Ok(a) => a,
        Err(e) => return failed(StatusCode::BAD_REQUEST, &e, "/ui/deployments"),
    };
    if let Action::Approve(v, _) | Action::Reject(v) = action
        && let Err(e) = awaiting(server, model, v)
    {
        return failed(StatusCode::BAD_REQUEST, &e, "/ui/approvals");
    }
    // The canary shown here; the action is refused if it is another by the time it is sent.
    let expect = server
        .current()
        .canaries
        .get(model)
        .map(|(c, _)| {
            format!(
                "<input type=\"hidden\" name=\"expect\" value=\"{}\">",
                c.version.version
            )
        })
        .unwrap_or_default();
    let lines = match changes(server, model, action) {
        Ok(l) => l,
        Err(e) => return failed(StatusCode::BAD_REQUEST, &e, action.back()),
    };
    let rows: String = lines
        .iter()
        .map(|[what, now, after]| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                esc(what),
                esc(now),
                esc(after)
            )
        })
        .collect();
    let danger = matches!(
        action,
        Action::Promote | Action::Rollback | Action::Reject(_)
    );
    let body = format!(
        "<h1>{verb}: {m}</h1>\
<section class=\"summary amber\" role=\"status\" aria-label=\"summary\"><strong>Check before you confirm.</strong> This changes what {m} serves (or may serve) for every client of this server, and every replica following the registry. It is recorded in the audit trail under your name, <strong>{who}</strong>, with your reason.</section>\
<h2>What will change</h2><table><thead><tr><th scope=\"col\">What</th><th scope=\"col\">Now</th><th scope=\"col\">After</th></tr></thead><tbody>{rows}</tbody></table>\
<form method=\"post\" action=\"/ui/act/{m}\" class=\"stack\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"why\">Reason (required; kept in the audit trail)</label><textarea id=\"why\" name=\"why\" required maxlength=\"500\"></textarea>\
<label class=\"check\"><span><input type=\"checkbox\" name=\"confirmed\" value=\"yes\" required> I have checked what will change</span></label>\
<div><button type=\"submit\"{class}>Confirm: {verb_lower}</button> <a href=\"{back}\">Cancel</a></div></form>",
        verb = esc(action.verb()),
        verb_lower = esc(&action.verb().to_lowercase()),
        m = esc(model),
        who = esc(&operator.name),
        hidden = ask.hidden() + &expect,
        csrf = esc(&operator.csrf),
        class = if danger { " class=\"danger\"" } else { "" },
        back = action.back(),
    );
    html(page(action.verb(), section(action), &body))
}

fn section(action: Action) -> Section {
    match action {
        Action::Approve(..) | Action::Reject(_) => Section::Approvals,
        _ => Section::Deployments,
    }
}

/// The act form: the action's fields, the reason, the confirmation and the CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct Act {
    #[serde(flatten)]
    ask: Ask,
    why: String,
    confirmed: Option<String>,
    csrf: String,
}

/// `POST /ui/act/{model}`: carries the confirmed action out, then back to where it started.
pub(crate) async fn act(
    State(console): State<Arc<Console>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Act>,
) -> Response {
    let operator = match check_form(&console, &headers, &form.csrf) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    off_runtime(console, move |c| carry_out(c, &model, &form, &operator)).await
}

fn carry_out(console: &Console, model: &str, form: &Act, operator: &Operator) -> Response {
    let server = match acting_server(console) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let action = match form.ask.parse() {
        Ok(a) => a,
        Err(e) => return failed(StatusCode::BAD_REQUEST, &e, "/ui/deployments"),
    };
    let why = form.why.trim();
    if why.is_empty() || form.confirmed.as_deref() != Some("yes") {
        return failed(
            StatusCode::BAD_REQUEST,
            "give a reason and tick the confirmation; nothing was changed",
            action.back(),
        );
    }
    if let Err(e) = super::session::plain_text(why, MAX_REASON) {
        return failed(
            StatusCode::BAD_REQUEST,
            &format!("the reason {e}"),
            action.back(),
        );
    }
    // What the operator confirmed must still be true: the canary they saw is the canary.
    if let Action::Weight(_) | Action::Promote | Action::Rollback = action {
        let now = server
            .current()
            .canaries
            .get(model)
            .map(|(c, _)| c.version.version);
        let saw = form
            .ask
            .expect
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok());
        if saw.is_none() || now != saw {
            return failed(
                StatusCode::CONFLICT,
                "the canary changed since the confirmation page was shown; look again and confirm anew",
                action.back(),
            );
        }
    }
    if !safe_segment(model) {
        return failed(
            StatusCode::BAD_REQUEST,
            "that is not a model name",
            "/ui/deployments",
        );
    }
    let who = Who {
        actor: &operator.name,
        why,
    };
    let done = match action {
        Action::Weight(w) => set_canary(server, model, None, Some(u64::from(w)), who),
        Action::Canary(v, w) => {
            set_canary(server, model, Some(u64::from(v)), Some(u64::from(w)), who)
        }
        Action::Promote => promote_canary(server, model, who),
        Action::Rollback => rollback_canary(server, model, who),
        // Approved first: only an approved version may become a canary.
        Action::Approve(v, w) => awaiting(server, model, v)
            .map_err(crate::reply::ApiError::BadRequest)
            .and_then(|()| {
                decide(
                    server,
                    model,
                    v,
                    &format!("approved by {}", operator.name),
                    who,
                )
            })
            .and_then(|()| {
                set_canary(server, model, Some(u64::from(v)), Some(u64::from(w)), who).map_err(
                    |e| {
                        let (_, m) = e.parts();
                        crate::reply::ApiError::Conflict(format!(
                            "{model}/{v} is approved, but the canary did not start: {m}; start it from Deployments"
                        ))
                    },
                )
            }),
        Action::Reject(v) => awaiting(server, model, v)
            .and_then(|()| not_served(server, model, v))
            .map_err(crate::reply::ApiError::BadRequest)
            .and_then(|()| {
                decide(
                    server,
                    model,
                    v,
                    &format!("rejected by {}", operator.name),
                    who,
                )
            })
            .map(|()| serde_json::Value::Null),
    };
    match done {
        Ok(_) => {
            tracing::info!(model, operator = %operator.name, action = action.verb(), "console action");
            console
                .sessions
                .flash(operator, done_message(verb_code(action), model));
            let mut r = Redirect::to(action.back()).into_response();
            *r.status_mut() = StatusCode::SEE_OTHER;
            r
        }
        Err(e) => {
            let (status, message) = e.parts();
            failed(status, &message, action.back())
        }
    }
}

/// Records a person's decision on a re-distilled version (its `redistill` tag, audited).
fn decide(
    server: &crate::Server,
    model: &str,
    version: u32,
    value: &str,
    who: Who<'_>,
) -> Result<(), crate::reply::ApiError> {
    let registry = server
        .registry
        .lock()
        .map_err(|_| crate::reply::ApiError::Internal("the registry lock is poisoned".into()))?;
    let change = Change {
        actor: who.actor,
        why: who.why,
    };
    registry
        .store()
        .set_tag(model, version, "redistill", value, &change)
        .map_err(|e| crate::reply::ApiError::Internal(e.to_string()))
}

fn verb_code(action: Action) -> &'static str {
    match action {
        Action::Weight(_) => "weight",
        Action::Canary(..) => "canary",
        Action::Promote => "promote",
        Action::Rollback => "rollback",
        Action::Approve(..) => "approve",
        Action::Reject(_) => "reject",
    }
}

/// What the operator is told once the action is carried out (shown once, on the next page).
fn done_message(code: &str, model: &str) -> String {
    let what = match code {
        "weight" => "The canary weight was changed",
        "canary" => "The canary was started",
        "promote" => "The canary was promoted to stable",
        "rollback" => "The canary was rolled back",
        "approve" => "The version was approved and deployed as a canary",
        "reject" => "The version was rejected",
        _ => "Done",
    };
    format!("{what} on {model}; it is in the audit trail.")
}

fn failed(status: StatusCode, message: &str, back: &str) -> Response {
    let body = format!(
        "<h1>Not done</h1><p role=\"alert\" class=\"fail\">{}</p><p>Nothing was changed. <a href=\"{back}\">Back</a></p>",
        esc(message)
    );
    let mut r = html(page("Not done", Section::Deployments, &body));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(action: &str, version: Option<&str>, weight: Option<&str>) -> Ask {
        Ask {
            action: action.into(),
            version: version.map(str::to_string),
            weight: weight.map(str::to_string),
            expect: None,
        }
    }

    #[test]
    fn actions_need_their_fields_and_sane_weights() {
        assert_eq!(
            ask("weight", None, Some("25")).parse(),
            Ok(Action::Weight(25))
        );
        assert!(ask("weight", None, Some("101")).parse().is_err());
        assert!(ask("weight", None, Some("-1")).parse().is_err());
        assert_eq!(
            ask("approve", Some("4"), Some("10")).parse(),
            Ok(Action::Approve(4, 10))
        );
        assert!(ask("approve", None, Some("10")).parse().is_err());
        assert!(ask("drop table", None, None).parse().is_err());
        assert!(
            ask("x", Some("\"><script>"), None)
                .hidden()
                .contains("&quot;&gt;&lt;script&gt;")
        );
    }
}
