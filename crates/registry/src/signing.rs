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

/// A new key pair as (secret, public) hex strings, from the OS-seeded generator.
pub fn keygen() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (hex(&seed), hex(key.verifying_key().as_bytes()))
}

/// Signs a version's manifest with a hex secret key.
pub fn sign(v: &ModelVersion, secret_hex: &str) -> Result<DetachedSignature> {
    let seed: [u8; 32] = unhex(secret_hex)
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
        assert_eq!(s.public_key, public);
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
}
