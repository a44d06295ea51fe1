//! The content-addressed artifact store: `objects/<blake3>`. An object is written to a
//! temporary file, fsynced and renamed into place, and never overwritten; reading one
//! re-hashes it, so an altered or truncated file is caught at load time.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// The object directory.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    dir: PathBuf,
}

impl ObjectStore {
    /// Opens (creating) the object directory and removes temporary files left by a crash.
    pub fn open(dir: &Path) -> Result<ObjectStore> {
        fs::create_dir_all(dir).map_err(|source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
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
        let tmp = self.dir.join(format!(".tmp-{hash}-{}", std::process::id()));
        let io = |source| RegistryError::Io {
            path: tmp.clone(),
            source,
        };
        let mut f = fs::File::create(&tmp).map_err(io)?;
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
        let actual = blake3::hash(&bytes).to_hex().to_string();
        if actual != hash {
            return Err(RegistryError::Tampered {
                role: role.into(),
                model: model.into(),
                hash: hash.into(),
                actual,
            });
        }
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
    fn leftover_temporary_files_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".tmp-abc-1"), b"partial").unwrap();
        ObjectStore::open(dir.path()).unwrap();
        assert!(!dir.path().join(".tmp-abc-1").exists());
    }
}
