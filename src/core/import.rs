//! Turning a host value (a JavaScript value, in the bindings) into a [`Value`], or a coded error that names
//! the field.
//!
//! The rules are the core's, the traversal is the host's: the bindings implement [`HostValue`] for `JsValue`,
//! the tests implement it for a small fake. What JSON cannot carry is refused, never silently changed:
//! `NaN`/`Infinity` ([`TrackError::NonFiniteNumber`]), BigInt, functions, symbols, `undefined` inside arrays
//! and non-plain objects such as `Map` or `Date` ([`TrackError::UnsupportedValue`]), structures that contain
//! themselves ([`TrackError::CyclicValue`]) and nesting deeper than [`MAX_DEPTH`] ([`TrackError::TooDeep`]).
//! An object property whose value is `undefined` is skipped, as `JSON.stringify` does.
//!
//! Cycles are looked for only once the depth limit is reached: a cyclic structure always reaches it, and the
//! common, acyclic case pays nothing for the check.

use crate::core::error::TrackError;
use crate::core::value::Value;

/// Deepest nesting accepted below the root (the root object is depth 0).
pub const MAX_DEPTH: usize = 64;

/// What a host value is, with its children when it is a container.
pub enum HostKind<H> {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    BigInt,
    Symbol,
    Function,
    Array(Vec<H>),
    /// An object whose prototype is `Object.prototype` or `null`, with its own enumerable string keys in order.
    PlainObject(Vec<(String, H)>),
    /// Any other object (`Date`, `Map`, a class instance...); `name` is its constructor's name for messages.
    OtherObject { name: String },
}

/// A value of the host language, as far as the core needs to see it.
pub trait HostValue: Sized {
    /// Classifies the value and, for containers, lists its children.
    fn classify(&self) -> HostKind<Self>;
    /// True when both are the same object (identity, not equality). Only called on the error path.
    fn same_identity(&self, other: &Self) -> bool;
}

/// A short description of what a value is, for messages: "a string", "an array", "a Map", "undefined".
pub fn describe<H>(kind: &HostKind<H>) -> String {
    match kind {
        HostKind::Undefined => "undefined".to_owned(),
        HostKind::Null => "null".to_owned(),
        HostKind::Bool(_) => "a boolean".to_owned(),
        HostKind::Number(_) => "a number".to_owned(),
        HostKind::String(_) => "a string".to_owned(),
        HostKind::BigInt => "a bigint".to_owned(),
        HostKind::Symbol => "a symbol".to_owned(),
        HostKind::Function => "a function".to_owned(),
        HostKind::Array(_) => "an array".to_owned(),
        HostKind::PlainObject(_) => "a plain object".to_owned(),
        HostKind::OtherObject { name } => with_article(name),
    }
}

/// "a Map", "an object ...": the indefinite article English wants before `noun`.
fn with_article(noun: &str) -> String {
    let vowel = noun.chars().next().is_some_and(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u'));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Imports a value that must be a plain object (a usage, a context).
///
/// `root` names it in error paths ("usage", "context"). When the value is not a plain object, `not_object`
/// builds the error from a description of what was found.
pub fn import_plain_object<H: HostValue>(
    value: &H,
    root: &str,
    not_object: impl FnOnce(String) -> TrackError,
) -> Result<Value, TrackError> {
    match value.classify() {
        HostKind::PlainObject(entries) => {
            let chain = Chain { value, parent: None };
            import_entries(entries, &chain, 0).map_err(|e| e.into_error(root))
        }
        other => Err(not_object(describe(&other))),
    }
}

/// Imports any JSON-able value (an anonymizer's result, a context). `root` names it in error paths.
pub fn import_value<H: HostValue>(value: &H, root: &str) -> Result<Value, TrackError> {
    let chain = Chain { value, parent: None };
    import_kind(value.classify(), &chain, 0).map_err(|e| e.into_error(root))
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
        (1..from_root.len()).find(|&j| from_root.iter().take(j).any(|above| above.same_identity(from_root[j])))
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
}

/// An import failure with the path collected while unwinding (innermost segment first).
struct Failure {
    problem: Problem,
    reversed_path: Vec<Segment>,
}

impl Failure {
    fn new(problem: Problem) -> Failure {
        Failure { problem, reversed_path: Vec::new() }
    }

    fn at(mut self, segment: Segment) -> Failure {
        self.reversed_path.push(segment);
        self
    }

    fn into_error(self, root: &str) -> TrackError {
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
        }
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn import_kind<H: HostValue>(kind: HostKind<H>, chain: &Chain<'_, H>, depth: usize) -> Result<Value, Failure> {
    match kind {
        HostKind::Null => Ok(Value::Null),
        HostKind::Bool(b) => Ok(Value::Bool(b)),
        HostKind::Number(n) if n.is_finite() => Ok(Value::Number(n)),
        HostKind::Number(_) => Err(Failure::new(Problem::NonFinite)),
        HostKind::String(s) => Ok(Value::String(s)),
        HostKind::Array(items) => import_items(items, chain, depth),
        HostKind::PlainObject(entries) => import_entries(entries, chain, depth),
        HostKind::Undefined => Err(Failure::new(Problem::Unsupported("undefined".to_owned()))),
        HostKind::BigInt => Err(Failure::new(Problem::Unsupported("bigint".to_owned()))),
        HostKind::Symbol => Err(Failure::new(Problem::Unsupported("symbol".to_owned()))),
        HostKind::Function => Err(Failure::new(Problem::Unsupported("function".to_owned()))),
        HostKind::OtherObject { name } => Err(Failure::new(Problem::Unsupported(name))),
    }
}

/// Imports a child container, checking depth first (and, past the limit, whether the cause is a cycle).
fn import_child<H: HostValue>(
    child: &H,
    kind: HostKind<H>,
    parent: &Chain<'_, H>,
    depth: usize,
) -> Result<Value, Failure> {
    if !matches!(kind, HostKind::Array(_) | HostKind::PlainObject(_)) {
        return import_kind(kind, parent, depth);
    }
    let chain = Chain { value: child, parent: Some(parent) };
    if depth > MAX_DEPTH {
        let problem = match chain.first_repeat_depth() {
            Some(depth) => Problem::Cyclic { depth },
            None => Problem::TooDeep,
        };
        return Err(Failure::new(problem));
    }
    import_kind(kind, &chain, depth)
}

fn import_items<H: HostValue>(items: Vec<H>, chain: &Chain<'_, H>, depth: usize) -> Result<Value, Failure> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let value = import_child(item, item.classify(), chain, depth + 1);
        out.push(value.map_err(|f| f.at(Segment::Index(i)))?);
    }
    Ok(Value::Array(out))
}

fn import_entries<H: HostValue>(
    entries: Vec<(String, H)>,
    chain: &Chain<'_, H>,
    depth: usize,
) -> Result<Value, Failure> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, child) in entries {
        let kind = child.classify();
        if matches!(kind, HostKind::Undefined) {
            continue; // as JSON.stringify does
        }
        match import_child(&child, kind, chain, depth + 1) {
            Ok(value) => out.push((key, value)),
            Err(failure) => return Err(failure.at(Segment::Key(key))),
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A fake host value: shared, mutable nodes so tests can build cycles.
    #[derive(Clone)]
    enum Fake {
        Undefined,
        Null,
        Num(f64),
        Str(&'static str),
        BigInt,
        Func,
        Sym,
        Date,
        Arr(Rc<RefCell<Vec<Fake>>>),
        Obj(Rc<RefCell<Vec<(String, Fake)>>>),
    }

    fn obj(entries: Vec<(&str, Fake)>) -> Fake {
        Fake::Obj(Rc::new(RefCell::new(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())))
    }

    fn arr(items: Vec<Fake>) -> Fake {
        Fake::Arr(Rc::new(RefCell::new(items)))
    }

    impl HostValue for Fake {
        fn classify(&self) -> HostKind<Self> {
            match self {
                Fake::Undefined => HostKind::Undefined,
                Fake::Null => HostKind::Null,
                Fake::Num(n) => HostKind::Number(*n),
                Fake::Str(s) => HostKind::String((*s).to_owned()),
                Fake::BigInt => HostKind::BigInt,
                Fake::Func => HostKind::Function,
                Fake::Sym => HostKind::Symbol,
                Fake::Date => HostKind::OtherObject { name: "Date".to_owned() },
                Fake::Arr(items) => HostKind::Array(items.borrow().clone()),
                Fake::Obj(entries) => HostKind::PlainObject(entries.borrow().clone()),
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

    fn usage(value: &Fake) -> Result<Value, TrackError> {
        import_plain_object(value, "usage", |found| TrackError::InvalidUsage { found })
    }

    #[test]
    fn imports_nested_data_in_order_and_skips_undefined_properties() {
        let v = obj(vec![
            ("prompt_tokens", Fake::Num(19.0)),
            ("skip", Fake::Undefined),
            ("details", obj(vec![("cached", Fake::Null), ("list", arr(vec![Fake::Str("a"), Fake::Num(1.5)]))])),
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
        ];
        for (value, code, path) in cases {
            let err = usage(&value).err().map(|e| (e.code(), e.to_string()));
            let (got_code, message) = err.unwrap_or_default();
            assert_eq!(got_code, code, "{path}");
            assert!(message.starts_with(&format!("{path}:")), "{message} should start with {path}");
        }
    }

    #[test]
    fn non_objects_are_invalid_usage() {
        for (value, found) in [(Fake::Str("x"), "a string"), (arr(vec![]), "an array"), (Fake::Undefined, "undefined"), (Fake::Date, "a Date")] {
            assert_eq!(usage(&value), Err(TrackError::InvalidUsage { found: found.to_owned() }));
        }
    }

    #[test]
    fn detects_cycles_and_tells_them_from_deep_nesting() {
        let root = obj(vec![("a", Fake::Num(1.0))]);
        if let Fake::Obj(entries) = &root {
            entries.borrow_mut().push(("self".to_owned(), root.clone()));
        }
        assert_eq!(usage(&root), Err(TrackError::CyclicValue { path: "usage.self".to_owned() }));

        let inner = obj(vec![("n", Fake::Num(1.0))]);
        let outer = obj(vec![("list", arr(vec![Fake::Null, inner.clone()]))]);
        if let Fake::Obj(entries) = &inner {
            entries.borrow_mut().push(("back".to_owned(), outer.clone()));
        }
        assert_eq!(usage(&outer), Err(TrackError::CyclicValue { path: "usage.list[1].back".to_owned() }));

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
}
