//! `distillery redistill --model m --recipe recipe.toml --log-dir predictions`: closes the
//! loop. The most recent logged inputs are labelled by the recipe's teacher (never by the
//! student, which would only teach it its own mistakes), a new student is distilled with
//! the same recipe on them, its gates run, it is registered, and it is deployed as a
//! canary (through the server's admin API when `--server` is given), so promotion still
//! goes through the guardrails. Old and new students are compared with the teacher on a
//! held-out share of the same traffic. Exit 1 when the new student fails a gate or agrees
//! with the teacher less than production does there; it is then neither registered nor
//! deployed.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_monitor::Profile;
use distillery_registry::{Change, Reference};
use distillery_runtime::Student;
use serde_json::json;

use crate::cli::RedistillArgs;
use crate::environment;
use crate::exit::ExitStatus;
use crate::progress::Terminal;
use distillery_pipeline::Progress as _;
use distillery_pipeline::recipe::Recipe;
use distillery_pipeline::redistill::{Redistill, redistill};
use distillery_serve::TeacherSource;

/// Fewest logged rows worth re-distilling on.
const MIN_ROWS: usize = 50;

pub(crate) fn run(args: &RedistillArgs, progress: Terminal) -> Result<ExitStatus> {
    if !(0.05..=0.5).contains(&args.holdout) {
        bail!("--holdout {} must be between 0.05 and 0.5", args.holdout);
    }
    if args.canary_weight > 100 {
        bail!(
            "--canary-weight {} must be between 0 and 100",
            args.canary_weight
        );
    }
    let registry = crate::registry_access::open(&args.options)?;
    let actor = args
        .options
        .actor
        .clone()
        .unwrap_or_else(|| "redistill".into());
    let stable = registry
        .resolve(&Reference::parse(&format!("{}@production", args.model))?)
        .with_context(|| format!("{} has no production version to re-distil", args.model))?;
    let profile: Profile = serde_json::from_slice(&registry.load(&stable, "profile")?)
        .with_context(|| format!("{}'s profile.json does not parse", stable.label()))?;
    let features = profile.features();

    // The recipe first: it is cheap to check, and a bad one wastes no reading of the log.
    let (recipe, text) = Recipe::load(&args.recipe)?;
    let teacher_path = recipe.teacher.onnx.clone().context(
        "re-distillation labels traffic with the recipe's ONNX teacher, and this recipe's teacher is not an ONNX model",
    )?;

    // 1. Recent traffic, labelled by the teacher.
    let traffic = distillery_monitor::log::read_log(&args.log_dir, &features, Some(&args.model))?;
    let n_all = traffic.table.n_rows();
    let recent: Vec<usize> = (n_all.saturating_sub(args.rows)..n_all).collect();
    let table = traffic.table.take(&recent);
    let n = table.n_rows();
    if n < MIN_ROWS {
        bail!(
            "the prediction log holds {n} rows of {}; re-distillation needs at least {MIN_ROWS}",
            args.model
        );
    }
    progress.stage(&format!("labelling {n} logged rows with the teacher"));
    // A transformer teacher reads the text column through its tokenizer.
    let source = match recipe.teacher.tokenizer.clone() {
        Some(tokenizer) => TeacherSource::Text {
            onnx: teacher_path,
            tokenizer,
        },
        None => TeacherSource::Onnx(teacher_path),
    };
    let teacher = distillery_serve::teacher_for(&source, &profile).map_err(anyhow::Error::msg)?;
    let old = Student::from_bytes(&registry.load(&stable, "student")?)?;
    let stamp = distillery_pipeline::now_rfc3339().replace([':', '-'], "");
    let work = args
        .log_dir
        .join(format!("redistill-{}-{stamp}", args.model));
    let job = Redistill {
        recipe_text: &text,
        target: &recipe.data.target,
        model: &args.model,
        traffic: &table,
        features: &features,
        teacher: teacher.as_ref(),
        old: &old,
        holdout: args.holdout,
        seed: args.seed,
        work: &work,
        recipe: &recipe,
    };
    let done = redistill(
        &job,
        &environment::run_options(work.join("runs"), false, &progress),
    )?;
    let (outcome, fidelity_before, fidelity_after) =
        (&done.run, done.fidelity_before, done.fidelity_after);
    let gates_passed = outcome.report.gates.iter().all(|g| g.passed);

    let mut doc = json!({
        "model": args.model,
        "stable_version": stable.version,
        "rows": n,
        "fit_rows": done.fit_rows,
        "holdout_rows": done.holdout_rows,
        "fidelity_before": fidelity_before,
        "fidelity_after": fidelity_after,
        "gates_passed": gates_passed,
        "run_dir": outcome.run_dir,
    });
    // The evidence a person approves on: kept in the run, and with the version.
    let alert = std::env::var("DISTILLERY_ALERT")
        .ok()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
        .map(|a| a.get("alert").cloned().unwrap_or(a));
    let evidence = json!({
        "schema": "distillery-redistill/1",
        "model": args.model,
        "stable_version": stable.version,
        "why": args.why,
        "alert": alert,
        "rows": n,
        "fit_rows": done.fit_rows,
        "holdout_rows": done.holdout_rows,
        "fidelity_before": fidelity_before,
        "fidelity_after": fidelity_after,
        "gates_passed": gates_passed,
        "slices": done.slices,
    });
    let evidence_path = outcome.run_dir.join("redistill.json");
    distillery_runtime::write_atomic(&evidence_path, &serde_json::to_vec_pretty(&evidence)?)
        .with_context(|| format!("writing {}", evidence_path.display()))?;
    doc["worse_slices"] = json!(done.slices.iter().filter(|s| s.loss() > 0.0).count());
    // A student that agrees with the teacher less than production does on the same held-out
    // traffic is no fix, whatever its gates say: it is kept in its run, never deployed.
    let not_worse = fidelity_after >= fidelity_before;
    doc["not_worse"] = json!(not_worse);
    let status = if gates_passed && !not_worse {
        doc["deployed"] = json!(format!(
            "nothing: the new student agrees with the teacher on {fidelity_after:.4} of the held-out traffic, version {} on {fidelity_before:.4}; log more traffic (--rows) and try again",
            stable.version
        ));
        ExitStatus::GateFailed
    } else if gates_passed {
        let why = format!(
            "{}; re-distilled on {} logged rows labelled by the teacher; held-out fidelity {:.4} → {:.4}",
            args.why, done.fit_rows, fidelity_before, fidelity_after
        );
        let change = Change {
            actor: &actor,
            why: &why,
        };
        let version = registry.register_run(&outcome.run_dir, &actor, &why)?;
        doc["new_version"] = json!(version.version);
        doc["deployed"] = json!(deploy(args, &registry, version.version, &change)?);
        ExitStatus::Ok
    } else {
        doc["deployed"] = json!("nothing: the new student failed a gate");
        ExitStatus::GateFailed
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}: held-out fidelity {fidelity_before:.4} (version {}) → {fidelity_after:.4} (new); {}",
            args.model, stable.version, doc["deployed"]
        )?;
    }
    Ok(status)
}

/// Deploys the new version as a canary (or leaves it for a person); says what was done.
fn deploy(
    args: &RedistillArgs,
    registry: &distillery_registry::Registry,
    version: u32,
    change: &Change<'_>,
) -> Result<String> {
    if args.require_approval {
        registry.store().set_tag(
            &args.model,
            version,
            "redistill",
            "awaiting approval",
            change,
        )?;
        return Ok(format!("version {version} registered, awaiting approval"));
    }
    let Some(server) = &args.server else {
        registry.store().set_alias(
            &args.model,
            "canary",
            Some(version),
            "redistill canary",
            change,
        )?;
        return Ok(format!("version {version} set as the registry's canary"));
    };
    let token = crate::environment::admin_token()
        .context("deploying through --server needs the admin token in DISTILLERY_ADMIN_TOKEN")?;
    let url = format!(
        "{}/admin/models/{}/canary",
        server.trim_end_matches('/'),
        args.model
    );
    let body = json!({ "version": version, "weight": args.canary_weight, "why": change.why });
    let mut answer = ureq::post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .send_json(&body)
        .with_context(|| format!("calling {url}"))?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        bail!("the server refused the canary ({status}): {text}");
    }
    Ok(format!(
        "version {version} deployed as a {}% canary on {server}",
        args.canary_weight
    ))
}
