//! # kexue-core
//!
//! `no_std`, allocation-free implementations of machine-learning ideas published
//! in 2023 on the blog *Scientific Spaces* (科学空间, <https://kexue.fm>) by Su Jianlin.
//!
//! | module | post | what |
//! | --- | --- | --- |
//! | [`math`] | — | stable log-sum-exp, softmax, sigmoid (all math through `libm`) |
//! | [`attention`] | 2023-10-22 | the attention scale that maximises the softmax gradient: exact `G(a)`, the post's `a*` for normal and cosine scores (any `d`), the fitted laws, Monte Carlo, causal decoder |
//! | [`loss`] | 2023-03-14 (TaiLr), 2023-10-13 (EMO) | CE, TaiLr, EMO (+ soft-label bound, + CE mixture), 1 − p_t with gradients wrt logits; calibration metrics; the label-noise experiment |
//! | [`optim`] | 2023-03-07 | Tiger (exact to `tiger.py`), Lion, AdamW, SGD-momentum, LAMB; one state float, fp16 storage, NaN guard |
//! | [`stats`] | — | chi-square goodness of fit (p-values via the incomplete gamma function) for checking samplers |
//! | [`nn`] | — | tiny f32 MLP with manual backprop, including gradients with respect to the input |
//! | [`tokenizer`] | 2023-09-16, 2023-10-16 | Unigram tokenizer: zero-copy vocabulary blob, BytePiece-exact Viterbi decoding, perfect and legacy Viterbi sampling, k-best, exact enumeration / marginals / entropy |
//!
//! ## The embedded story
//!
//! The crate is `#![no_std]` and never allocates: every function takes slices the
//! caller owns (a `static` buffer on a microcontroller, a `Vec` on a desktop) or a
//! type with const-generic capacity. Randomness is injected as `&mut R` where
//! `R: rand::Rng`, so the same seed gives the same result on every target. Errors
//! are small per-module enums; capacity shortfalls are errors, never truncation,
//! and no function panics on caller data. It builds for `thumbv7em-none-eabihf`.
//!
//! ## Features
//!
//! | feature | embedded-safe | what it adds |
//! | --- | --- | --- |
//! | `std` | no | std-side helpers (file loading, model compilation), in files of their own |
//! | `std` | no | `tokenizer::compile` (BytePiece JSON → blob, blob files; deps `serde_json`, `base64`) and `tokenizer::text` (NFC with a fast path, chunking, line modes; dep `unicode-normalization`) |
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

#[cfg(feature = "std")]
extern crate std;

pub mod attention;
pub mod loss;
pub mod math;
pub mod nn;
pub mod optim;
pub mod stats;
pub mod tokenizer;
