//! `√x` for the element loops, correctly rounded either way: with the `std`
//! feature it is `f32::sqrt` (an LLVM intrinsic the loop vectoriser turns into
//! `sqrtps`); without it, [`crate::math::sqrt_f32`] (libm, which on x86 is an
//! inline-asm `sqrtss` that blocks vectorisation of the whole loop). Both are
//! IEEE-exact, so results do not depend on the feature, only speed does.

#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn sqrt_f32(x: f32) -> f32 {
    x.sqrt()
}

#[cfg(not(feature = "std"))]
#[inline(always)]
pub(crate) fn sqrt_f32(x: f32) -> f32 {
    crate::math::sqrt_f32(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_libm_bit_for_bit() {
        let mut x = 1.0e-30f32;
        while x < 1.0e30 {
            assert_eq!(super::sqrt_f32(x).to_bits(), libm::sqrtf(x).to_bits());
            x *= 1.37;
        }
        assert_eq!(super::sqrt_f32(0.0), 0.0);
        assert!(super::sqrt_f32(-1.0).is_nan());
    }
}
