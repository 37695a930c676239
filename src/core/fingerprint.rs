//! SHA-256 (FIPS 180-4), written out by hand, and the outbox namespace derived from it.
//!
//! The core has no dependencies, and hashing here is not a security boundary of its own: it only keeps the
//! API key out of the keys written to a store ([`namespace`]) while still telling two destinations apart.
//! It reads no clock and draws no randomness; the same input always gives the same digest.

/// The SHA-256 round constants: the first 32 bits of the fractional parts of the cube roots of the first
/// 64 primes.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The initial hash value: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
const H0: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// An incremental SHA-256: feed bytes with [`Sha256::update`] as they come, then [`Sha256::finish`].
#[derive(Debug, Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// Bytes of the current, incomplete block.
    block: [u8; 64],
    /// How many bytes of `block` are filled (always below 64 between calls).
    filled: usize,
    /// Message length so far, in bytes.
    length: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256 { state: H0, block: [0; 64], filled: 0, length: 0 }
    }
}

impl Sha256 {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `data`. Never fails; any length, in any number of calls.
    pub fn update(&mut self, data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        let mut rest = data;
        while !rest.is_empty() {
            let room = 64 - self.filled;
            let take = room.min(rest.len());
            let (now, later) = rest.split_at(take);
            if let Some(slot) = self.block.get_mut(self.filled..self.filled + take) {
                slot.copy_from_slice(now);
            }
            self.filled += take;
            rest = later;
            if self.filled == 64 {
                let block = self.block;
                compress(&mut self.state, &block);
                self.filled = 0;
            }
        }
    }

    /// The 32-byte digest of everything fed.
    pub fn finish(mut self) -> [u8; 32] {
        let bit_length = self.length.wrapping_mul(8);
        // Padding: a single 1 bit, zeros up to 56 bytes into a block, then the length in bits (big-endian).
        self.update_padding(&[0x80]);
        while self.filled != 56 {
            self.update_padding(&[0]);
        }
        self.update_padding(&bit_length.to_be_bytes());
        let mut digest = [0u8; 32];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }

    /// [`Self::update`] without counting the bytes into the message length.
    fn update_padding(&mut self, data: &[u8]) {
        let length = self.length;
        self.update(data);
        self.length = length;
    }
}

/// One 64-byte block into the state (FIPS 180-4 §6.2.2).
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, wt) in K.iter().zip(w) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(*k).wrapping_add(wt);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(data);
    hasher.finish()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// The store namespace of one destination: `"aicm/v1/<fingerprint>/"`, where the fingerprint is the first
/// 16 hex characters (64 bits) of SHA-256(`api_base + "\n" + api_url + "\n" + api_key`).
///
/// Call it once when a queue tracker is built, with the configured `apiBase`, `apiUrl` and key (an empty key
/// for a proxy tracker). The key itself is never written to a store, and cannot be recovered from the
/// namespace; a tracker with another key or endpoint gets another namespace, whose records it never drains
/// (upstream sent queued rows under whichever key drained them: wire-contract W-D3).
pub fn namespace(api_base: &str, api_url: &str, api_key: &str) -> String {
    let mut hasher = Sha256::new();
    // Separated, so that ("a", "bc") and ("ab", "c") are different destinations.
    hasher.update(api_base.as_bytes());
    hasher.update(b"\n");
    hasher.update(api_url.as_bytes());
    hasher.update(b"\n");
    hasher.update(api_key.as_bytes());
    let digest = hasher.finish();
    let mut ns = String::with_capacity(8 + 16 + 1);
    ns.push_str("aicm/v1/");
    ns.push_str(&hex(digest.get(..8).unwrap_or_default()));
    ns.push('/');
    ns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha_hex(data: &[u8]) -> String {
        hex(&sha256(data))
    }

    #[test]
    fn nist_vectors() {
        // FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the NIST SHAVS short/long messages.
        assert_eq!(sha_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            sha_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            sha_hex(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        assert_eq!(
            sha_hex(b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        );
    }

    #[test]
    fn incremental_equals_one_shot_at_every_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300] {
            let whole = sha256(&data[..len]);
            for split in [0, 1.min(len), len / 2, len.saturating_sub(1), len] {
                let mut h = Sha256::new();
                h.update(&data[..split]);
                h.update(&data[split..len]);
                assert_eq!(h.finish(), whole, "len {len} split {split}");
            }
            // Byte by byte.
            let mut h = Sha256::new();
            for b in &data[..len] {
                h.update(std::slice::from_ref(b));
            }
            assert_eq!(h.finish(), whole, "len {len} byte by byte");
        }
    }

    #[test]
    fn namespace_shape_and_value() {
        let ns = namespace("https://aicostmanager.com", "/api/v1", "sk-test");
        let expected = format!("aicm/v1/{}/", &sha_hex(b"https://aicostmanager.com\n/api/v1\nsk-test")[..16]);
        assert_eq!(ns, expected);
        assert_eq!(ns.len(), "aicm/v1/".len() + 16 + 1);
        assert!(!ns.contains("sk-test"));
        assert!(ns["aicm/v1/".len()..ns.len() - 1].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn namespace_differs_by_key_and_endpoint() {
        let base = namespace("https://aicostmanager.com", "/api/v1", "key-a");
        assert_eq!(base, namespace("https://aicostmanager.com", "/api/v1", "key-a"), "stable");
        assert_ne!(base, namespace("https://aicostmanager.com", "/api/v1", "key-b"));
        assert_ne!(base, namespace("https://staging.aicostmanager.com", "/api/v1", "key-a"));
        assert_ne!(base, namespace("https://aicostmanager.com", "/api/v2", "key-a"));
        assert_ne!(base, namespace("https://aicostmanager.com", "/api/v1", ""));
        assert_ne!(namespace("a", "bc", "k"), namespace("ab", "c", "k"), "the parts are separated");
    }
}
