//! Encoded records and the `/track` request bodies built from them.
//!
//! A body is `{"tracked":[<record>,<record>,...]}` with each record's JSON text copied verbatim, so the bytes
//! the server sees are exactly the bytes that were validated, measured and (later) stored. Nothing here
//! parses or re-encodes a record.

/// A record already validated, anonymized and encoded as compact JSON: what is stored and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// The record's `response_id`: its idempotency key, fixed for every retry.
    pub response_id: String,
    /// The record as JSON text: `{"service_key":...,"response_id":...,...}`.
    pub json: String,
}

/// `{"tracked":[`
const BODY_OPEN: &str = "{\"tracked\":[";
/// `]}`
const BODY_CLOSE: &str = "]}";

/// Builds the `/track` request body for `records`, in order: `{"tracked":[<json>,<json>]}`.
///
/// Each record's `json` is copied verbatim. An empty slice gives `{"tracked":[]}`.
pub fn encode_body(records: &[EncodedRecord]) -> String {
    write_body(records, body_len(records))
}

/// [`encode_body`] for records that are not contiguous in memory (e.g. picked by index from a larger list).
pub fn encode_body_of<'a>(records: impl IntoIterator<Item = &'a EncodedRecord>) -> String {
    write_body(records, 0)
}

fn write_body<'a>(records: impl IntoIterator<Item = &'a EncodedRecord>, capacity: usize) -> String {
    let mut body = String::with_capacity(capacity);
    body.push_str(BODY_OPEN);
    for (i, record) in records.into_iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&record.json);
    }
    body.push_str(BODY_CLOSE);
    body
}

/// The exact byte length of [`encode_body`]`(records)`, computed without building it. Saturates at
/// `usize::MAX` instead of overflowing.
pub fn body_len(records: &[EncodedRecord]) -> usize {
    let commas = records.len().saturating_sub(1);
    records
        .iter()
        .fold(BODY_OPEN.len() + BODY_CLOSE.len(), |len, r| len.saturating_add(r.json.len()))
        .saturating_add(commas)
}

/// Splits `records` into consecutive groups, order kept, each holding at most `max_count` records and
/// encoding to a body of at most `max_bytes` bytes.
///
/// Greedy: a group is closed as soon as the next record would break either limit. A record whose body
/// alone exceeds `max_bytes` goes alone in its own group (the caller decides whether to send it; the
/// server may answer 413). A `max_count` of 0 is treated as 1. An empty input gives no groups.
pub fn chunk(records: Vec<EncodedRecord>, max_count: usize, max_bytes: usize) -> Vec<Vec<EncodedRecord>> {
    let max_count = max_count.max(1);
    let empty_len = BODY_OPEN.len() + BODY_CLOSE.len();
    let mut groups = Vec::new();
    let mut current: Vec<EncodedRecord> = Vec::new();
    let mut current_len = empty_len;
    for record in records {
        // Adding a record costs its JSON plus a comma when it is not the first.
        let added = record.json.len().saturating_add(usize::from(!current.is_empty()));
        let over_count = current.len() >= max_count;
        let over_bytes = current_len.saturating_add(added) > max_bytes;
        if !current.is_empty() && (over_count || over_bytes) {
            groups.push(std::mem::take(&mut current));
            current_len = empty_len;
        }
        current_len = current_len
            .saturating_add(record.json.len())
            .saturating_add(usize::from(!current.is_empty()));
        current.push(record);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// The record texts of a body built by [`encode_body`] (or the outbox's equivalent), in order, each exactly as
/// it was written: what a sink's `send` is handed instead of the body. Splits at the commas between the
/// top-level elements of the `tracked` array, skipping strings (escapes included). `None` for text that is
/// not such a body; `Some(vec![])` for `{"tracked":[]}`.
pub fn records_of_body(body: &str) -> Option<Vec<&str>> {
    let inner = body.strip_prefix(BODY_OPEN)?.strip_suffix(BODY_CLOSE)?;
    let mut records = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (at, byte) in inner.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                records.push(inner.get(start..at)?);
                start = at + 1;
            }
            _ => {}
        }
    }
    if in_string || depth != 0 {
        return None;
    }
    if start < inner.len() || !records.is_empty() {
        records.push(inner.get(start..)?);
    }
    records.iter().all(|r| r.starts_with('{') && r.ends_with('}')).then_some(records)
}

/// The response ids of a `{"tracked": [...]}` body, read back with the real JSON parser (which also checks the
/// body's shape). For the delivery tests, which see what a server would.
#[cfg(test)]
pub(crate) fn response_ids_in(body: &str) -> Vec<String> {
    use crate::core::value::Value;
    let value = crate::core::json::parse(body).expect("the body is JSON");
    value
        .get("tracked")
        .and_then(Value::as_array)
        .expect("{\"tracked\": [...]}")
        .iter()
        .map(|r| r.get("response_id").and_then(Value::as_str).expect("response_id").to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink gets back exactly the texts that went into the body, whatever they contain (commas, braces and
    /// escaped quotes inside strings, nesting), and nothing for what is not a body.
    #[test]
    fn records_of_body_gives_back_each_record_verbatim() {
        let texts = [
            r#"{"service_key":"a::b","response_id":"r1","payload":{"x":[1,{"y":"},{"}]}}"#,
            r#"{"service_key":"a::b","response_id":"r\"2,","payload":{"s":"\\","t":"]["}}"#,
            r#"{"response_id":"r3"}"#,
        ];
        let records: Vec<EncodedRecord> =
            texts.iter().enumerate().map(|(i, t)| EncodedRecord { response_id: format!("r{i}"), json: (*t).to_owned() }).collect();
        for n in 0..=texts.len() {
            let body = encode_body(&records[..n]);
            assert_eq!(records_of_body(&body), Some(texts[..n].to_vec()), "{body}");
        }
        for bad in ["", "{\"tracked\":[", "{\"tracked\":[{]}", "{\"tracked\":[1,2]}", "{\"tracked\":[{\"a\":\"}]}", "[{}]"] {
            assert_eq!(records_of_body(bad), None, "{bad}");
        }
    }

    fn rec(id: &str, pad: usize) -> EncodedRecord {
        EncodedRecord {
            response_id: id.to_owned(),
            json: format!("{{\"response_id\":\"{id}\",\"p\":\"{}\"}}", "x".repeat(pad)),
        }
    }

    fn ids(groups: &[Vec<EncodedRecord>]) -> Vec<Vec<String>> {
        groups.iter().map(|g| g.iter().map(|r| r.response_id.clone()).collect()).collect()
    }

    #[test]
    fn encode_body_copies_records_verbatim_in_order() {
        let records = vec![
            EncodedRecord { response_id: "a".into(), json: "{\"response_id\":\"a\"}".into() },
            EncodedRecord { response_id: "b".into(), json: "{\"response_id\":\"b\",\"x\":[1,2]}".into() },
        ];
        assert_eq!(
            encode_body(&records),
            "{\"tracked\":[{\"response_id\":\"a\"},{\"response_id\":\"b\",\"x\":[1,2]}]}"
        );
        assert_eq!(encode_body(&[]), "{\"tracked\":[]}");
        assert_eq!(encode_body_of(records.iter().rev()), format!("{{\"tracked\":[{},{}]}}", records[1].json, records[0].json));
        assert_eq!(encode_body_of(&records), encode_body(&records));
    }

    #[test]
    fn body_len_equals_the_built_body_length() {
        for n in 0..5 {
            let records: Vec<_> = (0..n).map(|i| rec(&format!("r{i}"), i * 7)).collect();
            assert_eq!(body_len(&records), encode_body(&records).len(), "n = {n}");
        }
        // Multi-byte characters count in bytes, not chars.
        let records = vec![EncodedRecord { response_id: "é".into(), json: "{\"k\":\"é€😀\"}".into() }];
        assert_eq!(body_len(&records), encode_body(&records).len());
    }

    #[test]
    fn chunk_by_count_keeps_order() {
        let records: Vec<_> = (0..7).map(|i| rec(&format!("r{i}"), 0)).collect();
        let groups = chunk(records, 3, usize::MAX);
        assert_eq!(
            ids(&groups),
            vec![vec!["r0", "r1", "r2"], vec!["r3", "r4", "r5"], vec!["r6"]]
        );
    }

    #[test]
    fn chunk_by_bytes_never_exceeds_the_limit() {
        let records: Vec<_> = (0..10).map(|i| rec(&format!("r{i}"), i * 3)).collect();
        let all = records.clone();
        for max_bytes in [60, 80, 120, 200, 400] {
            let groups = chunk(records.clone(), 1000, max_bytes);
            let flat: Vec<_> = groups.iter().flatten().cloned().collect();
            assert_eq!(flat, all, "order and content kept at {max_bytes}");
            for g in &groups {
                assert!(!g.is_empty());
                assert!(body_len(g) <= max_bytes || g.len() == 1, "group over {max_bytes}: {}", body_len(g));
            }
            // Greedy: joining a group with the next one's first record would break the limit.
            for pair in groups.windows(2) {
                let mut joined = pair[0].clone();
                joined.push(pair[1][0].clone());
                assert!(body_len(&joined) > max_bytes);
            }
        }
    }

    #[test]
    fn chunk_exact_fit_stays_together() {
        let records = vec![rec("a", 0), rec("b", 0)];
        let exact = body_len(&records);
        assert_eq!(chunk(records.clone(), 10, exact).len(), 1);
        assert_eq!(chunk(records, 10, exact - 1).len(), 2);
    }

    #[test]
    fn oversized_record_goes_alone() {
        let records = vec![rec("a", 0), rec("big", 500), rec("b", 0), rec("c", 0)];
        let groups = chunk(records, 10, 100);
        assert_eq!(ids(&groups), vec![vec!["a"], vec!["big"], vec!["b", "c"]]);
    }

    #[test]
    fn chunk_edge_inputs() {
        assert!(chunk(Vec::new(), 10, 100).is_empty());
        let groups = chunk(vec![rec("a", 0), rec("b", 0)], 0, usize::MAX);
        assert_eq!(ids(&groups), vec![vec!["a"], vec!["b"]]);
        let groups = chunk(vec![rec("a", 0), rec("b", 0)], 10, 0);
        assert_eq!(ids(&groups), vec![vec!["a"], vec!["b"]]);
    }
}
