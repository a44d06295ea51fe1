//! Issue #7 (deployments): a canary's traffic split, guardrails that roll a bad canary back
//! on their own, promotion and rollback under load, and serve.toml.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::serve::{admin, get, post, serve_env, serve_with};
use crate::util::{Setup, data, setup, stderr};

/// Row `i` of the Adult sample as one tensor per feature, with an id.
pub(crate) fn adult_request(i: usize, id: &str) -> String {
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.nth(i % 1200).unwrap().split(',').collect();
    let inputs: Vec<serde_json::Value> = header[..14]
        .iter()
        .zip(&row)
        .map(|(name, v)| {
            let (datatype, value) = match v.parse::<f64>() {
                Ok(x) => ("FP64", serde_json::json!(x)),
                Err(_) if *v == "?" => ("BYTES", serde_json::Value::Null),
                Err(_) => ("BYTES", serde_json::json!(v)),
            };
            serde_json::json!({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
        })
        .collect();
    serde_json::json!({"id": id, "inputs": inputs}).to_string()
}

/// Registers r/1 and r/2 (the same recipe) and r/3, trained on the sample with every label
/// inverted and no teacher weight: a deliberately bad version that disagrees with r/1.
pub(crate) fn three_versions(s: &Setup) {
    s.trained_student();
    s.trained_student();
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let inverted: String = text
        .lines()
        .map(|l| {
            if let Some(rest) = l.strip_suffix(",<=50K") {
                format!("{rest},>50K\n")
            } else if let Some(rest) = l.strip_suffix(",>50K") {
                format!("{rest},<=50K\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let inverted = s.write("inverted.csv", &inverted);
    let recipe = crate::util::adult_recipe(&inverted, &crate::util::onnx_line(), "")
        .replace("soft_weight = 0.9", "soft_weight = 0.0");
    let recipe = s.write("r.toml", &recipe);
    let out = s.cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let promote = s.cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
}

fn answered_by(base: &str, i: usize, id: &str) -> String {
    let (status, r) = post(&format!("{base}/v2/models/r/infer"), &adult_request(i, id));
    assert_eq!(status, 200, "{r}");
    r["model_version"].as_str().unwrap().to_string()
}

#[test]
fn a_ten_percent_canary_splits_traffic_and_a_bad_one_is_rolled_back_by_its_guardrail() {
    let s = setup();
    three_versions(&s);
    let server = serve_env(
        s.dir.path(),
        &[
            "--no-log",
            "--canary",
            "r/2",
            "--canary-weight",
            "10",
            "--guard-max-disagreement",
            "0.2",
            "--guard-min-requests",
            "10",
            "--guard-window",
            "50",
        ],
        &[("DISTILLERY_ADMIN_TOKEN", "tok")],
    );
    let b = &server.base;
    // A good canary: ~10% of 1,000 ids (binomial sd 9.5; ±4 sd), and no rollback.
    let canary = (0..1000)
        .filter(|&i| answered_by(b, i, &format!("user-{i}")) == "2")
        .count();
    assert!(
        (62..=138).contains(&canary),
        "canary answered {canary} of 1000"
    );
    assert_eq!(answered_by(b, 0, "late"), answered_by(b, 0, "late"));
    let (_, metrics) = get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_canary_weight{model=\"r\",version=\"2\"} 10"),
        "{metrics}"
    );

    // A bad canary: it labels most rows unlike the stable version, so the guardrail
    // takes it out after its 10th request.
    let (status, r) = admin(
        b,
        "/admin/models/r/canary",
        Some("tok"),
        r#"{"version": 3, "weight": 10, "why": "try the inverted one"}"#,
    );
    assert_eq!(status, 200, "{r}");
    let answers: Vec<String> = (0..600)
        .map(|i| answered_by(b, i, &format!("user-{i}")))
        .collect();
    let bad = answers.iter().filter(|v| *v == "3").count();
    assert!(
        (10..=12).contains(&bad),
        "the bad canary answered {bad} requests"
    );
    let last = answers.iter().rposition(|v| v == "3").unwrap();
    assert!(
        answers[last + 1..].iter().all(|v| v == "1"),
        "after the rollback the stable version answers everything"
    );
    let (_, metrics) = get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_guardrail_rollbacks_total{model=\"r\"} 1"),
        "{metrics}"
    );
    let audit = crate::util::json(&s.cmd(&["registry", "audit", "--json"]));
    let rollback = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "guardrail rollback")
        .unwrap_or_else(|| panic!("no guardrail rollback in {audit}"));
    let why = rollback["why"].as_str().unwrap();
    assert!(
        why.contains("disagreement with the stable version"),
        "{why}"
    );
    let canary_alias = s.cmd(&["registry", "show", "r@canary"]);
    assert_eq!(
        canary_alias.status.code(),
        Some(2),
        "the canary alias is gone"
    );
    // The deployment history is part of the version's lineage.
    let lineage = s.cmd(&["lineage", "r/3"]);
    assert_eq!(lineage.status.code(), Some(0), "{}", stderr(&lineage));
    let text = String::from_utf8_lossy(&lineage.stdout);
    assert!(text.contains("canary version 3 weight 10"), "{text}");
    assert!(text.contains("guardrail rollback"), "{text}");
}

#[test]
fn promotion_and_rollback_under_load_fail_no_request() {
    let s = setup();
    three_versions(&s);
    let server = serve_env(
        s.dir.path(),
        &["--no-log"],
        &[("DISTILLERY_ADMIN_TOKEN", "tok")],
    );
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (base, stop, served) = (base.clone(), Arc::clone(&stop), Arc::clone(&served));
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("c{c}-{i}");
                    let (status, r) =
                        post(&format!("{base}/v2/models/r/infer"), &adult_request(i, &id));
                    if status != 200 {
                        failures.push(format!("{status} {r}"));
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                failures
            })
        })
        .collect();
    let wait_for = |n: usize| {
        let target = served.load(Ordering::Relaxed) + n;
        while served.load(Ordering::Relaxed) < target {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    let change = |path: &str, body: &str| {
        wait_for(100);
        let (status, r) = admin(&base, path, Some("tok"), body);
        assert_eq!(status, 200, "{path}: {r}");
    };
    change("/admin/models/r/canary", r#"{"version": 2, "weight": 50}"#);
    change("/admin/models/r/canary", r#"{"weight": 100}"#);
    change("/admin/models/r/promote", "{}");
    change("/admin/models/r/canary", r#"{"version": 1, "weight": 30}"#);
    change("/admin/models/r/rollback", "{}");
    wait_for(100);
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(served.load(Ordering::Relaxed) >= 600);
    assert_eq!(answered_by(&base, 5, "after"), "2", "r/2 is stable now");
}

#[test]
fn serve_toml_holds_the_settings_and_flags_override_it() {
    let s = setup();
    three_versions(&s);
    s.write(
        "serve.toml",
        "port = 0\nmodels = [\"r/1\"]\n\n[canary]\nmodel = \"r/2\"\nweight = 0\n\n[log]\ndir = \"logs\"\npolicy = \"drop\"\n\n[guardrails]\nwindow = 30\nmin_requests = 5\nmax_error_rate = 0.5\n",
    );
    {
        let server = serve_with(s.dir.path(), &["--config", "serve.toml"]);
        assert_eq!(
            answered_by(&server.base, 1, "a"),
            "1",
            "weight 0 from the file"
        );
        let (_, metrics) = get(&format!("{}/metrics", server.base));
        assert!(
            metrics.contains("distillery_prediction_log_records_total"),
            "{metrics}"
        );
    }
    assert!(
        s.path("logs").is_dir(),
        "the file's log dir, relative to the file"
    );
    let server = serve_with(
        s.dir.path(),
        &["--config", "serve.toml", "--canary-weight", "100"],
    );
    assert_eq!(
        answered_by(&server.base, 1, "a"),
        "2",
        "the flag overrides the file"
    );
    drop(server);

    s.write("bad.toml", "port = 0\n[guardrails]\nmax_p99 = 5\n");
    let out = s.cmd(&["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "the serve config bad.toml, line 3: unknown key 'max_p99' in [guardrails]; did you mean 'max_p99_ms'?"
        ),
        "{}",
        stderr(&out)
    );
    let out = s.cmd(&["serve", "--port", "0", "--guard-max-error-rate", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("between 0 and 1"), "{}", stderr(&out));
}

#[test]
fn micro_batching_gathers_concurrent_requests_and_answers_as_row_by_row_does() {
    let s = setup();
    s.promoted_student();
    let plain = serve_with(s.dir.path(), &["--no-log"]);
    let batched = serve_with(
        s.dir.path(),
        &[
            "--no-log",
            "--batch-max-rows",
            "32",
            "--batch-max-wait-us",
            "5000",
        ],
    );
    let base = batched.base.clone();
    let answers: Vec<(usize, serde_json::Value)> = (0..16)
        .map(|c| {
            let base = base.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|k| {
                        let i = c * 10 + k;
                        let (status, r) =
                            post(&format!("{base}/v2/models/r/infer"), &adult_request(i, "b"));
                        assert_eq!(status, 200, "{r}");
                        (i, r)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(answers.len(), 160);
    for (i, batched) in &answers {
        let (_, alone) = post(
            &format!("{}/v2/models/r/infer", plain.base),
            &adult_request(*i, "p"),
        );
        assert_eq!(
            batched["outputs"][1], alone["outputs"][1],
            "row {i}: same label"
        );
        let (a, b) = (&batched["outputs"][0]["data"], &alone["outputs"][0]["data"]);
        for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() < 1e-5, "row {i}: {x} batched vs {y} alone");
        }
    }
    let (_, metrics) = get(&format!("{base}/metrics"));
    let value = |name: &str| -> usize {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in {metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("distillery_batched_rows_total"), 160);
    let batches = value("distillery_batches_total");
    assert!(
        batches < 160,
        "16 concurrent clients share batches: {batches} batches for 160 rows"
    );
}
