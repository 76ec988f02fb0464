//! Byte patterns of JSON text found 16 positions at a time: where a UTF-16
//! surrogate escape may start, where a number may have an exponent, where a
//! container opens, where quotes and backslashes are.
//!
//! # Contract
//! - [`matches`] yields, in ascending order, every position `i` of `bytes`
//!   where the [`Pattern`] holds at `bytes[i..]` (bytes past the end never
//!   match), exactly as [`Pattern::at`] judges one position; nothing else.
//!   [`blocks`] marks the three [`Pattern::MARKED`] in one
//!   pass, a block of 64 positions at a time, with the same answers.
//! - On `x86_64` sixteen positions are judged by a few SSE2 instructions
//!   (part of the architecture's baseline, so no feature detection); the
//!   last few positions of a text, and every position elsewhere, by
//!   [`Pattern::at`]. Property tests hold the two to the same answers.
//! - Why by hand: the patterns are two and three bytes long, and in
//!   `ensure_ascii` text (Python's default) `\u` is a few bytes apart, so a
//!   substring search (memmem) checks a candidate every few bytes and costs
//!   several instructions a byte; this costs well under one. No crate offers
//!   a multi-byte pattern as a bit mask.
//! - [`has_byte`] finds a byte in a word of eight, for the word-at-a-time
//!   scans of strings in [`super::valid`].
//! - Non-goals: deciding anything about a [`matches`] match (is the
//!   backslash escaped, is it inside a string): callers do that at each
//!   position.

/// A `1` in every byte of a word.
pub const LOW: u64 = 0x0101_0101_0101_0101;
/// The top bit of every byte of a word.
pub const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether a byte of the word `w` is `byte`: the top bit of that byte set,
/// exact for the lowest such byte (bytes above a match may be marked too,
/// which only the lowest match read makes harmless).
#[inline(always)]
pub fn has_byte(w: u64, byte: u8) -> u64 {
    let x = w ^ (LOW * u64::from(byte));
    x.wrapping_sub(LOW) & !x & HIGH
}

/// What a scan looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `\u` then `d` or `D`: where a surrogate escape (`\uD800`-`\uDFFF`)
    /// may start.
    SurrogateEscape,
    /// An ASCII digit then `e` or `E`: where a number's exponent may start.
    DigitExponent,
    /// `[` or `{`: where an array or object may start.
    OpenBracket,
    /// `"`: where a string may start or end.
    Quote,
    /// `\\`: where an escape may start.
    Backslash,
}

impl Pattern {
    /// The patterns [`blocks`] marks (an output's check needs these three),
    /// in the order of [`Marks::masks`].
    pub const MARKED: [Pattern; 3] = [
        Pattern::SurrogateEscape,
        Pattern::DigitExponent,
        Pattern::OpenBracket,
    ];

    /// Whether the pattern holds at `bytes[i..]`.
    pub fn at(self, bytes: &[u8], i: usize) -> bool {
        match self {
            Pattern::SurrogateEscape => matches!(
                bytes.get(i..i + 3),
                Some([b'\\', b'u', c]) if c | 0x20 == b'd'
            ),
            Pattern::DigitExponent => matches!(
                bytes.get(i..i + 2),
                Some([d, e]) if d.is_ascii_digit() && e | 0x20 == b'e'
            ),
            Pattern::OpenBracket => matches!(bytes.get(i), Some(b'[' | b'{')),
            Pattern::Quote => bytes.get(i) == Some(&b'"'),
            Pattern::Backslash => bytes.get(i) == Some(&b'\\'),
        }
    }
}

/// Positions one block judges (a bit each of a `u64`).
const BLOCK: usize = 64;
/// Positions one SSE2 step judges.
const LANES: usize = 16;
/// Bytes one step of [`LANES`] positions reads: the patterns look two bytes
/// ahead at most.
const STEP_READ: usize = LANES + 2;

/// Every position where `pattern` holds, ascending (see the module docs).
pub fn matches(bytes: &[u8], pattern: Pattern) -> Matches<'_> {
    Matches {
        bytes,
        pattern,
        bits: Bits {
            at: 0,
            mask: block_mask(bytes, 0, pattern),
        },
    }
}

/// The iterator [`matches`] returns.
pub struct Matches<'a> {
    bytes: &'a [u8],
    pattern: Pattern,
    /// The current block's matches not yet yielded.
    bits: Bits,
}

impl Iterator for Matches<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if let Some(at) = self.bits.next() {
                return Some(at);
            }
            let at = self.bits.at + BLOCK;
            if at >= self.bytes.len() {
                return None;
            }
            self.bits = Bits {
                at,
                mask: block_mask(self.bytes, at, self.pattern),
            };
        }
    }
}

/// The positions one block's mask marks, ascending (bit `k`: `at + k`).
pub struct Bits {
    at: usize,
    mask: u64,
}

impl Iterator for Bits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        (self.mask != 0).then(|| {
            let k = self.mask.trailing_zeros() as usize;
            self.mask &= self.mask - 1;
            self.at + k
        })
    }
}

/// One block's matches of every pattern: the block's first position, and a
/// mask per pattern in [`Pattern::MARKED`]'s order (bit `k`: position `at + k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    pub at: usize,
    pub masks: [u64; 3],
}

impl Marks {
    /// The positions a mask marks, ascending (none for a pattern not in
    /// [`Pattern::MARKED`]).
    pub fn positions(&self, pattern: Pattern) -> Bits {
        let mask = Pattern::MARKED
            .iter()
            .position(|&p| p == pattern)
            .map_or(0, |k| self.masks[k]);
        Bits { at: self.at, mask }
    }
}

/// Every block of [`BLOCK`] positions with the matches of the three
/// [`Pattern::MARKED`] found in one pass (the bytes loaded once).
pub fn blocks(bytes: &[u8]) -> impl Iterator<Item = Marks> + '_ {
    (0..bytes.len()).step_by(BLOCK).map(|at| Marks {
        at,
        masks: block_masks(bytes, at, Pattern::MARKED),
    })
}

/// The matches of positions `at..at + BLOCK` (those in `bytes`), a bit each.
#[inline]
fn block_mask(bytes: &[u8], at: usize, pattern: Pattern) -> u64 {
    block_masks(bytes, at, [pattern])[0]
}

/// The matches of each pattern at positions `at..at + BLOCK` (those in
/// `bytes`), a bit each.
#[inline(always)]
fn block_masks<const N: usize>(bytes: &[u8], at: usize, patterns: [Pattern; N]) -> [u64; N] {
    let mut masks = [0u64; N];
    if at + BLOCK + STEP_READ - LANES <= bytes.len() {
        // A whole block: a fixed number of steps, no other test.
        for k in 0..BLOCK / LANES {
            let from = at + k * LANES;
            let steps = simd::step(&bytes[from..from + STEP_READ], patterns);
            for (mask, step) in masks.iter_mut().zip(steps) {
                *mask |= u64::from(step) << (k * LANES);
            }
        }
        return masks;
    }
    let end = (at + BLOCK).min(bytes.len());
    let mut from = at;
    while from + STEP_READ <= bytes.len() && from < end {
        let steps = simd::step(&bytes[from..from + STEP_READ], patterns);
        for (mask, step) in masks.iter_mut().zip(steps) {
            *mask |= u64::from(step) << (from - at);
        }
        from += LANES;
    }
    for i in from..end {
        for (mask, pattern) in masks.iter_mut().zip(patterns) {
            *mask |= u64::from(pattern.at(bytes, i)) << (i - at);
        }
    }
    masks
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{Pattern, STEP_READ};
    use std::arch::x86_64::*;

    /// The matches of each pattern at the first [`LANES`] positions of
    /// `window` ([`STEP_READ`] bytes), a bit each.
    #[inline(always)]
    pub(super) fn step<const N: usize>(window: &[u8], patterns: [Pattern; N]) -> [u16; N] {
        assert_eq!(window.len(), STEP_READ);
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available; each unaligned 16-byte load starts at
        // offset 0, 1 or 2 of `window`, which holds LANES + 2 bytes
        // (asserted), so it stays in bounds.
        unsafe {
            let p = window.as_ptr();
            let b0 = _mm_loadu_si128(p.cast());
            let b1 = _mm_loadu_si128(p.add(1).cast());
            let b2 = _mm_loadu_si128(p.add(2).cast());
            let eq = |v, c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let lower = |v| _mm_or_si128(v, _mm_set1_epi8(0x20));
            patterns.map(|pattern| {
                let hits = match pattern {
                    Pattern::SurrogateEscape => _mm_and_si128(
                        _mm_and_si128(eq(b0, b'\\'), eq(b1, b'u')),
                        eq(lower(b2), b'd'),
                    ),
                    Pattern::DigitExponent => {
                        // A digit: `b - '0'` (wrapping) is at most 9, unsigned.
                        let offset = _mm_sub_epi8(b0, _mm_set1_epi8(b'0' as i8));
                        let digit = _mm_cmpeq_epi8(_mm_min_epu8(offset, _mm_set1_epi8(9)), offset);
                        _mm_and_si128(digit, eq(lower(b1), b'e'))
                    }
                    Pattern::OpenBracket => _mm_or_si128(eq(b0, b'['), eq(b0, b'{')),
                    Pattern::Quote => eq(b0, b'"'),
                    Pattern::Backslash => eq(b0, b'\\'),
                };
                _mm_movemask_epi8(hits) as u16
            })
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::{Pattern, LANES};

    /// The matches of each pattern at the first [`LANES`] positions of
    /// `window`, a bit each, judged one position at a time.
    pub(super) fn step<const N: usize>(window: &[u8], patterns: [Pattern; N]) -> [u16; N] {
        patterns.map(|pattern| {
            (0..LANES)
                .filter(|&i| pattern.at(window, i))
                .fold(0, |mask, i| mask | 1 << i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERNS: [Pattern; 5] = [
        Pattern::SurrogateEscape,
        Pattern::DigitExponent,
        Pattern::OpenBracket,
        Pattern::Quote,
        Pattern::Backslash,
    ];

    /// What [`blocks`] marks, as positions per pattern.
    /// (Nothing for the patterns [`blocks`] does not mark.)
    fn marked(bytes: &[u8], pattern: Pattern) -> Vec<usize> {
        blocks(bytes)
            .flat_map(|m| m.positions(pattern).collect::<Vec<_>>())
            .collect()
    }

    /// What [`marked`] must say: [`naive`] for a marked pattern.
    fn marked_naive(bytes: &[u8], pattern: Pattern) -> Vec<usize> {
        match Pattern::MARKED.contains(&pattern) {
            true => naive(bytes, pattern),
            false => Vec::new(),
        }
    }

    fn naive(bytes: &[u8], pattern: Pattern) -> Vec<usize> {
        (0..bytes.len()).filter(|&i| pattern.at(bytes, i)).collect()
    }

    #[test]
    fn every_match_is_found_in_order_at_block_edges_too() {
        let mut text = Vec::new();
        for i in 0..70 {
            text.extend_from_slice(if i % 3 == 0 { b"\\ud83d[" } else { b"1e\\uD{" });
        }
        for start in 0..20 {
            for end in start..text.len().min(start + 150) {
                let part = &text[start..end];
                for pattern in PATTERNS {
                    assert_eq!(
                        matches(part, pattern).collect::<Vec<_>>(),
                        naive(part, pattern)
                    );
                    assert_eq!(marked(part, pattern), marked_naive(part, pattern));
                }
            }
        }
    }

    #[test]
    fn digits_and_letters_are_told_apart_at_the_edges_of_the_ranges() {
        // '/' and ':' border the digits; 'e' | 0x20 and 'E' | 0x20 are 'e',
        // and 'E' - 0x20 is '%', which must not match.
        let text = b"/e :e 0e 9E 5% 0f \\Ud \\ud \\uD \\u\xc4 x";
        let found: Vec<usize> = matches(text, Pattern::DigitExponent).collect();
        assert_eq!(found, vec![6, 9]);
        let found: Vec<usize> = matches(text, Pattern::SurrogateEscape).collect();
        assert_eq!(found, vec![22, 26]);
    }

    proptest::proptest! {
        #[test]
        fn the_block_scan_finds_what_judging_each_position_finds(
            bytes in proptest::collection::vec(proptest::sample::select(
                b"\\udDeE09/:a[{\x80\xff\"".to_vec()), 0..300),
        ) {
            for pattern in PATTERNS {
                proptest::prop_assert_eq!(
                    matches(&bytes, pattern).collect::<Vec<_>>(),
                    naive(&bytes, pattern)
                );
                proptest::prop_assert_eq!(marked(&bytes, pattern), marked_naive(&bytes, pattern));
            }
        }
    }
}
