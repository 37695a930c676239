//! Delivery: getting records to `/track`, in every mode.
//!
//! This folder owns what a delivery decides and both delivery machines share. Today it holds [`reply`], the
//! one reply interpreter: what a `/track` outcome means for the records of the body it answers. The two
//! machines ([`crate::core::immediate`] and [`crate::core::outbox`]) act on its verdict alone and never read
//! a status, a body or a `Retry-After` themselves. (They, and [`crate::core::retry`], are to move in here.)
//!
//! It must not do I/O, read the clock or draw random numbers: time and jitter are arguments.

pub mod queue_consumer;
pub mod reply;
