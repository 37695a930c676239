//! Bindings for Cloudflare-only deliveries. [`queue_consumer`]: the Queues consumer's session, driven by
//! the package's `handleQueueBatch` (pkg-template/stores/cloudflare-queues.js).

mod queue_consumer;
