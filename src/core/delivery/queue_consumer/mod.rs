//! The Cloudflare Queues consumer: what `handleQueueBatch` decides for a batch of tracked records.
//!
//! The producer side (`queueSink`) sends each record's JSON text as one message. The consumer Worker's
//! `queue()` handler hands the batch to [`session::ConsumerSession`], which posts the records to `/track`
//! and says, per message, ack, retry (`delaySeconds` from the core's backoff of the record's attempts),
//! re-send as a fresh message carrying its attempts ([`envelope::encode_requeued`]) or dead letter (with the
//! reason, [`envelope::encode_dead_letter`]).
//!
//! Why re-send: Queues dead-letters (or, without a `dead_letter_queue`, deletes) a message once it was
//! retried `max_retries` times. A record that only met an outage must not end there, so before its last
//! allowed delivery the consumer sends it again as a new message (attempts carried over, so the backoff keeps
//! growing) and acks the original. Only definitive failures (a per-record refusal, a 4xx other than
//! 408/429/413-on-several, an unconfirmed 2xx, a body that is not a record) and records older than the max
//! age are dead letters.
//!
//! The pause: after a retryable outcome the isolate keeps `paused_until_ms` (at module scope in the JS glue;
//! it is plain data, not a timer) and a batch arriving before then is retried without any POST. So POSTs to
//! a service that is down are bounded by the backoff per consumer isolate.

pub mod envelope;
pub mod options;
pub mod session;

#[cfg(test)]
mod tests;
