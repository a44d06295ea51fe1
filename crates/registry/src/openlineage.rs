//! OpenLineage 2-0-2 run events for a registered version, so existing lineage tools can
//! ingest how it was made: a START and a COMPLETE event of the training run, with the
//! training and test files and the teacher as inputs and the registered version as output.

use serde_json::{Value, json};

use crate::registry::Lineage;

/// The spec version the events follow.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// The standard dataset-version facet (the training data's fingerprint, the version number).
const DATASET_VERSION: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";

/// The standard job-type facet: a batch job of the DISTILLERY integration.
const JOB_TYPE: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";

const FACET_SCHEMA: &str =
    "https://github.com/distillery-ml/distillery/blob/main/docs/report-schema.md";

/// A deterministic UUID (RFC 9562 version 8, "custom") derived from the run id, so the
/// same run always gets the same OpenLineage runId.
pub fn run_uuid(run_id: &str) -> String {
    let h = blake3::hash(run_id.as_bytes());
    let mut b: [u8; 16] = h.as_bytes()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// START and COMPLETE events of the run that made the version.
pub fn events(lineage: &Lineage, producer: &str) -> Vec<Value> {
    let v = &lineage.version;
    let run = lineage.run.as_ref();
    let run_id = run.map_or(v.run_id.as_str(), |r| r.run_id.as_str());
    let ended = run.map_or(v.created.clone(), |r| r.ended.clone());
    let seconds = run.map_or(0.0, |r| r.seconds);
    let started = humantime::parse_rfc3339_weak(&ended)
        .ok()
        .map(|t| t - std::time::Duration::from_secs_f64(seconds.max(0.0)))
        .map_or(ended.clone(), |t| {
            humantime::format_rfc3339_millis(t).to_string()
        });
    let facet = |body: Value| -> Value {
        let mut f = json!({ "_producer": producer, "_schemaURL": FACET_SCHEMA });
        if let (Some(obj), Value::Object(extra)) = (f.as_object_mut(), body) {
            obj.extend(extra);
        }
        f
    };
    // A standard facet: its schema is the spec's own, so any OpenLineage consumer reads it.
    let standard = |schema: &str, body: Value| -> Value {
        let mut f = json!({ "_producer": producer, "_schemaURL": schema });
        if let (Some(obj), Value::Object(extra)) = (f.as_object_mut(), body) {
            obj.extend(extra);
        }
        f
    };
    let version_facet =
        |version: &str| standard(DATASET_VERSION, json!({ "datasetVersion": version }));
    let mut inputs = Vec::new();
    if let Some(d) = &lineage.dataset {
        let data_facet =
            facet(json!({ "fingerprint": d.fingerprint, "rows": d.rows, "classes": d.classes }));
        let facets =
            json!({ "distillery_dataset": data_facet, "version": version_facet(&d.fingerprint) });
        inputs.push(json!({ "namespace": "file", "name": d.source, "facets": facets }));
        if let Some(t) = &d.test_source {
            inputs.push(json!({ "namespace": "file", "name": t, "facets": facets }));
        }
    }
    if let Some(r) = run.filter(|r| !r.teacher.is_empty()) {
        inputs.push(json!({ "namespace": "distillery-teacher", "name": r.teacher, "facets": {} }));
    }
    let artifacts: Vec<Value> = v
        .artifacts
        .iter()
        .map(|a| json!({ "role": a.role, "file": a.file, "blake3": a.hash, "bytes": a.bytes }))
        .collect();
    let outputs = vec![json!({
        "namespace": "distillery-registry",
        "name": v.label(),
        "facets": {
            "distillery_artifacts": facet(json!({ "artifacts": artifacts, "aliases": lineage.aliases })),
            "version": version_facet(&v.version.to_string()),
        }
    })];
    let job_facets = json!({
        "jobType": standard(JOB_TYPE, json!({ "processingType": "BATCH", "integration": "DISTILLERY", "jobType": "DISTILLATION" })),
    });
    let run_facets = json!({
        "distillery_run": facet(json!({
            "run_id": run_id,
            "seed": run.map(|r| r.seed),
            "recipe_hash": run.map(|r| r.recipe_hash.clone()),
            "tool_version": run.map(|r| r.tool_version.clone()),
            "metrics": run.map(|r| r.metrics.clone()),
            "gates_passed": v.gates_passed,
        }))
    });
    let event = |kind: &str, time: &str, with_outputs: bool| {
        json!({
            "eventType": kind,
            "eventTime": time,
            "run": { "runId": run_uuid(run_id), "facets": run_facets },
            "job": { "namespace": "distillery", "name": v.name, "facets": job_facets },
            "inputs": inputs,
            "outputs": if with_outputs { outputs.clone() } else { Vec::new() },
            "producer": producer,
            "schemaURL": SCHEMA_URL,
        })
    };
    vec![
        event("START", &started, false),
        event("COMPLETE", &ended, true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_uuids_are_stable_version_8_uuids() {
        let u = run_uuid("adult-demo-1");
        assert_eq!(u, run_uuid("adult-demo-1"));
        assert_ne!(u, run_uuid("adult-demo-2"));
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }
}
