//! The wasm32 bindings: they plug `fetch`, the clock, `setTimeout` and `crypto.getRandomValues` into the core
//! and expose the JavaScript API (`Tracker`). No policy lives here: every decision is the core's.
//!
//! Rules every file here follows:
//! - never hold a `RefCell` borrow while calling user JavaScript (getters, anonymizers, `fetch`), so that
//!   re-entrant calls cannot trap the instance;
//! - every response body is read, and no JS object outlives the call that created it (Workers rules);
//! - nothing runs at module scope: the clock, entropy and timers are touched only inside calls.

mod anonymizer;
mod cause;
mod cloudflare;
mod deliver;
mod errors;
mod guarded;
mod heap;
mod http;
mod js_value;
mod options;
mod platform;
mod queue;
mod results;
mod sink;
mod tracker;
mod tracker_queue;
mod tracker_handoff;

pub use tracker::Tracker;
