//! The last minutes of traffic per model, for the console's deployment page: request rate,
//! error rate, p50/p99 latency per served version, and how often a canary's labels differed
//! from the stable version's. Prometheus counters say the same since the start; these say
//! what is happening now, without a Prometheus server.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How far back the figures look.
pub(crate) const SPAN: Duration = Duration::from_secs(60);
/// Most requests remembered per model (the oldest go first).
const KEPT: usize = 20_000;

#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Instant,
    version: u32,
    micros: u32,
    status: u16,
}

/// One model's recent requests and canary comparisons.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    seen: VecDeque<Seen>,
    /// (when, canary version, rows compared, rows labelled differently).
    compared: VecDeque<(Instant, u32, usize, usize)>,
}

/// One version's traffic over the last [`SPAN`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTraffic {
    /// The version that answered (0: refused before any version was reached).
    pub version: u32,
    /// Requests in the span.
    pub requests: usize,
    /// Requests per second over the span.
    pub per_second: f64,
    /// Share of requests the server failed (5xx): the version's fault.
    pub error_rate: f64,
    /// Share of requests refused as malformed or over a limit (4xx): the clients' doing,
    /// so a stranger sending garbage cannot make a healthy canary look broken.
    pub refused_rate: f64,
    /// Median latency, milliseconds (nearest rank).
    pub p50_ms: f64,
    /// 99th-percentile latency, milliseconds (nearest rank).
    pub p99_ms: f64,
    /// Canary only: rows also answered by the stable version.
    pub compared_rows: usize,
    /// Canary only: share of those rows whose label differed from the stable version's.
    pub disagreement: Option<f64>,
}

impl Recent {
    pub(crate) fn request(&mut self, version: u32, took: Duration, status: u16) {
        let now = Instant::now();
        self.seen.push_back(Seen {
            at: now,
            version,
            micros: u32::try_from(took.as_micros()).unwrap_or(u32::MAX),
            status,
        });
        while self.seen.len() > KEPT {
            self.seen.pop_front();
        }
        self.forget_before(now);
    }

    pub(crate) fn canary(&mut self, version: u32, rows: usize, disagreements: usize) {
        let now = Instant::now();
        self.compared.push_back((now, version, rows, disagreements));
        while self.compared.len() > KEPT {
            self.compared.pop_front();
        }
        self.forget_before(now);
    }

    fn forget_before(&mut self, now: Instant) {
        let old = |at: Instant| now.duration_since(at) > SPAN;
        while self.seen.front().is_some_and(|s| old(s.at)) {
            self.seen.pop_front();
        }
        while self.compared.front().is_some_and(|c| old(c.0)) {
            self.compared.pop_front();
        }
    }

    /// Each version's figures over the last [`SPAN`], by version.
    pub(crate) fn traffic(&self) -> Vec<VersionTraffic> {
        let now = Instant::now();
        let mut by: BTreeMap<u32, Vec<Seen>> = BTreeMap::new();
        for s in self
            .seen
            .iter()
            .filter(|s| now.duration_since(s.at) <= SPAN)
        {
            by.entry(s.version).or_default().push(*s);
        }
        by.into_iter()
            .map(|(version, seen)| {
                let mut micros: Vec<u32> = seen.iter().map(|s| s.micros).collect();
                micros.sort_unstable();
                let rank = |q: f64| {
                    let n = micros.len();
                    f64::from(micros[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]) / 1000.0
                };
                let (rows, differ) = self
                    .compared
                    .iter()
                    .filter(|c| c.1 == version && now.duration_since(c.0) <= SPAN)
                    .fold((0, 0), |(r, d), c| (r + c.2, d + c.3));
                VersionTraffic {
                    version,
                    requests: seen.len(),
                    per_second: seen.len() as f64 / SPAN.as_secs_f64(),
                    error_rate: share(&seen, |s| s >= 500),
                    refused_rate: share(&seen, |s| (400..500).contains(&s)),
                    p50_ms: rank(0.5),
                    p99_ms: rank(0.99),
                    compared_rows: rows,
                    disagreement: (rows > 0).then(|| differ as f64 / rows as f64),
                }
            })
            .collect()
    }
}

/// Share of `seen` whose status passes `which`.
fn share(seen: &[Seen], which: impl Fn(u16) -> bool) -> f64 {
    seen.iter().filter(|s| which(s.status)).count() as f64 / seen.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn figures_per_version_with_nearest_rank_percentiles() {
        let mut r = Recent::default();
        for ms in 1..=100 {
            let status = match ms {
                96.. => 500,
                90.. => 400,
                _ => 200,
            };
            r.request(3, Duration::from_millis(ms), status);
        }
        r.request(4, Duration::from_millis(7), 200);
        r.canary(4, 10, 3);
        r.canary(4, 10, 1);
        let t = r.traffic();
        assert_eq!(t.len(), 2);
        let v3 = &t[0];
        assert_eq!((v3.version, v3.requests), (3, 100));
        assert_eq!((v3.p50_ms, v3.p99_ms), (50.0, 99.0));
        assert!((v3.error_rate - 0.05).abs() < 1e-12);
        assert!((v3.refused_rate - 0.06).abs() < 1e-12);
        assert_eq!(v3.disagreement, None);
        let v4 = &t[1];
        assert_eq!(v4.compared_rows, 20);
        assert_eq!(v4.disagreement, Some(0.2));
    }
}
