//! Timestamps. (Stub: being written.)
