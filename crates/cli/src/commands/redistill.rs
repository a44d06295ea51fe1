//! `distillery redistill --model m --recipe recipe.toml --log-dir predictions`: closes the
//! loop. The most recent logged inputs are labelled by the recipe's teacher (never by the
//! student, which would only teach it its own mistakes), a new student is distilled with
//! the same recipe on them, its gates run, it is registered, and it is deployed as a
//! canary (through the server's admin API when `--server` is given), so promotion still
//! goes through the guardrails. Old and new students are compared with the teacher on a
//! held-out share of the same traffic. Exit 1 when the new student fails a gate.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use distillery_data::{Kind, Table};
use distillery_monitor::Profile;
use distillery_registry::{Change, Reference};
use distillery_runtime::Student;
use distillery_train::encode_rows;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::cli::RedistillArgs;
use crate::environment;
use crate::exit::ExitStatus;
use crate::progress::Terminal;
use distillery_pipeline::Progress as _;
use distillery_pipeline::recipe::Recipe;
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
    let classes = profile
        .prediction
        .as_ref()
        .map(|p| p.classes.clone())
        .context("the production version's profile has no classes")?;
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
    let teacher = distillery_serve::teacher_for(&TeacherSource::Onnx(teacher_path), &profile)
        .map_err(anyhow::Error::msg)?;
    let all: Vec<usize> = (0..n).collect();
    let k = teacher.classes().len().max(1);
    let teacher_p: Vec<Vec<f64>> = teacher
        .label(&table, &all)?
        .chunks_exact(k)
        .map(|row| row.iter().map(|&p| f64::from(p)).collect())
        .collect();

    // 2. Hold out a share to compare the old and new students with the teacher.
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(args.seed));
    let held = ((n as f64) * args.holdout).round() as usize;
    let (mut hold, mut fit) = (order[..held].to_vec(), order[held..].to_vec());
    hold.sort_unstable();
    fit.sort_unstable();
    let stamp = distillery_pipeline::now_rfc3339().replace([':', '-'], "");
    let work = args
        .log_dir
        .join(format!("redistill-{}-{stamp}", args.model));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let target = &recipe.data.target;
    let train_csv = work.join("traffic.csv");
    write_labelled(
        &train_csv, &table, &features, &fit, &teacher_p, &classes, target,
    )?;
    write_labelled(
        &work.join("holdout.csv"),
        &table,
        &features,
        &hold,
        &teacher_p,
        &classes,
        target,
    )?;

    // 3. The same recipe on the labelled traffic, the teacher's soft labels as the teacher.
    let recipe_path = work.join("recipe.toml");
    let train_abs = std::fs::canonicalize(&train_csv)
        .with_context(|| format!("resolving {}", train_csv.display()))?;
    std::fs::write(
        &recipe_path,
        adapted_recipe(&text, &train_abs, &args.model)?,
    )
    .with_context(|| format!("writing {}", recipe_path.display()))?;
    let (new_recipe, new_text) = Recipe::load(&recipe_path)?;
    let outcome = distillery_pipeline::run(
        &new_recipe,
        &new_text,
        &environment::run_options(work.join("runs"), false, &progress),
    )?;
    let gates_passed = outcome.report.gates.iter().all(|g| g.passed);

    // 4. Old and new students against the teacher on the held-out traffic.
    let old = Student::from_bytes(&registry.load(&stable, "student")?)?;
    let new = Student::load(&outcome.run_dir.join("student.safetensors"))?;
    let hold_table = table.take(&hold);
    let hold_teacher: Vec<&Vec<f64>> = hold.iter().map(|&r| &teacher_p[r]).collect();
    let fidelity_before = agreement(&old, &hold_table, &hold_teacher)?;
    let fidelity_after = agreement(&new, &hold_table, &hold_teacher)?;

    let mut doc = json!({
        "model": args.model,
        "stable_version": stable.version,
        "rows": n,
        "fit_rows": fit.len(),
        "holdout_rows": hold.len(),
        "fidelity_before": fidelity_before,
        "fidelity_after": fidelity_after,
        "gates_passed": gates_passed,
        "run_dir": outcome.run_dir,
    });
    let status = if gates_passed {
        let why = format!(
            "{}; re-distilled on {} logged rows labelled by the teacher; held-out fidelity {:.4} → {:.4}",
            args.why,
            fit.len(),
            fidelity_before,
            fidelity_after
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

/// The rows `rows` of `table` with the teacher's argmax as the label and its probabilities
/// as `teacher_p_<class>` soft-label columns.
fn write_labelled(
    path: &Path,
    table: &Table,
    features: &[(String, Kind)],
    rows: &[usize],
    teacher_p: &[Vec<f64>],
    classes: &[String],
    target: &str,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();
    header.push(target.to_string());
    header.extend(classes.iter().map(|c| format!("teacher_p_{c}")));
    w.write_record(&header)?;
    let columns: Vec<&distillery_data::Column> = features
        .iter()
        .map(|(n, _)| table.column(n))
        .collect::<std::result::Result<_, _>>()?;
    for &r in rows {
        let mut record: Vec<String> = columns
            .iter()
            .map(|c| {
                c.text(r)
                    .map(str::to_string)
                    .or_else(|| c.number(r).map(distillery_data::format_number))
                    .unwrap_or_default()
            })
            .collect();
        let p = &teacher_p[r];
        let best = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        record.push(classes[best].clone());
        record.extend(p.iter().map(|v| format!("{v}")));
        w.write_record(&record)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    distillery_runtime::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// The recipe with the traffic as its training data and the teacher's soft labels as its
/// teacher; everything else (student, distillation, gates) kept.
fn adapted_recipe(text: &str, train: &Path, model: &str) -> Result<String> {
    let mut doc: toml::Table = toml::from_str(text).context("the recipe is not valid TOML")?;
    doc.insert("name".into(), toml::Value::String(model.to_string()));
    let data = doc
        .entry("data")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .context("[data] is not a table")?;
    data.insert(
        "train".into(),
        toml::Value::String(train.display().to_string()),
    );
    data.remove("test");
    data.entry("test_fraction")
        .or_insert(toml::Value::Float(0.2));
    let mut teacher = toml::Table::new();
    teacher.insert("columns".into(), toml::Value::String("teacher_p_".into()));
    doc.insert("teacher".into(), toml::Value::Table(teacher));
    doc.remove("sweep");
    if let Some(e) = doc.get_mut("evaluate").and_then(toml::Value::as_table_mut) {
        e.remove("cv_folds");
    }
    Ok(toml::to_string(&doc)?)
}

/// Share of rows where the student's most probable class is the teacher's.
fn agreement(student: &Student, table: &Table, teacher: &[&Vec<f64>]) -> Result<f64> {
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let x = encode_rows(student.encoder(), table, &rows)?;
    let p = student.predict_encoded_batch(&x, rows.len());
    let k = student.classes().len();
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let same = rows
        .iter()
        .filter(|&&r| {
            let s: Vec<f64> = p[r * k..(r + 1) * k]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            argmax(&s) == argmax(teacher[r])
        })
        .count();
    Ok(same as f64 / rows.len().max(1) as f64)
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
