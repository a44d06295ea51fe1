//! `distillery init data.csv --target y`: infer the schema, print it for review, and write a
//! starter recipe that runs as is.

use std::collections::HashSet;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use distillery_data::{Kind, Labels, ReadOptions, Schema, SchemaOptions, Table, default_missing};

use crate::cli::InitArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &InitArgs) -> Result<ExitStatus> {
    if args.output.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it or --output to pick another name",
            args.output.display()
        );
    }
    let options = ReadOptions {
        missing: default_missing(),
        keep_text: HashSet::from([args.target.clone()]),
    };
    let table = Table::read(&args.data, &options)?;
    let schema = Schema::infer(
        &table,
        &SchemaOptions {
            target: args.target.clone(),
            ..Default::default()
        },
    )?;
    let labels = Labels::from_column(table.column(&args.target)?, None)
        .map_err(|v| anyhow::anyhow!("unexpected label {v}"))?;
    let mut review = format!(
        "{}: {} rows, {} columns\n",
        args.data.display(),
        table.n_rows(),
        table.names().len()
    );
    for (i, c) in schema.columns.iter().enumerate() {
        let missing = table.stats(i).missing;
        let _ = writeln!(
            review,
            "  {:<32} {:<12} {}{}",
            c.name,
            format!("{:?}", c.kind).to_lowercase(),
            c.reason,
            if missing > 0 {
                format!(", {missing} missing")
            } else {
                String::new()
            }
        );
    }
    let counts = labels.counts();
    let _ = writeln!(
        review,
        "  target classes: {}",
        labels
            .classes
            .iter()
            .zip(&counts)
            .map(|(c, n)| format!("{c} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let quote = |v: &[&str]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let categorical: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Categorical)
        .map(|c| c.name.as_str())
        .collect();
    let ignored: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Ignored)
        .map(|c| c.name.as_str())
        .collect();
    let text: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Text)
        .map(|c| c.name.as_str())
        .collect();
    // Soft labels already in the file (`teacher_p_<class>`, as tools/text_teacher.py writes
    // them) are the teacher.
    let soft_labels = schema
        .columns
        .iter()
        .any(|c| c.name.starts_with("teacher_p_"));
    let data_path = relative_to(&args.data, &args.output);
    // The in-house boosted teacher's probabilities are calibrated one-vs-rest estimates: with
    // many classes, softening them at T = 4 spreads most of the mass over the wrong classes
    // (letter, 26 classes: student 1.5 pp below scratch at T = 4, 3.6 pp above at T = 1),
    // while on two classes T = 4 measured as well or better (README, "The defaults").
    let temperature = if args.teacher.is_none() && labels.classes.len() > 2 {
        "1.0"
    } else {
        "4.0"
    };
    let teacher = match &args.teacher {
        Some(p) => format!("onnx = {:?}\n", relative_to(p, &args.output)),
        None if soft_labels => "columns = \"teacher_p_\"   # the soft labels in the file, one column per class\n".to_string(),
        // Trees cannot read hashed text; an in-house MLP teacher can.
        None if !text.is_empty() => "train = { hidden = [256, 256] }   # or: columns = \"teacher_p_\" (soft labels from a transformer: tools/text_teacher.py)\n".to_string(),
        None => "train = { kind = \"gbdt\" }   # or: train = { hidden = [256, 256] } (MLP) | onnx = \"teacher.onnx\" | columns = \"teacher_p_\"\n".to_string(),
    };
    let text_line = if text.is_empty() {
        String::new()
    } else {
        format!(
            "text = [{}]   # free text: hashed word n-grams ([student.text])\n",
            quote(&text)
        )
    };
    let name = args
        .data
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .split('.')
                .next()
                .unwrap_or("run")
                .to_string()
        })
        .unwrap_or_default();
    let recipe = format!(
        "# Starter recipe written by `distillery init`; review the column roles, then `distillery run {out}`.\n\
         name = {name:?}\n\n[data]\ntrain = {data_path:?}\ntarget = {target:?}\ntest_fraction = 0.2\nvalidation_fraction = 0.1\n\
         categorical = [{cat}]\n{text_line}ignore = [{ign}]\nmissing = [{missing}]\n\n[teacher]\n{teacher}\n[student]\nsize = \"auto\"   # search widths, depths, T and soft weight; budget: 1/20 of the teacher's bytes (50000 if unknown), or max_bytes = N / max_latency_us = N; or pin: hidden = [64]\n\n\
         [distill]\ntemperature = {temperature}\nsoft_weight = 0.7\nseed = 7\n",
        out = args.output.display(),
        target = args.target,
        cat = quote(&categorical),
        ign = quote(&ignored),
        missing = quote(
            &default_missing()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        ),
    );
    distillery_runtime::write_atomic(&args.output, recipe.as_bytes())
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("{review}wrote {}", args.output.display());
    Ok(ExitStatus::Ok)
}

/// `path` as seen from the directory of `recipe`, so the recipe works wherever it is run from.
fn relative_to(path: &std::path::Path, recipe: &std::path::Path) -> String {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let target = abs(path);
    let base = abs(recipe)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    match target.strip_prefix(&base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => target.display().to_string(),
    }
}
