//! Guardrails: limits a canary must keep over its most recent requests. A breach takes the
//! canary out of traffic without anyone watching, and the reason goes to the audit log.

use std::collections::VecDeque;

use serde::Deserialize;

/// Limits on a canary over its last `window` requests, checked once it has served
/// `min_requests`; each unset limit is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guardrails {
    /// Canary requests remembered.
    pub window: usize,
    /// Canary requests before the limits apply (fewer says too little).
    pub min_requests: usize,
    /// Largest share of canary requests that may fail.
    pub max_error_rate: Option<f64>,
    /// Largest 99th-percentile canary latency, in milliseconds.
    pub max_p99_ms: Option<f64>,
    /// Largest share of rows on which the canary's label differs from the stable version's.
    pub max_disagreement: Option<f64>,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            window: 100,
            min_requests: 20,
            max_error_rate: None,
            max_p99_ms: None,
            max_disagreement: None,
        }
    }
}

impl Guardrails {
    /// Whether any limit is set (otherwise there is nothing to guard).
    pub fn any(&self) -> bool {
        self.max_error_rate.is_some()
            || self.max_p99_ms.is_some()
            || self.max_disagreement.is_some()
    }
}

/// What one request routed to a canary showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryObservation {
    /// The canary refused or failed the request.
    pub error: bool,
    /// Rows answered.
    pub rows: usize,
    /// Rows whose label differs from the stable version's.
    pub disagreements: usize,
    /// Time to answer, in milliseconds.
    pub millis: f64,
}

/// A canary's most recent observations.
#[derive(Debug, Default)]
pub struct Window {
    seen: VecDeque<CanaryObservation>,
}

impl Window {
    /// Adds `o`; returns the breached limit, in words, once the window is full enough.
    pub fn observe(&mut self, g: &Guardrails, o: CanaryObservation) -> Option<String> {
        self.seen.push_back(o);
        while self.seen.len() > g.window.max(1) {
            self.seen.pop_front();
        }
        let n = self.seen.len();
        if n < g.min_requests.max(1) {
            return None;
        }
        let error_rate = self.seen.iter().filter(|o| o.error).count() as f64 / n as f64;
        let mut ms: Vec<f64> = self.seen.iter().map(|o| o.millis).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least 99% of the window at or below it.
        let p99 = ms[((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1];
        let rows: usize = self.seen.iter().map(|o| o.rows).sum();
        let differ: usize = self.seen.iter().map(|o| o.disagreements).sum();
        let disagreement = differ as f64 / rows.max(1) as f64;
        let breach = [
            g.max_error_rate
                .filter(|&m| error_rate > m)
                .map(|m| format!("error rate {error_rate:.3} > {m} over {n} requests")),
            g.max_p99_ms
                .filter(|&m| p99 > m)
                .map(|m| format!("p99 latency {p99:.3} ms > {m} ms over {n} requests")),
            g.max_disagreement.filter(|&m| disagreement > m).map(|m| {
                format!(
                    "disagreement with the stable version {disagreement:.3} > {m} over {rows} rows"
                )
            }),
        ]
        .into_iter()
        .flatten()
        .next();
        if breach.is_some() {
            self.seen.clear();
        }
        breach
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(millis: f64) -> CanaryObservation {
        CanaryObservation {
            error: false,
            rows: 1,
            disagreements: 0,
            millis,
        }
    }

    #[test]
    fn nothing_is_judged_before_min_requests() {
        let g = Guardrails {
            min_requests: 5,
            max_error_rate: Some(0.0),
            ..Default::default()
        };
        let mut w = Window::default();
        let failed = CanaryObservation {
            error: true,
            ..ok(1.0)
        };
        for _ in 0..4 {
            assert_eq!(w.observe(&g, failed), None);
        }
        let breach = w.observe(&g, failed).expect("the fifth failure breaches");
        assert!(breach.starts_with("error rate 1.000 > 0"), "{breach}");
    }

    #[test]
    fn p99_is_the_nearest_rank_over_the_window() {
        let g = Guardrails {
            window: 100,
            min_requests: 100,
            max_p99_ms: Some(5.0),
            ..Default::default()
        };
        let mut w = Window::default();
        // 98 fast requests and 2 slow ones: the 99th of 100 sorted is slow.
        for i in 0..100 {
            let slow = i == 10 || i == 50;
            let r = w.observe(&g, ok(if slow { 9.0 } else { 1.0 }));
            assert_eq!(r.is_some(), i == 99, "request {i}");
        }
        // One slow request in 100 is within the limit.
        let mut w = Window::default();
        for i in 0..100 {
            assert_eq!(w.observe(&g, ok(if i == 10 { 9.0 } else { 1.0 })), None);
        }
    }

    #[test]
    fn old_requests_leave_the_window() {
        let g = Guardrails {
            window: 10,
            min_requests: 10,
            max_error_rate: Some(0.25),
            ..Default::default()
        };
        let mut w = Window::default();
        for _ in 0..2 {
            w.observe(
                &g,
                CanaryObservation {
                    error: true,
                    ..ok(1.0)
                },
            );
        }
        // 2 failures in 10 is 0.2; they then slide out.
        for _ in 0..20 {
            assert_eq!(w.observe(&g, ok(1.0)), None);
        }
        for _ in 0..2 {
            assert_eq!(
                w.observe(
                    &g,
                    CanaryObservation {
                        error: true,
                        ..ok(1.0)
                    }
                ),
                None
            );
        }
        let breach = w.observe(
            &g,
            CanaryObservation {
                error: true,
                ..ok(1.0)
            },
        );
        assert!(breach.is_some(), "3 failures in 10 breach 0.25");
    }

    #[test]
    fn disagreement_counts_rows_not_requests() {
        let g = Guardrails {
            min_requests: 2,
            max_disagreement: Some(0.1),
            ..Default::default()
        };
        let mut w = Window::default();
        let big = CanaryObservation {
            error: false,
            rows: 100,
            disagreements: 5,
            millis: 1.0,
        };
        assert_eq!(w.observe(&g, big), None);
        assert_eq!(w.observe(&g, big), None, "10 of 200 rows is 0.05");
        let bad = CanaryObservation {
            rows: 20,
            disagreements: 20,
            ..big
        };
        let breach = w.observe(&g, bad).expect("30 of 220 rows is over 0.1");
        assert!(breach.contains("over 220 rows"), "{breach}");
    }
}
