//! Turning a host value (a JavaScript value, in the bindings) into a [`Value`], or a coded error that names
//! the field.
//!
//! The rules are the core's, the traversal is the host's: the bindings implement [`HostValue`] for `JsValue`,
//! the tests implement it for a small fake. What JSON cannot carry is refused, never silently changed:
//! `NaN`/`Infinity` ([`TrackError::NonFiniteNumber`]), BigInt, functions, symbols, `undefined` inside arrays,
//! strings and object keys with an unpaired surrogate, and non-plain objects such as `Map` or `Date`
//! ([`TrackError::UnsupportedValue`]), structures that contain themselves ([`TrackError::CyclicValue`]) and
//! nesting deeper than [`MAX_DEPTH`] ([`TrackError::TooDeep`]). A read that throws (a getter, a revoked
//! `Proxy`) is [`TrackError::UnreadableValue`]. An object property whose value is `undefined` is skipped, as
//! `JSON.stringify` does.
//!
//! Containers are read lazily, one child at a time (an array's `length` then item by item; an object's keys
//! then key by key), and every import has a byte budget (`maxRecordBytes`): a lower bound of the encoded size
//! of what was read so far is kept, and the import stops with [`TrackError::ValueTooLarge`] as soon as it
//! passes the budget. A string is measured (its UTF-16 length, each unit at least one UTF-8 byte) before it is
//! copied, and an array of `n` elements costs at least `2n + 1` bytes before any element is read, so a 50 MB
//! string or a 9-million-element array is refused without copying it.
//!
//! Cycles are looked for only once the depth limit is reached or the budget runs out: a cyclic structure
//! always reaches one of them, and the common, acyclic case pays nothing for the check.

use crate::core::error::TrackError;
use crate::core::value::Value;

/// Deepest nesting accepted below the root (the root object is depth 0).
pub const MAX_DEPTH: usize = 64;

/// Most names accepted in one list of names (`anonymizeFields`, the ids given to `requeueDeadLetters`).
pub const MAX_LIST_NAMES: usize = 100_000;

/// Longest name accepted in a list of names, in UTF-16 code units (a response id has at most 255 characters).
pub const MAX_NAME_UNITS: usize = 1_024;

/// Longest string accepted where a short one is expected (service key, response id, customer key, timestamp,
/// option values), in UTF-16 code units: a longer one is refused before it is copied.
pub const MAX_SCALAR_UNITS: usize = 65_536;

/// Longest object key copied only to name it in an error path; a longer one is shown by its length.
const MAX_PATH_KEY_UNITS: usize = 256;

/// The most children reserved up front for a container (more are added as they are read).
const RESERVE_CHILDREN: usize = 1_024;

/// What a host value is. Nothing inside a container is read to tell it.
#[derive(Debug, Clone, PartialEq)]
pub enum HostKind {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    /// A string of `units` UTF-16 code units, not copied yet: [`HostValue::text`] copies it.
    String { units: usize },
    BigInt,
    Symbol,
    Function,
    /// An array of `len` elements, read with [`HostValue::item`].
    Array { len: usize },
    /// An object whose prototype is `Object.prototype` or `null`; its keys come from [`HostValue::keys`].
    PlainObject,
    /// Any other object (`Date`, `Map`, a class instance...); `name` is its constructor's name for messages.
    OtherObject { name: String },
}

/// Why the host could not read a value.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// Reading it threw (a getter, a revoked `Proxy`, a Proxy trap); `reason` describes what was thrown.
    Threw { reason: String },
    /// A string with an unpaired surrogate: it has no UTF-8 form. `lossy` is its text with U+FFFD in place of
    /// each unpaired surrogate, for messages only.
    BrokenString { lossy: String },
}

/// A value of the host language, as far as the core needs to see it. Every read may fail with a
/// [`HostError`]; none may throw or unwind.
pub trait HostValue: Sized {
    /// What the value is (for a container: not its children).
    fn classify(&self) -> Result<HostKind, HostError>;
    /// The text of a value [`HostValue::classify`] called a string.
    fn text(&self) -> Result<String, HostError>;
    /// Element `index` of a value classified as an array (a hole is `undefined`).
    fn item(&self, index: usize) -> Result<Self, HostError>;
    /// The own enumerable string keys of a plain object, in order: a host array of strings (read with
    /// [`HostValue::item`]) and its length.
    fn keys(&self) -> Result<(Self, usize), HostError>;
    /// `self[key]`, for a `key` read from [`HostValue::keys`].
    fn property(&self, key: &Self) -> Result<Self, HostError>;
    /// True when both are the same object (identity, not equality). Only called on the error path.
    fn same_identity(&self, other: &Self) -> bool;
}

/// A short description of what a value is, for messages: "a string", "an array", "a Map", "undefined".
pub fn describe(kind: &HostKind) -> String {
    match kind {
        HostKind::Undefined => "undefined".to_owned(),
        HostKind::Null => "null".to_owned(),
        HostKind::Bool(_) => "a boolean".to_owned(),
        HostKind::Number(_) => "a number".to_owned(),
        HostKind::String { .. } => "a string".to_owned(),
        HostKind::BigInt => "a bigint".to_owned(),
        HostKind::Symbol => "a symbol".to_owned(),
        HostKind::Function => "a function".to_owned(),
        HostKind::Array { .. } => "an array".to_owned(),
        HostKind::PlainObject => "a plain object".to_owned(),
        HostKind::OtherObject { name } => with_article(name),
    }
}

/// "a Map", "an object ...": the indefinite article English wants before `noun`.
fn with_article(noun: &str) -> String {
    let vowel = noun.chars().next().is_some_and(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u'));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Imports a value that must be a plain object (a usage, a context), within `max_bytes` of encoded JSON.
///
/// `root` names it in error paths ("usage", "context"). When the value is not a plain object, `not_object`
/// builds the error from a description of what was found; when even telling that threw, the error is
/// [`TrackError::UnreadableValue`] at `root`.
pub fn import_plain_object<H: HostValue>(
    value: &H,
    root: &str,
    max_bytes: usize,
    not_object: impl FnOnce(String) -> TrackError,
) -> Result<Value, TrackError> {
    let mut budget = Budget { max: max_bytes, used: 0 };
    match value.classify() {
        Ok(HostKind::PlainObject) => {
            let chain = Chain { value, parent: None };
            import_object(value, &chain, 0, &mut budget).map_err(|e| e.into_error(root, max_bytes))
        }
        Ok(other) => Err(not_object(describe(&other))),
        Err(error) => Err(Failure::host(error).into_error(root, max_bytes)),
    }
}

/// Imports any JSON-able value (an anonymizer's result) within `max_bytes` of encoded JSON. `root` names it
/// in error paths.
pub fn import_value<H: HostValue>(value: &H, root: &str, max_bytes: usize) -> Result<Value, TrackError> {
    let mut budget = Budget { max: max_bytes, used: 0 };
    let chain = Chain { value, parent: None };
    let kind = value.classify().map_err(|e| Failure::host(e).into_error(root, max_bytes))?;
    import_kind(value, kind, &chain, 0, &mut budget).map_err(|e| e.into_error(root, max_bytes))
}

/// Imports a list of names: an array of at most [`MAX_LIST_NAMES`] strings of at most [`MAX_NAME_UNITS`]
/// UTF-16 units each (`anonymizeFields`, the ids of `requeueDeadLetters`). `undefined` and `null` are the
/// empty list. A wrong shape is [`TrackError::InvalidOption`] for `option`; a read that throws is
/// [`TrackError::UnreadableValue`] at `path` (`options.anonymizeFields[2]`).
pub fn import_name_list<H: HostValue>(value: &H, option: &str, path: &str) -> Result<Vec<String>, TrackError> {
    let invalid = |reason: String| TrackError::InvalidOption { option: option.to_owned(), reason };
    let unreadable = |path: String, error: HostError| match error {
        HostError::Threw { reason } => TrackError::UnreadableValue { path, reason },
        HostError::BrokenString { .. } => TrackError::UnsupportedValue { path, kind: BROKEN_STRING.to_owned() },
    };
    let len = match value.classify().map_err(|e| unreadable(path.to_owned(), e))? {
        HostKind::Undefined | HostKind::Null => return Ok(Vec::new()),
        HostKind::Array { len } => len,
        other => return Err(invalid(format!("must be an array of strings, got {}", describe(&other)))),
    };
    if len > MAX_LIST_NAMES {
        return Err(invalid(format!("must hold at most {MAX_LIST_NAMES} names, got {len}")));
    }
    let mut names = Vec::with_capacity(len.min(RESERVE_CHILDREN));
    for i in 0..len {
        let at = || format!("{path}[{i}]");
        let item = value.item(i).map_err(|e| unreadable(at(), e))?;
        match item.classify().map_err(|e| unreadable(at(), e))? {
            HostKind::String { units } if units > MAX_NAME_UNITS => {
                return Err(invalid(format!("item {i} is longer than {MAX_NAME_UNITS} characters")));
            }
            HostKind::String { .. } => match item.text() {
                Ok(text) => names.push(text),
                Err(HostError::BrokenString { .. }) => {
                    return Err(invalid(format!("item {i} must be a string, got a {BROKEN_STRING}")));
                }
                Err(error) => return Err(unreadable(at(), error)),
            },
            other => return Err(invalid(format!("item {i} must be a string, got {}", describe(&other)))),
        }
    }
    Ok(names)
}

const BROKEN_STRING: &str = "string with an unpaired surrogate (invalid UTF-16)";
const BROKEN_KEY: &str = "object key with an unpaired surrogate (invalid UTF-16)";

/// A lower bound of the encoded size of what an import has read so far, against its limit.
struct Budget {
    max: usize,
    used: usize,
}

impl Budget {
    /// Counts `bytes` more; fails once the total passes the limit.
    fn charge(&mut self, bytes: usize) -> Result<(), Failure> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.max {
            return Err(Failure::new(Problem::TooLarge { at_least: self.used }));
        }
        Ok(())
    }

    /// Takes back `bytes` counted in advance (an array element's minimum, before the element itself is counted).
    fn credit(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }
}

/// The containers from the root down to the current one, kept on the stack for the cycle check.
struct Chain<'a, H> {
    value: &'a H,
    parent: Option<&'a Chain<'a, H>>,
}

impl<H: HostValue> Chain<'_, H> {
    /// When some container on the chain appears twice on it: the depth (root = 0) of the first container,
    /// counted from the root, that repeats one above it. The path to it is the path of the cycle.
    fn first_repeat_depth(&self) -> Option<usize> {
        let mut from_root = Vec::new();
        let mut node = Some(self);
        while let Some(n) = node {
            from_root.push(n.value);
            node = n.parent;
        }
        from_root.reverse();
        (1..from_root.len()).find(|&j| {
            from_root.get(j).is_some_and(|this| from_root.iter().take(j).any(|above| above.same_identity(this)))
        })
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

enum Problem {
    NonFinite,
    Unsupported(String),
    /// A cycle closes at this depth: the path is cut there.
    Cyclic { depth: usize },
    TooDeep,
    Unreadable(String),
    TooLarge { at_least: usize },
}

/// An import failure with the path collected while unwinding (innermost segment first).
struct Failure {
    problem: Problem,
    reversed_path: Vec<Segment>,
    cycle_checked: bool,
}

impl Failure {
    fn new(problem: Problem) -> Failure {
        Failure { problem, reversed_path: Vec::new(), cycle_checked: false }
    }

    /// A failed read of a value (not of a key).
    fn host(error: HostError) -> Failure {
        Failure::new(match error {
            HostError::Threw { reason } => Problem::Unreadable(reason),
            HostError::BrokenString { .. } => Problem::Unsupported(BROKEN_STRING.to_owned()),
        })
    }

    /// A budget failure whose chain of containers repeats one becomes the cycle it is. Only the innermost
    /// container checks (it sees the whole chain); the check runs once per failure.
    fn cycle_if_too_large<H: HostValue>(mut self, chain: &Chain<'_, H>) -> Failure {
        if matches!(self.problem, Problem::TooLarge { .. }) && !self.cycle_checked {
            self.cycle_checked = true;
            if let Some(depth) = chain.first_repeat_depth() {
                self.problem = Problem::Cyclic { depth };
            }
        }
        self
    }

    fn at(mut self, segment: Segment) -> Failure {
        self.reversed_path.push(segment);
        self
    }

    fn into_error(self, root: &str, max_bytes: usize) -> TrackError {
        let keep = match self.problem {
            Problem::Cyclic { depth } => depth,
            _ => self.reversed_path.len(),
        };
        let mut path = root.to_owned();
        for segment in self.reversed_path.iter().rev().take(keep) {
            match segment {
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
                Segment::Key(k) if is_identifier(k) => {
                    path.push('.');
                    path.push_str(k);
                }
                Segment::Key(k) => {
                    path.push('[');
                    crate::core::json::write_string(k, &mut path);
                    path.push(']');
                }
            }
        }
        match self.problem {
            Problem::NonFinite => TrackError::NonFiniteNumber { path },
            Problem::Unsupported(kind) => TrackError::UnsupportedValue { path, kind },
            Problem::Cyclic { .. } => TrackError::CyclicValue { path },
            Problem::TooDeep => TrackError::TooDeep { path, max_depth: MAX_DEPTH },
            Problem::Unreadable(reason) => TrackError::UnreadableValue { path, reason },
            Problem::TooLarge { at_least } => TrackError::ValueTooLarge { path, at_least, max_bytes },
        }
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Imports `value`, already classified as `kind`, counting its encoded size.
fn import_kind<H: HostValue>(
    value: &H,
    kind: HostKind,
    chain: &Chain<'_, H>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Failure> {
    match kind {
        HostKind::Null => budget.charge(4).map(|()| Value::Null),
        HostKind::Bool(b) => budget.charge(if b { 4 } else { 5 }).map(|()| Value::Bool(b)),
        HostKind::Number(n) if n.is_finite() => budget.charge(1).map(|()| Value::Number(n)),
        HostKind::Number(_) => Err(Failure::new(Problem::NonFinite)),
        HostKind::String { units } => {
            // Each UTF-16 unit is at least one UTF-8 byte, plus the quotes: checked before the copy.
            budget.charge(units.saturating_add(2))?;
            value.text().map(Value::String).map_err(Failure::host)
        }
        HostKind::Array { len } => import_array(value, len, chain, depth, budget),
        HostKind::PlainObject => import_object(value, chain, depth, budget),
        HostKind::Undefined => Err(Failure::new(Problem::Unsupported("undefined".to_owned()))),
        HostKind::BigInt => Err(Failure::new(Problem::Unsupported("bigint".to_owned()))),
        HostKind::Symbol => Err(Failure::new(Problem::Unsupported("symbol".to_owned()))),
        HostKind::Function => Err(Failure::new(Problem::Unsupported("function".to_owned()))),
        HostKind::OtherObject { name } => Err(Failure::new(Problem::Unsupported(name))),
    }
}

/// Imports a child, checking depth first for a container (and, past the limit, whether the cause is a cycle).
fn import_child<H: HostValue>(
    child: &H,
    kind: HostKind,
    parent: &Chain<'_, H>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Failure> {
    if !matches!(kind, HostKind::Array { .. } | HostKind::PlainObject) {
        return import_kind(child, kind, parent, depth, budget);
    }
    let chain = Chain { value: child, parent: Some(parent) };
    if depth > MAX_DEPTH {
        let problem = match chain.first_repeat_depth() {
            Some(depth) => Problem::Cyclic { depth },
            None => Problem::TooDeep,
        };
        return Err(Failure::new(problem));
    }
    // A cycle may pass the budget before it reaches the depth limit: said as a cycle, checked once (innermost).
    import_kind(child, kind, &chain, depth, budget).map_err(|failure| failure.cycle_if_too_large(&chain))
}

fn import_array<H: HostValue>(
    array: &H,
    len: usize,
    chain: &Chain<'_, H>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Failure> {
    // Brackets, commas and at least one byte per element (`undefined` is refused, holes too): a huge array
    // fails here, before any element is read.
    budget.charge(len.saturating_mul(2).saturating_add(1).max(2))?;
    let mut out = Vec::with_capacity(len.min(RESERVE_CHILDREN));
    for i in 0..len {
        budget.credit(1); // the element's minimum, counted above: the element now counts itself
        let item = array.item(i).map_err(|e| Failure::host(e).at(Segment::Index(i)))?;
        let kind = item.classify().map_err(|e| Failure::host(e).at(Segment::Index(i)))?;
        let value = import_child(&item, kind, chain, depth + 1, budget);
        out.push(value.map_err(|f| f.at(Segment::Index(i)))?);
    }
    Ok(Value::Array(out))
}

fn import_object<H: HostValue>(
    object: &H,
    chain: &Chain<'_, H>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, Failure> {
    budget.charge(2)?;
    let (keys, len) = object.keys().map_err(Failure::host)?;
    let mut out = Vec::with_capacity(len.min(RESERVE_CHILDREN));
    for i in 0..len {
        let key = keys.item(i).map_err(Failure::host)?;
        let Ok(HostKind::String { units }) = key.classify() else { continue }; // keys are strings
        let child = object.property(&key).map_err(|e| Failure::host(e).at(path_key(&key, units)))?;
        let kind = child.classify().map_err(|e| Failure::host(e).at(path_key(&key, units)))?;
        if matches!(kind, HostKind::Undefined) {
            continue; // as JSON.stringify does
        }
        // A comma before all but the first entry, the quoted key and a colon; measured before the key is copied.
        let comma = usize::from(!out.is_empty());
        budget.charge(units.saturating_add(3 + comma)).map_err(|f| f.at(path_key(&key, units)))?;
        let name = match key.text() {
            Ok(name) => name,
            Err(HostError::BrokenString { lossy }) => {
                return Err(Failure::new(Problem::Unsupported(BROKEN_KEY.to_owned())).at(Segment::Key(lossy)));
            }
            Err(error) => return Err(Failure::host(error).at(path_key(&key, units))),
        };
        match import_child(&child, kind, chain, depth + 1, budget) {
            Ok(value) => out.push((name, value)),
            Err(failure) => return Err(failure.at(Segment::Key(name))),
        }
    }
    Ok(Value::Object(out))
}

/// The path segment naming `key` in an error: its text when short enough to copy, else its length.
fn path_key<H: HostValue>(key: &H, units: usize) -> Segment {
    if units > MAX_PATH_KEY_UNITS {
        return Segment::Key(format!("<a key of {units} characters>"));
    }
    match key.text() {
        Ok(text) | Err(HostError::BrokenString { lossy: text }) => Segment::Key(text),
        Err(HostError::Threw { .. }) => Segment::Key("<an unreadable key>".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    thread_local! {
        /// Reads of children and string copies done by the fake host (the laziness tests count them).
        static READS: Cell<usize> = const { Cell::new(0) };
    }

    fn reads() -> usize {
        READS.with(Cell::get)
    }

    fn count_read() {
        READS.with(|r| r.set(r.get() + 1));
    }

    /// A fake host value: shared, mutable nodes so tests can build cycles, and lazy ones for huge inputs.
    #[derive(Clone)]
    enum Fake {
        Undefined,
        Null,
        Num(f64),
        Str(Rc<str>),
        /// A string with an unpaired surrogate, by its lossy text.
        Broken(Rc<str>),
        BigInt,
        Func,
        Sym,
        Date,
        /// Throws on any read, `Array.isArray` included (a revoked Proxy).
        Revoked,
        /// A property whose getter throws: reading it from its object fails.
        Getter,
        Arr(Rc<RefCell<Vec<Fake>>>),
        Obj(Rc<RefCell<Vec<(Fake, Fake)>>>),
        /// `new Array(n).fill(0)`, made element by element as it is read.
        Zeros(usize),
        /// An object of `n` keys `k0`, `k1`... each 0, made as it is read.
        Wide(usize),
        WideKeys(usize),
        /// A string of `n` UTF-16 units that is never there to copy.
        Long(usize),
    }

    fn s(text: &str) -> Fake {
        Fake::Str(Rc::from(text))
    }

    fn obj(entries: Vec<(&str, Fake)>) -> Fake {
        Fake::Obj(Rc::new(RefCell::new(entries.into_iter().map(|(k, v)| (s(k), v)).collect())))
    }

    fn arr(items: Vec<Fake>) -> Fake {
        Fake::Arr(Rc::new(RefCell::new(items)))
    }

    fn threw() -> HostError {
        HostError::Threw { reason: "boom".to_owned() }
    }

    fn key_text(key: &Fake) -> Option<Rc<str>> {
        match key {
            Fake::Str(t) | Fake::Broken(t) => Some(t.clone()),
            _ => None,
        }
    }

    impl HostValue for Fake {
        fn classify(&self) -> Result<HostKind, HostError> {
            Ok(match self {
                Fake::Undefined => HostKind::Undefined,
                Fake::Null => HostKind::Null,
                Fake::Num(n) => HostKind::Number(*n),
                Fake::Str(t) | Fake::Broken(t) => HostKind::String { units: t.encode_utf16().count() },
                Fake::Long(units) => HostKind::String { units: *units },
                Fake::BigInt => HostKind::BigInt,
                Fake::Func => HostKind::Function,
                Fake::Sym => HostKind::Symbol,
                Fake::Date => HostKind::OtherObject { name: "Date".to_owned() },
                Fake::Revoked | Fake::Getter => return Err(threw()),
                Fake::Arr(items) => HostKind::Array { len: items.borrow().len() },
                Fake::Zeros(len) => HostKind::Array { len: *len },
                Fake::WideKeys(len) => HostKind::Array { len: *len },
                Fake::Obj(_) | Fake::Wide(_) => HostKind::PlainObject,
            })
        }
        fn text(&self) -> Result<String, HostError> {
            count_read();
            match self {
                Fake::Str(t) => Ok(t.to_string()),
                Fake::Broken(t) => Err(HostError::BrokenString { lossy: t.to_string() }),
                _ => Err(threw()), // the laziness tests fail if a Long string is ever copied
            }
        }
        fn item(&self, index: usize) -> Result<Fake, HostError> {
            count_read();
            match self {
                Fake::Arr(items) => Ok(items.borrow().get(index).cloned().unwrap_or(Fake::Undefined)),
                Fake::Zeros(len) if index < *len => Ok(Fake::Num(0.0)),
                Fake::WideKeys(len) if index < *len => Ok(s(&format!("k{index}"))),
                _ => Ok(Fake::Undefined),
            }
        }
        fn keys(&self) -> Result<(Fake, usize), HostError> {
            match self {
                Fake::Obj(entries) => {
                    let keys: Vec<Fake> = entries.borrow().iter().map(|(k, _)| k.clone()).collect();
                    let len = keys.len();
                    Ok((arr(keys), len))
                }
                Fake::Wide(len) => Ok((Fake::WideKeys(*len), *len)),
                _ => Err(threw()),
            }
        }
        fn property(&self, key: &Fake) -> Result<Fake, HostError> {
            count_read();
            let found = match self {
                Fake::Obj(entries) => {
                    let entries = entries.borrow();
                    let entry = entries.iter().find(|(k, _)| key_text(k) == key_text(key));
                    entry.map(|(_, v)| v.clone()).unwrap_or(Fake::Undefined)
                }
                Fake::Wide(_) => Fake::Num(0.0),
                _ => return Err(threw()),
            };
            match found {
                Fake::Getter => Err(threw()),
                other => Ok(other),
            }
        }
        fn same_identity(&self, other: &Self) -> bool {
            match (self, other) {
                (Fake::Arr(a), Fake::Arr(b)) => Rc::ptr_eq(a, b),
                (Fake::Obj(a), Fake::Obj(b)) => Rc::ptr_eq(a, b),
                _ => false,
            }
        }
    }

    const MIB: usize = 1024 * 1024;

    fn usage_within(value: &Fake, max_bytes: usize) -> Result<Value, TrackError> {
        import_plain_object(value, "usage", max_bytes, |found| TrackError::InvalidUsage { found })
    }

    fn usage(value: &Fake) -> Result<Value, TrackError> {
        usage_within(value, MIB)
    }

    fn code_and_message(result: Result<Value, TrackError>) -> (String, String) {
        match result {
            Ok(_) => ("ok".to_owned(), String::new()),
            Err(e) => (e.code().to_owned(), e.to_string()),
        }
    }

    #[test]
    fn imports_nested_data_in_order_and_skips_undefined_properties() {
        let v = obj(vec![
            ("prompt_tokens", Fake::Num(19.0)),
            ("skip", Fake::Undefined),
            ("details", obj(vec![("cached", Fake::Null), ("list", arr(vec![s("a"), Fake::Num(1.5)]))])),
        ]);
        let expected = Value::object([
            ("prompt_tokens", Value::Number(19.0)),
            (
                "details",
                Value::object([
                    ("cached", Value::Null),
                    ("list", Value::Array(vec![Value::from("a"), Value::Number(1.5)])),
                ]),
            ),
        ]);
        assert_eq!(usage(&v), Ok(expected));
    }

    #[test]
    fn refuses_what_json_cannot_carry_and_names_the_field() {
        let cases: Vec<(Fake, &str, &str)> = vec![
            (obj(vec![("a", Fake::Num(f64::NAN))]), "E_NON_FINITE_NUMBER", "usage.a"),
            (obj(vec![("a", obj(vec![("b", Fake::Num(f64::INFINITY))]))]), "E_NON_FINITE_NUMBER", "usage.a.b"),
            (obj(vec![("n", Fake::BigInt)]), "E_UNSUPPORTED_VALUE", "usage.n"),
            (obj(vec![("f", Fake::Func)]), "E_UNSUPPORTED_VALUE", "usage.f"),
            (obj(vec![("s", Fake::Sym)]), "E_UNSUPPORTED_VALUE", "usage.s"),
            (obj(vec![("d", Fake::Date)]), "E_UNSUPPORTED_VALUE", "usage.d"),
            (obj(vec![("l", arr(vec![Fake::Num(1.0), Fake::Undefined]))]), "E_UNSUPPORTED_VALUE", "usage.l[1]"),
            (obj(vec![("a b", Fake::BigInt)]), "E_UNSUPPORTED_VALUE", "usage[\"a b\"]"),
            (obj(vec![("t", Fake::Broken(Rc::from("a\u{FFFD}")))]), "E_UNSUPPORTED_VALUE", "usage.t"),
        ];
        for (value, code, path) in cases {
            let (got_code, message) = code_and_message(usage(&value));
            assert_eq!(got_code, code, "{path}");
            assert!(message.starts_with(&format!("{path}:")), "{message} should start with {path}");
        }
    }

    #[test]
    fn non_objects_are_invalid_usage() {
        for (value, found) in [(s("x"), "a string"), (arr(vec![]), "an array"), (Fake::Undefined, "undefined"), (Fake::Date, "a Date")] {
            assert_eq!(usage(&value), Err(TrackError::InvalidUsage { found: found.to_owned() }));
        }
    }

    #[test]
    fn detects_cycles_and_tells_them_from_deep_nesting() {
        let root = obj(vec![("a", Fake::Num(1.0))]);
        if let Fake::Obj(entries) = &root {
            entries.borrow_mut().push((s("self"), root.clone()));
        }
        assert_eq!(usage(&root), Err(TrackError::CyclicValue { path: "usage.self".to_owned() }));

        let inner = obj(vec![("n", Fake::Num(1.0))]);
        let outer = obj(vec![("list", arr(vec![Fake::Null, inner.clone()]))]);
        if let Fake::Obj(entries) = &inner {
            entries.borrow_mut().push((s("back"), outer.clone()));
        }
        assert_eq!(usage(&outer), Err(TrackError::CyclicValue { path: "usage.list[1].back".to_owned() }));
        // Also when the budget runs out before the depth limit: a cycle is said as a cycle.
        assert_eq!(usage_within(&outer, 200), Err(TrackError::CyclicValue { path: "usage.list[1].back".to_owned() }));
        let before = reads();
        assert_eq!(usage_within(&root, 100), Err(TrackError::CyclicValue { path: "usage.self".to_owned() }));
        assert!(reads() - before < 50, "stopped at the budget, not at the depth limit");

        // The root is depth 0; a container deeper than MAX_DEPTH is refused.
        let mut deep = Fake::Num(1.0);
        for _ in 0..(MAX_DEPTH + 2) {
            deep = obj(vec![("x", deep)]);
        }
        assert_eq!(usage(&deep).map_err(|e| e.code()), Err("E_TOO_DEEP"));

        let mut ok = Fake::Num(1.0);
        for _ in 0..(MAX_DEPTH + 1) {
            ok = obj(vec![("x", ok)]);
        }
        assert!(usage(&ok).is_ok());
    }

    #[test]
    fn shared_but_acyclic_references_are_fine() {
        let shared = obj(vec![("t", Fake::Num(2.0))]);
        let v = obj(vec![("a", shared.clone()), ("b", arr(vec![shared.clone(), shared]))]);
        assert!(usage(&v).is_ok());
    }

    #[test]
    fn a_read_that_throws_is_unreadable_and_names_the_path() {
        let cases: Vec<(Fake, &str)> = vec![
            (Fake::Revoked, "usage"),
            (obj(vec![("a", arr(vec![Fake::Revoked]))]), "usage.a[0]"),
            (obj(vec![("a", arr(vec![Fake::Num(1.0), obj(vec![("g", Fake::Getter)])]))]), "usage.a[1].g"),
            (obj(vec![("r", Fake::Revoked)]), "usage.r"),
        ];
        for (value, path) in cases {
            assert_eq!(
                usage(&value),
                Err(TrackError::UnreadableValue { path: path.to_owned(), reason: "boom".to_owned() }),
                "{path}"
            );
        }
        let message = usage(&obj(vec![("a", arr(vec![Fake::Revoked]))])).err().map(|e| e.to_string());
        assert_eq!(message.as_deref(), Some("usage.a[0]: reading it threw: boom"));
    }

    #[test]
    fn a_key_with_an_unpaired_surrogate_is_refused_not_replaced() {
        // Two keys that would both become "a\u{FFFD}" if converted lossily: refused at the first.
        let entries = vec![(Fake::Broken(Rc::from("a\u{FFFD}")), Fake::Num(1.0)), (s("a\u{FFFD}"), Fake::Num(2.0))];
        let value = Fake::Obj(Rc::new(RefCell::new(entries)));
        let err = usage(&value).err();
        assert_eq!(err.as_ref().map(|e| e.code()), Some("E_UNSUPPORTED_VALUE"));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("usage[\"a\u{FFFD}\"]: "), "{message}");
        assert!(message.contains("unpaired surrogate"), "{message}");
        // A broken key whose value is undefined is skipped like any undefined property.
        let skipped = Fake::Obj(Rc::new(RefCell::new(vec![(Fake::Broken(Rc::from("\u{FFFD}")), Fake::Undefined)])));
        assert_eq!(usage(&skipped), Ok(Value::Object(Vec::new())));
    }

    #[test]
    fn the_budget_accepts_exactly_what_fits_so_its_bound_never_overcounts() {
        let values = [
            obj(vec![("a", Fake::Num(1.0)), ("b", Fake::Null), ("skip", Fake::Undefined), ("c", s("héllo \"x\" 😀"))]),
            obj(vec![("list", arr(vec![Fake::Num(123.25), arr(vec![]), obj(vec![]), s("")])), ("k y", Fake::Null)]),
            obj(vec![]),
        ];
        for value in values {
            let exact = usage(&value).map(|v| json::to_string(&v).len()).unwrap_or(0);
            assert!(exact >= 2);
            assert!(usage_within(&value, exact).is_ok(), "fits in its encoded size ({exact} bytes)");
        }
    }

    #[test]
    fn a_string_over_the_budget_is_refused_without_being_copied() {
        let before = reads();
        let value = obj(vec![("s", Fake::Long(50_000_000))]);
        let (code, message) = code_and_message(usage(&value));
        assert_eq!(code, "E_RECORD_TOO_LARGE");
        assert!(message.starts_with("usage.s: ") && message.contains("maxRecordBytes (1048576)"), "{message}");
        // Fake::Long has no text to copy: had the import tried, the error would be E_UNREADABLE_VALUE.
        assert_eq!(reads() - before, 3, "the key, its text and the property: nothing else");

        // Exactly at the budget: {"s":"xx…"} is 8 bytes around the string.
        let fits = obj(vec![("s", s(&"x".repeat(100)))]);
        assert!(usage_within(&fits, 108).is_ok());
        assert_eq!(code_and_message(usage_within(&fits, 107)).0, "E_RECORD_TOO_LARGE");
    }

    #[test]
    fn a_huge_array_is_refused_by_its_length_before_any_element_is_read() {
        let before = reads();
        let (code, message) = code_and_message(usage(&obj(vec![("a", Fake::Zeros(9_000_000))])));
        assert_eq!(code, "E_RECORD_TOO_LARGE");
        assert!(message.starts_with("usage.a: "), "{message}");
        assert_eq!(reads() - before, 3, "the key, its text and the property: no element was read");

        // An array just under the limit by its length is read element by element until the bound passes it.
        let before = reads();
        let len = MIB / 2 - 10;
        let (code, _) = code_and_message(usage(&obj(vec![("a", arr(vec![s(&"x".repeat(64)), Fake::Zeros(len)]))])));
        assert_eq!(code, "E_RECORD_TOO_LARGE");
        assert!(reads() - before < 10, "stopped at the nested array's length");
    }

    #[test]
    fn a_wide_object_is_read_key_by_key_and_stops_at_the_budget() {
        let before = reads();
        let (code, message) = code_and_message(usage(&obj(vec![("w", Fake::Wide(2_000_000))])));
        assert_eq!(code, "E_RECORD_TOO_LARGE");
        assert!(message.starts_with("usage.w"), "{message}");
        // Each entry "kN":0 costs at least 6 bytes: at most MIB / 6 entries (3 reads each) were read.
        let read = reads() - before;
        assert!(read <= 3 * (MIB / 6) + 10, "{read} reads");
        assert!(read > 1000, "{read} reads");
    }

    #[test]
    fn undefined_properties_cost_nothing() {
        let value = obj(vec![("a", Fake::Undefined), ("bb", Fake::Undefined), ("c", Fake::Num(1.0))]);
        // {"c":1} is 7 bytes.
        assert!(usage_within(&value, 7).is_ok());
    }

    #[test]
    fn lists_of_names() {
        let list = |v: &Fake| import_name_list(v, "anonymizeFields", "options.anonymizeFields");
        assert_eq!(list(&Fake::Undefined), Ok(Vec::new()));
        assert_eq!(list(&arr(vec![s("a"), s("b")])), Ok(vec!["a".to_owned(), "b".to_owned()]));
        let code = |r: Result<Vec<String>, TrackError>| r.map_err(|e| (e.code(), e.to_string()));
        assert_eq!(
            code(list(&arr(vec![s("a"), Fake::Revoked]))),
            Err(("E_UNREADABLE_VALUE", "options.anonymizeFields[1]: reading it threw: boom".to_owned()))
        );
        assert_eq!(
            code(list(&Fake::Revoked)),
            Err(("E_UNREADABLE_VALUE", "options.anonymizeFields: reading it threw: boom".to_owned()))
        );
        assert_eq!(code(list(&arr(vec![Fake::Num(1.0)]))).map_err(|e| e.0), Err("E_INVALID_OPTION"));
        assert_eq!(code(list(&arr(vec![Fake::Broken(Rc::from("x"))]))).map_err(|e| e.0), Err("E_INVALID_OPTION"));
        assert_eq!(code(list(&s("a"))).map_err(|e| e.0), Err("E_INVALID_OPTION"));
        let before = reads();
        assert_eq!(code(list(&Fake::Zeros(MAX_LIST_NAMES + 1))).map_err(|e| e.0), Err("E_INVALID_OPTION"));
        assert_eq!(reads(), before, "refused by its length");
        assert_eq!(code(list(&arr(vec![Fake::Long(MAX_NAME_UNITS + 1)]))).map_err(|e| e.0), Err("E_INVALID_OPTION"));
    }

    #[test]
    fn any_value_import_has_a_budget_too() {
        assert_eq!(import_value(&Fake::Long(10_000), "anonymizer result", 100).map_err(|e| e.code()), Err("E_RECORD_TOO_LARGE"));
        assert_eq!(import_value(&s("ok"), "anonymizer result", 100), Ok(Value::from("ok")));
        assert_eq!(
            import_value(&Fake::Revoked, "anonymizer result", 100).map_err(|e| e.to_string()),
            Err("anonymizer result: reading it threw: boom".to_owned())
        );
    }
}
