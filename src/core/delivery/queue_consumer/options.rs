//! The `handleQueueBatch` / `replayDeadLetters` options, checked, and the actions handed to the bindings.
//!
//! Call [`consumer_options`] with the numbers and `apiBase` the user gave (`None` = not given) before
//! building a session: an out-of-range value is an `E_INVALID_OPTION` naming it. [`actions_json`] is the
//! one text the bindings act on: per message what to call, and for the sends which `sendBatch` they go in
//! (groups within Queues' limits: [`send_groups`]).

use super::session::{Action, ConsumerConfig, MAX_DELAY_SECONDS};
use crate::core::config::TrackerConfig;
use crate::core::error::TrackError;
use crate::core::json::quoted;
use crate::core::retry::RetryPolicy;

/// Queues' `sendBatch` limits (developers.cloudflare.com/queues/platform/limits/): 100 messages, 256 KB in all
/// (KB = 1000 B), about 100 B of metadata counted per message; one message at most 128 KB.
pub const SEND_BATCH_MESSAGES: usize = 100;
/// See [`SEND_BATCH_MESSAGES`].
pub const SEND_BATCH_BYTES: usize = 256_000;
/// See [`SEND_BATCH_MESSAGES`].
pub const MESSAGE_METADATA_BYTES: usize = 100;

/// Checked options: the session's settings, the `/track` URL and the request timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerOptions {
    pub config: ConsumerConfig,
    pub track_url: String,
    pub timeout_ms: u64,
}

fn int(option: &str, value: Option<f64>, min: f64, max: f64, default: u64) -> Result<u64, TrackError> {
    match value {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) && n.fract() == 0.0 => Ok(n as u64),
        Some(n) => Err(TrackError::InvalidOption {
            option: option.to_owned(),
            reason: format!("must be an integer from {min} to {max}, got {n}"),
        }),
    }
}

/// Checks the options (see the README's "Cloudflare Queues" for their meaning): `maxBatchSize` 1–1000
/// (default 100), `maxBatchBytes` 1024–16 MiB (4 MiB), `maxRetries` 0–100 (3: the queue's `max_retries`),
/// `maxAgeMs` 1 min–30 days (7 days), `timeoutMs` 1–600000 (10000), `retryBaseDelayMs` 1 s–1 h (2 s),
/// `retryMaxDelayMs` 1 s–12 h (5 min), `apiBase` as the Tracker's.
pub fn consumer_options(
    api_base: Option<&str>,
    max_batch_size: Option<f64>,
    max_batch_bytes: Option<f64>,
    max_retries: Option<f64>,
    max_age_ms: Option<f64>,
    timeout_ms: Option<f64>,
    retry_delays_ms: (Option<f64>, Option<f64>),
) -> Result<ConsumerOptions, TrackError> {
    let mut tracker = TrackerConfig::default();
    if let Some(base) = api_base {
        tracker.set_api_base(base)?;
    }
    let defaults = ConsumerConfig::default();
    let config = ConsumerConfig {
        max_batch_size: usize::try_from(int("maxBatchSize", max_batch_size, 1.0, 1000.0, 100)?).unwrap_or(100),
        max_batch_bytes: usize::try_from(int("maxBatchBytes", max_batch_bytes, 1024.0, 16_777_216.0, 4_194_304)?)
            .unwrap_or(4_194_304),
        queue_max_retries: u32::try_from(int("maxRetries", max_retries, 0.0, 100.0, 3)?).unwrap_or(3),
        max_age_ms: int("maxAgeMs", max_age_ms, 60_000.0, 2_592_000_000.0, defaults.max_age_ms)?,
        policy: RetryPolicy {
            base_delay_ms: int("retryBaseDelayMs", retry_delays_ms.0, 1000.0, 3_600_000.0, defaults.policy.base_delay_ms)?,
            max_delay_ms: int("retryMaxDelayMs", retry_delays_ms.1, 1000.0, 43_200_000.0, defaults.policy.max_delay_ms)?,
            ..defaults.policy
        },
    };
    let timeout_ms = int("timeoutMs", timeout_ms, 1.0, 600_000.0, 10_000)?;
    Ok(ConsumerOptions { config, track_url: tracker.track_url(), timeout_ms })
}

/// Consecutive groups (their lengths) of messages of `sizes` bytes each, every group one `sendBatch` within
/// Queues' limits. A message too large alone still gets its own group (Queues refuses it: the caller then
/// retries the original).
pub fn send_groups(sizes: &[usize]) -> Vec<usize> {
    let mut groups = Vec::new();
    let (mut count, mut bytes) = (0usize, 0usize);
    for &size in sizes {
        let cost = size.saturating_add(MESSAGE_METADATA_BYTES);
        if count > 0 && (count >= SEND_BATCH_MESSAGES || bytes.saturating_add(cost) > SEND_BATCH_BYTES) {
            groups.push(count);
            count = 0;
            bytes = 0;
        }
        count += 1;
        bytes = bytes.saturating_add(cost);
    }
    if count > 0 {
        groups.push(count);
    }
    groups
}

/// The actions as JSON: `[{"a":"ack","status":…} | {"a":"retry","delaySeconds":n,"code":…} |
/// {"a":"requeue","body":…,"delaySeconds":n,"code":…,"group":g} | {"a":"dead","body":…,"code":…,"status":n|null,
/// "errors":[…],"group":g,"keepSeconds":MAX_DELAY_SECONDS}]`. `group` numbers the `sendBatch` a body goes in (requeues
/// and dead letters counted separately, each from 0).
pub fn actions_json(actions: &[Action]) -> String {
    let sizes = |want_dead: bool| -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Requeue { body, .. } if !want_dead => Some(body.len()),
                Action::DeadLetter { body, .. } if want_dead => Some(body.len()),
                _ => None,
            })
            .collect()
    };
    let group_of = |want_dead: bool| -> Vec<usize> {
        send_groups(&sizes(want_dead)).into_iter().enumerate().flat_map(|(g, n)| std::iter::repeat(g).take(n)).collect()
    };
    let (requeue_groups, dead_groups) = (group_of(false), group_of(true));
    let (mut r, mut d) = (0usize, 0usize);
    let mut out = String::from("[");
    for (i, action) in actions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match action {
            Action::Ack { status } => out.push_str(&format!("{{\"a\":\"ack\",\"status\":{}}}", quoted(status))),
            Action::Retry { delay_seconds, code } => {
                out.push_str(&format!("{{\"a\":\"retry\",\"delaySeconds\":{delay_seconds},\"code\":{}}}", quoted(code)));
            }
            Action::Requeue { body, delay_seconds, code } => {
                let group = requeue_groups.get(r).copied().unwrap_or(r);
                r += 1;
                out.push_str(&format!(
                    "{{\"a\":\"requeue\",\"body\":{},\"delaySeconds\":{delay_seconds},\"code\":{},\"group\":{group}}}",
                    quoted(body),
                    quoted(code)
                ));
            }
            Action::DeadLetter { body, reason } => {
                let group = dead_groups.get(d).copied().unwrap_or(d);
                d += 1;
                let errors: Vec<String> = reason.errors.iter().map(|e| quoted(e)).collect();
                let status = reason.status.map_or("null".to_owned(), |s| s.to_string());
                out.push_str(&format!(
                    "{{\"a\":\"dead\",\"body\":{},\"code\":{},\"status\":{status},\"errors\":[{}],\"group\":{group},\"keepSeconds\":{MAX_DELAY_SECONDS}}}",
                    quoted(body),
                    quoted(reason.code),
                    errors.join(",")
                ));
            }
        }
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::delivery::queue_consumer::envelope::DeadReason;
    use crate::core::json;

    #[test]
    fn options_are_checked_and_defaulted() {
        let o = consumer_options(None, None, None, None, None, None, (None, None)).unwrap();
        assert_eq!(o.track_url, "https://aicostmanager.com/api/v1/track");
        assert_eq!((o.config.max_batch_size, o.config.queue_max_retries, o.timeout_ms), (100, 3, 10_000));
        let o = consumer_options(Some("http://127.0.0.1:9/"), Some(5.0), None, Some(100.0), None, None, (None, None)).unwrap();
        assert_eq!((o.track_url.as_str(), o.config.max_batch_size, o.config.queue_max_retries), ("http://127.0.0.1:9/api/v1/track", 5, 100));
        for bad in [
            consumer_options(None, Some(0.0), None, None, None, None, (None, None)),
            consumer_options(None, Some(1.5), None, None, None, None, (None, None)),
            consumer_options(None, None, None, Some(101.0), None, None, (None, None)),
            consumer_options(None, None, None, None, Some(f64::NAN), None, (None, None)),
            consumer_options(Some("ftp://x"), None, None, None, None, None, (None, None)),
        ] {
            assert_eq!(bad.unwrap_err().code(), "E_INVALID_OPTION");
        }
    }

    #[test]
    fn send_groups_stay_within_queues_batch_limits() {
        assert_eq!(send_groups(&[10; 250]), vec![100, 100, 50]);
        // 256,000 B with 100 B metadata each: two of 127,000 B fit (254,200), a third does not.
        assert_eq!(send_groups(&[127_000, 127_000, 127_000]), vec![2, 1]);
        assert_eq!(send_groups(&[300_000, 1]), vec![1, 1]);
        assert!(send_groups(&[]).is_empty());
    }

    #[test]
    fn actions_json_is_json_and_numbers_the_groups() {
        let dead = Action::DeadLetter {
            body: "{\"x\":\"\\\"\"}".into(),
            reason: DeadReason { code: "E_REJECTED", status: Some(200), errors: vec!["no".into()] },
        };
        let actions = vec![
            Action::Ack { status: "queued".into() },
            Action::Retry { delay_seconds: 3, code: "E_NETWORK" },
            Action::Requeue { body: "{}".into(), delay_seconds: 4, code: "E_NETWORK" },
            dead.clone(),
        ];
        let text = actions_json(&actions);
        let v = json::parse(&text).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[3].get("body").and_then(|b| b.as_str()), Some("{\"x\":\"\\\"\"}"));
        assert_eq!(items[2].get("group").and_then(|g| g.as_f64()), Some(0.0));
        let many: Vec<Action> = (0..101).map(|_| dead.clone()).collect();
        let v = json::parse(&actions_json(&many)).unwrap();
        assert_eq!(v.as_array().unwrap()[100].get("group").and_then(|g| g.as_f64()), Some(1.0));
    }
}
