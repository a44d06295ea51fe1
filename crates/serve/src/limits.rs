//! Per-client rate limits and quotas on inference (`[limits]` in serve.toml).
//!
//! A served student is the easiest model to copy: distillation is exactly how an attacker
//! extracts it, one query at a time. Each client — identified by its bearer token, or
//! "anonymous" without one — gets a token bucket (`requests_per_second`, `burst`) and an
//! optional quota of requests per window. A request beyond either is answered 429 with a
//! `Retry-After` header saying when to come back, and counted in
//! `distillery_requests_limited_total{reason}`. Only inference is limited: health,
//! metadata, metrics and the admin API stay reachable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `[limits]`: what each client may ask of the inference routes.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Sustained requests per second per client.
    pub requests_per_second: f64,
    /// Requests a client may send at once after idling (default: one second's worth).
    pub burst: Option<f64>,
    /// Requests per client per quota window (none: no quota).
    pub quota: Option<u64>,
    /// The quota's window in seconds (default 86,400: a day).
    pub quota_window_s: Option<f64>,
}

impl Limits {
    /// Refuses settings that cannot work.
    ///
    /// # Errors
    /// The setting and what it must be.
    pub fn check(&self) -> Result<(), String> {
        let r = self.requests_per_second;
        if !(r.is_finite() && r > 0.0) {
            return Err(format!(
                "[limits] requests_per_second = {r}: give a positive number"
            ));
        }
        if let Some(b) = self.burst
            && !(b.is_finite() && b >= 1.0)
        {
            return Err(format!(
                "[limits] burst = {b}: give a number of requests ≥ 1"
            ));
        }
        if self.quota == Some(0) {
            return Err(
                "[limits] quota = 0 would refuse every request; leave it out for no quota".into(),
            );
        }
        if let Some(w) = self.quota_window_s
            && !(w.is_finite() && w > 0.0)
        {
            return Err(format!(
                "[limits] quota_window_s = {w}: give a positive number of seconds"
            ));
        }
        Ok(())
    }

    fn burst(&self) -> f64 {
        self.burst.unwrap_or(self.requests_per_second.max(1.0))
    }

    fn window(&self) -> f64 {
        self.quota_window_s.unwrap_or(86_400.0)
    }
}

/// One client's bucket and quota window.
struct Client {
    tokens: f64,
    last: Instant,
    window_start: Instant,
    used: u64,
}

/// Which limit a refused request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The token bucket was empty.
    Rate,
    /// The client's quota for the window was spent.
    Quota,
}

/// Why a request was refused, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    Allow,
    Limited { reason: Reason, retry_after_s: u64 },
}

/// The server's limiter: every client's state, and the refusal counters.
pub(crate) struct Limiter {
    limits: Limits,
    clients: Mutex<HashMap<String, Client>>,
    pub(crate) limited_rate: AtomicU64,
    pub(crate) limited_quota: AtomicU64,
}

/// Clients remembered at most. Past it, clients whose state equals a fresh one's (a full
/// bucket, and no quota window still running) are forgotten; if none is, new clients
/// share one overflow bucket, so a flood of new tokens neither grows memory nor escapes
/// the limits.
const MAX_CLIENTS: usize = 100_000;

/// The key new clients share when every remembered client still carries state.
const OVERFLOW: &str = "(overflow)";

impl Limiter {
    pub(crate) fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            clients: Mutex::new(HashMap::new()),
            limited_rate: AtomicU64::new(0),
            limited_quota: AtomicU64::new(0),
        }
    }

    /// Charges one request to `client` at `now`.
    pub(crate) fn check(&self, client: &str, now: Instant) -> Verdict {
        let Ok(mut clients) = self.clients.lock() else {
            return Verdict::Allow;
        };
        let burst = self.limits.burst();
        let rate = self.limits.requests_per_second;
        let mut client = client;
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(client) {
            let (quota, window) = (self.limits.quota, self.limits.window());
            clients.retain(|_, c| {
                let idle = now.duration_since(c.last).as_secs_f64();
                let refilled = c.tokens + idle * rate >= burst;
                let window_over =
                    quota.is_none() || now.duration_since(c.window_start).as_secs_f64() >= window;
                !(refilled && window_over)
            });
            if clients.len() >= MAX_CLIENTS {
                client = OVERFLOW;
            }
        }
        let c = clients.entry(client.to_string()).or_insert(Client {
            tokens: burst,
            last: now,
            window_start: now,
            used: 0,
        });
        c.tokens = (c.tokens + now.duration_since(c.last).as_secs_f64() * rate).min(burst);
        c.last = now;
        if let Some(quota) = self.limits.quota {
            let window = self.limits.window();
            let elapsed = now.duration_since(c.window_start).as_secs_f64();
            if elapsed >= window {
                c.window_start = now;
                c.used = 0;
            } else if c.used >= quota {
                self.limited_quota.fetch_add(1, Ordering::Relaxed);
                return Verdict::Limited {
                    reason: Reason::Quota,
                    retry_after_s: (window - elapsed).ceil().max(1.0) as u64,
                };
            }
        }
        if c.tokens < 1.0 {
            self.limited_rate.fetch_add(1, Ordering::Relaxed);
            return Verdict::Limited {
                reason: Reason::Rate,
                retry_after_s: ((1.0 - c.tokens) / rate).ceil().max(1.0) as u64,
            };
        }
        c.tokens -= 1.0;
        c.used += 1;
        Verdict::Allow
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The client a request is charged to: a hash of its bearer token (tokens are never kept),
/// or "anonymous".
pub(crate) fn client_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map_or_else(
            || "anonymous".to_string(),
            |token| blake3::hash(token.trim().as_bytes()).to_hex()[..16].to_string(),
        )
}

/// Middleware: limits inference requests (`POST …/infer`) when the server has `[limits]`.
pub(crate) async fn limit(
    State(server): State<crate::app::Shared>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &server.limiter else {
        return next.run(request).await;
    };
    if request.method() != axum::http::Method::POST || !request.uri().path().ends_with("/infer") {
        return next.run(request).await;
    }
    match limiter.check(&client_of(request.headers()), Instant::now()) {
        Verdict::Allow => next.run(request).await,
        Verdict::Limited {
            reason,
            retry_after_s,
        } => {
            let l = limiter.limits();
            let what = match reason {
                Reason::Quota => format!(
                    "quota: {} requests per client per {} s",
                    l.quota.unwrap_or(0),
                    l.window()
                ),
                Reason::Rate => format!(
                    "rate limit: {} requests per second per client (burst {})",
                    l.requests_per_second,
                    l.burst()
                ),
            };
            let body = serde_json::json!({
                "error": format!("{what}; retry after {retry_after_s} s")
            });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_refills_at_its_rate_and_a_quota_resets_with_its_window() {
        let limiter = Limiter::new(Limits {
            requests_per_second: 2.0,
            burst: Some(3.0),
            quota: Some(5),
            quota_window_s: Some(60.0),
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("a", t0), Verdict::Allow);
        }
        assert_eq!(
            limiter.check("a", t0),
            Verdict::Limited {
                reason: Reason::Rate,
                retry_after_s: 1
            }
        );
        // Another client has its own bucket.
        assert_eq!(limiter.check("b", t0), Verdict::Allow);
        // Half a second later, one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check("a", t1), Verdict::Allow);
        assert!(matches!(limiter.check("a", t1), Verdict::Limited { .. }));
        // Five allowed so far after a refill: the sixth meets the quota until the window ends.
        let t2 = t0 + Duration::from_secs(10);
        assert_eq!(limiter.check("a", t2), Verdict::Allow);
        assert_eq!(
            limiter.check("a", t2),
            Verdict::Limited {
                reason: Reason::Quota,
                retry_after_s: 50
            }
        );
        let t3 = t0 + Duration::from_secs(61);
        assert_eq!(limiter.check("a", t3), Verdict::Allow);
        assert_eq!(limiter.limited_quota.load(Ordering::Relaxed), 1);
        assert_eq!(limiter.limited_rate.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_full_table_forgets_no_spent_quota_and_new_clients_share_one_bucket() {
        let limiter = Limiter::new(Limits {
            requests_per_second: 1000.0,
            burst: Some(1.0),
            quota: Some(1),
            quota_window_s: Some(3600.0),
        });
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS {
            assert_eq!(limiter.check(&format!("c{i}"), t0), Verdict::Allow);
        }
        let later = t0 + Duration::from_secs(60);
        // Every remembered client still has a running quota window: none is forgotten,
        // so spending a quota and waiting for new clients to crowd it out does not reset it.
        assert!(matches!(
            limiter.check("c5", later),
            Verdict::Limited {
                reason: Reason::Quota,
                ..
            }
        ));
        // New clients share the overflow bucket (and its quota).
        assert_eq!(limiter.check("new-1", later), Verdict::Allow);
        assert!(matches!(
            limiter.check("new-2", later),
            Verdict::Limited {
                reason: Reason::Quota,
                ..
            }
        ));
        // Once the windows have run out, the table makes room again.
        let next_hour = t0 + Duration::from_secs(3700);
        assert_eq!(limiter.check("new-3", next_hour), Verdict::Allow);
        assert_eq!(limiter.check("new-4", next_hour), Verdict::Allow);
    }

    #[test]
    fn bad_limits_are_refused() {
        let ok = Limits {
            requests_per_second: 10.0,
            burst: None,
            quota: None,
            quota_window_s: None,
        };
        assert!(ok.check().is_ok());
        assert!(
            Limits {
                requests_per_second: 0.0,
                ..ok
            }
            .check()
            .is_err()
        );
        assert!(
            Limits {
                burst: Some(0.5),
                ..ok
            }
            .check()
            .is_err()
        );
        assert!(
            Limits {
                quota: Some(0),
                ..ok
            }
            .check()
            .is_err()
        );
    }
}
