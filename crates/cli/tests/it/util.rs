//! A fresh temp dir per test and a handle on the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A file under `tests/data/`.
pub(crate) fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

/// The demo teacher (LightGBM, 300 rounds, Adult).
pub(crate) fn demo_teacher() -> PathBuf {
    repo().join("crates/cli/demo/teacher.onnx")
}

/// A test's working directory.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    if let Ok(admin) = std::env::var("DISTILLERY_TEST_POSTGRES") {
        // The registry suite on PostgreSQL: a database of this test's own on the server
        // DISTILLERY_TEST_POSTGRES names, objects in a folder beside it.
        let name = format!(
            "it_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let mut env = vec![("DISTILLERY_REGISTRY".into(), url)];
        match std::env::var("DISTILLERY_TEST_S3") {
            // ... and its artifacts on the S3 server DISTILLERY_TEST_S3 names, under a
            // prefix of its own in the bucket `distillery`.
            Ok(endpoint) => {
                env.push((
                    "DISTILLERY_OBJECTS".into(),
                    format!("s3://distillery/{name}"),
                ));
                env.extend(s3_env(&endpoint));
            }
            Err(_) => env.push((
                "DISTILLERY_OBJECTS".into(),
                dir.path().join("pg-objects").to_string_lossy().to_string(),
            )),
        }
        backends()
            .lock()
            .unwrap()
            .insert(dir.path().to_path_buf(), env);
    }
    Setup { dir }
}

/// The `AWS_*` settings that point the S3 client at a local test server.
pub(crate) fn s3_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
    .collect()
}

/// True when this test's artifacts are on S3 rather than in a folder.
pub(crate) fn on_s3() -> bool {
    on_postgres() && std::env::var_os("DISTILLERY_TEST_S3").is_some()
}

static DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

type BackendEnv = Vec<(String, String)>;

fn backends() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, BackendEnv>> {
    static MAP: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, BackendEnv>>,
    > = std::sync::OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// The environment that points a command run in `dir` at its test's registry: empty for
/// the default (`.distillery/` in `dir`), the PostgreSQL database and objects folder when
/// the suite runs on PostgreSQL.
pub(crate) fn backend_env(dir: &Path) -> BackendEnv {
    backends()
        .lock()
        .unwrap()
        .get(dir)
        .cloned()
        .unwrap_or_default()
}

/// True when this test's registry is on PostgreSQL.
pub(crate) fn on_postgres() -> bool {
    std::env::var_os("DISTILLERY_TEST_POSTGRES").is_some()
}

impl Setup {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Flips one bit of the stored object `hash`, wherever the registry keeps it.
    pub(crate) fn tamper(&self, hash: &str) {
        let mut bytes = self.object(hash);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        self.overwrite_object(hash, &bytes);
    }

    /// The stored bytes of object `hash`, read behind the registry's back.
    fn object(&self, hash: &str) -> Vec<u8> {
        match self.s3_url(hash) {
            Some(url) => ureq::get(&url)
                .call()
                .unwrap()
                .body_mut()
                .read_to_vec()
                .unwrap(),
            None => std::fs::read(self.objects().join(hash)).unwrap(),
        }
    }

    /// Replaces the stored object `hash` behind the registry's back.
    pub(crate) fn overwrite_object(&self, hash: &str, bytes: &[u8]) {
        match self.s3_url(hash) {
            Some(url) => {
                ureq::put(&url).send(bytes).unwrap();
            }
            None => std::fs::write(self.objects().join(hash), bytes).unwrap(),
        }
    }

    /// The object's URL on the suite's S3 server (SeaweedFS, which takes anonymous
    /// requests), when the suite runs on S3.
    fn s3_url(&self, hash: &str) -> Option<String> {
        if on_s3() {
            let env = backend_env(self.dir.path());
            let prefix = env
                .iter()
                .find(|(k, _)| k == "DISTILLERY_OBJECTS")
                .map(|(_, v)| v.trim_start_matches("s3://").to_string())
                .unwrap();
            let endpoint = std::env::var("DISTILLERY_TEST_S3").unwrap();
            return Some(format!("{endpoint}/{prefix}/objects/{hash}"));
        }
        None
    }

    /// The folder the registry keeps its artifacts in.
    pub(crate) fn objects(&self) -> PathBuf {
        if on_postgres() {
            self.path("pg-objects")
        } else {
            self.path(".distillery/objects")
        }
    }

    pub(crate) fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    /// Runs `distillery args…` in the temp dir.
    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_env(args, &[])
    }

    pub(crate) fn cmd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_distillery"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("DISTILLERY_STOP_AFTER_EPOCH")
            .envs(backend_env(self.dir.path()));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// Runs the standard Adult-sample recipe (demo teacher) and returns the student's path.
    pub(crate) fn trained_student(&self) -> PathBuf {
        let recipe = self.write(
            "r.toml",
            &adult_recipe(&data("adult_sample.csv"), &onnx_line(), ""),
        );
        let out = self.cmd(&["run", recipe.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        self.runs()[0].join("student.safetensors")
    }

    /// Trains the standard student (registered as r/1) and promotes it to production, as
    /// the serving tests start.
    pub(crate) fn promoted_student(&self) -> PathBuf {
        let student = self.trained_student();
        let promote = self.cmd(&["registry", "promote", "r/1", "--to", "production"]);
        assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
        student
    }

    /// Runs `recipe` without registering it, into `out/`, and asserts it succeeded: its
    /// JSON report and its run directory.
    pub(crate) fn run_into(&self, recipe: &Path, out: &str) -> (serde_json::Value, PathBuf) {
        let o = self.cmd(&[
            "run",
            recipe.to_str().unwrap(),
            "--json",
            "--no-register",
            "--out",
            out,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = json(&o);
        let dir = self.path(out).join(r["run_id"].as_str().unwrap());
        (r, dir)
    }

    /// Completed run directories under `runs/` (hidden temp and checkpoint dirs excluded).
    pub(crate) fn runs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.path("runs")) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        v.sort();
        v
    }
}

/// A recipe on the Adult sample with the demo teacher; `extra` is appended verbatim.
pub(crate) fn adult_recipe(data: &Path, teacher: &str, extra: &str) -> String {
    format!(
        "[data]\ntrain = {:?}\ntarget = \"income-per-year\"\ntest_fraction = 0.25\n\n[teacher]\n{teacher}\n\n[student]\nhidden = [16]\n\n[distill]\ntemperature = 2.0\nsoft_weight = 0.9\nepochs = 40\nbatch_size = 64\nseed = 11\n{extra}",
        data.display()
    )
}

pub(crate) fn onnx_line() -> String {
    format!("onnx = {:?}", demo_teacher().display().to_string())
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// Polls `check` until it gives a value, failing after a minute. Background work (the log
/// writer, the monitor's windows, a re-distillation) finishes in well under a second on an
/// idle machine but can lag on a busy CI runner; a passing test never waits for the limit.
pub(crate) fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The Python with the client libraries the serving tests drive the server with; `.ci/run`
/// points `DISTILLERY_PYTHON` at the virtual environment it installs them in.
pub(crate) fn python() -> String {
    std::env::var("DISTILLERY_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// True when [`python`] imports `modules` (comma-separated). Elsewhere a test skips,
/// saying so, when they are missing; in CI (`DISTILLERY_REQUIRE_TRITON=1`) it fails.
pub(crate) fn python_has(modules: &str) -> bool {
    let found = Command::new(python())
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("DISTILLERY_REQUIRE_TRITON").is_none(),
            "DISTILLERY_REQUIRE_TRITON is set but {} cannot import {modules}",
            python()
        );
        eprintln!("skipped: {} cannot import {modules}", python());
    }
    found
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a throwaway server with one of the repository's scripts (`scripts/postgres.sh`,
/// `scripts/s3.sh`): `script start <folder> <free port> extra…`, whose output is its URL.
/// `None`, with a message, when it cannot start (not installed); a failure instead when
/// the environment variable `required` is set (CI).
pub(crate) fn script_server(
    script: &str,
    extra: &[&str],
    required: &str,
) -> Option<(String, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("distillery-server")
        .tempdir_in("/tmp")
        .unwrap();
    let out = Command::new(repo().join(script))
        .arg("start")
        .arg(dir.path())
        .arg(free_port().to_string())
        .args(extra)
        .output()
        .unwrap();
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os(required).is_none(),
            "{required} is set but {script} {extra:?} does not start: {why}"
        );
        eprintln!("skipping: {why}");
        return None;
    }
    Some((String::from_utf8_lossy(&out.stdout).trim().to_string(), dir))
}

/// The entry for column `name` in a `distillery drift --json` report.
pub(crate) fn drift_column(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no column {name}: {report}"))
        .clone()
}
