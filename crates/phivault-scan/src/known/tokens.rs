//! The line walk of the known-value search: tokens (maximal runs of ASCII
//! letters and digits) found 64 bytes at a time from a bitmask, so that
//! token boundaries cost no mispredicted branch each; the ends of a token as
//! words for the prefilter hash; and the ring of recent token starts.

use super::MAX_TOKENS;

/// The tokens of a line as `(start, end)`, in order.
pub(super) struct Tokens<'a> {
    l: &'a [u8],
    /// Where the next 64 bytes to classify begin.
    base: usize,
    /// The edges of the current 64 bytes not yet visited.
    edges: u64,
    /// Start of the token being read.
    open: Option<usize>,
}

impl<'a> Tokens<'a> {
    pub(super) fn new(l: &'a [u8]) -> Self {
        Tokens {
            l,
            base: 0,
            edges: 0,
            open: None,
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        loop {
            while self.edges != 0 {
                // `base` is already past these 64 bytes.
                let at = self.base - 64 + self.edges.trailing_zeros() as usize;
                self.edges &= self.edges - 1;
                match self.open.take() {
                    None => self.open = Some(at),
                    Some(s) => return Some((s, at)),
                }
            }
            if self.base >= self.l.len() {
                // A token running to the end of a line of a multiple of 64
                // bytes has no edge after it.
                return self.open.take().map(|s| (s, self.l.len()));
            }
            let m = alnum_mask(self.l, self.base);
            // An edge where a byte's class differs from the one before it:
            // alternately a token's start and the byte after its end. Bytes
            // past the line are 0 in `m`, so a token that ends the line
            // ends there.
            self.edges = m ^ ((m << 1) | u64::from(self.open.is_some()));
            self.base += 64;
        }
    }
}

/// Bit `j` set when `l[base + j]` is an ASCII letter or digit (0 past the
/// line). Classified byte by byte without branches (the compiler compares
/// sixteen bytes at once), then gathered eight lanes per multiply.
#[inline(always)]
fn alnum_mask(l: &[u8], base: usize) -> u64 {
    let mut padded = [0u8; 64];
    let chunk: &[u8; 64] = match l.get(base..base + 64).and_then(|s| s.try_into().ok()) {
        Some(c) => c,
        None => {
            for (d, s) in padded.iter_mut().zip(l.get(base..).unwrap_or_default()) {
                *d = *s;
            }
            &padded
        }
    };
    let mut lanes = [0u8; 64];
    for (o, &b) in lanes.iter_mut().zip(chunk) {
        *o = u8::from((b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26));
    }
    // With lanes of 0 or 1, the top byte of `x * GATHER` holds lane `i` in
    // bit `i` (the partial products never overlap, so nothing carries).
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut m = 0u64;
    for (k, w) in lanes.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
        m |= (x.wrapping_mul(GATHER) >> 56) << (8 * k);
    }
    m
}

/// The first and the last eight bytes of the token `l[s..e]` as
/// little-endian words; a token shorter than eight bytes is zero-padded
/// (the same word twice), whatever follows it in `l`.
#[inline]
pub(super) fn ends(l: &[u8], s: usize, e: usize) -> (u64, u64) {
    let load = |at: usize| {
        l.get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    let n = e.saturating_sub(s);
    if n >= 8 {
        return (load(s).unwrap_or(0), load(e - 8).unwrap_or(0));
    }
    let w = load(s).unwrap_or_else(|| {
        let mut w = 0u64;
        for (i, b) in l.get(s..e).unwrap_or_default().iter().enumerate() {
            w |= u64::from(*b) << (8 * i);
        }
        w
    });
    let mask = if n == 0 { 0 } else { u64::MAX >> (8 * (8 - n)) };
    (w & mask, w & mask)
}

/// The starts of the last [`MAX_TOKENS`] tokens, `None` for a token no
/// known value begins with.
#[derive(Default)]
pub(super) struct Ring {
    starts: [Option<usize>; MAX_TOKENS],
    count: usize,
    /// `count` just after the last `Some` was pushed.
    last_some: usize,
}

impl Ring {
    #[inline(always)]
    pub(super) fn push(&mut self, start: Option<usize>) {
        if let Some(slot) = self.starts.get_mut(self.count % MAX_TOKENS) {
            *slot = start;
        }
        self.count += 1;
        if start.is_some() {
            self.last_some = self.count;
        }
    }

    /// Is a start among the last `back` tokens?
    #[inline(always)]
    pub(super) fn live(&self, back: usize) -> bool {
        self.count - self.last_some < back
    }

    /// The starts among the last `back` tokens (at most [`MAX_TOKENS`]),
    /// newest first.
    pub(super) fn starts(&self, back: usize) -> impl Iterator<Item = usize> + '_ {
        let back = back.min(self.count).min(MAX_TOKENS);
        (0..back).filter_map(move |k| {
            let idx = (self.count - 1 - k) % MAX_TOKENS;
            self.starts.get(idx).copied().flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(l: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < l.len() {
            if !l[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let s = i;
            while i < l.len() && l[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.push((s, i));
        }
        out
    }

    #[test]
    fn tokens_match_a_byte_walk() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        const BYTES: &[u8] = b"aZ09-_ .\x00\xc3\xa9@";
        for len in 0..300 {
            for _ in 0..20 {
                let l: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        BYTES[(seed >> 33) as usize % BYTES.len()]
                    })
                    .collect();
                let got: Vec<_> = Tokens::new(&l).collect();
                assert_eq!(got, naive(&l), "{l:?}");
            }
        }
    }

    #[test]
    fn ends_ignore_what_follows() {
        let a = b"abc-defghijklmnop";
        assert_eq!(ends(a, 0, 3), ends(b"abc", 0, 3));
        assert_eq!(ends(a, 4, 17), ends(b"defghijklmnop", 0, 13));
        assert_ne!(ends(a, 0, 3), ends(b"abd", 0, 3));
        let (h, t) = ends(b"0123456789", 0, 10);
        assert_eq!(h, u64::from_le_bytes(*b"01234567"));
        assert_eq!(t, u64::from_le_bytes(*b"23456789"));
    }
}
