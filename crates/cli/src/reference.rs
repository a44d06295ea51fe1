//! The reference a monitoring command compares with: a run directory, a `profile.json`, a
//! registered version (`name@alias`, `name/3`) or a data file profiled on the spot. Used by
//! `drift`, `detect` and `estimate`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use distillery_data::{Column, Kind, ReadOptions, Table};
use distillery_monitor::Profile;
use distillery_monitor::multivariate::RowSample;

/// Whether `path` names a data file (CSV, TSV, Parquet, optionally gzipped) by its extension.
fn is_data_file(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    [
        ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq", ".txt",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// The reference profile `path` names: a run directory, a `profile.json`, a registered
/// version (`name@alias`, `name/3`) or a data file (profiled now, leaving out `ignore`, with
/// a row sample for the multivariate check only when `sample` asks for one: it costs a copy
/// of every row).
pub(crate) fn reference(
    path: &Path,
    options: &crate::cli::RegistryOptions,
    ignore: &[String],
    sample: bool,
) -> Result<Profile> {
    if path.is_dir() {
        let profile = path.join("profile.json");
        if !profile.exists() {
            bail!(
                "{} has no profile.json; runs record one since distillery 0.1 — rerun the recipe, \
                 or pass the training data file as --reference",
                path.display()
            );
        }
        return Ok(Profile::load(&profile)?);
    }
    if !path.exists() {
        if let Some(profile) = registered_profile(path, options)? {
            return Ok(profile);
        }
        bail!(
            "--reference {} does not exist; give a run directory, its profile.json, the \
             training data (CSV or Parquet) or a registered version (name@production, name/3)",
            path.display()
        );
    }
    if !is_data_file(path) {
        return Ok(Profile::load(path)?);
    }
    let table = Table::read(path, &ReadOptions::default())
        .with_context(|| format!("reading the reference {}", path.display()))?;
    for name in ignore {
        table
            .index_of(name)
            .with_context(|| format!("--ignore {name}: not a column of {}", path.display()))?;
    }
    let features: Vec<(String, Kind)> = table
        .names()
        .iter()
        .zip(table.columns())
        .filter(|(n, _)| !ignore.contains(n))
        .map(|(n, c)| {
            let kind = match c {
                Column::Numeric(_) => Kind::Numeric,
                Column::Text { .. } => Kind::Categorical,
            };
            (n.clone(), kind)
        })
        .collect();
    let mut profile = Profile::from_table(&table, &features)?;
    if sample {
        profile.sample = Some(RowSample::from_table(&table, &features)?);
    }
    Ok(profile)
}

/// The stored profile of a registered version, when `path` names one (`name@alias`,
/// `name/3`) rather than a file.
pub(crate) fn registered_profile(
    path: &Path,
    options: &crate::cli::RegistryOptions,
) -> Result<Option<Profile>> {
    let text = path.to_string_lossy();
    if !(text.contains('@') || text.contains('/')) || !crate::registry_access::present(options) {
        return Ok(None);
    }
    let Ok(reference) = distillery_registry::Reference::parse(&text) else {
        return Ok(None);
    };
    let registry = crate::registry_access::open(options)?;
    let version = registry.resolve(&reference)?;
    let bytes = registry.load(&version, "profile").with_context(|| {
        format!(
            "{} has no stored profile (registered before profiles existed): re-run its recipe",
            version.label()
        )
    })?;
    Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
        format!("{}'s profile.json does not parse", version.label())
    })?))
}
