"""Dimension reduction: P_X on the kNN graph of the data points, a free or parametric encoder.

The data become a kNN graph (exact by blocks for small n; approximate nn-descent from DGL for
large n, after a PCA to ``PCA_DIM`` columns when the points are wide); P_X = UMAP-style
rho/sigma weights through the t-kernel (nu_X = 100), symmetrised by fuzzy union. The encoder is
a free table of coordinates started from a spectral layout of P_X (transductive), or, with
``parametric=True``, an MLP on the standardised inputs that transforms new points.
Q_Z is the Cauchy kernel (nu_Z = 1, as t-SNE's). The loss is the UMAP-like ``sampled`` form.
The ``normalized`` form (KL(P_i || Q_i) over a shared pool of 32 points, negatives 1: t-SNE's
repulsion per point) lifted MNIST-5k's T@10 from 0.968 to 0.982, but it breaks the layout of a
graph embedding into many small islands (Cora's 512-d GenURL embedding, the `make demo`
picture), so it is not the default yet (docs/dr.md). Training
runs on one thread below ONE_THREAD_BELOW pairs an epoch. A nu_Z schedule (``nu_end``) is
available but did not help on digits.
Defaults were chosen on digits, MNIST-5k and COIL-20 against umap-learn (benchmarks/dr.py).

Documented behaviour: duplicate points get distance 0 (rho = 0) and P = 1 to each other, so
they land together; constant columns add nothing to distances and are harmless.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from ..encoders import spectral_layout
from ..encoders.models import MLP, Table
from ..errors import InputError
from ..similarity import FeatureAffinity
from ._data import as_matrix


@dataclass
class DRDefaults:
    """DR settings. The free layout: full-batch SGD on the summed loss, clipped, step decaying
    linearly to 0 (UMAP's schedule, every edge at once); the MLP: Adam on the mean loss."""

    dim: int = 2
    k: int = 10
    epochs: int = 500
    lr: float = 1.0
    nu: float = 1.0
    nu_end: float | None = None
    negatives: float = 15.0
    pool: int = 128
    batch_size: int | None = None
    lr_decay: bool = True
    optimizer: str = "sgd"
    form: str = "sampled"


FREE = DRDefaults()
PARAMETRIC = DRDefaults(epochs=100, lr=1e-2, batch_size=4096, optimizer="adam", lr_decay=False,
                        negatives=15.0, pool=128, form="sampled")
EXACT_MAX = 20_000  # points; above it the kNN graph is approximate (DGL's nn-descent)
PCA_DIM = 64  # wide data are projected to this many columns before the approximate kNN


def check_data(X, k: int) -> np.ndarray | sp.csr_matrix:
    """X as a finite 2-D float32 matrix with more than ``k`` rows, or an InputError that says why."""
    X = as_matrix(X, "the data")
    if X.shape[0] <= k:
        raise InputError(f"{X.shape[0]} points are too few for k={k} neighbours (need more than k)")
    if X.shape[1] < 1:
        raise InputError("the data have no columns")
    return X


def reduce_width(X, seed: int, width: int = PCA_DIM) -> np.ndarray:
    """X projected on its first ``width`` principal axes when it is wider (for the kNN only)."""
    if X.shape[1] <= width:
        return X.toarray() if sp.issparse(X) else X
    from sklearn.decomposition import PCA, TruncatedSVD

    pca = (TruncatedSVD(width, random_state=seed) if sp.issparse(X)
           else PCA(width, svd_solver="randomized", random_state=seed))
    return pca.fit_transform(X).astype(np.float32)


def data_affinity(X, k: int, metric: str, seed: int = 0) -> FeatureAffinity:
    """P_X on the kNN graph of X: exact up to EXACT_MAX points, then nn-descent on the first PCA_DIM principal
    components (a 70,000 x 784 set: about 10 s instead of a minute)."""
    if X.shape[0] <= EXACT_MAX:
        return FeatureAffinity(X, k=k, metric=metric, weights="smooth")
    Xr = reduce_width(X, seed)
    return FeatureAffinity(Xr, k=k, metric=metric, weights="smooth", method="nndescent")


def fit(model, X, features=None) -> None:
    """DR for :class:`GenURL`: P_X on the kNN graph of X, then a free or parametric embedding."""
    auto = PARAMETRIC if model.parametric else FREE
    # The shared pool shrinks as n grows (each source's push is still weighted by its P; the
    # pool sets only its variance): the push costs n x pool pairs an epoch, the pull n x k.
    auto = replace(auto, pool=int(np.clip(2 ** 18 // X.shape[0], 32, auto.pool)))
    if X.shape[0] > 10_000:  # as UMAP: fewer epochs for large data
        auto = replace(auto, epochs=min(auto.epochs, 200))
    k = model._setting("k", auto.k)
    X = check_data(X, k)
    metric = model.metric if model.metric != "auto" else ("cosine" if sp.issparse(X) else "euclidean")
    affinity = data_affinity(X, k, metric, model.random_state)
    dim = model.dim or auto.dim
    n = X.shape[0]
    start = spectral_layout(affinity.P, dim, model.random_state)
    if model.parametric:
        encoder = MLP(X.shape[1], dim, hidden=model._setting("hidden", 256), layers=3, norm="standard").fit_norm(X)
        inputs = encoder.prepare(X)
        _warm_start(encoder, inputs, start)
        model.encoder_name_ = "mlp"
    else:
        encoder, inputs = Table(n, dim, init=start), None
        model.encoder_name_ = "table"
    with _threads_for(ONE_THREAD_BELOW if model.parametric else affinity.P.nnz + n * auto.pool):
        inputs = model._train(encoder, inputs, affinity, n, auto)
    model.metric_ = metric
    model.embeddings_ = model._embed(inputs)


ONE_THREAD_BELOW = 1 << 20  # pairs an epoch (pull edges + push pairs)


@contextmanager
def _threads_for(pairs: int):
    """Train on one thread when an epoch has fewer than ONE_THREAD_BELOW pairs: each tensor pass
    is then too short to share (a few 100 us), and on a busy machine a second thread's wait at
    every pass costs more than it saves (digits on 2 busy cores: 7 s on one thread, 94 s on two)."""
    before = torch.get_num_threads()
    if pairs < ONE_THREAD_BELOW and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _warm_start(encoder: MLP, inputs: torch.Tensor, target: np.ndarray, steps: int = 100) -> None:
    """Fit the MLP to the spectral layout first, so parametric and free runs start alike."""
    target = torch.as_tensor(target)
    opt = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = ((encoder(inputs) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def transform(model, X, features=None) -> np.ndarray:
    """Embed new points with the fitted parametric encoder."""
    from ..model import to_device

    X = check_data(X, 0)
    if X.shape[1] != model.encoder_.in_dim:
        raise InputError(f"the model was fitted on {model.encoder_.in_dim} columns, got {X.shape[1]}")
    return model._embed(to_device(model.encoder_.prepare(X), model.device))
