"""Preprocessing applied once, in bulk, when a dataset is loaded into memory.

* ``paper``: resize to 32x32, grayscale replicated to 3 channels, pixels in [0,1], no normalisation
  (the official OAMIP pipeline: ``Resize(32)``, ``Grayscale(3)``, ``ToTensor()``). Every dataset then
  fits every architecture, which cross-dataset transfer needs.
* ``native``: each dataset's own shape, normalised with its usual mean and std.

Images stay uint8 in memory; :class:`Normalisation` turns a batch into floats when it is served.
"""

from __future__ import annotations

import functools
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
        """Float model input of a uint8 batch, computed on the batch's device."""
        x = images.float().div_(255.0)
        if self.repeat_channels > 1:
            x = x.repeat(1, self.repeat_channels, 1, 1)
        mean, std = _channel_stats(self.mean, self.std, str(images.device))
        return (x - mean) / std


@functools.lru_cache(maxsize=16)
def _channel_stats(mean: tuple, std: tuple, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as (1,C,1,1) tensors on ``device``, made once per device (no copy per batch)."""
    return torch.tensor(mean, device=device).view(1, -1, 1, 1), torch.tensor(std, device=device).view(1, -1, 1, 1)


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
