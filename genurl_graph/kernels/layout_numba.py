"""The ``sne`` loss and its closed-form gradient in one compiled pass (numba), for layouts.

The same sums as :func:`genurl_graph.engine.loss._sne_closed` (its docstring has the maths), but
each pair is visited once, in registers, where the tensor version makes some twenty passes over
the (sources x pool) block and the edges, each a few hundred microseconds at layout sizes: a
digits epoch (1,797 points, 25k edges, 230k pool pairs) falls from 2.6 ms to a fraction of it.

Deterministic whatever the number of threads: the sources are cut into a fixed number of chunks,
each chunk sums its own share of the loss and of the pool rows' gradient, and the chunks are
added in order; then each row sums its incoming edges' gradients in edge order (the rows split
between the threads as the chunks are); the pool rows and the loss are added on one thread,
in chunk order. A layout's epochs run as one call (:func:`sne_sgd_epochs`): the calling thread
sets each epoch up, hands the helper threads their ranges, sums and takes the step, with no
Python between the epochs (a third of a small layout's epoch was that Python). The threads are
Python threads running one serial compiled loop (:func:`_work`) on disjoint chunk ranges, not
numba's ``prange``: a ``parallel=True`` function compiled afresh gave other bits than the same
function loaded from numba's disk cache (a layout's first run in a new environment differed
from every later one; numba issue 10617 describes the two being optimised differently), while
serial code compiles to the same result either way (tests/test_engine.py runs both). Between a
layout's calls the helper threads spin in compiled code on an atomic slot (:class:`_Team`), so
a call hands them their ranges without a thread wake-up.

Compiled on first use and cached on disk (numba's ``cache=True``), so only the first call in a
fresh environment pays the compilation (about a second).
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# fastmath's reordering and fused multiply-adds, without its promise of no NaN or inf (which
# lets LLVM drop a NaN test)
_FAST_WITH_NAN = {"reassoc", "contract", "nsz", "arcp", "afn"}
CHUNKS = 16  # fixed source chunks: the pool rows' gradient is summed per chunk, then in order


@numba.njit(cache=True, nogil=True)
def _setup(z, pool, b, hit, nxt, grad, gpool, losses):  # pragma: no cover - compiled
    """A call's start, in a team's buffers: the pool's rows ``b`` (d, m), each node's pool slots
    as a linked list (``hit``/``nxt``), the gradient, the pool rows' gradient per chunk and the
    loss per chunk set to zero."""
    n, d = z.shape
    m = len(pool)
    for k in range(m):
        for t in range(d):
            b[t, k] = z[pool[k], t]
    hit[:] = -1
    nxt[:] = -1
    for k in range(m):
        nxt[k] = hit[pool[k]]
        hit[pool[k]] = k
    grad[:] = 0.0
    gpool[:] = 0.0
    losses[:] = 0.0


@numba.njit(cache=True, fastmath=True, nogil=True, error_model="numpy", inline="always")
def _chunks(
    z, indptr, dst, p, pool, nu, negatives, attraction, b, hit, nxt, ge, qe, grad, gpool, losses,
    rr, one_pass, first, last,
):  # pragma: no cover - compiled  # fmt: skip
    """The source chunks ``first`` to ``last`` (rows of the CSR ``indptr``/``dst``/``p``): each
    row's edges (d2, q, its P mass and the neighbours' share of Z_i), its push over the pool
    (Z_i, r_i = negatives mass_i / Z_i), and its own gradient row; an edge's gradient is kept
    for its destination (added by :func:`_incoming`, in edge order) and the pool rows' per chunk;
    with ``one_pass`` (:func:`_one_pass`) only each row's r_i is kept, for :func:`_incoming`.
    Chunks write disjoint rows and slots: threads may run disjoint chunk ranges at once."""
    n, d = z.shape
    m = len(pool)
    c = np.float32((nu + 1.0) / 2.0)
    two_c = np.float32(2.0) * c
    one = np.float32(1.0)
    nuf = np.float32(nu)
    att = np.float32(attraction)
    scale = np.float32(n / max(m, 1))
    push = negatives > 0 and m > 0
    per = (n + len(losses) - 1) // len(losses)
    d2 = np.empty(m, dtype=np.float32)
    kb = np.empty(m, dtype=np.float32)
    fast = d == 2 and nu == 1.0  # the common layout
    for ch in range(first, last):
        for i in range(ch * per, min((ch + 1) * per, n)):
            lo, hi = indptr[i], indptr[i + 1]
            rr[i] = 0.0
            if lo == hi:
                continue
            mass = np.float32(0.0)
            near = np.float32(0.0)
            pull = np.float32(0.0)
            if fast:  # a loop with no branch, which vectorises
                a0, a1 = z[i, 0], z[i, 1]
                for e in range(lo, hi):
                    j = dst[e]
                    dx, dy = a0 - z[j, 0], a1 - z[j, 1]
                    q = one / (one + dx * dx + dy * dy)
                    qe[e] = q
                    mass += p[e]
                    near += q
            for e in range(lo, hi if not fast else lo):  # any other d and nu
                j = dst[e]
                if d == 2:
                    dx, dy = z[i, 0] - z[j, 0], z[i, 1] - z[j, 1]
                    s2 = dx * dx + dy * dy
                else:
                    s2 = np.float32(0.0)
                    for t in range(d):
                        diff = z[i, t] - z[j, t]
                        s2 += diff * diff
                if nu == 1.0:  # its log(1 + d2) = -log q: after the chunk's rows, vectorised
                    q = one / (one + s2)
                    ge[e, 0] = two_c * q  # 2c / (nu + d2), kept for the gradient below
                else:
                    lp = math.log(one + s2 / nuf)
                    q = math.exp(-c * lp)
                    ge[e, 0] = two_c / (nuf + s2)
                    pull += p[e] * lp
                qe[e] = q
                mass += p[e]
                near += q
            losses[ch] += att * c * pull
            ri = np.float32(0.0)
            if push and mass != 0.0:
                total = np.float32(0.0)
                if d == 2 and nu == 1.0:  # the common layout: one fused pass, in registers
                    a0, a1 = z[i, 0], z[i, 1]
                    b0, b1 = b[0], b[1]  # 1-D rows: the loop vectorises
                    for k in range(m):
                        dx, dy = a0 - b0[k], a1 - b1[k]
                        qk = one / (one + dx * dx + dy * dy)
                        total += qk
                        kb[k] = qk * qk
                else:
                    d2[:] = 0.0
                    for t in range(d):
                        a = z[i, t]
                        for k in range(m):
                            diff = a - b[t, k]
                            d2[k] += diff * diff
                    for k in range(m):
                        qk = _exp(-c * _log(one + d2[k] / nuf))  # vectorises (no libm)
                        total += qk
                        kb[k] = qk * c / (nuf + d2[k])
                k = hit[i]
                while k >= 0:  # the source itself, when drawn, is no pair (its q is 1)
                    total -= one
                    kb[k] = 0.0
                    k = nxt[k]
                w = negatives * mass
                Z = near + scale * total
                losses[ch] += w * math.log(Z)
                ri = np.float32(w / Z)
                coef = np.float32(-2.0) * scale * ri
                if d == 2:
                    a0, a1 = z[i, 0], z[i, 1]
                    b0, b1, gp0, gp1 = b[0], b[1], gpool[ch, 0], gpool[ch, 1]
                    ksum = acc0 = acc1 = np.float32(0.0)
                    for k in range(m):
                        wk = kb[k] * coef
                        ksum += wk
                        acc0 += wk * b0[k]
                        acc1 += wk * b1[k]
                        gp0[k] -= wk * (a0 - b0[k])
                        gp1[k] -= wk * (a1 - b1[k])
                    grad[i, 0] += a0 * ksum - acc0
                    grad[i, 1] += a1 * ksum - acc1
                else:
                    ksum = np.float32(0.0)
                    for k in range(m):
                        kb[k] *= coef
                        ksum += kb[k]
                    for t in range(d):
                        a = z[i, t]
                        acc = np.float32(0.0)
                        for k in range(m):
                            acc += kb[k] * b[t, k]
                            gpool[ch, t, k] -= kb[k] * (a - b[t, k])
                        grad[i, t] += a * ksum - acc
            rr[i] = ri
            if one_pass:  # the edges' gradients: by _incoming, once every r is known
                continue
            if d == 2:  # the row's gradient in registers, added in the same order
                a0, a1 = z[i, 0], z[i, 1]
                g0, g1 = grad[i, 0], grad[i, 1]
                for e in range(lo, hi):
                    j = dst[e]
                    coef = (p[e] * att - ri * qe[e]) * (two_c * qe[e] if fast else ge[e, 0])
                    x0 = coef * (a0 - z[j, 0])
                    x1 = coef * (a1 - z[j, 1])
                    ge[e, 0] = x0
                    ge[e, 1] = x1
                    g0 += x0
                    g1 += x1
                grad[i, 0] = g0
                grad[i, 1] = g1
            else:
                for e in range(lo, hi):
                    j = dst[e]
                    coef = (p[e] * att - ri * qe[e]) * ge[e, 0]
                    for t in range(d):
                        g = coef * (z[i, t] - z[j, t])
                        ge[e, t] = g
                        grad[i, t] += g
        if nu == 1.0:
            first_edge, end_edge = indptr[min(ch * per, n)], indptr[min((ch + 1) * per, n)]
            losses[ch] += att * c * _minus_log_sum(qe, p, first_edge, end_edge)


@numba.njit(cache=True, fastmath=_FAST_WITH_NAN, nogil=True, error_model="numpy")
def _minus_log_sum(q, p, lo, hi):  # pragma: no cover - compiled
    """-sum p_e log q_e over edges ``lo`` to ``hi`` (q in (0, 1]): the nu = 1 pull's loss, by
    :func:`_log` in a loop that vectorises (libm's log, one edge at a time, was a quarter of a
    digits call). NaN when a q is NaN (a diverged layout), which :func:`_log` does not see."""
    out = np.float32(0.0)
    total = np.float32(0.0)
    for e in range(lo, hi):
        out -= p[e] * _log(q[e])
        total += q[e]
    return np.nan if total != total else out


@numba.njit(cache=True, fastmath=_FAST_WITH_NAN, nogil=True, error_model="numpy", inline="always")
def _log(x):  # pragma: no cover - compiled
    """log x for a normal float32 x > 0, within 1.2e-7 relative (a float32 ulp is 6e-8):
    x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m by Cephes' logf polynomial in m - 1. No
    branch and no division, so a loop over it vectorises. Zero, denormals, inf and NaN give
    finite nonsense (about -88 or 89)."""
    bits = np.float32(x).view(np.int32)
    expo = ((bits >> 23) & 0xFF) - 127
    m = np.int32((bits & 0x7FFFFF) | 0x3F800000).view(np.float32)  # in [1, 2)
    big = m > np.float32(1.4142135)
    m = m * np.float32(0.5) if big else m
    expo = expo + 1 if big else expo
    t = m - np.float32(1.0)
    y = np.float32(7.0376836292e-2)
    for coef in _LOGF_POLY:
        y = y * t + np.float32(coef)
    t2 = t * t
    return t + (y * t * t2 - np.float32(0.5) * t2) + np.float32(expo) * np.float32(0.6931472)


@numba.njit(cache=True, fastmath=_FAST_WITH_NAN, nogil=True, error_model="numpy", inline="always")
def _exp(x):  # pragma: no cover - compiled
    """exp x for float32 x <= 0, within 2e-7 relative: x = n log 2 + r, |r| <= log(2) / 2, exp r
    by Cephes' expf polynomial, times 2^n built in the exponent bits (x below -87: about 1e-38,
    not 0). No branch and no division, so a loop over it vectorises."""
    x = max(x, np.float32(-87.0))
    n = math.floor(x * np.float32(1.442695) + np.float32(0.5))
    r = x - n * np.float32(0.693359375) + n * np.float32(2.12194440e-4)
    y = np.float32(1.9875691500e-4)
    for coef in _EXPF_POLY:
        y = y * r + np.float32(coef)
    y = y * r * r + r + np.float32(1.0)
    return y * np.int32((np.int32(n) + 127) << 23).view(np.float32)


_EXPF_POLY = (  # Cephes expf: exp(r) = 1 + r + r^2 P(r), P's coefficients after the first
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
)


_LOGF_POLY = (  # Cephes logf: log(1 + t) = t - t^2 / 2 + t^3 P(t), P's coefficients after the first
    -1.1514610310e-1,
    1.1676998740e-1,
    -1.2420140846e-1,
    1.4249322787e-1,
    -1.6668057665e-1,
    2.0000714765e-1,
    -2.4999993993e-1,
    3.3333331174e-1,
)


@numba.njit(cache=True, nogil=True, inline="always")
def _incoming(
    ge, tptr, tin, grad, lo, hi, z, indptr, dst, p, qe, rr, par, one_pass
):  # pragma: no cover
    """Rows ``lo`` to ``hi``: each row's incoming edges' gradients (``tin``: the edges by
    destination, ``tptr`` its row starts), subtracted in edge order. Rows are disjoint between
    threads, so the pass runs on all of them, after every chunk's edges are done. With
    ``one_pass`` (:func:`_one_pass`: a symmetric P_X, same p both ways, and q is) each row's
    whole edge gradient in one pass over its own edges instead: edge (i, j) and its reverse
    give (2 p att - (r_i + r_j) q) 2c q (z_i - z_j), c = 1."""
    d = ge.shape[1]
    if one_pass:
        att = np.float32(par[2])
        two = np.float32(2.0)
        for i in range(lo, hi):
            a0, a1, ri = z[i, 0], z[i, 1], rr[i]
            g0, g1 = grad[i, 0], grad[i, 1]
            for e in range(indptr[i], indptr[i + 1]):
                j = dst[e]
                q = qe[e]
                coef = (two * p[e] * att - (ri + rr[j]) * q) * two * q
                g0 += coef * (a0 - z[j, 0])
                g1 += coef * (a1 - z[j, 1])
            grad[i, 0], grad[i, 1] = g0, g1
        return
    if d == 2:
        for j in range(lo, hi):
            g0, g1 = grad[j, 0], grad[j, 1]
            for k in range(tptr[j], tptr[j + 1]):
                e = tin[k]
                g0 -= ge[e, 0]
                g1 -= ge[e, 1]
            grad[j, 0], grad[j, 1] = g0, g1
        return
    for j in range(lo, hi):
        for t in range(d):
            g = grad[j, t]
            for k in range(tptr[j], tptr[j + 1]):
                g -= ge[tin[k], t]
            grad[j, t] = g


@numba.njit(cache=True, nogil=True, inline="always")
def _one_pass(par, d):  # pragma: no cover - compiled
    """Whether a pass takes each row's edges both ways at once: a symmetric P_X (``par[3]``) in
    the common layout (d = 2, nu = 1); :func:`_chunks` and :func:`_incoming` both go by it."""
    return par[3] != 0.0 and d == 2 and par[0] == 1.0


@numba.njit(cache=True, nogil=True)
def _finish(pool, grad, gpool, losses):  # pragma: no cover - compiled
    """Add the pool rows' gradients (chunk by chunk); the loss, summed over the chunks in
    order."""
    m, chunks, d = len(pool), len(losses), grad.shape[1]
    for ch in range(chunks):
        for k in range(m):
            for t in range(d):
                grad[pool[k], t] += gpool[ch, t, k]
    loss = 0.0
    for ch in range(chunks):  # in order
        loss += losses[ch]
    return loss


@numba.njit(cache=True)
def _mutual(indptr, dst, p):  # pragma: no cover - compiled
    """Whether every edge (i, j) has its reverse (j, i) with the same p (a symmetric P_X)."""
    for i in range(len(indptr) - 1):
        for e in range(indptr[i], indptr[i + 1]):
            j = dst[e]
            found = False
            for f in range(indptr[j], indptr[j + 1]):
                if dst[f] == i and p[f] == p[e]:
                    found = True
                    break
            if not found:
                return False
    return True


@numba.njit(cache=True)
def _by_destination(dst, n, tptr, tin):  # pragma: no cover - compiled
    """``tin``: the edge ids ordered by destination (stably: in edge order within a row),
    ``tptr`` the row starts."""
    tptr[:] = 0
    for e in range(len(dst)):
        tptr[dst[e] + 1] += 1
    for j in range(n):
        tptr[j + 1] += tptr[j]
    fill = tptr[:-1].copy()
    for e in range(len(dst)):
        tin[fill[dst[e]]] = e
        fill[dst[e]] += 1


@numba.njit(cache=True)
def _csr(src, n):  # pragma: no cover - compiled
    """(order, indptr): ``order`` None-like (empty) when ``src`` is already sorted."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    ordered = True
    for e in range(len(src)):
        indptr[src[e] + 1] += 1
        if e and src[e] < src[e - 1]:
            ordered = False
    for i in range(n):
        indptr[i + 1] += indptr[i]
    order = np.empty(0, dtype=np.int64) if ordered else np.argsort(src, kind="mergesort")
    return order, indptr


class _ThreadChooser:
    """Picks the kernel's thread count by timing it: a trial runs ``TRIAL`` calls on all
    threads (:func:`max_threads`), then ``TRIAL`` on one (after one untimed call on all threads:
    the first may compile and start the helper threads),
    and the faster is kept until the next trial, ``period`` calls on. The result does not
    depend on the choice (fixed chunks), only the time: on a busy machine a thread that waits
    for a descheduled partner took 3-30x, so each trial that one thread wins doubles the period
    (up to ``MAX_PERIOD``)."""

    TRIAL, PERIOD, MAX_PERIOD = 4, 200, 3200

    def __init__(self):
        self.key, self.most = None, 1
        self._restart(None)

    def _restart(self, key) -> None:
        self.key, self.phase, self.period = key, 0, self.PERIOD
        self.spent, self.choice = [0.0, 0.0], 1

    def threads(self, key, most: int) -> int:
        return self.span(key, most)[0]

    def span(self, key, most: int) -> tuple[int, int]:
        """(threads, calls): the thread count of the next call and for how many calls in a row
        it holds (a run of layout epochs in one compiled call)."""
        self.most = most
        if most <= 1:
            return 1, 1 << 62
        if key != self.key:
            self._restart(key)
        if self.phase == 0:  # the untimed first call: it starts the threads
            return most, 1
        if self.phase <= self.TRIAL:
            return most, self.TRIAL - self.phase + 1
        if self.phase <= 2 * self.TRIAL:
            return 1, 2 * self.TRIAL - self.phase + 1
        return self.choice, max(self.period, 2 * self.TRIAL + 1) - self.phase

    def took(self, threads: int, seconds: float, calls: int = 1) -> None:
        """``calls`` calls (at most :meth:`span`'s) on ``threads`` took ``seconds`` in all."""
        if 1 <= self.phase <= 2 * self.TRIAL:
            self.spent[0 if threads == 1 else 1] += seconds
        last = self.phase + calls - 1
        if self.phase <= 2 * self.TRIAL <= last:
            one_wins = self.spent[0] <= self.spent[1]
            self.choice = 1 if one_wins else self.most
            self.period = min(2 * self.period, self.MAX_PERIOD) if one_wins else self.PERIOD
        self.phase = last + 1
        if self.phase >= max(self.period, 2 * self.TRIAL + 1):
            self.phase, self.spent = 0, [0.0, 0.0]


_CHOOSER = _ThreadChooser()


def sne_sgd_step(
    z, src, dst, p, pool, nu, negatives, attraction, step: float, clip: float, threads=None
) -> float:
    """One plain SGD step of the summed ``sne`` loss on the float32 C-ordered ``z`` (n, d),
    in place: z -= step * clip(gradient). Returns the loss sum (the step's start). A free
    layout's epoch: no torch tensor made or touched (the five small tensor operations of a
    step were a fifth of a digits epoch)."""
    pools = np.asarray(pool, dtype=np.int64)[None]
    epoch = np.array([[nu, attraction, step]], dtype=np.float64)
    return float(sne_sgd_epochs(z, src, dst, p, pools, epoch, negatives, clip, threads)[0])


def sne_sgd_epochs(z, src, dst, p, pools, epochs, negatives, clip: float, threads=None):
    """Plain SGD steps of the summed ``sne`` loss on the float32 C-ordered ``z`` (n, d), in
    place, one per row of ``pools`` (K, m: each step's pool) and ``epochs`` (K, 3: each step's
    nu, attraction and step size), all in one compiled call: the K steps' losses (each at its
    step's start). The same bits as K calls of :func:`sne_sgd_step` (the same compiled code in
    the same order), without the Python between them (about a third of a digits epoch)."""
    if not (isinstance(z, np.ndarray) and z.dtype == np.float32 and z.flags.c_contiguous):
        raise TypeError("sne_sgd_epochs updates z in place: a float32 C-ordered array")
    pools = np.ascontiguousarray(pools, dtype=np.int64).reshape(len(epochs), -1)
    epochs = np.ascontiguousarray(epochs, dtype=np.float64).reshape(-1, 3)
    team, out = _run(z, src, dst, p, pools, epochs, negatives, clip, True, threads)
    z[:] = team.z
    return out


def sne_loss_grad(
    z, src, dst, p, pool, nu: float, negatives: float, attraction: float = 1.0, threads=None
):
    """(loss sum, gradient) of the ``sne`` form over float32 ``z`` (n, d) and int64 edges,
    both not yet divided by the number of edges (as :func:`~genurl_graph.engine.loss._sne_closed`
    does after). Edges sorted by source (a P_X in CSR order, as a full batch is) are used as
    they are; others are sorted first. ``threads``: that many (at most :func:`max_threads`), or
    None: one or all, whichever :class:`_ThreadChooser` timed faster on these sizes."""
    pools = np.asarray(pool, dtype=np.int64)[None]
    epoch = np.array([[nu, attraction, 0.0]], dtype=np.float64)
    team, out = _run(z, src, dst, p, pools, epoch, negatives, 0.0, False, threads)
    return float(out[0]), team.grad.copy()  # the team's buffer is the next call's


def _run(z, src, dst, p, pools, epochs, negatives, clip, apply: bool, threads):
    """Run ``len(epochs)`` passes in the calling thread's team (its ``z`` a copy of ``z``,
    stepped when ``apply``): (team, the passes' losses)."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    src = np.ascontiguousarray(src, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    p = np.ascontiguousarray(p, dtype=np.float32)
    m = pools.shape[1]
    most = max_threads()
    if threads is None:  # batches of a run share it
        count, calls = _CHOOSER.span((z.shape, m), most)
    else:
        count, calls = max(1, min(int(threads), most)), len(epochs)
    order, indptr = _sorted_rows(src, z.shape[0])
    team = _team(z, indptr, dst, p, len(order) > 0, m, most)
    if len(order):  # into the team's own arrays: the same memory every call
        np.take(dst, order, out=team.dst)
        np.take(p, order, out=team.p)
        _by_destination(team.dst, z.shape[0], team.tptr, team.tin)  # (the symmetric pass is
        # for sorted edges: its check, once per team, would run every call here)
    team.z[:] = z
    team.par[1] = negatives
    out = np.empty(len(epochs), dtype=np.float64)
    done = 0
    while done < len(epochs):  # in runs of one thread count (the chooser's trials are short)
        take = min(calls, len(epochs) - done)
        start = time.perf_counter()
        chunks = len(team.losses)
        team.cuts[: count + 1] = [chunks * t // count for t in range(count + 1)]  # each thread's
        _work(
            True, 0, count, team.ctl, team.cuts, 0, *team.args, pools[done : done + take],
            epochs[done : done + take], np.float32(clip), apply, out[done : done + take],
        )  # fmt: skip
        for slot in range(1, count):
            if team.ctl[slot] == _GONE:  # not there: call it for the next
                team.ctl[slot] = _CALLED
                _workers().submit(_work, False, slot, 0, team.ctl, team.cuts, _SPINS, *team.idle)
        if threads is None:
            _CHOOSER.took(count, time.perf_counter() - start, take)
            count, calls = _CHOOSER.span((z.shape, m), most)
        done += take
    return team, out


# A worker's slot in its team's ``ctl``: spinning for work (IDLE), work posted (GO), done (DONE),
# left after SPINS idle turns or asked to (GONE, STOP), or called and not yet spinning (CALLED);
# GO_IN: the incoming edges' pass of its rows posted.
_IDLE, _GO, _DONE, _GONE, _STOP, _CALLED, _GO_IN = range(7)
_SPINS = 1 << 24  # idle turns (~5-10 ms) before a worker leaves: a layout's epochs come faster


class _Team:
    """A calling thread's buffers for one layout (its z's shape, edges and pool size), and the
    ``ctl`` slots of its workers (``most`` threads in all). Workers are compiled loops
    (:func:`_work`) spinning on their slot between calls, so that handing them a chunk range
    costs no thread wake-up (a Python thread's wake-up took ~80 us here, a third of a digits
    call); they leave after a few idle ms and are called back (one wake-up) by the next call
    that finds them gone."""

    def __init__(self, key, z, indptr, dst, p, copies: bool, m: int, most: int):
        n, d = z.shape
        self.z = np.empty_like(z)  # a copy of each call's z: the workers read this one
        if copies:  # unsorted edges, sorted anew each call into these
            dst, p = np.empty_like(dst), np.empty_like(p)
        self.dst, self.p = dst, p
        chunks = min(CHUNKS, n)
        self.key = key
        self.ctl = np.full(most, _GONE, dtype=np.int64)
        self.cuts = np.zeros(most + 1, dtype=np.int64)
        self.pool = np.zeros(m, dtype=np.int64)
        self.par = np.zeros(4, dtype=np.float64)  # nu, negatives, attraction, symmetric
        self.b = np.empty((d, m), dtype=np.float32)
        self.hit = np.empty(n, dtype=np.int64)
        self.nxt = np.empty(max(m, 1), dtype=np.int64)
        self.grad = np.empty((n, d), dtype=np.float32)
        self.gpool = np.empty((chunks, d, m), dtype=np.float32)
        self.losses = np.empty(chunks, dtype=np.float64)
        self.ge = np.empty((len(dst), d), dtype=np.float32)
        self.qe = np.empty(len(dst), dtype=np.float32)
        self.tptr = np.empty(n + 1, dtype=np.int64)
        self.tin = np.empty(len(dst), dtype=np.int64)
        if not copies:  # sorted edges: the same for every call of the team; else each call's
            _by_destination(dst, n, self.tptr, self.tin)
        self.args = (self.z, indptr, dst, p, self.pool, self.par, self.b, self.hit, self.nxt)
        self.rr = np.zeros(n, dtype=np.float32)  # each row's r_i = negatives mass_i / Z_i
        self.par[3] = 0.0 if copies else float(_mutual(indptr, dst, p))
        self.args += (self.ge, self.qe, self.grad, self.gpool, self.losses, self.tptr, self.tin)
        self.args += (self.rr,)
        # a worker's arguments: the passes' own arrays are the lead's alone
        none = (np.empty((0, m), np.int64), np.empty((0, 3)), np.float32(0.0), False)
        self.idle = (*self.args, *none, np.empty(0))

    def stop(self) -> None:
        _stop(self.ctl)


def _team(z, indptr, dst, p, copies: bool, m: int, most: int) -> _Team:
    """The calling thread's team for these edges (sorted ones: the same memory as the last
    call's, which the team holds, so no other array can take their addresses) and sizes, made
    anew otherwise."""
    edges = ("copies",) if copies else (dst.ctypes.data, p.ctypes.data)
    key = (z.shape, id(indptr), len(dst), *edges, m, most)
    team = getattr(_LOCAL, "team", None)
    if team is None or team.key != key:
        if team is not None:
            team.stop()
        _LOCAL.team = team = _Team(key, z, indptr, dst, p, copies, m, most)
    return team


@numba.njit(cache=True, fastmath=True, nogil=True, error_model="numpy")
def _work(
    lead, slot, count, ctl, cuts, spins, z, indptr, dst, p, pool, par, b, hit, nxt, ge, qe, grad,
    gpool, losses, tptr, tin, rr, pools, epochs, clip, apply, out,
):  # pragma: no cover - compiled  # fmt: skip
    """Run a team's passes. The lead (the calling thread, ``count`` ranges) runs one pass per
    row of ``pools``/``epochs`` (its pool; nu, attraction, step), in two phases: the chunks'
    edges and pushes (:func:`_chunks`), then each row's incoming edges (:func:`_incoming`). For
    each phase it posts range w to each worker w found spinning, runs its own range 0 and the
    ranges of workers not there, and waits for the posted ones; then it sums the pass (its loss
    into ``out``) and, when ``apply``, steps ``z``. A worker (``slot``) spins on its slot, runs
    its range of the phase posted, and leaves after ``spins`` idle turns or when told. Every
    range of every role runs through the one call of each phase below (inlined: a call into
    separately compiled code gave other bits once loaded from numba's disk cache), so the same
    machine code computes it whichever thread runs it."""
    mine = np.ones(max(count, 1), dtype=np.bool_)  # nothing posted yet
    if not lead and _cas(ctl, slot, _CALLED, _IDLE) != _CALLED:
        return  # told to stop before it started
    n = z.shape[0]
    per = (n + len(losses) - 1) // len(losses)  # rows a chunk
    turn, idle, ep, phase, run = count, 0, -1, _GO_IN, _GO
    while True:
        r = -1
        if lead:
            while turn < count and not mine[turn]:
                turn += 1
            if turn == count:  # the phase's ranges are all run or posted: wait for the posted
                for w in range(1, count):
                    if not mine[w]:
                        while _load(ctl, w) != _DONE:
                            pass
                        _store(ctl, w, _IDLE)
                if phase == _GO:
                    phase = _GO_IN
                else:
                    if ep >= 0:
                        out[ep] = _finish(pool, grad, gpool, losses)
                        if apply:
                            _apply_step(z, grad, np.float32(epochs[ep, 2]), clip)
                    ep += 1
                    if ep == len(out):
                        return
                    pool[:] = pools[ep]
                    par[0], par[2] = epochs[ep, 0], epochs[ep, 1]
                    _setup(z, pool, b, hit, nxt, grad, gpool, losses)
                    phase = _GO
                mine[0] = True
                for w in range(1, count):  # posted (after the phase's stores) or the lead's
                    mine[w] = _cas(ctl, w, _IDLE, phase) != _IDLE
                turn = 0
                continue
            r, run = turn, phase
            turn += 1
        else:
            state = _load(ctl, slot)
            if state == _STOP:
                return
            if state != _GO and state != _GO_IN:
                idle += 1
                if idle >= spins and _cas(ctl, slot, _IDLE, _GONE) == _IDLE:
                    return
                continue
            r, run = slot, state
        if run == _GO:
            _chunks(
                z, indptr, dst, p, pool, par[0], par[1], par[2], b, hit, nxt, ge, qe, grad,
                gpool, losses, rr, _one_pass(par, z.shape[1]), cuts[r], cuts[r + 1],
            )  # fmt: skip
        else:
            _incoming(
                ge, tptr, tin, grad, min(cuts[r] * per, n), min(cuts[r + 1] * per, n), z,
                indptr, dst, p, qe, rr, par, _one_pass(par, z.shape[1]),
            )  # fmt: skip
        if not lead:
            _store(ctl, slot, _DONE)
            idle = 0


@numba.njit(cache=True, nogil=True)
def _apply_step(z, grad, step, clip):  # pragma: no cover - compiled
    """z -= step * clip(grad), in place."""
    n, d = z.shape
    for i in range(n):
        for t in range(d):
            z[i, t] -= step * min(max(grad[i, t], -clip), clip)


@numba.njit(cache=True, nogil=True)
def _stop(ctl):  # pragma: no cover - compiled
    """Send a team's workers away: spinning or called, each leaves at its next look."""
    for slot in range(1, len(ctl)):
        if _cas(ctl, slot, _IDLE, _STOP) != _IDLE:
            _cas(ctl, slot, _CALLED, _STOP)


def _pointer(context, builder, sig, args):
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


@intrinsic
def _load(typingctx, arr, idx):  # pragma: no cover - compiled
    """arr[idx], an atomic load (acquire): a spinning thread sees other threads' stores."""

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_pointer(context, builder, sig, args), "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def _store(typingctx, arr, idx, value):  # pragma: no cover - compiled
    """arr[idx] = value, an atomic store (release)."""

    def codegen(context, builder, sig, args):
        builder.store_atomic(args[2], _pointer(context, builder, sig, args), "release", 8)
        return context.get_dummy_value()

    return types.void(arr, idx, value), codegen


@intrinsic
def _cas(typingctx, arr, idx, expected, new):  # pragma: no cover - compiled
    """Atomic compare-and-swap of arr[idx] from ``expected`` to ``new``; the value it found."""

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig, args)
        found = builder.cmpxchg(ptr, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(found, 0)

    return types.int64(arr, idx, expected, new), codegen


def max_threads() -> int:
    """The most threads the kernel runs on: numba's setting (NUMBA_NUM_THREADS, by default the
    cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


_LOCAL = threading.local()


def _forget_teams() -> None:
    """In a forked child: its parent's helper threads are not there, so a team copied in a
    spinning state would wait for them forever; the child makes its own."""
    _LOCAL.__dict__.pop("team", None)
    _workers.cache_clear()  # nor are the executor's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_teams)


def release() -> None:
    """Drop this thread's kept buffers (its team's, the sorted rows: ~20 MB for a 1.1M-edge
    P_X) and send its workers away; the trainer calls it when a fit ends."""
    team = getattr(_LOCAL, "team", None)
    if team is not None:
        team.stop()
    _LOCAL.__dict__.clear()


def _sorted_rows(src: np.ndarray, n: int):
    """:func:`_csr` of ``src``, kept for this thread's next call with the same sources (a
    layout's epochs: :func:`_csr` was 7 % of a digits call, the comparison is a tenth of it)."""
    kept = getattr(_LOCAL, "rows", None)
    if kept is None or kept[1] != n or not _same(kept[0], src):
        _LOCAL.rows = kept = (src.copy(), n, *_csr(src, n))
    return kept[2], kept[3]


@numba.njit(cache=True, nogil=True)
def _same(a, b):  # pragma: no cover - compiled
    if len(a) != len(b):
        return False
    for e in range(len(a)):
        if a[e] != b[e]:
            return False
    return True


@functools.lru_cache(maxsize=None)
def _workers():
    """The kernel's helper threads, one fewer than :func:`max_threads` (made once; numba's
    compiled code releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max(max_threads() - 1, 1), thread_name_prefix="genurl-sne")
