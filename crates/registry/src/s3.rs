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

/// Named files under an `s3://bucket/prefix` (prediction logs, one folder per replica):
/// the same client and settings as the artifacts, without content addressing.
pub struct S3Files {
    inner: S3Objects,
}

impl S3Files {
    /// Connects lazily to `s3://bucket/prefix` with the `AWS_*` settings.
    ///
    /// # Errors
    /// The URL names no bucket, or the settings are unusable.
    pub fn open(url: &str) -> Result<S3Files> {
        Ok(S3Files {
            inner: S3Objects::open(url)?,
        })
    }

    fn key(&self, relative: &str) -> Key {
        if self.inner.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.inner.prefix))
        }
    }

    /// Writes `bytes` as `relative` (replacing it: one PUT, atomic for readers).
    ///
    /// # Errors
    /// The store refused the request.
    pub fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        let key = self.key(relative);
        self.inner
            .block(self.inner.store.put(&key, PutPayload::from(bytes)))?;
        Ok(())
    }

    /// Every file under the prefix, as (path relative to the prefix, size), sorted.
    ///
    /// # Errors
    /// The store refused the listing.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        use futures_util::TryStreamExt as _;
        let prefix = (!self.inner.prefix.is_empty()).then(|| Key::from(self.inner.prefix.as_str()));
        let mut found: Vec<(String, u64)> = self.inner.block(async {
            let listed: Vec<object_store::ObjectMeta> =
                self.inner.store.list(prefix.as_ref()).try_collect().await?;
            Ok(listed
                .into_iter()
                .map(|m| (m.location.to_string(), m.size))
                .collect())
        })?;
        let strip = if self.inner.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.inner.prefix)
        };
        for (key, _) in &mut found {
            if let Some(rest) = key.strip_prefix(&strip) {
                *key = rest.to_string();
            }
        }
        found.sort();
        Ok(found)
    }

    /// The bytes of `relative`.
    ///
    /// # Errors
    /// The file is missing or the store refused the request.
    pub fn get(&self, relative: &str) -> Result<Vec<u8>> {
        let key = self.key(relative);
        let bytes = self
            .inner
            .block(async { self.inner.store.get(&key).await?.bytes().await })?;
        Ok(bytes.to_vec())
    }

    /// The `s3://bucket/prefix` URL, for messages.
    pub fn url(&self) -> &str {
        &self.inner.url
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
        crate::objects::check_hash(&bytes, hash, role, model)?;
        Ok(bytes.to_vec())
    }

    fn location(&self) -> String {
        format!("{}/objects", self.url.trim_end_matches('/'))
    }
}
