//! `distillery keygen | sign | verify`: ed25519 signatures over a version's artifacts.

use std::io::Write;

use anyhow::{Context, Result, bail};
use distillery_registry::{Change, DetachedSignature, Reference};

use crate::cli::{KeygenArgs, SignArgs, VerifyArgs};
use crate::exit::ExitStatus;

pub(crate) fn keygen(args: &KeygenArgs) -> Result<ExitStatus> {
    let (secret, public) = distillery_registry::keygen();
    let secret_path = args.out.with_extension("secret");
    let public_path = args.out.with_extension("pub");
    for p in [&secret_path, &public_path] {
        if p.exists() {
            bail!("{} exists; choose another --out or remove it", p.display());
        }
    }
    distillery_runtime::write_atomic(&secret_path, format!("{secret}\n").as_bytes())
        .with_context(|| format!("writing {}", secret_path.display()))?;
    restrict(&secret_path)?;
    distillery_runtime::write_atomic(&public_path, format!("{public}\n").as_bytes())
        .with_context(|| format!("writing {}", public_path.display()))?;
    println!(
        "wrote {} (keep it private) and {}",
        secret_path.display(),
        public_path.display()
    );
    Ok(ExitStatus::Ok)
}

#[cfg(unix)]
fn restrict(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_: &std::path::Path) -> Result<()> {
    Ok(())
}

pub(crate) fn sign(args: &SignArgs) -> Result<ExitStatus> {
    let reg = crate::registry_access::open(&args.options)?;
    let v = reg.resolve(&Reference::parse(&args.reference)?)?;
    // Sign only what verifiably is on disk now.
    for a in &v.artifacts {
        reg.load(&v, &a.role)?;
    }
    let secret = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the secret key {}", args.key.display()))?;
    if args.key.extension().is_some_and(|e| e == "pub") {
        bail!(
            "{} is a public key file; sign with the .secret file `distillery keygen` wrote beside it",
            args.key.display()
        );
    }
    let secret_hex = distillery_registry::secret_key(&secret)
        .with_context(|| format!("--key {}", args.key.display()))?;
    if reg.trusted_keys()?.contains(&secret_hex) {
        bail!(
            "--key {} holds a public key listed in trusted_keys; sign with the matching .secret file",
            args.key.display()
        );
    }
    let s = distillery_registry::sign(&v, &secret)?;
    let actor = crate::registry_access::actor(&args.options);
    reg.store().add_signature(
        &v.name,
        v.version,
        &s,
        &Change {
            actor: &actor,
            why: "",
        },
    )?;
    if let Some(out) = &args.out {
        distillery_runtime::write_atomic(out, &serde_json::to_vec_pretty(&s)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    println!("signed {} with key {}", v.label(), &s.public_key[..16]);
    Ok(ExitStatus::Ok)
}

pub(crate) fn verify(args: &VerifyArgs) -> Result<ExitStatus> {
    let reg = crate::registry_access::open(&args.options)?;
    let v = reg.resolve(&Reference::parse(&args.reference)?)?;
    // The keys whose signatures count: --key and the registry's trusted_keys.
    let mut trusted = reg.trusted_keys()?;
    if let Some(k) = &args.key {
        let text = std::fs::read_to_string(k)
            .with_context(|| format!("reading the public key {}", k.display()))?;
        trusted.push(
            distillery_registry::public_key(&text)
                .with_context(|| format!("--key {}", k.display()))?,
        );
    }
    let signatures: Vec<DetachedSignature> = match &args.signature {
        Some(f) => vec![
            serde_json::from_slice(
                &std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
            )
            .with_context(|| format!("{} is not a distillery signature", f.display()))?,
        ],
        None => reg.store().signatures(&v.name, v.version)?,
    };
    let mut out = std::io::stdout().lock();
    if signatures.is_empty() {
        writeln!(out, "{} has no signature", v.label())?;
        return Ok(ExitStatus::GateFailed);
    }
    // Artifacts must match their hashes, and the hashes the signature.
    let mut ok = true;
    for a in &v.artifacts {
        if let Err(e) = reg.load(&v, &a.role) {
            writeln!(out, "{e}")?;
            ok = false;
        }
    }
    // Valid when at least one signature from a trusted key verifies; signatures by other
    // keys are listed but neither count nor spoil it.
    let mut trusted_valid = 0;
    for s in &signatures {
        let key = &s.public_key[..s.public_key.len().min(16)];
        let intact = distillery_registry::verify(&v, s, &[]);
        let is_trusted = trusted
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&s.public_key));
        match (intact, is_trusted) {
            (Ok(()), true) => {
                trusted_valid += 1;
                writeln!(out, "{}: valid signature by trusted key {key}", v.label())?;
            }
            (Ok(()), false) => writeln!(
                out,
                "{}: intact signature by key {key}, which is not trusted (not counted)",
                v.label()
            )?,
            (Err(e), true) => {
                writeln!(out, "{e}")?;
                ok = false;
            }
            (Err(e), false) => writeln!(out, "{e} (untrusted key {key}, not counted)")?,
        }
    }
    if trusted.is_empty() {
        writeln!(
            out,
            "no key is trusted, so no signature can be: pass --key NAME.pub, or list trusted_keys in the registry's config.toml"
        )?;
        ok = false;
    } else if trusted_valid == 0 {
        writeln!(out, "{}: no valid signature from a trusted key", v.label())?;
        ok = false;
    }
    Ok(if ok {
        ExitStatus::Ok
    } else {
        ExitStatus::GateFailed
    })
}
