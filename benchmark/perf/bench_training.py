"""pytest-benchmark: one LeNet-5 epoch on MNIST with torchvision's DataLoader+PIL vs the in-memory loader."""

import pytest

from benchmark.perf.training_throughput import in_memory_images_per_second, torchvision_images_per_second

LIMIT = 60000


@pytest.mark.benchmark(group="lenet5-mnist-epoch")
def test_torchvision_dataloader_epoch(benchmark):
    benchmark.extra_info["role"] = "reference"
    rate = benchmark.pedantic(torchvision_images_per_second, kwargs={"limit": LIMIT}, rounds=2)
    benchmark.extra_info["images_per_second"] = round(rate)


@pytest.mark.benchmark(group="lenet5-mnist-epoch")
def test_in_memory_loader_epoch(benchmark):
    rate = benchmark.pedantic(in_memory_images_per_second, kwargs={"limit": LIMIT}, rounds=2)
    benchmark.extra_info["images_per_second"] = round(rate)
