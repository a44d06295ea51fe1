//! Prometheus metrics in the text exposition format (`GET /metrics`): inference requests
//! per model and status code, rows predicted, and a latency histogram.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::exposition::{Exposition, Kind};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
];

#[derive(Default)]
struct Shadow {
    requests: u64,
    rows: u64,
    disagreements: u64,
}

#[derive(Default)]
struct PerModel {
    /// (version, status code) → requests; version 0 when none was reached.
    requests: BTreeMap<(u32, u16), u64>,
    /// version → (feedback rows, rows answered right).
    feedback: BTreeMap<u32, (u64, u64)>,
    rows: u64,
    buckets: [u64; BUCKETS.len()],
    seconds: f64,
    count: u64,
    shadow: Shadow,
    guardrail_rollbacks: u64,
    recent: crate::recent::Recent,
}

/// Counters shared by all request handlers.
#[derive(Default)]
pub struct Metrics {
    models: Mutex<BTreeMap<String, PerModel>>,
}

impl Metrics {
    /// Records one inference request and the version that answered it, if any.
    pub fn record(
        &self,
        model: &str,
        version: Option<u32>,
        status: u16,
        rows: usize,
        took: Duration,
    ) {
        let Ok(mut m) = self.models.lock() else {
            return;
        };
        let e = m.entry(model.to_string()).or_default();
        *e.requests
            .entry((version.unwrap_or(0), status))
            .or_default() += 1;
        e.rows += rows as u64;
        let s = took.as_secs_f64();
        for (b, &le) in e.buckets.iter_mut().zip(&BUCKETS) {
            if s <= le {
                *b += 1;
            }
        }
        e.seconds += s;
        e.count += 1;
        e.recent.request(version.unwrap_or(0), took, status);
    }

    /// Records a canary request also answered by the stable version: `rows` compared,
    /// `disagreements` of them labelled differently.
    pub fn record_canary(&self, model: &str, version: u32, rows: usize, disagreements: usize) {
        if let Ok(mut m) = self.models.lock() {
            let e = m.entry(model.to_string()).or_default();
            e.recent.canary(version, rows, disagreements);
        }
    }

    /// Each version of `model`'s traffic over the last minute (the console's figures).
    pub fn recent(&self, model: &str) -> Vec<crate::recent::VersionTraffic> {
        self.models
            .lock()
            .ok()
            .and_then(|m| m.get(model).map(|e| e.recent.traffic()))
            .unwrap_or_default()
    }

    /// Records one request copied to a shadow and how many of its rows the shadow labelled
    /// differently from the version that answered.
    pub fn record_shadow(&self, model: &str, rows: usize, disagreements: usize) {
        let Ok(mut m) = self.models.lock() else {
            return;
        };
        let e = &mut m.entry(model.to_string()).or_default().shadow;
        e.requests += 1;
        e.rows += rows as u64;
        e.disagreements += disagreements as u64;
    }

    /// Records ground truth for `rows` rows that `version` answered, `correct` of them right.
    pub fn record_feedback(&self, model: &str, version: u32, rows: usize, correct: usize) {
        if let Ok(mut m) = self.models.lock() {
            let e = m.entry(model.to_string()).or_default();
            let f = e.feedback.entry(version).or_default();
            f.0 += rows as u64;
            f.1 += correct as u64;
        }
    }

    /// Records a canary that a guardrail took out of traffic.
    pub fn record_guardrail_rollback(&self, model: &str) {
        if let Ok(mut m) = self.models.lock() {
            m.entry(model.to_string()).or_default().guardrail_rollbacks += 1;
        }
    }

    /// Writes the request, feedback, shadow, guardrail and latency families, and the
    /// prediction log's counters when there is one.
    pub(crate) fn render(&self, log: Option<&crate::PredictionLog>, out: &mut Exposition) {
        if let Some(log) = log {
            use std::sync::atomic::Ordering::Relaxed;
            let (queued, written) = (log.queued.load(Relaxed), log.written.load(Relaxed));
            out.single(
                "distillery_prediction_log_records_total",
                Kind::Counter,
                "Records queued for the prediction log.",
                queued,
            );
            out.single(
                "distillery_prediction_log_dropped_total",
                Kind::Counter,
                "Records dropped because the log queue was full.",
                log.dropped.load(Relaxed),
            );
            out.single(
                "distillery_prediction_log_queue_depth",
                Kind::Gauge,
                "Records queued but not yet written.",
                queued.saturating_sub(written),
            );
        }
        let Ok(m) = self.models.lock() else {
            return;
        };
        let name = "distillery_requests_total";
        out.family(
            name,
            Kind::Counter,
            "Inference requests by model, version (empty when none was reached) and HTTP status code.",
        );
        for (model, e) in m.iter() {
            for ((version, code), n) in &e.requests {
                let version = if *version == 0 {
                    String::new()
                } else {
                    version.to_string()
                };
                let code = code.to_string();
                out.sample(
                    name,
                    &[("model", model), ("version", &version), ("code", &code)],
                    n,
                );
            }
        }
        if m.values().any(|e| !e.feedback.is_empty()) {
            let per_version = |out: &mut Exposition, name, help, pick: fn(&(u64, u64)) -> u64| {
                out.family(name, Kind::Counter, help);
                for (model, e) in m.iter() {
                    for (version, f) in &e.feedback {
                        let version = version.to_string();
                        out.sample(name, &[("model", model), ("version", &version)], pick(f));
                    }
                }
            };
            per_version(
                out,
                "distillery_feedback_rows_total",
                "Rows whose true label came back as feedback.",
                |f| f.0,
            );
            per_version(
                out,
                "distillery_feedback_correct_total",
                "Feedback rows the served label got right.",
                |f| f.1,
            );
        }
        let per_model =
            |out: &mut Exposition, name, help, shadowed_only: bool, pick: fn(&PerModel) -> u64| {
                out.family(name, Kind::Counter, help);
                for (model, e) in m.iter() {
                    if !shadowed_only || e.shadow.requests > 0 {
                        out.sample(name, &[("model", model)], pick(e));
                    }
                }
            };
        per_model(
            out,
            "distillery_rows_total",
            "Rows predicted.",
            false,
            |e| e.rows,
        );
        if m.values().any(|e| e.shadow.requests > 0) {
            per_model(
                out,
                "distillery_shadow_requests_total",
                "Requests copied to a shadow version.",
                true,
                |e| e.shadow.requests,
            );
            per_model(
                out,
                "distillery_shadow_disagreements_total",
                "Rows the shadow labelled differently.",
                true,
                |e| e.shadow.disagreements,
            );
            per_model(
                out,
                "distillery_shadow_rows_total",
                "Rows the shadow predicted.",
                true,
                |e| e.shadow.rows,
            );
        }
        per_model(
            out,
            "distillery_guardrail_rollbacks_total",
            "Canaries taken out of traffic by a guardrail.",
            false,
            |e| e.guardrail_rollbacks,
        );
        out.family(
            "distillery_request_seconds",
            Kind::Histogram,
            "Inference request latency in seconds.",
        );
        for (model, e) in m.iter() {
            let bucket = "distillery_request_seconds_bucket";
            for (le, n) in BUCKETS.iter().zip(&e.buckets) {
                out.sample(bucket, &[("model", model), ("le", &le.to_string())], n);
            }
            out.sample(bucket, &[("model", model), ("le", "+Inf")], e.count);
            out.sample(
                "distillery_request_seconds_sum",
                &[("model", model)],
                e.seconds,
            );
            out.sample(
                "distillery_request_seconds_count",
                &[("model", model)],
                e.count,
            );
        }
    }
}

/// `GET /metrics`: the Prometheus exposition of every counter, the canary weights, the
/// monitor's signals and the batcher's counts.
pub(crate) fn routes() -> axum::Router<crate::app::Shared> {
    axum::Router::new().route("/metrics", axum::routing::get(metrics))
}

async fn metrics(
    axum::extract::State(server): axum::extract::State<crate::app::Shared>,
) -> impl axum::response::IntoResponse {
    let m = server.current();
    let mut out = Exposition::default();
    m.metrics.render(m.log.as_deref(), &mut out);
    let weight = "distillery_canary_weight";
    out.family(
        weight,
        Kind::Gauge,
        "Share of traffic (0-100) routed to each model's canary.",
    );
    for (name, (canary, w)) in &m.canaries {
        let version = canary.version.version.to_string();
        out.sample(weight, &[("model", name), ("version", &version)], w);
    }
    if let Some(monitors) = &server.monitors {
        monitors.render(&mut out);
    }
    if let Some(l) = &server.limiter {
        use std::sync::atomic::Ordering::Relaxed;
        let name = "distillery_requests_limited_total";
        out.family(
            name,
            Kind::Counter,
            "Inference requests refused with 429 by [limits], by reason (rate, quota).",
        );
        out.sample(name, &[("reason", "rate")], l.limited_rate.load(Relaxed));
        out.sample(name, &[("reason", "quota")], l.limited_quota.load(Relaxed));
    }
    out.single(
        "distillery_connections_refused_total",
        Kind::Counter,
        "Connections closed at accept because [connections] max were open.",
        server
            .connections_refused
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Some(watch) = &server.sweep {
        out.single(
            "distillery_extraction_suspects_total",
            Kind::Counter,
            "Clients flagged by [extraction]: most of their recent rows lie far from the training data.",
            watch.suspects.load(std::sync::atomic::Ordering::Relaxed),
        );
    }
    if let Some(b) = &server.batcher {
        use std::sync::atomic::Ordering::Relaxed;
        out.single(
            "distillery_batches_total",
            Kind::Counter,
            "Micro-batches predicted.",
            b.batches.load(Relaxed),
        );
        out.single(
            "distillery_batched_rows_total",
            Kind::Counter,
            "Rows predicted in micro-batches.",
            b.batched_rows.load(Relaxed),
        );
    }
    let text = out.finish();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record("a", Some(1), 200, 3, Duration::from_micros(50));
        m.record("a", Some(1), 200, 2, Duration::from_millis(3));
        m.record("a", None, 400, 0, Duration::from_micros(20));
        let mut e = Exposition::default();
        m.render(None, &mut e);
        let text = e.finish();
        assert!(
            text.contains("distillery_requests_total{model=\"a\",version=\"1\",code=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("distillery_requests_total{model=\"a\",version=\"\",code=\"400\"} 1")
        );
        assert!(text.contains("distillery_rows_total{model=\"a\"} 5"));
        assert!(text.contains("distillery_request_seconds_bucket{model=\"a\",le=\"0.0001\"} 2"));
        assert!(text.contains("distillery_request_seconds_bucket{model=\"a\",le=\"0.005\"} 3"));
        assert!(text.contains("distillery_request_seconds_count{model=\"a\"} 3"));
    }
}
