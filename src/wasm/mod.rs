//! wasm bindings (being written)
