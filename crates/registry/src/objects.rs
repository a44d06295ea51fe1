//! The content-addressed artifact store: `objects/<blake3>`. An object is written to a
//! temporary file, fsynced and renamed into place, and never overwritten; reading one
//! re-hashes it, so an altered or truncated file is caught at load time.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::{RegistryError, Result};

/// Where artifact bytes live, addressed by their BLAKE3 hash: a local directory here, an
/// object store (S3 and the like) in a future backend.
pub trait Artifacts: Send {
    /// Stores `bytes` durably (before returning) and returns their hash; storing existing
    /// content again is a no-op.
    fn put(&self, bytes: &[u8]) -> Result<String>;
    /// The bytes with `hash`, re-hashed; `role` and `model` name the artifact in errors.
    fn get(&self, hash: &str, role: &str, model: &str) -> Result<Vec<u8>>;
    /// Where the objects are, for messages.
    fn location(&self) -> String;
}

/// Refuses bytes whose BLAKE3 hash is not the one recorded: the object was altered after
/// registration (by hand, by a faulty disk, by someone with access to the store).
pub(crate) fn check_hash(bytes: &[u8], hash: &str, role: &str, model: &str) -> Result<()> {
    let actual = blake3::hash(bytes).to_hex().to_string();
    if actual != hash {
        return Err(RegistryError::Tampered {
            role: role.into(),
            model: model.into(),
            hash: hash.into(),
            actual,
        });
    }
    Ok(())
}

/// Opens the artifact store a registry recorded: `s3://bucket/prefix`, or a local (or
/// shared) folder.
pub(crate) fn open(location: &str) -> Result<Box<dyn Artifacts>> {
    if location.starts_with("s3://") {
        return Ok(Box::new(crate::s3::S3Objects::open(location)?));
    }
    Ok(Box::new(ObjectStore::open(Path::new(location))?))
}

/// How long a temporary file must sit untouched before `open` treats it as left by a crash
/// when its writer's liveness cannot be told. A writer holds its temporary file for the
/// time of one write + fsync (seconds at most).
pub(crate) const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Distinguishes the temporary files of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file name owned by this writer alone: pid, a per-process counter and random
/// bits, so two processes or two threads writing the same object never share one.
fn temporary_name(hash: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nonce: u32 = rand::random();
    format!(".tmp-{hash}-{}-{n}-{nonce:08x}", std::process::id())
}

/// Whether the writer named in a temporary file `.tmp-<hash>-<pid>-…` is known to be gone:
/// on systems with `/proc`, its pid no longer runs. `None` where that cannot be told.
fn writer_is_gone(name: &str) -> Option<bool> {
    let pid: u32 = name.split('-').nth(2)?.parse().ok()?;
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(!Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes `.tmp-*` files in `dir` whose writer process is gone, or that were not modified
/// for `age`; errors are ignored (a file that vanished was swept by another process).
fn sweep_stale_temporaries(dir: &Path, age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(".tmp-") {
            continue;
        }
        let stale = writer_is_gone(&name) == Some(true)
            || e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d >= age);
        if stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The object directory.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    dir: PathBuf,
}

/// Restricts a file or directory the registry created to its owner (best effort: a
/// filesystem without Unix permissions keeps its own rules).
pub(crate) fn owner_only(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

impl ObjectStore {
    /// Opens (creating) the object directory and removes temporary files left by a crash.
    /// Only stale ones go (untouched for [`STALE_TEMP`]): a fresh one belongs to a writer in
    /// another process (a parallel `run`, a server) that is still writing it.
    pub fn open(dir: &Path) -> Result<ObjectStore> {
        let fresh = !dir.exists();
        fs::create_dir_all(dir).map_err(|source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if fresh {
            owner_only(dir, 0o700);
        }
        sweep_stale_temporaries(dir, STALE_TEMP);
        Ok(ObjectStore {
            dir: dir.to_path_buf(),
        })
    }

    /// Where the object with `hash` lives.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// The object directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Artifacts for ObjectStore {
    /// Stores `bytes` and returns their BLAKE3 hex hash. An object already present is kept
    /// as it is (same hash, same content).
    fn put(&self, bytes: &[u8]) -> Result<String> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let path = self.path(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let tmp = self.dir.join(temporary_name(&hash));
        let io = |source| RegistryError::Io {
            path: tmp.clone(),
            source,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            source,
        })?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(hash)
    }

    /// Reads an object and checks its hash; `role` and `model` name it in errors.
    fn get(&self, hash: &str, role: &str, model: &str) -> Result<Vec<u8>> {
        let path = self.path(hash);
        let bytes = fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                RegistryError::Missing {
                    role: role.into(),
                    model: model.into(),
                    hash: hash.into(),
                    dir: self.dir.clone(),
                }
            } else {
                RegistryError::Io { path, source }
            }
        })?;
        check_hash(&bytes, hash, role, model)?;
        Ok(bytes)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_and_tampering_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path()).unwrap();
        let h = store.put(b"weights").unwrap();
        assert_eq!(h, blake3::hash(b"weights").to_hex().to_string());
        assert_eq!(store.put(b"weights").unwrap(), h, "idempotent");
        assert_eq!(store.get(&h, "student", "m/1").unwrap(), b"weights");
        fs::write(store.path(&h), b"weightz").unwrap();
        let err = store.get(&h, "student", "m/1").unwrap_err().to_string();
        assert!(
            err.contains("artifact 'student' of m/1 is corrupt"),
            "{err}"
        );
        fs::remove_file(store.path(&h)).unwrap();
        let err = store.get(&h, "student", "m/1").unwrap_err().to_string();
        assert!(err.contains("is missing"), "{err}");
    }

    #[test]
    fn stale_temporary_files_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // Fresh and written by a live process (this one): another writer may still be
        // writing it, so it stays.
        let live = format!(".tmp-abc-{}-0-00000000", std::process::id());
        fs::write(dir.path().join(&live), b"partial").unwrap();
        ObjectStore::open(dir.path()).unwrap();
        assert!(dir.path().join(&live).exists());
        sweep_stale_temporaries(dir.path(), Duration::ZERO);
        assert!(!dir.path().join(&live).exists());
        // A writer that no longer runs (pid beyond the kernel's maximum) left it.
        if Path::new("/proc/self").exists() {
            let dead = ".tmp-abc-4294967295-0-00000000";
            fs::write(dir.path().join(dead), b"partial").unwrap();
            ObjectStore::open(dir.path()).unwrap();
            assert!(!dir.path().join(dead).exists());
        }
    }

    #[test]
    fn parallel_registrations_do_not_break_each_other() {
        // Many threads store the same and different objects while others open the store
        // (as `serve` and `registry ls` do): every put must succeed and read back.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let store = ObjectStore::open(&path).unwrap();
                        let bytes = vec![(i % 5) as u8 + t as u8 % 2; 64 * 1024];
                        let h = store.put(&bytes).unwrap();
                        assert_eq!(store.get(&h, "student", "m/1").unwrap(), bytes);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(left.is_empty(), "temporaries left behind: {left:?}");
    }
}
