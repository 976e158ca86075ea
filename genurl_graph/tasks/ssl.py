"""Self-supervised learning of images: P_X from augmentation views (static) and latent
neighbours (dynamic), on the one engine.

Each step draws a batch of images and ``views`` random views of each
(:class:`~genurl_graph.graphs.views.ImageViews`); the batch's view graph
(:func:`~genurl_graph.graphs.views.view_graph`, a DGLGraph) links the views of one image with
P = 1. With ``refine=N`` (the dynamic similarity) every N epochs the kNN graph of the current
representations of all images (:class:`~genurl_graph.similarity.LatentKNN`) is recomputed and
each batch also joins every image with its latent neighbours among the batch at P = ``weight``;
half of each batch is then drawn as latent neighbours of the other half, so that such pairs
occur. The encoder is a small CNN with a projector (:class:`~genurl_graph.encoders.CNN`); the
GKL loss pulls each view towards its partners and pushes it from all views of the batch.
``embeddings_`` and ``transform`` give the CNN's representation (before the projector).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import torch

from ..engine import TrainConfig
from ..errors import InputError
from .base import Plan, rows_inputs, setting, user_encoder

ENCODERS = ("cnn",)


INPUTS_KIND = "images"  # what `genurl apply` reads for this task (genurl_graph.io.read_inputs)


@dataclass(frozen=True)
class SSLDefaults:
    """Settings left at None on :class:`GenURL`, chosen on MNIST-5k (15 epochs) and COIL-20
    (20 epochs) against SimCLR (benchmarks/selfsup.py). The unnormalised fuzzy form reached at best
    0.934 linear / 0.852 10-NN on MNIST-5k (sphere 3, 3 negatives) against SimCLR's 0.957 /
    0.863; the normalised form with nu 5 on a sphere of radius 2 gave 0.949 / 0.873 (better
    10-NN, worse probe), and with nu 100 on radius sqrt(2) 0.959 / 0.867. In ``train``:
    ``batch_size`` is images per step (the view graph has views * batch nodes), ``nu`` 100 is
    close to a Gaussian kernel on the sphere (SimCLR's at temperature 0.5), ``negatives`` the
    push weight per edge, averaged over all views of the batch, the ``normalized`` form is
    KL(P_i || Q_i) with Q normalised over the batch of views, and the pool is unused (the push
    pool is the whole batch of views)."""

    dim: int = 128  # projector output, what the loss sees
    width: int = 16  # CNN channels of the first block; representation = 4 * width
    views: int = 2
    k: int = 5  # latent neighbours per image (refine)
    weight: float = 0.5  # P of a latent-neighbour pair
    sphere: float | None = 2**0.5  # radius of the sphere the projections are put on; None: free
    train: TrainConfig = TrainConfig(
        epochs=50, lr=1e-3, nu=100.0, batch_size=256, negatives=1.0, pool=0, form="normalized"
    )


DEFAULTS = SSLDefaults()


def as_images(data, image_shape=None) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) float32 images, checked; ``image_shape`` (H, W) or (C, H, W)
    reshapes an (n, H*W) or (n, C*H*W) matrix of flattened images. Channels-last images (n, H,
    W, C) with C in 1, 3, 4 and H > 4 (PIL's and most image files' order) are transposed."""
    try:
        X = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError("images must be a numeric array") from None
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != int(np.prod(shape)):
            raise InputError(f"cannot view {X.shape[1:]} values per image as {shape}")
        X = X.reshape((X.shape[0],) + shape)
    if X.ndim not in (3, 4):
        hint = ""
        if X.ndim == 2 and X.shape[1] and round(X.shape[1] ** 0.5) ** 2 == X.shape[1]:
            side = round(X.shape[1] ** 0.5)
            hint = (
                f"; these rows look like flattened {side}x{side} images: pass "
                f"image_shape=({side}, {side}) "
                f"(CLI: --image-shape {side}x{side})"
            )
        raise InputError(
            f"images must be an (n, H, W) or (n, C, H, W) array, got shape {X.shape}{hint}"
        )
    if X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] > 4:
        X = np.ascontiguousarray(X.transpose(0, 3, 1, 2))  # channels last (n, H, W, C), as PIL
    if X.shape[0] < 2:
        raise InputError(f"self-supervised learning needs at least 2 images, got {X.shape[0]}")
    if min(X.shape[-2:]) < 4:
        raise InputError(f"images must be at least 4 x 4 pixels, got {X.shape[-2]} x {X.shape[-1]}")
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(1)
    if bad.any():
        raise InputError(
            f"the images contain NaN or inf in {int(bad.sum())} images (first: image "
            f"{int(np.argmax(bad))})"
        )
    return X


def _features(encoder, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder.features(x[lo : lo + chunk]) for lo in range(0, len(x), chunk)])
    encoder.train()
    return out


class _PerView(torch.nn.Module):
    """Encodes the ``views`` stacked views of a batch one view at a time (batch norm then sees
    one view's statistics, as in SimCLR; on CPU two convolutions of B images are also faster
    than one of 2B); ``sphere``: the embedding is scaled onto the sphere of that radius."""

    def __init__(self, encoder, views: int, sphere: float | None):
        super().__init__()
        self.encoder, self.views, self.sphere = encoder, views, sphere

    def forward(self, x):
        z = torch.cat([self.encoder(part) for part in x.chunk(self.views)])
        return z if not self.sphere else self.sphere * torch.nn.functional.normalize(z, dim=1)


class _ViewStream:
    """SSL's batches: each step draws ``config.batch_size`` images (half of them latent
    neighbours of the other half once ``refiner`` has neighbours) and ``views`` views of each;
    P_X is the batch's view graph, the push pool all its views."""

    def __init__(self, images, views: int, augment, refiner=None, weight: float = 0.5):
        self.images, self.views, self.augment = images, views, augment
        self.refiner, self.weight = refiner, weight

    def batches(self, epoch: int, gen: torch.Generator, config) -> Iterator[tuple]:
        from ..graphs.views import graph_edges, view_graph

        images, n = self.images, len(self.images)
        batch = min(config.batch_size, n)
        device = images.device
        order = torch.randperm(n, generator=gen, device=device)
        neighbours = (
            None
            if self.refiner is None or self.refiner.neighbours is None
            else torch.as_tensor(self.refiner.neighbours, device=device)
        )
        # drop a last batch too small for batch norm
        for lo in range(0, max(n - batch, 0) + 1, batch):
            idx = order[lo : lo + batch]
            links = None
            if neighbours is not None:  # half anchors, half a latent neighbour of each
                half = len(idx) // 2
                pick = torch.randint(0, neighbours.shape[1], (half,), generator=gen, device=device)
                idx = torch.cat([idx[:half], neighbours[idx[:half], pick]])
                pos = torch.arange(half, device=device)
                links = (pos, pos + half, torch.full((half,), self.weight, device=device))
            x = images[idx]
            v = torch.cat([self.augment(x, gen) for _ in range(self.views)])
            src, dst, p = graph_edges(view_graph(len(idx), self.views, links, device=device))
            yield v, src, dst, p, torch.arange(len(v), device=device)


def build(
    model,
    X,
    image_shape=None,
    width: int | None = None,
    views: int | None = None,
    augment=None,
    sphere: float | None = -1,
    form: str | None = None,
    features=None,
) -> Plan:
    """SSL's plan: a CNN trained on view graphs of the images ``X``.

    ``augment``: an :class:`~genurl_graph.graphs.views.ImageViews` (default: its defaults);
    ``width``, ``views``, ``sphere`` (None: no sphere), ``form``: see :class:`SSLDefaults`."""
    from ..encoders import CNN
    from ..graphs.views import ImageViews
    from ..similarity import LatentKNN

    if features is not None:
        raise InputError("task 'ssl' takes only images")
    if isinstance(model.encoder, str) and model.encoder not in ("auto",) + ENCODERS:
        raise InputError(
            f"unknown ssl encoder {model.encoder!r}: choose from {', '.join(ENCODERS)}"
        )
    images_np = as_images(X, image_shape)
    n = images_np.shape[0]
    views = views or DEFAULTS.views
    if views < 2:
        raise InputError(f"views must be at least 2, got {views}")
    if isinstance(model.encoder, torch.nn.Module):
        encoder, images = user_encoder(model, lambda enc: rows_inputs(enc, images_np))
        name = "custom"
    else:
        encoder = CNN(
            1 if images_np.ndim == 3 else images_np.shape[1],
            setting(model, "dim", DEFAULTS.dim),
            width or DEFAULTS.width,
        )
        encoder.fit_norm(images_np)
        encoder.to(model.device)
        images, name = encoder.prepare(images_np), "cnn"
    refiner = None
    if model.refine:
        refiner = LatentKNN(
            None, k=min(setting(model, "k", DEFAULTS.k), n - 1), weight=DEFAULTS.weight, num_nodes=n
        )
    sphere = DEFAULTS.sphere if sphere == -1 else sphere
    represent = (
        (lambda x: _features(encoder, x))
        if hasattr(encoder, "features")
        else (lambda x: _no_train(encoder, x))
    )
    return Plan(
        encoder=_PerView(encoder, views, sphere),
        inputs=None,
        config=replace(DEFAULTS.train, form=form or DEFAULTS.train.form),
        num_nodes=n,
        stream=_ViewStream(images, views, augment or ImageViews(), refiner, DEFAULTS.weight),
        refiner=refiner,
        latent=lambda _: represent(images).cpu().numpy(),
        on_refresh=lambda _: None,
        embed=lambda *_: _final(represent, images, encoder),
        fitted={"encoder_name_": name, "encoder_": encoder},
    )


def _final(represent, images, encoder) -> np.ndarray:
    out = represent(images).cpu().numpy().astype(np.float32)
    encoder.eval()
    return out


def _no_train(encoder, x: torch.Tensor) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():
        out = encoder(x)
    encoder.train()
    return out


def transform(model, X, image_shape=None, graph=None) -> np.ndarray:
    """The fitted CNN's representations of new images (same size and channels)."""
    X = as_images(X, image_shape)
    enc = model.encoder_
    x = enc.prepare(X)
    out = _features(enc, x).cpu().numpy().astype(np.float32)
    enc.eval()
    return out
