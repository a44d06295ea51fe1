//! Prediction logs of several replicas in one place: each replica writes its log files to
//! a local spool folder and a shipper copies them to `s3://bucket/prefix/<replica>/`
//! (every few seconds, and once more at shutdown after the final flush). A file that has
//! not changed since its last copy is not sent again. `drift`, `estimate`, `redistill` and
//! `detect` read the union of every replica's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use distillery_registry::s3::S3Files;

/// Copies a replica's log files to object storage.
pub struct LogShipper {
    spool: PathBuf,
    replica: String,
    files: S3Files,
    /// File name → the size last shipped.
    shipped: Mutex<BTreeMap<String, u64>>,
}

impl LogShipper {
    /// A shipper from `spool` to `url` (`s3://bucket/prefix`), under `replica/`.
    ///
    /// # Errors
    /// The URL or the `AWS_*` settings are unusable.
    pub fn new(
        spool: &Path,
        url: &str,
        replica: &str,
    ) -> Result<LogShipper, distillery_registry::RegistryError> {
        Ok(LogShipper {
            spool: spool.to_path_buf(),
            replica: replica.to_string(),
            files: S3Files::open(url)?,
            shipped: Mutex::new(BTreeMap::new()),
        })
    }

    /// Copies every log file that grew since its last copy; returns how many were sent.
    ///
    /// # Errors
    /// A file cannot be read or the store refuses it (the rest are still tried next time).
    pub fn ship(&self) -> Result<usize, String> {
        let Ok(mut shipped) = self.shipped.lock() else {
            return Err("the shipper's state is poisoned".into());
        };
        let entries =
            std::fs::read_dir(&self.spool).map_err(|e| format!("{}: {e}", self.spool.display()))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("predictions-") && n.ends_with(".jsonl"))
            .collect();
        names.sort();
        let mut sent = 0;
        for name in names {
            let path = self.spool.join(&name);
            // Unchanged since its last copy: not even read.
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            if size == 0 || shipped.get(&name) == Some(&size) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let size = bytes.len() as u64;
            self.files
                .put(&format!("{}/{name}", self.replica), bytes)
                .map_err(|e| e.to_string())?;
            shipped.insert(name, size);
            sent += 1;
        }
        Ok(sent)
    }

    /// Ships every `every` on a thread of its own, for as long as the process runs.
    pub fn start(self: &std::sync::Arc<Self>, every: Duration) {
        let me = std::sync::Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("log-shipper".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    if let Err(e) = me.ship() {
                        tracing::warn!(error = %e, to = me.files.url(), "could not ship the prediction log; will retry");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the log shipper");
        }
    }

    /// Where the files go, for messages.
    pub fn destination(&self) -> String {
        format!(
            "{}/{}",
            self.files.url().trim_end_matches('/'),
            self.replica
        )
    }
}
