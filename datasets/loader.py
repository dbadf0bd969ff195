"""In-memory image sets and a shuffling mini-batch loader over them (no per-image Python work).

A set lives as uint8 tensors on one device (:meth:`ImageSet.to`); batches are indexed, augmented and normalised
there. The shuffle permutation is drawn on the CPU from a generator seeded by the run's seed, so every device
sees the same batches, and moves to the device once per epoch: nothing crosses from host to device per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from datasets.augment import AUGMENTATIONS, CropFlip, augment_generator
from datasets.errors import DatasetError
from datasets.preprocess import Normalisation


@dataclass
class ImageSet:
    """uint8 images (N,C,H,W), int64 labels, and how to turn a batch of images into model input."""

    images: torch.Tensor
    labels: torch.Tensor
    normalise: Normalisation
    num_classes: int

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> ImageSet:
        """The images at ``index`` (a view-free copy), with the same normalisation."""
        return ImageSet(self.images[index], self.labels[index], self.normalise, self.num_classes)

    def to(self, device) -> ImageSet:
        """This set with its images (still uint8) and labels on ``device``; the same tensors when already there."""
        return ImageSet(self.images.to(device), self.labels.to(device), self.normalise, self.num_classes)

    def tensors(self, index: torch.Tensor | slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        """Model-ready float inputs and labels for ``index``, on the set's device."""
        return self.normalise(self.images[index]), self.labels[index]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The (C,H,W) shape a model sees."""
        c, h, w = self.images.shape[1:]
        return (c * self.normalise.repeat_channels, h, w)


class InMemoryLoader:
    """Serves seeded, shuffled mini-batches of an :class:`ImageSet` on its device; each pass draws a new
    permutation. ``augment="crop-flip"`` crops and flips every training image with its own seeded draw
    (:mod:`datasets.augment`); ``"none"`` serves the images as stored."""

    def __init__(self, data: ImageSet, batch_size: int = 128, shuffle: bool = True, seed: int = 0,
                 augment: str = "none"):
        if augment not in AUGMENTATIONS:
            raise DatasetError(f"unknown augmentation {augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self.augmentation = augment_generator(seed) if augment == "crop-flip" else None

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self):
        n, device = len(self.data), self.data.images.device
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(device)
        draws = CropFlip.draw(n, self.augmentation).to(device) if self.augmentation is not None else None
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            if draws is None:
                yield self.data.tensors(index)
            else:
                images = draws[start : start + self.batch_size].apply(self.data.images[index])
                yield self.data.normalise(images), self.data.labels[index]
