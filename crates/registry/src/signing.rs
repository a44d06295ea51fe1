//! Detached ed25519 signatures over a version's manifest: its name, version and the BLAKE3
//! hash of every artifact (the model card included). A signature stays valid exactly as
//! long as no signed byte changes; promotion to `production` can demand one from a
//! trusted key.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::records::ModelVersion;

/// What is signed, serialised canonically (sorted artifacts, compact JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `distillery-manifest/1`.
    pub format: String,
    /// Model name.
    pub name: String,
    /// Version number.
    pub version: u32,
    /// `(role, blake3)` of every artifact, sorted by role.
    pub artifacts: Vec<(String, String)>,
}

impl Manifest {
    /// The manifest of a version.
    pub fn of(v: &ModelVersion) -> Manifest {
        let mut artifacts: Vec<(String, String)> = v
            .artifacts
            .iter()
            .map(|a| (a.role.clone(), a.hash.clone()))
            .collect();
        artifacts.sort();
        Manifest {
            format: "distillery-manifest/1".into(),
            name: v.name.clone(),
            version: v.version,
            artifacts,
        }
    }

    /// The exact bytes that are signed.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A detached signature as stored and exchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetachedSignature {
    /// The signer's public key, hex.
    pub public_key: String,
    /// The ed25519 signature, hex.
    pub signature: String,
    /// The manifest that was signed.
    pub manifest: Manifest,
}

/// How a secret key file's text begins, so it is never taken for a public key.
const SECRET_PREFIX: &str = "distillery-ed25519-secret:";
/// How a public key file's text begins.
const PUBLIC_PREFIX: &str = "distillery-ed25519-public:";

/// A new key pair as the texts of the (secret, public) key files, from the OS-seeded
/// generator. Each names its kind (`distillery-ed25519-secret:<hex>`,
/// `distillery-ed25519-public:<hex>`), so one cannot be used in place of the other.
pub fn keygen() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (
        format!("{SECRET_PREFIX}{}", hex(&seed)),
        format!("{PUBLIC_PREFIX}{}", hex(key.verifying_key().as_bytes())),
    )
}

/// The 64 hex digits of a key text with or without its kind prefix, lower-cased.
fn key_hex(text: &str) -> Option<String> {
    let hex = text.trim();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The secret key in a key file's text (with the secret prefix, or bare hex from keys
/// made before the prefix existed).
///
/// # Errors
/// The text is a public key (signing with it would sign nothing of yours), or not a key.
pub fn secret_key(text: &str) -> Result<String> {
    let text = text.trim();
    if text.starts_with(PUBLIC_PREFIX) {
        return Err(RegistryError::Invalid(
            "this is a public key (a .pub file); sign with the .secret file that `distillery keygen` wrote beside it".into(),
        ));
    }
    key_hex(text.strip_prefix(SECRET_PREFIX).unwrap_or(text)).ok_or_else(|| {
        RegistryError::Invalid(
            "the secret key is not 64 hex digits; make one with `distillery keygen`".into(),
        )
    })
}

/// The public key in a key file's text or a `trusted_keys` entry (with the public prefix
/// or bare hex), lower-cased.
///
/// # Errors
/// The text is a secret key, or not a key.
pub fn public_key(text: &str) -> Result<String> {
    let text = text.trim();
    if text.starts_with(SECRET_PREFIX) {
        return Err(RegistryError::Invalid(
            "this is a secret key; give the public key (the .pub file), and keep the secret private".into(),
        ));
    }
    key_hex(text.strip_prefix(PUBLIC_PREFIX).unwrap_or(text)).ok_or_else(|| {
        RegistryError::Invalid(
            "the public key is not 64 hex digits; give the .pub file `distillery keygen` wrote"
                .into(),
        )
    })
}

/// Signs a version's manifest with a secret key (a key file's text, see [`secret_key`]).
pub fn sign(v: &ModelVersion, secret: &str) -> Result<DetachedSignature> {
    let secret_hex = secret_key(secret)?;
    let seed: [u8; 32] = unhex(&secret_hex)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            RegistryError::Invalid(
                "the secret key is not 64 hex digits; make one with `distillery keygen`".into(),
            )
        })?;
    let key = SigningKey::from_bytes(&seed);
    let manifest = Manifest::of(v);
    let signature = key.sign(&manifest.bytes());
    Ok(DetachedSignature {
        public_key: hex(key.verifying_key().as_bytes()),
        signature: hex(&signature.to_bytes()),
        manifest,
    })
}

/// Checks a signature against the version as it is now and, when given, against the
/// trusted public keys. Names what is wrong.
pub fn verify(v: &ModelVersion, s: &DetachedSignature, trusted: &[String]) -> Result<()> {
    if !trusted.is_empty()
        && !trusted
            .iter()
            .filter_map(|t| public_key(t).ok())
            .any(|t| t.eq_ignore_ascii_case(&s.public_key))
    {
        return Err(RegistryError::Invalid(format!(
            "{} is signed by key {}, which is not among the trusted keys",
            v.label(),
            short(&s.public_key)
        )));
    }
    let now = Manifest::of(v);
    if now != s.manifest {
        return Err(RegistryError::Invalid(format!(
            "the signature of {} covers other artifacts than the version has now",
            v.label()
        )));
    }
    let bad = || RegistryError::Invalid(format!("the signature of {} is not valid", v.label()));
    let key: [u8; 32] = unhex(&s.public_key)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let sig: [u8; 64] = unhex(&s.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    VerifyingKey::from_bytes(&key)
        .map_err(|_| bad())?
        .verify(&now.bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| bad())
}

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Artifact;

    fn version() -> ModelVersion {
        ModelVersion {
            name: "m".into(),
            version: 1,
            run_id: "r".into(),
            artifacts: vec![Artifact {
                role: "student".into(),
                file: "student.safetensors".into(),
                hash: "ab".repeat(32),
                bytes: 1,
            }],
            gates_passed: true,
            created: String::new(),
            actor: String::new(),
        }
    }

    #[test]
    fn sign_then_verify_and_every_kind_of_forgery_fails() {
        let (secret, public) = keygen();
        let v = version();
        let s = sign(&v, &secret).unwrap();
        assert_eq!(s.public_key, public_key(&public).unwrap());
        verify(&v, &s, &[]).unwrap();
        verify(&v, &s, std::slice::from_ref(&public)).unwrap();
        let (_, other) = keygen();
        assert!(
            verify(&v, &s, &[other])
                .unwrap_err()
                .to_string()
                .contains("not among the trusted")
        );
        let mut changed = v.clone();
        changed.artifacts[0].hash = "cd".repeat(32);
        assert!(
            verify(&changed, &s, &[])
                .unwrap_err()
                .to_string()
                .contains("other artifacts")
        );
        let mut forged = s;
        forged.signature.replace_range(
            0..2,
            if &forged.signature[0..2] == "00" {
                "01"
            } else {
                "00"
            },
        );
        assert!(
            verify(&v, &forged, &[])
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
        assert!(sign(&v, "xyz").is_err());
    }

    #[test]
    fn a_public_key_used_as_the_secret_is_refused() {
        let (secret, public) = keygen();
        let v = version();
        let e = sign(&v, &public).unwrap_err().to_string();
        assert!(e.contains("this is a public key"), "{e}");
        let e = public_key(&secret).unwrap_err().to_string();
        assert!(e.contains("this is a secret key"), "{e}");
        // Keys made before the prefix existed still work, as bare hex.
        let bare = secret.trim_start_matches(SECRET_PREFIX);
        assert_eq!(
            sign(&v, bare).unwrap().public_key,
            public_key(&public).unwrap()
        );
    }
}
