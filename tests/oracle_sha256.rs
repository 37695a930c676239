//! The hand-written SHA-256 (src/core/fingerprint.rs) against the `sha2` crate: every padding boundary,
//! random lengths and random splits of the input over `update` calls; and the store namespace built on it.
#![cfg(not(target_arch = "wasm32"))]

mod oracle_support;

use aicostmanager_edge::core::fingerprint::{hex, namespace, sha256, Sha256};
use oracle_support::{cases, Disagreements, Rng};
use sha2::Digest;

fn theirs(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[test]
fn digests_match_sha2_at_every_length_and_split() {
    let mut rng = Rng::for_test("sha256");
    let mut bad = Disagreements::default();
    let mut lengths: Vec<usize> = (0..=260).collect(); // every padding case of the first four blocks
    lengths.extend([447, 448, 511, 512, 513, 1000, 4095, 4096, 4097, 65_536, 1_000_003]);
    for _ in 0..cases(600) {
        lengths.push(rng.below(3000) as usize);
    }
    for (case, &len) in lengths.iter().enumerate() {
        let data: Vec<u8> = (0..len).map(|_| if rng.one_in(4) { *rng.pick(&[0x00, 0x80, 0xff]) } else { rng.next_u64() as u8 }).collect();
        let expected = theirs(&data);
        if sha256(&data) != expected {
            bad.add(format!("case {case}: sha256 of {len} bytes"));
        }
        // The same bytes fed in random pieces, empty pieces included.
        let mut hasher = Sha256::new();
        let mut rest = data.as_slice();
        while !rest.is_empty() {
            let most = if rng.one_in(2) { 8 } else { 200 };
            let take = (rng.below(most) as usize).min(rest.len());
            let (now, later) = rest.split_at(take);
            hasher.update(now);
            rest = later;
        }
        if hasher.finish() != expected {
            bad.add(format!("case {case}: sha256 of {len} bytes fed in pieces"));
        }
    }
    bad.assert_none("Sha256");
}

#[test]
fn hex_and_namespace_match_sha2() {
    let mut rng = Rng::for_test("namespace");
    for _ in 0..cases(300) {
        let (base, url, key) = (rng.nasty_string(30), rng.nasty_string(20), rng.nasty_string(60));
        let digest = theirs(format!("{base}\n{url}\n{key}").as_bytes());
        let expected_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&digest), expected_hex);
        assert_eq!(namespace(&base, &url, &key), format!("aicm/v1/{}/", &expected_hex[..16]), "{base:?} {url:?} {key:?}");
    }
}
