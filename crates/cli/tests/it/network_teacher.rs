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

/// An MLServer process, killed when dropped.
struct MlServer(std::process::Child);

impl Drop for MlServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now (the OS picks it; MLServer binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_scikit_learn_teacher_served_by_mlserver_teaches_over_the_network() {
    use std::process::{Command, Stdio};
    let required = std::env::var_os("DISTILLERY_REQUIRE_MLSERVER").is_some_and(|v| v == "1");
    let python = crate::util::python();
    let importable = Command::new(&python)
        .args([
            "-c",
            "import mlserver, mlserver_sklearn, sklearn, pandas, joblib",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        assert!(
            !required,
            "DISTILLERY_REQUIRE_MLSERVER=1 but {python} cannot import mlserver"
        );
        eprintln!(
            "skipped the MLServer teacher test: {python} cannot import mlserver and mlserver_sklearn"
        );
        return;
    }
    let s = setup();
    let sample = data("adult_sample.csv");
    // MLServer's own scikit-learn runtime serves a Pipeline trained on the sample.
    let (http, grpc) = (free_port(), free_port());
    let repo = s.path("mlserver");
    let made = Command::new(&python)
        .arg(crate::util::repo().join("tests/clients/mlserver_teacher.py"))
        .arg(&sample)
        .arg("income-per-year")
        .arg(&repo)
        .args([http.to_string(), grpc.to_string()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let mlserver = std::path::Path::new(&python).with_file_name("mlserver");
    let server = MlServer(
        Command::new(if mlserver.exists() {
            mlserver.as_os_str()
        } else {
            "mlserver".as_ref()
        })
        .arg("start")
        .arg(&repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mlserver"),
    );
    let base = format!("http://127.0.0.1:{http}/v2/models/teacher");
    crate::util::eventually("MLServer to load the teacher", || {
        let listening = std::net::TcpStream::connect(("127.0.0.1", http)).is_ok();
        (listening && get(&format!("{base}/ready")).0 == 200).then_some(())
    });
    let recipe = s.write(
        "mlserver.toml",
        &crate::util::adult_recipe(
            &sample,
            &format!("url = \"{base}\"\nbatch_rows = 200\nconcurrency = 2"),
            "augment = \"none\"\n",
        ),
    );
    let run = |out: &str| {
        let (r, dir) = s.run_into(&recipe, out);
        let student = std::fs::read(dir.join("student.safetensors")).unwrap();
        (r, student)
    };
    let (r, student) = run("a");
    let kind = r["teacher"]["kind"].as_str().unwrap();
    assert!(kind.contains(&base), "{kind}");
    assert!(
        r["teacher"]["accuracy"].as_f64().unwrap() > 0.8,
        "the boosted pipeline labels well: {}",
        r["teacher"]
    );
    assert!(
        r["student"]["fidelity"].as_f64().unwrap() > 0.8,
        "{}",
        r["student"]
    );
    // The server answers the same probabilities every time, so the student is the same
    // bit for bit.
    let (_, again) = run("b");
    assert_eq!(student, again);
    drop(server);
}
