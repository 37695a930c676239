//! aicostmanager-edge: usage and cost tracking for AI API calls, for edge runtimes.
//!
//! The crate has two halves:
//! - [`core`]: sans-IO and pure Rust. It builds, validates, anonymizes and encodes records and decides how
//!   delivery proceeds (what to send, when to retry, what a reply means). It never reads a clock, never draws
//!   random numbers and never performs I/O: time and entropy are arguments. It is tested natively.
//! - `wasm` (wasm32 only): thin bindings that plug `fetch`, the clock and `crypto.getRandomValues` into the
//!   core and expose the JavaScript API (`Tracker`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
