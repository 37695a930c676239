//! The limits one outbox works within.

use crate::core::config::TrackerConfig;
use crate::core::fingerprint::namespace;
use crate::core::redact::Redactor;
use crate::core::retry::RetryPolicy;

/// Seven days: the default `max_age_ms`.
pub const DEFAULT_MAX_AGE_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// How long past its HTTP timeout a batch may stay unanswered before its records are due again
/// ([`lease_ms`]): room for a reply that arrives just after the timeout fired.
pub const LEASE_MARGIN_MS: u64 = 5_000;

/// The lease of a batch sent with `timeout_ms` (see [`OutboxConfig::lease_ms`]): the timeout plus
/// [`LEASE_MARGIN_MS`], saturating.
pub fn lease_ms(timeout_ms: u64) -> u64 {
    timeout_ms.saturating_add(LEASE_MARGIN_MS)
}

/// Limits and names for one [`super::Outbox`]. Build it with [`OutboxConfig::new`] and change the fields
/// that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Attempts and delays for retryable failures (`max_attempts` counts failed sends of a record; at that
    /// count it is dead-lettered, never with the default [`crate::core::retry::UNLIMITED_ATTEMPTS`]: then only
    /// `max_age_ms` ends its retries). `max_retry_after_ms` caps a server's `Retry-After`.
    pub policy: RetryPolicy,
    /// Most records in one request body (0 counts as 1).
    pub max_batch_size: usize,
    /// Most bytes in one request body (a single larger record is still sent, alone).
    pub max_batch_bytes: usize,
    /// Most records held, queued and in flight (dead letters not counted): `maxQueueSize`.
    pub max_queue_size: usize,
    /// Most record bytes held, queued and in flight: `maxQueueBytes`.
    pub max_queue_bytes: usize,
    /// A record older than this (since it entered the queue) is dead-lettered at its next failure.
    pub max_age_ms: u64,
    /// How long a batch may be in flight before its records are due again (the isolate may have died
    /// mid-send). Keep it above the HTTP timeout: the default is a 10 s timeout plus 5 s.
    pub lease_ms: u64,
    /// `"aicm/v1/<fingerprint>/"` from [`crate::core::fingerprint::namespace`]: every store key starts with it.
    pub namespace: String,
    /// Applied to every dead letter's reason and errors before it is kept, listed or stored: build it from
    /// the API key ([`Redactor::new`]) so that a server echoing the key never puts it in the store.
    pub redactor: Redactor,
}

impl OutboxConfig {
    /// The product's queue defaults under `namespace` (what a tracker with no options uses):
    /// [`RetryPolicy::QUEUE`] (attempts without limit, backoff 2 s … 5 min, `Retry-After` capped at 60 s), batches of at
    /// most 1000 records and 4 MiB, at most 10,000 records and 16 MiB held, 7 days of age, a 15 s lease (the
    /// 10 s HTTP timeout plus 5 s), no key to redact.
    pub fn new(namespace: impl Into<String>) -> OutboxConfig {
        OutboxConfig {
            policy: RetryPolicy::QUEUE,
            max_batch_size: 1000,
            max_batch_bytes: 4 * 1024 * 1024,
            max_queue_size: 10_000,
            max_queue_bytes: 16 * 1024 * 1024,
            max_age_ms: DEFAULT_MAX_AGE_MS,
            lease_ms: lease_ms(10_000),
            namespace: namespace.into(),
            redactor: Redactor::default(),
        }
    }

    /// The outbox of a `deliveryType: "persistent_queue"` tracker configured with `config`: its retry policy,
    /// batch and queue bounds, age limit, a lease of its timeout plus [`LEASE_MARGIN_MS`], the namespace of its
    /// endpoint and key, and a redactor of its key. Call it once when the tracker is built.
    pub fn for_tracker(config: &TrackerConfig) -> OutboxConfig {
        let (base, url, key) = config.destination();
        OutboxConfig {
            policy: config.retry_policy(),
            max_batch_size: config.max_batch_size,
            max_batch_bytes: config.max_batch_bytes,
            max_queue_size: config.max_queue_size,
            max_queue_bytes: config.max_queue_bytes,
            max_age_ms: config.max_age_ms,
            lease_ms: lease_ms(config.timeout_ms),
            namespace: namespace(&base, url, key),
            redactor: Redactor::new(config.api_key.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{DeliveryType, TrackerConfig};

    /// One source of defaults: a tracker with no options builds exactly the core's queue defaults.
    #[test]
    fn the_core_defaults_are_the_products() {
        let mut tracker = TrackerConfig { api_key: Some("k".to_owned()), ..TrackerConfig::default() };
        assert_eq!(tracker.retry_policy(), RetryPolicy::IMMEDIATE);
        tracker.delivery = DeliveryType::PersistentQueue;
        let core = OutboxConfig::new("ns/");
        assert_eq!(tracker.retry_policy(), core.policy);
        assert_eq!(
            (tracker.max_batch_size, tracker.max_batch_bytes, tracker.max_queue_size, tracker.max_queue_bytes, tracker.max_age_ms),
            (core.max_batch_size, core.max_batch_bytes, core.max_queue_size, core.max_queue_bytes, core.max_age_ms)
        );
        assert_eq!(tracker.timeout_ms + 5_000, core.lease_ms);
        let built = OutboxConfig::for_tracker(&tracker);
        assert_eq!(OutboxConfig { namespace: "ns/".to_owned(), redactor: Redactor::default(), ..built.clone() }, core);
        assert_eq!(built.namespace, namespace(&tracker.api_base, &tracker.api_url, "k"));
    }

    /// The lease outlasts the HTTP timeout by the margin, whatever the timeout (never overflowing).
    #[test]
    fn the_lease_is_the_timeout_plus_the_margin() {
        assert_eq!(lease_ms(2_500), 7_500);
        assert_eq!(lease_ms(u64::MAX), u64::MAX);
        let mut tracker = TrackerConfig { api_key: Some("sk-secret".to_owned()), ..TrackerConfig::default() };
        assert!(tracker.set_number("timeoutMs", 600_000.0).is_ok());
        let outbox = OutboxConfig::for_tracker(&tracker);
        assert_eq!(outbox.lease_ms, 605_000);
        assert!(!outbox.redactor.redact("key sk-secret").contains("sk-secret"));
    }
}
