//! (`std`) BytePiece's text handling around the core algorithms: NFC
//! normalisation (with a fast path for text that is visibly NFC already),
//! BytePiece's chunking `.*\n+|.+`, the line modes of the golden contract, and
//! a reusable [`TextTokenizer`] that owns its scratch buffers.
//!
//! Modes (see `../shared/data/README.md`): `strip` splits the input on `\n`
//! only and tokenises each line without its `\n`; `keep` tokenises each line
//! with its `\n`; `chunk` is BytePiece's whole-document behaviour (a run of
//! newlines sticks to the line before); `raw` is `strip` without UTF-8
//! decoding and NFC (invalid UTF-8 is tokenised as bytes).

use std::borrow::Cow;
use std::boxed::Box;
use std::string::String;
use std::sync::OnceLock;
use std::vec::Vec;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::{Error, Scratch, Token};

/// How an input is split and normalised before tokenising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Lines split on `\n`, tokenised without it, NFC (the golden default).
    Strip,
    /// Lines split on `\n`, tokenised with it, NFC.
    Keep,
    /// BytePiece's chunks `.*\n+|.+` of the whole (NFC) document.
    Chunk,
    /// Lines split on `\n`, tokenised without it, raw bytes (no UTF-8, no NFC).
    Raw,
}

impl Mode {
    /// Parse `strip`, `keep`, `chunk` or `raw`.
    ///
    /// ```
    /// use kexue_core::tokenizer::text::Mode;
    /// assert_eq!(Mode::parse("raw"), Some(Mode::Raw));
    /// assert_eq!(Mode::parse("x"), None);
    /// ```
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "strip" => Some(Self::Strip),
            "keep" => Some(Self::Keep),
            "chunk" => Some(Self::Chunk),
            "raw" => Some(Self::Raw),
            _ => None,
        }
    }
}

/// Errors of text handling.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextError {
    /// The input is not valid UTF-8 at this byte offset (use raw mode to
    /// tokenise such input as bytes).
    InvalidUtf8 {
        /// Offset of the first invalid byte within the unit being tokenised.
        offset: usize,
    },
    /// The tokenizer failed.
    Tokenizer(Error),
}

impl core::fmt::Display for TextError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8 at byte {offset} (use raw bytes mode)")
            }
            Self::Tokenizer(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TextError {}

impl From<Error> for TextError {
    fn from(e: Error) -> Self {
        Self::Tokenizer(e)
    }
}

/// The units the input is tokenised in, per `mode`: lines without `\n`
/// (`Strip`, `Raw`), lines with it (`Keep`), or BytePiece chunks (`Chunk`).
/// A final `\n` does not start an extra (empty) line; an empty input has none.
///
/// ```
/// use kexue_core::tokenizer::text::{units, Mode};
/// let s = b"a\n\n\nb\nc";
/// assert_eq!(units(s, Mode::Strip).collect::<Vec<_>>(), [&b"a"[..], b"", b"", b"b", b"c"]);
/// assert_eq!(units(s, Mode::Keep).collect::<Vec<_>>(), [&b"a\n"[..], b"\n", b"\n", b"b\n", b"c"]);
/// assert_eq!(units(s, Mode::Chunk).collect::<Vec<_>>(), [&b"a\n\n\n"[..], b"b\n", b"c"]);
/// ```
pub fn units(input: &[u8], mode: Mode) -> impl Iterator<Item = &[u8]> {
    let mut rest = input;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let nl = memchr::memchr(b'\n', rest);
        let (unit, next) = match (nl, mode) {
            (None, _) => (rest, &[][..]),
            (Some(i), Mode::Strip | Mode::Raw) => (rest.get(..i)?, rest.get(i + 1..)?),
            (Some(i), Mode::Keep) => rest.split_at_checked(i + 1)?,
            (Some(i), Mode::Chunk) => {
                let run = rest.get(i..)?.iter().take_while(|&&b| b == b'\n').count();
                rest.split_at_checked(i + run)?
            }
        };
        rest = next;
        Some(unit)
    })
}

/// One bit per code point below U+20000: set when the code point is NFC
/// quick-check "yes" with canonical combining class 0 (16 KiB, built once).
/// Text made only of such characters is NFC already.
fn nfc_safe_bits() -> &'static [u64; 2048] {
    static TABLE: OnceLock<Box<[u64; 2048]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut bits = Box::new([0u64; 2048]);
        for cp in 0..0x2_0000u32 {
            let safe = char::from_u32(cp).is_some_and(|c| {
                unicode_normalization::char::canonical_combining_class(c) == 0
                    && is_nfc_quick(std::iter::once(c)) == IsNormalized::Yes
            });
            if safe && let Some(w) = bits.get_mut((cp / 64) as usize) {
                *w |= 1 << (cp % 64);
            }
        }
        bits
    })
}

/// True if `s` is certainly NFC by a byte scan: ASCII, or characters that are
/// each NFC "yes" with combining class 0 (CJK ideographs and punctuation,
/// Latin-1, Hangul syllables, …). False means "not known", not "not NFC".
///
/// ```
/// use kexue_core::tokenizer::text::is_nfc_fast;
/// assert!(is_nfc_fast("今天天气不错。「好」, café"));
/// assert!(!is_nfc_fast("cafe\u{301}"));
/// ```
#[must_use]
pub fn is_nfc_fast(s: &str) -> bool {
    let table = nfc_safe_bits();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let Some(chunk) = b.get(i..i + 8)
            && let Ok(w) = <[u8; 8]>::try_from(chunk)
            && u64::from_le_bytes(w) & 0x8080_8080_8080_8080 == 0
        {
            i += 8;
            continue;
        }
        let b0 = u32::from(b.get(i).copied().unwrap_or(0));
        let cont = |k: usize| u32::from(b.get(i + k).copied().unwrap_or(0) & 0x3f);
        let (cp, width) = if b0 < 0x80 {
            i += 1;
            continue;
        } else if b0 < 0xe0 {
            (((b0 & 0x1f) << 6) | cont(1), 2)
        } else if b0 < 0xf0 {
            (((b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
        } else {
            (
                ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
                4,
            )
        };
        let safe = table
            .get((cp / 64) as usize)
            .is_some_and(|w| w >> (cp % 64) & 1 == 1);
        if !safe {
            return false;
        }
        i += width;
    }
    true
}

/// NFC of `s`, borrowing when it is NFC already (checked by [`is_nfc_fast`],
/// then by the full quick check).
///
/// ```
/// use kexue_core::tokenizer::text::nfc;
/// assert_eq!(nfc("cafe\u{301}"), "caf\u{e9}");
/// assert!(matches!(nfc("plain"), std::borrow::Cow::Borrowed(_)));
/// ```
#[must_use]
pub fn nfc(s: &str) -> Cow<'_, str> {
    if is_nfc_fast(s) || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// Owns the scratch, token and normalisation buffers for tokenising many
/// units one after another (grown as needed, never shrunk).
#[derive(Debug, Default)]
pub struct TextTokenizer {
    score: Vec<f64>,
    route: Vec<u32>,
    tokens: Vec<Token>,
    norm: String,
}

impl TextTokenizer {
    /// Empty buffers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepare one unit: unless `raw`, check UTF-8 and NFC-normalise it; then
    /// call `run(text, scratch, out)` (e.g. a closure calling
    /// [`super::viterbi_decode`]) with buffers large enough for any
    /// segmentation. Returns the text that was tokenised and its tokens.
    ///
    /// # Errors
    /// [`TextError::InvalidUtf8`] for invalid UTF-8 when not `raw`; errors of `run`.
    ///
    /// ```
    /// # use kexue_core::tokenizer::{compile::compile_pieces, text::TextTokenizer, viterbi_decode, Vocab};
    /// let blob = compile_pieces(&[("é".as_bytes().to_vec(), 300, 100)], true).unwrap();
    /// let vocab = Vocab::from_blob(&blob).unwrap();
    /// let mut t = TextTokenizer::new();
    /// let (text, tokens) = t
    ///     .encode_with("e\u{301}".as_bytes(), false, |x, s, o| viterbi_decode(&vocab, x, s, o))
    ///     .unwrap();
    /// assert_eq!(text, "é".as_bytes());
    /// assert_eq!(tokens.len(), 1);
    /// // Invalid UTF-8 is an error at the first bad byte (here after "été"),
    /// // unless `raw`, which tokenises the bytes as they are.
    /// use kexue_core::tokenizer::text::TextError;
    /// let bad = b"\xc3\xa9t\xc3\xa9\xff!";
    /// let err = t.encode_with(bad, false, |x, s, o| viterbi_decode(&vocab, x, s, o));
    /// assert_eq!(err.unwrap_err(), TextError::InvalidUtf8 { offset: 5 });
    /// let (text, _) = t.encode_with(bad, true, |x, s, o| viterbi_decode(&vocab, x, s, o)).unwrap();
    /// assert_eq!(text, bad);
    /// ```
    pub fn encode_with<'a>(
        &'a mut self,
        unit: &'a [u8],
        raw: bool,
        run: impl FnOnce(&[u8], &mut Scratch<'_>, &mut [Token]) -> Result<usize, Error>,
    ) -> Result<(&'a [u8], &'a [Token]), TextError> {
        // ASCII is valid UTF-8 and NFC: one fast scan instead of two
        // (measured: 4.6 fewer instructions per byte on English text).
        let text: &[u8] = if raw || unit.is_ascii() {
            unit
        } else {
            // SIMD validation (simdutf8; on CJK text a tenth of the
            // instructions of `core::str::from_utf8`); the standard one only
            // to locate an error.
            let s = simdutf8::basic::from_utf8(unit).or_else(|_| {
                core::str::from_utf8(unit).map_err(|e| TextError::InvalidUtf8 {
                    offset: e.valid_up_to(),
                })
            })?;
            if is_nfc_fast(s) || is_nfc_quick(s.chars()) == IsNormalized::Yes {
                unit
            } else {
                self.norm.clear();
                self.norm.extend(s.nfc());
                self.norm.as_bytes()
            }
        };
        let n = text.len();
        if self.score.len() < n + 1 {
            self.score.resize(n + 1, 0.0);
            self.route.resize(n + 1, 0);
        }
        if self.tokens.len() < n {
            self.tokens.resize(n, Token::default());
        }
        let mut scratch = Scratch::new(&mut self.score, &mut self.route);
        let count = run(text, &mut scratch, &mut self.tokens)?;
        Ok((text, self.tokens.get(..count).unwrap_or_default()))
    }
}

/// Append the golden-contract hex of `tokens` over `text` to `out`: each
/// token's bytes as lowercase hex, tokens separated by one space (no newline).
///
/// ```
/// use kexue_core::tokenizer::{text::push_hex, Token};
/// let mut s = String::new();
/// push_hex(&mut s, b"ab", &[Token { id: 9, start: 0, end: 1 }, Token { id: 9, start: 1, end: 2 }]);
/// assert_eq!(s, "61 62");
/// ```
pub fn push_hex(out: &mut String, text: &[u8], tokens: &[Token]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (k, t) in tokens.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        for &b in text.get(t.range()).unwrap_or_default() {
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
}
