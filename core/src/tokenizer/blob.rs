//! The compiled vocabulary blob and its zero-copy, validating reader.
//!
//! # Format (version 3, all integers little-endian)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic [`BLOB_MAGIC`] |
//! | 8 | 4 | version [`BLOB_VERSION`] |
//! | 12 | 4 | `U`, number of trie units (a multiple of 256, `512 ≤ U ≤ 2^(32−B)`) |
//! | 16 | 4 | `I`, size of the id space (scores table length, `≤ 65536`) |
//! | 20 | 4 | number of pieces (terminal units) |
//! | 24 | 4 | longest piece in bytes (as compiled; `≤ MAX_PIECE_BYTES`) |
//! | 28 | 4 | `B`, the base shift of the units (`10 ≤ B ≤ 15`; the compiler writes 15 when `U ≤ 2^17`, else 10) |
//! | 32 | 8 | checksum: 64-bit FNV-1a over the body's 8-byte words |
//! | 40 | 24 | reserved, 0 |
//! | 64 | 6·U | unit records: the complemented piece id `!id` (`u16`; `0xffff` = not a piece), then the unit (`u32`) |
//! | 64 + 6U | 8·I | score per id in decreasing id order (`f64`; `−∞` for id 0 and ids that are not pieces): the score of id `i` is the 8 bytes that end `8·i` bytes before the blob's end |
//!
//! Version 3 differs from version 2 in the unit records (version 2: the unit,
//! then the id, uncomplemented; the base always at bit 10; an occupied flag)
//! and in the base shift field (reserved in version 2): an eight-byte load
//! that ends at a record's last byte holds the score index `!id` in bits
//! 16–31 and the unit in bits 32–63, whose top 17 bits are the child block
//! when `B = 15` and whose low byte is the label — one trie step is a shift,
//! an xor and a load, and its check one byte compare, with no mask and no
//! complement (cachegrind, English decode: 10 % fewer instructions per byte
//! than version 2). Version 2 differed from version 1 only in the order of
//! the scores. Older blobs are rejected with [`Error::UnsupportedVersion`] —
//! recompile the model.
//!
//! The trie is an XOR double array (as in darts-clone): the child of unit `n`
//! by byte `c` is unit `base(n) ^ c`, which is that child iff its label is
//! `c`. A unit is `label | terminal << 8 | base << B` (bits 9 to `B − 1` zero).
//! Every base is distinct among units with children, so the label identifies
//! the parent; an empty unit carries a label by which no walk reaches it (the
//! compiler picks, for an empty unit `i`, a label `L` such that `i ^ L` is the
//! base of no node — one always exists, see `compile`). Unit 0 is the root;
//! block 0 (units 0–255) holds no children, and no unit `c < 256` has the
//! label `c` (validated), so the dead walk's unit 0 (base 0) has no children;
//! units 256–511 form an always-empty block that leaves point to. A unit and
//! its id share one 6-byte record so that a trie step touches one cache line.

use super::Error;

/// The first 8 bytes of every blob.
pub const BLOB_MAGIC: [u8; 8] = *b"KXUNIGRM";
/// The blob format version this reader understands.
pub const BLOB_VERSION: u32 = 3;

pub(crate) const HEADER_BYTES: usize = 64;
/// A unit's terminal flag (it ends a piece).
pub(crate) const TERMINAL: u32 = 1 << 8;
/// The label and terminal bits of a unit.
pub(crate) const LOW_BITS: u32 = (1 << 9) - 1;
/// The smallest base shift (and the one the compiler builds with).
pub(crate) const BASE_SHIFT: u32 = 10;
/// The base shift of blobs with a [`Fast`] view.
pub(crate) const FAST_SHIFT: u32 = 15;
pub(crate) const MAX_UNITS: usize = 1 << 22;
pub(crate) const MAX_IDS: usize = 1 << 16;
/// Units 256..512: the empty block leaves point to.
#[cfg_attr(
    not(feature = "std"),
    expect(dead_code, reason = "used by the std-side compiler")
)]
pub(crate) const DEAD_BASE: u32 = 256;

/// 64-bit FNV-1a over 8-byte little-endian words (the blob checksum).
pub(crate) fn checksum(body: &[u8]) -> u64 {
    let (words, rest) = body.as_chunks::<8>();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in words {
        h = (h ^ u64::from_le_bytes(*w)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &b in rest {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ body.len() as u64
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A validated vocabulary: a zero-copy view over a compiled blob.
///
/// Construct with [`Vocab::from_blob`], which checks the whole blob once (size,
/// checksum, every unit and score); afterwards no lookup can fail or read out of
/// bounds, and every input byte string has at least one segmentation (all 256
/// single bytes are pieces with finite scores).
#[derive(Debug, Clone, Copy)]
pub struct Vocab<'a> {
    blob: &'a [u8],
    units: &'a [[u8; 6]],
    scores: &'a [[u8; 8]],
    n_pieces: usize,
    max_piece_len: usize,
    /// The base shift `B` of the units.
    shift: u32,
    min_score: f64,
    max_score: f64,
    /// The fixed-size views, if this vocabulary qualifies (set once in
    /// [`Vocab::from_blob`]).
    fast: Option<Fast<'a>>,
}

/// Units a [`Fast`] view covers: vocabularies of up to this many units (base
/// shift [`FAST_SHIFT`]) whose blob is at least `64 + 6·FAST_UNITS` bytes long
/// (the 40k BytePiece model: 92,928 units, 876,376 bytes) get the fast hot
/// loops.
pub(crate) const FAST_UNITS: usize = 1 << 17;

/// A walk's position in the trie as the hot loops carry it: the eight bytes
/// that end at the last byte of the unit's record, so the unit is bits 32–63
/// and the score index `!id` (see [`Steps::score_of_nid`]) bits 16–31; bits
/// 0–15 are not specified (the tail of the record before, in a [`Fast`] view).
pub(crate) type Node = u64;

/// The node of a dead walk: unit 0 (base 0, and no unit `c` of block 0 has
/// the label `c` — validated —, so it has no children and stays dead) and
/// score index `0xffff` (id 0, score −∞).
pub(crate) const DEAD: Node = 0xffff << 16;

/// The score index `!id` of a node (`0xffff`, id 0, if not a piece).
#[inline(always)]
pub(crate) fn nid(node: Node) -> u16 {
    (node as u32 >> 16) as u16
}

/// Fixed-size views of a validated blob for the hot loops, so that their
/// indices are in range by type and need no bounds check: a unit index is a
/// unit's top 17 bits (base shift [`FAST_SHIFT`]), xor a byte; a score index
/// is `!id` for a `u16` id (the scores are stored in decreasing id order at
/// the blob's end, so the last 2^16 · 8 bytes hold the score of id `i` at
/// entry `2^16 − 1 − i`). The views extend past the units into the scores, and
/// before the scores into the units; validation (every base below the unit
/// count, which is a multiple of 256, and every id below the id space)
/// guarantees that no walk selects one of those entries. Measured
/// (cachegrind, English): 13 % fewer instructions per byte in the
/// position-order scan than the checked `Vocab` lookups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fast<'a> {
    /// The unit records from two bytes before unit 0 (the header's last,
    /// reserved bytes), read eight bytes at a time: record `i`'s word is the
    /// eight bytes from `6·i`, its [`Node`].
    units: &'a [u8; 6 * FAST_UNITS + 2],
    /// The last 2^16 score records of the blob.
    scores: &'a [[u8; 8]; MAX_IDS],
    root: Node,
}

/// The trie steps and score lookups of the hot loops, over a [`Vocab`]
/// (checked indexing, any blob) or a [`Fast`] view (indices in range by type).
/// Both give identical results on a validated blob, up to a node's
/// unspecified low 16 bits, which nothing reads.
pub(crate) trait Steps: Copy {
    /// One trie step from `node` by byte `c`: `(child, score index, alive)`,
    /// `(DEAD, 0xffff, false)` when there is no such child (a dead walk stays
    /// dead). Branch-free by `select_unpredictable`: in the walk lists of
    /// `decode_active` and `sample_linear_young` a plain `if` became an
    /// unpredictable branch, and the earlier workaround (masking the id with
    /// an opaque zero) cost 9 instructions per byte more (cachegrind, English
    /// decode: 184.1 → 175.9 instructions per byte).
    #[inline(always)]
    fn step(&self, node: Node, c: u8) -> (Node, u16, bool) {
        let word = self.record(node, c);
        let ok = is_child(word, c);
        let word = core::hint::select_unpredictable(ok, word, DEAD);
        (word, nid(word), ok)
    }
    /// Walk on from `node` (the node that `text[start..from]` reached) along
    /// `text[from..stop]` while the walk stays inside the trie, calling
    /// `f(e, nid)` for every unit matched at `text[start..e]` (`e` increasing;
    /// score index `0xffff` for a unit that is not a piece). Returns the end
    /// of the walk (the first `e` whose step failed, or `stop`, clamped to
    /// `text.len()`). The walk of both start-order scans after their first
    /// step.
    #[inline(always)]
    fn walk_on(
        &self,
        mut node: Node,
        text: &[u8],
        from: usize,
        stop: usize,
        mut f: impl FnMut(usize, u16),
    ) -> usize {
        let mut e = from;
        for &c in text.get(from..stop.min(text.len())).unwrap_or_default() {
            let (word, nid, ok) = self.step(node, c);
            if !ok {
                break;
            }
            e += 1;
            f(e, nid);
            node = word;
        }
        e
    }
    /// The raw record at the child slot of `node` for byte `c`, as a [`Node`]
    /// (its label may differ from `c`: see [`is_child`]).
    fn record(&self, node: Node, c: u8) -> Node;
    /// The score of score index `nid = !id` (−∞ for `0xffff`, id 0, which no
    /// piece has).
    fn score_of_nid(&self, nid: u16) -> f64;
    /// The root's node.
    fn root(&self) -> Node;
}

/// Whether `word`, read at the child slot for byte `c`, is that child (its
/// label is `c`: empty units carry labels that no walk reaches them by).
#[inline(always)]
pub(crate) fn is_child(word: Node, c: u8) -> bool {
    (word >> 32) as u8 == c
}

impl Steps for Vocab<'_> {
    #[inline(always)]
    fn record(&self, node: Node, c: u8) -> Node {
        let idx = self.child_index((node >> 32) as u32, c);
        (u64::from(self.unit(idx)) << 32) | (u64::from(!self.id_at(idx)) << 16)
    }
    #[inline(always)]
    fn score_of_nid(&self, nid: u16) -> f64 {
        Vocab::score_of(self, !nid)
    }
    #[inline(always)]
    fn root(&self) -> Node {
        (u64::from(Vocab::root(self)) << 32) | (u64::from(!self.id_at(0)) << 16)
    }
}

impl<'b> Fast<'b> {
    /// A fast view of any validated `vocab` with base shift [`FAST_SHIFT`],
    /// built from copies padded to the view sizes (tests: lets small
    /// vocabularies run the fast loops).
    #[cfg(all(test, feature = "std"))]
    pub(crate) fn padded(
        vocab: &Vocab<'_>,
        store: &'b mut (std::vec::Vec<u8>, std::vec::Vec<[u8; 8]>),
    ) -> Self {
        assert_eq!(vocab.shift, FAST_SHIFT);
        let units = vocab.units.as_flattened();
        store.0 = std::vec![0; 6 * FAST_UNITS + 2];
        store.0[2..2 + units.len()].copy_from_slice(units);
        store.1 = std::vec![[0; 8]; MAX_IDS];
        let n = vocab.scores.len();
        store.1[MAX_IDS - n..].copy_from_slice(vocab.scores);
        Self {
            units: store.0.as_slice().try_into().unwrap(),
            scores: store.1.as_slice().try_into().unwrap(),
            root: Steps::root(vocab),
        }
    }
}

impl Steps for Fast<'_> {
    #[inline(always)]
    fn record(&self, node: Node, c: u8) -> Node {
        // The unit's top 17 bits are its base: in range by type, no mask.
        let idx = ((node >> (32 + FAST_SHIFT)) ^ u64::from(c)) as usize;
        let at = 6 * idx;
        self.units
            .get(at..at + 8)
            .and_then(|w| w.first_chunk::<8>())
            .map_or(DEAD, |w| u64::from_le_bytes(*w))
    }
    #[inline(always)]
    fn score_of_nid(&self, nid: u16) -> f64 {
        #[expect(clippy::indexing_slicing, reason = "a u16 index into 2^16 entries")]
        f64::from_le_bytes(self.scores[usize::from(nid)])
    }
    #[inline(always)]
    fn root(&self) -> Node {
        self.root
    }
}

/// One piece found by [`Vocab::common_prefix_search`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrefixMatch {
    /// Length of the piece in bytes (the prefix `text[..len]`).
    pub len: usize,
    /// Its id.
    pub id: u32,
    /// Its score `v = ln count − ln total`.
    pub score: f64,
}

/// Iterator over the pieces that are prefixes of a text, shortest first.
#[derive(Debug, Clone)]
pub struct PrefixMatches<'v, 't> {
    vocab: &'v Vocab<'v>,
    text: &'t [u8],
    node: u32,
    depth: usize,
}

impl Iterator for PrefixMatches<'_, '_> {
    type Item = PrefixMatch;

    fn next(&mut self) -> Option<PrefixMatch> {
        while let Some(&c) = self.text.get(self.depth) {
            if self.depth >= super::MAX_PIECE_BYTES {
                return None;
            }
            let idx = self.vocab.child_index(self.node, c);
            let unit = self.vocab.unit(idx);
            if unit as u8 != c {
                self.depth = self.text.len();
                return None;
            }
            self.node = unit;
            self.depth += 1;
            if unit & TERMINAL != 0 {
                let id = self.vocab.id_at(idx);
                return Some(PrefixMatch {
                    len: self.depth,
                    id: u32::from(id),
                    score: self.vocab.score_of(id),
                });
            }
        }
        None
    }
}

impl<'a> Vocab<'a> {
    /// Validate `blob` and view it as a vocabulary. One pass over the blob.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::ChecksumMismatch`] or [`Error::CorruptBlob`] for any blob not
    /// written by the compiler (truncated, corrupted or hostile bytes).
    pub fn from_blob(blob: &'a [u8]) -> Result<Self, Error> {
        if blob.len() < HEADER_BYTES {
            return Err(Error::Truncated {
                needed: HEADER_BYTES,
                len: blob.len(),
            });
        }
        if blob.get(..8) != Some(&BLOB_MAGIC[..]) {
            return Err(Error::BadMagic);
        }
        let version = read_u32(blob, 8);
        if version != BLOB_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let n_units = read_u32(blob, 12) as usize;
        let n_ids = read_u32(blob, 16) as usize;
        let n_pieces = read_u32(blob, 20) as usize;
        let max_piece_len = read_u32(blob, 24) as usize;
        let shift = read_u32(blob, 28);
        if blob.get(40..64).is_none_or(|r| r.iter().any(|&b| b != 0)) {
            return Err(Error::CorruptBlob("reserved header bytes are not zero"));
        }
        if !(BASE_SHIFT..=FAST_SHIFT).contains(&shift) {
            return Err(Error::CorruptBlob("base shift out of range"));
        }
        // 2^(32 − shift): the bases must fit above the shift.
        let max_units = MAX_UNITS >> (shift - BASE_SHIFT);
        if !(512..=max_units).contains(&n_units) || !n_units.is_multiple_of(256) {
            return Err(Error::CorruptBlob("unit count out of range"));
        }
        if !(256..=MAX_IDS).contains(&n_ids) {
            return Err(Error::CorruptBlob("id space out of range"));
        }
        if max_piece_len > super::MAX_PIECE_BYTES || max_piece_len == 0 {
            return Err(Error::CorruptBlob("longest piece out of range"));
        }
        // Cannot overflow: n_units ≤ 2^22, n_ids ≤ 2^16.
        let ids_end = HEADER_BYTES + 6 * n_units;
        let needed = ids_end + 8 * n_ids;
        if blob.len() < needed {
            return Err(Error::Truncated {
                needed,
                len: blob.len(),
            });
        }
        if blob.len() > needed {
            return Err(Error::CorruptBlob("trailing bytes after the scores"));
        }
        let body = blob.get(HEADER_BYTES..).unwrap_or_default();
        if checksum(body) != read_u64(blob, 32) {
            return Err(Error::ChecksumMismatch);
        }
        let units = blob
            .get(HEADER_BYTES..ids_end)
            .unwrap_or_default()
            .as_chunks::<6>()
            .0;
        let scores = blob
            .get(ids_end..needed)
            .unwrap_or_default()
            .as_chunks::<8>()
            .0;
        if units.len() != n_units || scores.len() != n_ids {
            return Err(Error::CorruptBlob("section sizes"));
        }
        if scores.last().map(|s| f64::from_le_bytes(*s)) != Some(f64::NEG_INFINITY) {
            return Err(Error::CorruptBlob("id 0 (no piece) must score −∞"));
        }
        // Scores: finite and ≤ 0 (log-probabilities), or −∞ for unused ids.
        for s in scores {
            let s = f64::from_le_bytes(*s);
            if s.is_nan() || s == f64::INFINITY || s > 0.0 {
                return Err(Error::CorruptBlob("a score is NaN, +∞ or positive"));
            }
        }
        let mut terminals = 0usize;
        let (mut min_score, mut max_score) = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, rec) in units.iter().enumerate() {
            let id = usize::from(!u16::from_le_bytes([rec[0], rec[1]]));
            let u = u32::from_le_bytes([rec[2], rec[3], rec[4], rec[5]]);
            if (u >> shift) as usize >= n_units {
                return Err(Error::CorruptBlob("a base points outside the units"));
            }
            if u & ((1 << shift) - 1) & !LOW_BITS != 0 {
                return Err(Error::CorruptBlob("a unit has bits set below its base"));
            }
            // A dead walk sits at unit 0 (base 0) and steps by `c` to unit
            // `c`: no label in block 0 may match, so that it stays dead however
            // often it is stepped (and the root, unit 0, is nobody's child).
            if i < 256 && (u & 0xff) as usize == i {
                return Err(Error::CorruptBlob(
                    "a unit of the root's block matches its byte",
                ));
            }
            if u & TERMINAL != 0 {
                let score = n_ids
                    .checked_sub(id + 1)
                    .and_then(|i| scores.get(i))
                    .map_or(f64::NAN, |s| f64::from_le_bytes(*s));
                if id == 0 || !score.is_finite() {
                    return Err(Error::CorruptBlob("a piece has no finite score"));
                }
                min_score = min_score.min(score);
                max_score = max_score.max(score);
                terminals += 1;
            } else if id != 0 {
                return Err(Error::CorruptBlob("a non-piece unit carries an id"));
            }
        }
        if terminals != n_pieces {
            return Err(Error::CorruptBlob("piece count differs from the header"));
        }
        let mut vocab = Self {
            blob,
            units,
            scores,
            n_pieces,
            max_piece_len,
            shift,
            min_score,
            max_score,
            fast: None,
        };
        // Every single byte must be a piece, so every input has a segmentation.
        let root = vocab.unit(0);
        for c in 0..=255u32 {
            let u = vocab.unit(vocab.child_index(root, c as u8));
            if u & 0xff != c || u & TERMINAL == 0 {
                return Err(Error::CorruptBlob("a single byte is not a piece"));
            }
        }
        vocab.fast = vocab.fast_views();
        Ok(vocab)
    }

    /// The blob this vocabulary views.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.blob
    }

    /// Number of pieces.
    #[must_use]
    pub fn piece_count(&self) -> usize {
        self.n_pieces
    }

    /// Size of the id space (largest id + 1); tables indexed by id have this length.
    #[must_use]
    pub fn id_space(&self) -> usize {
        self.scores.len()
    }

    /// Longest piece in bytes, as recorded by the compiler.
    #[must_use]
    pub fn max_piece_len(&self) -> usize {
        self.max_piece_len
    }

    /// Number of trie units (the blob has `64 + 6·units + 8·id_space` bytes).
    #[must_use]
    pub fn unit_count(&self) -> usize {
        self.units.len()
    }

    /// Smallest and largest piece score.
    #[must_use]
    pub fn score_range(&self) -> (f64, f64) {
        (self.min_score, self.max_score)
    }

    /// The score `v = ln count − ln total` of piece `id`, or `None` if `id` is
    /// not a piece.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use kexue_core::tokenizer::{compile::compile_pieces, Vocab};
    /// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 1)], true).unwrap();
    /// let vocab = Vocab::from_blob(&blob).unwrap();
    /// assert_eq!(vocab.lookup(b"ab"), Some(300));
    /// assert!(vocab.score(300).unwrap() < 0.0);
    /// assert_eq!(vocab.score(2), None);
    /// # }
    /// ```
    #[must_use]
    pub fn score(&self, id: u32) -> Option<f64> {
        let s = f64::from_le_bytes(*self.score_rec(usize::try_from(id).ok()?)?);
        s.is_finite().then_some(s)
    }

    /// The id of the piece equal to `piece`, if any.
    #[must_use]
    pub fn lookup(&self, piece: &[u8]) -> Option<u32> {
        self.common_prefix_search(piece)
            .find(|m| m.len == piece.len())
            .map(|m| m.id)
    }

    /// Every piece that is a prefix of `text`, shortest first (the trie walk of
    /// a `common_prefix_search`). No allocation.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use kexue_core::tokenizer::{compile::compile_pieces, Vocab};
    /// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5), (b"abc".to_vec(), 301, 5)], true).unwrap();
    /// let vocab = Vocab::from_blob(&blob).unwrap();
    /// let lens: Vec<usize> = vocab.common_prefix_search(b"abcd").map(|m| m.len).collect();
    /// assert_eq!(lens, [1, 2, 3]);
    /// # }
    /// ```
    #[must_use]
    pub fn common_prefix_search<'v, 't>(&'v self, text: &'t [u8]) -> PrefixMatches<'v, 't>
    where
        'a: 'v,
    {
        PrefixMatches {
            vocab: self,
            text,
            node: self.unit(0),
            depth: 0,
        }
    }

    /// Unit `idx` (0 if out of range, which validation rules out).
    #[inline(always)]
    pub(crate) fn unit(&self, idx: usize) -> u32 {
        self.units
            .get(idx)
            .map_or(0, |u| u32::from_le_bytes([u[2], u[3], u[4], u[5]]))
    }

    /// Piece id stored at unit `idx` (0 if it is not a piece).
    #[inline(always)]
    pub(crate) fn id_at(&self, idx: usize) -> u16 {
        self.units
            .get(idx)
            .map_or(0, |u| !u16::from_le_bytes([u[0], u[1]]))
    }

    /// The index of the child slot of `unit` for byte `c`: `base ^ c`.
    #[inline(always)]
    pub(crate) fn child_index(&self, unit: u32, c: u8) -> usize {
        // (shift ≤ 15 is validated; the mask keeps the shift in range by type.)
        ((unit >> (self.shift & 31)) ^ u32::from(c)) as usize
    }

    /// Score of id `id` (−∞ if out of range, which validation rules out).
    #[inline(always)]
    pub(crate) fn score_of(&self, id: u16) -> f64 {
        self.score_rec(usize::from(id))
            .map_or(f64::NEG_INFINITY, |s| f64::from_le_bytes(*s))
    }

    /// The score record of id `id` (scores are stored in decreasing id order).
    #[inline(always)]
    fn score_rec(&self, id: usize) -> Option<&'a [u8; 8]> {
        self.scores
            .len()
            .checked_sub(id.checked_add(1)?)
            .and_then(|i| self.scores.get(i))
    }

    /// The fixed-size views of the hot loops, if this vocabulary qualifies
    /// (at most [`FAST_UNITS`] units and a blob long enough, see [`Fast`]).
    #[inline(always)]
    pub(crate) fn fast(&self) -> Option<Fast<'a>> {
        self.fast
    }

    /// Build [`Vocab::fast`]'s views (once, in [`Vocab::from_blob`]).
    fn fast_views(&self) -> Option<Fast<'a>> {
        if self.shift != FAST_SHIFT || self.units.len() > FAST_UNITS {
            return None;
        }
        let units = self
            .blob
            .get(HEADER_BYTES - 2..HEADER_BYTES + 6 * FAST_UNITS)?
            .try_into()
            .ok()?;
        let scores = self
            .blob
            .get(self.blob.len().checked_sub(8 * MAX_IDS)?..)?
            .as_chunks::<8>()
            .0
            .try_into()
            .ok()?;
        Some(Fast {
            units,
            scores,
            root: Steps::root(self),
        })
    }

    /// The root unit.
    #[inline(always)]
    pub(crate) fn root(&self) -> u32 {
        self.unit(0)
    }

    /// Call `f(end, id)` for every piece `text[start..end]` (end increasing),
    /// walking the trie from `start`. The hot loop of every algorithm.
    #[inline(always)]
    pub(crate) fn for_each_piece_from(
        &self,
        text: &[u8],
        start: usize,
        mut f: impl FnMut(usize, u16),
    ) {
        let stop = text.len().min(start.saturating_add(super::MAX_PIECE_BYTES));
        let mut node = self.root();
        let mut pos = start;
        while pos < stop {
            let Some(&c) = text.get(pos) else { return };
            let idx = self.child_index(node, c);
            let unit = self.unit(idx);
            if unit as u8 != c {
                return;
            }
            pos += 1;
            if unit & TERMINAL != 0 {
                f(pos, self.id_at(idx));
            }
            node = unit;
        }
    }
}
