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

/// The wasm build's own allocator (src/wasm/heap.rs) under mixed sizes, reallocation and reuse: every live
/// block keeps its contents while others come and go (a corrupted free list would overwrite them).
#[wasm_bindgen_test::wasm_bindgen_test]
fn heap_keeps_blocks_intact_under_mixed_allocation() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut live: Vec<(u8, Vec<u8>)> = Vec::new();
    for step in 0..20_000u32 {
        let roll = next();
        match roll % 10 {
            0..=4 => {
                let len = match roll % 7 {
                    0 => (next() % 200_000) as usize,
                    1 => (next() % 5_000) as usize,
                    _ => (next() % 64) as usize,
                };
                let tag = (step % 251) as u8;
                live.push((tag, vec![tag; len]));
            }
            5..=7 if !live.is_empty() => {
                let victim = (next() as usize) % live.len();
                live.swap_remove(victim);
            }
            _ if !live.is_empty() => {
                // Grow one in place or by moving (realloc across size classes).
                let i = (next() as usize) % live.len();
                let (tag, block) = &mut live[i];
                let extra = (next() % 3_000) as usize;
                block.extend(std::iter::repeat(*tag).take(extra));
            }
            _ => {}
        }
        if step % 1_000 == 0 || step == 19_999 {
            for (tag, block) in &live {
                assert!(block.iter().all(|b| b == tag), "a block was overwritten at step {step}");
            }
        }
    }
    let big = vec![7u8; 6 * 1024 * 1024];
    assert!(big.iter().all(|&b| b == 7));
    assert!(live.iter().all(|(tag, block)| block.iter().all(|b| b == tag)));
}
