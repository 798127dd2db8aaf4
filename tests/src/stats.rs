//! Chi-square goodness of fit for the sampler tests: a thin wrapper over
//! [`kexue_core::stats`] that panics on invalid arguments (test code only).

pub use kexue_core::stats::{ChiSquare, chi_square_sf, gamma_q};

/// Goodness of fit of `observed` counts to probabilities `probs` (see
/// [`kexue_core::stats::chi_square_test`]); panics on invalid arguments.
pub fn chi_square_test(observed: &[u64], probs: &[f64], min_expected: f64) -> ChiSquare {
    match kexue_core::stats::chi_square_test(observed, probs, min_expected) {
        Ok(r) => r,
        Err(e) => panic!("chi_square_test: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_fit_and_rejects_a_misfit() {
        let probs = [0.5, 0.25, 0.125, 0.125];
        let good = chi_square_test(&[5010, 2490, 1260, 1240], &probs, 5.0);
        assert!(good.p_value > 0.1, "{good:?}");
        let bad = chi_square_test(&[4500, 2700, 1400, 1400], &probs, 5.0);
        assert!(bad.p_value < 1e-9, "{bad:?}");
    }
}
