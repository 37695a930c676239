//! Records handed over as JSON texts (a Durable Object outbox taking what producer trackers' sinks send), and
//! when the outbox next has something to do (what schedules its `alarm()`).
//!
//! A producer tracker built each record already (validated, anonymized, encoded) and its sink hands over the
//! texts exactly as they would appear in a `/track` body. The outbox that takes them trusts nothing: each text
//! is checked here ([`record_of_text`]) before it is queued, and a batch is taken whole or not at all.

use super::Outbox;
use crate::core::batch::EncodedRecord;
use crate::core::error::TrackError;
use crate::core::json;
use crate::core::record::{check_response_id, check_service_key};
use crate::core::value::Value;

/// What [`Outbox::enqueue_texts`] did with a batch it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TakenTexts {
    /// Records new to the outbox, now queued (and written with the next store put).
    pub added: usize,
    /// Records whose `response_id` the outbox already held (queued, in flight or dead-lettered), or that
    /// appeared earlier in the same batch: kept once, nothing changed for them.
    pub duplicates: usize,
}

/// Checks one handed-over record text (number `index` of its batch) and reads its `response_id`.
///
/// Accepted: at most `max_bytes` UTF-8 bytes, JSON whose top level is an object with a non-empty string
/// `service_key` and a `response_id` the tracker would accept (a non-empty string of at most 255
/// characters). The text is kept exactly as given (it is what the outbox sends). Anything else is
/// `E_INVALID_RECORD` naming the index and why (the size is checked before the text is parsed).
pub fn record_of_text(text: String, index: usize, max_bytes: usize) -> Result<EncodedRecord, TrackError> {
    let invalid = |reason: String| TrackError::InvalidRecord { index, reason };
    if text.len() > max_bytes {
        return Err(invalid(format!("{} bytes, over the limit of {max_bytes}", text.len())));
    }
    let value = json::parse(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if !matches!(value, Value::Object(_)) {
        return Err(invalid("not a JSON object".to_owned()));
    }
    let service_key = value.get("service_key").and_then(Value::as_str);
    let service_key = service_key.ok_or_else(|| invalid("service_key is missing or not a string".to_owned()))?;
    check_service_key(service_key).map_err(|e| invalid(format!("service_key {e}")))?;
    let response_id = value.get("response_id").and_then(Value::as_str);
    let response_id = response_id.ok_or_else(|| invalid("response_id is missing or not a string".to_owned()))?;
    let response_id = check_response_id(response_id.to_owned()).map_err(|e| invalid(format!("response_id {e}")))?;
    Ok(EncodedRecord { response_id, json: text })
}

impl Outbox {
    /// Takes a batch of record texts handed over by a producer's sink: every text is checked with
    /// [`record_of_text`] (records larger than `max_record_bytes` are refused), then all are queued or none,
    /// as [`Outbox::enqueue_all`] does (due now; their store write goes out with the next
    /// [`Outbox::poll_store`]).
    ///
    /// Errors change nothing: `E_INVALID_RECORD` for the first bad text, `E_BATCH_TOO_LARGE` for more than
    /// 10,000 texts, `E_QUEUE_FULL` when the new records do not all fit (the producer keeps them and sends
    /// again later; a record already held is a duplicate and needs no room).
    pub fn enqueue_texts(&mut self, texts: Vec<String>, max_record_bytes: usize, now_ms: u64) -> Result<TakenTexts, TrackError> {
        crate::core::config::check_batch_count(texts.len())?;
        let count = texts.len();
        let records = texts
            .into_iter()
            .enumerate()
            .map(|(index, text)| record_of_text(text, index, max_record_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let before = self.duplicates;
        self.enqueue_all(records, now_ms)?;
        let duplicates = self.duplicates.saturating_sub(before);
        Ok(TakenTexts { added: count.saturating_sub(duplicates), duplicates })
    }

    /// When the outbox next has something to send, as epoch ms: the earliest due time of the records not in
    /// flight, but never before the retry pause a failure (or a server's `Retry-After`) set; while a batch is
    /// in flight, no later than its lease's end (then its records are due again). `None` when nothing is
    /// queued or in flight (dead letters wait for a requeue, not for a time).
    ///
    /// A time in the past means "now". A Durable Object sets its alarm to it after every flush, so that the
    /// retry schedule runs with no request at all; `stats().nextDueAt` reports it.
    pub fn next_due_ms(&self) -> Option<u64> {
        let waiting = self.live.iter().filter(|(_, r)| r.batch == 0).map(|(_, r)| r.due_ms).min();
        let ready = waiting.map(|due| due.max(self.blocked_until_ms));
        let lease = self.in_flight.as_ref().map(|flight| flight.lease_until_ms);
        match (ready, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config, drive_flush, http_retry_after, rec, results, FakeStore, NS, T0};
    use super::super::{Outbox, OutboxConfig, SendOutput};
    use super::*;

    fn texts(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| rec(id).json).collect()
    }

    /// Handed-over texts are queued exactly as given (the body sent is made of them) and stored; a
    /// `response_id` already held, or repeated in the batch, is kept once.
    #[test]
    fn texts_are_queued_verbatim_and_kept_once() {
        let mut outbox = Outbox::new(config());
        let mut store = FakeStore::default();
        let taken = outbox.enqueue_texts(texts(&["a", "b", "a"]), 1000, T0);
        assert_eq!(taken, Ok(TakenTexts { added: 2, duplicates: 1 }));
        assert_eq!(outbox.enqueue_texts(texts(&["b", "c"]), 1000, T0), Ok(TakenTexts { added: 1, duplicates: 1 }));
        store.settle(&mut outbox);
        assert_eq!(store.ids("q"), ["a", "b", "c"]);
        let mut now = T0;
        let mut bodies = Vec::new();
        let run = drive_flush(&mut outbox, &mut store, &mut now, 10_000, |ids| {
            bodies.push(ids.to_vec());
            results(ids, "queued")
        });
        assert_eq!(run.report.sent, 3);
        assert_eq!(bodies, [["a", "b", "c"]]);
        assert!(store.map.is_empty());
    }

    /// Every malformed text is refused with its index, and a batch with one is taken not at all.
    #[test]
    fn malformed_texts_refuse_the_whole_batch() {
        let long_id = "x".repeat(256);
        let cases: [(String, &str); 9] = [
            ("not json".to_owned(), "not JSON"),
            ("[1,2]".to_owned(), "not a JSON object"),
            (r#""text""#.to_owned(), "not a JSON object"),
            (r#"{"service_key":"s"}"#.to_owned(), "response_id is missing"),
            (r#"{"service_key":"s","response_id":7}"#.to_owned(), "response_id is missing or not a string"),
            (r#"{"service_key":"s","response_id":"  "}"#.to_owned(), "response_id"),
            (format!(r#"{{"service_key":"s","response_id":"{long_id}"}}"#), "longer than 255"),
            (r#"{"response_id":"r"}"#.to_owned(), "service_key is missing"),
            (r#"{"service_key":"","response_id":"r"}"#.to_owned(), "service_key"),
        ];
        for (bad, why) in cases {
            let mut outbox = Outbox::new(config());
            let batch = vec![rec("ok").json, bad.clone()];
            match outbox.enqueue_texts(batch, 1000, T0) {
                Err(TrackError::InvalidRecord { index: 1, reason }) => assert!(reason.contains(why), "{bad}: {reason}"),
                other => panic!("{bad}: {other:?}"),
            }
            assert_eq!(outbox.stats().queued, 0, "{bad}: nothing taken");
            assert!(outbox.poll_store().is_none());
        }
        // Oversized: refused before parsing, with its size.
        let mut outbox = Outbox::new(config());
        let big = rec("big").json;
        match outbox.enqueue_texts(vec![big.clone()], big.len() - 1, T0) {
            Err(TrackError::InvalidRecord { index: 0, reason }) => assert!(reason.contains("over the limit"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(outbox.enqueue_texts(vec![big.clone()], big.len(), T0).map(|t| t.added), Ok(1));
        // More than a trackBatch may carry.
        let many = vec![big; 10_001];
        assert!(matches!(outbox.enqueue_texts(many, 1000, T0), Err(TrackError::BatchTooLarge { .. })));
    }

    /// A full outbox refuses the batch (so the producer's sink rejects and retries) and changes nothing;
    /// duplicates of held records still take no room.
    #[test]
    fn a_full_outbox_refuses_the_batch() {
        let mut outbox = Outbox::new(OutboxConfig { max_queue_size: 2, ..config() });
        assert_eq!(outbox.enqueue_texts(texts(&["a"]), 1000, T0).map(|t| t.added), Ok(1));
        assert!(matches!(outbox.enqueue_texts(texts(&["b", "c"]), 1000, T0), Err(TrackError::QueueFull { .. })));
        assert_eq!(outbox.stats().queued, 1);
        assert_eq!(outbox.enqueue_texts(texts(&["a", "b"]), 1000, T0), Ok(TakenTexts { added: 1, duplicates: 1 }));
    }

    /// The next due time: none when empty, now for new records, the retry pause after a failure (the
    /// server's Retry-After when it gave one), the lease's end while a batch is in flight, and none again
    /// once everything is delivered or dead-lettered.
    #[test]
    fn next_due_follows_the_retry_schedule() {
        let mut outbox = Outbox::new(config());
        let mut store = FakeStore::default();
        assert_eq!(outbox.next_due_ms(), None);
        assert_eq!(outbox.stats().next_due_ms, None);
        outbox.enqueue_texts(texts(&["a", "b"]), 1000, T0).map(drop).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(outbox.stats().next_due_ms, Some(T0));

        // A 503 with Retry-After: 30: nothing is due before 30 s after the reply.
        let mut now = T0;
        let run = drive_flush(&mut outbox, &mut store, &mut now, 1_000, |_| http_retry_after(503, "30"));
        assert_eq!(run.report.retry_later, 2);
        let reply_at = now;
        let due = outbox.next_due_ms().unwrap_or(0);
        assert!(due >= reply_at + 30_000 - 1_000 && due > reply_at + 20_000, "due {due}, reply at {reply_at}");
        assert_eq!(store.ids("q"), ["a", "b"], "the schedule is stored with the records");

        // In flight: due no later than the lease's end.
        now = due;
        outbox.begin_flush(now, now + 60_000);
        let SendOutput::Send { id, .. } = outbox.poll_send(now) else { panic!("due records are sent") };
        assert_eq!(outbox.next_due_ms(), Some(now + outbox.config().lease_ms));
        outbox.handle_response(id, results(&["a".to_owned(), "b".to_owned()], "queued"), now + 5, 0.5);
        store.settle(&mut outbox);
        assert_eq!(outbox.next_due_ms(), None);
        assert!(store.map.keys().all(|k| !k.starts_with(NS)), "delivered records leave the store");
    }
}
