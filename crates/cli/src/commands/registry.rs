//! `distillery registry …` and `distillery lineage`: the registry from the command line.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_registry::{Change, ModelVersion, Reference, Registry};
use serde_json::json;

use crate::cli::{LineageArgs, RegistryArgs, RegistryCommand};
use crate::exit::ExitStatus;
use crate::registry_access::{actor, open, open_or_create};

/// Opens the registry named by the options.
pub(crate) fn run(args: &RegistryArgs) -> Result<ExitStatus> {
    if let RegistryCommand::Migrate {
        from,
        to,
        to_objects,
        json,
    } = &args.command
    {
        return migrate(from, to, to_objects.as_deref(), *json);
    }
    let reg = match &args.command {
        RegistryCommand::Add { .. } => open_or_create(&args.options)?,
        _ => open(&args.options)?,
    };
    let actor = actor(&args.options);
    let mut out = std::io::stdout().lock();
    match &args.command {
        RegistryCommand::Ls { name, json } => {
            let versions = reg.store().versions(name.as_deref())?;
            if *json {
                serde_json::to_writer_pretty(&mut out, &versions)?;
                writeln!(out)?;
                return Ok(ExitStatus::Ok);
            }
            if versions.is_empty() {
                writeln!(out, "the registry in {} is empty", reg.dir().display())?;
            }
            for v in &versions {
                let aliases: Vec<String> = reg
                    .store()
                    .aliases(&v.name)?
                    .into_iter()
                    .filter(|(_, n)| *n == v.version)
                    .map(|(a, _)| format!("@{a}"))
                    .collect();
                let run = reg.store().run(&v.run_id)?;
                let metric = |k: &str| {
                    run.as_ref()
                        .and_then(|r| r.metrics.get(k))
                        .map_or("–".to_string(), |m| format!("{m:.4}"))
                };
                writeln!(
                    out,
                    "{:<24} accuracy {} fidelity {} gates {:<6} {} {}",
                    v.label(),
                    metric("accuracy"),
                    metric("fidelity"),
                    if v.gates_passed { "passed" } else { "FAILED" },
                    v.created,
                    aliases.join(" ")
                )?;
            }
        }
        RegistryCommand::Show { reference, json } => {
            let v = reg.resolve(&Reference::parse(reference)?)?;
            let lineage = reg.lineage(&v)?;
            let tags = reg.store().tags(&v.name, v.version)?;
            if *json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &json!({ "lineage": lineage, "tags": tags }),
                )?;
                writeln!(out)?;
                return Ok(ExitStatus::Ok);
            }
            writeln!(
                out,
                "{}  (run {}, registered {} by {})",
                v.label(),
                v.run_id,
                v.created,
                v.actor
            )?;
            writeln!(
                out,
                "gates: {}",
                if v.gates_passed {
                    "all passed"
                } else {
                    "a gate FAILED"
                }
            )?;
            if !lineage.aliases.is_empty() {
                writeln!(out, "aliases: {}", lineage.aliases.join(", "))?;
            }
            for (k, val) in &tags {
                writeln!(out, "tag {k} = {val}")?;
            }
            if let Some(r) = &lineage.run {
                for (k, m) in &r.metrics {
                    writeln!(out, "{k:<12} {m:.4}")?;
                }
            }
            for a in &v.artifacts {
                writeln!(
                    out,
                    "artifact {:<12} {:<26} {:>9} bytes  blake3 {}",
                    a.role,
                    a.file,
                    a.bytes,
                    &a.hash[..16]
                )?;
            }
        }
        RegistryCommand::Add { run, why } => {
            let v = reg.register_run(run, &actor, why)?;
            writeln!(out, "registered {} from {}", v.label(), run.display())?;
        }
        RegistryCommand::Promote {
            reference,
            to,
            why,
            force,
        } => {
            let v = reg.resolve(&Reference::parse(reference)?)?;
            let previous = reg.promote(&v, to, *force, &Change { actor: &actor, why })?;
            match previous {
                Some(p) => writeln!(out, "{}@{to}: version {p} → {}", v.name, v.version)?,
                None => writeln!(out, "{}@{to} → {}", v.name, v.version)?,
            }
        }
        RegistryCommand::Rollback { name, alias, why } => {
            let (from, to) = reg.rollback(name, alias, &Change { actor: &actor, why })?;
            writeln!(
                out,
                "{name}@{alias}: rolled back from version {from} to {to}"
            )?;
        }
        RegistryCommand::Tag {
            reference,
            tag,
            why,
        } => {
            let v = reg.resolve(&Reference::parse(reference)?)?;
            let Some((k, val)) = tag.split_once('=') else {
                bail!("tag '{tag}' needs the form key=value");
            };
            reg.store().set_tag(
                &v.name,
                v.version,
                k.trim(),
                val.trim(),
                &Change { actor: &actor, why },
            )?;
            writeln!(out, "{}: {} = {}", v.label(), k.trim(), val.trim())?;
        }
        RegistryCommand::Diff { a, b, json } => {
            let va = reg.resolve(&Reference::parse(a)?)?;
            let vb = reg.resolve(&Reference::parse(b)?)?;
            let rows = diff_rows(&reg, &va, &vb)?;
            if *json {
                let doc: Vec<_> = rows
                    .iter()
                    .map(|(k, x, y)| json!({ "measure": k, "a": x, "b": y }))
                    .collect();
                serde_json::to_writer_pretty(
                    &mut out,
                    &json!({ "a": va.label(), "b": vb.label(), "rows": doc }),
                )?;
                writeln!(out)?;
                return Ok(ExitStatus::Ok);
            }
            writeln!(
                out,
                "{:<28} {:>14} {:>14} {:>10}",
                "",
                va.label(),
                vb.label(),
                "Δ"
            )?;
            for (k, x, y) in rows {
                let fmt = |v: &serde_json::Value| match v {
                    serde_json::Value::Number(n) => {
                        format!("{:.4}", n.as_f64().unwrap_or(f64::NAN))
                    }
                    serde_json::Value::Null => "–".into(),
                    other => other.to_string().trim_matches('"').to_string(),
                };
                let delta = match (x.as_f64(), y.as_f64()) {
                    (Some(p), Some(q)) => format!("{:+.4}", q - p),
                    _ => String::new(),
                };
                writeln!(out, "{k:<28} {:>14} {:>14} {delta:>10}", fmt(&x), fmt(&y))?;
            }
        }
        RegistryCommand::Audit { name, json } => {
            let entries = reg.store().audit(name.as_deref())?;
            if *json {
                serde_json::to_writer_pretty(&mut out, &entries)?;
                writeln!(out)?;
                return Ok(ExitStatus::Ok);
            }
            for e in entries {
                writeln!(
                    out,
                    "{:>4} {} {:<10} {:<18} {:<28} {} {}",
                    e.id, e.at, e.actor, e.action, e.target, e.details, e.why
                )?;
            }
        }
        RegistryCommand::Get {
            reference,
            artifact,
            out: path,
        } => {
            let v = reg.resolve(&Reference::parse(reference)?)?;
            let bytes = reg.load(&v, artifact)?;
            distillery_runtime::write_atomic(path, &bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(
                out,
                "wrote {} of {} to {}",
                artifact,
                v.label(),
                path.display()
            )?;
        }
        RegistryCommand::Config { file, why } => {
            if let Some(path) = file {
                if why.trim().is_empty() {
                    bail!("a policy change needs a reason: add --why \"...\"");
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut reg = reg;
                reg.set_config(&text, &Change { actor: &actor, why })?;
                writeln!(
                    out,
                    "stored the policy of {} in the registry",
                    path.display()
                )?;
            } else {
                let c = &reg.config().registry;
                writeln!(out, "require_signature = {}", c.require_signature)?;
                writeln!(out, "trusted_keys = {:?}", c.trusted_keys)?;
            }
        }
        // Returned above, before a registry was opened.
        RegistryCommand::Migrate { .. } => {}
        RegistryCommand::Verify => {
            let problems = reg.verify()?;
            let versions = reg.store().versions(None)?.len();
            if problems.is_empty() {
                writeln!(
                    out,
                    "{versions} versions, every artifact verified, database ok"
                )?;
            } else {
                for p in &problems {
                    writeln!(out, "{p}")?;
                }
                writeln!(
                    out,
                    "{} inconsistencies in {}",
                    problems.len(),
                    reg.dir().display()
                )?;
                return Ok(ExitStatus::GateFailed);
            }
        }
    }
    Ok(ExitStatus::Ok)
}

/// Metrics, slice gap and gates of two versions, from their stored reports.
fn diff_rows(
    reg: &Registry,
    a: &ModelVersion,
    b: &ModelVersion,
) -> Result<Vec<(String, serde_json::Value, serde_json::Value)>> {
    let report = |v: &ModelVersion| -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&reg.load(v, "report")?)?)
    };
    let (ra, rb) = (report(a)?, report(b)?);
    let mut rows = Vec::new();
    for (label, path) in [
        ("accuracy", "/student/accuracy"),
        ("macro-F1", "/student/macro_f1"),
        ("log loss", "/student/log_loss"),
        ("fidelity", "/student/fidelity"),
        ("ECE", "/student/quality/ece"),
        ("latency µs", "/student/latency_us"),
        ("bytes", "/student/bytes"),
        ("largest slice gap", "/slices/gap/gap"),
        ("teacher accuracy", "/teacher/accuracy"),
    ] {
        let get =
            |r: &serde_json::Value| r.pointer(path).cloned().unwrap_or(serde_json::Value::Null);
        rows.push((label.to_string(), get(&ra), get(&rb)));
    }
    let gates = |r: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        r["gates"]
            .as_array()
            .map(|g| {
                g.iter()
                    .map(|g| {
                        let verdict = if g["passed"] == true { "pass" } else { "FAIL" };
                        (
                            format!("gate {}", g["gate"].as_str().unwrap_or("?")),
                            json!(format!("{} ({})", verdict, g["value"])),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ga, gb) = (gates(&ra), gates(&rb));
    let mut names: Vec<&String> = ga.iter().chain(&gb).map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    for n in names {
        let find = |g: &[(String, serde_json::Value)]| {
            g.iter()
                .find(|(k, _)| k == n)
                .map_or(serde_json::Value::Null, |(_, v)| v.clone())
        };
        rows.push((n.clone(), find(&ga), find(&gb)));
    }
    Ok(rows)
}

/// `distillery lineage REF`.
pub(crate) fn lineage(args: &LineageArgs) -> Result<ExitStatus> {
    let reg = open(&args.options)?;
    let v = reg.resolve(&Reference::parse(&args.reference)?)?;
    let l = reg.lineage(&v)?;
    let mut out = std::io::stdout().lock();
    match (args.json, args.format.as_str()) {
        (true, _) | (false, "json") => {
            serde_json::to_writer_pretty(&mut out, &l)?;
            writeln!(out)?;
            return Ok(ExitStatus::Ok);
        }
        (false, "openlineage") => {
            let producer = format!(
                "https://github.com/distillery-ml/distillery/tree/v{}",
                env!("CARGO_PKG_VERSION")
            );
            for e in distillery_registry::openlineage::events(&l, &producer) {
                serde_json::to_writer(&mut out, &e)?;
                writeln!(out)?;
            }
            return Ok(ExitStatus::Ok);
        }
        (false, "text") => {}
        (false, other) => bail!("--format {other} is unknown; use text, json or openlineage"),
    }
    if let Some(d) = &l.dataset {
        writeln!(
            out,
            "dataset  {} ({} rows; train {}{})",
            &d.fingerprint[..16.min(d.fingerprint.len())],
            d.rows,
            d.source,
            d.test_source
                .as_ref()
                .map(|t| format!(", test {t}"))
                .unwrap_or_default()
        )?;
    }
    if let Some(r) = &l.run {
        writeln!(out, "  → teacher {}", r.teacher)?;
        writeln!(
            out,
            "  → run {} (recipe {}, seed {}, distillery {}, {})",
            r.run_id,
            &r.recipe_hash[..16.min(r.recipe_hash.len())],
            r.seed,
            r.tool_version,
            r.ended
        )?;
    }
    let student = v.artifact("student").map(|a| &a.hash[..16]).unwrap_or("");
    writeln!(
        out,
        "  → version {} (student blake3 {student}, gates {})",
        v.label(),
        if v.gates_passed { "passed" } else { "FAILED" }
    )?;
    for e in &l.events {
        if e.action != "register" {
            writeln!(
                out,
                "  → {} {} by {} at {}{}",
                e.action,
                e.target,
                e.actor,
                e.at,
                if e.why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", e.why)
                }
            )?;
        }
    }
    Ok(ExitStatus::Ok)
}

/// `registry migrate`: every artifact, then every row, into an empty registry.
fn migrate(from: &str, to: &str, to_objects: Option<&str>, json: bool) -> Result<ExitStatus> {
    let location =
        |text: &str| std::path::PathBuf::from(text.strip_prefix("sqlite://").unwrap_or(text));
    let (from_path, to_path) = (location(from), location(to));
    let shown = |text: &str| distillery_registry::redact(text);
    if !distillery_registry::is_postgres(from) && !from_path.join("registry.db").exists() {
        bail!(
            "--from {}: no registry there (no registry.db); give the folder a registry lives in, or postgres://…",
            from_path.display()
        );
    }
    let source = Registry::open(&from_path)
        .with_context(|| format!("opening the registry {}", shown(from)))?;
    let target = Registry::open_with(&to_path, to_objects)
        .with_context(|| format!("opening the registry {}", shown(to)))?;
    let started = std::time::Instant::now();
    let dump = source
        .migrate_to(&target)
        .with_context(|| format!("migrating {} to {}", shown(from), shown(to)))?;
    let objects: std::collections::BTreeSet<&str> = dump
        .versions
        .iter()
        .flat_map(|v| v.artifacts.iter().map(|a| a.hash.as_str()))
        .collect();
    let problems = target.verify()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &json!({
                "from": shown(from), "to": shown(to),
                "datasets": dump.datasets.len(), "runs": dump.runs.len(),
                "versions": dump.versions.len(), "aliases": dump.aliases.len(),
                "alias_changes": dump.alias_history.len(), "tags": dump.tags.len(),
                "audit_entries": dump.audit.len(), "signatures": dump.signatures.len(),
                "objects": objects.len(), "problems": problems,
                "seconds": started.elapsed().as_secs_f64(),
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "copied {} and {} objects from {} to {} in {:.1} s",
            dump.summary(),
            objects.len(),
            shown(from),
            shown(to),
            started.elapsed().as_secs_f64()
        )?;
        for p in &problems {
            writeln!(out, "{p}")?;
        }
    }
    Ok(if problems.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::GateFailed
    })
}
