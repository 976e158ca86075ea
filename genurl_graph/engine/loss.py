"""The general KL-type divergence (fuzzy cross-entropy) between P_X and Q_Z, evaluated sparsely.

    L = - sum_{(i,j) in E} [P_ij log Q_ij + (1 - P_ij) log(1 - Q_ij)]
        - m sum_{(i,j) in E} E_{k ~ uniform} log(1 - Q_ik)

with Q_ij = (1 + ||z_i - z_j||^2 / nu)^(-(nu+1)/2): pull along the edges of the P_X graph; push
each edge's source away from m uniformly drawn nodes. The draws are shared by a batch: every
source meets the same pool of uniformly drawn nodes, so the push is one (sources x pool) matrix
product, and its memory does not grow with m. Cost O(E d + S M d) per batch (S distinct sources,
M pool size) instead of O(N^2 d).

``form="sampled"`` is the form UMAP's sampler optimises in expectation: the pull keeps only
P_ij log Q_ij, and each source is pushed in proportion to its summed P (its edges' weights)
rather than to its number of edges. It keeps local neighbourhoods better in 2-D layouts (DR);
``"fuzzy"`` is the full cross-entropy above. ``form="normalized"`` normalises Q over each
source's pool (KL(P_i || Q_i), as t-SNE and InfoNCE do): the form SSL uses, where the pool is
the whole batch of views. ``form="sne"`` is SNE's conditional KL(P_i || Q_i) with Q_i normalised
over all points, estimated as the exact sum over the point's P_X neighbours plus the pool's sum
scaled to the n points: the neighbours' own share of Z_i gives the short-range repulsion
(p_ij - Q_ij on each edge, as t-SNE's gradient) that a small pool alone misses, so clusters do
not collapse into islands.
"""

from __future__ import annotations

import math
import sys

import torch

from .._deps import numba_available
from ..kernels import block_sqdist, edge_sqdist

_EPS = 1e-6


def log_q(d2: torch.Tensor, nu: float) -> torch.Tensor:
    """log of the t-kernel, log kappa_nu(d2) = -(nu+1)/2 log(1 + d2/nu)."""
    return -(nu + 1.0) / 2.0 * torch.log1p(d2 / nu)


def log_one_minus(logq: torch.Tensor) -> torch.Tensor:
    """log(1 - q) from log q, kept finite where q -> 1."""
    return torch.log(torch.clamp(-torch.expm1(logq), min=_EPS))


def gkl_loss(
    z: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    p: torch.Tensor,
    pool: torch.Tensor,
    nu: float,
    negatives: float = 5.0,
    backend: str = "auto",
    form: str = "fuzzy",
    attraction: float = 1.0,
) -> torch.Tensor:
    """Mean fuzzy cross-entropy per P_X edge: pull over (src, dst, p); push of each edge's
    source from the uniformly drawn nodes ``pool``, weighted ``negatives`` per edge (per unit
    of P with ``form="sampled"``). ``attraction`` multiplies the pull's P alone (t-SNE's early
    exaggeration; the push keeps the unscaled P)."""
    if form not in FORMS:
        raise ValueError(f"unknown loss form {form!r}: {', '.join(FORMS)}")
    fn = closed_form(form, z.shape[1])
    if fn is not None:
        return _ClosedForm.apply(
            z, fn, src, dst, p, pool, float(nu), float(negatives), float(attraction)
        )
    if form == "normalized":
        return _normalized(z, src, dst, p, pool, nu, negatives, backend, attraction)
    if form == "sne":
        return _sne(z, src, dst, p, pool, nu, negatives, backend, attraction)
    lq = log_q(edge_sqdist(z, src, dst, backend), nu)
    pull = (
        -(p * lq).sum() if form == "sampled" else -(p * lq + (1 - p) * log_one_minus(lq)).sum()
    ) * attraction
    loss = pull
    if negatives > 0 and len(pool):
        counts = torch.bincount(src, minlength=z.shape[0])
        sources = counts.nonzero().squeeze(1)
        counts = (
            torch.bincount(src, weights=p, minlength=z.shape[0]) if form == "sampled" else counts
        )[sources]
        push_rows = -log_one_minus(log_q(block_sqdist(z[sources], z[pool]), nu)).mean(1)
        loss = loss + negatives * (counts.to(push_rows.dtype) * push_rows).sum()
    return loss / max(len(src), 1)


FORMS = ("fuzzy", "sampled", "normalized", "sne")


def _sne(z, src, dst, p, pool, nu, negatives, backend, attraction=1.0):
    """SNE's conditional KL(P_i || Q_i) per source with Q_ij = q_ij / Z_i, Z_i = sum of q_ij over
    i's P_X edges + n / |pool| times the sum over the pool (i itself left out): the pull
    -p log q and each source's P mass times log Z_i (the constant entropy of P left out)."""
    lq = log_q(edge_sqdist(z, src, dst, backend), nu)
    loss = -attraction * (p * lq).sum()
    if negatives > 0 and len(pool):
        n = z.shape[0]
        mass = torch.bincount(src, weights=p.to(z.dtype), minlength=n)
        near = torch.zeros(n, dtype=z.dtype, device=z.device).index_add(0, src, torch.exp(lq))
        sources = mass.nonzero().squeeze(1)
        qb = torch.exp(log_q(block_sqdist(z[sources], z[pool]), nu))
        qb = qb.masked_fill(sources[:, None] == pool[None, :], 0.0)
        Z = near[sources] + n / len(pool) * qb.sum(1)
        loss = loss + negatives * (mass[sources] * torch.log(Z)).sum()
    return loss / max(len(src), 1)


def _normalized(z, src, dst, p, pool, nu, negatives, backend, attraction=1.0):
    """KL(P_i || Q_i) per source with Q_i = q_i. / sum_{k in pool, k != i} q_ik (t-SNE's and
    InfoNCE's normalised form; the constant entropy of P is left out): the pull -p log q, and
    each source's P mass times the log of its summed kernel over the pool."""
    lq = log_q(edge_sqdist(z, src, dst, backend), nu)
    loss = -attraction * (p * lq).sum()
    if negatives > 0 and len(pool):
        mass = torch.bincount(src, weights=p.to(z.dtype), minlength=z.shape[0])
        sources = mass.nonzero().squeeze(1)
        logits = log_q(block_sqdist(z[sources], z[pool]), nu)
        logits = logits.masked_fill(sources[:, None] == pool[None, :], float("-inf"))
        loss = loss + negatives * (mass[sources] * torch.logsumexp(logits, 1)).sum()
    return loss / max(len(src), 1)


FUSED_MAX_DIM = 16  # the fused sampled loss gathers E x d rows: cheap for layouts (d = 2, 3)


def _pull(zd: torch.Tensor, src, dst, p, nu: float):
    """The pull -sum p log q over the edges and its gradient in closed form, (loss, grad):
    d/d z_i of p c log(1 + d2/nu) is 2 p c / (nu + d2) (z_i - z_j), c = (nu + 1) / 2."""
    c = (nu + 1.0) / 2.0
    diff = zd[src] - zd[dst]
    d2 = (diff * diff).sum(1)
    g = (p * (2 * c) / (nu + d2)).unsqueeze(1) * diff
    grad = torch.zeros_like(zd)
    grad.index_add_(0, src, g)
    grad.index_add_(0, dst, -g)
    return (p * c * torch.log1p(d2 / nu)).sum(), grad


def _push_grad(grad, sources, pool, W, a, b) -> None:
    """Add the push's gradient: W (sources x pool) holds d loss / d d2 of each block pair, and
    d d2_ik / d z_i = 2 (z_i - z_k), so z_i gets 2 (sum_k W_ik z_i - W b) and z_k its mirror."""
    grad.index_add_(0, sources, 2 * (W.sum(1, keepdim=True) * a - W @ b))
    grad.index_add_(0, pool, 2 * (W.sum(0).unsqueeze(1) * b - W.T @ a))


class _ClosedForm(torch.autograd.Function):
    """A loss whose gradient is computed with it in closed form (``fn(zd, src, dst, p, pool, nu,
    negatives, attraction)`` returns (loss, grad), both per edge): saved, then scaled in
    backward."""

    @staticmethod
    def forward(ctx, z, fn, src, dst, p, pool, nu, negatives, attraction=1.0):
        loss, grad = fn(z.detach(), src, dst, p, pool, nu, negatives, attraction)
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad_out * grad, None, None, None, None, None, None, None, None


def _sampled_closed(zd, src, dst, p, pool, nu, negatives, attraction=1.0):
    """The ``sampled`` form and its gradient in closed form, (loss, grad) per edge: about a third
    of the tensor passes that autograd needs (small layouts are bound by them).

    d/d d2 of the pull -p log q: p c / (nu + d2); of the push -log(1 - q): -q c / ((nu + d2)(1 -
    q)),
    with c = (nu + 1) / 2 and d d2 / d z_i = 2 (z_i - z_j). Agrees with autograd on the
    unfused expression (tests/test_engine.py).
    """
    n_edges = max(len(src), 1)
    c = (nu + 1.0) / 2.0
    loss, grad = _pull(zd, src, dst, p * attraction if attraction != 1.0 else p, nu)
    if negatives > 0 and len(pool):
        counts = torch.bincount(src, minlength=zd.shape[0])
        sources = counts.nonzero().squeeze(1)
        w = torch.bincount(src, weights=p, minlength=zd.shape[0])[sources].to(zd.dtype)
        a, b = zd[sources], zd[pool]
        d2b = block_sqdist(a, b)
        if nu == 1.0:  # Cauchy: 1 - q = d2 / (1 + d2), the same terms in a third of the passes
            ok = d2b > _EPS / (1 - _EPS)
            d2c = d2b.clamp_(min=_EPS / (1 - _EPS))
            one_plus = d2c + 1
            loss = loss - negatives * (w * (torch.log(d2c) - torch.log(one_plus)).mean(1)).sum()
            W = (d2c * one_plus).reciprocal_().neg_().mul_(ok)
        else:
            q = torch.exp(-c * torch.log1p(d2b / nu))
            one_minus = 1 - q
            ok = one_minus > _EPS
            one_minus = torch.where(ok, one_minus, torch.full_like(one_minus, _EPS))
            loss = loss - negatives * (w * torch.log(one_minus).mean(1)).sum()
            W = torch.where(ok, -(q * c) / ((nu + d2b) * one_minus), torch.zeros_like(q))
        W = W * (negatives / len(pool) * w).unsqueeze(1)
        _push_grad(grad, sources, pool, W, a, b)
    return loss / n_edges, grad / n_edges


def _normalized_closed(zd, src, dst, p, pool, nu, negatives, attraction=1.0):
    """The ``normalized`` form with its gradient in closed form (as :func:`_sampled_closed`).

    With s_ik = q_ik / sum_{k' in pool, k' != i} q_ik' (the softmax of log q over the pool),
    d/d d2_ik of mass_i log sum_k q_ik is -mass_i s_ik c / (nu + d2_ik): for nu = 1, t-SNE's
    repulsion q_ik^2 / Z_i with Z normalised per source. Agrees with autograd on
    :func:`_normalized` (tests/test_engine.py).
    """
    n_edges = max(len(src), 1)
    c = (nu + 1.0) / 2.0
    loss, grad = _pull(zd, src, dst, p * attraction if attraction != 1.0 else p, nu)
    if negatives > 0 and len(pool):
        mass = torch.bincount(src, weights=p, minlength=zd.shape[0]).to(zd.dtype)
        sources = mass.nonzero().squeeze(1)
        a, b = zd[sources], zd[pool]
        d2b = block_sqdist(a, b)
        logits = torch.log1p(d2b / nu).mul_(-c)
        logits.masked_fill_(sources[:, None] == pool[None, :], float("-inf"))
        lse = torch.logsumexp(logits, 1, keepdim=True)
        w = negatives * mass[sources]
        loss = loss + (w * lse.squeeze(1)).sum()
        W = logits.sub_(lse).exp_().mul_(-c).div_(d2b.add_(nu)).mul_(w.unsqueeze(1))
        _push_grad(grad, sources, pool, W, a, b)
    return loss / n_edges, grad / n_edges


def decorrelation(z: torch.Tensor) -> torch.Tensor:
    """||C - I||_F^2 with C = H^T H / N the correlation matrix of the embedding's dimensions
    (H: the columns of ``z`` standardised over its N rows): CCA-SSG's feature-decorrelation
    term, a whitening pressure on Q_Z that keeps the dimensions from collapsing onto a few
    directions. Zero for whitened ``z``; at most about d^2."""
    h = (z - z.mean(0)) / z.std(0, unbiased=False).clamp_min(1e-6)
    c = h.T @ h / max(len(z), 1)
    return (c - torch.eye(c.shape[0], dtype=c.dtype, device=c.device)).pow(2).sum()


def _sne_closed(zd, src, dst, p, pool, nu, negatives, attraction=1.0):
    """The ``sne`` form with its gradient in closed form (as :func:`_sampled_closed`).

    With r_i = negatives mass_i / Z_i: an edge's d/d d2 is (attraction p_ij - r_i q_ij) c / (nu +
    d2)
    (t-SNE's p - q: the pull stops where Q matches P), a pool pair's -r_i (n / |pool|) q_ik c /
    (nu + d2_ik). For nu = 1, q = 1 / (1 + d2) needs no exp or log over the block. Agrees with
    autograd on :func:`_sne` (tests/test_engine.py).
    """
    n, n_edges = zd.shape[0], max(len(src), 1)
    if _compiled_sne(zd.device, zd.dtype):
        from ..kernels.layout_numba import sne_loss_grad

        loss, grad = sne_loss_grad(
            zd.numpy(), src.numpy(), dst.numpy(), p.numpy(), pool.numpy(), nu, negatives,
            attraction,
        )  # fmt: skip
        return zd.new_tensor(loss / n_edges), torch.from_numpy(grad).div_(n_edges)
    c = (nu + 1.0) / 2.0
    diff = zd[src] - zd[dst]
    d2 = (diff * diff).sum(1)
    q = torch.exp(-c * torch.log1p(d2 / nu)) if nu != 1.0 else (1 + d2).reciprocal()
    loss = attraction * c * (p * torch.log1p(d2 / nu)).sum()
    coef = p * attraction
    grad = torch.zeros_like(zd)
    if negatives > 0 and len(pool):
        mass = torch.bincount(src, weights=p, minlength=n).to(zd.dtype)
        near = torch.zeros(n, dtype=zd.dtype, device=zd.device).index_add_(0, src, q)
        sources = mass.nonzero().squeeze(1)
        a, b = zd[sources], zd[pool]
        d2b = block_sqdist(a, b)
        if nu == 1.0:
            qb = d2b.add_(1).reciprocal_()
            qk = None
        else:
            qb = torch.exp(torch.log1p(d2b / nu).mul_(-c))
            qk = d2b.add_(nu).reciprocal_().mul_(c)  # c / (nu + d2)
        qb.masked_fill_(sources[:, None] == pool[None, :], 0.0)
        scale = n / len(pool)
        Z = near[sources] + scale * qb.sum(1)
        w = negatives * mass[sources]
        loss = loss + (w * torch.log(Z)).sum()
        r = torch.zeros(n, dtype=zd.dtype, device=zd.device)
        r[sources] = w / Z
        coef = coef - r[src] * q
        W = (qb * qb if qk is None else qb.mul_(qk)).mul_((-scale * r[sources]).unsqueeze(1))
        _push_grad(grad, sources, pool, W, a, b)
    g = (coef * (2 * c) / (nu + d2)).unsqueeze(1) * diff
    grad.index_add_(0, src, g)
    grad.index_add_(0, dst, -g)
    return loss / n_edges, grad / n_edges


CLOSED_FORMS = {"sampled": _sampled_closed, "normalized": _normalized_closed, "sne": _sne_closed}


def closed_form(form: str, dim: int):
    """The function giving ``form``'s (loss, grad) per edge in closed form for embeddings of
    ``dim`` columns, ``fn(z, src, dst, p, pool, nu, negatives, attraction)``; None where the
    form runs through autograd."""
    return CLOSED_FORMS.get(form) if dim <= FUSED_MAX_DIM else None


def free_sgd_step(form, z, src, dst, p, pool, nu, negatives, attraction, step, clip) -> float:
    """One plain SGD step of a free table ``z`` (its rows are the parameters, updated in place,
    no autograd) on ``form``'s closed-form gradient of the summed loss: z -= step *
    clamp(gradient, -clip, clip). Returns the summed loss before the step. The ``sne`` form on
    float32 CPU rows runs it all compiled (:func:`~genurl_graph.kernels.layout_numba.sne_sgd_step`)
    """
    n_edges, z = len(src), z.detach()  # the same memory
    if compiled_step(form, z):
        from ..kernels.layout_numba import sne_sgd_step

        return sne_sgd_step(
            z.numpy(), src.numpy(), dst.numpy(), p.numpy(), pool.numpy(), nu, negatives,
            attraction, step, clip,
        )  # fmt: skip
    loss, grad = closed_form(form, z.shape[1])(z, src, dst, p, pool, nu, negatives, attraction)
    z.add_(grad.mul_(n_edges).clamp_(-clip, clip), alpha=-step)
    return loss.item() * n_edges


def free_sgd_epochs(z, src, dst, p, pools, epochs, negatives, clip):
    """Several :func:`free_sgd_step` steps of the ``sne`` form in one compiled call, where it
    runs compiled on ``z`` (:func:`compiled_step`; the caller checks): ``pools`` (K, m) each
    step's pool, ``epochs`` (K, 3) each step's nu, attraction and step size; the K summed
    losses (:func:`~genurl_graph.kernels.layout_numba.sne_sgd_epochs`)."""
    z = z.detach()  # the same memory
    from ..kernels.layout_numba import sne_sgd_epochs

    return sne_sgd_epochs(
        z.numpy(), src.numpy(), dst.numpy(), p.numpy(), pools.numpy(), epochs, negatives, clip
    )


def compiled_step(form: str, z: torch.Tensor) -> bool:
    """Whether a free table's ``form`` step on ``z`` runs compiled (numba)."""
    return form == "sne" and _compiled_sne(z.device, z.dtype) and z.is_contiguous()


def release_buffers() -> None:
    """Free what the compiled kernel keeps between a fit's epochs (when it was loaded)."""
    kernel = sys.modules.get("genurl_graph.kernels.layout_numba")
    if kernel is not None:
        kernel.release()


def _compiled_sne(device, dtype) -> bool:
    """Whether the ``sne`` form runs as the compiled kernel (numba, float32 CPU tensors)."""
    return torch.device(device).type == "cpu" and dtype == torch.float32 and numba_available()


def nu_schedule(
    nu_start: float,
    nu_end: float | None,
    epoch: int,
    epochs: int,
    begin: float = 0.1,
    end: float = 0.8,
) -> float:
    """nu_Z at ``epoch``: constant, or raised geometrically from start to end between the
    ``begin`` and ``end`` fractions of training (the DMT code's schedule)."""
    if nu_end is None or nu_end == nu_start:
        return nu_start
    frac = (epoch / max(epochs - 1, 1) - begin) / (end - begin)
    frac = min(max(frac, 0.0), 1.0)
    return math.exp(math.log(nu_start) + frac * (math.log(nu_end) - math.log(nu_start)))


def kernel_used(form: str, dim: int, backend: str, device, dtype=torch.float32) -> str:
    """The name of what computes :func:`gkl_loss` for embeddings of ``dim`` columns: ``numba``
    (the compiled sne loss), ``fused`` (the closed-form sampled, normalized and sne losses at low
    dimension), else the edge kernel."""
    if form == "sne" and dim <= FUSED_MAX_DIM and _compiled_sne(device, dtype):
        return "numba"
    if closed_form(form, dim) is not None:
        return "fused"
    from ..kernels import resolve_backend

    return resolve_backend(backend, device)
