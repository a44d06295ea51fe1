//! `distillery detect --data <file|log dir> --column c [--detector adwin]`: streaming drift
//! detectors over one column, in row order, listing where each fires.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_data::{Kind, ReadOptions, Table};
use distillery_monitor::stream::{self, Detector};
use serde_json::json;

use crate::cli::DetectArgs;
use crate::exit::ExitStatus;

pub(crate) fn run(args: &DetectArgs) -> Result<ExitStatus> {
    // Non-finite values in a log are read as missing and skipped like them; say so.
    let mut set_aside = distillery_monitor::log::NonFinite::default();
    let table = if args.data.is_dir() {
        let features = match &args.reference {
            Some(r) => crate::reference::reference(r, &args.options, &[], false)?.features(),
            None => vec![(args.column.clone(), Kind::Numeric)],
        };
        let traffic =
            distillery_monitor::log::read_log(&args.data, &features, args.model.as_deref())?;
        set_aside = traffic.non_finite;
        traffic.table
    } else {
        if args.reference.is_some() {
            bail!(
                "--reference only reads a prediction log's requests, and {} is a data file whose columns are named already: drop --reference",
                args.data.display()
            );
        }
        Table::read(&args.data, &ReadOptions::default())
            .with_context(|| format!("reading {}", args.data.display()))?
    };
    let column = table.column(&args.column).with_context(|| {
        format!(
            "--column {}: not a column of {}",
            args.column,
            args.data.display()
        )
    })?;
    let mut values: Vec<f64> = (0..column.len()).filter_map(|r| column.number(r)).collect();
    if let Some(n) = args.standardize {
        let head = &values[..n.min(values.len())];
        if head.len() < 2 {
            bail!("--standardize {n}: the first values must number at least 2");
        }
        let mean = head.iter().sum::<f64>() / head.len() as f64;
        let sd =
            (head.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / head.len() as f64).sqrt();
        if sd == 0.0 {
            bail!(
                "--standardize {n}: the first {n} values of `{}` are all equal",
                args.column
            );
        }
        values.iter_mut().for_each(|x| *x = (*x - mean) / sd);
    }
    let skipped = column.len() - values.len();
    if values.is_empty() {
        bail!(
            "column `{}` of {} holds no numbers; streaming detectors watch a numeric column",
            args.column,
            args.data.display()
        );
    }
    let bits = values.iter().all(|&x| x == 0.0 || x == 1.0);
    let names: Vec<&str> = match args.detector.as_str() {
        "all" if bits => vec!["adwin", "page-hinkley", "kswin", "ddm"],
        "all" => vec!["adwin", "page-hinkley", "kswin"],
        one => vec![one],
    };
    let mut found = Vec::new();
    for name in names {
        let mut detector: Box<dyn Detector> = stream::by_name(name, args.seed)?;
        if detector.name() == "ddm" && !bits {
            bail!(
                "DDM watches an error stream of 0 and 1, but `{}` holds other values",
                args.column
            );
        }
        let hits = stream::detections(detector.as_mut(), values.iter().copied());
        found.push((detector.name(), hits));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let detectors: Vec<serde_json::Value> = found
            .iter()
            .map(|(name, hits)| json!({"detector": name, "detections": hits}))
            .collect();
        let doc = json!({
            "column": args.column,
            "values": values.len(),
            "skipped_missing": skipped,
            "non_finite": set_aside,
            "detectors": detectors,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} values of `{}` ({} missing skipped); indices count the values watched",
            values.len(),
            args.column,
            skipped
        )?;
        if let Some(w) = set_aside.warning() {
            writeln!(out, "warning: {w}")?;
        }
        let noisy = found
            .iter()
            .any(|(name, hits)| *name == "page-hinkley" && hits.len() * 100 > values.len());
        if noisy && args.standardize.is_none() {
            writeln!(
                out,
                "  (Page–Hinkley's threshold is in the column's units; try --standardize 100)"
            )?;
        }
        for (name, hits) in &found {
            let list: Vec<String> = hits.iter().map(usize::to_string).collect();
            writeln!(
                out,
                "  {name:13} {} detection(s){}{}",
                hits.len(),
                if hits.is_empty() { "" } else { " at " },
                list.join(", ")
            )?;
        }
    }
    Ok(ExitStatus::Ok)
}
