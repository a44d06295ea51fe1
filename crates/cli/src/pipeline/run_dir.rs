//! The one writer of a run directory (`runs/<id>/`, or an `eval` report's): every file is
//! written atomically into a hidden `.tmp-<id>` folder, which is renamed into place at the
//! very end, so a crash never leaves a directory that looks complete. A writer dropped
//! before `finish` (an error part-way) removes its folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use distillery_eval::run_report::Report;

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
