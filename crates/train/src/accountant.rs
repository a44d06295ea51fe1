//! The privacy accountant of DP-SGD: Rényi differential privacy of the Sampled Gaussian
//! Mechanism (Mironov, Talwar & Zhang 2019, arXiv 1908.10530 §3.3), composed over steps and
//! converted to (ε, δ) by Balle et al. 2020 (arXiv 1905.09982, Theorem 21).
//!
//! It computes what Opacus' `RDPAccountant` computes, on the same grid of orders, so an ε
//! printed by distillery can be checked against Opacus (fixtures from
//! `tools/make_privacy_fixtures.py`, tested to 1e-6). All arithmetic is in log space:
//! the terms of `A_α` span hundreds of orders of magnitude.

use statrs::function::erf::erfc;

/// One stretch of training at a fixed sampling rate and noise multiplier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgmSteps {
    /// Probability that a row is in a step's batch (Poisson sampling): batch / rows.
    pub sample_rate: f64,
    /// Noise standard deviation over the clipping norm (the L2 sensitivity).
    pub noise_multiplier: f64,
    /// Steps taken at these settings.
    pub steps: u64,
}

/// An (ε, δ) guarantee and the Rényi order that gave the tightest ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrivacySpent {
    /// ε at the requested δ (infinite when nothing bounds it).
    pub epsilon: f64,
    /// The order α at which the conversion was tightest.
    pub order: f64,
}

/// Why a noise multiplier cannot be found.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AccountantError {
    /// A parameter is out of its range.
    #[error("{0}")]
    Invalid(String),
    /// Even a noise multiplier of a million does not reach the target ε.
    #[error(
        "no noise multiplier up to 1e6 reaches ε = {epsilon} at δ = {delta} over {steps} steps at sample rate {sample_rate}: raise ε or δ, or take fewer steps or smaller batches"
    )]
    BudgetTooSmall {
        /// Target ε.
        epsilon: f64,
        /// Target δ.
        delta: f64,
        /// Steps.
        steps: u64,
        /// Sampling rate.
        sample_rate: f64,
    },
}

/// Opacus' default orders: 1.1, 1.2, …, 10.9, then 12, 13, …, 63.
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((12..64).map(f64::from))
        .collect()
}

/// log(eˣ + eʸ).
fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = (x.min(y), x.max(y));
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

/// log(eˣ − eʸ) for x ≥ y (−∞ for equal arguments).
fn log_sub(x: f64, y: f64) -> f64 {
    if y == f64::NEG_INFINITY {
        return x;
    }
    if x <= y {
        return f64::NEG_INFINITY;
    }
    let d = (x - y).exp_m1();
    if d.is_infinite() { x } else { d.ln() + y }
}

/// log(erfc(x)), accurate where erfc underflows.
fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        return erfc(x).ln();
    }
    // Asymptotic series: erfc(x) = e^(−x²) / (x√π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶) + …).
    let t = 1.0 / (2.0 * x * x);
    let series = 1.0 - t + 3.0 * t * t - 15.0 * t * t * t + 105.0 * t.powi(4);
    -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln() + series.ln()
}

/// log(A_α) for an integer order: a finite sum over the binomial expansion.
fn log_a_integer(q: f64, sigma: f64, alpha: u32) -> f64 {
    let mut log_a = f64::NEG_INFINITY;
    let mut binom = 1.0f64;
    for i in 0..=alpha {
        if i > 0 {
            binom = binom * f64::from(alpha - i + 1) / f64::from(i);
        }
        let (fi, fa) = (f64::from(i), f64::from(alpha));
        let log_coef = binom.ln() + fi * q.ln() + (fa - fi) * (1.0 - q).ln();
        log_a = log_add(log_a, log_coef + (fi * fi - fi) / (2.0 * sigma * sigma));
    }
    log_a
}

/// log(A_α) for a fractional order: two tails of an erfc series, summed until their terms
/// fall below e⁻³⁰.
fn log_a_fractional(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let root2_sigma = std::f64::consts::SQRT_2 * sigma;
    let mut coef = 1.0f64;
    let mut i = 0u32;
    loop {
        let fi = f64::from(i);
        if i > 0 {
            coef = coef * (alpha - fi + 1.0) / fi;
        }
        let log_coef = coef.abs().ln();
        let j = alpha - fi;
        let log_t0 = log_coef + fi * q.ln() + j * (1.0 - q).ln();
        let log_t1 = log_coef + j * q.ln() + fi * (1.0 - q).ln();
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / root2_sigma);
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / root2_sigma);
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if coef > 0.0 {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        i += 1;
        if log_s0.max(log_s1) < -30.0 || i > 100_000 {
            break;
        }
    }
    log_add(log_a0, log_a1)
}

/// RDP of one step of the Sampled Gaussian Mechanism at order `alpha` (may be infinite).
pub fn rdp_per_step(sample_rate: f64, noise_multiplier: f64, alpha: f64) -> f64 {
    let (q, sigma) = (sample_rate, noise_multiplier);
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 || alpha.is_infinite() {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 && alpha <= f64::from(u32::MAX) {
        log_a_integer(q, sigma, alpha as u32)
    } else {
        log_a_fractional(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

fn check(steps: &SgmSteps) -> Result<(), AccountantError> {
    if !(0.0..=1.0).contains(&steps.sample_rate) {
        return Err(AccountantError::Invalid(format!(
            "sample rate {} is not a probability in [0, 1]",
            steps.sample_rate
        )));
    }
    if !(steps.noise_multiplier >= 0.0 && steps.noise_multiplier.is_finite()) {
        return Err(AccountantError::Invalid(format!(
            "noise multiplier {} must be a finite number ≥ 0",
            steps.noise_multiplier
        )));
    }
    Ok(())
}

fn check_delta(delta: f64) -> Result<(), AccountantError> {
    if delta > 0.0 && delta < 1.0 {
        Ok(())
    } else {
        Err(AccountantError::Invalid(format!(
            "δ = {delta} must lie strictly between 0 and 1 (typically below 1 / the number of rows)"
        )))
    }
}

/// The (ε, δ) guarantee of a training history at `delta`, over `orders` (see
/// [`default_orders`]).
///
/// # Errors
/// A sampling rate outside [0, 1], a negative noise multiplier, or δ outside (0, 1).
pub fn epsilon(
    history: &[SgmSteps],
    delta: f64,
    orders: &[f64],
) -> Result<PrivacySpent, AccountantError> {
    check_delta(delta)?;
    for h in history {
        check(h)?;
    }
    let mut best = PrivacySpent {
        epsilon: f64::INFINITY,
        order: f64::NAN,
    };
    for &alpha in orders {
        let rdp: f64 = history
            .iter()
            .map(|h| rdp_per_step(h.sample_rate, h.noise_multiplier, alpha) * h.steps as f64)
            .sum();
        let eps = rdp - (delta.ln() + alpha.ln()) / (alpha - 1.0) + ((alpha - 1.0) / alpha).ln();
        if eps < best.epsilon {
            best = PrivacySpent {
                epsilon: eps,
                order: alpha,
            };
        }
    }
    Ok(best)
}

/// The noise multiplier that keeps `steps` steps at `sample_rate` within `target_epsilon`
/// at `delta`, found as Opacus' `get_noise_multiplier` finds it: double an upper bound from
/// 10 until it is within budget, then bisect until its ε is within `tolerance` of the
/// target (0.01 in Opacus). Returns the multiplier and its ε.
///
/// # Errors
/// Invalid parameters, or a budget no multiplier up to 1e6 reaches.
pub fn noise_multiplier(
    target_epsilon: f64,
    delta: f64,
    sample_rate: f64,
    steps: u64,
    tolerance: f64,
) -> Result<(f64, f64), AccountantError> {
    if !(target_epsilon > 0.0 && target_epsilon.is_finite()) {
        return Err(AccountantError::Invalid(format!(
            "target ε = {target_epsilon} must be a positive number"
        )));
    }
    let orders = default_orders();
    let eps_at = |sigma: f64| {
        epsilon(
            &[SgmSteps {
                sample_rate,
                noise_multiplier: sigma,
                steps,
            }],
            delta,
            &orders,
        )
        .map(|p| p.epsilon)
    };
    let (mut low, mut high) = (0.0f64, 10.0f64);
    let mut eps_high = f64::INFINITY;
    while eps_high > target_epsilon {
        high *= 2.0;
        eps_high = eps_at(high)?;
        if high > 1e6 {
            return Err(AccountantError::BudgetTooSmall {
                epsilon: target_epsilon,
                delta,
                steps,
                sample_rate,
            });
        }
    }
    while target_epsilon - eps_high > tolerance {
        let sigma = (low + high) / 2.0;
        let eps = eps_at(sigma)?;
        if eps < target_epsilon {
            high = sigma;
            eps_high = eps;
        } else {
            low = sigma;
        }
    }
    Ok((high, eps_high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opacus_doctest_vector() {
        // Opacus' analysis/rdp.py doctest: two stretches, δ = 1e-5, orders 2..32 → ε ≈ 0.336 at 23.
        let history = [
            SgmSteps {
                sample_rate: 1e-5,
                noise_multiplier: 1.0,
                steps: 10,
            },
            SgmSteps {
                sample_rate: 1e-4,
                noise_multiplier: 3.0,
                steps: 4,
            },
        ];
        let orders: Vec<f64> = (2..=32).map(f64::from).collect();
        let spent = epsilon(&history, 1e-5, &orders).unwrap();
        assert!((spent.epsilon - 0.336).abs() < 5e-4, "{spent:?}");
        assert_eq!(spent.order, 23.0);
    }

    #[test]
    fn more_noise_or_fewer_steps_spend_less() {
        let at = |sigma: f64, steps: u64| {
            epsilon(
                &[SgmSteps {
                    sample_rate: 0.01,
                    noise_multiplier: sigma,
                    steps,
                }],
                1e-5,
                &default_orders(),
            )
            .unwrap()
            .epsilon
        };
        assert!(at(1.0, 1000) > at(2.0, 1000));
        assert!(at(1.0, 1000) > at(1.0, 100));
        assert_eq!(at(0.0, 10), f64::INFINITY);
    }

    #[test]
    fn the_noise_multiplier_meets_its_target() {
        let (sigma, eps) = noise_multiplier(3.0, 1e-5, 0.01, 3000, 0.01).unwrap();
        assert!(eps <= 3.0 && eps > 2.99, "{sigma} {eps}");
        assert!(
            noise_multiplier(1e-9, 1e-5, 1.0, 1_000_000, 0.01).is_err(),
            "an impossible budget is refused"
        );
    }

    #[test]
    fn log_erfc_is_continuous_where_the_series_takes_over() {
        let (a, b) = (log_erfc(25.0 - 1e-9), log_erfc(25.0));
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}
