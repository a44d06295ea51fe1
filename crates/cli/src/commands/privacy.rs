//! `distillery privacy epsilon|noise`: the DP-SGD accountant on its own, so anyone can check
//! an ε against another accountant (Opacus' `RDPAccountant` computes the same numbers) or
//! size the noise before training.

use std::io::Write;

use anyhow::Result;
use distillery_train::accountant::{self, SgmSteps};
use serde_json::json;

use crate::cli::{PrivacyArgs, PrivacyCommand};
use crate::exit::ExitStatus;

pub(crate) fn run(args: &PrivacyArgs) -> Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    match &args.command {
        PrivacyCommand::Epsilon(a) => {
            let spent = accountant::epsilon(
                &[SgmSteps {
                    sample_rate: a.sample_rate,
                    noise_multiplier: a.noise_multiplier,
                    steps: a.steps,
                }],
                a.delta,
                &accountant::default_orders(),
            )?;
            if a.json {
                let doc = json!({
                    "accountant": "rdp",
                    "epsilon": finite_or_null(spent.epsilon),
                    "delta": a.delta,
                    "order": finite_or_null(spent.order),
                    "sample_rate": a.sample_rate,
                    "noise_multiplier": a.noise_multiplier,
                    "steps": a.steps,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            } else {
                writeln!(
                    out,
                    "ε = {:.6} at δ = {} (Rényi DP accountant, best order α = {}): {} steps, sample rate {}, noise multiplier {}",
                    spent.epsilon, a.delta, spent.order, a.steps, a.sample_rate, a.noise_multiplier
                )?;
            }
        }
        PrivacyCommand::Noise(a) => {
            let (sigma, eps) =
                accountant::noise_multiplier(a.epsilon, a.delta, a.sample_rate, a.steps, 0.01)?;
            if a.json {
                let doc = json!({
                    "accountant": "rdp",
                    "noise_multiplier": sigma,
                    "epsilon": eps,
                    "target_epsilon": a.epsilon,
                    "delta": a.delta,
                    "sample_rate": a.sample_rate,
                    "steps": a.steps,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            } else {
                writeln!(
                    out,
                    "noise multiplier {sigma:.6} gives ε = {eps:.4} ≤ {} at δ = {} over {} steps at sample rate {}",
                    a.epsilon, a.delta, a.steps, a.sample_rate
                )?;
            }
        }
    }
    Ok(ExitStatus::Ok)
}

/// JSON has no infinity: an unbounded ε is written as null.
fn finite_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}
