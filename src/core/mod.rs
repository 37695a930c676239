//! The sans-IO core of aicostmanager-edge.
//!
//! This module does **not** talk to the network, read the clock, draw random numbers or know about
//! JavaScript. Everything that varies comes in as an argument: `now_ms` (epoch milliseconds), entropy bytes
//! for fresh ids and jitter, and host values through the [`import::HostValue`] trait. Same input, same output.
//!
//! The pieces, in the order a record meets them:
//! - [`import`]: turns a host (JS) value into a [`value::Value`], rejecting what JSON cannot carry.
//! - [`anonymize`]: redacts named fields at any depth before anything is stored or sent.
//! - [`record`]: builds the wire record (`service_key`, `response_id`, `timestamp`, `payload`,
//!   `customer_key`, `context`) and encodes it exactly as the Python SDK does.
//! - [`batch`]: groups encoded records into `{"tracked": [...]}` bodies.
//! - [`retry`] and [`response`]: what an HTTP outcome means and when to try again.
//! - [`delivery`]: the one reply interpreter ([`delivery::reply`]) both delivery machines act on.
//! - [`immediate`]: the delivery state machine for `deliveryType: "immediate"`.
//! - [`error`]: every error a caller can see, each with a stable code.
//! - [`redact`]: keeps the API key out of every reason, result and dead letter.

pub mod anonymize;
pub mod batch;
pub mod capture;
pub mod config;
pub(crate) mod decimal;
pub mod delivery;
pub mod error;
pub mod fingerprint;
pub mod ids;
pub mod immediate;
pub mod import;
pub mod json;
pub mod outbox;
pub mod record;
pub mod redact;
pub mod response;
pub mod retry;
pub mod safe_url;
pub mod sort;
pub mod timestamp;
pub mod value;
