"""A small CNN (+ projector) for self-supervised learning on 2-D grey images, sized for a
2-core CPU: three 3x3 conv blocks (``width``, 2x, 4x channels; batch norm, ReLU, 2x2 max-pool
after the first two) and a global average pool give the representation (``4 * width``
features); a two-layer MLP projector maps it to the ``dim``-d embedding the loss sees.
``forward`` returns the projection, :meth:`CNN.features` the representation (what
``GenURL.transform`` returns and probes evaluate, as is usual in SSL)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .base import Encoder, register, reset_all


def _block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    layers = [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


@register("cnn")
class CNN(Encoder):
    def __init__(self, channels: int = 1, dim: int = 128, width: int = 32, proj_hidden: int = 512):
        super().__init__()
        self.channels, self.dim, self.width, self.proj_hidden = channels, dim, width, proj_hidden
        self.backbone = nn.Sequential(
            *_block(channels, width, True),
            *_block(width, 2 * width, True),
            *_block(2 * width, 4 * width, False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.projector = nn.Sequential(
            nn.Linear(4 * width, proj_hidden),
            nn.BatchNorm1d(proj_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(proj_hidden, dim),
        )
        # input scaling, set by fit_norm and saved with the weights
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))
        # raw pixel value of 1.0 in [0, 1] units
        self.register_buffer("value_scale", torch.ones(()))

    def reset_parameters(self):
        """New weights; the fitted input scaling (buffers) is kept."""
        reset_all(self.backbone)
        reset_all(self.projector)

    @property
    def feature_dim(self) -> int:
        return 4 * self.width

    def prepare(self, images) -> torch.Tensor:
        """(n, C, H, W) float32 images in [0, 1] units from raw (n, H, W) or (n, C, H, W) ones,
        with the scale found by :meth:`fit_norm`; views are drawn from these."""
        x = torch.as_tensor(images).float()
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise InputError(
                f"expected (n, {self.channels}, H, W) images (this model was trained on "
                f"{self.channels}-channel images), got shape {tuple(x.shape)}"
            )
        return x.to(self.value_scale.device) / self.value_scale

    def fit_norm(self, images) -> "CNN":
        """The value scale (255 for 8-bit pixels, else the largest absolute value above 1, else
        1) and the per-channel mean and std of the raw images."""
        x = torch.as_tensor(images).float()
        top = float(x.abs().max()) if x.numel() else 1.0
        self.value_scale.fill_(255.0 if 1.0 < top <= 255.0 else max(top, 1.0))
        x = self.prepare(images)
        self.mean = x.mean((0, 2, 3)).to(self.mean)
        self.std = x.std((0, 2, 3)).clamp(min=1e-3).to(self.std)
        return self

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[None, :, None, None]) / self.std[None, :, None, None]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self._scale(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.features(x))
