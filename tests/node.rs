//! wasm-bindgen tests in Node: the real wasm `Tracker` delivering to the ingest server.
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod wasm_support;

delivery_tests!(
    delivers_one_record,
    retries_server_errors,
    rejects_bad_input_without_sending,
    batch_is_anonymized_and_ordered,
    network_errors_retry_client_errors_do_not,
);
