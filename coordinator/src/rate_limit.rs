//! A request rate per client address, so one client flooding the server
//! cannot crowd others out (off by default: see
//! [`crate::config::DEFAULT_RATE_LIMIT_PER_SEC`]).
//!
//! Each address (an IPv6 client by its /64, [`ClientAddr::key`]) gets a
//! GCRA bucket from the `governor` crate: `per_sec` requests a second with
//! bursts of `burst`. A request over the rate is answered 429 with
//! `Retry-After`, and only after a pause of [`PAUSE`]: a client that
//! retries at once on each 429 then sends one request a second per
//! connection instead of spinning the server's cores (its connections are
//! capped per address too).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::api::ApiError;
use crate::client_addr::ClientAddr;

/// Pause before a 429 answer.
pub(crate) const PAUSE: Duration = Duration::from_secs(1);

/// Buckets are pruned of addresses that went quiet every this many checks.
const PRUNE_EVERY: u64 = 4096;

/// The per-address limiter: cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    checks: Arc<AtomicU64>,
}

impl RateLimit {
    /// `per_sec` requests a second per address with bursts of `burst`
    /// (`per_sec` when 0); `None` when `per_sec` is 0 (no limit).
    pub(crate) fn new(per_sec: u32, burst: u32) -> Option<Self> {
        let per_sec = NonZeroU32::new(per_sec)?;
        let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
        let quota = Quota::per_second(per_sec).allow_burst(burst);
        Some(Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            checks: Arc::new(AtomicU64::new(0)),
        })
    }

    /// `None` when `client` may send a request now, else how long until it
    /// may.
    fn check(&self, client: IpAddr) -> Option<Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&client) {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(self.limiter.clock().now())),
        }
    }
}

/// Middleware: answers 429 to a client over its rate (see the module docs).
pub(crate) async fn limit_rate(
    State(limit): State<RateLimit>,
    request: Request,
    next: Next,
) -> Response {
    let client = ClientAddr::of(request.extensions()).key();
    match limit.check(client) {
        None => next.run(request).await,
        Some(wait) => {
            tokio::time::sleep(PAUSE).await;
            let retry_after = wait.saturating_sub(PAUSE).as_secs_f64().ceil() as u64;
            ApiError::TooManyRequests(retry_after.max(1)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_without_a_rate() {
        assert!(RateLimit::new(0, 10).is_none());
    }

    #[test]
    fn each_address_gets_its_own_burst() {
        let limit = RateLimit::new(1, 3).expect("a rate");
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        for _ in 0..3 {
            assert_eq!(limit.check(a), None);
        }
        let wait = limit.check(a).expect("over the burst");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(limit.check(b), None, "another address is not held back");
    }
}
