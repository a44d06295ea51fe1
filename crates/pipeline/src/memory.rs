//! Up-front memory checks, so a recipe that cannot fit (`hidden = [100000000]`, a training
//! file bigger than memory) is refused with exit 2 in milliseconds instead of growing until
//! the kernel kills it.

use crate::error::{Result, refuse};
use std::path::Path;

/// Memory the system can still give (Linux `MemAvailable`); `None` where it cannot be told,
/// and then no check refuses anything.
pub(crate) fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Bytes an MLP of these widths needs while training: weights, gradients, Adam's two
/// moments and the best-weights copy (5 × 4 bytes a parameter), plus activations and
/// their gradients for one batch.
pub(crate) fn training_bytes(input: usize, hidden: &[usize], classes: usize, batch: usize) -> u128 {
    let mut widths = vec![input as u128];
    widths.extend(hidden.iter().map(|&h| h as u128));
    widths.push(classes as u128);
    let parameters: u128 = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let activations: u128 = widths.iter().sum::<u128>() * batch as u128;
    parameters * 20 + activations * 8
}

/// Refuses `need` bytes for `what` when it exceeds 80% of the available memory.
pub(crate) fn check_fits(what: &str, need: u128) -> Result<()> {
    let Some(available) = available_bytes() else {
        return Ok(());
    };
    if need > u128::from(available) / 5 * 4 {
        refuse!(
            "{what} needs about {} of memory but {} is available; make it smaller",
            human(need),
            human(u128::from(available))
        );
    }
    Ok(())
}

/// Refuses a data file larger than the available memory (its columns would not fit).
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let Some(available) = available_bytes() else {
        return Ok(());
    };
    if meta.is_file() && meta.len() > available {
        refuse!(
            "{} is {} but only {} of memory is available; sample it or use a bigger machine",
            path.display(),
            human(u128::from(meta.len())),
            human(u128::from(available))
        );
    }
    Ok(())
}

fn human(bytes: u128) -> String {
    let gib = bytes as f64 / f64::from(1u32 << 30);
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes as f64 / f64::from(1u32 << 20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_million_wide_layer_is_refused_before_it_allocates() {
        let need = training_bytes(100, &[65_536, 65_536], 2, 256);
        assert!(need > 64 << 30, "{need}");
        if available_bytes().is_some_and(|a| u128::from(a) < need) {
            let e = check_fits("the student", need).unwrap_err().to_string();
            assert!(e.contains("needs about"), "{e}");
        }
        check_fits("a small student", training_bytes(100, &[64], 2, 256)).unwrap();
    }
}
