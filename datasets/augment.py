"""CIFAR-10's training augmentation, ``RandomCrop(32, padding=4)`` and ``RandomHorizontalFlip(p=0.5)``, batched.

The crop and the flip act on a batch of uint8 images (N,C,H,W) where they lie (CPU or GPU), as one gather with
tensor ops: image ``b``'s output pixel ``(i, j)`` is pixel ``(dy_b + i, dx_b + j)`` of the image zero-padded by 4
on every side, with ``j`` read backwards (``W - 1 - j``) when ``b`` is flipped. Every image gets its own offsets
and flip (torchvision's ``transforms.v2`` draws one set of parameters per call, which on a batch means one for
the whole batch).

The draws come from a CPU :class:`torch.Generator` seeded from the run's seed, one epoch at a time, and move to
the device with the epoch's permutation: a CPU run and a CUDA run crop and flip the same images in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "crop-flip")
PADDING = 4
_STREAM = 0x9E3779B97F4A7C15  # keeps the augmentation's random stream apart from the shuffle's (same seed)


def augment_generator(seed: int) -> torch.Generator:
    """The CPU generator of the crop-and-flip draws of a run with ``seed``."""
    return torch.Generator().manual_seed((seed + _STREAM) % 2**64)


@dataclass(frozen=True)
class CropFlip:
    """Per image: the crop's row and column offsets into the padded image, in ``[0, 2*PADDING]``, and the flip."""

    dy: torch.Tensor
    dx: torch.Tensor
    flip: torch.Tensor

    @classmethod
    def draw(cls, n: int, generator: torch.Generator) -> CropFlip:
        """Independent offsets and flips (probability 1/2) for ``n`` images, drawn on the CPU."""
        offsets = torch.randint(0, 2 * PADDING + 1, (2, n), generator=generator)
        return cls(offsets[0], offsets[1], torch.rand(n, generator=generator) < 0.5)

    def to(self, device) -> CropFlip:
        """The same draws on ``device``."""
        return CropFlip(self.dy.to(device), self.dx.to(device), self.flip.to(device))

    def __getitem__(self, index: slice) -> CropFlip:
        return CropFlip(self.dy[index], self.dx[index], self.flip[index])

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """Crop and flip each image of ``images`` (N,C,H,W) with its own draw; same dtype, shape and device."""
        n, _, height, width = images.shape
        padded = F.pad(images, (PADDING,) * 4)
        device = images.device
        rows = self.dy[:, None] + torch.arange(height, device=device)
        columns = torch.arange(width, device=device)
        columns = torch.where(self.flip[:, None], width - 1 - columns, columns) + self.dx[:, None]
        batch = torch.arange(n, device=device)[:, None, None]
        return padded[batch, :, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2).contiguous()
