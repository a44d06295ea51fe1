//! Ground truth, arriving after the answer: `POST /v2/models/{m}/feedback` takes true labels
//! by request id, matches them with the labels the server answered (kept for the most
//! recent requests), counts hits per version in `/metrics` — live accuracy without a
//! labelled test set — and appends every feedback to the prediction log for later joins.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::reply::{JsonObject, error};

/// Answers remembered by default, per server.
pub(crate) const REMEMBERED: usize = 100_000;

/// One remembered answer.
#[derive(Debug, Clone)]
struct Answer {
    model: String,
    version: u32,
    labels: Vec<String>,
    /// Feedback for this answer has been counted: a replay must not count again.
    scored: bool,
}

/// What feedback for one id finds.
enum Claim {
    /// No remembered answer for this model (never seen, or forgotten).
    Unknown,
    /// Feedback for this answer was counted already.
    Replayed,
    /// The answer, now marked as scored.
    Fresh(Answer),
}

/// The labels answered to the most recent requests with an id, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct Answers {
    capacity: usize,
    inner: Mutex<(HashMap<String, Answer>, VecDeque<String>)>,
}

impl Answers {
    /// Remembers up to `capacity` answers.
    pub(crate) fn new(capacity: usize) -> Answers {
        Answers {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Remembers what request `id` was answered.
    pub(crate) fn remember(&self, id: &str, model: &str, version: u32, labels: Vec<String>) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut g) = self.inner.lock() else { return };
        let (map, order) = &mut *g;
        let answer = Answer {
            model: model.to_string(),
            version,
            labels,
            scored: false,
        };
        if map.insert(id.to_string(), answer).is_none() {
            order.push_back(id.to_string());
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    fn get(&self, id: &str) -> Option<Answer> {
        self.inner.lock().ok()?.0.get(id).cloned()
    }

    /// Takes the answer to `id` of `model` for scoring, once: later calls say `Replayed`.
    fn claim(&self, id: &str, model: &str) -> Claim {
        let Ok(mut g) = self.inner.lock() else {
            return Claim::Unknown;
        };
        match g.0.get_mut(id).filter(|a| a.model == model) {
            None => Claim::Unknown,
            Some(a) if a.scored => Claim::Replayed,
            Some(a) => {
                a.scored = true;
                Claim::Fresh(a.clone())
            }
        }
    }
}

/// One feedback item: `{"id": "…", "label": "x"}` or `{"id": "…", "labels": [...]}`.
fn item(v: &Value, at: usize) -> Result<(String, Vec<String>), String> {
    let id = match &v["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(format!("feedback {at}: give the request's \"id\"")),
    };
    let labels = match (&v["label"], &v["labels"]) {
        (Value::String(l), _) => vec![l.clone()],
        (_, Value::Array(ls)) => ls
            .iter()
            .map(|l| l.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("feedback {at} ({id}): \"labels\" must be strings"))?,
        _ => {
            return Err(format!(
                "feedback {at} ({id}): give \"label\" or \"labels\""
            ));
        }
    };
    Ok((id, labels))
}

/// `POST /v2/models/{m}/feedback`.
pub(crate) fn routes() -> axum::Router<crate::app::Shared> {
    axum::Router::new().route("/v2/models/{name}/feedback", axum::routing::post(feedback))
}

/// `POST /v2/models/{m}/feedback`: one item, or `{"feedback": [items]}`.
pub(crate) async fn feedback(
    State(server): State<Arc<crate::Server>>,
    Path(name): Path<String>,
    JsonObject(body): JsonObject,
) -> Response {
    let m = server.current();
    let Some(served) = m.by_name.get(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("model '{name}' is not served"),
        );
    };
    let items: Vec<&Value> = match body.get("feedback") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return error(StatusCode::BAD_REQUEST, "\"feedback\" must be a list"),
        None => vec![&body],
    };
    let classes = served.student.classes();
    let mut parsed = Vec::with_capacity(items.len());
    for (at, v) in items.iter().enumerate() {
        let (id, labels) = match item(v, at) {
            Ok(x) => x,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        };
        if let Some(bad) = labels.iter().find(|l| !classes.contains(l)) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("feedback {at} ({id}): '{bad}' is not one of {name}'s classes {classes:?}"),
            );
        }
        parsed.push((id, labels));
    }
    // Labels that cannot be matched row for row are refused before anything is counted.
    for (at, (id, labels)) in parsed.iter().enumerate() {
        if let Some(a) = server.answers.get(id).filter(|a| a.model == name)
            && a.labels.len() != labels.len()
        {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "feedback {at} ({id}): {} label(s) for a request of {} row(s); send one label per row",
                    labels.len(),
                    a.labels.len()
                ),
            );
        }
    }
    let (mut matched, mut rows, mut correct, mut replayed) = (0usize, 0usize, 0usize, 0usize);
    for (id, labels) in parsed {
        let record = match server.answers.claim(&id, &name) {
            Claim::Fresh(a) => {
                let hits = a.labels.iter().zip(&labels).filter(|(x, y)| x == y).count();
                if let Some(monitors) = &server.monitors {
                    for (x, y) in a.labels.iter().zip(&labels) {
                        monitors.feedback(&name, a.version, x == y);
                    }
                }
                m.metrics
                    .record_feedback(&name, a.version, labels.len(), hits);
                matched += 1;
                rows += labels.len();
                correct += hits;
                json!({ "kind": "feedback", "model": name, "id": id, "labels": labels,
                        "version": a.version, "answered": a.labels, "correct": hits,
                        "ts": crate::log::timestamp() })
            }
            // Counted once already: neither the metrics nor the log count it again.
            Claim::Replayed => {
                replayed += 1;
                continue;
            }
            Claim::Unknown => {
                json!({ "kind": "feedback", "model": name, "id": id, "labels": labels,
                         "version": null, "ts": crate::log::timestamp() })
            }
        };
        if let Some(log) = &m.log {
            log.record(record.to_string());
        }
    }
    Json(json!({ "model": name, "received": items.len(), "matched": matched, "replayed": replayed, "rows": rows, "correct": correct }))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_answers_are_forgotten_first() {
        let a = Answers::new(2);
        a.remember("1", "m", 1, vec!["x".into()]);
        a.remember("2", "m", 1, vec!["y".into()]);
        a.remember("1", "m", 2, vec!["z".into()]);
        assert_eq!(
            a.get("1").unwrap().version,
            2,
            "a repeated id keeps its latest answer"
        );
        a.remember("3", "m", 1, vec!["w".into()]);
        assert!(a.get("1").is_none(), "1 was first in and goes first");
        assert!(a.get("2").is_some() && a.get("3").is_some());
    }

    #[test]
    fn feedback_is_counted_once_per_answer() {
        let a = Answers::new(4);
        a.remember("r", "m", 1, vec!["x".into()]);
        assert!(matches!(a.claim("r", "m"), Claim::Fresh(_)));
        assert!(matches!(a.claim("r", "m"), Claim::Replayed));
        assert!(matches!(a.claim("r", "other"), Claim::Unknown));
        // A new request that reuses the id is a new answer, open to feedback again.
        a.remember("r", "m", 1, vec!["y".into()]);
        assert!(matches!(a.claim("r", "m"), Claim::Fresh(_)));
    }

    #[test]
    fn items_take_one_label_or_many() {
        assert_eq!(
            item(&json!({"id": 7, "label": "a"}), 0).unwrap(),
            ("7".into(), vec!["a".into()])
        );
        assert_eq!(
            item(&json!({"id": "r", "labels": ["a", "b"]}), 0)
                .unwrap()
                .1
                .len(),
            2
        );
        assert!(
            item(&json!({"label": "a"}), 3)
                .unwrap_err()
                .contains("feedback 3")
        );
        assert!(
            item(&json!({"id": "r"}), 0)
                .unwrap_err()
                .contains("\"label\"")
        );
    }
}
