//! The one writer of a run directory (`runs/<id>/`, or an `eval` report's): every file is
//! written atomically into a hidden `.tmp-<id>` folder, which is renamed into place at the
//! very end, so a crash never leaves a directory that looks complete. A writer dropped
//! before `finish` (an error part-way) removes its folder.

use std::path::{Path, PathBuf};

use distillery_eval::run_report::Report;

use crate::error::{Context, Result};

/// A run directory being written.
pub(crate) struct RunDir {
    tmp: PathBuf,
    dir: PathBuf,
    finished: bool,
}

impl RunDir {
    /// Starts `out/<id>/` (written into `out/.tmp-<id>/` until [`RunDir::finish`]).
    pub(crate) fn create(out: &Path, id: &str) -> Result<RunDir> {
        let tmp = out.join(format!(".tmp-{id}"));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(RunDir {
            tmp,
            dir: out.join(id),
            finished: false,
        })
    }

    /// Writes one file (atomically: temporary file, fsync, rename).
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        distillery_runtime::write_atomic(&self.tmp.join(name), bytes)
            .with_context(|| format!("writing {name}"))
    }

    /// Writes `report.json`, `report.html` and `model_card.md`.
    pub(crate) fn write_reports(&self, report: &Report) -> Result<()> {
        self.write("report.json", &serde_json::to_vec_pretty(report)?)?;
        self.write(
            "report.html",
            distillery_eval::render::html(report).as_bytes(),
        )?;
        self.write(
            "model_card.md",
            distillery_eval::render::model_card(report).as_bytes(),
        )
    }

    /// Moves the finished directory into place and returns where it is.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.dir)
            .with_context(|| format!("cannot move the run into {}", self.dir.display()))?;
        self.finished = true;
        Ok(self.dir.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes a report-only directory `out/id/` (`distillery eval`), whole or not at all.
pub fn write_report_dir(out: &std::path::Path, id: &str, report: &Report) -> Result<PathBuf> {
    let dir = RunDir::create(out, id)?;
    dir.write_reports(report)?;
    dir.finish()
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A fresh run id: the name, the time to the second and a short salt, so parallel runs
/// of one recipe never collide (`census-20261204T150000Z-3fa2c1`).
pub fn run_id(name: &str, recipe_hash: &str) -> String {
    let now = std::time::SystemTime::now();
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let salt =
        blake3::hash(format!("{recipe_hash}{nanos}{}", std::process::id()).as_bytes()).to_hex();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{stamp}-{}", &salt[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_dir_appears_whole_or_not_at_all() {
        let out = tempfile::tempdir().unwrap();
        let dir = RunDir::create(out.path(), "r1").unwrap();
        dir.write("a.txt", b"x").unwrap();
        assert!(!out.path().join("r1").exists(), "not visible before finish");
        let done = dir.finish().unwrap();
        assert_eq!(std::fs::read(done.join("a.txt")).unwrap(), b"x");
        let abandoned = RunDir::create(out.path(), "r2").unwrap();
        abandoned.write("a.txt", b"x").unwrap();
        drop(abandoned);
        assert!(
            !out.path().join(".tmp-r2").exists(),
            "an abandoned run leaves nothing"
        );
        assert!(!out.path().join("r2").exists());
    }
}
