//! `distillery deploy canary|rollback|promote|shadow`: the admin API of a running
//! `distillery serve`, from the command line.

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::{DeployAction, DeployArgs};
use crate::exit::ExitStatus;

/// `adult/4` → ("adult", 4).
fn name_version(reference: &str) -> Result<(&str, u32)> {
    let Some((name, version)) = reference.rsplit_once('/') else {
        bail!("'{reference}' is not name/version (e.g. adult/4)");
    };
    let version = version
        .parse()
        .with_context(|| format!("'{reference}': the version must be a number"))?;
    Ok((name, version))
}

pub(crate) fn run(args: &DeployArgs) -> Result<ExitStatus> {
    let token = match &args.token_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading the admin token file {}", p.display()))?
            .trim()
            .to_string(),
        None => crate::environment::admin_token().ok_or_else(|| {
            anyhow::anyhow!(
                "no admin token: pass --token-file or set DISTILLERY_ADMIN_TOKEN (the server's token)"
            )
        })?,
    };
    let (path, body) = match &args.action {
        DeployAction::Canary { reference, weight } => {
            let (name, version) = name_version(reference)?;
            (
                format!("/admin/models/{name}/canary"),
                json!({ "version": version, "weight": weight, "why": args.why }),
            )
        }
        DeployAction::Shadow {
            reference,
            stop: true,
            ..
        } => (
            format!("/admin/models/{reference}/shadow"),
            json!({ "version": null, "why": args.why }),
        ),
        DeployAction::Shadow {
            reference,
            fraction,
            ..
        } => {
            if !(0.0..=1.0).contains(fraction) {
                bail!("--fraction {fraction} must be between 0 and 1");
            }
            let (name, version) = name_version(reference)?;
            (
                format!("/admin/models/{name}/shadow"),
                json!({ "version": version, "fraction": fraction, "why": args.why }),
            )
        }
        DeployAction::Rollback { name } => (
            format!("/admin/models/{name}/rollback"),
            json!({ "why": args.why }),
        ),
        DeployAction::Promote { name } => (
            format!("/admin/models/{name}/promote"),
            json!({ "why": args.why }),
        ),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}{path}", args.server.trim_end_matches('/'));
    let mut response = agent
        .post(&url)
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .with_context(|| format!("cannot reach {url}; is `distillery serve` running there?"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        bail!("the server refused ({status}): {message}");
    }
    println!("{text}");
    Ok(ExitStatus::Ok)
}
