#!/usr/bin/env python3
"""Independent reference values for the attention-scale capability.

Computed with mpmath (arbitrary precision, modified Bessel functions), i.e.
independently of the Rust code (which uses a trapezoid rule after s = tanh x and
a power series, never Bessel functions). The numbers printed here are committed
as constants in tests/tests/attention.rs; CI does not need Python.

    python3 -m pip install mpmath==1.3.0
    python3 tests/reference/attention_reference.py > /tmp/attention_reference.txt

Formulas (SPEC.md section 1, post of 2023-10-22):
  cosine scores, density ∝ (1 − s²)^((d−3)/2), ν = d/2 − 1:
    g(a) = E[e^{as}] = Γ(d/2) (2/a)^ν I_ν(a)
    m(a) = (ln g)'(a) = I_{ν+1}(a)/I_ν(a),  v(a) = m'(a) = 1 − m² − (2ν+1) m/a
    R(a) = ln g(2a) − 2 ln g(a),  a* solves N(a) = e^R (1 + a R') = n
  normal scores: a* = √u, u + ln(1 + 2u) = ln n
"""
import mpmath as mp

mp.mp.dps = 40


def ln_g(a, d):
    a = mp.mpf(a)
    nu = mp.mpf(d) / 2 - 1
    return mp.loggamma(mp.mpf(d) / 2) + nu * mp.log(2 / a) + mp.log(mp.besseli(nu, a))


def m_ratio(a, d):
    a = mp.mpf(a)
    nu = mp.mpf(d) / 2 - 1
    return mp.besseli(nu + 1, a) / mp.besseli(nu, a)


def var_s(a, d):
    a = mp.mpf(a)
    nu = mp.mpf(d) / 2 - 1
    m = m_ratio(a, d)
    return 1 - m * m - (2 * nu + 1) * m / a


def ln_big_n_cos(a, d):
    """ln N(a) = R(a) + ln(1 + a R'(a))."""
    r = ln_g(2 * a, d) - 2 * ln_g(a, d)
    rp = 2 * (m_ratio(2 * a, d) - m_ratio(a, d))
    return r + mp.log(1 + a * rp)


def a_star_cos(n, d, guess):
    f = lambda a: ln_big_n_cos(a, d) - mp.log(n)
    return mp.findroot(f, mp.mpf(guess), tol=mp.mpf(10) ** -30)


def a_star_normal(n):
    f = lambda u: u + mp.log(1 + 2 * u) - mp.log(n)
    u = mp.findroot(f, mp.log(n) / 2 + mp.mpf("0.1"))
    return mp.sqrt(u)


def g_at_star_normal(n):
    a = a_star_normal(n)
    return a * (1 - mp.exp(a * a) / n)


def g_at_star_cos(n, d, a):
    r = ln_g(2 * a, d) - 2 * ln_g(a, d)
    return a * (1 - mp.exp(r) / n)


def f17(x):
    return mp.nstr(x, 17, min_fixed=-3, max_fixed=8)


def main():
    print("# ln g(a), 1 - m(a), v(a) for cosine scores: d a ln_g one_minus_m var")
    for d in [3, 4, 16, 128, 4096]:
        for a in ["0.001", "0.1", "1", "2", "2.5", "10", "100", "1000", "2000"]:
            m = m_ratio(a, d)
            print(d, a, f17(ln_g(a, d)), f17(1 - m), f17(var_s(a, d)))

    print("# normal a*: n a_star G_at_a_star")
    for n in [2, 40, 128, 512, 20000, 10**6, 10**9]:
        print(n, f17(a_star_normal(n)), f17(g_at_star_normal(n)))

    print("# cosine a*: d n a_star G_at_a_star")
    for d in [3, 16, 128, 4096]:
        guess = 1.0
        for n in [2, 40, 512, 20000, 10**9]:
            # a crude guess from the normal law scaled by sqrt(d) (large d) or n (d = 3)
            guess = float(mp.sqrt(d) * a_star_normal(n)) if d > 3 else n / 2.0
            a = a_star_cos(n, d, guess)
            print(d, n, f17(a), f17(g_at_star_cos(n, d, a)))

    print("# fits over n = 40, 80, ..., 20000: dist d c max_rel_err")
    ns = [40 * k for k in range(1, 501)]
    xs = [mp.sqrt(mp.log(n)) for n in ns]
    ys = [a_star_normal(n) for n in ns]
    c = mp.fsum(x * y for x, y in zip(xs, ys)) / mp.fsum(x * x for x in xs)
    err = max(abs(c * x - y) / y for x, y in zip(xs, ys))
    print("normal", 0, f17(c), f17(err))
    for d in [16, 128]:
        xs = [mp.log(n) for n in ns]
        ys = []
        a = mp.sqrt(d) * a_star_normal(ns[0])
        for n in ns:
            a = a_star_cos(n, d, a)
            ys.append(a)
        c = mp.fsum(x * y for x, y in zip(xs, ys)) / mp.fsum(x * x for x in xs)
        err = max(abs(c * x - y) / y for x, y in zip(xs, ys))
        print("cosine", d, f17(c), f17(err), "a*(40)", f17(ys[0]), "a*(20000)", f17(ys[-1]))

    print("# exact E[G(a)] for n = 2: dist d a mean_G")
    sig = lambda x: 1 / (1 + mp.exp(-x))
    h = lambda x: 2 * sig(x) * sig(-x)
    for a in ["0.5", "2", "8"]:
        a = mp.mpf(a)
        # normal: s1 - s2 ~ N(0, 2)
        val = mp.quad(lambda z: h(a * mp.sqrt(2) * z) * mp.npdf(z), [-mp.inf, -1, 0, 1, mp.inf])
        print("normal", 0, mp.nstr(a, 3), f17(a * val))
        # cosine d = 3: s uniform on [-1, 1], s1 - s2 triangular on [-2, 2]
        val = mp.quad(lambda t: h(a * t) * (2 - abs(t)) / 4, [-2, 0, 2])
        print("cosine", 3, mp.nstr(a, 3), f17(a * val))

    print("# causal decoder, approximation: dist d L a_causal a_star_half_L")
    for L in [512, 2048]:
        harm = mp.fsum(mp.mpf(1) / k for k in range(1, L + 1))
        neff = L / harm
        print("normal", 0, L, f17(a_star_normal(neff)), f17(a_star_normal(mp.mpf(L) / 2)))
        a1 = a_star_cos(neff, 128, mp.sqrt(128) * a_star_normal(neff))
        a2 = a_star_cos(mp.mpf(L) / 2, 128, mp.sqrt(128) * a_star_normal(mp.mpf(L) / 2))
        print("cosine", 128, L, f17(a1), f17(a2))


if __name__ == "__main__":
    main()
