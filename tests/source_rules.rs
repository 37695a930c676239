//! Rules about the source itself, checked on every test run:
//! - `src/core/` stays sans-IO: no JS bindings, no clock, no randomness, no I/O;
//! - nothing under `src/` can panic outside test code (a panic traps the wasm instance and the user's app);
//! - in `src/wasm/`, user values are read only through `src/wasm/guarded.rs` (the js-sys calls that are not
//!   `catch` let a JS exception unwind through Rust frames).
//!
//! Whole files are checked, comments excepted, less their test items: a `#[cfg(test)]` (or `#![cfg(test)]`)
//! attribute and the item it applies to, found by a small lexer that knows comments, strings, raw strings
//! and char literals, so no decoy `#[cfg(test)]` in a comment or string hides anything. Files of a module
//! declared `#[cfg(test)] mod name;` are test code as a whole.
#![cfg(not(target_arch = "wasm32"))]

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Two views of a source text, byte for byte the same length and with the same newlines:
/// `checked` has comments blanked; `structure` also has the contents of string and char literals blanked.
struct Lexed {
    checked: Vec<u8>,
    structure: Vec<u8>,
}

fn lex(text: &str) -> Lexed {
    let bytes = text.as_bytes();
    let mut checked = bytes.to_vec();
    let mut structure = bytes.to_vec();
    let blank = |v: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut v[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| i + p);
            blank(&mut checked, i, end);
            blank(&mut structure, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < bytes.len() && depth > 0 {
                if bytes[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if bytes[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut checked, i, j);
            blank(&mut structure, i, j);
            i = j;
        } else if (rest.starts_with(b"r#") || rest.starts_with(b"r\"") || rest.starts_with(b"br")) && (i == 0 || !ident(bytes[i - 1])) {
            let start = i + if rest[0] == b'b' { 2 } else { 1 };
            let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
            if bytes.get(start + hashes) != Some(&b'"') {
                i += 1; // an identifier starting with r / br
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat(b'#').take(hashes)).collect();
            let body = start + hashes + 1;
            let end = bytes[body..].windows(close.len()).position(|w| w == close.as_slice()).map_or(bytes.len(), |p| body + p);
            blank(&mut structure, body, end);
            i = (end + close.len()).min(bytes.len());
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(bytes.len());
            blank(&mut structure, i + 1, end);
            i = end + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}', 'é') or a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(3).position(|&b| b == b'\'').map(|p| p + 4) // '\n', '\'', '\u{..}'
            } else {
                let c = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + c) == Some(&b'\'')).then_some(c + 2)
            };
            match len {
                Some(len) => {
                    blank(&mut structure, i + 1, i + len - 1);
                    i += len;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    Lexed { checked, structure }
}

/// Where the item after an attribute at `from` ends (exclusive): at a `;` outside brackets, or at the `}`
/// matching its first top-level `{`. Further attributes before the item are part of it.
fn item_end(structure: &[u8], from: usize) -> usize {
    let mut depth = 0i32;
    let mut i = from;
    while i < structure.len() {
        match structure[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' => {
                let mut braces = 0i32;
                while i < structure.len() {
                    match structure[i] {
                        b'{' => braces += 1,
                        b'}' => {
                            braces -= 1;
                            if braces == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                return structure.len();
            }
            b';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    structure.len()
}

/// A file's non-test code: `(line number, line)` with comments blanked and test items left out, plus the
/// names of modules declared `#[cfg(test)] mod name;` (test code in other files).
fn strip_tests(text: &str) -> (Vec<(usize, String)>, Vec<String>) {
    let Lexed { checked, structure } = lex(text);
    let structure_text = String::from_utf8_lossy(&structure).into_owned();
    if structure_text.contains("#![cfg(test)]") {
        return (Vec::new(), Vec::new());
    }
    let mut removed = vec![false; structure.len()];
    let mut test_modules = Vec::new();
    let mut search = 0;
    while let Some(found) = structure_text[search..].find("#[cfg(test)]") {
        let at = search + found;
        let after = at + "#[cfg(test)]".len();
        let end = item_end(&structure, after);
        let item = structure_text[after..end].trim();
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if let Some(name) = item.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            test_modules.push(name.trim().to_owned());
        }
        // Whole lines: from the attribute's line to the end of the item's last line.
        let line_start = structure_text[..at].rfind('\n').map_or(0, |p| p + 1);
        let line_end = structure_text[end..].find('\n').map_or(structure.len(), |p| end + p);
        removed[line_start..line_end].iter_mut().for_each(|r| *r = true);
        search = end.max(after);
    }
    let mut lines = Vec::new();
    let mut start = 0;
    for (number, line) in checked.split(|&b| b == b'\n').enumerate() {
        let end = start + line.len();
        if !removed.get(start).copied().unwrap_or(false) {
            let line = String::from_utf8_lossy(line).into_owned();
            if !line.trim().is_empty() {
                lines.push((number + 1, line));
            }
        }
        start = end + 1;
    }
    (lines, test_modules)
}

/// The non-test lines of every Rust file under `dir` (see [`strip_tests`]).
fn non_test_lines(dir: &Path) -> Vec<(PathBuf, Vec<(usize, String)>)> {
    let files = rust_files(dir);
    let mut stripped: Vec<(PathBuf, Vec<(usize, String)>)> = Vec::new();
    let mut test_paths: Vec<PathBuf> = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let (lines, modules) = strip_tests(&text);
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let parent = file.parent().unwrap_or(dir).to_path_buf();
        let base = if matches!(stem, "mod" | "lib" | "main") { parent } else { parent.join(stem) };
        for name in modules {
            test_paths.push(base.join(format!("{name}.rs")));
            test_paths.push(base.join(&name));
        }
        stripped.push((file, lines));
    }
    stripped.retain(|(file, _)| !test_paths.iter().any(|t| file.starts_with(t)));
    stripped
}

fn offenders_in(root: &Path, patterns: &[&str], skip: &[&str]) -> Vec<String> {
    let files = non_test_lines(root);
    assert!(files.len() > 3, "expected Rust files under {}", root.display());
    let mut found = Vec::new();
    for (file, lines) in files {
        if skip.iter().any(|s| file.ends_with(s)) {
            continue;
        }
        for (number, line) in lines {
            for pattern in patterns {
                if line.contains(pattern) {
                    found.push(format!("{}:{number}: `{pattern}` in: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
}

fn offenders(dir: &str, patterns: &[&str]) -> Vec<String> {
    offenders_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), patterns, &[])
}

#[test]
fn core_is_sans_io() {
    let forbidden = [
        "wasm_bindgen", "js_sys", "web_sys", "gloo", "SystemTime", "Instant::now", "getrandom", "rand::",
        "std::net", "std::fs", "std::thread", "std::env", "crate::wasm",
    ];
    let found = offenders("src/core", &forbidden);
    assert!(found.is_empty(), "src/core must stay sans-IO:\n{}", found.join("\n"));
}

#[test]
fn no_panics_outside_tests() {
    let forbidden = [".unwrap()", ".expect(", "panic!(", "unreachable!(", "todo!(", "unimplemented!("];
    let found = offenders("src", &forbidden);
    assert!(found.is_empty(), "panic sites outside tests:\n{}", found.join("\n"));
}

/// js-sys reads that are not `catch` imports: on a user's value (a revoked Proxy, a throwing getter) they
/// let a JS exception unwind through Rust frames. Outside `src/wasm/guarded.rs` they are forbidden
/// (values we built ourselves go through guarded.rs too, or use other APIs).
#[test]
fn user_values_are_read_through_guarded() {
    let forbidden = [
        "Array::is_array", "Object::keys", "Object::get_prototype_of", "Promise::resolve", "unchecked_ref::<Array>",
        "unchecked_into::<Array>", ": &Array =",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wasm");
    let found = offenders_in(&root, &forbidden, &["src/wasm/guarded.rs"]);
    assert!(found.is_empty(), "unguarded js-sys reads in src/wasm (use src/wasm/guarded.rs):\n{}", found.join("\n"));
}

/// The stripper itself: decoys in comments, strings, raw strings and char literals hide nothing; real test
/// items (modules, functions, declarations of test-only files) are left out with their whole bodies.
#[test]
fn stripper_leaves_out_only_real_test_items() {
    let text = r####"// #[cfg(test)] in a comment
/* a block comment /* nested #[cfg(test)] */ still a comment */
const DECOY: &str = "#[cfg(test)] mod x {";
const RAW: &str = r#"#[cfg(test)] mod y { "# ;
fn kept_1<'a>(s: &'a str) -> char { let _ = '{'; let _ = '"'; let _ = '\''; let _ = b'\\'; s.len(); '\u{7b}' }
#[cfg(test)]
mod tests {
    fn inner() { let s = "}"; let c = '}'; let r = r"}}"; let q = ['\'','{']; /* } */ // }
        TEST_ONLY_1.unwrap();
    }
}
fn kept_2() { AFTER_TESTS.unwrap(); }
#[cfg(test)]
#[allow(dead_code)]
pub(crate) fn helper() -> [u8; 2] {
    TEST_ONLY_2.unwrap();
    [0; 2]
}
#[cfg(test)]
mod declared;
#[cfg(test)] use TEST_ONLY_3;
fn kept_3() {} // #[cfg(test)]
"####;
    let (lines, modules) = strip_tests(text);
    let kept: Vec<&str> = lines.iter().map(|(_, l)| l.trim()).collect();
    let joined = kept.join("\n");
    for wanted in ["const DECOY", "const RAW", "fn kept_1", "fn kept_2() { AFTER_TESTS.unwrap(); }", "fn kept_3() {}"] {
        assert!(kept.iter().any(|l| l.starts_with(wanted)), "{wanted:?} is checked; kept:\n{joined}");
    }
    for test_only in ["TEST_ONLY", "mod tests", "fn inner", "fn helper", "mod declared", "[0; 2]"] {
        assert!(!joined.contains(test_only), "{test_only:?} is test code; kept:\n{joined}");
    }
    assert!(!joined.contains("comment") && !joined.contains("// #[cfg(test)]"), "comments are not checked:\n{joined}");
    assert_eq!(modules, ["declared"]);
    assert_eq!(lines.iter().find(|(_, l)| l.contains("kept_2")).map(|(n, _)| *n), Some(12), "line numbers are the file's");
    // An inner `#![cfg(test)]` makes the whole file test code.
    assert!(strip_tests("#![cfg(test)]\nfn f() { X.unwrap(); }\n").0.is_empty());
}

/// Every error code the core can produce (thrown or on a result) appears in the package's types, so TypeScript
/// users can switch on it.
#[test]
fn every_error_code_is_typed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let errors = fs::read_to_string(root.join("src/core/error.rs")).unwrap_or_default();
    let types = fs::read_to_string(root.join("pkg-template/index.d.ts")).unwrap_or_default();
    // The `=> "E_..."` arms of TrackError::code and DeliveryError::code.
    let codes: Vec<&str> = errors
        .split("=> \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|code| code.starts_with("E_"))
        .collect();
    assert!(codes.len() > 22, "found only {codes:?}");
    let missing: Vec<&&str> = codes.iter().filter(|code| !types.contains(&format!("\"{code}\""))).collect();
    assert!(missing.is_empty(), "codes missing from pkg-template/index.d.ts (AicmErrorCode, DeliveryFailure): {missing:?}");
}
