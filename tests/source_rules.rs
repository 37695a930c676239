//! Rules about the source itself, checked on every test run:
//! - `src/core/` stays sans-IO: no JS bindings, no clock, no randomness, no I/O;
//! - nothing under `src/` can panic outside test code (a panic traps the wasm instance and the user's app).
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

/// The lines of a file before its first `#[cfg(test)]` (test modules sit at the end of each file).
fn non_test_lines(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .enumerate()
        .take_while(|(_, line)| !line.contains("#[cfg(test)]"))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(i, line)| (i + 1, line.to_owned()))
        .collect()
}

fn offenders(dir: &str, patterns: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = rust_files(&root);
    assert!(files.len() > 3, "expected Rust files under {dir}");
    let mut found = Vec::new();
    for file in files {
        for (number, line) in non_test_lines(&file) {
            for pattern in patterns {
                if line.contains(pattern) {
                    found.push(format!("{}:{number}: `{pattern}` in: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
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
