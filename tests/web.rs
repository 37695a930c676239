//! wasm-bindgen tests in headless Chromium: the real wasm `Tracker` delivering to the ingest server (over CORS).
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod wasm_support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

delivery_tests!(
    delivers_one_record,
    retries_server_errors,
    rejects_bad_input_without_sending,
    batch_is_anonymized_and_ordered,
    network_errors_retry_client_errors_do_not,
);
