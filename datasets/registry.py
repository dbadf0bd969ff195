"""The named datasets and how to find each one's raw files under a data root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torchvision

from datasets import sources
from datasets.errors import DatasetError
from datasets.sources import RawArrays


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its torchvision class, class count, native normalisation and official training-set size."""

    name: str
    torchvision_class: type
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_images: int  # images in the official training set (the pool of the train and validation splits)

    @property
    def is_mnist_like(self) -> bool:
        """MNIST, Fashion-MNIST and KMNIST share torchvision's IDX layout and reader."""
        return issubclass(self.torchvision_class, torchvision.datasets.MNIST)

    def expected_files(self, root: Path) -> str:
        """Human-readable list of the files that would satisfy this dataset under ``root``."""
        if self.is_mnist_like:
            folder = root / self.torchvision_class.__name__ / "raw"
            names = ", ".join(name for name, _ in self.torchvision_class.resources)
            return f"{self.name} files ({names} in {folder}, or {root / (self.name + '.npz')})"
        folder = root / self.torchvision_class.base_folder
        return f"{self.name} files ({folder}/ as torchvision downloads it, or {root / (self.name + '.npz')})"

    def read(self, root: Path, allow_download: bool = True) -> RawArrays:
        """Read both official splits from ``root``, downloading with torchvision only if nothing is there."""
        npz = root / f"{self.name}.npz"
        if self._torchvision_present(root):
            return self._read_torchvision(root)
        if npz.exists():
            return sources.read_npz_mirror(npz)
        if not allow_download:
            raise DatasetError(f"{self.expected_files(root)} not found and downloads are disabled")
        cls = self.torchvision_class
        sources.download(root, lambda r: cls(r, train=True, download=True), self.expected_files(root))
        return self._read_torchvision(root)

    def _torchvision_present(self, root: Path) -> bool:
        if self.is_mnist_like:
            folder = root / self.torchvision_class.__name__ / "raw"
            return sources.has_files(folder, self.torchvision_class.resources)
        return sources.has_cifar_batches(root / self.torchvision_class.base_folder, self.torchvision_class)

    def _read_torchvision(self, root: Path) -> RawArrays:
        if self.is_mnist_like:
            folder = root / self.torchvision_class.__name__ / "raw"
            return sources.read_mnist_like(folder, self.torchvision_class.resources)
        return sources.read_torchvision_cifar(root, self.torchvision_class)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist", torchvision.datasets.MNIST, 10, (0.1307,), (0.3081,), 60000),
        DatasetSpec("fashion-mnist", torchvision.datasets.FashionMNIST, 10, (0.2860,), (0.3530,), 60000),
        DatasetSpec("kmnist", torchvision.datasets.KMNIST, 10, (0.1918,), (0.3483,), 60000),
        DatasetSpec(
            "cifar10", torchvision.datasets.CIFAR10, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
            50000,
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """Look up a dataset by name, failing with a one-line error that lists the valid names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None
