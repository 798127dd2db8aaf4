//! kexue-core on bare metal: each module's hot path runs on static buffers
//! (no allocator exists here), its result is printed over semihosting and
//! checked against a known value; the exit code says whether all checks held.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use kexue_core::optim::{
    Gradient, Optimizer, ParamKind, StepInfo, StepOptions, TensorMut, Tiger, TigerConfig,
};
use kexue_core::tokenizer::{Scratch, Token, Vocab, viterbi_decode};
use kexue_core::{attention, loss, math};
use semihosting::{println, process};

/// One check: a name, the value computed on the target, the expected value
/// and the tolerance.
fn check(name: &str, got: f64, want: f64, tol: f64) -> bool {
    let ok = (got - want).abs() <= tol;
    println!(
        "{} {name}: got {got:.9} want {want:.9}",
        if ok { "ok  " } else { "FAIL" }
    );
    ok
}

static SCORES: [f64; 4] = [1.0, 2.0, 3.0, 4.0];

/// The real 40k BytePiece vocabulary, compiled, kept in flash and read in place.
static BLOB: &[u8] = include_bytes!("../../tests/data/tokenizer/bytepiece.plus.40k.kxb");

/// `今天天气不错，watching TV.` and its Viterbi segmentation by the desktop
/// build (`kexue-lab tokenize --format ids`), which matches BytePiece.
const TEXT: &str = "今天天气不错，watching TV.";
const WANT_IDS: [u32; 8] = [18281, 5360, 5951, 18165, 6858, 28094, 2140, 49];

#[entry]
fn main() -> ! {
    let mut all = true;
    println!("kexue-core on a Cortex-M4F (QEMU mps2-an386)");

    // math: softmax into a caller-owned buffer; logsumexp.
    let probs = cortex_m::singleton!(: [f64; 4] = [0.0; 4]).unwrap_or_else(|| process::exit(2));
    let log_z = math::softmax(&SCORES, 1.0, probs).unwrap_or(f64::NAN);
    all &= check("math::softmax ln Z", log_z, 4.440_189_698_561_196, 1e-12);
    all &= check("math::softmax p_4", probs[3], 0.643_914_259_887_972, 1e-12);
    all &= check("math::logsumexp", math::logsumexp(&SCORES), log_z, 0.0);

    // attention: the post's a* for normal and cosine (d = 128) scores at n = 512,
    // and G(a) of given scores (values from the desktop build and mpmath).
    let a_normal = attention::ScoreDist::Normal
        .a_star(512.0)
        .unwrap_or(f64::NAN);
    all &= check(
        "attention a* normal n=512",
        a_normal,
        2.008_394_899_828_541,
        1e-9,
    );
    let a_cos = attention::ScoreDist::cosine(128)
        .and_then(|d| d.a_star(512.0))
        .unwrap_or(f64::NAN);
    all &= check(
        "attention a* cosine d=128 n=512",
        a_cos,
        24.213_642_893_421_184,
        1e-7,
    );
    let g = attention::scale_objective(&SCORES, 1.0).unwrap_or(f64::NAN);
    let sum_p2: f64 = probs.iter().map(|p| p * p).sum();
    all &= check("attention G(1)", g, 1.0 - sum_p2, 1e-12);

    // loss: cross-entropy and TaiLr in f32 with gradients into a static buffer.
    let grad = cortex_m::singleton!(: [f32; 4] = [0.0; 4]).unwrap_or_else(|| process::exit(2));
    let logits: [f32; 4] = [0.5, -1.0, 2.0, 0.0];
    let ce = loss::cross_entropy_loss(&logits, 2, grad).unwrap_or(f64::NAN);
    let lse = math::logsumexp_f32(&logits);
    all &= check("loss cross-entropy", ce, lse - 2.0, 1e-6);
    let grad_sum: f32 = grad.iter().sum();
    all &= check("loss CE gradient sums to 0", f64::from(grad_sum), 0.0, 1e-6);
    let tailr = loss::tailr_loss(&logits, 2, 0.0, grad).unwrap_or(f64::NAN);
    all &= check("loss TaiLr(gamma=0) = CE", tailr, ce, 1e-9);
    let bad = loss::cross_entropy_loss(&[f32::NAN, 0.0], 0, &mut grad[..2]).is_err();
    all &= check(
        "loss NaN logits give an error",
        f64::from(u8::from(bad)),
        1.0,
        0.0,
    );

    // optim: two Tiger steps on a bias tensor in static buffers (one state float
    // per parameter); the second gradient holds a NaN, so the guard keeps m and
    // shrinks θ towards 0 by s = 0.99.
    let theta = cortex_m::singleton!(: [f32; 2] = [1.0, -1.0]).unwrap_or_else(|| process::exit(2));
    let m = cortex_m::singleton!(: [f32; 2] = [0.0; 2]).unwrap_or_else(|| process::exit(2));
    let config = TigerConfig {
        lr: 0.1,
        weight_decay: 0.0,
        ..Default::default()
    };
    let stepped = Tiger::new(config).and_then(|tiger| {
        let step = tiger.step(StepInfo::single(0));
        let tensor = TensorMut {
            kind: ParamKind::Bias,
            theta: &mut theta[..],
            state: &mut m[..],
        };
        tiger.step_tensor(
            &step,
            tensor,
            Gradient::new(&[2.0, -3.0]),
            StepOptions::default(),
        )?;
        let step = tiger.step(StepInfo::single(1));
        let tensor = TensorMut {
            kind: ParamKind::Bias,
            theta: &mut theta[..],
            state: &mut m[..],
        };
        tiger.step_tensor(
            &step,
            tensor,
            Gradient::new(&[f32::NAN, 1.0]),
            StepOptions::default(),
        )
    });
    all &= check(
        "optim Tiger steps ok",
        f64::from(u8::from(stepped.is_ok())),
        1.0,
        0.0,
    );
    all &= check(
        "optim Tiger theta[0]",
        f64::from(theta[0]),
        0.95 * 0.99,
        1e-6,
    );
    all &= check(
        "optim Tiger m kept on NaN",
        f64::from(m[1]),
        -0.035 * 3.0,
        1e-6,
    );

    // tokenizer: validate the blob in flash (one pass), decode a sentence into
    // static scratch (12 bytes per input byte) and a static token buffer.
    let scores = cortex_m::singleton!(: [f64; 64] = [0.0; 64]).unwrap_or_else(|| process::exit(2));
    let routes = cortex_m::singleton!(: [u32; 64] = [0; 64]).unwrap_or_else(|| process::exit(2));
    let tokens = cortex_m::singleton!(: [Token; 32] = [Token { id: 0, start: 0, end: 0 }; 32])
        .unwrap_or_else(|| process::exit(2));
    let decoded = Vocab::from_blob(BLOB).and_then(|vocab| {
        viterbi_decode(
            &vocab,
            TEXT.as_bytes(),
            &mut Scratch::new(&mut scores[..], &mut routes[..]),
            &mut tokens[..],
        )
    });
    let n = decoded.unwrap_or(0);
    let ids_match = tokens.get(..n).is_some_and(|t| {
        t.len() == WANT_IDS.len() && t.iter().zip(WANT_IDS).all(|(t, w)| t.id == w)
    });
    semihosting::print!("     tokenizer ids:");
    for t in tokens.get(..n).unwrap_or_default() {
        semihosting::print!(" {}", t.id);
    }
    println!();
    all &= check(
        "tokenizer Viterbi ids = BytePiece's",
        f64::from(u8::from(ids_match)),
        1.0,
        0.0,
    );
    let truncated = Vocab::from_blob(BLOB.get(..BLOB.len() / 2).unwrap_or_default()).is_err();
    all &= check(
        "tokenizer truncated blob gives an error",
        f64::from(u8::from(truncated)),
        1.0,
        0.0,
    );

    println!(
        "{}",
        if all {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        }
    );
    process::exit(if all { 0 } else { 1 })
}
