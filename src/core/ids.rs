//! Fresh ids and jitter from caller-supplied entropy (the core draws no random numbers itself).

/// A fresh `response_id` as the Python SDK makes it: `uuid4().hex`, 32 lowercase hex characters, no dashes.
///
/// `entropy` must be 16 bytes from a cryptographic source (the bindings use `crypto.getRandomValues`).
/// The version (4) and variant (RFC 4122) bits are set here, so the result is a valid UUIDv4.
pub fn response_id_from_entropy(entropy: [u8; 16]) -> String {
    let mut bytes = entropy;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// A jitter factor in `[0, 1)` from 4 random bytes, for full-jitter backoff.
pub fn unit_interval(entropy: [u8; 4]) -> f64 {
    f64::from(u32::from_le_bytes(entropy)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_ids_are_uuid4_hex() {
        let id = response_id_from_entropy([0xff; 16]);
        assert_eq!(id, "ffffffffffff4fffbfffffffffffffff");
        let id = response_id_from_entropy([0; 16]);
        assert_eq!(id, "00000000000040008000000000000000");
        let id = response_id_from_entropy(*b"0123456789abcdef");
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(&id[12..13], "4");
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        assert_eq!(unit_interval([0; 4]), 0.0);
        let top = unit_interval([0xff; 4]);
        assert!(top < 1.0 && top > 0.999_999);
    }
}
