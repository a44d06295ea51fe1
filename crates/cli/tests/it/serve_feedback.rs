//! Issue #7: ground truth sent after the answer is matched by request id, counted per
//! version in /metrics and appended to the prediction log.

use crate::serve::{get, post, sample, scrape, serve_with};
use crate::serve_deploy::adult_request;
use crate::util::{data, setup};

#[test]
fn feedback_is_matched_by_id_counted_per_version_and_logged() {
    let s = setup();
    s.promoted_student();
    let server = serve_with(s.dir.path(), &[]);
    let b = &server.base;
    // The true labels of the sample's first 50 rows, sent back after each answer.
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let truth: Vec<&str> = text
        .lines()
        .skip(1)
        .take(50)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    let mut right = 0;
    for (i, label) in truth.iter().enumerate() {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_request(i, &format!("q{i}")),
        );
        assert_eq!(status, 200, "{r}");
        right += usize::from(r["outputs"][1]["data"][0] == *label);
    }
    let items: Vec<serde_json::Value> = truth
        .iter()
        .enumerate()
        .map(|(i, l)| serde_json::json!({"id": format!("q{i}"), "label": l}))
        .chain([serde_json::json!({"id": "never-asked", "label": ">50K"})])
        .collect();
    let (status, r) = post(
        &format!("{b}/v2/models/r/feedback"),
        &serde_json::json!({"feedback": items}).to_string(),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["received"], 51);
    assert_eq!(r["matched"], 50, "the unknown id is kept but not matched");
    assert_eq!(r["correct"], right);
    assert!(right >= 35, "the student is right on {right} of 50");

    let (_, metrics) = get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_feedback_rows_total{model=\"r\",version=\"1\"} 50"),
        "{metrics}"
    );
    let line = format!("distillery_feedback_correct_total{{model=\"r\",version=\"1\"}} {right}");
    assert!(metrics.contains(&line), "{line} not in {metrics}");
    // The same, as a Prometheus scraper parses it.
    if let Some(families) = scrape(b) {
        let r1 = serde_json::json!({"model": "r", "version": "1"});
        assert_eq!(families["distillery_feedback_rows"]["type"], "counter");
        assert_eq!(
            sample(&families, "distillery_feedback_rows_total", r1.clone()),
            50.0
        );
        assert_eq!(
            sample(&families, "distillery_feedback_correct_total", r1),
            right as f64
        );
        let ok = serde_json::json!({"model": "r", "version": "1", "code": "200"});
        assert_eq!(sample(&families, "distillery_requests_total", ok), 50.0);
        assert_eq!(families["distillery_request_seconds"]["type"], "histogram");
        let count = serde_json::json!({"model": "r"});
        assert_eq!(
            sample(&families, "distillery_request_seconds_count", count),
            50.0
        );
        assert_eq!(
            families["distillery_prediction_log_queue_depth"]["type"],
            "gauge"
        );
    }

    // Bad feedback is refused, naming the problem.
    let (status, e) = post(
        &format!("{b}/v2/models/r/feedback"),
        r#"{"id": "q1", "label": "rich"}"#,
    );
    assert_eq!(status, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("'rich' is not one of"),
        "{e}"
    );
    let (status, _) = post(&format!("{b}/v2/models/r/feedback"), r#"{"label": ">50K"}"#);
    assert_eq!(status, 400);
    // `curl -d` sends JSON as form-urlencoded: the body is read as JSON all the same, and
    // a body that is not JSON gets the protocol's error shape, not a bare 415.
    let form = |body: &str| {
        let mut r = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .post(&format!("{b}/v2/models/r/feedback"))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body)
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        (r.status().as_u16(), text)
    };
    let (status, text) = form(r#"{"id": "q1", "label": "rich"}"#);
    assert_eq!(status, 400);
    assert!(text.contains("'rich' is not one of"), "{text}");
    let (status, text) = form("id=q1&label=rich");
    assert_eq!(status, 400);
    assert!(text.contains("\"error\":\"the body is not JSON"), "{text}");
    let (status, _) = post(
        &format!("{b}/v2/models/nope/feedback"),
        r#"{"id": "q1", "label": ">50K"}"#,
    );
    assert_eq!(status, 404);

    // Every feedback item is in the prediction log, matched ones with the answer.
    let feedback = crate::util::eventually("51 feedback records", || {
        let records: Vec<serde_json::Value> = std::fs::read_dir(s.path("predictions"))
            .unwrap()
            .flat_map(|e| {
                std::fs::read_to_string(e.unwrap().path())
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .filter(|r| r["kind"] == "feedback")
            .collect();
        (records.len() >= 51).then_some(records)
    });
    assert_eq!(feedback.len(), 51);
    let q0 = feedback.iter().find(|r| r["id"] == "q0").unwrap();
    assert_eq!(q0["version"], 1);
    assert_eq!(q0["labels"][0], truth[0]);
    assert!(q0["answered"].is_array());
    let unknown = feedback.iter().find(|r| r["id"] == "never-asked").unwrap();
    assert!(unknown["version"].is_null());
}

#[test]
fn feedback_can_be_replayed() {
    // Issue #15: the same feedback sent five times counted five times, and a label count
    // that did not match the request's rows got a silent 200. Now it counts once and the
    // mismatch is a 400.
    let s = setup();
    s.promoted_student();
    let server = serve_with(s.dir.path(), &[]);
    let b = &server.base;
    for i in 0..2 {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_request(i, &format!("q{i}")),
        );
        assert_eq!(status, 200, "{r}");
    }
    let (status, r) = post(
        &format!("{b}/v2/models/r/feedback"),
        r#"{"feedback": [{"id": "q0", "label": ">50K"}, {"id": "q1", "label": ">50K"}]}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["matched"], 2, "{r}");
    for _ in 0..5 {
        let (status, r) = post(
            &format!("{b}/v2/models/r/feedback"),
            r#"{"id": "q0", "label": ">50K"}"#,
        );
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["matched"], 0, "{r}");
        assert_eq!(r["replayed"], 1, "{r}");
    }
    let (_, metrics) = get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_feedback_rows_total{model=\"r\",version=\"1\"} 2"),
        "replays are not counted: {metrics}"
    );
    let (status, e) = post(
        &format!("{b}/v2/models/r/feedback"),
        r#"{"id": "q1", "labels": [">50K", "<=50K"]}"#,
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("2 label(s) for a request of 1 row(s)"),
        "{e}"
    );
}
