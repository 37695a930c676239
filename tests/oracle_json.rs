//! `core::json` (the parser and the writer) against `serde_json` on generated and damaged texts.
//!
//! Documented differences, asserted explicitly rather than skipped:
//! - a `\u` escape of a lone surrogate decodes to U+FFFD here (json::parse's contract); serde_json refuses it;
//! - the writer prints `-0` as `0` (as `JSON.stringify` does), so `-0` does not survive a round trip.
#![cfg(not(target_arch = "wasm32"))]

mod oracle_support;

use aicostmanager_edge::core::json;
use aicostmanager_edge::core::value::Value;
use oracle_support::{cases, Disagreements, Rng};

/// serde_json's value in the core's model (numbers as the nearest f64, keys in document order).
fn from_serde(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_serde).collect()),
        serde_json::Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), from_serde(v))).collect()),
    }
}

/// Equal as JSON data, numbers compared bit for bit (so `-0` and `0` differ).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

/// What the writer makes of a value: `-0` becomes `0`.
fn written_form(v: &Value) -> Value {
    match v {
        Value::Number(n) if *n == 0.0 => Value::Number(0.0),
        Value::Array(items) => Value::Array(items.iter().map(written_form).collect()),
        Value::Object(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), written_form(v))).collect()),
        other => other.clone(),
    }
}

/// `text` with every `\u` escape of a surrogate that is not half of a high+low pair replaced by `\ufffd`:
/// what json::parse reads such a text as, spelled so that serde_json reads it too. `None` when there is none.
fn lone_surrogates_replaced(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let unit_at = |i: usize| -> Option<u16> {
        let hex = text.get(i + 2..i + 6)?;
        (bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u')).then(|| u16::from_str_radix(hex, 16).ok())?
    };
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let step = match unit_at(i) {
                Some(0xD800..=0xDBFF) if unit_at(i + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) => 12,
                Some(0xD800..=0xDFFF) => {
                    found = true;
                    out.push_str("\\ufffd");
                    i += 6;
                    continue;
                }
                Some(_) => 6,
                None => 2, // another escape: keep the escaped char with it (so `\\u` is not an escape)
            };
            let end = (i + step).min(bytes.len());
            let end = (end..=bytes.len()).find(|&e| text.is_char_boundary(e)).unwrap_or(bytes.len());
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        let end = (i + 1..=bytes.len()).find(|&e| text.is_char_boundary(e)).unwrap_or(bytes.len());
        out.push_str(&text[i..end]);
        i = end;
    }
    found.then_some(out)
}

/// Writes `v` as JSON text in a random but valid spelling: whitespace anywhere allowed, characters
/// escaped as `\uXXXX` (surrogate pairs for astral ones, either hex case), `\/`, exponent forms of numbers.
fn spell(rng: &mut Rng, v: &Value, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| {
        if rng.one_in(4) {
            for _ in 0..rng.below(3) + 1 {
                out.push(*rng.pick(&[' ', '\t', '\n', '\r']));
            }
        }
    };
    let string = |rng: &mut Rng, s: &str, out: &mut String| {
        out.push('"');
        for c in s.chars() {
            let escape = (c as u32) < 0x20 || c == '"' || c == '\\' || rng.one_in(6);
            if !escape {
                out.push(c);
                continue;
            }
            match c {
                '"' if rng.one_in(2) => out.push_str("\\\""),
                '\\' if rng.one_in(2) => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                '\n' if rng.one_in(2) => out.push_str("\\n"),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        if rng.one_in(2) {
                            out.push_str(&format!("\\u{unit:04X}"));
                        } else {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
        }
        out.push('"');
    };
    ws(rng, out);
    match v {
        Value::Number(n) if rng.one_in(3) && *n != 0.0 => {
            let marker = *rng.pick(&["e", "E", "e+", "E+"]);
            out.push_str(&format!("{n:e}").replace('e', marker).replace("+-", "-"));
        }
        Value::String(s) => string(rng, s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                spell(rng, item, out);
            }
            ws(rng, out);
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                string(rng, k, out);
                ws(rng, out);
                out.push(':');
                spell(rng, item, out);
            }
            ws(rng, out);
            out.push('}');
        }
        other => out.push_str(&json::to_string(other)),
    }
    ws(rng, out);
}

/// Generated values: the writer's text is valid JSON to serde_json, reads back as the same data through
/// both parsers, and the writer's string literals are byte-identical to serde_json's.
#[test]
fn written_values_read_back_the_same_in_both_parsers() {
    let mut rng = Rng::for_test("written_values");
    let mut bad = Disagreements::default();
    for case in 0..cases(3000) {
        let v = rng.json_value(4);
        let text = json::to_string(&v);
        let expected = written_form(&v);
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(theirs) if same(&from_serde(&theirs), &expected) => {}
            other => bad.add(format!("case {case}: serde_json reads {text:?} as {other:?}")),
        }
        match json::parse(&text) {
            Ok(ours) if same(&ours, &expected) => {}
            other => bad.add(format!("case {case}: json::parse reads {text:?} as {other:?}")),
        }
        let s = rng.nasty_string(20);
        let ours = json::quoted(&s);
        let theirs = serde_json::to_string(&s).unwrap_or_default();
        if ours != theirs {
            bad.add(format!("case {case}: string {s:?} written as {ours} (serde_json: {theirs})"));
        }
    }
    bad.assert_none("the writer");
}

/// Valid texts in random spellings, then damaged ones: both parsers accept the same texts and read the
/// same data, except for lone surrogate escapes (U+FFFD here, an error for serde_json).
#[test]
fn spelled_and_damaged_texts_parse_like_serde_json() {
    let mut rng = Rng::for_test("spelled_and_damaged");
    let mut bad = Disagreements::default();
    let mut accepted = 0;
    for case in 0..cases(12_000) {
        let v = rng.json_value(3);
        let mut text = String::new();
        spell(&mut rng, &v, &mut text);
        if rng.one_in(8) {
            // Repeated keys: the later value wins, at the earlier position (serde_json's preserve_order too).
            text = format!("{{\"a\":{text},\"b\":1,\"a\":{}}}", json::to_string(&rng.json_value(1)));
        }
        if case % 3 != 0 {
            text = rng.mutate_some(&text);
        }
        let ours = json::parse(&text);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                accepted += 1;
                if !same(a, &from_serde(b)) {
                    bad.add(format!("case {case}: {text:?}: ours {a:?}, serde_json {b:?}"));
                }
            }
            (Err(_), Err(_)) => {}
            (Ok(a), Err(e)) => match lone_surrogates_replaced(&text) {
                // The documented difference: with the lone surrogates spelled as U+FFFD, serde_json agrees.
                Some(replaced) => match serde_json::from_str::<serde_json::Value>(&replaced) {
                    Ok(b) if same(a, &from_serde(&b)) => {}
                    other => bad.add(format!("case {case}: {text:?}: ours {a:?}, serde_json {e}, then {other:?}")),
                },
                None => bad.add(format!("case {case}: {text:?}: ours accepts {a:?}, serde_json: {e}")),
            },
            (Err(e), Ok(b)) => bad.add(format!("case {case}: {text:?}: ours refuses ({e}), serde_json reads {b:?}")),
        }
    }
    bad.assert_none("json::parse");
    assert!(accepted > 4000, "too few accepted texts ({accepted}): the generator is broken");
}

/// The documented difference, pinned: a lone surrogate escape is U+FFFD here and an error for serde_json.
#[test]
fn lone_surrogates_are_the_documented_difference() {
    for text in [r#""\ud800""#, r#""\udc00x""#, r#""\ud83d\u0041""#, r#"{"\udfff":1}"#] {
        assert!(json::to_string(&json::parse(text).expect(text)).contains('\u{FFFD}'), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
    }
    assert_eq!(json::parse(r#""\ud83d\ude00""#), Ok(Value::from("😀")));
}

/// Nesting around the limit: json::parse allows MAX_DEPTH (128) levels and refuses more, without overflowing
/// the stack; serde_json agrees except at exactly 128 levels, which it refuses (its limit counts one less).
#[test]
fn nesting_limit_matches_serde_json() {
    for depth in [1, 64, 127, 128, 129, 130, 5000] {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let text = format!("{}0{}", open.repeat(depth), close.repeat(depth));
            let ours = json::parse(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            assert_eq!(ours, depth <= json::MAX_DEPTH, "depth {depth} of {open}");
            assert_eq!(theirs, depth < 128, "serde_json at depth {depth} of {open}");
        }
    }
}
