//! Sorting without the standard library's sorts, which cost about 3 KB of wasm per element type.

/// Sorts `v` in place by `less`: a heapsort, O(n log n) without allocating, and a few hundred wasm bytes
/// where the standard library's sorts cost about 3 KB.
pub fn sort_by<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let is_less = |v: &[T], a: usize, b: usize| matches!((v.get(a), v.get(b)), (Some(x), Some(y)) if less(x, y));
    // Moves the item at `node` down until neither child (below `end`) is larger.
    let sift_down = |v: &mut [T], mut node: usize, end: usize| loop {
        let mut child = 2 * node + 1;
        if child + 1 < end && is_less(v, child, child + 1) {
            child += 1;
        }
        if child >= end || !is_less(v, node, child) {
            break;
        }
        v.swap(node, child);
        node = child;
    };
    for node in (0..v.len() / 2).rev() {
        sift_down(v, node, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_the_standard_sort() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in [0, 1, 2, 3, 7, 64, 1000] {
            let mut v: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ((seed % 5) as u8, i) // many equal first keys
                })
                .collect();
            let mut expected = v.clone();
            expected.sort();
            sort_by(&mut v, |a, b| a < b);
            assert_eq!(v, expected, "length {len}");
        }
    }
}
