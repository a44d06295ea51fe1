//! Single-row latency, measured in-process: calls are timed in small groups (so the
//! clock's own cost, which is large on some virtual machines, is amortised) and the
//! median per-call time over the groups is reported, after a warm-up. Speed targets live in
//! benchmarks; this is a report, never a test assertion.

use std::time::Instant;

/// Median µs per call of `f(i)`, over groups of calls totalling about `calls` calls.
pub fn median_us(calls: usize, mut f: impl FnMut(usize)) -> f64 {
    let warm = Instant::now();
    let mut i = 0;
    while i < 20 || (i < calls && warm.elapsed().as_secs_f64() < 0.05) {
        f(i);
        i += 1;
    }
    let per_call = warm.elapsed().as_secs_f64() / i as f64;
    // Groups of ≥ 50 µs each, so timer overhead stays below 1%.
    let group = ((50e-6 / per_call).ceil() as usize).clamp(1, 10_000);
    let groups = (calls / group).clamp(15, 200);
    let times = per_call_us(group, groups, f);
    times[times.len() / 2]
}

/// µs per call of `f(i)`, one value per group of `group` consecutive calls, sorted.
pub fn per_call_us(group: usize, groups: usize, mut f: impl FnMut(usize)) -> Vec<f64> {
    let mut times: Vec<f64> = (0..groups)
        .map(|g| {
            let t = Instant::now();
            for j in 0..group {
                f(g * group + j);
            }
            t.elapsed().as_secs_f64() * 1e6 / group as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}
