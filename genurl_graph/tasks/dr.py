"""Dimension reduction: P_X on the kNN graph of the data points, a free or parametric encoder.

The data become a kNN graph (exact by blocks for small n; approximate nn-descent from DGL for
large n, after a PCA to ``PCA_DIM`` columns when the points are wide); P_X = UMAP-style
rho/sigma weights through the t-kernel (nu_X = 100), symmetrised by fuzzy union; the free
layout's last 30 % of epochs (``AVERAGE_FROM``; not with ``refine``, whose refreshes rebuild
P_X) pull on the same edges symmetrised by averaging
(t-SNE's (p_{j|i} + p_{i|j}) / 2), which halves the pairs only one end chose and separates
classes that touch (COIL-20's similar objects) without giving up the union's neighbourhoods
(docs/dr.md, sixth session). The encoder is
a free table of coordinates started from a spectral layout of P_X (transductive), or, with
``parametric=True``, an MLP on the standardised inputs that transforms new points.
Q_Z is the Cauchy kernel (nu_Z = 1, as t-SNE's). The free layout's loss is the ``sne`` form:
SNE's conditional KL(P_i || Q_i), Q_i normalised over the point's P_X neighbours (exactly)
plus a shared pool of up to 128 points scaled to all n (t-SNE's p - q on every edge). It keeps
openTSNE's quality (MNIST-5k T@10 0.982, COIL-20 10-NN accuracy 0.958) where the UMAP-like
``sampled`` form did not, and, unlike the ``normalized`` form (pool only, no neighbours in Z),
keeps clusters whole (the `make demo` picture of Cora; docs/dr.md). On CPU the ``sne`` form
runs compiled (numba: one pass over the pairs, genurl_graph.kernels.layout_numba), on one or
all threads as it times faster, with the same result either way. The parametric MLP keeps
the ``sampled`` form. torch's passes run on one thread below ONE_THREAD_BELOW pairs an epoch. A nu_Z
schedule (``nu_end``) is
available but did not help on digits.
Defaults were chosen on digits, MNIST-5k and COIL-20 against umap-learn (benchmarks/dr.py).

Documented behaviour: duplicate points get distance 0 (rho = 0) and P = 1 to each other, so
they land together; constant columns add nothing to distances and are harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from ..encoders import MLP, Table, spectral_layout
from ..engine import TrainConfig
from ..errors import InputError
from ..similarity import FeatureAffinity, precomputed
from ._data import as_matrix
from .base import Plan, embed, rows_inputs, setting, to_device, user_encoder


INPUTS_KIND = "matrix"  # what `genurl apply` reads for this task (genurl_graph.io.read_inputs)


@dataclass(frozen=True)
class DRDefaults:
    """DR settings. The free layout: full-batch SGD on the summed loss, clipped, step decaying
    linearly to 0 (UMAP's schedule, every edge at once), 1,000 epochs up to 10,000 points (200
    above, as UMAP: an epoch of a compiled run costs about 0.2 ms on digits, and the second 500
    raise MNIST-5k's T@10 from 0.9828 to 0.9834; docs/dr.md, ninth session); the MLP: Adam on
    the mean loss."""

    dim: int = 2
    k: int = 10
    train: TrainConfig = TrainConfig(
        epochs=1000,
        lr=1.0,
        nu=1.0,
        negatives=1.0,
        pool=128,
        lr_decay=True,
        optimizer="sgd",
        form="sne",
    )


FREE = DRDefaults(k=15)
PARAMETRIC = DRDefaults(
    train=TrainConfig(
        epochs=100,
        lr=1e-2,
        nu=1.0,
        batch_size=4096,
        optimizer="adam",
        negatives=15.0,
        pool=128,
        form="sampled",
    )
)
POOL_PAIRS = 2**20  # the push's pairs an epoch (n x pool) that the pool shrinks to keep
AVERAGE_FROM = 0.7  # the free layout's last 30 % of epochs pull on the averaged P (t-SNE's)
EXACT_MAX = 20_000  # points; above it the kNN graph is approximate (DGL's nn-descent)
PCA_DIM = 64  # wide data are projected to this many columns before the approximate kNN


def check_data(X, k: int) -> np.ndarray | sp.csr_matrix:
    """X as a finite 2-D float32 matrix with more than ``k`` rows, or an InputError that says
    why."""
    X = as_matrix(X, "the data")
    if X.shape[0] == 0:
        raise InputError("the data have no rows")
    if X.shape[0] <= k:
        raise InputError(
            f"{X.shape[0]} points are too few for k={k} neighbours (need more than k): "
            f"choose a smaller k (--k, GenURL(k=...)), at most {X.shape[0] - 1}"
        )
    if X.shape[1] < 1:
        raise InputError("the data have no columns")
    return X


def reduce_width(X, seed: int, width: int = PCA_DIM) -> np.ndarray:
    """X projected on its first ``width`` principal axes when it is wider (for the kNN only)."""
    if X.shape[1] <= width:
        return X.toarray() if sp.issparse(X) else X
    from sklearn.decomposition import PCA, TruncatedSVD

    pca = (
        TruncatedSVD(width, random_state=seed)
        if sp.issparse(X)
        else PCA(width, svd_solver="randomized", random_state=seed)
    )
    return pca.fit_transform(X).astype(np.float32)


def data_affinity(
    X, k: int, metric: str, seed: int = 0, keep_conditional: bool = False
) -> FeatureAffinity:
    """P_X on the kNN graph of X: exact up to EXACT_MAX points, then nn-descent on the first PCA_DIM
    principal components (a 70,000 x 784 set: about 10 s instead of a minute);
    ``keep_conditional`` for the late phase's :meth:`~FeatureAffinity.averaged`."""
    kw = {"k": k, "metric": metric, "weights": "smooth", "keep_conditional": keep_conditional}
    if X.shape[0] <= EXACT_MAX:
        return FeatureAffinity(X, **kw)
    return FeatureAffinity(reduce_width(X, seed), method="nndescent", **kw)


def build(model, X, affinity=None) -> Plan:
    """DR's plan: P_X on the kNN graph of X (or your own ``affinity``), then a free or
    parametric embedding started from P_X's spectral layout."""
    auto = PARAMETRIC if model.parametric else FREE
    k = setting(model, "k", auto.k)
    X = check_data(X, k)
    # The shared pool shrinks as n grows (each source's push is still weighted by its P; the
    # pool sets only its variance): the push costs n x pool pairs an epoch, the pull n x k.
    train = replace(auto.train, pool=int(np.clip(POOL_PAIRS // X.shape[0], 32, auto.train.pool)))
    if X.shape[0] > 10_000:  # as UMAP: fewer epochs for large data
        train = replace(train, epochs=min(train.epochs, 200))
    metric = (
        model.metric if model.metric != "auto" else ("cosine" if sp.issparse(X) else "euclidean")
    )
    n = X.shape[0]
    # the late phase's averaged P: not with refine, whose refreshes rebuild P_X from the union's
    # edges, nor on a P_X of the user's
    late = not model.parametric and not model.refine and affinity is None
    affinity = (
        data_affinity(X, k, metric, model.random_state, keep_conditional=late)
        if affinity is None
        else precomputed(affinity, n)
    )
    dim = setting(model, "dim", auto.dim)
    if isinstance(model.encoder, torch.nn.Module):  # the user's own: no spectral start to fit
        name = "custom"
        encoder, inputs = user_encoder(model, lambda enc: rows_inputs(enc, X))
    elif model.parametric:
        encoder = MLP(
            X.shape[1], dim, hidden=setting(model, "hidden", 256), layers=3, norm="standard"
        ).fit_norm(X)
        inputs = encoder.prepare(X)
        _warm_start(encoder, inputs, spectral_layout(affinity.P, dim, model.random_state))
        name = "mlp"
    else:
        encoder, inputs = (
            Table(n, dim, init=spectral_layout(affinity.P, dim, model.random_state)),
            None,
        )
        name = "table"
    pairs = affinity.P.nnz + n * train.pool
    return Plan(
        encoder=encoder,
        inputs=inputs,
        config=train,
        num_nodes=n,
        affinity=affinity,
        refine_k=k,
        threads=1 if not model.parametric and pairs < ONE_THREAD_BELOW else None,
        late=(AVERAGE_FROM, affinity.averaged()) if late else None,
        fitted={"encoder_name_": name, "metric_": metric},
    )


# Pairs an epoch (pull edges + push pairs) below which a free layout trains on one thread: each
# tensor pass is then too short to share (a few 100 us), and on a busy machine a second thread's
# wait at every pass costs more than it saves (digits on 2 busy cores: 7 s on one thread, 94 s on
# two; an epoch of the 70,000-point set, 1.1M edges + 70,000 x 32 pushes: 69 ms on one, 506 ms on
# two).
ONE_THREAD_BELOW = 1 << 24


def _warm_start(encoder: MLP, inputs: torch.Tensor, target: np.ndarray, steps: int = 100) -> None:
    """Fit the MLP to the spectral layout first, so parametric and free runs start alike."""
    target = torch.as_tensor(target)
    opt = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = ((encoder(inputs) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def transform(model, X, graph=None) -> np.ndarray:
    """Embed new points with the fitted parametric encoder."""
    X = check_data(X, 0)
    in_dim = getattr(model.encoder_, "in_dim", None)
    if in_dim is not None and X.shape[1] != in_dim:
        raise InputError(f"the model was fitted on {in_dim} columns, got {X.shape[1]}")
    return embed(model.encoder_, to_device(rows_inputs(model.encoder_, X), model.device))
