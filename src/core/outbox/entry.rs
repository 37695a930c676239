//! What the outbox keeps per record: the record text once, and a few numbers and flags.
//!
//! Issue 3 budgets about 400 bytes of heap per queued record in the end product, the record's own JSON
//! included. So a queued record is one [`Live`] row (48 bytes on 64-bit targets, 40 on wasm32) plus its JSON
//! in one allocation; its `response_id` is not copied but located inside that JSON ([`RecordText`]), and its
//! store key is rebuilt when needed.

/// Flag bits shared by [`Live`] and [`Dead`] rows.
pub(super) mod flag {
    /// The row was removed; its slot waits for compaction.
    pub const GONE: u8 = 1;
    /// The row's value must be (re)written to the store with the next put.
    pub const DIRTY: u8 = 1 << 1;
    /// The row is part of the put now outstanding.
    pub const IN_PUT: u8 = 1 << 2;
    /// A put holding the row was issued at least once: the store may hold its key, so removing the row
    /// must delete that key.
    pub const WRITTEN: u8 = 1 << 3;
    /// The store is known to hold the row's key (a put of it succeeded, or a listing showed it).
    pub const CONFIRMED: u8 = 1 << 4;
    /// Live rows: a send of this record failed during the current flush (it will be retried later).
    pub const FAILED: u8 = 1 << 5;
    /// Scratch bit of `handle_listed`: the listing showed this row's key.
    pub const SEEN: u8 = 1 << 6;
    /// Live rows: made due before their retry time because the server accepted a batch since (the outage
    /// is over). If this early send fails too, it costs no attempt: attempts are never spent faster than
    /// the backoff.
    pub const EARLY: u8 = 1 << 7;
}

/// A record's JSON text and where its `response_id` is in it.
///
/// The id is usually a verbatim substring of the JSON (`"response_id":"<id>"`: ids without quotes,
/// backslashes or control characters). When it is not, it is appended after the JSON in the same allocation.
#[derive(Debug, Default)]
pub(super) struct RecordText {
    text: Box<str>,
    id_start: u32,
    id_len: u16,
}

impl RecordText {
    /// Takes the record's JSON and id. `None` when the id is empty or longer than 65,535 bytes, or the text
    /// is 4 GiB or more (none of which a record built by the core can be).
    pub(super) fn new(json: String, id: &str) -> Option<RecordText> {
        let id_len = u16::try_from(id.len()).ok().filter(|&n| n > 0)?;
        let found = find_verbatim_id(&json, id);
        let (text, id_start) = match found {
            Some(start) => (json.into_boxed_str(), start),
            None => {
                let start = json.len();
                let mut text = json;
                text.push_str(id);
                (text.into_boxed_str(), start)
            }
        };
        let id_start = u32::try_from(id_start).ok()?;
        u32::try_from(text.len()).ok()?;
        Some(RecordText { text, id_start, id_len })
    }

    /// The `response_id`.
    pub(super) fn id(&self) -> &str {
        let start = self.id_start as usize;
        self.text.get(start..start + usize::from(self.id_len)).unwrap_or_default()
    }

    /// True when the id was appended after the JSON rather than found in it.
    fn id_appended(&self) -> bool {
        self.id_start as usize + usize::from(self.id_len) == self.text.len()
    }

    /// The record's JSON, exactly as it was given.
    pub(super) fn json(&self) -> &str {
        if self.id_appended() {
            self.text.get(..self.id_start as usize).unwrap_or_default()
        } else {
            &self.text
        }
    }

    /// Length of the JSON in bytes (what counts against `max_queue_bytes`).
    pub(super) fn json_len(&self) -> usize {
        self.json().len()
    }

    /// Heap bytes owned (for memory estimates).
    pub(super) fn heap_bytes(&self) -> usize {
        self.text.len()
    }

    /// The JSON as an owned string.
    pub(super) fn json_string(&self) -> String {
        self.json().to_owned()
    }
}

/// Where `"response_id":"<id>"` starts its id inside `json`, when `id` needs no escaping. A plain byte scan
/// (no `str::find`: the generic searcher costs kilobytes of wasm).
fn find_verbatim_id(json: &str, id: &str) -> Option<usize> {
    if id.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None;
    }
    const FIELD: &[u8] = b"\"response_id\":\"";
    let hay = json.as_bytes();
    let needle_len = FIELD.len() + id.len() + 1;
    (0..hay.len().checked_sub(needle_len)? + 1).find_map(|at| {
        let window = hay.get(at..at + needle_len)?;
        let (field, rest) = window.split_at(FIELD.len());
        let (value, close) = rest.split_at(id.len());
        (field == FIELD && value == id.as_bytes() && close == b"\"").then_some(at + FIELD.len())
    })
}

/// A record in the queue: due, waiting for a retry, or in flight.
#[derive(Debug, Default)]
pub(super) struct Live {
    pub(super) rec: RecordText,
    /// When the record entered the queue (enqueue, adoption's stored value, or requeue): orders adopted
    /// records and measures `max_age_ms`.
    pub(super) created_ms: u64,
    /// Not in flight: when it may be sent (stored with the record after a failure, so that a tracker in
    /// another isolate keeps the backoff). In flight: when its lease expires.
    pub(super) due_ms: u64,
    /// The batch carrying it (`BatchId` value), 0 when not in flight.
    pub(super) batch: u32,
    /// Failed attempts so far (saturating).
    pub(super) attempts: u16,
    pub(super) flags: u8,
}

/// A dead letter: a record the outbox gave up on, with why.
#[derive(Debug, Default)]
pub(super) struct Dead {
    pub(super) rec: RecordText,
    pub(super) created_ms: u64,
    /// When it was dead-lettered.
    pub(super) at_ms: u64,
    pub(super) attempts: u32,
    /// The HTTP status of the answer that decided it, if there was one.
    pub(super) status: Option<u16>,
    pub(super) reason: String,
    /// The server's messages for this record, if it gave any.
    pub(super) errors: Vec<String>,
    pub(super) flags: u8,
}

/// What [`super::table::Table`] needs from a row.
pub(super) trait Row: Default {
    fn id(&self) -> &str;
    fn flags(&self) -> u8;
    fn flags_mut(&mut self) -> &mut u8;
}

impl Row for Live {
    fn id(&self) -> &str {
        self.rec.id()
    }
    fn flags(&self) -> u8 {
        self.flags
    }
    fn flags_mut(&mut self) -> &mut u8 {
        &mut self.flags
    }
}

impl Row for Dead {
    fn id(&self) -> &str {
        self.rec.id()
    }
    fn flags(&self) -> u8 {
        self.flags
    }
    fn flags_mut(&mut self) -> &mut u8 {
        &mut self.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_found_inside_the_json_costs_nothing_extra() {
        let json = r#"{"service_key":"openai::gpt-4o","response_id":"abc123","timestamp":"1.0","payload":{"response_id":"x"}}"#;
        let rec = RecordText::new(json.to_owned(), "abc123").unwrap();
        assert_eq!(rec.id(), "abc123");
        assert_eq!(rec.json(), json);
        assert_eq!(rec.heap_bytes(), json.len());
        assert_eq!(rec.json_len(), json.len());
    }

    #[test]
    fn id_needing_escapes_or_absent_is_appended() {
        let json = r#"{"response_id":"a\"b"}"#;
        let rec = RecordText::new(json.to_owned(), "a\"b").unwrap();
        assert_eq!((rec.id(), rec.json()), ("a\"b", json));
        // A nested "response_id" of another value is not mistaken for it.
        let json = r#"{"payload":{"response_id":"zz"}}"#;
        let rec = RecordText::new(json.to_owned(), "z").unwrap();
        assert_eq!((rec.id(), rec.json(), rec.heap_bytes()), ("z", json, json.len() + 1));
        let rec = RecordText::new("{}".to_owned(), "é/😀").unwrap();
        assert_eq!((rec.id(), rec.json()), ("é/😀", "{}"));
        assert!(RecordText::new("{}".to_owned(), "").is_none());
        assert!(RecordText::new("{}".to_owned(), &"x".repeat(70_000)).is_none());
    }

    #[test]
    fn rows_stay_small() {
        // 64-bit targets; on wasm32 the Box<str> is 8 bytes, so Live is 40.
        assert!(std::mem::size_of::<Live>() <= 48, "{}", std::mem::size_of::<Live>());
        assert!(std::mem::size_of::<RecordText>() <= 24);
    }
}
