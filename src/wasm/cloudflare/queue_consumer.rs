//! `QueueConsumerSession`: the core's [`ConsumerSession`] for the JS glue of `handleQueueBatch` and
//! `replayDeadLetters` (pkg-template/stores/cloudflare-queues.js). Internal to the package (not in the
//! .d.ts): the glue reads the user's batch (every read guarded there), passes plain strings and numbers in,
//! does the `fetch`es and the Queue calls, and acts on [`actions_json`]. Nothing here decides.

use crate::core::delivery::queue_consumer::options::{actions_json, consumer_options, ConsumerOptions};
use crate::core::delivery::queue_consumer::session::{ConsumerSession, MessageIn};
use crate::core::retry::HttpOutcome;
use crate::wasm::errors::{coded_error, track_error};
use wasm_bindgen::prelude::*;

/// One consumer invocation (see the core's session docs for the loop).
#[wasm_bindgen]
pub struct QueueConsumerSession {
    options: ConsumerOptions,
    replay: bool,
    messages: Vec<MessageIn>,
    session: Option<ConsumerSession>,
}

/// A JS number as a whole non-negative integer (NaN and negatives: 0; saturating).
fn whole(n: f64) -> u64 {
    if n.is_nan() || n <= 0.0 {
        0
    } else {
        n as u64
    }
}

#[wasm_bindgen]
impl QueueConsumerSession {
    /// Checks the options (`E_INVALID_OPTION` naming the bad one); `undefined` = default.
    // One plain argument per option: the glue passes primitives only (no user object crosses into wasm).
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(constructor)]
    pub fn new(
        api_base: Option<String>,
        max_batch_size: Option<f64>,
        max_batch_bytes: Option<f64>,
        max_retries: Option<f64>,
        max_age_ms: Option<f64>,
        timeout_ms: Option<f64>,
        retry_base_delay_ms: Option<f64>,
        retry_max_delay_ms: Option<f64>,
        replay: bool,
    ) -> Result<QueueConsumerSession, JsValue> {
        let options =
            consumer_options(
                api_base.as_deref(),
                max_batch_size,
                max_batch_bytes,
                max_retries,
                max_age_ms,
                timeout_ms,
                (retry_base_delay_ms, retry_max_delay_ms),
            )
                .map_err(|e| track_error(&e))?;
        Ok(QueueConsumerSession { options, replay, messages: Vec::new(), session: None })
    }

    /// The `/track` URL to POST to.
    #[wasm_bindgen(getter, js_name = trackUrl)]
    pub fn track_url(&self) -> String {
        self.options.track_url.clone()
    }

    /// The request timeout (ms).
    #[wasm_bindgen(getter, js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> f64 {
        self.options.timeout_ms as f64
    }

    /// Adds one message: `body` when it is a string (else `undefined`, `kind` says what it was).
    pub fn add(&mut self, body: Option<String>, kind: String, attempts: f64, timestamp_ms: f64) {
        let attempts = u32::try_from(whole(attempts)).unwrap_or(u32::MAX);
        self.messages.push(MessageIn { body, kind, attempts, timestamp_ms: whole(timestamp_ms) });
    }

    /// Plans the bodies (once; later calls do nothing).
    pub fn start(&mut self, now_ms: f64, paused_until_ms: f64, jitter: f64) {
        if self.session.is_none() {
            let messages = std::mem::take(&mut self.messages);
            self.session = Some(ConsumerSession::new(
                self.options.config,
                messages,
                whole(now_ms),
                whole(paused_until_ms),
                self.replay,
                jitter,
            ));
        }
    }

    /// The next `/track` body, or `undefined` when nothing is left to post.
    #[wasm_bindgen(js_name = nextBody)]
    pub fn next_body(&mut self) -> Option<String> {
        self.session.as_mut().and_then(ConsumerSession::next_body)
    }

    /// The server answered the last body.
    #[wasm_bindgen(js_name = settleResponse)]
    pub fn settle_response(&mut self, status: u16, retry_after: Option<String>, body: String, now_ms: f64, jitter: f64) {
        self.settle(&HttpOutcome::Response { status, retry_after, body }, now_ms, jitter);
    }

    /// `fetch` rejected for the last body.
    #[wasm_bindgen(js_name = settleNetwork)]
    pub fn settle_network(&mut self, message: String, now_ms: f64, jitter: f64) {
        self.settle(&HttpOutcome::Network { message }, now_ms, jitter);
    }

    /// No answer within the timeout for the last body.
    #[wasm_bindgen(js_name = settleTimeout)]
    pub fn settle_timeout(&mut self, now_ms: f64, jitter: f64) {
        let outcome = HttpOutcome::Timeout { timeout_ms: self.options.timeout_ms };
        self.settle(&outcome, now_ms, jitter);
    }

    fn settle(&mut self, outcome: &HttpOutcome, now_ms: f64, jitter: f64) {
        if let Some(session) = self.session.as_mut() {
            session.settle(outcome, whole(now_ms), jitter);
        }
    }

    /// The isolate's pause after this batch (epoch ms; the glue keeps it at module scope).
    #[wasm_bindgen(getter, js_name = pausedUntilMs)]
    pub fn paused_until_ms(&self) -> f64 {
        self.session.as_ref().map_or(0.0, |s| s.paused_until_ms() as f64)
    }

    /// `/track` POSTs made.
    #[wasm_bindgen(getter)]
    pub fn posts(&self) -> u32 {
        self.session.as_ref().map_or(0, ConsumerSession::posts)
    }

    /// What to do with each message, as JSON (the core's `actions_json`). `E_QUEUE_BATCH` before `start`.
    #[wasm_bindgen(js_name = actionsJson)]
    pub fn actions_json(&self) -> Result<String, JsValue> {
        match &self.session {
            Some(session) => Ok(actions_json(&session.actions())),
            None => Err(coded_error("E_QUEUE_BATCH", "actionsJson() before start()")),
        }
    }
}
