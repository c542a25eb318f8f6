"""Compiled stochastic step of the SEIR binomial chain (numba, no GIL).

One call advances one block of members by one step: for every (commune, member) it draws
the transitions of :mod:`models.seir` in a fixed order from the block's own
``numpy.random.Generator``, so the result depends only on the generator's seed.

Binomial draws: inversion (sequential search of the exact pmf, as numpy does) when the
smaller of ``n p`` and ``n (1 - p)`` is below 14, else numba's port of numpy's exact BTPE
sampler (``Generator.binomial``). Both are exact samplers of ``Binomial(n, p)``.

With a finite ``normal_min_variance`` (the ``"normal"`` sampler of :func:`models.seir.simulate`)
draws whose variance ``n p (1 - p)`` reaches it use the normal approximation instead,
``round(n p + sqrt(n p (1 - p)) z)`` clipped to ``[0, n]``: at variance 25 its skewness error
is at most 0.2 and its mean and variance match to ``O(1/n)``. Small counts, where chance
matters (introductions, fade-out), are always drawn exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_INVERSION_MAX_MEAN = 14.0


@numba.njit(nogil=True, cache=True)
def _binomial(gen, n, p):  # type: ignore[no-untyped-def]
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    if n * pp < _INVERSION_MAX_MEAN:
        q = 1.0 - pp
        s = pp / q
        a = (n + 1) * s
        first = math.exp(n * math.log1p(-pp))
        bound = n  # a round-off overshoot past n (probability ~1e-15) redraws
        while True:
            r = first
            u = gen.random()
            x = 0
            while u > r:
                u -= r
                x += 1
                if x > bound:
                    break
                r *= a / x - s
            if x <= bound:
                break
        result = x
    else:
        result = gen.binomial(n, pp)
    return n - result if flip else result


@numba.njit(nogil=True, cache=True, inline="always")
def _draw(gen, n, p, normal_min_variance):  # type: ignore[no-untyped-def]
    # skip the call for empty compartments: a call carrying the generator costs ~20 ns
    if n <= 0 or p <= 0.0:
        return 0
    variance = n * p * (1.0 - p)
    if variance >= normal_min_variance:
        value = round(n * p + math.sqrt(variance) * gen.standard_normal())
        return int(min(max(value, 0.0), n))
    return _binomial(gen, n, p)


@numba.njit(nogil=True, cache=True)
def stochastic_step(  # type: ignore[no-untyped-def]
    gen,
    x,
    lam_dt,
    ve1,
    ve2,
    p_e,
    pa,
    p_a_leave,
    q_a,
    p_s_leave,
    q_s,
    p_q,
    d1,
    d2,
    inf_day,
    det_day,
    nv,
):
    """Advance ``x`` (compartment, commune, member) in place by one step."""
    n_communes = x.shape[1]
    n_members = x.shape[2]
    for i in range(n_communes):
        for m in range(n_members):
            lam = lam_dt[i, m]
            s0 = x[0, i, m]
            v1 = x[1, i, m]
            v2 = x[2, i, m]
            e = x[3, i, m]
            ia = x[4, i, m]
            is_ = x[5, i, m]
            q = x[6, i, m]
            inf_s = _draw(gen, s0, -math.expm1(-lam), nv)
            inf_1 = _draw(gen, v1, -math.expm1(-(1.0 - ve1) * lam), nv)
            inf_2 = _draw(gen, v2, -math.expm1(-(1.0 - ve2) * lam), nv)
            e_out = _draw(gen, e, p_e, nv)
            e_to_a = _draw(gen, e_out, pa, nv)
            a_out = _draw(gen, ia, p_a_leave[i, m], nv)
            a_to_q = _draw(gen, a_out, q_a[i, m], nv)
            s_out = _draw(gen, is_, p_s_leave[i, m], nv)
            s_to_q = _draw(gen, s_out, q_s[i, m], nv)
            q_out = _draw(gen, q, p_q, nv)
            new_inf = inf_s + inf_1 + inf_2
            s0 -= inf_s
            v1 -= inf_1
            v2 -= inf_2
            vac1 = min(d1[i, m], s0)
            vac2 = min(d2[i, m], v1)
            x[0, i, m] = s0 - vac1
            x[1, i, m] = v1 + vac1 - vac2
            x[2, i, m] = v2 + vac2
            x[3, i, m] = e + new_inf - e_out
            x[4, i, m] = ia + e_to_a - a_out
            x[5, i, m] = is_ + (e_out - e_to_a) - s_out
            x[6, i, m] = q + a_to_q + s_to_q - q_out
            x[7, i, m] += (a_out - a_to_q) + (s_out - s_to_q) + q_out
            inf_day[i, m] += new_inf
            det_day[i, m] += a_to_q + s_to_q


def broadcast_2d(value: np.ndarray | float, shape: tuple[int, int]) -> np.ndarray:
    """Broadcast a scalar or ``(n|1, m|1)`` array to ``shape`` as C-contiguous float64."""
    # contiguous arrays keep a single compiled signature of the kernel
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.float64), shape))


def broadcast_2d_int(value: np.ndarray | float, shape: tuple[int, int]) -> np.ndarray:
    """Broadcast a scalar or ``(n|1, m|1)`` array to ``shape`` as C-contiguous int64."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.int64), shape))
