//! Issue #7 (first part): `distillery serve` speaks the Open Inference Protocol REST API
//! to a real HTTP client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::util::{data, setup, stderr};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Stops the server as a supervisor would (SIGTERM) and waits: every answered request
    /// is then in the prediction log, with nothing left to chance.
    pub(crate) fn stop(mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server stopped with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Server {
    serve_with(dir, &[])
}

pub(crate) fn serve_with(dir: &std::path::Path, extra: &[&str]) -> Server {
    serve_env(dir, extra, &[])
}

pub(crate) fn serve_env(dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut args = vec!["serve", "--port", "0"];
    args.extend_from_slice(extra);
    start(dir, &args, env)
}

/// Starts `distillery args…` in `dir` and waits for the first line it prints, whose last
/// word is the address it listens on.
pub(crate) fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_distillery"))
        .args(args)
        .envs(crate::util::backend_env(dir))
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.split_whitespace().last().unwrap().to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") || base.starts_with("https://127.0.0.1:"),
        "{line}"
    );
    Server { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub(crate) fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

pub(crate) fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    let mut r = agent()
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn the_production_student_answers_kserve_v2_requests() {
    let s = setup();
    s.promoted_student();
    let server = serve(s.dir.path());
    let b = &server.base;

    assert_eq!(get(&format!("{b}/v2/health/live")).0, 200);
    assert_eq!(get(&format!("{b}/v2/health/ready")).0, 200);
    assert_eq!(get(&format!("{b}/v2/models/r/ready")).0, 200);
    let (status, meta) = get(&format!("{b}/v2/models/r"));
    assert_eq!(status, 200);
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let inputs = meta["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 14);
    assert_eq!(meta["outputs"][0]["name"], "probabilities");

    // Three rows of the Adult sample, one tensor per feature.
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.take(3).map(|l| l.split(',').collect()).collect();
    let tensors: Vec<serde_json::Value> = inputs
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap();
            let col = header.iter().position(|h| *h == name).unwrap();
            let numeric = i["datatype"] == "FP32";
            let data: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let v = r[col];
                    if v == "?" {
                        serde_json::Value::Null
                    } else if numeric {
                        serde_json::json!(v.parse::<f64>().unwrap())
                    } else {
                        serde_json::json!(v)
                    }
                })
                .collect();
            serde_json::json!({"name": name, "shape": [3, 1], "datatype": i["datatype"], "data": data})
        })
        .collect();
    let request = serde_json::json!({"id": "req-7", "inputs": tensors}).to_string();
    let (status, r) = post(&format!("{b}/v2/models/r/infer"), &request);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["id"], "req-7");
    assert_eq!(r["model_version"], "1");
    let p = r["outputs"][0]["data"].as_array().unwrap();
    assert_eq!(r["outputs"][0]["shape"], serde_json::json!([3, 2]));
    for row in p.chunks(2) {
        let sum: f64 = row.iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
    assert_eq!(r["outputs"][1]["data"].as_array().unwrap().len(), 3);
    // Only the label asked for: only the label answered (the log keeps both, below).
    let labels_only =
        serde_json::json!({"id": "req-8", "inputs": tensors, "outputs": [{"name": "label"}]});
    let (status, r) = post(
        &format!("{b}/v2/models/r/versions/1/infer"),
        &labels_only.to_string(),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["outputs"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["outputs"][0]["name"], "label");

    // Errors: unknown model 404, bad input 400 naming it.
    let (status, e) = post(&format!("{b}/v2/models/nope/infer"), "{}");
    assert_eq!(status, 404);
    assert!(e["error"].as_str().unwrap().contains("'nope'"));
    let (status, _) = post(&format!("{b}/v2/models/r/versions/9/infer"), &request);
    assert_eq!(status, 404);
    let bad = request.replace("\"name\":\"age\"", "\"name\":\"agee\"");
    let (status, e) = post(&format!("{b}/v2/models/r/infer"), &bad);
    assert_eq!(status, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown input 'agee'"),
        "{e}"
    );
    let mut broken = tensors;
    let age = broken.iter_mut().find(|t| t["name"] == "age").unwrap();
    age["data"][1] = serde_json::json!("forty");
    let text_in_number = serde_json::json!({"inputs": broken}).to_string();
    let (status, e) = post(&format!("{b}/v2/models/r/infer"), &text_in_number);
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("input 'age' row 1"),
        "{e}"
    );
    let (status, e) = post(&format!("{b}/v2/models/r/infer"), "not json");
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("not JSON"));
    // (Oversized bodies: serve_errors.rs.)

    // The prediction log holds every answered request: two predictions, three bad inputs.
    let log_dir = s.path("predictions");
    let read = || -> Vec<serde_json::Value> {
        std::fs::read_dir(&log_dir)
            .map(|d| {
                d.flat_map(|e| {
                    std::fs::read_to_string(e.unwrap().path())
                        .unwrap()
                        .lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect::<Vec<_>>()
                })
                .collect()
            })
            .unwrap_or_default()
    };
    let records = crate::util::eventually("five log records", || {
        let records = read();
        (records.len() >= 5).then_some(records)
    });
    assert_eq!(records.len(), 5, "{records:?}");
    let ok: Vec<&serde_json::Value> = records.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0]["id"], "req-7");
    assert_eq!(ok[0]["rows"], 3);
    assert_eq!(ok[0]["model"], "r");
    assert_eq!(ok[0]["inputs"].as_array().unwrap().len(), 14);
    assert_eq!(ok[0]["outputs"][1]["data"].as_array().unwrap().len(), 3);
    assert!(ok[0]["latency_us"].as_f64().unwrap() > 0.0);
    let selective = ok.iter().find(|r| r["id"] == "req-8").unwrap();
    assert_eq!(
        selective["outputs"][0]["data"].as_array().unwrap().len(),
        6,
        "the log keeps the probabilities the client did not ask for: {selective}"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["status"] == 400)
            .all(|r| r["error"].is_string())
    );

    // Prometheus metrics count what happened above.
    let (status, metrics) = get(&format!("{b}/metrics"));
    assert_eq!(status, 200);
    for line in [
        "distillery_requests_total{model=\"r\",version=\"1\",code=\"200\"} 2",
        "distillery_rows_total{model=\"r\"} 6",
        "distillery_requests_total{model=\"(unknown)\",version=\"\",code=\"404\"} 1",
        "distillery_request_seconds_count{model=\"r\"} ",
        "distillery_prediction_log_records_total 5",
        "distillery_prediction_log_dropped_total 0",
        "distillery_prediction_log_queue_depth ",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[test]
fn serving_without_a_production_model_says_what_to_do() {
    let s = setup();
    // No registry at all (a mistyped --registry, or nothing run yet): said so, not served
    // from a silently created empty registry.
    let out = s.cmd(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    if crate::util::on_postgres() {
        // A database is a registry, empty until something is registered.
        assert!(stderr(&out).contains("promote one"), "{}", stderr(&out));
    } else {
        assert!(stderr(&out).contains("no registry in"), "{}", stderr(&out));
        assert!(!s.path(".distillery").exists(), "nothing was created");
    }
    // A registry with a version but no production alias: promote one.
    s.trained_student();
    let out = s.cmd(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("promote"), "{}", stderr(&out));
}

/// One request as a single numeric [1, 14] tensor (categories given as numbers are
/// unseen levels, which is valid), with an id.
pub(crate) fn one_row(id: &str) -> String {
    let data: Vec<f64> = (0..14).map(f64::from).collect();
    serde_json::json!({"id": id, "inputs": [{"name": "x", "shape": [1, 14], "datatype": "FP64", "data": data}]}).to_string()
}

#[test]
fn a_canary_takes_its_share_of_traffic_and_ids_stick() {
    let s = setup();
    s.trained_student();
    s.promoted_student();
    let version = |server: &Server, id: &str| -> String {
        let (status, r) = post(&format!("{}/v2/models/r/infer", server.base), &one_row(id));
        assert_eq!(status, 200, "{r}");
        r["model_version"].as_str().unwrap().to_string()
    };
    {
        let all = serve_with(
            s.dir.path(),
            &["--canary", "r/2", "--canary-weight", "100", "--no-log"],
        );
        assert_eq!(version(&all, "a"), "2");
        let (status, _) = post(
            &format!("{}/v2/models/r/versions/1/infer", all.base),
            &one_row("a"),
        );
        assert_eq!(status, 200, "the stable version stays addressable");
    }
    {
        let none = serve_with(
            s.dir.path(),
            &["--canary", "r/2", "--canary-weight", "0", "--no-log"],
        );
        assert_eq!(version(&none, "a"), "1");
    }
    let half = serve_with(
        s.dir.path(),
        &["--canary", "r/2", "--canary-weight", "50", "--no-log"],
    );
    let first = version(&half, "user-7");
    for _ in 0..5 {
        assert_eq!(
            version(&half, "user-7"),
            first,
            "an id always goes the same way"
        );
    }
    let seen: std::collections::BTreeSet<String> = (0..40)
        .map(|i| version(&half, &format!("user-{i}")))
        .collect();
    assert_eq!(seen.len(), 2, "both versions answer at 50%: {seen:?}");
    let bad = s.cmd(&["serve", "--port", "0", "--canary", "r/1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("stable version itself"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_shadow_sees_the_traffic_is_compared_and_never_answers() {
    let s = setup();
    s.trained_student();
    s.promoted_student();
    let server = serve_with(s.dir.path(), &["--shadow", "r/2"]);
    for id in ["a", "b", "c"] {
        let (status, r) = post(&format!("{}/v2/models/r/infer", server.base), &one_row(id));
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["model_version"], "1", "the shadow never answers");
    }
    let (_, metrics) = get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_shadow_requests_total{model=\"r\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("distillery_shadow_rows_total{model=\"r\"} 3"),
        "{metrics}"
    );
    let records = crate::util::eventually("three log records", || {
        let text: String = std::fs::read_dir(s.path("predictions"))
            .map(|d| {
                d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        (text.lines().count() >= 3).then_some(text)
    });
    for line in records.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["shadow"]["version"], 2, "{r}");
        assert_eq!(r["shadow"]["labels"].as_array().unwrap().len(), 1);
        assert!(r["shadow"]["disagreements"].as_u64().unwrap() <= 1);
    }
}

pub(crate) fn admin(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut req = agent()
        .post(&format!("{base}{path}"))
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut r = req.send(body).unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn the_admin_api_starts_rolls_back_and_promotes_a_canary_and_audits_it() {
    let s = setup();
    s.trained_student();
    s.promoted_student();
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--actor", "ops"],
        &[("DISTILLERY_ADMIN_TOKEN", "s3cret")],
    );
    let b = &server.base;
    let version = |id: &str| -> String {
        let (status, r) = post(&format!("{b}/v2/models/r/infer"), &one_row(id));
        assert_eq!(status, 200, "{r}");
        r["model_version"].as_str().unwrap().to_string()
    };
    let start = r#"{"version": 2, "weight": 100, "why": "try v2"}"#;
    assert_eq!(admin(b, "/admin/models/r/canary", None, start).0, 401);
    assert_eq!(
        admin(b, "/admin/models/r/canary", Some("wrong"), start).0,
        401
    );
    assert_eq!(version("a"), "1", "refused changes change nothing");
    let (status, r) = admin(b, "/admin/models/r/canary", Some("s3cret"), start);
    assert_eq!(status, 200, "{r}");
    assert_eq!(version("a"), "2");
    let (status, r) = admin(
        b,
        "/admin/models/r/rollback",
        Some("s3cret"),
        r#"{"why": "errors"}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(version("a"), "1");
    assert_eq!(
        admin(b, "/admin/models/r/canary", Some("s3cret"), start).0,
        200
    );
    let (status, r) = admin(
        b,
        "/admin/models/r/promote",
        Some("s3cret"),
        r#"{"why": "healthy"}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(version("a"), "2");
    assert_eq!(
        version("b"),
        "2",
        "no canary any more: every request goes to the new stable"
    );

    let shown = crate::util::json(&s.cmd(&["registry", "show", "r@production", "--json"]));
    assert_eq!(
        shown["lineage"]["version"]["version"], 2,
        "the registry's production alias moved"
    );
    let audit = crate::util::json(&s.cmd(&["registry", "audit", "--json"]));
    let actions: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
                e["why"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [
        (
            "canary version 2 weight 100".to_string(),
            "ops".to_string(),
            "try v2".to_string(),
        ),
        ("canary rollback".into(), "ops".into(), "errors".into()),
        ("promote".into(), "ops".into(), "healthy".into()),
    ] {
        assert!(actions.contains(&want), "{want:?} not in {actions:?}");
    }
    drop(server);
    let off = serve_with(s.dir.path(), &["--no-log"]);
    assert_eq!(
        admin(&off.base, "/admin/models/r/rollback", Some("x"), "{}").0,
        403
    );
}

#[test]
fn distillery_deploy_drives_the_admin_api() {
    let s = setup();
    s.trained_student();
    s.promoted_student();
    let server = serve_env(
        s.dir.path(),
        &["--no-log"],
        &[("DISTILLERY_ADMIN_TOKEN", "t0ken")],
    );
    let deploy = |args: &[&str], token: &str| {
        let mut all = vec![
            "deploy",
            "--server",
            server.base.as_str(),
            "--why",
            "cli test",
        ];
        all.extend_from_slice(args);
        s.cmd_env(&all, &[("DISTILLERY_ADMIN_TOKEN", token)])
    };
    let out = deploy(&["canary", "r/2", "--weight", "100"], "t0ken");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, r) = post(&format!("{}/v2/models/r/infer", server.base), &one_row("x"));
    assert_eq!(r["model_version"], "2");
    let refused = deploy(&["rollback", "r"], "nope");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));
    let out = deploy(&["promote", "r"], "t0ken");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = deploy(&["promote", "r"], "t0ken");
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("no canary"), "{}", stderr(&again));

    // A shadow set and stopped at run time.
    let out = deploy(&["shadow", "r/1", "--fraction", "1"], "t0ken");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shadow_count = || {
        let (_, metrics) = get(&format!("{}/metrics", server.base));
        metrics
            .lines()
            .find(|l| l.starts_with("distillery_shadow_requests_total{model=\"r\"}"))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    let (_, r) = post(&format!("{}/v2/models/r/infer", server.base), &one_row("y"));
    assert_eq!(r["model_version"], "2", "the shadow never answers");
    assert_eq!(shadow_count().as_deref(), Some("1"));
    let out = deploy(&["shadow", "r", "--stop"], "t0ken");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = post(&format!("{}/v2/models/r/infer", server.base), &one_row("z"));
    assert_eq!(
        shadow_count().as_deref(),
        Some("1"),
        "stopped: no more copies"
    );
    let audit = crate::util::json(&s.cmd(&["registry", "audit", "--json"]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in ["shadow fraction 1", "shadow stopped"] {
        assert!(actions.contains(&want), "{want} not in {actions:?}");
    }
}

/// `GET /metrics` as the official Prometheus client's parser reads it: family name (the
/// parser drops a counter's `_total`) → type, help and samples. `None` (the test skips
/// this check, saying so) where that client is not installed; CI installs it.
pub(crate) fn scrape(base: &str) -> Option<serde_json::Value> {
    if !crate::util::python_has("prometheus_client") {
        return None;
    }
    let out = Command::new(crate::util::python())
        .arg(crate::util::repo().join("tests/clients/scrape_metrics.py"))
        .arg(format!("{base}/metrics"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The value of the sample `name` with exactly `labels` in a [`scrape`].
pub(crate) fn sample(families: &serde_json::Value, name: &str, labels: serde_json::Value) -> f64 {
    let family = name.strip_suffix("_total").unwrap_or(name);
    let family = family
        .strip_suffix("_count")
        .filter(|f| families.get(f).is_some())
        .unwrap_or(family);
    families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {families}"))
        .iter()
        .find(|s| s["name"] == name && s["labels"] == labels)
        .unwrap_or_else(|| panic!("no {name} {labels} in {}", families[family]))["value"]
        .as_f64()
        .unwrap()
}
