//! Keeping the API key out of everything the core writes down: dead letters (and so the store), delivery
//! errors, per-record messages.
//!
//! A server's error body, a `fetch` rejection's message or a per-record error may echo the key
//! (`HTTP 401: {"detail":"invalid API key sk-…"}`). Build one [`Redactor`] from the key with the tracker's
//! configuration and pass every such text through [`Redactor::redact`] where it enters a reason or a result.
//!
//! # What is redacted (each occurrence becomes [`REDACTED`])
//! - **Keys of at least [`MIN_FRAGMENT`] (12) bytes**: every run of at least 12 consecutive bytes of the key,
//!   wherever it appears: the whole key, `Bearer <key>` (the key part), and any cut-off or partial echo of
//!   12 bytes or more. The key's percent-encoded form (upper- and lowercase hex) and its JSON-escaped form
//!   are redacted whole where they differ from the key. Shorter fragments (a server's `sk-…abcd` hint) are
//!   left: they identify a key without revealing it.
//! - **Shorter keys** (test keys, placeholders): the whole key (and its encoded forms) only where it stands
//!   alone, not inside a longer run of letters, digits, `-`, `_` or `.`: a key `k` does not turn
//!   `network` into `networ[redacted]`.
//! - No key (a proxy that adds it): nothing changes.

use crate::core::error::DeliveryError;
use crate::core::json;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Runs of the key at least this long (in bytes) are redacted wherever they occur (keys at least this long).
pub const MIN_FRAGMENT: usize = 12;

/// Redacts one API key and its obvious forms from texts. Cheap to clone; its `Debug` never shows the key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// The key itself, then its other forms (percent-encoded, JSON-escaped) where they differ; empty: none.
    forms: Vec<String>,
    /// Every `MIN_FRAGMENT`-byte window of the key, sorted and deduplicated (empty for short keys).
    windows: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("active", &!self.forms.is_empty()).finish_non_exhaustive()
    }
}

/// A byte that continues a token (keys are runs of these in practice).
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn percent_encoded(key: &str, upper: bool) -> String {
    let hex: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(hex.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
            out.push(char::from(hex.get(usize::from(b & 15)).copied().unwrap_or(b'0')));
        }
    }
    out
}

impl Redactor {
    /// A redactor for `key`; `None` or an empty key redacts nothing.
    pub fn new(key: Option<&str>) -> Redactor {
        let Some(key) = key.filter(|k| !k.is_empty()) else { return Redactor::default() };
        let mut forms = vec![key.to_owned()];
        let mut escaped = String::new();
        json::write_string(key, &mut escaped);
        let escaped = escaped.get(1..escaped.len().saturating_sub(1)).unwrap_or_default().to_owned();
        for form in [percent_encoded(key, true), percent_encoded(key, false), escaped.replace('/', "\\/"), escaped] {
            if !form.is_empty() && !forms.contains(&form) {
                forms.push(form);
            }
        }
        let mut windows: Vec<Vec<u8>> = if key.len() >= MIN_FRAGMENT {
            key.as_bytes().windows(MIN_FRAGMENT).map(<[u8]>::to_vec).collect()
        } else {
            Vec::new()
        };
        windows.sort();
        windows.dedup();
        Redactor { forms, windows }
    }

    /// True when there is a key to redact.
    pub fn is_active(&self) -> bool {
        !self.forms.is_empty()
    }

    /// True when `text` contains something [`Redactor::redact`] would replace.
    pub fn finds(&self, text: &str) -> bool {
        !self.ranges(text).is_empty()
    }

    /// `text` with the key's occurrences (see the module docs) replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let ranges = self.ranges(text);
        if ranges.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            out.push_str(text.get(at..start).unwrap_or_default());
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        out
    }

    /// Redacts every text in place; returns whether any changed.
    pub fn redact_all<'a>(&self, texts: impl IntoIterator<Item = &'a mut String>) -> bool {
        let mut changed = false;
        for text in texts {
            if self.finds(text) {
                *text = self.redact(text);
                changed = true;
            }
        }
        changed
    }

    /// The byte ranges to replace, sorted, merged, on character boundaries.
    fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if self.forms.is_empty() {
            return ranges;
        }
        let bytes = text.as_bytes();
        let long_key = !self.windows.is_empty();
        for form in &self.forms {
            let needle = form.as_bytes();
            if needle.is_empty() || needle.len() > bytes.len() {
                continue;
            }
            for start in 0..=bytes.len() - needle.len() {
                let end = start + needle.len();
                if bytes.get(start..end) != Some(needle) {
                    continue;
                }
                let before = start.checked_sub(1).and_then(|i| bytes.get(i));
                let alone = !before.is_some_and(|&b| token_byte(b)) && !bytes.get(end).is_some_and(|&b| token_byte(b));
                if long_key || alone {
                    ranges.push((start, end));
                }
            }
        }
        if long_key && bytes.len() >= MIN_FRAGMENT {
            for start in 0..=bytes.len() - MIN_FRAGMENT {
                let Some(window) = bytes.get(start..start + MIN_FRAGMENT) else { continue };
                if self.windows.binary_search_by(|w| w.as_slice().cmp(window)).is_ok() {
                    ranges.push((start, start + MIN_FRAGMENT));
                }
            }
        }
        crate::core::sort::sort_by(&mut ranges, |a, b| a < b);
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            let start = floor_boundary(text, start);
            let end = ceil_boundary(text, end);
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

impl DeliveryError {
    /// The same error with every text in it passed through `redactor`.
    pub fn redacted(self, redactor: &Redactor) -> DeliveryError {
        if !redactor.is_active() {
            return self;
        }
        match self {
            DeliveryError::Network { message } => DeliveryError::Network { message: redactor.redact(&message) },
            DeliveryError::HttpStatus { status, body } => DeliveryError::HttpStatus { status, body: redactor.redact(&body) },
            DeliveryError::InvalidResponse { reason } => DeliveryError::InvalidResponse { reason: redactor.redact(&reason) },
            DeliveryError::Rejected { mut errors } => {
                redactor.redact_all(errors.iter_mut());
                DeliveryError::Rejected { errors }
            }
            other => other,
        }
    }
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-0123456789abcdefXYZ";

    #[test]
    fn the_key_and_its_forms_are_redacted() {
        let r = Redactor::new(Some(KEY));
        assert!(r.is_active());
        let body = format!(r#"HTTP 401: {{"detail":"invalid API key {KEY}","auth":"Bearer {KEY}"}}"#);
        let out = r.redact(&body);
        assert!(!out.contains("0123456789"), "{out}");
        assert_eq!(out, r#"HTTP 401: {"detail":"invalid API key [redacted]","auth":"Bearer [redacted]"}"#);
        // Cut-off echoes of 12 bytes or more.
        assert_eq!(r.redact("key sk-live-012345… is wrong"), "key [redacted]… is wrong");
        assert_eq!(r.redact("ends with 456789abcdefXYZ."), "ends with [redacted].");
        // A short hint is not the key.
        assert_eq!(r.redact("key sk-…fXYZ"), "key sk-…fXYZ");
        assert!(!r.finds("nothing here"));
    }

    #[test]
    fn encoded_forms() {
        let key = "ab+cd/ef=gh\"ij\\kl";
        let r = Redactor::new(Some(key));
        for text in [
            "q=ab%2Bcd%2Fef%3Dgh%22ij%5Ckl&x=1",
            "q=ab%2bcd%2fef%3dgh%22ij%5ckl&x=1",
            r#"{"key":"ab+cd/ef=gh\"ij\\kl"}"#,
            r#"{"key":"ab+cd\/ef=gh\"ij\\kl"}"#,
        ] {
            let out = r.redact(text);
            assert!(out.contains(REDACTED) && !out.contains("ij"), "{text} -> {out}");
        }
    }

    #[test]
    fn short_keys_only_standing_alone() {
        let r = Redactor::new(Some("k"));
        assert_eq!(r.redact("network error: bad key k"), "network error: bad key [redacted]");
        assert_eq!(r.redact("\"k\""), "\"[redacted]\"");
        assert_eq!(r.redact("kk k-1 ok"), "kk k-1 ok");
        let r = Redactor::new(Some("secret1"));
        assert_eq!(r.redact("Bearer secret1, secret12"), "Bearer [redacted], secret12");
    }

    #[test]
    fn no_key_changes_nothing_and_debug_hides_the_key() {
        for r in [Redactor::new(None), Redactor::new(Some(""))] {
            assert!(!r.is_active());
            assert_eq!(r.redact("sk-live"), "sk-live");
        }
        let shown = format!("{:?}", Redactor::new(Some(KEY)));
        assert!(!shown.contains("0123"), "{shown}");
    }

    #[test]
    fn multibyte_text_around_the_key() {
        let r = Redactor::new(Some(KEY));
        let text = format!("é{KEY}😀 and é{}", &KEY[3..20]);
        let out = r.redact(&text);
        assert_eq!(out, "é[redacted]😀 and é[redacted]");
        let mut texts = vec![text.clone(), "plain".to_owned()];
        assert!(r.redact_all(texts.iter_mut()));
        assert_eq!(texts, [out, "plain".to_owned()]);
    }
}
