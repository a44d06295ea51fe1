//! The server in-process: `app()` driven with tower's `oneshot`, no socket, no binary. The
//! real-socket tests (SIGTERM drain, slow clients, the Triton client) stay end to end.

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
    server_with(dir, None, None)
}

/// [`server`], with `canary` taking all of `m`'s traffic and `guard` watching it.
fn server_with(
    dir: &std::path::Path,
    canary: Option<Arc<crate::Served>>,
    guard: Option<crate::guard::Guardrails>,
) -> Arc<crate::Server> {
    let mut models = empty_models();
    models.by_name.insert("m".into(), served("x", 1));
    if let Some(canary) = canary {
        models.canaries.insert("m".into(), (canary, 100));
    }
    Arc::new(crate::Server::new(
        models,
        Registry::open(dir).expect("registry"),
        Some("tok".into()),
        "test".into(),
        guard,
    ))
}

/// Version `version` of `m`: a tiny student reading one number named `input`.
fn served(input: &str, version: u32) -> Arc<crate::Served> {
    let encoder = Encoder::new(vec![FeatureEncoder::Numeric {
        name: input.into(),
        mean: 0.0,
        scale: 1.0,
        missing_indicator: false,
        levels: Vec::new(),
        bins: Vec::new(),
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
        version,
        run_id: "r".into(),
        artifacts: Vec::new(),
        gates_passed: true,
        created: String::new(),
        actor: String::new(),
    };
    Arc::new(crate::Served {
        version,
        student,
        flagged_pii: Vec::new(),
    })
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
    call_as(app, None, method, uri, body).await
}

/// A request with `Authorization: Bearer <token>` when a token is given.
async fn call_as(
    app: Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_string())).expect("request");
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
    let (status, text) = call(app.clone(), "POST", "/admin/models/m/rollback", "not json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let (status, text) = call(app.clone(), "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("distillery_feedback_rows_total"), "{text}");
    let (status, _) = call(app, "GET", "/monitor", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "monitoring is off");
}

/// One inference request for `m` with the given input tensor.
fn infer_body(tensor: &str) -> String {
    format!(r#"{{"inputs": [{tensor}]}}"#)
}

#[tokio::test]
async fn every_bad_input_gets_a_400_naming_the_problem_and_serving_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(server(dir.path()));
    let cases = [
        (
            r#"{"name": "x", "datatype": "FP32", "shape": [], "data": [1.0]}"#,
            "shape",
        ),
        (
            r#"{"name": "x", "datatype": "FP32", "shape": [4294967296, 4294967296], "data": [1.0]}"#,
            "shape",
        ),
        (
            r#"{"name": "x", "datatype": "FP64", "shape": [1], "data": [1e300]}"#,
            "x",
        ),
        (
            r#"{"name": "x", "datatype": "INT8", "shape": [1], "data": [300]}"#,
            "INT8",
        ),
        (
            r#"{"name": "x", "datatype": "FP32", "shape": [2], "data": [1.0]}"#,
            "x",
        ),
        (
            r#"{"name": "y", "datatype": "FP32", "shape": [1], "data": [1.0]}"#,
            "x",
        ),
        (
            r#"{"name": "x", "datatype": "COMPLEX", "shape": [1], "data": [1.0]}"#,
            "COMPLEX",
        ),
    ];
    for (tensor, named) in cases {
        let (status, text) = call(
            app.clone(),
            "POST",
            "/v2/models/m/infer",
            &infer_body(tensor),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{tensor}: {text}");
        assert!(
            text.contains(named),
            "{tensor}: the error names {named}: {text}"
        );
    }
    let twice = r#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]},
                               {"name": "x", "datatype": "FP32", "shape": [1], "data": [2.0]}]}"#;
    let (status, text) = call(app.clone(), "POST", "/v2/models/m/infer", twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a duplicate input: {text}");
    let (status, text) = call(app.clone(), "POST", "/v2/models/m/infer", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let good = infer_body(r#"{"name": "x", "datatype": "FP32", "shape": [1], "data": [-3.0]}"#);
    let (status, text) = call(app, "POST", "/v2/models/m/infer", &good).await;
    assert_eq!(status, StatusCode::OK, "serving goes on: {text}");
    assert!(text.contains("\"low\""), "{text}");
}

#[tokio::test]
async fn metadata_describes_the_server_and_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(server(dir.path()));
    let (status, text) = call(app.clone(), "GET", "/v2", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("\"distillery\"") && text.contains("binary_tensor_data"),
        "{text}"
    );
    let (status, text) = call(app.clone(), "GET", "/v2/models/m", "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"x\"") && text.contains("probabilities"),
        "{text}"
    );
    let (status, _) = call(app.clone(), "GET", "/v2/models/m/ready", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(app.clone(), "GET", "/v2/models/nope/ready", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The served-model extractor reads the version from the path too.
    let (status, text) = call(app.clone(), "GET", "/v2/models/m/versions/1", "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = call(app.clone(), "GET", "/v2/models/m/versions/9/ready", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("version 9 is not served"), "{text}");
    let (status, text) = call(app, "GET", "/v2/models/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        text.contains("'nope' is not served; served models"),
        "{text}"
    );
}

#[tokio::test]
async fn the_admin_api_takes_only_its_token_and_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(server(dir.path()));
    let uri = "/admin/models/m/rollback";
    let (status, _) = call_as(app.clone(), Some("wrong"), "POST", uri, "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, text) = call_as(app.clone(), Some("tok"), "POST", uri, "{}").await;
    assert_ne!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(
        status.is_client_error() && text.contains("canary"),
        "no canary to roll back: {text}"
    );
    let (status, text) =
        call_as(app, Some("tok"), "POST", "/admin/models/nope/promote", "{}").await;
    assert!(status.is_client_error(), "{text}");
}

#[tokio::test]
async fn an_admin_token_given_as_its_hash_admits_the_token_not_the_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash: String = crate::token_hash("tok")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = format!("blake3:{hash}");
    let base = server(dir.path());
    let models = base.current().as_ref().clone();
    let hashed = Arc::new(crate::Server::new(
        models,
        Registry::open(dir.path()).expect("registry"),
        Some(stored.clone()),
        "test".into(),
        None,
    ));
    let app = app(hashed);
    let uri = "/admin/models/m/rollback";
    let (status, text) = call_as(app.clone(), Some("tok"), "POST", uri, "{}").await;
    assert_ne!(status, StatusCode::UNAUTHORIZED, "{text}");
    let (status, _) = call_as(app, Some(&stored), "POST", uri, "{}").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the hash is not a password"
    );
}

/// A server whose `m` has version 1 stable and `canary` taking all traffic, with a guardrail
/// that rolls back on any canary error.
fn guarded(dir: &std::path::Path, canary: Arc<crate::Served>) -> Arc<crate::Server> {
    let guard = crate::guard::Guardrails {
        window: 10,
        min_requests: 1,
        max_error_rate: Some(0.0),
        max_p99_ms: None,
        max_disagreement: None,
    };
    server_with(dir, Some(canary), Some(guard))
}

#[tokio::test]
async fn a_clients_bad_request_is_not_held_against_the_canary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = guarded(dir.path(), served("x", 2));
    let router = app(Arc::clone(&server));
    // Refused by the stable version too: the client's mistake, not the canary's.
    let bad = infer_body(r#"{"name": "x", "datatype": "FP32", "shape": [2], "data": [1.0]}"#);
    for _ in 0..5 {
        let (status, _) = call(router.clone(), "POST", "/v2/models/m/infer", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert!(
        server.current().canaries.contains_key("m"),
        "still a canary"
    );

    // A canary that refuses what the stable version answers is at fault: rolled back.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = guarded(dir.path(), served("renamed", 2));
    let router = app(Arc::clone(&server));
    let good = infer_body(r#"{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}"#);
    let (status, _) = call(router.clone(), "POST", "/v2/models/m/infer", &good).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the canary cannot read x");
    assert!(!server.current().canaries.contains_key("m"), "rolled back");
    let (status, text) = call(router, "POST", "/v2/models/m/infer", &good).await;
    assert_eq!(status, StatusCode::OK, "the stable version answers: {text}");
}
