//! Issue #8: live monitoring in the server (fidelity, drift, alerts, actions) and the
//! re-distillation loop.

use crate::serve::{post, serve_with};
use crate::traffic::{adult_batch, adult_batch_moved, serve_watched};
use crate::util::{eventually, json, setup, stderr};

#[test]
fn a_fidelity_alert_redistils_registers_and_deploys_a_better_canary() {
    let s = setup();
    s.promoted_student();
    let server = serve_watched(
        &s,
        "[log]\ndir = \"log\"\n\n[monitor]\nwindow = 200\nteacher = TEACHER\nteacher_fraction = 1.0\nmin_fidelity = 0.85\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"log\"\n\n[[monitor.actions]]\nkind = \"redistill\"\nrecipe = \"r.toml\"\ncanary_weight = 20\nrows = 1000\n",
        &[],
    );
    let b = server.base.clone();
    let monitor = || {
        let (status, text) = crate::serve::get(&format!("{b}/monitor"));
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"]["r/1"].clone()
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| eventually(what, || done().then_some(()));
    // Ordinary traffic: two windows in which student and teacher agree; no alert.
    for from in (0..400).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    wait_for("two windows", &|| monitor()["windows"] == 2);
    let calm = monitor();
    assert!(calm["alerts"].as_array().unwrap().is_empty(), "{calm}");
    let fidelity = calm["history"][1]["fidelity"].as_f64().unwrap();
    assert!(fidelity >= 0.85, "ordinary traffic: fidelity {fidelity}");

    // Capital gains jump by 5,000: the student extrapolates where the teacher's trees do not.
    for from in (400..1000).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch_moved(from, 100, "capital-gain", 5000.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    wait_for("an alert", &|| {
        !monitor()["alerts"].as_array().unwrap().is_empty()
    });
    let alert = monitor()["alerts"][0].clone();
    assert!(
        alert["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("fidelity"),
        "{alert}"
    );
    assert!(
        alert["summary"]["drifted_columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "capital-gain"),
        "{alert}"
    );

    // The alert launched `distillery redistill`, which reports when it is done.
    let window = alert["window"].as_u64().unwrap();
    let report_path = s.path(&format!("log/redistill-window-{window}.json"));
    wait_for("the re-distillation report", &|| {
        std::fs::read(&report_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some()
    });
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["new_version"], 2, "{report}");
    let (before, after) = (
        report["fidelity_before"].as_f64().unwrap(),
        report["fidelity_after"].as_f64().unwrap(),
    );
    assert!(
        after > before + 0.05,
        "held-out fidelity {before} → {after}"
    );
    assert!(
        report["deployed"].as_str().unwrap().contains("20% canary"),
        "{report}"
    );

    // The server now routes 20% to version 2, and the registry and its audit log say why.
    let (_, metrics) = crate::serve::get(&format!("{b}/metrics"));
    assert!(
        metrics.contains("distillery_canary_weight{model=\"r\",version=\"2\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("distillery_monitor_alerts_total 1"),
        "{metrics}"
    );
    if let Some(families) = crate::serve::scrape(&b) {
        let r = |version: &str| serde_json::json!({"model": "r", "version": version});
        let weight = crate::serve::sample(&families, "distillery_canary_weight", r("2"));
        assert_eq!(weight, 20.0);
        let fidelity = crate::serve::sample(&families, "distillery_monitor_fidelity", r("1"));
        assert!((0.0..=1.0).contains(&fidelity), "{fidelity}");
        let alerts = &families["distillery_monitor_alerts"];
        assert_eq!(alerts["type"], "counter");
        assert_eq!(alerts["samples"][0]["value"], 1.0);
    }
    let audit = json(&s.cmd(&["registry", "audit", "--json"]));
    let whys: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["why"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        whys.iter()
            .any(|w| w.contains("monitoring alert on r/1 at window")
                && w.contains("re-distilled on")),
        "{whys:?}"
    );

    // The canary is watched on its own, against its own profile from the registry.
    for from in (0..200).step_by(10) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 10, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    let all = || {
        let (_, text) = crate::serve::get(&format!("{b}/monitor"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"].clone()
    };
    wait_for("the canary's monitor", &|| {
        all()["r/2"]["rows"].as_u64().is_some_and(|n| n > 0)
    });
    assert_eq!(all()["r/2"]["version"], 2);

    // The same state as a page for people.
    let (status, page) = crate::serve::get(&format!("{b}/monitor/page"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<h2 id=\"v-r-1\">r/1</h2>") && page.contains("<h2 id=\"v-r-2\">r/2</h2>"),
        "{page}"
    );
    assert!(
        page.matches("<polyline").count() >= 2,
        "fidelity and drift lines"
    );
    assert!(
        page.contains("<h3>Alerts</h3>") && page.contains("fidelity 0."),
        "{page}"
    );
    drop(server);
}

#[test]
fn bad_monitor_settings_are_refused_before_serving() {
    let s = setup();
    s.promoted_student();
    for (body, needle) in [
        ("[monitor]\nwindow = 5\n", "too small"),
        ("[monitor]\nmin_fidelity = 0.9\n", "needs a teacher"),
        ("[monitor]\nteacher_fraction = 2\n", "between 0 and 1"),
        ("[monitor]\nsample = 0\n", "sample 0 must be a share"),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"page\"\n",
            "kind 'page' is unknown",
        ),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"redistill\"\nrecipe = \"missing.toml\"\n",
            "does not exist",
        ),
        ("[monitor]\nteacher = \"nope.onnx\"\n", "nope.onnx"),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"command\"\nrun = [\"page-oncall-typo\"]\n",
            "program \"page-oncall-typo\" is not an executable file and is not on PATH",
        ),
        (
            "[monitor]\n[[monitor.actions]]\nkind = \"webhook\"\nurl = \"alerts.internal/hook\"\n",
            "must start with http:// or https://",
        ),
    ] {
        s.write("bad.toml", body);
        let out = s.cmd(&["serve", "--port", "0", "--config", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        assert!(stderr(&out).contains(needle), "{body}: {}", stderr(&out));
    }
}

#[test]
fn fidelity_can_come_from_a_remote_teacher_over_the_open_inference_protocol() {
    let s = setup();
    s.promoted_student();
    // Another server plays the teacher: the same student, so agreement must be perfect.
    let teacher = serve_with(s.dir.path(), &["--no-log"]);
    s.write(
        "serve.toml",
        &format!(
            "[log]\ndir = \"log\"\n\n[monitor]\nsample = 0.5\nwindow = 100\nteacher_url = \"{}/v2/models/r\"\nteacher_fraction = 0.5\n",
            teacher.base
        ),
    );
    let server = serve_with(s.dir.path(), &["--config", "serve.toml"]);
    let send = |rows: std::ops::Range<usize>| {
        for from in rows.step_by(100) {
            let (status, r) = post(
                &format!("{}/v2/models/r/infer", server.base),
                &adult_batch(from, 100, 0.0),
            );
            assert_eq!(status, 200, "{r}");
        }
    };
    let after_windows = |n: u64| {
        eventually("the monitor's windows", || {
            let (_, text) = crate::serve::get(&format!("{}/monitor", server.base));
            let state =
                serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"]["r/1"].clone();
            (state["windows"] == n).then_some(state)
        })
    };
    // Half the requests are sampled: four requests of 100 rows make two windows.
    send(0..400);
    let state = after_windows(2);
    assert_eq!(
        state["rows"], 200,
        "half of the 400 rows were handed to the monitor"
    );
    for w in state["history"].as_array().unwrap() {
        assert_eq!(w["fidelity"], 1.0, "{w}");
        let seen = w["teacher_rows"].as_u64().unwrap();
        assert!(
            (30..=70).contains(&seen),
            "about half the rows go to the teacher: {seen}"
        );
        assert!(w.get("teacher_error").is_none(), "{w}");
    }
    let (_, metrics) = crate::serve::get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_monitor_fidelity{model=\"r\",version=\"1\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("distillery_monitor_windows_total{model=\"r\",version=\"1\"} 2"),
        "{metrics}"
    );

    // The teacher goes away: windows go on, without fidelity, and the failures are counted.
    teacher.stop();
    send(400..600);
    let state = after_windows(3);
    assert_eq!(state["teacher_errors"], 1, "{state}");
    let last = &state["history"][2];
    assert!(last["fidelity"].is_null(), "{last}");
    assert!(
        last["teacher_error"]
            .as_str()
            .unwrap()
            .contains("teacher at"),
        "{last}"
    );
    let (_, metrics) = crate::serve::get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_monitor_teacher_errors_total{model=\"r\",version=\"1\"} 1"),
        "{metrics}"
    );
}

#[test]
fn alerts_reach_a_webhook_and_a_command() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = setup();
    s.promoted_student();
    // A one-shot HTTP endpoint that keeps the body it is sent.
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    let received = std::thread::spawn(move || {
        let (stream, _) = hook.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8(body).unwrap()
    });
    // A drift share of 0 is always reached: the first window fires.
    s.write(
        "serve.toml",
        &format!(
            "[log]\ndir = \"log\"\n\n[monitor]\nwindow = 100\nmax_drift_share = 0.0\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"webhook\"\nurl = \"{hook_url}\"\n\n[[monitor.actions]]\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"printf '%s' \\\"$DISTILLERY_ALERT\\\" > alert.json\"]\n"
        ),
    );
    let server = serve_with(s.dir.path(), &["--config", "serve.toml"]);
    let (status, r) = post(
        &format!("{}/v2/models/r/infer", server.base),
        &adult_batch(0, 100, 0.0),
    );
    assert_eq!(status, 200, "{r}");
    let body: serde_json::Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert_eq!(body["kind"], "distillery.monitor.alert");
    assert_eq!(body["alert"]["model"], "r");
    assert_eq!(body["alert"]["window"], 1);
    let written = s.path("alert.json");
    let by_command: serde_json::Value = eventually("the alert command's file", || {
        serde_json::from_slice(&std::fs::read(&written).ok()?).ok()
    });
    assert_eq!(by_command["alert"]["reasons"], body["alert"]["reasons"]);
}

#[test]
fn a_canary_that_disagrees_with_the_teacher_is_rolled_back_by_the_monitor() {
    let s = setup();
    crate::serve_deploy::three_versions(&s);
    let server = serve_watched(
        &s,
        "[canary]\nmodel = \"r/3\"\nweight = 50\n\n[monitor]\nwindow = 100\nteacher = TEACHER\nteacher_fraction = 1.0\nmin_fidelity = 0.85\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"rollback\"\n",
        &[],
    );
    let b = server.base.clone();
    // Requests without an id alternate between stable (r/1) and the bad canary (r/3).
    for from in (0..800).step_by(100) {
        let (status, r) = post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    eventually("the canary's rollback", || {
        let (_, metrics) = crate::serve::get(&format!("{b}/metrics"));
        (!metrics.contains("distillery_canary_weight{model=\"r\"")).then_some(())
    });
    // The stable version's windows are published once the monitor has read them.
    let state: serde_json::Value = eventually("the stable version's first window", || {
        let (_, text) = crate::serve::get(&format!("{b}/monitor"));
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        state["models"]["r/1"]["windows"]
            .as_u64()
            .is_some_and(|w| w >= 1)
            .then_some(state)
    });
    assert!(
        !state["models"]["r/3"]["alerts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{state}"
    );
    assert!(
        state["models"]["r/1"]["alerts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the stable version agrees with the teacher: {state}"
    );
    let audit = json(&s.cmd(&["registry", "audit", "--json"]));
    let rollback = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "canary rollback")
        .unwrap_or_else(|| panic!("no rollback in {audit}"));
    assert!(
        rollback["why"]
            .as_str()
            .unwrap()
            .starts_with("monitoring alert on r/3"),
        "{rollback}"
    );
}
