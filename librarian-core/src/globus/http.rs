//! How every Globus call is retried, as the official SDK does: network errors and
//! HTTP 429, 500, 502, 503 and 504 are tried again, honouring `Retry-After` on 429 and
//! 503, else after `(0.25 + 0.5·rand)·2^attempt` seconds capped at 10 s, at most 5
//! times. An answer whose error code is an `ExternalError` or `EndpointError` (a
//! collection that is down) is not retried here: the next poll tries again.

use std::time::Duration;

use super::GlobusError;

/// Retries after the first attempt.
const MAX_RETRIES: u32 = 5;
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Statuses tried again.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// A Transfer error code that says a collection (not the service) is failing.
pub(crate) fn is_endpoint_error(code: &str) -> bool {
    code.starts_with("ExternalError") || code.starts_with("EndpointError") || code.contains(".EndpointError")
}

/// The wait before retry `attempt` (0 for the first retry).
fn backoff(attempt: u32) -> Duration {
    // A little jitter from a fresh v4 UUID: no random-number crate needed for this.
    let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    let secs = (0.25 + 0.5 * jitter) * 2f64.powi(i32::try_from(attempt).unwrap_or(i32::MAX));
    Duration::from_secs_f64(secs).min(MAX_BACKOFF)
}

/// The `Retry-After` of an answer, in whole seconds, at most [`MAX_BACKOFF`].
fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_BACKOFF))
}

/// Make the call `send` until it gives an answer that is not worth retrying (or the
/// retries are spent): its status and body. `what` names the service in messages.
/// Network failures that outlast the retries are [`GlobusError::Transient`].
pub(crate) fn with_retries(
    what: &str,
    mut send: impl FnMut() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, String), GlobusError> {
    let mut attempt = 0;
    loop {
        let outcome = send().and_then(|mut resp| {
            let status = resp.status().as_u16();
            let wait = retry_after(&resp);
            let body = resp.body_mut().with_config().limit(64 << 20).read_to_string()?;
            Ok((status, wait, body))
        });
        let wait = match outcome {
            Ok((status, wait, body)) => {
                let endpoint = super::error_code(&body).is_some_and(|c| is_endpoint_error(&c));
                if !retryable(status) || endpoint || attempt >= MAX_RETRIES {
                    if retryable(status) && !endpoint {
                        return Err(GlobusError::Transient(format!(
                            "{what} answered HTTP {status} {} times",
                            attempt + 1
                        )));
                    }
                    return Ok((status, body));
                }
                log::info!("{what} answered HTTP {status}; trying again (attempt {})", attempt + 2);
                match (status, wait) {
                    (429 | 503, Some(w)) => w,
                    _ => backoff(attempt),
                }
            }
            Err(e) => {
                if attempt >= MAX_RETRIES {
                    return Err(GlobusError::Transient(format!("cannot reach {what}: {e}")));
                }
                log::info!("cannot reach {what} ({e}); trying again (attempt {})", attempt + 2);
                backoff(attempt)
            }
        };
        std::thread::sleep(wait);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..8 {
            let b = backoff(attempt);
            let low = Duration::from_secs_f64(0.25 * 2f64.powi(attempt as i32)).min(MAX_BACKOFF);
            assert!(b >= low.min(MAX_BACKOFF) && b <= MAX_BACKOFF, "{attempt}: {b:?}");
        }
        assert!(is_endpoint_error("ExternalError.DirListingFailed.GCDisconnected"));
        assert!(is_endpoint_error("EndpointError"));
        assert!(!is_endpoint_error("ServiceUnavailable"));
        assert!(retryable(429) && retryable(504) && !retryable(401) && !retryable(404));
    }
}
