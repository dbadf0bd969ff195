"""Images per second for one epoch of LeNet-5 on MNIST at batch 128: torchvision DataLoader vs in-memory.

(a) torchvision's ``MNIST`` class with PIL transforms ``Resize(32)``, ``Grayscale(3)``, ``ToTensor()`` in a
    ``DataLoader``; (b) this suite's :class:`~datasets.InMemoryLoader`. Both train the same seeded LeNet-5
    with RMSprop, so the difference is the input pipeline. Run ``python -m benchmark.perf.training_throughput``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

from benchmark.nn.models import build_model
from datasets import InMemoryLoader, load_splits, resolve_data_root


def _train_epoch(batches, limit: int, train: bool = True) -> float:
    """Train a fresh LeNet-5 on ``batches`` until ``limit`` images (or only iterate when ``train`` is
    False); return images per second."""
    model = build_model("lenet5", seed=0)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    seen, start = 0, time.perf_counter()
    for x, y in batches:
        if train:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        seen += len(y)
        if seen >= limit:
            break
    return seen / (time.perf_counter() - start)


def torchvision_images_per_second(data_dir=None, limit: int = 60000, train: bool = True, workers: int = 0) -> float:
    """Throughput with torchvision's MNIST + PIL transforms (files copied to a temp dir, then extracted)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(resolve_data_root(data_dir) / "MNIST", Path(tmp) / "MNIST")
        pipeline = transforms.Compose([transforms.Resize(32), transforms.Grayscale(3), transforms.ToTensor()])
        dataset = torchvision.datasets.MNIST(tmp, train=True, download=True, transform=pipeline)
        loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, num_workers=workers,
                                             generator=torch.Generator().manual_seed(0))
        return _train_epoch(loader, limit, train)


def in_memory_images_per_second(data_dir=None, limit: int = 60000, train: bool = True) -> float:
    """Throughput with this suite's in-memory loader (loading time excluded, as it happens once per run)."""
    splits = load_splits("mnist", "paper", data_dir, val_fraction=1 / 60000, allow_download=False)
    return _train_epoch(InMemoryLoader(splits.train, 128, seed=0), limit, train)


def main() -> None:
    """Measure both pipelines in one run and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--limit", type=int, default=60000, help="images per measured epoch")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    for label, train in (("training epoch", True), ("input pipeline only", False)):
        reference = torchvision_images_per_second(args.data_dir, args.limit, train)
        ours = in_memory_images_per_second(args.data_dir, args.limit, train)
        print(f"{label}:")
        print(f"  (a) torchvision DataLoader + PIL transforms: {reference:9.0f} images/s")
        print(f"  (b) in-memory loader:                        {ours:9.0f} images/s")
        print(f"  ratio (b)/(a): {ours / reference:.2f}x")


if __name__ == "__main__":
    main()
