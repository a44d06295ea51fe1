//! A teacher behind an Open Inference Protocol (KServe v2) endpoint, e.g. the big model
//! already served by Triton or MLServer: rows go out as one named tensor per feature.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use distillery_data::{Column, Kind, Table};
use serde_json::{Value, json};

use crate::error::{Result, TeacherError};
use crate::rows::Teacher;

/// Longest a remote teacher may take to answer one request: a hung teacher costs the
/// caller one failed call (live monitoring: one window's fidelity), not a thread forever.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a remote teacher is asked for many rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Rows per request.
    pub batch_rows: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Extra attempts for a request that failed in transport or was answered 429 or 5xx,
    /// after a back-off of `Retry-After` (at most 30 s) or 0.25 s · 2^attempt.
    pub retries: usize,
}

impl Default for RemoteOptions {
    /// One request of up to 1,024 rows at a time, no retry: what live monitoring wants (a
    /// failed window costs one window).
    fn default() -> Self {
        RemoteOptions {
            batch_rows: 1024,
            concurrency: 1,
            retries: 0,
        }
    }
}

/// A model at `http://host/v2/models/<name>`, asked with `POST …/infer`.
pub struct RemoteTeacher {
    url: String,
    features: Vec<(String, Kind)>,
    classes: Vec<String>,
    agent: ureq::Agent,
    options: RemoteOptions,
}

impl RemoteTeacher {
    /// A teacher at `url` (no trailing `/infer`) that takes `features` as named `[n, 1]`
    /// tensors (numbers as FP64, categories as BYTES) and answers `classes` probabilities
    /// in that order (output `probabilities`, else its first output).
    pub fn new(url: &str, features: Vec<(String, Kind)>, classes: &[String]) -> RemoteTeacher {
        RemoteTeacher {
            url: url.trim_end_matches('/').to_string(),
            features,
            classes: classes.to_vec(),
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(REMOTE_TIMEOUT))
                .http_status_as_error(false)
                .build()
                .into(),
            options: RemoteOptions::default(),
        }
    }

    /// The same teacher asked in batches, concurrently, with retries.
    pub fn with_options(mut self, options: RemoteOptions) -> RemoteTeacher {
        self.options = RemoteOptions {
            batch_rows: options.batch_rows.max(1),
            concurrency: options.concurrency.max(1),
            retries: options.retries,
        };
        self
    }

    /// One request for `rows`, retried on transport errors, 429 and 5xx.
    fn label_batch(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let body = self.request(table, rows)?;
        let mut attempt = 0;
        loop {
            let (failure, wait) = match self
                .agent
                .post(&format!("{}/infer", self.url))
                .send_json(&body)
            {
                Ok(mut answer) => {
                    let status = answer.status().as_u16();
                    if status == 200 {
                        let json: Value =
                            answer.body_mut().read_json().map_err(|e| self.error(e))?;
                        return self.probabilities(&json, rows.len());
                    }
                    let retry_after = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0)));
                    let text = answer.body_mut().read_to_string().unwrap_or_default();
                    let failure = format!("answered HTTP {status}: {}", text.trim());
                    if status != 429 && status < 500 {
                        return Err(self.error(failure));
                    }
                    (failure, retry_after)
                }
                Err(e) => (e.to_string(), None),
            };
            if attempt >= self.options.retries {
                let tries = attempt + 1;
                return Err(self.error(format!(
                    "{failure} (after {tries} attempt{})",
                    if tries == 1 { "" } else { "s" }
                )));
            }
            let backoff = Duration::from_millis(250u64 << attempt.min(6));
            tracing::warn!(url = %self.url, attempt = attempt + 1, error = %failure, "teacher request failed; retrying");
            std::thread::sleep(wait.unwrap_or(backoff));
            attempt += 1;
        }
    }

    /// The `n × classes` probabilities in an answer.
    fn probabilities(&self, answer: &Value, n: usize) -> Result<Vec<f32>> {
        let k = self.classes.len();
        let out = answer["outputs"]
            .as_array()
            .and_then(|o| {
                o.iter()
                    .find(|t| t["name"] == "probabilities")
                    .or_else(|| o.first())
            })
            .ok_or_else(|| self.error("answered no outputs"))?;
        let mut flat = Vec::with_capacity(n * k);
        flatten(&out["data"], &mut flat);
        if flat.len() != n * k {
            return Err(self.error(format!(
                "answered {} values for {n} rows of {k} classes",
                flat.len()
            )));
        }
        Ok(flat)
    }

    fn error(&self, message: impl ToString) -> TeacherError {
        TeacherError::Remote {
            url: self.url.clone(),
            message: message.to_string(),
        }
    }

    /// The request body: one tensor per feature.
    fn request(&self, table: &Table, rows: &[usize]) -> Result<Value> {
        let n = rows.len();
        let mut inputs = Vec::with_capacity(self.features.len());
        for (name, kind) in &self.features {
            let c = table
                .column(name)
                .map_err(|e| TeacherError::Feed(e.to_string()))?;
            let cells: Vec<Value> = rows
                .iter()
                .map(|&r| match (kind, c) {
                    (Kind::Numeric, _) => c.number(r).map_or(Value::Null, |x| json!(x)),
                    (_, Column::Text { .. }) => c.text(r).map_or(Value::Null, |t| json!(t)),
                    (_, Column::Numeric(_)) => c
                        .number(r)
                        .map_or(Value::Null, |x| json!(distillery_data::format_number(x))),
                })
                .collect();
            let datatype = if *kind == Kind::Numeric {
                "FP64"
            } else {
                "BYTES"
            };
            inputs
                .push(json!({"name": name, "datatype": datatype, "shape": [n, 1], "data": cells}));
        }
        Ok(json!({ "inputs": inputs }))
    }
}

impl Teacher for RemoteTeacher {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let k = self.classes.len();
        let batches: Vec<&[usize]> = rows.chunks(self.options.batch_rows).collect();
        if batches.len() <= 1 {
            return self.label_batch(table, rows);
        }
        let started = std::time::Instant::now();
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let answers: Vec<Mutex<Option<Result<Vec<f32>>>>> =
            batches.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..self.options.concurrency.min(batches.len()) {
                scope.spawn(|| {
                    loop {
                        let b = next.fetch_add(1, Ordering::SeqCst);
                        let Some(batch) = batches.get(b) else { break };
                        let answer = self.label_batch(table, batch);
                        let failed = answer.is_err();
                        if let Ok(mut slot) = answers[b].lock() {
                            *slot = Some(answer);
                        }
                        if failed {
                            // Stop handing out batches: the whole call fails anyway.
                            next.store(batches.len(), Ordering::SeqCst);
                            break;
                        }
                        let rows_done = done.fetch_add(batch.len(), Ordering::SeqCst) + batch.len();
                        let seconds = started.elapsed().as_secs_f64().max(1e-9);
                        tracing::info!(
                            url = %self.url,
                            "teacher labelled {rows_done} of {} rows ({:.0} rows/s)",
                            rows.len(),
                            rows_done as f64 / seconds
                        );
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(rows.len() * k);
        for slot in answers {
            match slot.into_inner().ok().flatten() {
                Some(Ok(p)) => out.extend(p),
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        if out.len() != rows.len() * k {
            return Err(self.error("stopped before labelling every row"));
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("Open Inference Protocol teacher at {}", self.url)
    }
}

/// The numbers of a (nested) JSON array, in order; anything else becomes NaN.
fn flatten(v: &Value, out: &mut Vec<f32>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other.as_f64().map_or(f32::NAN, |x| x as f32)),
    }
}
