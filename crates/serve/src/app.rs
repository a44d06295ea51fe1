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
        .with_state(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use distillery_registry::{ModelVersion, Registry};
    use distillery_runtime::{Dense, Encoder, FeatureEncoder, Provenance, Student};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// A server with one tiny student (`m/1`: one number in, two classes out) and an
    /// admin token, on an empty registry in `dir`.
    fn server(dir: &std::path::Path) -> Arc<crate::Server> {
        let encoder = Encoder::new(vec![FeatureEncoder::Numeric {
            name: "x".into(),
            mean: 0.0,
            scale: 1.0,
            missing_indicator: false,
            levels: Vec::new(),
        }]);
        let layer = Dense {
            inputs: 1,
            outputs: 2,
            weight: vec![-1.0, 1.0].into(),
            bias: vec![0.0, 0.0],
        };
        let student = Student::new(
            encoder,
            vec!["low".into(), "high".into()],
            vec![layer],
            vec![],
            Provenance::new(),
        )
        .expect("student");
        let version = ModelVersion {
            name: "m".into(),
            version: 1,
            run_id: "r".into(),
            artifacts: Vec::new(),
            gates_passed: true,
            created: String::new(),
            actor: String::new(),
        };
        let mut models = empty_models();
        models
            .by_name
            .insert("m".into(), Arc::new(crate::Served { version, student }));
        Arc::new(crate::Server::new(
            models,
            Registry::open(dir).expect("registry"),
            Some("tok".into()),
            "test".into(),
            None,
        ))
    }

    fn empty_models() -> crate::Models {
        crate::Models {
            by_name: std::collections::BTreeMap::new(),
            metrics: Arc::new(crate::Metrics::default()),
            log: None,
            canaries: std::collections::BTreeMap::new(),
            counter: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            shadows: std::collections::BTreeMap::new(),
        }
    }

    async fn call(app: Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn every_concern_answers_in_process_without_a_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app(server(dir.path()));
        let (status, _) = call(app.clone(), "GET", "/v2/health/ready", "").await;
        assert_eq!(status, StatusCode::OK);
        let (status, text) = call(
            app.clone(),
            "POST",
            "/v2/models/m/infer",
            r#"{"id": "q", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [2.0]}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("\"high\""), "{text}");
        let (status, text) = call(app.clone(), "GET", "/v2/models/nope", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
        assert!(text.contains("not served"), "{text}");
        let (status, text) = call(
            app.clone(),
            "POST",
            "/v2/models/m/feedback",
            r#"{"id": "q", "label": "high"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("\"matched\":1"), "{text}");
        // The admin token is checked before the body is read.
        let (status, text) =
            call(app.clone(), "POST", "/admin/models/m/rollback", "not json").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        let (status, text) = call(app.clone(), "GET", "/metrics", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("distillery_feedback_rows_total"), "{text}");
        let (status, _) = call(app, "GET", "/monitor", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "monitoring is off");
    }
}
