//! Unigram tokenisation as in BytePiece: Viterbi decoding and (perfect) Viterbi
//! sampling over a compiled vocabulary blob (posts of 2023-09-16 and 2023-10-16).
//!
//! A vocabulary maps byte strings (pieces) to log-probabilities `v(w)`. A
//! segmentation `w = (w_1 … w_k)` of a byte string has score `S(w) = Σ v(w_i)`.
//!
//! * [`viterbi_decode`] — `argmax_w S(w)`, identical to BytePiece including its tie
//!   rule: at each end position the candidates are seen longest-first and the best
//!   is replaced only on a strictly greater `f64` score, so on an exact tie the
//!   longer last piece wins (post of 2023-09-16).
//! * [`viterbi_sample`] — the perfect sampler of the post of 2023-10-16: a running
//!   normaliser `Z[e] = Σ Z[s]·e^{α v}` and weighted-reservoir replacement of the
//!   route with probability `Z[s]·e^{α v} / Z[e]`; every segmentation is drawn with
//!   probability exactly `e^{α S(w)} / Σ_{w'} e^{α S(w')}`.
//! * [`viterbi_sample_legacy`] — the first post's pairwise-sigmoid sampler (accept a
//!   candidate with probability `σ(α (cand − best[e]))`), kept to show its bias.
//! * [`nbest`] — Subword Regularization (Kudo 2018): the k best segmentations and
//!   sampling `∝ P(w)^α` among them.
//! * [`exact`] — for short inputs: every segmentation with its probability, the
//!   log-partition function, forward–backward marginals and the entropy.
//!
//! Everything here is `no_std` and allocation-free: the vocabulary is a
//! [`Vocab`] view over a byte blob (validated once, then read zero-copy, so
//! firmware can keep it in flash with `include_bytes!`), scratch space is a
//! caller-owned [`Scratch`] and tokens are written into a caller-owned
//! `&mut [Token]`. With the `std` feature, `compile` turns a BytePiece `.model`
//! JSON into a blob and `text` does BytePiece's text handling (NFC, chunking).
//!
//! ```
//! use kexue_core::tokenizer::{viterbi_decode, Scratch, Token, Vocab};
//! # #[cfg(feature = "std")] {
//! use kexue_core::tokenizer::compile::compile_pieces;
//! // A toy vocabulary: counts per piece (all 256 single bytes are added with count 1).
//! let blob = compile_pieces(&[(b"ab".to_vec(), 3, 50), (b"abc".to_vec(), 4, 10)], true).unwrap();
//! let vocab = Vocab::from_blob(&blob).unwrap();
//! let (mut score, mut route) = ([0.0; 4], [0u32; 4]);
//! let mut scratch = Scratch::new(&mut score, &mut route);
//! let mut out = [Token::default(); 4];
//! let n = viterbi_decode(&vocab, b"abc", &mut scratch, &mut out).unwrap();
//! assert_eq!(&out[..n], &[Token { id: 4, start: 0, end: 3 }]);
//! # }
//! ```
//!
//! **Scratch memory**: every algorithm over an input of `n` bytes needs a
//! [`Scratch`] of capacity `n`, i.e. `n + 1` `f64` and `n + 1` `u32`:
//! [`Scratch::BYTES_PER_INPUT_BYTE`] = 12 bytes per input byte (plus 12). The
//! k-best search needs `k` times that ([`nbest::NBEST_BYTES_PER_INPUT_BYTE_PER_K`]),
//! forward–backward one more `f64` per byte.

mod blob;
mod decode;
pub mod exact;
pub mod nbest;
mod sample;

#[cfg(feature = "std")]
pub mod compile;
#[cfg(feature = "std")]
pub mod text;

pub use blob::{BLOB_MAGIC, BLOB_VERSION, PrefixMatch, PrefixMatches, Vocab};
pub use decode::{Scratch, viterbi_decode};
pub use sample::{
    FULL_TABLE_LEN, SamplingMode, SamplingTable, viterbi_sample, viterbi_sample_legacy,
    viterbi_sample_log,
};

/// One token of a segmentation: the piece id and its byte range `start..end` in
/// the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Token {
    /// The piece id (as in the model; BytePiece reserves 0, 1, 2 for specials).
    pub id: u32,
    /// First byte of the token in the input.
    pub start: u32,
    /// One past the last byte of the token in the input.
    pub end: u32,
}

impl Token {
    /// The token's byte range as `usize`s.
    #[must_use]
    pub fn range(&self) -> core::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The token's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// True for an empty range (never produced by the tokenizer).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// The longest input (in bytes) any function accepts: offsets are `u32`.
pub const MAX_INPUT_BYTES: usize = u32::MAX as usize - 1;

/// Longest piece the trie walk follows; the compiler rejects longer pieces.
pub const MAX_PIECE_BYTES: usize = u16::MAX as usize;

/// Errors of the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The blob is shorter than its header says (or than a header).
    Truncated {
        /// Bytes the header requires.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The blob does not start with [`BLOB_MAGIC`].
    BadMagic,
    /// The blob's format version is not [`BLOB_VERSION`].
    UnsupportedVersion(u32),
    /// The checksum over the blob's body does not match its header.
    ChecksumMismatch,
    /// The blob is structurally inconsistent (the text says what is wrong).
    CorruptBlob(&'static str),
    /// A caller buffer is too small.
    CapacityExceeded {
        /// Elements needed.
        needed: usize,
        /// Elements available.
        capacity: usize,
    },
    /// The input is longer than [`MAX_INPUT_BYTES`].
    InputTooLong {
        /// Input length in bytes.
        len: usize,
    },
    /// `α` must be finite and `≥ 0` (the text says which rule was broken).
    InvalidAlpha(&'static str),
    /// A sampling table was built for another vocabulary (its length differs).
    TableMismatch,
    /// An argument is out of its documented range.
    InvalidArgument(&'static str),
    /// Exact enumeration found more segmentations than the caller's limit.
    TooManySegmentations {
        /// The limit.
        limit: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated { needed, len } => {
                write!(f, "blob truncated: needs {needed} bytes, has {len}")
            }
            Self::BadMagic => write!(f, "not a kexue tokenizer blob (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported blob version {v}"),
            Self::ChecksumMismatch => write!(f, "blob checksum mismatch (corrupt blob)"),
            Self::CorruptBlob(why) => write!(f, "corrupt blob: {why}"),
            Self::CapacityExceeded { needed, capacity } => {
                write!(f, "capacity exceeded: need {needed}, have {capacity}")
            }
            Self::InputTooLong { len } => {
                write!(f, "input of {len} bytes exceeds {MAX_INPUT_BYTES}")
            }
            Self::InvalidAlpha(why) => write!(f, "invalid alpha: {why}"),
            Self::TableMismatch => write!(f, "sampling table does not belong to this vocabulary"),
            Self::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Self::TooManySegmentations { limit } => {
                write!(
                    f,
                    "more than {limit} segmentations (input too long to enumerate)"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

/// Check an input length against [`MAX_INPUT_BYTES`] and the scratch capacity.
pub(crate) fn check_input(len: usize, capacity: usize) -> Result<(), Error> {
    if len > MAX_INPUT_BYTES {
        return Err(Error::InputTooLong { len });
    }
    if len > capacity {
        return Err(Error::CapacityExceeded {
            needed: len,
            capacity,
        });
    }
    Ok(())
}

/// True if at least half of `text`'s bytes are ASCII: the scans that suit
/// English-like text (live walks by end position) are used then, those that
/// suit CJK text otherwise (both exact; only speed differs). Counts the high
/// bits eight bytes at a time.
#[inline]
pub(crate) fn mostly_ascii(text: &[u8]) -> bool {
    let (words, rest) = text.as_chunks::<8>();
    let high = words
        .iter()
        .map(|w| (u64::from_le_bytes(*w) & 0x8080_8080_8080_8080).count_ones() as usize)
        .sum::<usize>()
        + rest.iter().filter(|&&b| b >= 0x80).count();
    2 * high <= text.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mostly_ascii_counts_high_bytes_in_words_and_tail() {
        use super::mostly_ascii;
        assert!(mostly_ascii(b""));
        assert!(mostly_ascii(b"plain ascii text, longer than eight bytes"));
        // 3 CJK characters (9 high bytes) against 9 ASCII bytes: a tie is ASCII.
        assert!(mostly_ascii("今天好abcdefghi".as_bytes()));
        assert!(!mostly_ascii("今天好abcdefgh".as_bytes()));
        // High bytes only in the tail after the last full 8-byte word.
        assert!(!mostly_ascii(
            b"abcdefgh\xff\xff\xff\xff\xff\xff\xff\xff\xff"
        ));
        assert!(mostly_ascii(
            b"abcdefghijklmnopq\xff\xff\xff\xff\xff\xff\xff\xff"
        ));
    }
}
