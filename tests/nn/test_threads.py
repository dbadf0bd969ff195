import os

import pytest
import torch

from benchmark.core.errors import ConfigError
from benchmark.nn.threads import configure_threads, default_threads, threads_per_worker


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("workers, cores, expected", [(1, 8, 8), (2, 8, 4), (3, 8, 2), (3, 2, 1), (16, 2, 1)])
def test_each_worker_gets_an_equal_share_of_at_least_one(workers, cores, expected):
    assert threads_per_worker(workers, cores) == expected


def test_cores_come_from_the_affinity_mask(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 4, 6, 8, 10}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert threads_per_worker(2) == 3


def test_cpu_count_without_an_affinity_mask(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert threads_per_worker(1) == 4


def test_no_workers_is_a_config_error():
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        threads_per_worker(0, 4)


def test_configure_threads_sets_torch_and_can_be_called_again(restore_threads):
    assert configure_threads(workers=2, cores=2) == 1 and torch.get_num_threads() == 1
    assert configure_threads(workers=1, cores=2) == 2 and torch.get_num_threads() == 2  # inter-op now fixed


@pytest.mark.parametrize("load", [0.0, 3.6])
def test_default_threads_is_fixed_whatever_the_load(monkeypatch, load):
    """A load-dependent count would make a model's bits depend on what else ran at start-up."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert default_threads() == 1
