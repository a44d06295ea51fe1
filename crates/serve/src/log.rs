//! The prediction log: every inference request and its answer, appended as one JSON line to
//! `predictions-<n>.jsonl` files by a background writer, rotated by size. The queue between
//! handlers and the writer is bounded; when it is full the policy decides — `block` (the
//! default: the request waits, nothing is lost) or `drop` (the record is counted in
//! `/metrics` and skipped) — so a slow disk can never silently lose records.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Seconds since the Unix epoch, with microseconds.
pub(crate) fn timestamp() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What to do when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Wait for room (no record is lost).
    Block,
    /// Count the record as dropped and go on.
    Drop,
}

/// What travels to the writer.
enum Message {
    /// One record.
    Line(String),
    /// Write out everything before this, fsync, then answer.
    Flush(SyncSender<()>),
}

/// Handle to the background writer.
pub struct PredictionLog {
    tx: SyncSender<Message>,
    policy: Policy,
    /// Records handed to the writer.
    pub queued: AtomicU64,
    /// Records dropped because the queue was full (`Policy::Drop`).
    pub dropped: AtomicU64,
    /// Records the writer has written (`queued - written` is the queue's depth).
    pub written: Arc<AtomicU64>,
    /// What happens to personal data before a record is written.
    pii: Option<crate::PiiPolicy>,
}

impl PredictionLog {
    /// Starts the writer in `dir` with a queue of `capacity` records, rotating files at
    /// `rotate_bytes`.
    pub fn start(
        dir: &Path,
        capacity: usize,
        policy: Policy,
        rotate_bytes: u64,
    ) -> std::io::Result<PredictionLog> {
        std::fs::create_dir_all(dir)?;
        owner_only(dir, 0o700)?;
        let (tx, rx) = sync_channel(capacity.max(1));
        let dir = dir.to_path_buf();
        let first = next_index(&dir);
        let written = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&written);
        std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || writer(&dir, first, rx, rotate_bytes, &counter))?;
        Ok(PredictionLog {
            tx,
            policy,
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            written,
            pii: None,
        })
    }

    /// Scrubs personal data from every request's inputs before they are written.
    #[must_use]
    pub fn with_pii(mut self, pii: crate::PiiPolicy) -> PredictionLog {
        self.pii = Some(pii);
        self
    }

    /// The PII policy, when one is set.
    pub(crate) fn pii(&self) -> Option<&crate::PiiPolicy> {
        self.pii.as_ref()
    }

    /// Waits (up to `timeout`) until every record queued so far is written and synced to
    /// disk; false when the writer did not confirm in time or has stopped.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = sync_channel(1);
        self.tx.send(Message::Flush(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }

    /// Queues one record (a JSON line without the newline).
    pub fn record(&self, line: String) {
        let sent = match self.policy {
            Policy::Block => self.tx.send(Message::Line(line)).is_ok(),
            Policy::Drop => match self.tx.try_send(Message::Line(line)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if sent {
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The first file number not yet used in `dir`.
fn next_index(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("predictions-")?
                        .strip_suffix(".jsonl")?
                        .parse::<u64>()
                        .ok()
                })
                .max()
                .map_or(0, |m| m + 1)
        })
        .unwrap_or(0)
}

/// Restricts `path` to its owner (log files hold what clients sent).
fn owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn open(dir: &Path, index: u64) -> Option<(BufWriter<File>, PathBuf)> {
    let path = dir.join(format!("predictions-{index:06}.jsonl"));
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let f = options.open(&path).ok()?;
    Some((BufWriter::new(f), path))
}

fn writer(dir: &Path, mut index: u64, rx: Receiver<Message>, rotate_bytes: u64, count: &AtomicU64) {
    let Some((mut file, _)) = open(dir, index) else {
        return;
    };
    let mut written = 0u64;
    let mut dirty = false;
    loop {
        let first = match rx.recv_timeout(FLUSH_EVERY) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                // Quiet for a while: make what was written visible to readers.
                if dirty {
                    let _ = file.flush();
                    dirty = false;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let more = batch.len() > 1;
        for message in batch {
            let line = match message {
                Message::Line(line) => line,
                Message::Flush(ack) => {
                    if file
                        .flush()
                        .and_then(|()| file.get_ref().sync_all())
                        .is_ok()
                    {
                        let _ = ack.send(());
                    }
                    continue;
                }
            };
            if written > 0 && written + line.len() as u64 + 1 > rotate_bytes {
                let _ = file.flush();
                index += 1;
                match open(dir, index) {
                    Some((f, _)) => file = f,
                    None => return,
                }
                written = 0;
            }
            if file
                .write_all(line.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .is_err()
            {
                return;
            }
            written += line.len() as u64 + 1;
            count.fetch_add(1, Ordering::Relaxed);
            dirty = true;
        }
        if more {
            // Under load, let records gather rather than wake for each one: a sender only
            // pays for a wake-up when this thread is parked in `recv`.
            std::thread::sleep(GATHER);
        }
    }
    let _ = file.flush();
}

/// How long the writer lets records gather under load.
const GATHER: Duration = Duration::from_millis(2);
/// Longest time a written record may sit in the writer's buffer before readers see it.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(dir: &Path) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_record_arrives_in_order_across_rotated_files() {
        let dir = std::env::temp_dir().join(format!("distillery-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = PredictionLog::start(&dir, 4, Policy::Block, 200).unwrap();
        for i in 0..50 {
            log.record(format!("{{\"i\":{i}}}"));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while read_all(&dir).len() < 50 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let lines = read_all(&dir);
        assert_eq!(lines.len(), 50, "block loses nothing");
        assert_eq!(lines[49], "{\"i\":49}");
        assert!(
            std::fs::read_dir(&dir).unwrap().count() > 1,
            "rotated by size"
        );
        assert_eq!(log.dropped.load(Ordering::Relaxed), 0);
        log.record("{\"last\":true}".into());
        assert!(log.flush(Duration::from_secs(5)), "flush confirms");
        assert_eq!(read_all(&dir).len(), 51, "flushed means on disk");
        assert_eq!(log.written.load(Ordering::Relaxed), 51);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
