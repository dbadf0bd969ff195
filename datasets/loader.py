"""In-memory image sets and a shuffling mini-batch loader over them (no per-image Python work)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

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

    def tensors(self, index: torch.Tensor | slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        """Model-ready float inputs and labels for ``index``."""
        return self.normalise(self.images[index]), self.labels[index]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The (C,H,W) shape a model sees."""
        c, h, w = self.images.shape[1:]
        return (c * self.normalise.repeat_channels, h, w)


class InMemoryLoader:
    """Serves seeded, shuffled mini-batches of an :class:`ImageSet`; each pass draws a new permutation."""

    def __init__(self, data: ImageSet, batch_size: int = 128, shuffle: bool = True, seed: int = 0):
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self):
        n = len(self.data)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            yield self.data.tensors(order[start : start + self.batch_size])
