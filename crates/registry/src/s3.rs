//! Artifacts on S3-compatible object storage (`s3://bucket/prefix`), through the
//! `object_store` crate: endpoint, region and credentials from the usual `AWS_*`
//! environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
//!
//! Keys are content addresses, `<prefix>/objects/<blake3>`, as in the folder store. An
//! object is uploaded with one PUT (atomic on S3: a reader sees all of it or nothing),
//! as a create-only conditional put where the server supports it, and only then can a
//! version row point at it; every read is re-hashed.

use std::path::PathBuf;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore as _, PutMode, PutOptions, PutPayload};

use crate::blocking::off_runtime;
use crate::error::{RegistryError, Result};
use crate::objects::Artifacts;

/// An `s3://bucket/prefix` artifact store.
pub(crate) struct S3Objects {
    store: object_store::aws::AmazonS3,
    prefix: String,
    url: String,
    /// The runtime the client's futures run on; `Some` until drop.
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3Objects {
    /// Connects lazily (the first request does): settings come from the URL and `AWS_*`.
    pub(crate) fn open(url: &str) -> Result<S3Objects> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RegistryError::Invalid(format!(
                "{url}: name a bucket, as s3://bucket/prefix"
            )));
        }
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|source| RegistryError::ObjectStore {
                location: url.to_string(),
                source,
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RegistryError::Io {
                path: PathBuf::from(url),
                source,
            })?;
        Ok(S3Objects {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url: url.to_string(),
            runtime: Some(runtime),
        })
    }

    fn key(&self, hash: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(format!("objects/{hash}"))
        } else {
            Key::from(format!("{}/objects/{hash}", self.prefix))
        }
    }

    fn err(&self, source: object_store::Error) -> RegistryError {
        RegistryError::ObjectStore {
            location: self.url.clone(),
            source,
        }
    }

    /// Runs one request to completion, off any async runtime.
    fn block<T: Send>(
        &self,
        f: impl std::future::Future<Output = object_store::Result<T>> + Send,
    ) -> Result<T> {
        let Some(runtime) = &self.runtime else {
            return Err(RegistryError::Invalid("the object store is closed".into()));
        };
        off_runtime(|| runtime.block_on(f)).map_err(|e| self.err(e))
    }
}

impl Drop for S3Objects {
    fn drop(&mut self) {
        let runtime = self.runtime.take();
        off_runtime(move || drop(runtime));
    }
}

impl Artifacts for S3Objects {
    fn put(&self, bytes: &[u8]) -> Result<String> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let key = self.key(&hash);
        // Present already: content-addressed, so it is these very bytes.
        match self.block(self.store.head(&key)) {
            Ok(meta) if meta.size == bytes.len() as u64 => return Ok(hash),
            Ok(_)
            | Err(RegistryError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self.block(self.store.put_opts(&key, payload.clone(), create)) {
            Ok(_)
            | Err(RegistryError::ObjectStore {
                source: object_store::Error::AlreadyExists { .. },
                ..
            }) => Ok(hash),
            // A server without conditional writes: a plain PUT of identical content.
            Err(RegistryError::ObjectStore {
                source:
                    object_store::Error::NotImplemented | object_store::Error::NotSupported { .. },
                ..
            }) => {
                self.block(self.store.put(&key, payload))?;
                Ok(hash)
            }
            Err(e) => Err(e),
        }
    }

    fn get(&self, hash: &str, role: &str, model: &str) -> Result<Vec<u8>> {
        let key = self.key(hash);
        let bytes = match self.block(async { self.store.get(&key).await?.bytes().await }) {
            Ok(b) => b,
            Err(RegistryError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => {
                return Err(RegistryError::Missing {
                    role: role.into(),
                    model: model.into(),
                    hash: hash.into(),
                    dir: PathBuf::from(self.location()),
                });
            }
            Err(e) => return Err(e),
        };
        let actual = blake3::hash(&bytes).to_hex().to_string();
        if actual != hash {
            return Err(RegistryError::Tampered {
                role: role.into(),
                model: model.into(),
                hash: hash.into(),
                actual,
            });
        }
        Ok(bytes.to_vec())
    }

    fn location(&self) -> String {
        format!("{}/objects", self.url.trim_end_matches('/'))
    }
}
