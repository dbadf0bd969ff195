"""Preprocessing applied once, in bulk, when a dataset is loaded into memory.

* ``paper``: resize to 32x32, grayscale replicated to 3 channels, pixels in [0,1], no normalisation
  (the official OAMIP pipeline: ``Resize(32)``, ``Grayscale(3)``, ``ToTensor()``). Every dataset then
  fits every architecture, which cross-dataset transfer needs.
* ``native``: each dataset's own shape, normalised with its usual mean and std.

Images stay uint8 in memory; :class:`Normalisation` turns a batch into floats when it is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from datasets.errors import DatasetError

PREPROCESSINGS = ("paper", "native")


@dataclass(frozen=True)
class Normalisation:
    """How stored uint8 images become model input: ``(x/255 - mean) / std``, channels repeated."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    repeat_channels: int = 1

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div_(255.0)
        if self.repeat_channels > 1:
            x = x.repeat(1, self.repeat_channels, 1, 1)
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x - mean) / std


def to_nchw(images: np.ndarray) -> torch.Tensor:
    """(N,H,W) or (N,H,W,3) uint8 numpy array to an (N,C,H,W) uint8 tensor."""
    tensor = torch.from_numpy(np.array(images, copy=True))
    return tensor.unsqueeze(1) if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2).contiguous()


def preprocess(images: np.ndarray, mode: str, mean, std) -> tuple[torch.Tensor, Normalisation]:
    """Apply the named preprocessing; returns uint8 images and the normalisation to serve them with."""
    x = to_nchw(images)
    if mode == "native":
        return x, Normalisation(tuple(mean), tuple(std))
    if mode != "paper":
        raise DatasetError(f"unknown preprocessing {mode!r}; choose one of: {', '.join(PREPROCESSINGS)}")
    if x.shape[1] == 3:
        x = TF.rgb_to_grayscale(x)
    if x.shape[-2:] != (32, 32):
        x = TF.resize(x, [32, 32], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return x, Normalisation((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), repeat_channels=3)
