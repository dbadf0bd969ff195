"""Shared fixtures: a few hundred real MNIST / Fashion-MNIST images shipped with the tests.

``tests/fixtures/data/*.npz`` are the first 800 (MNIST) / 600 (Fashion-MNIST) training images and the first
200 test images of the official files, in their original order (see tests/fixtures/README.md).
Tests marked ``real_data`` read the full datasets from ``$TICKETBENCH_DATA`` (CI points it at ../shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from benchmark.core.config import TrainConfig
from benchmark.nn.training import fit
from datasets import load_splits

FIXTURE_ROOT = Path(__file__).parent / "fixtures" / "data"
# the session's networks train on this many torch threads, whatever count the process has when a test first asks
# for one: torch's sums, and so the trained weights, depend on it (LeNet-5 trained on 1 thread gives a relaxed ce
# program, official objective, N = 3, on which Clarabel stalls; on 2 it solves)
TRAIN_THREADS = 2


def _fit(config: TrainConfig, data):
    before = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        return fit(config, data)
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty ticketbench cache."""
    monkeypatch.setenv("TICKETBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def fixture_root() -> Path:
    return FIXTURE_ROOT


@pytest.fixture(scope="session")
def mnist_small():
    """Real MNIST slice: 640 train / 160 val / 200 test images, paper preprocessing."""
    return load_splits("mnist", "paper", FIXTURE_ROOT, seed=0, allow_download=False)


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The full datasets; CI sets TICKETBENCH_DATA to ../shared/data."""
    root = os.environ.get("TICKETBENCH_DATA")
    if not root or not (Path(root) / "MNIST").is_dir():
        pytest.skip("full datasets not available: set TICKETBENCH_DATA (CI does)")
    return Path(root)


@pytest.fixture(scope="session")
def trained_lenet(mnist_small):
    """LeNet-5 trained for 10 epochs on the MNIST slice."""
    config = TrainConfig.paper("lenet5", "mnist", epochs=10)
    return config, _fit(config, mnist_small)


@pytest.fixture(scope="session")
def trained_fc3(mnist_small):
    """FC-3 trained for 5 epochs on the MNIST slice."""
    config = TrainConfig.paper("fc3", "mnist", epochs=5)
    return config, _fit(config, mnist_small)


@pytest.fixture(scope="session")
def mip_batch(trained_lenet, mnist_small):
    """The one-per-class batch of the fixture LeNet, from the validation split."""
    from datasets import pick_one_per_class

    x, y, _ = pick_one_per_class(trained_lenet[1].model, mnist_small.val, n=10)
    return x, y
