//! Traffic for the monitoring tests: requests built from the Adult sample, a served
//! student whose log is kept, and a server watched by its monitor.

use crate::serve::{post, serve_with};
use crate::util::{Setup, data};

/// Serves the production student with its prediction log in `log`, sends the Adult
/// sample's rows `rows` in batches of 100 (ages moved by `older` years), and stops the
/// server so every record is on disk.
pub(crate) fn log_traffic(s: &Setup, log: &str, rows: std::ops::Range<usize>, older: f64) {
    let server = serve_with(s.dir.path(), &["--log-dir", log]);
    for from in rows.step_by(100) {
        let (status, r) = post(
            &format!("{}/v2/models/r/infer", server.base),
            &adult_batch(from, 100, older),
        );
        assert_eq!(status, 200, "{r}");
    }
    server.stop();
}

/// Serves with `serve.toml` set to `config`, where `TEACHER` stands for the demo teacher's
/// path, and the admin token `s3cret` (for the rollback and redistill actions).
pub(crate) fn serve_watched(s: &Setup, config: &str, extra: &[&str]) -> crate::serve::Server {
    let teacher = format!("{:?}", crate::util::demo_teacher().display().to_string());
    s.write("serve.toml", &config.replace("TEACHER", &teacher));
    let mut args = vec!["--config", "serve.toml"];
    args.extend(extra);
    crate::serve::serve_env(s.dir.path(), &args, &[("DISTILLERY_ADMIN_TOKEN", "s3cret")])
}

/// A request of `n` Adult-sample rows starting at `from`, with `age` moved by `age_shift`.
pub(crate) fn adult_batch(from: usize, n: usize, age_shift: f64) -> String {
    adult_batch_moved(from, n, "age", age_shift)
}

/// A request of `n` Adult-sample rows starting at `from`, with `column` moved by `shift`.
pub(crate) fn adult_batch_moved(from: usize, n: usize, column: &str, shift: f64) -> String {
    let text = std::fs::read_to_string(data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .skip(from)
        .take(n)
        .map(|l| l.split(',').collect())
        .collect();
    let inputs: Vec<serde_json::Value> = header[..14]
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let numeric = rows.iter().all(|r| r[j].parse::<f64>().is_ok());
            let cells: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| match (numeric, r[j].parse::<f64>()) {
                    (true, Ok(x)) if *name == column => serde_json::json!(x + shift),
                    (true, Ok(x)) => serde_json::json!(x),
                    _ if r[j] == "?" => serde_json::Value::Null,
                    _ => serde_json::json!(r[j]),
                })
                .collect();
            let datatype = if numeric { "FP64" } else { "BYTES" };
            serde_json::json!({"name": name, "shape": [rows.len()], "datatype": datatype, "data": cells})
        })
        .collect();
    serde_json::json!({ "inputs": inputs }).to_string()
}
