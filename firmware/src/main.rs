//! kexue-core on bare metal: each module's hot path runs on static buffers
//! (no allocator exists here), its result is printed over semihosting and
//! checked against a known value; the exit code says whether all checks held.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use kexue_core::math;
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
