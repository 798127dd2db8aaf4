//! (`std`) Compile a BytePiece `.model` JSON — `base64(piece) → [id, display,
//! count]` — into a vocabulary blob (format in [`super::Vocab`]'s module docs),
//! and read/write model files.
//!
//! Scores are `v(w) = ln count(w) − ln Σ counts` in `f64`, computed exactly as
//! BytePiece does (`np.log(count) − np.log(total)`, not `ln(count/total)`, which
//! differs in the last bit for some pieces and changes outputs).

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use base64::Engine as _;

use super::blob::{
    BASE_SHIFT, BLOB_MAGIC, BLOB_VERSION, DEAD_BASE, FAST_SHIFT, FAST_UNITS, HEADER_BYTES, MAX_IDS,
    MAX_UNITS, TERMINAL, checksum,
};

/// Errors of model loading and compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileError {
    /// Reading or writing a file failed.
    Io(String),
    /// The model is not valid JSON of the expected shape (the text says where).
    Format(String),
    /// The vocabulary cannot be compiled (duplicate pieces or ids, an id out of
    /// range, an empty or over-long piece, a zero count, too many units).
    Invalid(String),
    /// A compiled blob failed validation.
    Blob(super::Error),
}

impl core::fmt::Display for CompileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Format(e) => write!(f, "bad model file: {e}"),
            Self::Invalid(e) => write!(f, "cannot compile vocabulary: {e}"),
            Self::Blob(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// One entry of a BytePiece model: piece bytes, id, count.
pub type CountedPiece = (Vec<u8>, u32, u64);

/// Parse a BytePiece `.model` JSON into `(piece, id, count)` entries, sorted by id.
///
/// # Errors
/// [`CompileError::Format`] if the JSON or base64 is malformed or an entry is
/// not `[id, display, count]` with non-negative integer id and count.
///
/// ```
/// use kexue_core::tokenizer::compile::parse_bytepiece_json;
/// let p = parse_bytepiece_json(br#"{"YWI=": [3, "ab", 7]}"#).unwrap();
/// assert_eq!(p, vec![(b"ab".to_vec(), 3, 7)]);
/// ```
pub fn parse_bytepiece_json(json: &[u8]) -> Result<Vec<CountedPiece>, CompileError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| CompileError::Format(e.to_string()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| CompileError::Format("top level is not an object".into()))?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(obj.len());
    for (key, entry) in obj {
        let piece = engine
            .decode(key)
            .map_err(|e| CompileError::Format(format!("key {key:?}: {e}")))?;
        let arr = entry
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| CompileError::Format(format!("key {key:?}: not [id, text, count]")))?;
        let id = arr
            .first()
            .and_then(serde_json::Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| CompileError::Format(format!("key {key:?}: bad id")))?;
        let count = arr
            .get(2)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| CompileError::Format(format!("key {key:?}: bad count")))?;
        out.push((piece, id, count));
    }
    out.sort_by_key(|p| p.1);
    Ok(out)
}

/// Compile `(piece, id, count)` entries into a blob; scores are
/// `ln count − ln Σ counts`. With `add_missing_bytes`, single bytes that are not
/// pieces are added with count 1 and fresh ids after the largest (toy
/// vocabularies); without it, a missing byte is an error.
///
/// # Errors
/// [`CompileError::Invalid`] on a zero count, or as [`compile_scored`].
pub fn compile_pieces(
    pieces: &[CountedPiece],
    add_missing_bytes: bool,
) -> Result<Vec<u8>, CompileError> {
    let mut all: Vec<CountedPiece> = pieces.to_vec();
    if add_missing_bytes {
        let mut next_id = all.iter().map(|p| p.1).max().unwrap_or(2).max(2) + 1;
        for b in 0..=255u8 {
            if !all.iter().any(|p| p.0 == [b]) {
                all.push((vec![b], next_id, 1));
                next_id += 1;
            }
        }
    }
    if let Some(p) = all.iter().find(|p| p.2 == 0) {
        return Err(CompileError::Invalid(format!(
            "piece {:?} has count 0",
            p.0
        )));
    }
    let total: u128 = all.iter().map(|p| u128::from(p.2)).sum();
    #[expect(
        clippy::cast_precision_loss,
        reason = "BytePiece converts counts to f64 too"
    )]
    let log_total = (total as f64).ln();
    #[expect(
        clippy::cast_precision_loss,
        reason = "BytePiece converts counts to f64 too"
    )]
    let scored: Vec<(Vec<u8>, u32, f64)> = all
        .into_iter()
        .map(|(p, id, c)| (p, id, (c as f64).ln() - log_total))
        .collect();
    compile_scored(&scored)
}

/// Compile `(piece, id, score)` entries into a blob.
///
/// # Errors
/// [`CompileError::Invalid`] for an empty or duplicate piece, a duplicate id,
/// id 0 or an id ≥ 65536, a piece longer than `MAX_PIECE_BYTES`, a score that is
/// not finite or is positive, a missing single byte, or more than 2^22 units.
pub fn compile_scored(pieces: &[(Vec<u8>, u32, f64)]) -> Result<Vec<u8>, CompileError> {
    let mut sorted: Vec<&(Vec<u8>, u32, f64)> = pieces.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen_ids = BTreeMap::new();
    for w in sorted.windows(2) {
        if let [a, b] = w
            && a.0 == b.0
        {
            return Err(CompileError::Invalid(format!("duplicate piece {:?}", a.0)));
        }
    }
    let mut max_len = 0;
    for (p, id, score) in &sorted {
        if p.is_empty() {
            return Err(CompileError::Invalid("empty piece".into()));
        }
        if p.len() > super::MAX_PIECE_BYTES {
            return Err(CompileError::Invalid(format!("piece of {} bytes", p.len())));
        }
        max_len = max_len.max(p.len());
        if *id == 0 || *id as usize >= MAX_IDS {
            return Err(CompileError::Invalid(format!("id {id} out of 1..65536")));
        }
        if seen_ids.insert(*id, ()).is_some() {
            return Err(CompileError::Invalid(format!("duplicate id {id}")));
        }
        if !score.is_finite() || *score > 0.0 {
            return Err(CompileError::Invalid(format!("score {score} of id {id}")));
        }
    }
    for b in 0..=255u8 {
        if sorted
            .binary_search_by(|p| p.0.as_slice().cmp(&[b][..]))
            .is_err()
        {
            return Err(CompileError::Invalid(format!(
                "single byte {b:#04x} is not a piece"
            )));
        }
    }
    let n_ids = seen_ids
        .keys()
        .next_back()
        .map_or(0, |&m| m as usize + 1)
        .max(256);

    // Build the double array breadth-first: a node is a range of `sorted`
    // sharing a prefix of length `depth`, placed at unit `at`.
    let mut units: Vec<u32> = vec![0; 1024];
    let mut ids: Vec<u16> = vec![0; 1024];
    let mut used: Vec<bool> = vec![false; 1024];
    let mut base_used: Vec<bool> = vec![false; 1024];
    for u in used.iter_mut().take(512) {
        *u = true; // block 0 (root) and block 1 (the dead block) are reserved
    }
    let mut queue = std::collections::VecDeque::new();
    queue.push_back((0usize, sorted.len(), 0usize, 0usize)); // lo, hi, depth, unit
    let mut search_from = 512usize;
    while let Some((lo, hi, depth, at)) = queue.pop_front() {
        // Children: groups of entries with a byte at `depth`.
        let mut groups: Vec<(u8, usize, usize)> = Vec::new();
        let mut i = lo;
        while i < hi {
            let Some(entry) = sorted.get(i) else { break };
            let Some(&c) = entry.0.get(depth) else {
                i += 1; // the node's own piece (length == depth) sorts first
                continue;
            };
            let mut j = i + 1;
            while j < hi && sorted.get(j).and_then(|e| e.0.get(depth)) == Some(&c) {
                j += 1;
            }
            groups.push((c, i, j));
            i = j;
        }
        let base = if groups.is_empty() {
            DEAD_BASE as usize
        } else {
            let base = find_base(&groups, &mut used, &mut base_used, &mut search_from)?;
            for &(c, glo, ghi) in &groups {
                let child = base ^ usize::from(c);
                grow(&mut units, &mut ids, &mut used, &mut base_used, child + 1);
                set(&mut used, child, true);
                let mut unit = u32::from(c) | BUILD_OCCUPIED;
                if let Some(first) = sorted.get(glo)
                    && first.0.len() == depth + 1
                {
                    unit |= BUILD_TERMINAL;
                    set16(&mut ids, child, u16::try_from(first.1).unwrap_or(0));
                }
                set32(&mut units, child, unit);
                queue.push_back((glo, ghi, depth + 1, child));
            }
            base
        };
        let old = units.get(at).copied().unwrap_or(0);
        set32(
            &mut units,
            at,
            (old & ((1 << BASE_SHIFT) - 1)) | ((base as u32) << BASE_SHIFT),
        );
    }
    let n_units = units.len().div_ceil(256) * 256;
    if n_units > MAX_UNITS {
        return Err(CompileError::Invalid(format!(
            "{n_units} units exceed 2^22"
        )));
    }
    units.resize(n_units, 0);
    ids.resize(n_units, 0);
    let mut scores = vec![f64::NEG_INFINITY; n_ids];
    for (_, id, score) in &sorted {
        if let Some(s) = scores.get_mut(*id as usize) {
            *s = *score;
        }
    }

    // The base shift: 15 when the units fit in 2^17 (what the fast hot
    // loops need, see `blob::Fast`), else 10. Records are the complemented
    // id (0xffff for a unit that is not a piece), then the unit.
    let shift = if n_units <= FAST_UNITS {
        FAST_SHIFT
    } else {
        BASE_SHIFT
    };
    let labels = empty_slot_labels(&units)?;
    let mut body = Vec::with_capacity(6 * n_units + 8 * n_ids);
    for ((u, i), label) in units.iter().zip(&ids).zip(&labels) {
        let terminal = if u & BUILD_TERMINAL != 0 { TERMINAL } else { 0 };
        let unit = u32::from(*label) | terminal | ((u >> BASE_SHIFT) << shift);
        body.extend_from_slice(&(!i).to_le_bytes());
        body.extend_from_slice(&unit.to_le_bytes());
    }
    // Scores in decreasing id order, so that the score of id i ends 8·i
    // bytes before the blob's end (see `blob::Fast`).
    for s in scores.iter().rev() {
        body.extend_from_slice(&s.to_le_bytes());
    }
    let mut blob = Vec::with_capacity(HEADER_BYTES + body.len());
    blob.extend_from_slice(&BLOB_MAGIC);
    for field in [
        BLOB_VERSION,
        n_units as u32,
        n_ids as u32,
        sorted.len() as u32,
        max_len as u32,
        shift,
    ] {
        blob.extend_from_slice(&field.to_le_bytes());
    }
    blob.extend_from_slice(&checksum(&body).to_le_bytes());
    blob.resize(HEADER_BYTES, 0);
    blob.extend_from_slice(&body);
    // The compiler's own output must pass the reader's validation.
    super::Vocab::from_blob(&blob).map_err(CompileError::Blob)?;
    Ok(blob)
}

/// The construction's unit flags (the blob's unit has no occupied flag, and
/// its terminal flag is [`TERMINAL`]): a unit is `label | BUILD_OCCUPIED |
/// BUILD_TERMINAL | base << BASE_SHIFT` while the trie is built.
const BUILD_OCCUPIED: u32 = 1 << 8;
const BUILD_TERMINAL: u32 = 1 << 9;

/// The label byte of every unit in the blob. An occupied unit keeps its
/// byte; an empty one (and the root) gets a byte that no walk steps by onto
/// it: a walk at a node of base `b` reaches slot `i` by byte `b ^ i`, so the
/// label `L` must avoid `b ^ i` for every base `b` in `i`'s 256-unit block —
/// the bases of the trie's nodes, `DEAD_BASE` (leaves) and 0 (a dead walk).
/// Such an `L` always exists: the nodes whose base lies in a block have their
/// children there, at distinct slots, so a block with an empty slot holds at
/// most 255 bases (blocks 0 and 1, all empty, hold only 0 and `DEAD_BASE`).
/// This lets every trie step match on the label byte alone.
fn empty_slot_labels(units: &[u32]) -> Result<Vec<u8>, CompileError> {
    let blocks = units.len().div_ceil(256);
    let mut taken = vec![[false; 256]; blocks];
    let mut mark = |base: u32| {
        if let Some(b) = taken.get_mut((base >> 8) as usize)
            && let Some(x) = b.get_mut((base & 0xff) as usize)
        {
            *x = true;
        }
    };
    mark(0);
    mark(DEAD_BASE);
    for (i, u) in units.iter().enumerate() {
        if i == 0 || u & BUILD_OCCUPIED != 0 {
            mark(u >> BASE_SHIFT);
        }
    }
    let mut labels = Vec::with_capacity(units.len());
    for (i, u) in units.iter().enumerate() {
        if i != 0 && u & BUILD_OCCUPIED != 0 {
            labels.push((u & 0xff) as u8);
            continue;
        }
        let free = taken
            .get(i >> 8)
            .and_then(|t| t.iter().position(|&x| !x))
            .ok_or_else(|| CompileError::Invalid(format!("no free label for unit {i}")))?;
        labels.push(((i ^ free) & 0xff) as u8);
    }
    Ok(labels)
}

fn grow(
    units: &mut Vec<u32>,
    ids: &mut Vec<u16>,
    used: &mut Vec<bool>,
    base_used: &mut Vec<bool>,
    len: usize,
) {
    let len = len.div_ceil(256) * 256;
    if units.len() < len {
        units.resize(len, 0);
    }
    if ids.len() < len {
        ids.resize(len, 0);
    }
    if used.len() < len {
        used.resize(len, false);
    }
    if base_used.len() < len {
        base_used.resize(len, false);
    }
}

fn set(v: &mut [bool], i: usize, x: bool) {
    if let Some(s) = v.get_mut(i) {
        *s = x;
    }
}

fn set32(v: &mut [u32], i: usize, x: u32) {
    if let Some(s) = v.get_mut(i) {
        *s = x;
    }
}

fn set16(v: &mut [u16], i: usize, x: u16) {
    if let Some(s) = v.get_mut(i) {
        *s = x;
    }
}

/// Find a base `b ≥ 512`, not used by another node, with every `b ^ c` free.
fn find_base(
    groups: &[(u8, usize, usize)],
    used: &mut Vec<bool>,
    base_used: &mut Vec<bool>,
    search_from: &mut usize,
) -> Result<usize, CompileError> {
    let first = groups.first().map_or(0, |g| usize::from(g.0));
    // Advance the global hint past fully used units.
    while used.get(*search_from).copied().unwrap_or(false) {
        *search_from += 1;
    }
    let mut f = *search_from;
    loop {
        if f >= MAX_UNITS {
            return Err(CompileError::Invalid("no room in 2^22 units".into()));
        }
        let free = !used.get(f).copied().unwrap_or(false);
        if free {
            let b = f ^ first;
            let ok = b >= 512
                && !base_used.get(b).copied().unwrap_or(false)
                && groups
                    .iter()
                    .all(|&(c, _, _)| !used.get(b ^ usize::from(c)).copied().unwrap_or(false));
            if ok {
                if base_used.len() <= b {
                    base_used.resize(b.div_ceil(256) * 256 + 256, false);
                    used.resize(base_used.len(), false);
                }
                set(base_used, b, true);
                return Ok(b);
            }
        }
        f += 1;
    }
}

/// Parse a BytePiece `.model` JSON and compile it.
///
/// # Errors
/// As [`parse_bytepiece_json`] and [`compile_pieces`] (without adding bytes).
pub fn compile_bytepiece_json(json: &[u8]) -> Result<Vec<u8>, CompileError> {
    compile_pieces(&parse_bytepiece_json(json)?, false)
}

/// Read a model file: a compiled blob (recognised by [`BLOB_MAGIC`]) is
/// returned as is, anything else is parsed as BytePiece JSON and compiled.
/// The result passes [`super::Vocab::from_blob`].
///
/// # Errors
/// [`CompileError::Io`] if the file cannot be read, [`CompileError::Blob`] for
/// an invalid blob, or as [`compile_bytepiece_json`].
pub fn load_model_file(path: &std::path::Path) -> Result<Vec<u8>, CompileError> {
    let bytes =
        std::fs::read(path).map_err(|e| CompileError::Io(format!("{}: {e}", path.display())))?;
    if bytes.starts_with(&BLOB_MAGIC) {
        super::Vocab::from_blob(&bytes).map_err(CompileError::Blob)?;
        Ok(bytes)
    } else {
        compile_bytepiece_json(&bytes)
    }
}

/// Write a blob to a file.
///
/// # Errors
/// [`CompileError::Io`] if the file cannot be written.
pub fn write_blob(path: &std::path::Path, blob: &[u8]) -> Result<(), CompileError> {
    std::fs::write(path, blob).map_err(|e| CompileError::Io(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::Vocab;

    #[test]
    fn rejects_bad_vocabularies() {
        let ok = compile_pieces(&[(b"ab".to_vec(), 300, 2)], true);
        assert!(ok.is_ok());
        assert!(matches!(
            compile_pieces(&[(b"ab".to_vec(), 300, 2), (b"ab".to_vec(), 301, 2)], true),
            Err(CompileError::Invalid(_))
        ));
        assert!(matches!(
            compile_pieces(&[(b"ab".to_vec(), 300, 2), (b"ac".to_vec(), 300, 2)], true),
            Err(CompileError::Invalid(_))
        ));
        assert!(matches!(
            compile_pieces(&[(b"ab".to_vec(), 70000, 2)], true),
            Err(CompileError::Invalid(_))
        ));
        assert!(matches!(
            compile_pieces(&[(b"ab".to_vec(), 300, 0)], true),
            Err(CompileError::Invalid(_))
        ));
        assert!(matches!(
            compile_pieces(&[(b"ab".to_vec(), 300, 1)], false),
            Err(CompileError::Invalid(_))
        ));
        assert!(matches!(
            parse_bytepiece_json(b"[1]"),
            Err(CompileError::Format(_))
        ));
        assert!(matches!(
            parse_bytepiece_json(br#"{"!!": [3, "", 1]}"#),
            Err(CompileError::Format(_))
        ));
        assert!(matches!(
            parse_bytepiece_json(br#"{"YQ==": [3, "a"]}"#),
            Err(CompileError::Format(_))
        ));
    }

    #[test]
    fn compiled_trie_finds_exactly_the_pieces() {
        let words: Vec<&[u8]> = vec![
            b"a\x00b",
            b"abc",
            b"abd",
            b"\xff\xfe",
            b"hello",
            b"help",
            b"he",
        ];
        let pieces: Vec<CountedPiece> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_vec(), 300 + i as u32, 10 + i as u64))
            .collect();
        let blob = compile_pieces(&pieces, true).unwrap();
        let vocab = Vocab::from_blob(&blob).unwrap();
        assert_eq!(vocab.piece_count(), 256 + words.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(vocab.lookup(w), Some(300 + i as u32), "{w:?}");
        }
        assert_eq!(vocab.lookup(b"hel"), None);
        assert_eq!(vocab.lookup(b"abcd"), None);
        let found: Vec<usize> = vocab
            .common_prefix_search(b"helloworld")
            .map(|m| m.len)
            .collect();
        assert_eq!(found, [1, 2, 5]);
        assert_eq!(vocab.max_piece_len(), 5);
    }

    #[test]
    fn no_walk_reaches_an_empty_unit() {
        // Every trie step matches on the label byte alone, so the labels the
        // compiler gives empty units must keep every walk off them: from
        // every node, the step by `c` lives iff `node + c` is a prefix of a
        // piece. A crowded vocabulary (a small alphabet, short pieces)
        // fills blocks densely; a dead walk never revives.
        use crate::tokenizer::blob::{DEAD, Steps};
        use rand::{Rng, SeedableRng};
        use std::collections::BTreeSet;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut words = BTreeSet::new();
        while words.len() < 3000 {
            let len = 2 + (rng.next_u32() % 5) as usize;
            let w: Vec<u8> = (0..len)
                .map(|_| [b'a', b'b', b'c', b'd', b'e', 0xe4, 0x00][(rng.next_u32() % 7) as usize])
                .collect();
            words.insert(w);
        }
        let pieces: Vec<CountedPiece> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), 300 + i as u32, 1 + i as u64))
            .collect();
        let blob = compile_pieces(&pieces, true).unwrap();
        let vocab = Vocab::from_blob(&blob).unwrap();
        let mut prefixes: BTreeSet<Vec<u8>> = BTreeSet::new();
        for w in &words {
            for k in 0..=w.len() {
                prefixes.insert(w[..k].to_vec());
            }
        }
        for b in 0..=255u8 {
            prefixes.insert(vec![b]);
        }
        for p in &prefixes {
            let mut node = Steps::root(&vocab);
            for &c in p {
                let (next, _, ok) = vocab.step(node, c);
                assert!(ok, "{p:?}");
                node = next;
            }
            for c in 0..=255u8 {
                let mut q = p.clone();
                q.push(c);
                let expected = prefixes.contains(&q);
                assert_eq!(vocab.step(node, c).2, expected, "{q:?}");
            }
        }
        for c in 0..=255u8 {
            assert!(!vocab.step(DEAD, c).2);
        }
    }
}
