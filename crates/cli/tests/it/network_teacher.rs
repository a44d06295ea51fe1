//! Issue #17, teachers over the network: `[teacher] url` distils from a model served over
//! the Open Inference Protocol (here `distillery serve`), in batches, concurrently, retrying
//! the requests the server refuses with 429.

use crate::serve::{get, serve_env};
use crate::util::{data, json, setup, stderr};

#[test]
fn a_served_model_teaches_over_the_network_through_429s() {
    let s = setup();
    s.promoted_student();
    // A tight limit makes the server refuse some of the teacher's requests with 429.
    let config = s.write(
        "serve.toml",
        "[limits]\nrequests_per_second = 20\nburst = 2\n",
    );
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let teacher = format!(
        "url = \"{}/v2/models/r\"\nbatch_rows = 150\nconcurrency = 3\nretries = 8",
        server.base
    );
    let recipe = s.write(
        "remote.toml",
        &crate::util::adult_recipe(&data("adult_sample.csv"), &teacher, "augment = \"none\"\n"),
    );
    let out = s.cmd(&[
        "run",
        recipe.to_str().unwrap(),
        "--json",
        "--no-register",
        "--out",
        "remote",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let kind = r["teacher"]["kind"].as_str().unwrap();
    assert!(
        kind.contains("Open Inference Protocol teacher at http://127.0.0.1"),
        "{kind}"
    );
    assert!(r["teacher"]["latency_us"].as_f64().unwrap() > 0.0);
    // The student learnt the served model's answers.
    let fidelity = r["fidelity"]["agreement"].as_f64().unwrap();
    assert!(fidelity > 0.9, "fidelity to the served teacher {fidelity}");
    // Some requests were refused and retried.
    let (_, metrics) = get(&format!("{}/metrics", server.base));
    let limited: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("distillery_requests_limited_total{reason=\"rate\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(limited >= 1.0, "the limit refused requests: {metrics}");
    server.stop();

    // A teacher that is not there fails with exit 2 and says where it looked.
    let gone = s.write(
        "gone.toml",
        &crate::util::adult_recipe(
            &data("adult_sample.csv"),
            "url = \"http://127.0.0.1:9/v2/models/r\"\nretries = 1",
            "",
        ),
    );
    let out = s.cmd(&["run", gone.to_str().unwrap(), "--no-register"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("127.0.0.1:9") && err.contains("2 attempts"),
        "{err}"
    );
    // Remote knobs without a url, and a url that is not HTTP, are refused.
    for (teacher, says) in [
        (
            format!("{}\nbatch_rows = 10", crate::util::onnx_line()),
            "url teacher only",
        ),
        ("url = \"ftp://x/v2/models/r\"".to_string(), "http://"),
    ] {
        let bad = s.write(
            "bad.toml",
            &crate::util::adult_recipe(&data("adult_sample.csv"), &teacher, ""),
        );
        let out = s.cmd(&["run", bad.to_str().unwrap(), "--no-register"]);
        assert_eq!(out.status.code(), Some(2), "{teacher}");
        assert!(stderr(&out).contains(says), "{teacher}: {}", stderr(&out));
    }
}
