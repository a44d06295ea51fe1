//! The Open Inference Protocol (KServe v2) REST routes, exactly as
//! `kserve/docs/predict-api/v2/required_api.md` lays them out.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use distillery_runtime::FeatureEncoder;
use serde_json::{Value, json};

use crate::predict::run;
use crate::reply::{ApiError, error};
use crate::{CanaryObservation, Models, Served};
use distillery_monitor::PredictionRecord as Record;

/// Largest request body accepted (16 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 << 20;

use crate::app::Shared;

/// The Open Inference Protocol's routes: health, server and model metadata, readiness and
/// inference.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/health/live", get(|| async { StatusCode::OK }))
        .route("/v2/health/ready", get(|| async { StatusCode::OK }))
        .route("/v2", get(server_metadata))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer_at))
}

/// Answers 413 at once when the declared `Content-Length` is over the limit, instead of
/// reading (and the client sending) the body first.
pub(crate) async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > MAX_BODY_BYTES as u64 => too_large(),
        _ => next.run(request).await,
    }
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than {MAX_BODY_BYTES} bytes; send smaller batches"),
    )
}

fn find<'m>(
    models: &'m Models,
    name: &str,
    version: Option<&str>,
) -> Result<&'m Arc<Served>, ApiError> {
    let served = models.by_name.get(name).ok_or_else(|| {
        let known: Vec<&String> = models.by_name.keys().collect();
        ApiError::NotFound(format!(
            "model '{name}' is not served; served models: {known:?}"
        ))
    })?;
    let canary = models.canaries.get(name).map(|c| &c.0);
    match version {
        Some(v) if canary.is_some_and(|c| v == c.version.version.to_string()) => {
            Ok(canary.unwrap_or(served))
        }
        Some(v) if v != served.version.version.to_string() => Err(ApiError::NotFound(format!(
            "model '{name}' version {v} is not served; version {} is",
            served.version.version
        ))),
        _ => Ok(served),
    }
}

async fn server_metadata() -> impl IntoResponse {
    axum::Json(
        json!({ "name": "distillery", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }),
    )
}

/// Stable or canary for one request: requests with an `id` hash it into 100 buckets (so
/// the same id always lands on the same version), others are spread by a counter.
fn pick<'m>(m: &'m Models, stable: &'m Arc<Served>, id: Option<&Value>) -> &'m Arc<Served> {
    let Some((canary, weight)) = m.canaries.get(&stable.version.name) else {
        return stable;
    };
    let bucket = match id {
        Some(id) => {
            let key = id_text(id);
            let h = blake3::hash(key.as_bytes());
            u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8])) % 100
        }
        None => m.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 37 % 100,
    };
    if bucket < u64::from(*weight) {
        canary
    } else {
        stable
    }
}

fn metadata(served: &Served) -> Value {
    let inputs: Vec<Value> = served
        .student
        .encoder()
        .features
        .iter()
        .map(|f| {
            let datatype = match f {
                FeatureEncoder::Numeric { .. } => "FP32",
                FeatureEncoder::Categorical { .. } | FeatureEncoder::Text { .. } => "BYTES",
            };
            json!({ "name": f.name(), "datatype": datatype, "shape": [-1, 1] })
        })
        .collect();
    let k = served.student.classes().len();
    json!({
        "name": served.version.name,
        "versions": [served.version.version.to_string()],
        "platform": "distillery_safetensors",
        "inputs": inputs,
        "outputs": [
            { "name": "probabilities", "datatype": "FP32", "shape": [-1, k] },
            { "name": "label", "datatype": "BYTES", "shape": [-1] },
        ],
        "parameters": { "classes": served.student.classes() },
    })
}

/// The served version a request's path names (`{name}`, and `{version}` when given):
/// handlers that take this run only for a served model; anything else is a 404 naming
/// the served models.
pub(crate) struct ServedModel(pub(crate) Arc<Served>);

impl axum::extract::FromRequestParts<Shared> for ServedModel {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        server: &Shared,
    ) -> Result<ServedModel, ApiError> {
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, server)
                .await
                .map_err(|e| ApiError::NotFound(e.body_text()))?;
        let name = params.get("name").map(String::as_str).unwrap_or_default();
        let m = server.current();
        find(&m, name, params.get("version").map(String::as_str))
            .map(|s| ServedModel(Arc::clone(s)))
    }
}

async fn model_metadata(ServedModel(served): ServedModel) -> Response {
    axum::Json(metadata(&served)).into_response()
}

async fn model_ready(_: ServedModel) -> StatusCode {
    StatusCode::OK
}

async fn infer(
    State(server): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let m = server.current();
    infer_version(&server, &m, &name, None, &headers, body).await
}

async fn infer_at(
    State(server): State<Shared>,
    Path((name, v)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let m = server.current();
    infer_version(&server, &m, &name, Some(&v), &headers, body).await
}

async fn infer_version(
    server: &crate::Server,
    m: &Models,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let start = std::time::Instant::now();
    let _in_flight = server.batcher.as_ref().map(InFlight::enter);
    let split = crate::binary::header_length(headers);
    let a = answer(server, m, name, version, body, split).await;
    if let (Some(o), Some(version)) = (a.canary, a.version) {
        if !o.error {
            m.metrics
                .record_canary(name, version, o.rows, o.disagreements);
        }
        server.observe_canary(name, o);
    }
    if let (Some(watch), Some(off)) = (&server.sweep, &a.off_profile) {
        let client = crate::limits::client_of(headers);
        if let Some(share) = watch.observe(&client, off) {
            tracing::warn!(
                client = %client,
                model = %name,
                off_profile_share = share,
                "possible extraction sweep: most of this client's recent rows lie far from the training data"
            );
        }
    }
    let label = if m.by_name.contains_key(name) {
        name
    } else {
        "(unknown)"
    };
    let status = a.response.status().as_u16();
    if let (Some(id), Some(version), Some(labels)) = (&a.id, a.version, a.labels) {
        server.answers.remember(id, name, version, labels);
    }
    let mut observed = a.observed;
    if let (Some(log), Some(mut record)) = (&m.log, a.record) {
        record.status = status;
        record.latency_us = start.elapsed().as_secs_f64() * 1e6;
        record.model = label.to_string();
        record.ts = crate::log::timestamp();
        let line = match (log.pii(), m.by_name.get(name), &record.inputs) {
            (Some(policy), Some(served), Some(inputs)) if policy.may_apply(&served.flagged_pii) => {
                // Scrub a copy: the live monitor still sees the values as sent (in memory).
                let encoder = served.student.encoder();
                let features = encoder.names();
                let text: Vec<&str> = encoder
                    .features
                    .iter()
                    .filter_map(|f| match f {
                        distillery_runtime::FeatureEncoder::Text { name, .. } => {
                            Some(name.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let mut scrubbed = inputs.clone();
                policy.scrub(&mut scrubbed, &features, &text, &served.flagged_pii);
                let sent = record.inputs.replace(scrubbed);
                let line = serde_json::to_string(&record);
                record.inputs = sent;
                line
            }
            _ => serde_json::to_string(&record),
        };
        if let Ok(line) = line {
            log.record(line);
        }
        if a.watched {
            observed = Some(Record {
                rows: Some(a.rows),
                inputs: record.inputs.take(),
                outputs: record.outputs.take(),
                ..Record::default()
            });
        }
    }
    if let (Some(monitors), Some(observed), Some(version)) = (&server.monitors, observed, a.version)
    {
        monitors.observe(name, version, observed);
    }
    m.metrics
        .record(label, a.version, status, a.rows, start.elapsed());
    a.response
}

/// What answering one inference request produced.
struct Answered {
    response: Response,
    /// Rows predicted.
    rows: usize,
    /// The version that answered (or refused), once the model was found.
    version: Option<u32>,
    /// The request's id, when it had one.
    id: Option<String>,
    /// The labels answered, for feedback to be matched against.
    labels: Option<Vec<String>>,
    /// The prediction log's record (inputs and outputs, or the error), when logging.
    record: Option<Record>,
    /// What the canary showed, when the canary answered.
    canary: Option<CanaryObservation>,
    /// The request's inputs and the answer's outputs, for live monitoring.
    observed: Option<Record>,
    /// True when the monitor samples this request.
    watched: bool,
    /// Per row, whether it is off the training profile (with `[extraction]`).
    off_profile: Option<Vec<bool>>,
}

impl Answered {
    fn refused(response: Response, version: Option<u32>, record: Option<Record>) -> Answered {
        Answered {
            response,
            rows: 0,
            version,
            id: None,
            labels: None,
            record,
            canary: None,
            observed: None,
            watched: false,
            off_profile: None,
        }
    }
}

/// The `label` output of an answer.
pub(crate) fn labels_of(answer: &Value) -> Vec<String> {
    answer["outputs"]
        .as_array()
        .and_then(|outs| outs.iter().find(|o| o["name"] == "label"))
        .and_then(|o| o["data"].as_array())
        .map(|d| {
            d.iter()
                .filter_map(|l| l.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// An id as the string it is matched by (a number id is its JSON text).
fn id_text(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

/// Counts a request as in flight for the batcher while it lives.
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn enter(b: &crate::batch::Batcher) -> InFlight {
        b.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(Arc::clone(&b.in_flight))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Predicts one request: through the batcher when micro-batching is on, else row by row.
async fn predict(
    batcher: Option<&crate::batch::Batcher>,
    served: &Arc<Served>,
    request: &Value,
) -> Result<Value, String> {
    let Some(batcher) = batcher else {
        return run(served, request);
    };
    let (x, n) = {
        let rows = crate::predict::decode(&served.student, request)?;
        (crate::predict::encode(&served.student, &rows)?, rows.n)
    };
    let probabilities = batcher
        .predict(Arc::clone(served), x, n)
        .await
        .ok_or("the batcher has stopped")?;
    crate::predict::answer_with(served, request, &probabilities, n)
}

/// Answers one inference request.
async fn answer(
    server: &crate::Server,
    m: &Models,
    name: &str,
    version: Option<&str>,
    body: Result<Bytes, BytesRejection>,
    split: Result<Option<usize>, String>,
) -> Answered {
    let served = match find(m, name, version) {
        Ok(s) => s,
        Err(e) => return Answered::refused(e.into_response(), None, None),
    };
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Answered::refused(too_large(), None, None);
        }
        Err(r) => return Answered::refused(error(r.status(), r.body_text()), None, None),
    };
    let request = split.and_then(|split| crate::binary::parse_body(&body, split));
    let mut request = match request {
        Ok(v) => v,
        Err(message) => {
            let record = m.log.is_some().then(|| Record {
                version: served.version.version,
                error: Some(message.clone()),
                ..Record::default()
            });
            return Answered::refused(
                error(StatusCode::BAD_REQUEST, message),
                Some(served.version.version),
                record,
            );
        }
    };
    let chosen = if version.is_none() {
        pick(m, served, request.get("id"))
    } else {
        served
    };
    let logging = m.log.is_some();
    let stable = served;
    let served = chosen;
    let on_canary = m
        .canaries
        .get(name)
        .is_some_and(|(c, _)| Arc::ptr_eq(c, served));
    let id = request.get("id").map(id_text);
    let ran = std::time::Instant::now();
    let result = predict(server.batcher.as_ref(), served, &request).await;
    let millis = ran.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut v) => {
            let rows = v["outputs"][0]["shape"][0].as_u64().unwrap_or(0) as usize;
            let shadow = shadow(m, name, &request, &v, rows);
            let labels = labels_of(&v);
            // The stable version answers canary requests too (after the canary's time is
            // taken), so the console and a guardrail see how often they disagree; students
            // answer in microseconds and canaries take a small share of traffic.
            let canary = on_canary.then(|| {
                let disagreements = match run(stable, &request) {
                    Ok(s) => labels_of(&s)
                        .iter()
                        .zip(&labels)
                        .filter(|(x, y)| x != y)
                        .count(),
                    _ => 0,
                };
                CanaryObservation {
                    error: false,
                    rows,
                    disagreements,
                    millis,
                }
            });
            let off_profile = server.sweep.as_ref().and_then(|watch| {
                crate::predict::decode(&served.student, &request)
                    .ok()
                    .map(|rows| crate::predict::off_profile(&served.student, &rows, watch.z()))
            });
            let response = crate::binary::respond(&request, &v);
            let watched = server
                .monitors
                .as_ref()
                .is_some_and(crate::Monitors::wants_next);
            // Without a log the monitor takes the tensors now; with one it takes them once
            // the log line is written (see `infer_version`), so nothing is copied.
            let observed = (watched && !logging).then(|| Record {
                rows: Some(rows),
                inputs: Some(request["inputs"].take()),
                outputs: Some(v["outputs"].take()),
                ..Record::default()
            });
            // The request and answer are done with: the record takes their tensors.
            let record = logging.then(|| Record {
                version: served.version.version,
                id: request.get("id").cloned(),
                rows: Some(rows),
                inputs: Some(request["inputs"].take()),
                outputs: Some(v["outputs"].take()),
                shadow: (!shadow.is_null()).then_some(shadow),
                ..Record::default()
            });
            Answered {
                response,
                rows,
                version: Some(served.version.version),
                id,
                labels: Some(labels),
                record,
                canary,
                observed,
                watched,
                off_profile,
            }
        }
        Err(message) => {
            let record = logging.then(|| Record {
                version: served.version.version,
                id: request.get("id").cloned(),
                error: Some(message.clone()),
                ..Record::default()
            });
            // A request the stable version refuses too is the client's mistake, which says
            // nothing about the canary; one only the canary refuses counts against it.
            let canary =
                (on_canary && run(stable, &request).is_ok()).then_some(CanaryObservation {
                    error: true,
                    rows: 0,
                    disagreements: 0,
                    millis,
                });
            Answered {
                canary,
                ..Answered::refused(
                    error(StatusCode::BAD_REQUEST, message),
                    Some(served.version.version),
                    record,
                )
            }
        }
    }
}

/// Runs the model's shadow (when one is set and this request is in its fraction) on the
/// same request; counts the rows whose label differs from the answer given. Returns what
/// the prediction log keeps of it.
fn shadow(m: &Models, name: &str, request: &Value, answer: &Value, rows: usize) -> Value {
    let Some((shadow, fraction)) = m.shadows.get(name) else {
        return Value::Null;
    };
    let n = m.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if (n * 61 % 1000) as f64 >= fraction * 1000.0 {
        return Value::Null;
    }
    let Ok(theirs) = run(shadow, request) else {
        return json!({ "version": shadow.version.version, "error": "the shadow rejected the request" });
    };
    let (ours, shadow_labels) = (labels_of(answer), labels_of(&theirs));
    let disagreements = ours
        .iter()
        .zip(&shadow_labels)
        .filter(|(a, b)| a != b)
        .count();
    m.metrics.record_shadow(name, rows, disagreements);
    json!({
        "version": shadow.version.version,
        "labels": shadow_labels,
        "disagreements": disagreements,
    })
}
