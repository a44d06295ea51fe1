//! Where one run keeps its training checkpoints: `runs/.checkpoints/<job>/<owner>/`, owned
//! by that run alone. The owner holds an exclusive lock on `<owner>/.lock` for as long as
//! it runs, so parallel runs of one recipe never write, resume from or delete each other's
//! checkpoints; `--resume` takes over the newest folder of the job whose lock is free
//! (its run was interrupted).

use crate::error::{Context, Result};
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file inside an owner's folder.
const LOCK: &str = ".lock";

/// A run's checkpoint folder and the lock that makes it this run's own.
pub(crate) struct CheckpointDir {
    dir: PathBuf,
    /// Held (locked) for the life of the run; released when dropped.
    _lock: File,
}

impl CheckpointDir {
    /// A folder for `job_key` under `root`: with `resume`, the newest folder of the same
    /// job that no running process holds; otherwise (or if there is none) a new one.
    pub(crate) fn claim(root: &Path, job_key: &str, resume: bool) -> Result<CheckpointDir> {
        let job = root.join(&blake3::hash(job_key.as_bytes()).to_hex()[..16]);
        fs::create_dir_all(&job).with_context(|| format!("cannot create {}", job.display()))?;
        if resume && let Some(found) = newest_abandoned(&job) {
            return Ok(found);
        }
        let owner = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        let dir = job.join(owner);
        create_racing_removal(&dir)?;
        let lock = File::create(dir.join(LOCK))
            .with_context(|| format!("cannot create the lock in {}", dir.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", dir.display()))?;
        Ok(CheckpointDir { dir, _lock: lock })
    }

    /// The folder checkpoints are written to.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes this run's folder (after the run landed) and the job's folder if it is now
    /// empty; other runs' folders stay.
    pub(crate) fn remove(self) {
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(job) = self.dir.parent() {
            let _ = fs::remove_dir(job);
        }
    }
}

/// Creates `dir` and its parents. Another run that finishes removes the job's folder when
/// it is empty, which can happen between creating the parent and the child; that is retried.
fn create_racing_removal(dir: &Path) -> Result<()> {
    let mut attempt = 0;
    loop {
        match fs::create_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 8 => attempt += 1,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
}

/// The most recently modified owner folder of a job whose lock is free, locked for us.
fn newest_abandoned(job: &Path) -> Option<CheckpointDir> {
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(job)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates.into_iter().find_map(|(_, dir)| {
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK))
            .ok()?;
        match lock.try_lock() {
            Ok(()) => Some(CheckpointDir { dir, _lock: lock }),
            Err(TryLockError::WouldBlock | TryLockError::Error(_)) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_runs_of_one_recipe_get_their_own_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let a = CheckpointDir::claim(root.path(), "job", false).unwrap();
        let b = CheckpointDir::claim(root.path(), "job", false).unwrap();
        assert_ne!(a.path(), b.path());
        // A resume while both run takes neither: each is held by its run.
        let c = CheckpointDir::claim(root.path(), "job", true).unwrap();
        assert_ne!(c.path(), a.path());
        assert_ne!(c.path(), b.path());
        fs::write(b.path().join("student.ckpt"), b"x").unwrap();
        a.remove();
        assert!(
            b.path().join("student.ckpt").exists(),
            "b's checkpoint kept"
        );
    }

    #[test]
    fn resume_takes_over_an_interrupted_runs_folder() {
        let root = tempfile::tempdir().unwrap();
        let a = CheckpointDir::claim(root.path(), "job", false).unwrap();
        let path = a.path().to_path_buf();
        fs::write(path.join("student.ckpt"), b"x").unwrap();
        drop(a); // the run was interrupted: its lock is released
        let resumed = CheckpointDir::claim(root.path(), "job", true).unwrap();
        assert_eq!(resumed.path(), path);
        let other_job = CheckpointDir::claim(root.path(), "other", true).unwrap();
        assert_ne!(other_job.path(), path);
    }
}
