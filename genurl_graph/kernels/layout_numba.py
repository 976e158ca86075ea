"""The ``sne`` loss and its closed-form gradient in one compiled pass (numba), for layouts.

The same sums as :func:`genurl_graph.engine.loss._sne_closed` (its docstring has the maths), but
each pair is visited once, in registers, where the tensor version makes some twenty passes over
the (sources x pool) block and the edges, each a few hundred microseconds at layout sizes: a
digits epoch (1,797 points, 25k edges, 230k pool pairs) falls from 2.6 ms to a fraction of it.

Deterministic whatever the number of threads: the sources are cut into a fixed number of chunks,
each chunk sums its own share of the loss and of the pool rows' gradient, and the chunks are
added in order; every other sum runs in edge or source order on one thread. The threads are
Python threads running serial compiled code on disjoint chunk ranges, not numba's ``prange``:
a ``parallel=True`` function compiled afresh gave other bits than the same function loaded
from numba's disk cache (a layout's first run in a new environment differed from every later
one; numba issue 10617 describes the two being optimised differently), while serial code
compiles to the same result either way (tests/test_engine.py runs both).

Compiled on first use and cached on disk (numba's ``cache=True``), so only the first call in a
fresh environment pays the compilation (about a second).
"""

from __future__ import annotations

import functools
import math
import threading
import time

import numba
import numpy as np

# fastmath's reordering and fused multiply-adds, without its promise of no NaN or inf (which
# lets LLVM drop a NaN test)
_FAST_WITH_NAN = {"reassoc", "contract", "nsz", "arcp", "afn"}
CHUNKS = 16  # fixed source chunks: the pool rows' gradient is summed per chunk, then in order


@numba.njit(cache=True, nogil=True)
def _setup(z, pool, chunks):  # pragma: no cover - compiled
    """The buffers of one call: the pool's rows ``b`` (d, m), each node's pool slots as a linked
    list (``hit``/``nxt``), the gradient, the pool rows' gradient per chunk and the loss per
    chunk (the edges' buffers are reused across calls: :func:`_edge_buffers`)."""
    n, d = z.shape
    m = len(pool)
    b = np.empty((d, m), dtype=np.float32)
    for k in range(m):
        for t in range(d):
            b[t, k] = z[pool[k], t]
    hit = np.full(n, -1, dtype=np.int64)
    nxt = np.full(max(m, 1), -1, dtype=np.int64)
    for k in range(m):
        nxt[k] = hit[pool[k]]
        hit[pool[k]] = k
    grad = np.zeros((n, d), dtype=np.float32)
    gpool = np.zeros((chunks, d, m), dtype=np.float32)
    losses = np.zeros(chunks, dtype=np.float64)
    return b, hit, nxt, grad, gpool, losses


@numba.njit(cache=True, fastmath=True, nogil=True, error_model="numpy")
def _chunks(
    z, indptr, dst, p, pool, nu, negatives, attraction, b, hit, nxt, ge, qe, grad, gpool, losses,
    first, last,
):  # pragma: no cover - compiled  # fmt: skip
    """The source chunks ``first`` to ``last`` (rows of the CSR ``indptr``/``dst``/``p``): each
    row's edges (d2, q, its P mass and the neighbours' share of Z_i), its push over the pool
    (Z_i, r_i = negatives mass_i / Z_i), and its own gradient row; an edge's gradient is kept
    for its destination (added by :func:`_finish`, in edge order) and the pool rows' per chunk.
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
    for ch in range(first, last):
        for i in range(ch * per, min((ch + 1) * per, n)):
            lo, hi = indptr[i], indptr[i + 1]
            if lo == hi:
                continue
            mass = np.float32(0.0)
            near = np.float32(0.0)
            pull = np.float32(0.0)
            for e in range(lo, hi):
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
                        qk = np.float32(math.exp(-c * math.log1p(d2[k] / nuf)))
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
            if d == 2:  # the row's gradient in registers, added in the same order
                a0, a1 = z[i, 0], z[i, 1]
                g0, g1 = grad[i, 0], grad[i, 1]
                for e in range(lo, hi):
                    j = dst[e]
                    coef = (p[e] * att - ri * qe[e]) * ge[e, 0]
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


@numba.njit(cache=True, nogil=True)
def _finish(dst, pool, ge, grad, gpool, losses):  # pragma: no cover - compiled
    """Add each edge's gradient to its destination (in edge order) and the pool rows' (chunk by
    chunk); the loss, summed over the chunks in order."""
    n_edges, d = ge.shape
    m, chunks = len(pool), len(losses)
    if d == 2:
        for e in range(n_edges):
            j = dst[e]
            grad[j, 0] -= ge[e, 0]
            grad[j, 1] -= ge[e, 1]
    else:
        for e in range(n_edges):
            j = dst[e]
            for t in range(d):
                grad[j, t] -= ge[e, t]
    for ch in range(chunks):
        for k in range(m):
            for t in range(d):
                grad[pool[k], t] += gpool[ch, t, k]
    loss = 0.0
    for ch in range(chunks):  # in order
        loss += losses[ch]
    return loss


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
    depend on the choice (fixed chunks), only the time: handing a chunk range to a helper
    thread costs ~100 us here, more than half a digits call, and on a busy machine a thread
    that waits for a descheduled partner took 3-30x, so each trial that one thread wins
    doubles the period (up to ``MAX_PERIOD``)."""

    TRIAL, PERIOD, MAX_PERIOD = 4, 200, 3200

    def __init__(self):
        self.key, self.most = None, 1
        self._restart(None)

    def _restart(self, key) -> None:
        self.key, self.phase, self.period = key, 0, self.PERIOD
        self.spent, self.choice = [0.0, 0.0], 1

    def threads(self, key, most: int) -> int:
        self.most = most
        if most <= 1:
            return 1
        if key != self.key:
            self._restart(key)
        if self.phase <= self.TRIAL:  # the untimed first call too: it starts the threads
            return most
        if self.TRIAL < self.phase <= 2 * self.TRIAL:
            return 1
        return self.choice

    def took(self, threads: int, seconds: float) -> None:
        if 1 <= self.phase <= 2 * self.TRIAL:
            self.spent[0 if threads == 1 else 1] += seconds
        if self.phase == 2 * self.TRIAL:
            one_wins = self.spent[0] <= self.spent[1]
            self.choice = 1 if one_wins else self.most
            self.period = min(2 * self.period, self.MAX_PERIOD) if one_wins else self.PERIOD
        self.phase += 1
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
    if not (isinstance(z, np.ndarray) and z.dtype == np.float32 and z.flags.c_contiguous):
        raise TypeError("sne_sgd_step updates z in place: a float32 C-ordered array")
    loss, grad = sne_loss_grad(z, src, dst, p, pool, nu, negatives, attraction, threads)
    _apply_step(z, grad, np.float32(step), np.float32(clip))
    return loss


@numba.njit(cache=True, nogil=True)
def _apply_step(z, grad, step, clip):  # pragma: no cover - compiled
    n, d = z.shape
    for i in range(n):
        for t in range(d):
            z[i, t] -= step * min(max(grad[i, t], -clip), clip)


def sne_loss_grad(
    z, src, dst, p, pool, nu: float, negatives: float, attraction: float = 1.0, threads=None
):
    """(loss sum, gradient) of the ``sne`` form over float32 ``z`` (n, d) and int64 edges,
    both not yet divided by the number of edges (as :func:`~genurl_graph.engine.loss._sne_closed`
    does after). Edges sorted by source (a P_X in CSR order, as a full batch is) are used as
    they are; others are sorted first. ``threads``: that many (at most :func:`max_threads`), or
    None: one or all, whichever :class:`_ThreadChooser` timed faster on these sizes."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    src = np.ascontiguousarray(src, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    p = np.ascontiguousarray(p, dtype=np.float32)
    pool = np.ascontiguousarray(pool, dtype=np.int64)
    most = max_threads()
    if threads is None:
        count = _CHOOSER.threads((z.shape, len(pool)), most)  # batches of a run share it
    else:
        count = max(1, min(int(threads), most))
    start = time.perf_counter()
    order, indptr = _sorted_rows(src, z.shape[0])
    if len(order):
        dst, p = dst[order], p[order]
    chunks = min(CHUNKS, z.shape[0])
    b, hit, nxt, grad, gpool, losses = _setup(z, pool, chunks)
    ge, qe = _edge_buffers(len(dst), z.shape[1])
    args = (z, indptr, dst, p, pool, float(nu), float(negatives), float(attraction))
    args += (b, hit, nxt, ge, qe, grad, gpool, losses)
    cuts = [chunks * t // count for t in range(count + 1)]  # each thread's chunk range
    others = [_workers().submit(_chunks, *args, cuts[t], cuts[t + 1]) for t in range(1, count)]
    _chunks(*args, cuts[0], cuts[1])
    for job in others:
        job.result()
    loss = _finish(dst, pool, ge, grad, gpool, losses)
    if threads is None:
        _CHOOSER.took(count, time.perf_counter() - start)
    return float(loss), grad


def max_threads() -> int:
    """The most threads the kernel runs on: numba's setting (NUMBA_NUM_THREADS, by default the
    cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


_LOCAL = threading.local()


def release() -> None:
    """Drop this thread's kept buffers (edge gradients, kernel values, sorted rows: ~20 MB for
    a 1.1M-edge P_X); the trainer calls it when a fit ends."""
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


def _edge_buffers(n_edges: int, d: int):
    """Each edge's gradient (n_edges, d) and kernel value, kept between calls of this thread
    (a layout's epochs have the same edges): fresh arrays of a large P_X cost page faults that
    two threads then take in turn (a 70,000-point, 1.1M-edge call: 19 ms on one or two threads
    with fresh buffers, 16 / 9.7 ms on one / two with them kept)."""
    key = (n_edges, d)
    if getattr(_LOCAL, "key", None) != key:
        _LOCAL.key = key
        _LOCAL.buffers = (np.empty((n_edges, d), np.float32), np.empty(n_edges, np.float32))
    return _LOCAL.buffers


@functools.lru_cache(maxsize=None)
def _workers():
    """The kernel's helper threads, one fewer than :func:`max_threads` (made once; numba's
    compiled code releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max(max_threads() - 1, 1), thread_name_prefix="genurl-sne")
