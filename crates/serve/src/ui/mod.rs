//! The operator console (`distillery ui`): server-rendered pages over the run folder and
//! the registry — runs with their reports, two runs side by side, models with their
//! versions, aliases, audit trail, signatures and lineage; on a running server also its
//! deployments, their health, and the re-distilled versions waiting for a person's approval,
//! with actions behind a login. Every page is one HTML document with its styles inline,
//! nothing fetched from elsewhere, and usable without JavaScript.

mod actions;
mod approvals;
mod compare;
mod deployments;
mod health;
mod lineage;
mod models;
mod page;
mod run_pages;
mod runs;
mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub(crate) use runs::RunIndex;

/// What the console reads: the run folder and the registry.
pub struct Console {
    pub(crate) runs: RunIndex,
    /// `--registry` as given (a folder or `postgres://…`); opened per page.
    registry: PathBuf,
    /// The running server, when the console is served beside it (`serve --runs`): its
    /// routing, live figures and monitors, and the actions that change them.
    pub(crate) server: Option<Arc<crate::Server>>,
    /// Logged-in operators.
    pub(crate) sessions: session::Sessions,
    /// Host names (besides IP addresses and `localhost`) the console answers to.
    hosts: Vec<String>,
}

impl Console {
    /// A console over `runs` (the `runs/` folder) and the registry at `registry`.
    pub fn new(runs: &Path, registry: &Path) -> Console {
        Console {
            runs: RunIndex::new(runs),
            registry: registry.to_path_buf(),
            server: None,
            sessions: session::Sessions::default(),
            hosts: Vec::new(),
        }
    }

    /// Names the console may be reached by besides IP addresses and `localhost` (say, the
    /// name behind a load balancer). Any other `Host` is refused, so a page on another
    /// site cannot reach the console by rebinding its own name to this address.
    #[must_use]
    pub fn with_hosts(mut self, hosts: Vec<String>) -> Console {
        self.hosts = hosts
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        self
    }

    /// Whether a request's `Host` header names this console.
    fn known_host(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => {
                return v6
                    .split(']')
                    .next()
                    .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
            }
            None => host.rsplit_once(':').map_or(host, |(n, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    n
                } else {
                    host
                }
            }),
        };
        let name = name.to_ascii_lowercase();
        name == "localhost"
            || name.parse::<std::net::Ipv4Addr>().is_ok()
            || self.hosts.contains(&name)
    }

    /// The console of a running server: adds its deployments, health and actions.
    #[must_use]
    pub fn with_server(mut self, server: Arc<crate::Server>) -> Console {
        self.server = Some(server);
        self
    }

    /// Whether actions can be taken here: a server with its admin API on.
    pub(crate) fn actions_possible(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.admin_enabled())
    }

    /// The registry, when there is one to read (a folder never registered into has none).
    pub(crate) fn registry(&self) -> Option<distillery_registry::Registry> {
        let text = self.registry.to_string_lossy();
        let exists =
            distillery_registry::is_postgres(&text) || self.registry.join("registry.db").exists();
        if !exists {
            return None;
        }
        match distillery_registry::Registry::open(&self.registry) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "the console cannot open the registry");
                None
            }
        }
    }
}

/// The console on a server of its own (`distillery ui`): its pages, and `/` leading to them.
pub fn router(console: Arc<Console>) -> Router {
    pages(console).route("/", get(|| async { Redirect::to("/ui/runs") }))
}

/// The console's pages, all under `/ui`, to mount beside other routes (`distillery serve
/// --runs`).
pub fn pages(console: Arc<Console>) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/runs", get(run_pages::list))
        .route("/ui/runs/{id}", get(run_pages::one))
        .route("/ui/runs/{id}/report.html", get(run_pages::report))
        .route("/ui/compare", get(compare::show))
        .route("/ui/models", get(models::list))
        .route("/ui/models/{name}", get(models::one))
        .route("/ui/deployments", get(deployments::show))
        .route("/ui/health", get(health::show))
        .route("/ui/health/{model}/{version}/{window}", get(health::window))
        .route("/ui/approvals", get(approvals::show))
        .route("/ui/confirm/{model}", get(actions::confirm))
        .route("/ui/act/{model}", post(actions::act))
        .route("/ui/login", get(session::form).post(session::login))
        .route("/ui/logout", post(session::logout))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&console),
            guard,
        ))
        .with_state(console)
}

/// Every console answer: refused unless its `Host` is this console's (DNS rebinding), and
/// never cached, sniffed or framed elsewhere, whatever produced it (a page, or axum's own
/// rejection of a malformed path or form).
async fn guard(
    axum::extract::State(console): axum::extract::State<Arc<Console>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut r = if console.known_host(host) {
        next.run(request).await
    } else {
        tracing::warn!(host, "console request for an unknown host refused");
        (
            StatusCode::MISDIRECTED_REQUEST,
            "this console answers to IP addresses, localhost and the names in DISTILLERY_CONSOLE_HOSTS",
        )
            .into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'"),
        );
    }
    r
}

/// A page, with headers that keep it from being framed elsewhere or sniffed.
pub(crate) fn html(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// A page that says what was not found and where to go instead.
pub(crate) fn not_found(what: &str, back: &str, section: page::Section) -> Response {
    let body = page::page(
        "Not found",
        section,
        &format!(
            "<h1>Not found</h1><p>{}</p><p><a href=\"{back}\">Back</a></p>",
            page::esc(what)
        ),
    );
    let mut r = html(body);
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// A path segment a URL may name: a run id or model name, never a path.
pub(crate) fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_localhost_and_named_hosts_reach_the_console() {
        let c = Console::new(Path::new("runs"), Path::new(".distillery"))
            .with_hosts(vec!["Console.Example".into()]);
        for ok in [
            "127.0.0.1:8080",
            "10.0.0.7",
            "localhost:8090",
            "[::1]:8080",
            "console.example",
            "console.example:443",
        ] {
            assert!(c.known_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "evil.example",
            "",
            "127.0.0.1.evil.example",
            "[evil]",
        ] {
            assert!(!c.known_host(bad), "{bad}");
        }
    }
}
