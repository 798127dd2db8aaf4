//! Piecewise-linear learning-rate schedule of `tiger.py` (`piecewise_linear`).
//!
//! A schedule `{1000: 1, 2000: 0.1}` (with `from_zero`) ramps 0 → 1 over
//! `t ∈ [0, 1000]`, 1 → 0.1 over `[1000, 2000]`, then stays at 0.1; before
//! the first key it holds the first value. `t` is the micro-step counter.
//! Values are computed in f32 exactly as the reference's TensorFlow graph
//! does: `x = f32(v_i) + f32(slope_i) · (f32(t) − f32(t_i))`, the slope
//! `(v_{i+1} − v_i)/(t_{i+1} − t_i)` in f64 (Python floats).

use super::Error;

/// Maximum number of points of a [`Schedule`] (after the optional `(0, 0)`).
pub const MAX_POINTS: usize = 8;

/// A piecewise-linear schedule (fixed capacity, `Copy`).
///
/// ```
/// use kexue_core::optim::Schedule;
/// let s = Schedule::piecewise(&[(1000, 1.0), (2000, 0.1)], true).unwrap();
/// assert_eq!(s.value(0), 0.0);
/// assert_eq!(s.value(500), 0.5);
/// assert!((s.value(1500) - 0.55).abs() < 1e-6);
/// assert_eq!(s.value(5000), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    keys: [u64; MAX_POINTS],
    values: [f64; MAX_POINTS],
    len: usize,
}

impl Default for Schedule {
    /// The reference's default `{0: 1}`: constant 1.
    fn default() -> Self {
        Self::constant(1.0)
    }
}

impl Schedule {
    /// The constant schedule `{0: value}` (`value` should be finite; a
    /// non-finite value is replaced by 1, as [`Schedule::piecewise`] would
    /// reject it).
    ///
    /// ```
    /// use kexue_core::optim::Schedule;
    /// assert_eq!(Schedule::constant(0.5).value(123), 0.5);
    /// ```
    #[must_use]
    pub fn constant(value: f64) -> Self {
        let mut values = [0.0; MAX_POINTS];
        if let Some(v) = values.first_mut() {
            *v = if value.is_finite() { value } else { 1.0 };
        }
        Self {
            keys: [0; MAX_POINTS],
            values,
            len: 1,
        }
    }

    /// A schedule from `(key, value)` points in any order (a Python dict).
    /// With `from_zero` and no key 0, the point `(0, 0.0)` is prepended.
    ///
    /// Errors: [`Error::InvalidSchedule`] for no points, duplicate keys or a
    /// non-finite value; [`Error::CapacityExceeded`] beyond [`MAX_POINTS`].
    ///
    /// ```
    /// use kexue_core::optim::Schedule;
    /// assert!(Schedule::piecewise(&[(5, 1.0), (5, 2.0)], false).is_err());
    /// assert!(Schedule::piecewise(&[], true).is_err());
    /// ```
    pub fn piecewise(points: &[(u64, f64)], from_zero: bool) -> Result<Self, Error> {
        if points.is_empty() || points.iter().any(|(_, v)| !v.is_finite()) {
            return Err(Error::InvalidSchedule);
        }
        let has_zero = points.iter().any(|&(k, _)| k == 0);
        let extra = usize::from(from_zero && !has_zero);
        let needed = points.len() + extra;
        if needed > MAX_POINTS {
            return Err(Error::CapacityExceeded {
                what: "schedule points",
                needed,
                capacity: MAX_POINTS,
            });
        }
        let mut s = Self {
            keys: [0; MAX_POINTS],
            values: [0.0; MAX_POINTS],
            len: 0,
        };
        if extra == 1 {
            s.len = 1;
        }
        for &(k, v) in points {
            // Insertion sort into the fixed arrays.
            let mut i = s.len;
            while i > 0 {
                let prev = s.keys.get(i - 1).copied().unwrap_or(0);
                if prev == k {
                    return Err(Error::InvalidSchedule);
                }
                if prev < k {
                    break;
                }
                s.keys.swap(i - 1, i);
                s.values.swap(i - 1, i);
                i -= 1;
            }
            if let (Some(kk), Some(vv)) = (s.keys.get_mut(i), s.values.get_mut(i)) {
                *kk = k;
                *vv = v;
            }
            s.len += 1;
        }
        Ok(s)
    }

    /// The points, sorted by key.
    pub fn points(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.keys
            .iter()
            .copied()
            .zip(self.values.iter().copied())
            .take(self.len)
    }

    /// The largest value (the peak learning-rate multiplier; Tiger's blend
    /// uses `γ_t = value(t) / peak`).
    ///
    /// ```
    /// use kexue_core::optim::Schedule;
    /// let s = Schedule::piecewise(&[(10, 1.0), (20, 0.1)], true).unwrap();
    /// assert_eq!(s.peak(), 1.0);
    /// ```
    #[must_use]
    pub fn peak(&self) -> f64 {
        self.points()
            .map(|(_, v)| v)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The multiplier at micro-step `t`, in f32 as the reference computes it.
    #[must_use]
    pub fn value(&self, t: u64) -> f32 {
        let tf = t as f32;
        let mut x = self.values.first().copied().unwrap_or(1.0) as f32;
        let mut pts = self.points().peekable();
        while let Some((k, v)) = pts.next() {
            let x_begin = x;
            let cand = match pts.peek() {
                Some(&(k1, v1)) => {
                    let slope = (v1 - v) / (k1 - k) as f64;
                    (v as f32) + (slope as f32) * (tf - k as f32)
                }
                None => v as f32,
            };
            x = if tf >= k as f32 { cand } else { x_begin };
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerance for schedule values computed in f32.
    const F32_TOL: f32 = 1e-6;

    #[test]
    fn post_example_ramps_and_holds() {
        let s = Schedule::piecewise(&[(2000, 0.1), (1000, 1.0)], true).unwrap();
        let pts: heapless::Vec<(u64, f64), 8> = s.points().collect();
        assert_eq!(pts.as_slice(), &[(0, 0.0), (1000, 1.0), (2000, 0.1)]);
        assert_eq!(s.value(1000), 1.0);
        assert!((s.value(250) - 0.25).abs() < F32_TOL);
        assert!((s.value(1900) - 0.19).abs() < F32_TOL);
        assert_eq!(s.value(2000), 0.1);
        assert_eq!(s.value(1 << 40), 0.1);
    }

    #[test]
    fn without_from_zero_holds_first_value() {
        let s = Schedule::piecewise(&[(10, 0.5), (20, 1.0)], false).unwrap();
        assert_eq!(s.value(0), 0.5);
        assert_eq!(s.value(10), 0.5);
        assert!((s.value(15) - 0.75).abs() < F32_TOL);
    }

    #[test]
    fn capacity_and_validation() {
        let many: [(u64, f64); 8] = core::array::from_fn(|i| (i as u64 + 1, 1.0));
        assert!(matches!(
            Schedule::piecewise(&many, true),
            Err(Error::CapacityExceeded { needed: 9, .. })
        ));
        assert!(Schedule::piecewise(&many, false).is_ok());
        assert_eq!(
            Schedule::piecewise(&[(1, f64::NAN)], false),
            Err(Error::InvalidSchedule)
        );
        assert_eq!(Schedule::constant(f64::NAN).value(3), 1.0);
        assert_eq!(Schedule::default().value(7), 1.0);
    }
}
