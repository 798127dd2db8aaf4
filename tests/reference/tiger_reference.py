#!/usr/bin/env python3
"""Independent numpy transcription of the behaviour of `tiger.py`
(github bojone/tiger, the Tiger optimiser of the kexue.fm post of 2023-03-07),
used to generate golden vectors for the Rust implementation.

It follows what the TensorFlow 1.15 graph of the reference computes, in float32:

* `piecewise_linear(t, schedule, from_zero=True)`: points sorted by key, (0, 0)
  prepended when from_zero and there is no key 0; for each point i a candidate
  `f32(v_i) + f32(slope_i) * (f32(t) - f32(t_i))` (slope in Python float64,
  the last point's candidate is `f32(v_last)`), taken when `t >= t_i`.
* per micro-step t (0-based, the optimiser's `iterations`), accumulation k:
  `b1 = beta if t % k == 0 else 1`, `b2 = f32((1 - beta) / k)`,
  `lr = f32(learning_rate) * schedule(t)`, zeroed unless `(t + 1) % k == 0`.
* per tensor: `is_nan = any(isnan(g))`; if so b1 = 1 and g = 0.
  bias/beta: lr * 0.5, no decay; gamma: the same and shrink centre 1;
  embeddings: lr * row-wise RMS (last axis, keepdims); else lr * RMS(var).
  `m = b1 * m + b2 * g`; `u = (sign(m) + d * var) * lr`;
  `var = (var - c) * s + c if is_nan else var - u`.

Not a copy of the reference: a re-derivation in numpy, kept in this repository
only to regenerate `tests/data/optim/tiger_golden.rs`. CI does not run Python.

Regenerate (numpy >= 1.24):

    python3 tests/reference/tiger_reference.py > tests/data/optim/tiger_golden.rs
"""

import numpy as np

F32 = np.float32


def schedule_value(t, schedule, from_zero=True):
    points = sorted(schedule.items())
    if from_zero and points[0][0] != 0:
        points = [(0, 0.0)] + points
    tf = F32(t)
    x = F32(points[0][1])
    last = len(points) - 1
    for i, (key, value) in enumerate(points):
        previous = x
        if i < last:
            next_key, next_value = points[i + 1]
            slope = 1.0 * (next_value - value) / (next_key - key)
            candidate = F32(value) + F32(slope) * (tf - F32(key))
        else:
            candidate = F32(value)
        x = candidate if tf >= F32(key) else previous
    return F32(x)


def rms(x, axis=None):
    sq = np.square(x, dtype=F32)
    mean = np.mean(sq, axis=axis, keepdims=axis is not None, dtype=F32)
    return np.sqrt(mean, dtype=F32)


def tiger_micro_step(theta, m, g, t, cfg, kind, row_len):
    """One micro-step on one tensor; returns new (theta, m). All float32."""
    k = cfg["accum"]
    beta = cfg["beta"]
    b1 = F32(beta) if t % k == 0 else F32(1.0)
    b2 = F32((1.0 - beta) / k)
    lr = F32(cfg["lr"]) * schedule_value(t, cfg["schedule"])
    if (t + 1) % k != 0:
        lr = F32(0.0)
    d = F32(cfg["weight_decay"])
    s = F32(cfg["shrink"])

    nan = bool(np.isnan(g).any())
    if nan:
        b1 = F32(1.0)
        g = np.zeros_like(g)

    c = F32(0.0)
    if kind in ("bias", "gamma"):
        lr = lr * F32(0.5)
        d = F32(0.0)
        if kind == "gamma":
            c = F32(1.0)
        eta = lr
    elif kind == "embedding":
        rows = theta.reshape(-1, row_len)
        eta = (lr * rms(rows, axis=-1)).repeat(row_len, axis=-1).reshape(-1)
    else:
        eta = lr * rms(theta)

    m_new = (b1 * m + b2 * g).astype(F32)
    u = ((np.sign(m_new) + d * theta) * eta).astype(F32)
    if nan:
        theta_new = ((theta - c) * s + c).astype(F32)
    else:
        theta_new = (theta - u).astype(F32)
    return theta_new, m_new


def bits(a):
    return ", ".join("0x%08x" % v for v in np.asarray(a, dtype=F32).view(np.uint32))


RUST_KIND = {
    "matrix": "ParamKind::Matrix",
    "bias": "ParamKind::Bias",
    "gamma": "ParamKind::Gamma",
}


def case(name, kind, n, steps, cfg, rng, row_len=0, nan_steps=(), zero_grad=(),
         theta_centre=0.0, theta_scale=0.5, zero_row=None, grad_scale=1.0):
    theta = (theta_centre + theta_scale * rng.standard_normal(n)).astype(F32)
    if zero_row is not None:
        theta[zero_row * row_len:(zero_row + 1) * row_len] = 0.0
    m = np.zeros(n, dtype=F32)
    grads, thetas, ms = [], [], []
    theta0 = theta.copy()
    for t in range(steps):
        g = (grad_scale * rng.standard_normal(n)).astype(F32)
        for (step, idx) in zero_grad:
            if step == t:
                g[idx] = 0.0
        if t in nan_steps:
            g[(t * 7) % n] = np.nan
        theta, m = tiger_micro_step(theta, m, g, t, cfg, kind, row_len)
        grads.append(g)
        thetas.append(theta.copy())
        ms.append(m.copy())
    if kind == "embedding":
        rust_kind = "ParamKind::Embedding { row_len: %d }" % row_len
    else:
        rust_kind = RUST_KIND[kind]
    sched = ", ".join("(%d, %r)" % (k_, float(v)) for k_, v in sorted(cfg["schedule"].items()))
    out = []
    out.append("    GoldenCase {")
    out.append("        name: %r," % name)
    out[-1] = '        name: "%s",' % name
    out.append("        kind: %s," % rust_kind)
    out.append("        lr: %r," % cfg["lr"])
    out.append("        beta: %r," % cfg["beta"])
    out.append("        weight_decay: %r," % cfg["weight_decay"])
    out.append("        shrink: %r," % cfg["shrink"])
    out.append("        accum: %d," % cfg["accum"])
    out.append("        schedule: &[%s]," % sched)
    out.append("        theta0: &[%s]," % bits(theta0))
    out.append("        grads: &[%s]," % ", ".join("&[%s]" % bits(g) for g in grads))
    out.append("        theta: &[%s]," % ", ".join("&[%s]" % bits(x) for x in thetas))
    out.append("        m: &[%s]," % ", ".join("&[%s]" % bits(x) for x in ms))
    out.append("    },")
    return "\n".join(out)


def cfg(lr=1e-3, beta=0.965, weight_decay=0.01, accum=1, schedule=None, shrink=0.99):
    return {"lr": lr, "beta": beta, "weight_decay": weight_decay, "accum": accum,
            "schedule": schedule if schedule is not None else {0: 1}, "shrink": shrink}


def main():
    rng = np.random.default_rng(20230307)
    cases = [
        case("matrix_k1_schedule", "matrix", 12, 6,
             cfg(lr=0.02, schedule={2: 1, 5: 0.5}), rng, zero_grad=[(0, 3), (1, 3)]),
        case("embedding_k1_zero_row", "embedding", 12, 5,
             cfg(lr=0.01, beta=0.945), rng, row_len=3, zero_row=2),
        case("bias_k1_nan", "bias", 5, 5, cfg(lr=0.01), rng, nan_steps=(3,)),
        case("gamma_k1_nan", "gamma", 5, 6, cfg(lr=0.01, schedule={3: 1, 6: 0.1}), rng,
             nan_steps=(2,), theta_centre=1.0, theta_scale=0.1),
        case("matrix_k3_nan_first_and_middle", "matrix", 6, 9,
             cfg(lr=0.01, accum=3), rng, nan_steps=(3, 7)),
        case("embedding_k3_nan_last", "embedding", 6, 6,
             cfg(lr=0.01, accum=3, weight_decay=0.1), rng, row_len=2, nan_steps=(5,)),
        case("bias_k3_schedule", "bias", 4, 6, cfg(lr=0.01, accum=3, schedule={4: 1}), rng),
        case("gamma_k3_nan_first", "gamma", 4, 6, cfg(lr=0.01, accum=3), rng,
             nan_steps=(0,), theta_centre=1.0, theta_scale=0.1, grad_scale=1e-3),
    ]
    schedules = [
        ({1000: 1, 2000: 0.1}, True),
        ({0: 1}, True),
        ({2: 1, 5: 0.5}, True),
        ({10: 0.5, 20: 1.0}, False),
        ({10: 0.5, 20: 1.0}, True),
        ({5: 2, 7: 0, 9: 0.25}, True),
    ]
    times = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 333, 999, 1000, 1001, 1500, 1999, 2000, 5000]
    print("// Generated by tests/reference/tiger_reference.py (numpy %s); do not edit." % np.__version__)
    print("// Regenerate: python3 tests/reference/tiger_reference.py > tests/data/optim/tiger_golden.rs")
    print("// f32 values as IEEE bit patterns.")
    print()
    print("const CASES: &[GoldenCase] = &[")
    for c in cases:
        print(c)
    print("];")
    print()
    print("const SCHEDULES: &[GoldenSchedule] = &[")
    for sched, from_zero in schedules:
        pts = ", ".join("(%d, %r)" % (k_, float(v)) for k_, v in sorted(sched.items()))
        vals = ", ".join("(%d, 0x%08x)" % (t, np.array([schedule_value(t, sched, from_zero)], dtype=F32).view(np.uint32)[0]) for t in times)
        print("    GoldenSchedule {")
        print("        points: &[%s]," % pts)
        print("        from_zero: %s," % ("true" if from_zero else "false"))
        print("        values: &[%s]," % vals)
        print("    },")
    print("];")


if __name__ == "__main__":
    main()
