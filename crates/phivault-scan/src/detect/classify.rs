//! The walk's sixteen-byte classification: which bytes of a line are
//! candidates (token starts where a validator may match, and `@`), and the
//! colon evidence for the IPv6 pass.
//!
//! Each lane sees the two bytes before it, the byte after it and the bytes
//! sixteen and seventeen after it, so the cheap rejections that used to run
//! per candidate (a digit in the middle of `1.2.3`, a capital not followed
//! by a lowercase letter, a lowercase word that cannot begin a URL scheme,
//! a token that cannot be seventeen characters long) are made for sixteen
//! bytes at once. Written byte by byte without branches so that the
//! compiler turns it into SSE2 compares (no `unsafe`, no intrinsics).

/// The bytes a lane is classified by, for sixteen consecutive positions
/// `i` of a line (zero outside the line).
pub(super) struct Lanes {
    /// `l[i - 2]`.
    p2: [u8; 16],
    /// `l[i - 1]`.
    p: [u8; 16],
    /// `l[i]`.
    c: [u8; 16],
    /// `l[i + 1]`.
    n: [u8; 16],
    /// `l[i + 16]`.
    c16: [u8; 16],
    /// `l[i + 17]`.
    c17: [u8; 16],
}

/// The sixteen bytes from `s` of a slice known to hold them.
#[inline(always)]
fn arr(l: &[u8], s: usize) -> [u8; 16] {
    l.get(s..s + 16)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .unwrap_or_default()
}

/// The sixteen bytes of `l` from `base - back` (`back` at most 2), zero
/// outside the line; `l` is at least sixteen bytes long, so bytes past
/// either end come from shifting its first or last sixteen.
#[inline(always)]
fn load16(l: &[u8], base: usize, back: usize) -> [u8; 16] {
    let n = l.len();
    match base.checked_sub(back) {
        Some(s) if s + 16 <= n => arr(l, s),
        Some(s) if s >= n => [0; 16],
        // 1 to 15 lanes past the end.
        Some(s) => (u128::from_le_bytes(arr(l, n - 16)) >> (8 * (s + 16 - n))).to_le_bytes(),
        None => (u128::from_le_bytes(arr(l, 0)) << (8 * (back - base))).to_le_bytes(),
    }
}

impl Lanes {
    /// The lanes for positions `base..base + 16` of `l`, which is at least
    /// sixteen bytes long and holds them.
    #[inline(always)]
    pub(super) fn at(l: &[u8], base: usize) -> Lanes {
        // Inside the line (all but the first and last two chunks): one
        // window holds every byte.
        if let Some(s) = base.checked_sub(2)
            && let Some(w) = l.get(s..s + 35)
        {
            return Lanes {
                p2: arr(w, 0),
                p: arr(w, 1),
                c: arr(w, 2),
                n: arr(w, 3),
                c16: arr(w, 18),
                c17: arr(w, 19),
            };
        }
        Lanes {
            p2: load16(l, base, 2),
            p: load16(l, base, 1),
            c: arr(l, base),
            n: load16(l, base + 1, 0),
            c16: load16(l, base + 16, 0),
            c17: load16(l, base + 17, 0),
        }
    }

    /// The lanes of a line shorter than sixteen bytes (zero-padded).
    #[inline(always)]
    pub(super) fn short(l: &[u8]) -> Lanes {
        let mut c = [0u8; 16];
        if let Some(d) = c.get_mut(..l.len()) {
            d.copy_from_slice(l);
        }
        let v = u128::from_le_bytes(c);
        Lanes {
            p2: (v << 16).to_le_bytes(),
            p: (v << 8).to_le_bytes(),
            c,
            n: (v >> 8).to_le_bytes(),
            c16: [0; 16],
            c17: [0; 16],
        }
    }
}

#[inline(always)]
fn digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

#[inline(always)]
fn upper(b: u8) -> bool {
    b.wrapping_sub(b'A') < 26
}

#[inline(always)]
fn lower(b: u8) -> bool {
    b.wrapping_sub(b'a') < 26
}

#[inline(always)]
fn alnum(b: u8) -> bool {
    digit(b) | ((b | 0x20).wrapping_sub(b'a') < 26)
}

/// Classifies sixteen positions. The high bit of lane `i` of each mask
/// describes position `i`:
/// - candidates: `@` (the middle of an email), and at a token start (after
///   a byte that is not an ASCII letter or digit):
///   - a digit that begins a number, not the tail of a longer one (not
///     after a digit and one of `.-/:`), for the numeric validators;
///   - a capital followed by a lowercase letter, for names and month-first
///     dates;
///   - `ht`, `ft`, `sf`, `ws`, `ww`, the only ways a URL scheme or `www.`
///     begins;
///   - a digit or capital followed by one, whose token may be a VIN: the
///     bytes sixteen and seventeen on are the end of a token. The tail of
///     a number and a capital not followed by a lowercase letter were
///     candidates only for this;
/// - the second colon of a `::`;
/// - a colon right after an ASCII letter or digit.
///
/// Every position the walk's [`super::walk`] candidate test can accept is
/// a candidate; the others fail it in its first cheap tests. Non-ASCII
/// bytes are in none of the ranges.
#[inline(always)]
pub(super) fn classify16(x: &Lanes) -> [u128; 3] {
    let mut cand = [0u8; 16];
    let mut double = [0u8; 16];
    let mut after = [0u8; 16];
    for i in 0..16 {
        let g = |a: &[u8; 16]| a.get(i).copied().unwrap_or(0);
        let (b2, q, b, nx, b16, b17) = (g(&x.p2), g(&x.p), g(&x.c), g(&x.n), g(&x.c16), g(&x.c17));
        let q_alnum = alnum(q);
        let tail = (q == b'.') | (q == b'-') | (q == b'/') | (q == b':');
        let number = digit(b) & !(tail & digit(b2));
        let word = upper(b) & lower(nx);
        // `h`, `f`, `s`, `w`: testing the second letter here costs more
        // than the walk's test of the few that are not schemes.
        let scheme = (b == b'h') | (b == b'f') | (b == b's') | (b == b'w');
        // A VIN's first two bytes are digits or capitals, its last is
        // alphanumeric and the byte after it is not: tested loosely (a
        // superset), one range each.
        let vin = (digit(b) | upper(b))
            & (nx.wrapping_sub(b'0') < 43)
            & !lower(nx)
            & (b16 >= b'0')
            & ((b17 | 0x20).wrapping_sub(b'a') >= 26)
            & !digit(b17);
        let colon = b == b':';
        if let Some(o) = cand.get_mut(i) {
            *o = u8::from(((number | word | scheme | vin) & !q_alnum) | (b == b'@')) << 7;
        }
        if let Some(d) = double.get_mut(i) {
            *d = u8::from(colon & (q == b':')) << 7;
        }
        if let Some(a) = after.get_mut(i) {
            *a = u8::from(colon & q_alnum) << 7;
        }
    }
    [cand, double, after].map(u128::from_le_bytes)
}
