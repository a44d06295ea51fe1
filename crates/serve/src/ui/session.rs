//! Logging in to the console's actions. The admin token, typed once into a form, opens a
//! session: a random id in an `HttpOnly`, `SameSite=Strict` cookie (scripts cannot read it,
//! other sites cannot send it), kept for eight hours. Every form that changes something
//! carries the session's CSRF token, and a request from another origin is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;

use super::page::{Section, esc, page};
use super::{Console, html};

/// The session cookie's name.
const COOKIE: &str = "distillery_console";
/// How long a session lasts without logging in again.
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once (the oldest go first).
const MAX_SESSIONS: usize = 1000;

/// Wrong admin tokens the login form accepts per [`FAILURE_SPAN`], from everyone together;
/// past that every login is refused until the span has passed, so a token cannot be
/// guessed at speed (the inference and admin APIs are unaffected).
const MAX_FAILURES: usize = 10;
/// The span [`MAX_FAILURES`] counts over.
const FAILURE_SPAN: Duration = Duration::from_secs(60);

/// A person logged in to the console.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    /// The name they gave: the audit trail's "who".
    pub(crate) name: String,
    /// The token every form of theirs must carry.
    pub(crate) csrf: String,
    expires: Instant,
    /// What the next page tells them (the outcome of their last action), shown once.
    flash: Option<String>,
}

/// Open sessions, by the BLAKE3 hash of their id (the id itself is only in the cookie).
#[derive(Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<[u8; 32], Operator>>,
    failures: Mutex<std::collections::VecDeque<Instant>>,
}

/// Whether `text` is fit for the audit trail: at most `max` characters, no control or
/// bidirectional-override characters (which could make an entry read as something else).
/// Says what is wrong otherwise.
pub(crate) fn plain_text(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    let tricky = |c: char| {
        c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    };
    if text.chars().any(tricky) {
        return Err("holds control or text-direction characters".into());
    }
    Ok(())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Opens a session for `name`; returns its id.
    fn open(&self, name: &str) -> String {
        let id = random_hex();
        let operator = Operator {
            name: name.to_string(),
            csrf: random_hex(),
            expires: Instant::now() + LIFETIME,
            flash: None,
        };
        if let Ok(mut open) = self.open.lock() {
            let now = Instant::now();
            open.retain(|_, o| o.expires > now);
            if open.len() >= MAX_SESSIONS
                && let Some(oldest) = open.iter().min_by_key(|(_, o)| o.expires).map(|(k, _)| *k)
            {
                open.remove(&oldest);
            }
            open.insert(*blake3::hash(id.as_bytes()).as_bytes(), operator);
        }
        id
    }

    /// The operator whose cookie came with `headers`, when the session is open.
    pub(crate) fn operator(&self, headers: &HeaderMap) -> Option<Operator> {
        let id = cookie(headers)?;
        let open = self.open.lock().ok()?;
        open.get(blake3::hash(id.as_bytes()).as_bytes())
            .filter(|o| o.expires > Instant::now())
            .cloned()
    }

    /// Leaves `message` for `operator`'s next page.
    pub(crate) fn flash(&self, operator: &Operator, message: String) {
        if let Ok(mut open) = self.open.lock()
            && let Some(o) = open.values_mut().find(|o| o.csrf == operator.csrf)
        {
            o.flash = Some(message);
        }
    }

    /// The message left for the operator whose cookie came with `headers`, once.
    pub(crate) fn take_flash(&self, headers: &HeaderMap) -> Option<String> {
        let id = cookie(headers)?;
        let mut open = self.open.lock().ok()?;
        open.get_mut(blake3::hash(id.as_bytes()).as_bytes())?
            .flash
            .take()
    }

    /// Counts a wrong token; false once too many came within [`FAILURE_SPAN`].
    fn may_try(&self) -> bool {
        let Ok(mut f) = self.failures.lock() else {
            return false;
        };
        let now = Instant::now();
        while f
            .front()
            .is_some_and(|t| now.duration_since(*t) > FAILURE_SPAN)
        {
            f.pop_front();
        }
        f.len() < MAX_FAILURES
    }

    fn failed(&self) {
        if let Ok(mut f) = self.failures.lock() {
            f.push_back(Instant::now());
        }
    }

    fn close(&self, headers: &HeaderMap) {
        if let (Some(id), Ok(mut open)) = (cookie(headers), self.open.lock()) {
            open.remove(blake3::hash(id.as_bytes()).as_bytes());
        }
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A request from another site: its `Origin` (or, lacking one, `Referer`) names a host other
/// than the one it was sent to. Browsers send `Origin` on every cross-site form post.
pub(crate) fn cross_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        None => false,
        Some(url) => {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            rest.split('/').next() != Some(host)
        }
    }
}

/// Why a form that changes something was refused, or the operator who sent it.
pub(crate) fn check_form(
    console: &Console,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Operator, Box<Response>> {
    if cross_origin(headers) {
        return Err(Box::new(refusal(
            StatusCode::FORBIDDEN,
            "This form was sent from another site and is refused.",
        )));
    }
    let Some(operator) = console.sessions.operator(headers) else {
        return Err(Box::new(refusal(
            StatusCode::UNAUTHORIZED,
            "You are not logged in (or your session ended). Log in with the admin token, then try again.",
        )));
    };
    if !crate::admin::same(operator.csrf.as_bytes(), csrf.as_bytes()) {
        return Err(Box::new(refusal(
            StatusCode::FORBIDDEN,
            "This form is stale or forged (its CSRF token does not match your session). Reload the page and try again.",
        )));
    }
    Ok(operator)
}

fn refusal(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Refused</h1><p role=\"alert\">{}</p><p><a href=\"/ui/login\">Log in</a> · <a href=\"/ui/deployments\">Deployments</a></p>",
        esc(message)
    );
    let mut r = html(page("Refused", Section::Login, &body));
    *r.status_mut() = status;
    r
}

/// Where to go after logging in: a console page, never another site.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.contains("..")
                && !n.chars().any(char::is_control) =>
        {
            n.into()
        }
        _ => "/ui/deployments".into(),
    }
}

/// `?next=` of the login page.
#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// `GET /ui/login`: the login form, or who is logged in and a way out.
pub(crate) async fn form(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    html(page(
        "Log in",
        Section::Login,
        &login_body(&console, &headers, q.next.as_deref(), None),
    ))
}

fn login_body(
    console: &Console,
    headers: &HeaderMap,
    next: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut body = String::from("<h1>Log in</h1>");
    if !console.actions_possible() {
        body.push_str("<p>Actions (canary weight, promotion, rollback, approvals) are taken on a running server's console: start <code>distillery serve --runs runs</code> with an admin token (<code>--admin-token-file</code> or <code>DISTILLERY_ADMIN_TOKEN</code>) and open its <code>/ui</code>. This console only reads.</p>");
        return body;
    }
    if let Some(op) = console.sessions.operator(headers) {
        body.push_str(&format!(
            "<p>Logged in as <strong>{}</strong>. Your actions are recorded under this name in the audit trail.</p>\
<form method=\"post\" action=\"/ui/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Log out</button></form>",
            esc(&op.name),
            esc(&op.csrf)
        ));
        return body;
    }
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"fail\" role=\"alert\">{}</p>", esc(e)));
    }
    body.push_str(&format!(
        "<p>Changing what is served needs the server's admin token. You stay logged in for eight hours on this browser; the token itself is not kept.</p>\
<form method=\"post\" action=\"/ui/login\" class=\"stack\">\
<input type=\"hidden\" name=\"next\" value=\"{}\">\
<label for=\"name\">Your name (recorded with each action)</label><input id=\"name\" name=\"name\" required maxlength=\"64\" autocomplete=\"username\">\
<label for=\"token\">Admin token</label><input id=\"token\" name=\"token\" type=\"password\" required autocomplete=\"current-password\">\
<button type=\"submit\">Log in</button></form>",
        esc(&next_page(next))
    ));
    body
}

/// The login form's fields.
#[derive(Deserialize)]
pub(crate) struct Login {
    name: String,
    token: String,
    next: Option<String>,
}

/// A name fit for the audit trail: printable, short, not blank.
fn valid_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && plain_text(name, 64).is_ok()).then(|| name.to_string())
}

/// `POST /ui/login`: checks the token, opens a session, goes on to the page asked for.
pub(crate) async fn login(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let again = |status: StatusCode, why: &str| {
        let mut r = html(page(
            "Log in",
            Section::Login,
            &login_body(&console, &HeaderMap::new(), form.next.as_deref(), Some(why)),
        ));
        *r.status_mut() = status;
        r
    };
    if cross_origin(&headers) {
        return again(
            StatusCode::FORBIDDEN,
            "A login from another site is refused.",
        );
    }
    let Some(server) = &console.server else {
        return again(StatusCode::NOT_FOUND, "This console only reads.");
    };
    let Some(name) = valid_name(&form.name) else {
        return again(
            StatusCode::BAD_REQUEST,
            "Give your name (up to 64 characters): it is recorded with each action.",
        );
    };
    if !console.sessions.may_try() {
        tracing::warn!("console login refused: too many wrong tokens in the last minute");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong tokens were tried in the last minute; wait a minute and try again.",
        );
    }
    if !server.is_admin_token(&form.token) {
        console.sessions.failed();
        tracing::warn!(name = %name, "console login refused: wrong admin token");
        return again(
            StatusCode::UNAUTHORIZED,
            "That is not the admin token. Check the token file the server was started with.",
        );
    }
    let id = console.sessions.open(&name);
    tracing::info!(name = %name, "console login");
    let mut r = Redirect::to(&next_page(form.next.as_deref())).into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}",
        LIFETIME.as_secs()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The logout form's field.
#[derive(Deserialize)]
pub(crate) struct Csrf {
    csrf: String,
}

/// `POST /ui/logout`: closes the session.
pub(crate) async fn logout(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    if let Err(r) = check_form(&console, &headers, &form.csrf) {
        return *r;
    }
    console.sessions.close(&headers);
    let mut r = Redirect::to("/ui/login").into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "distillery_console=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0",
        ),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn another_sites_form_is_cross_origin() {
        let same = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(!cross_origin(&same));
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(cross_origin(&other));
        let referer = headers(&[("host", "h:1"), ("referer", "http://h:1/ui/deployments")]);
        assert!(!cross_origin(&referer));
    }

    #[test]
    fn sessions_are_found_by_cookie_and_closed() {
        let s = Sessions::default();
        let id = s.open("ana");
        let h = headers(&[("cookie", &format!("a=b; {COOKIE}={id}"))]);
        assert_eq!(s.operator(&h).map(|o| o.name), Some("ana".into()));
        let wrong = headers(&[("cookie", &format!("{COOKIE}=0{id}"))]);
        assert!(s.operator(&wrong).is_none());
        s.close(&h);
        assert!(s.operator(&h).is_none());
    }

    #[test]
    fn login_goes_on_only_to_console_pages() {
        assert_eq!(next_page(Some("/ui/approvals")), "/ui/approvals");
        assert_eq!(next_page(Some("//evil.example/ui/")), "/ui/deployments");
        assert_eq!(next_page(Some("https://evil.example")), "/ui/deployments");
        assert_eq!(valid_name("  ana "), Some("ana".into()));
        assert_eq!(valid_name("a\nb"), None);
        assert_eq!(valid_name("\u{202e}nimda"), None);
        assert_eq!(next_page(Some("/ui/\r\nSet-Cookie: x")), "/ui/deployments");
        assert_eq!(next_page(Some("/ui/../../admin")), "/ui/deployments");
        assert!(plain_text(&"x".repeat(501), 500).is_err());
        assert!(plain_text("a reason, with punctuation: fine.", 500).is_ok());
    }

    #[test]
    fn wrong_tokens_are_limited_per_minute() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try());
            s.failed();
        }
        assert!(!s.may_try());
    }
}
