"""Compiled stochastic steps of the SEIR binomial chain (numba, no GIL).

Random numbers
--------------
Every ensemble member has its own stream: a xoshiro256** generator (Blackman and Vigna
2018, the reference algorithm of https://prng.di.unimi.it/) whose 256-bit state is drawn
from the caller's ``numpy.random.Generator``. A member's draws therefore depend only on the
caller's seed and the member's index, not on how members are split into blocks or threads.
xoshiro256** is inlined into the compiled loop (about 1.5 ns a number against 5 ns for a
call through numpy's bit generator), which is why the loop does not use numpy's generator.

Binomial draws (all exact unless the normal approximation is asked for)
-----------------------------------------------------------------------
Each commune, member and step draws up to ten binomials in a fixed order (S, V1, V2 -> E;
E out and its share to Ia; Ia out and its share to Q; Is out and its share to Q; Q out);
empty compartments and zero probabilities use no randomness. The ten go through one inlined
copy of the sampler (a loop over the draw sites) rather than ten calls: no call overhead,
one copy of the code to compile. By draw site and count:

* Alias tables (Walker 1977; Vose 1991 construction) at the sites whose probability is the
  same in every cell of the step (E out, to Ia, Q out always; Ia/Is out and to Q when
  tracing does not vary by commune or member): a count ``n <= 64`` costs one 64-bit random
  number (the value by Lemire's multiply-shift, the keep-or-alias uniform from the low
  bits), one table entry (cut and alias side by side, one cache line) and no branch on the
  outcome; ``64 < n <= 6 * 64`` is drawn as a sum of table draws, ``Binomial(64, p) + ...
  + Binomial(rest, p)`` (independent binomials with the same ``p`` add up to a binomial;
  not with the normal approximation on, which is cheaper there).
  The tables hold the pmf in double precision (from ``lgamma``), so they are exact up to
  its round-off; they are rebuilt only when a probability changes (:func:`alias_tables`).
  In the province benchmark they take 3.2 of the 4.7 non-trivial draws of a cell.
* Otherwise, with ``p' = min(p, 1 - p)`` (the draw is mirrored when ``p > 1/2``):

  - ``n p' < 10``: inversion, a sequential search of the pmf from 0 (as numpy does for
    small means). Its uniform is first compared with ``1 + y + y^2/2 + y^3/6 <= exp(y) =
    P(0)``, ``y = n log(1 - p')``: most small-mean draws are 0 and are decided there
    without a call to ``exp`` (the S -> E draw, whose probability changes with every cell,
    does this before it even computes ``p = 1 - exp(-lambda)``);
  - ``n p' >= 10``: BTRS, the transformed rejection sampler with squeeze of Hörmann W.
    (1993), "The generation of binomial random variates", J. Stat. Comput. Simul.
    46:101-110 (the algorithm of TensorFlow and JAX): a proposal costs two uniforms and
    one division; the squeeze accepts about half of them at mean 20 and 70-85% at means of
    100-1,000. The others take the exact test ``h <= pmf(k) / pmf(mode)``: when ``|k -
    mode| <= 40`` the ratio is the product of the ratios of consecutive pmf values
    (``(n - j + 1) p / (j q)``, no logarithm; each factor is <= 1 away from the mode, so
    the product stops as soon as it falls below ``h``), beyond that Stirling's series for
    the log-factorials as in Hörmann's paper.

Calls to libm (``exp``, ``log``, ``expm1``) are what the hot loop avoids: besides their own
cost they force every live floating-point register to be saved around the call.

With a finite ``normal_min_variance`` (the ``"normal"`` sampler of :func:`models.seir.simulate`)
draws whose variance ``n p (1 - p)`` reaches it use the normal approximation instead,
``round(n p + sqrt(n p (1 - p)) z)`` clipped to ``[0, n]``: at variance 25 its skewness error
is at most 0.2 and its mean and variance match to ``O(1/n)``; ``z`` comes from the
ziggurat of Marsaglia and Tsang (2000) with numpy's 256-layer tables. Small counts, where
chance matters (introductions, fade-out), are always drawn exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_INVERSION_MAX_MEAN = 10.0  # BTRS is valid for n p >= 10 (Hörmann 1993)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
# 1/x for the inversion's pmf recurrence: a multiplication instead of a division in the loop
# (a frozen constant in the compiled code; the search rarely passes x = 40)
_RECIPROCALS = np.array([0.0] + [1.0 / x for x in range(1, 64)])


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    # Marsaglia G. and Tsang W.W. (2000), "The ziggurat method for generating random
    # variables", J. Stat. Softw. 5(8): 256 layers of equal area v, base layer edge r, on 52
    # random bits (the tables numpy's standard_normal uses, recomputed here)
    r = 3.6541528853610088
    v = r * math.exp(-0.5 * r * r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2.0))
    m1 = 2.0**52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = r
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64((dn / q) * m1)
    wi[0], wi[255] = q / m1, dn / m1
    fi[0], fi[255] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((dn / tn) * m1)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi, r


_ZIG_K, _ZIG_W, _ZIG_F, _ZIG_R = _ziggurat_tables()


@numba.njit(inline="always")
def _rotl(x, k):  # type: ignore[no-untyped-def]
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


# The generator state travels as a tuple of four uint64 by value (in registers): passing an
# array into the samplers would cost a reference-count update per call (~25 ns, more than a
# draw).


@numba.njit(inline="always")
def _next_u64(rs):  # type: ignore[no-untyped-def]
    # xoshiro256** (reference: https://prng.di.unimi.it/xoshiro256starstar.c)
    s0, s1, s2, s3 = rs
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, (s0, s1, s2, s3)


@numba.njit(inline="always")
def uniform(rs):  # type: ignore[no-untyped-def]
    """Return a uniform double in ``[0, 1)`` (53 random bits) and the new state."""
    r, rs = _next_u64(rs)
    return float(r >> np.uint64(11)) * _TO_UNIT, rs


@numba.njit
def standard_normal(rs):  # type: ignore[no-untyped-def]
    """Return a standard normal draw (ziggurat, as numpy's) and the new state."""
    while True:
        bits, rs = _next_u64(rs)
        idx = bits & np.uint64(0xFF)
        bits >>= np.uint64(8)
        negative = (bits & np.uint64(1)) != 0
        rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = float(rabs) * _ZIG_W[idx]
        if negative:
            x = -x
        if rabs < _ZIG_K[idx]:
            return x, rs  # inside the layer's rectangle: 99% of draws
        if idx == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                u1, rs = uniform(rs)
                u2, rs = uniform(rs)
                xx = -math.log1p(-u1) / _ZIG_R
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return (-(_ZIG_R + xx) if negative else _ZIG_R + xx), rs
        u, rs = uniform(rs)
        if (_ZIG_F[idx - 1] - _ZIG_F[idx]) * u + _ZIG_F[idx] < math.exp(-0.5 * x * x):
            return x, rs


@numba.njit
def _stirling_tail(k):  # type: ignore[no-untyped-def]
    # log(k!) minus its Stirling approximation (k + 1/2) log(k + 1) - (k + 1) + log(2 pi) / 2
    if k <= 9:
        return math.lgamma(k + 1.0) - (k + 0.5) * math.log(k + 1.0) + (k + 1.0) - _HALF_LOG_2PI
    inv = 1.0 / (k + 1.0)  # one division: this runs on every exact acceptance test
    inv2 = inv * inv
    return (1.0 / 12 - (1.0 / 360 - inv2 * (1.0 / 1260)) * inv2) * inv


@numba.njit(inline="always")
def _exp_lower(y):  # type: ignore[no-untyped-def]
    # 1 + y + y^2/2 + y^3/6 <= exp(y) for every y (the Taylor remainder y^4 exp(t)/24 >= 0):
    # a uniform below it is below exp(y) without the call to exp
    return 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6.0)))


@numba.njit(inline="always")
def _inversion(rs, n, p, log_q):  # type: ignore[no-untyped-def]
    # p <= 1/2, n p < 10; log_q = log(1 - p)
    y = n * log_q
    u, rs = uniform(rs)
    if u <= _exp_lower(y):  # u <= P(0) = exp(y): most small-mean draws stop here
        return 0, rs
    first = math.exp(y)
    if u <= first:
        return 0, rs
    return _inversion_from(rs, n, p, first, u - first)


@numba.njit(inline="always")
def _inversion_from(rs, n, p, first, u):  # type: ignore[no-untyped-def]
    # sequential search of the pmf after the uniform has passed 0: u is what is left of it
    # (pmf(0) = first already subtracted); p <= 1/2
    s = p / (1.0 - p)
    a = (n + 1) * s
    r = first * (a - s)  # pmf(1)
    x = 1
    while True:
        while u > r:
            u -= r
            x += 1
            if x > n:  # round-off overshoot (probability ~1e-15): redraw
                break
            r *= (a * _RECIPROCALS[x] if x < 64 else a / x) - s
        if x <= n:
            return x, rs
        u, rs = uniform(rs)
        r = first
        x = 0


_DRAWS = 10  # binomial draws per commune, member and step
_TABLE_PARTS = 6  # counts up to this many times the table size: a sum of table draws
_RATIO_MAX_STEPS = 40  # exact test by the pmf recurrence when |k - mode| is at most this


@numba.njit(inline="always")
def _btrs(rs, n, p):  # type: ignore[no-untyped-def]
    # p <= 1/2, n p >= 10 (Hörmann 1993, algorithm BTRS)
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    two_a = 2.0 * a
    mode = -1
    r = alpha = 0.0
    while True:
        u, rs = uniform(rs)
        v, rs = uniform(rs)
        u -= 0.5
        us = 0.5 - abs(u)
        k = int(math.floor((two_a / us + b) * u + c))
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k, rs
        if mode < 0:
            mode = int(math.floor((n + 1) * p))
            r = p / q
            alpha = (2.83 + 5.1 / b) * spq
        # accept when the scaled hat h at k lies under pmf(k) / pmf(mode)
        h = v * alpha / (a / (us * us) + b)
        d = k - mode
        if -_RATIO_MAX_STEPS <= d <= _RATIO_MAX_STEPS:
            # pmf(k) / pmf(mode) as a product of the ratios of consecutive pmf values, each
            # <= 1 away from the mode, so the product only falls: stop as soon as it is < h
            f = 1.0
            if d > 0:
                for j in range(mode + 1, k + 1):
                    f *= (n - j + 1) * r / j
                    if f < h:
                        break
            else:
                for j in range(mode, k, -1):
                    f *= j / ((n - j + 1) * r)
                    if f < h:
                        break
            if h <= f:
                return k, rs
            continue
        mode_term = (
            (mode + 0.5) * math.log((mode + 1) / (r * (n - mode + 1)))
            + _stirling_tail(mode)
            + _stirling_tail(n - mode)
        )
        bound = (
            mode_term
            + (n + 1) * math.log((n - mode + 1) / (n - k + 1))
            + (k + 0.5) * math.log(r * (n - k + 1) / (k + 1))
            - _stirling_tail(k)
            - _stirling_tail(n - k)
        )
        if math.log(h) <= bound:
            return k, rs


@numba.njit(inline="always")
def _binomial(rs, n, p, log_q, normal_min_variance):  # type: ignore[no-untyped-def]
    # Binomial(n, p) and the new generator state; inlined at its one call site per caller

    # log_q = log(max(p, 1 - p)), precomputed by the caller (the only log the inversion needs)
    if n <= 0 or p <= 0.0:
        return 0, rs
    if p >= 1.0:
        return n, rs
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    mean = n * pp
    variance = mean * (1.0 - pp)
    if variance >= normal_min_variance:
        z, rs = standard_normal(rs)
        value = round(n * p + math.sqrt(variance) * z)
        return int(min(max(value, 0.0), n)), rs
    if mean < _INVERSION_MAX_MEAN:
        k, rs = _inversion(rs, n, pp, log_q)
    else:
        k, rs = _btrs(rs, n, pp)
    return (n - k if flip else k), rs


@numba.njit
def binomial(rs, n, p, log_q, normal_min_variance):  # type: ignore[no-untyped-def]
    """Draw ``Binomial(n, p)``; return the draw and the new generator state.

    ``log_q`` is ``log(max(p, 1 - p))``, precomputed by the caller (the log of
    ``1 - min(p, 1 - p)``, the only log the inversion needs).
    """
    return _binomial(rs, n, p, log_q, normal_min_variance)


@numba.njit(inline="always")
def _table_draw(rs, table, j, c):  # type: ignore[no-untyped-def]
    # alias method (Walker 1977) on the table of count c of site j (see alias_tables): one
    # 64-bit number r gives both the value 0..c, floor(r (c + 1) / 2^64) (Lemire 2019: a
    # bias of at most (c + 1) / 2^64), and the uniform that keeps it or takes its alias, the
    # low 64 bits of r (c + 1) (uniform on a grid of step (c + 1) / 2^64 whatever the value)
    r, rs = _next_u64(rs)
    m = np.uint64(c + 1)  # < 2^32
    high = (r >> np.uint64(32)) * m + (((r & np.uint64(0xFFFFFFFF)) * m) >> np.uint64(32))
    k = np.int64(high >> np.uint64(32))
    v = float((r * m) >> np.uint64(11)) * _TO_UNIT
    cell = ((c * (c + 1)) >> 1) + k
    # branch-free choice: the outcome of v < cut is a coin toss the predictor cannot learn
    alias = int(table[j, cell, 1])  # cut and alias side by side: one cache line
    keep = np.int64(v < table[j, cell, 0])
    return alias + keep * (k - alias), rs


@numba.njit
def log_max(p):  # type: ignore[no-untyped-def]
    """Return ``log(max(p, 1 - p))`` (the ``log_q`` argument of :func:`binomial`)."""
    return math.log(p) if p > 0.5 else math.log1p(-p)


@numba.njit(inline="always")
def _at(arr, i, m):  # type: ignore[no-untyped-def]
    # arrays of shape (n|1, members|1): broadcast without materialising
    return arr[i if arr.shape[0] > 1 else 0, m if arr.shape[1] > 1 else 0]


@numba.njit(nogil=True, cache=True)
def stochastic_step(  # type: ignore[no-untyped-def]
    st,
    x,
    lam_dt,
    consts,
    leave,
    log_leave,
    d1,
    d2,
    inf_day,
    det_day,
    state_day,
    store_idx,
    i_eff,
    normal_min_variance,
    table_n,
    table,
):
    """Advance one block of members by one step, in place.

    Parameters (all arrays C-contiguous)
    ------------------------------------
    st : uint64 (members, 4)
        xoshiro256** state per member of the block (advanced in place).
    x : int64 (commune, member, compartment)
        State, compartments in :data:`models.seir.COMPARTMENTS` order.
    lam_dt : float64 (commune, member)
        Force of infection times the step length.
    consts : float64 (9,)
        ``1 - ve1, 1 - ve2, p_e, log_max(p_e), pa, log_max(pa), p_q, log_max(p_q), rel_a``.
    leave, log_leave : float64 (4, n|1, members|1)
        ``p_a_leave, q_a, p_s_leave, q_s`` and their :func:`log_max`.
    d1, d2 : int64 (n|1, members|1)
        Doses of the step.
    inf_day, det_day : float32 (member, commune), any strides
        The day's new infections and detections, added to (views into the output).
    state_day : float32 (member, commune, stored compartment), any strides
        Written with the state after the step when ``store_idx`` is not empty.
    store_idx : int64 (stored compartment,)
        Compartments to write into ``state_day``.
    i_eff : float64 (commune, member)
        Output: ``Is + rel_a * Ia`` after the step.
    normal_min_variance : float
        ``inf`` for exact draws.
    table_n, table : int64 (10,), float64 (10, T, 2)
        From :func:`alias_tables`: draw ``j`` (in the kernel's order) of a count up to
        ``table_n[j]`` is drawn from its alias table.

    Members draw in commune order from their own streams, so the result of a member does not
    depend on the other members of its block. Empty compartments and zero probabilities skip
    the sampler call altogether (no randomness is used for them).
    """
    nv = normal_min_variance
    # the normal approximation is cheaper than a sum of table draws: there only n <= 64
    # (variance <= 16, drawn exactly anyway) comes from the tables
    parts = _TABLE_PARTS if nv == math.inf else 1
    per_commune = leave.shape[1] > 1
    per_member = leave.shape[2] > 1
    s1, s2, rel_a = consts[0], consts[1], consts[8]
    # the ten draws of a cell, in this order, from one inlined sampler (one copy of its code
    # instead of ten): S, V1, V2 -> E; E out, its share to Ia; Ia out, its share to Q; Is
    # out, its share to Q; Q out. A share's count is the draw before it.
    count = np.zeros(_DRAWS, dtype=np.int64)
    prob = np.zeros(_DRAWS)
    log_q = np.zeros(_DRAWS)
    got = np.zeros(_DRAWS, dtype=np.int64)
    prob[3], log_q[3], prob[4], log_q[4] = consts[2], consts[3], consts[4], consts[5]
    prob[9], log_q[9] = consts[6], consts[7]
    for j in range(4):
        prob[5 + j], log_q[5 + j] = leave[j, 0, 0], log_leave[j, 0, 0]
    for i in range(x.shape[0]):
        li = i if per_commune else 0
        for m in range(x.shape[1]):
            lm = m if per_member else 0
            lam = lam_dt[i, m]
            s0 = x[i, m, 0]
            v1 = x[i, m, 1]
            v2 = x[i, m, 2]
            e = x[i, m, 3]
            ia = x[i, m, 4]
            is_ = x[i, m, 5]
            q = x[i, m, 6]
            if lam > 0.0 or e > 0 or ia > 0 or is_ > 0 or q > 0:
                rs = (st[m, 0], st[m, 1], st[m, 2], st[m, 3])
                count[0] = count[1] = count[2] = 0
                inf_pre = 0  # the S -> E draw when taken before the loop
                if lam > 0.0:
                    # P(infected) = 1 - exp(-s lam); log(1 - P) = -s lam while P <= 1/2
                    y = -s0 * lam
                    if s0 > 0 and lam <= 0.5 and y > -_INVERSION_MAX_MEAN:
                        # mean s0 P <= s0 lam < 10 and P <= 1/2: inversion, whose uniform
                        # decides most of these draws (0) before any exp or expm1
                        u, rs = uniform(rs)
                        if u > _exp_lower(y):
                            first = math.exp(y)
                            if u > first:
                                pr = -math.expm1(-lam)
                                inf_pre, rs = _inversion_from(rs, s0, pr, first, u - first)
                    elif s0 > 0:
                        count[0] = s0
                        prob[0] = pr = -math.expm1(-lam)
                        log_q[0] = -lam if pr <= 0.5 else math.log(pr)
                    if v1 > 0 and s1 > 0.0:
                        count[1] = v1
                        prob[1] = pr = -math.expm1(-s1 * lam)
                        log_q[1] = -s1 * lam if pr <= 0.5 else math.log(pr)
                    if v2 > 0 and s2 > 0.0:
                        count[2] = v2
                        prob[2] = pr = -math.expm1(-s2 * lam)
                        log_q[2] = -s2 * lam if pr <= 0.5 else math.log(pr)
                count[3] = e
                count[5] = ia
                count[7] = is_
                count[9] = q
                if per_commune or per_member:
                    for j in range(4):
                        prob[5 + j], log_q[5 + j] = leave[j, li, lm], log_leave[j, li, lm]
                for j in range(_DRAWS):
                    k = 0
                    c = count[j]
                    if c > 0:
                        tn = table_n[j]
                        if c <= tn * parts:
                            # Binomial(c, p) is the sum of Binomial(tn, p) draws and one of
                            # what is left (independent counts with the same probability)
                            while c > tn:
                                part, rs = _table_draw(rs, table, j, tn)
                                k += part
                                c -= tn
                            part, rs = _table_draw(rs, table, j, c)
                            k += part
                        else:
                            k, rs = _binomial(rs, c, prob[j], log_q[j], nv)
                    got[j] = k
                    if j == 3 or j == 5 or j == 7:
                        count[j + 1] = k
                st[m, 0], st[m, 1], st[m, 2], st[m, 3] = rs
                inf_s, inf_1, inf_2 = got[0] + inf_pre, got[1], got[2]
                e_out, e_to_a, a_out, a_to_q = got[3], got[4], got[5], got[6]
                s_out, s_to_q, q_out = got[7], got[8], got[9]
            else:
                inf_s = inf_1 = inf_2 = e_out = e_to_a = a_out = a_to_q = s_out = s_to_q = 0
                q_out = 0
            new_inf = inf_s + inf_1 + inf_2
            s0 -= inf_s
            v1 -= inf_1
            v2 -= inf_2
            vac1 = min(_at(d1, i, m), s0)
            vac2 = min(_at(d2, i, m), v1)
            ia_new = ia + e_to_a - a_out
            is_new = is_ + (e_out - e_to_a) - s_out
            x[i, m, 0] = s0 - vac1
            x[i, m, 1] = v1 + vac1 - vac2
            x[i, m, 2] = v2 + vac2
            x[i, m, 3] = e + new_inf - e_out
            x[i, m, 4] = ia_new
            x[i, m, 5] = is_new
            x[i, m, 6] = q + a_to_q + s_to_q - q_out
            x[i, m, 7] += (a_out - a_to_q) + (s_out - s_to_q) + q_out
            inf_day[m, i] += new_inf
            det_day[m, i] += a_to_q + s_to_q
            i_eff[i, m] = is_new + rel_a * ia_new
            for k in range(store_idx.shape[0]):
                state_day[m, i, k] = x[i, m, store_idx[k]]


@numba.njit(nogil=True, cache=True)
def csr_matmul(indptr, indices, data, x):  # type: ignore[no-untyped-def]
    """Return ``A @ x`` for ``A`` in CSR form and ``x`` of shape ``(n, members)``.

    Rows of ``x`` that are zero in every member (communes without infectious people, most
    of them before and after the wave) are skipped.
    """
    n_rows = indptr.shape[0] - 1
    n_members = x.shape[1]
    nonzero = np.zeros(x.shape[0], dtype=np.bool_)
    for j in range(x.shape[0]):
        for m in range(n_members):
            if x[j, m] != 0.0:
                nonzero[j] = True
                break
    out = np.zeros((n_rows, n_members))
    for i in range(n_rows):
        row = out[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if nonzero[j]:
                v = data[k]
                src = x[j]
                for m in range(n_members):
                    row[m] += v * src[m]
    return out


@numba.njit(nogil=True, cache=True)
def binomial_draws(st, n, p, normal_min_variance):  # type: ignore[no-untyped-def]
    """Return one draw of ``Binomial(n[k], p[k])`` from stream ``st[k]`` per ``k`` (tests)."""
    out = np.empty(n.shape[0], dtype=np.int64)
    for k in range(n.shape[0]):
        rs = (st[k, 0], st[k, 1], st[k, 2], st[k, 3])
        out[k], rs = _binomial(rs, n[k], p[k], log_max(p[k]), normal_min_variance)
        st[k, 0], st[k, 1], st[k, 2], st[k, 3] = rs
    return out


@numba.njit(cache=True)
def alias_tables(probs, max_n):  # type: ignore[no-untyped-def]
    """Return alias tables of ``Binomial(n, probs[j])`` for ``n = 1..max_n``.

    Parameters
    ----------
    probs : float64 (slots,)
        Probability of each draw site; a value outside ``(0, 1)`` (e.g. NaN) gets no table.
    max_n : int
        Largest count tabled.

    Returns
    -------
    table_n : int64 (slots,)
        ``max_n`` where a table was built, else 0.
    table : float64 (slots, (max_n + 1) (max_n + 2) / 2, 2)
        The table of ``n`` in entries ``n (n + 1) / 2 + k``, ``k = 0..n``: value ``k`` is kept
        when a uniform is below ``table[..., 0]``, else replaced by ``table[..., 1]`` (Vose's
        construction, M. D. Vose 1991, IEEE Trans. Softw. Eng. 17:972, on the pmf in double
        precision: the draws follow the binomial pmf up to its round-off).
    """
    slots = probs.shape[0]
    size = (max_n + 1) * (max_n + 2) // 2
    table_n = np.zeros(slots, dtype=np.int64)
    table = np.ones((slots, size, 2))
    small = np.empty(max_n + 1, dtype=np.int64)
    large = np.empty(max_n + 1, dtype=np.int64)
    w = np.empty(max_n + 1)
    for j in range(slots):
        p = probs[j]
        if not (0.0 < p < 1.0):
            continue
        table_n[j] = max_n
        lp, lq = math.log(p), math.log1p(-p)
        for n in range(1, max_n + 1):
            base = n * (n + 1) // 2
            total = 0.0
            for k in range(n + 1):
                w[k] = math.exp(
                    math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)
                    + k * lp + (n - k) * lq
                )  # fmt: skip
                total += w[k]
            ns = nl = 0
            for k in range(n + 1):
                w[k] *= (n + 1) / total  # mean 1 per cell
                table[j, base + k, 1] = k
                if w[k] < 1.0:
                    small[ns] = k
                    ns += 1
                else:
                    large[nl] = k
                    nl += 1
            while ns > 0 and nl > 0:
                ns -= 1
                lo = small[ns]
                hi = large[nl - 1]
                table[j, base + lo, 0] = w[lo]
                table[j, base + lo, 1] = hi
                w[hi] -= 1.0 - w[lo]
                if w[hi] < 1.0:
                    nl -= 1
                    small[ns] = hi
                    ns += 1
            # what is left is 1 up to round-off: keep the value itself
            for i in range(ns):
                table[j, base + small[i], 0] = 1.0
            for i in range(nl):
                table[j, base + large[i], 0] = 1.0
    return table_n, table


@numba.njit(nogil=True, cache=True)
def table_draws(st, n, p, max_n):  # type: ignore[no-untyped-def]
    """Return one draw of ``Binomial(n[k], p)`` per ``k`` by the kernel's alias tables (tests)."""
    table_n, table = alias_tables(np.array([p]), max_n)
    out = np.empty(n.shape[0], dtype=np.int64)
    for k in range(n.shape[0]):
        rs = (st[k, 0], st[k, 1], st[k, 2], st[k, 3])
        out[k], rs = _table_draw(rs, table, 0, n[k])
        st[k, 0], st[k, 1], st[k, 2], st[k, 3] = rs
    return out


def member_streams(rng: np.random.Generator, members: int) -> np.ndarray:
    """Draw the xoshiro256** state of each member from ``rng`` (uint64, ``(members, 4)``)."""
    top = np.iinfo(np.uint64).max
    st = rng.integers(0, top, size=(members, 4), dtype=np.uint64, endpoint=True)
    st[~st.any(axis=1), 0] = 1  # the all-zero state is the one invalid seed
    return st
