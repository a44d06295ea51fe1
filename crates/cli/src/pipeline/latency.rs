//! Single-row latency, measured in-process: the median of many timed calls after a warm-up,
//! so the number reflects the steady state a server sees. Speed targets live in benchmarks;
//! this is a report, never a test assertion.

use std::time::Instant;

/// Calls `f(i)` for warm-up then times `calls` calls, returning the median in µs.
pub(crate) fn median_us(calls: usize, mut f: impl FnMut(usize)) -> f64 {
    for i in 0..calls.min(200) {
        f(i);
    }
    let mut times: Vec<f64> = (0..calls)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
