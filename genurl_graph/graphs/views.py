"""Augmentation views as a graph: SSL's static P_X.

:class:`ImageViews` draws random views of a batch of images (random resized crop, a small
rotation and shift, noise, cutout) as one batched affine resampling, all from one
``torch.Generator``. :func:`view_graph` links the views of each sample (P = 1) over the
``views x batch`` view nodes, optionally with weighted edges between samples (the latent
neighbours of the dynamic similarity); it is a DGLGraph whose ``edata["p"]`` holds P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class ImageViews:
    """Random views of (B, C, H, W) images in [0, 1].

    - ``crop``: the kept area fraction (min, max) of a random resized crop, aspect ratio in
      ``ratio``; the crop is resized back to H x W.
    - ``rotate``: a rotation drawn uniformly in +-``rotate`` degrees; ``shift``: a translation
      of up to that fraction of the side.
    - ``noise``: Gaussian pixel noise of that standard deviation, with probability 0.5.
    - ``cutout``: with probability ``cutout``, a square of ``cutout_size`` x the side is zeroed.
    """

    crop: tuple[float, float] = (0.4, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotate: float = 15.0
    shift: float = 0.1
    noise: float = 0.05
    cutout: float = 0.5
    cutout_size: float = 0.3

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        dev = x.device

        def uniform(lo, hi, size=(b,)):
            return lo + (hi - lo) * torch.rand(size, generator=gen, device=dev)

        area = uniform(*self.crop)
        log_ratio = uniform(math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = torch.exp(log_ratio)
        sx = torch.sqrt(area * aspect).clamp(max=1.0)  # kept fraction of the width, of the height
        sy = torch.sqrt(area / aspect).clamp(max=1.0)
        cx = uniform(-1, 1) * (1 - sx) + uniform(-self.shift, self.shift) * 2
        cy = uniform(-1, 1) * (1 - sy) + uniform(-self.shift, self.shift) * 2
        angle = uniform(-self.rotate, self.rotate) * (math.pi / 180)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # (b, 2, 3)
        theta = torch.stack(
            [torch.stack([sx * cos, -sy * sin, cx], 1), torch.stack([sx * sin, sy * cos, cy], 1)], 1
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.noise > 0:
            on = (torch.rand((b, 1, 1, 1), generator=gen, device=dev) < 0.5).to(out.dtype)
            out = out + on * self.noise * torch.randn(out.shape, generator=gen, device=dev)
        if self.cutout > 0:
            side_h, side_w = (
                max(1, round(h * self.cutout_size)),
                max(1, round(w * self.cutout_size)),
            )
            top = (torch.rand(b, generator=gen, device=dev) * (h - side_h + 1)).long()
            left = (torch.rand(b, generator=gen, device=dev) * (w - side_w + 1)).long()
            on = torch.rand(b, generator=gen, device=dev) < self.cutout
            rows = torch.arange(h, device=dev)
            cols = torch.arange(w, device=dev)
            in_h = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + side_h)
            in_w = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + side_w)
            hole = (in_h[:, :, None] & in_w[:, None, :] & on[:, None, None]).unsqueeze(1)
            out = out.masked_fill(hole, 0.0)
        return out


def view_graph(batch: int, views: int = 2, links: tuple | None = None, device="cpu"):
    """The view graph of one batch: node ``v * batch + i`` is view v of sample i.

    Edges (both directions) join every two views of one sample with P = 1; ``links``
    ``(i, j, w)`` (sample positions in the batch, weights in (0, 1]) joins each view of i with
    the same view of j with P = w. Returns a DGLGraph with ``edata["p"]`` where DGL imports and
    ``device`` is the CPU, else the tuple ``(src, dst, p)`` of tensors on ``device`` (DGL's
    wheels are CPU builds, and Python 3.12+ has none)."""
    if views < 2:
        raise ValueError("views must be at least 2")
    base = torch.arange(batch, device=device)
    src, dst, p = [], [], []
    for a in range(views):
        for b_ in range(views):
            if a != b_:
                src.append(base + a * batch)
                dst.append(base + b_ * batch)
                p.append(torch.ones(batch, device=device))
    if links is not None and len(links[0]):
        i, j, w = (torch.as_tensor(np.asarray(t), device=device) for t in links)
        for a in range(views):
            src += [i + a * batch, j + a * batch]
            dst += [j + a * batch, i + a * batch]
            p += [w.float(), w.float()]
    src, dst, p = torch.cat(src), torch.cat(dst), torch.cat(p)
    from .._deps import dgl_available

    if not dgl_available() or torch.device(device).type != "cpu":  # DGL's wheels are CPU builds
        return src, dst, p
    import dgl

    g = dgl.graph((src, dst), num_nodes=views * batch, device=device)
    g.edata["p"] = p
    return g


def graph_edges(g) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(src, dst, p) of a :func:`view_graph` result, DGLGraph or tuple."""
    if isinstance(g, tuple):
        return g
    src, dst = g.edges()
    return src, dst, g.edata["p"]


def graph_views(
    graph, views: int, drop_edge: float = 0.2, mask_feature: float = 0.3, seed: int = 0
) -> list:
    """``views`` corrupted copies of a :class:`~genurl_graph.graphs.Graph`, as GRACE draws them:
    each undirected edge dropped with probability ``drop_edge`` and each feature column zeroed
    with probability ``mask_feature`` (one mask per view)."""
    import scipy.sparse as sp

    from .graph import Graph

    rng = np.random.default_rng(seed)
    upper = sp.triu(graph.symmetric(), k=1).tocoo()
    out = []
    for _ in range(views):
        keep = rng.random(upper.nnz) >= drop_edge
        half = sp.coo_matrix(
            (upper.data[keep], (upper.row[keep], upper.col[keep])), shape=upper.shape
        )
        adj = (half + half.T).tocsr()
        feats = graph.features
        if feats is not None and mask_feature > 0:
            cols = (rng.random(feats.shape[1]) >= mask_feature).astype(np.float32)
            feats = (
                feats.multiply(cols[None, :]).tocsr()
                if sp.issparse(feats)
                else np.asarray(feats) * cols[None, :]
            )
        out.append(Graph(adj, graph.ids, feats, False, graph.source))
    return out
