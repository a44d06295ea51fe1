//! The whole HTTP application: every concern's routes (the Open Inference Protocol,
//! feedback, the admin API, metrics, the live monitor) over one server state, with the
//! body-size limits in front.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

use crate::oip::MAX_BODY_BYTES;

/// The state every handler gets: the running server (its routing snapshot, registry,
/// counters, log and monitors).
pub(crate) type Shared = Arc<crate::Server>;

/// The server's routes over its state, ready for [`crate::serve`] or an in-process
/// `tower::ServiceExt::oneshot` call.
pub fn app(server: Arc<crate::Server>) -> Router {
    Router::new()
        .merge(crate::oip::routes())
        .merge(crate::feedback::routes())
        .merge(crate::admin::routes())
        .merge(crate::metrics::routes())
        .merge(crate::monitor::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::oip::refuse_oversized))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&server),
            crate::limits::limit,
        ))
        .with_state(server)
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
