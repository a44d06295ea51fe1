//! Prediction logs that live in object storage: `--current s3://bucket/prefix` (or
//! `--log-dir`, `--data`) names the place several replicas ship their logs to; every
//! replica's files are fetched into a temporary folder, one subfolder per replica, which
//! the log reader takes as the union of their traffic.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where a command reads a log from: `path` itself, or a temporary copy of an `s3://`
/// log (deleted when this is dropped).
pub(crate) struct LocalLog {
    pub(crate) dir: PathBuf,
    _copy: Option<tempfile::TempDir>,
}

/// Fetches `path` when it is an `s3://` URL; any other path is used as it is.
pub(crate) fn local(path: &Path) -> Result<LocalLog> {
    let text = path.to_string_lossy();
    if !text.starts_with("s3://") {
        return Ok(LocalLog {
            dir: path.to_path_buf(),
            _copy: None,
        });
    }
    let files = distillery_registry::s3::S3Files::open(&text)
        .with_context(|| format!("opening the prediction log {text}"))?;
    let listed = files
        .list()
        .with_context(|| format!("listing the prediction log {text}"))?;
    let copy = tempfile::tempdir().context("creating a folder for the fetched log")?;
    let mut fetched = 0;
    for (key, _) in listed {
        let relative = Path::new(&key);
        let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !(plain && name.starts_with("predictions-") && name.ends_with(".jsonl")) {
            continue;
        }
        let bytes = files
            .get(&key)
            .with_context(|| format!("fetching {text}/{key}"))?;
        let target = copy.path().join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes).with_context(|| format!("writing {}", target.display()))?;
        fetched += 1;
    }
    if fetched == 0 {
        bail!(
            "{text} holds no predictions-*.jsonl files; give the s3:// place the servers' --log-dir names"
        );
    }
    tracing::info!(files = fetched, from = %text, "fetched the prediction log");
    Ok(LocalLog {
        dir: copy.path().to_path_buf(),
        _copy: Some(copy),
    })
}
