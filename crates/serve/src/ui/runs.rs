//! The runs a console shows: every `runs/<run-id>/report.json`, summarised once and kept
//! in memory (re-read only when the file changes), so a page over a thousand runs costs a
//! directory listing, not a thousand JSON parses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::Value;

/// What the runs table shows of one run.
#[derive(Debug, Clone)]
pub(crate) struct RunSummary {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: String,
    pub(crate) teacher: String,
    pub(crate) teacher_accuracy: Option<f64>,
    pub(crate) accuracy: Option<f64>,
    pub(crate) fidelity: Option<f64>,
    pub(crate) bytes: Option<f64>,
    pub(crate) latency_us: Option<f64>,
    /// `(gate, passed)` in the report's order.
    pub(crate) gates: Vec<(String, bool)>,
}

/// The few fields of `report.json` the table needs; serde skips the rest without
/// building it, which is what keeps a thousand reports cheap to index.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Head {
    kind: String,
    name: String,
    created: String,
    teacher: Model,
    student: Model,
    gates: Vec<Gate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Model {
    kind: String,
    accuracy: Option<f64>,
    fidelity: Option<f64>,
    bytes: Option<f64>,
    latency_us: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Gate {
    gate: String,
    passed: bool,
}

impl RunSummary {
    /// True when every gate passed (a run without gates passes).
    pub(crate) fn passed(&self) -> bool {
        self.gates.iter().all(|(_, p)| *p)
    }

    fn from_head(id: &str, h: Head) -> RunSummary {
        RunSummary {
            id: id.to_string(),
            name: h.name,
            created: h.created,
            teacher: h.teacher.kind,
            teacher_accuracy: h.teacher.accuracy,
            accuracy: h.student.accuracy,
            fidelity: h.student.fidelity,
            bytes: h.student.bytes,
            latency_us: h.student.latency_us,
            gates: h.gates.into_iter().map(|g| (g.gate, g.passed)).collect(),
        }
    }
}

/// The run folder, summarised.
pub(crate) struct RunIndex {
    dir: PathBuf,
    /// Run id → (report.json's modification time, its summary).
    cache: Mutex<BTreeMap<String, (SystemTime, RunSummary)>>,
}

impl RunIndex {
    /// An index over `dir` (`runs/`); nothing is read until the first page.
    pub(crate) fn new(dir: &Path) -> RunIndex {
        RunIndex {
            dir: dir.to_path_buf(),
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The folder the runs are in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every run with a readable report, newest first. A report that changed since the
    /// last look is read again; one that vanished is dropped.
    pub(crate) fn all(&self) -> Vec<RunSummary> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let Ok(mut cache) = self.cache.lock() else {
            return Vec::new();
        };
        let mut present = std::collections::BTreeSet::new();
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') {
                continue;
            }
            let path = e.path().join("report.json");
            let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
                continue;
            };
            present.insert(id.clone());
            if cache.get(&id).is_some_and(|(m, _)| *m == modified) {
                continue;
            }
            let Some(head) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Head>(&b).ok())
                .filter(|h| h.kind == "run")
            else {
                continue;
            };
            cache.insert(id.clone(), (modified, RunSummary::from_head(&id, head)));
        }
        cache.retain(|id, _| present.contains(id));
        let mut runs: Vec<RunSummary> = cache.values().map(|(_, r)| r.clone()).collect();
        runs.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        runs
    }

    /// A run's whole report, read when one run's page needs it.
    pub(crate) fn report(&self, id: &str) -> Option<Value> {
        if !super::safe_segment(id) {
            return None;
        }
        let bytes = std::fs::read(self.dir.join(id).join("report.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// How the runs table is ordered.
pub(crate) fn sort(runs: &mut [RunSummary], key: &str, descending: bool) {
    let by = |r: &RunSummary| -> Option<f64> {
        match key {
            "accuracy" => r.accuracy,
            "fidelity" => r.fidelity,
            "bytes" => r.bytes,
            "latency" => r.latency_us,
            "teacher_accuracy" => r.teacher_accuracy,
            _ => None,
        }
    };
    match key {
        "name" => runs.sort_by(|a, b| a.name.cmp(&b.name).then(a.created.cmp(&b.created))),
        "created" | "" => runs.sort_by(|a, b| a.created.cmp(&b.created)),
        _ => runs.sort_by(|a, b| {
            by(a)
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&by(b).unwrap_or(f64::NEG_INFINITY))
        }),
    }
    if descending {
        runs.reverse();
    }
}

/// Whether a run matches the filter text (model name, run id or teacher, any case).
pub(crate) fn matches(r: &RunSummary, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty()
        || r.name.to_lowercase().contains(&q)
        || r.id.to_lowercase().contains(&q)
        || r.teacher.to_lowercase().contains(&q)
}
