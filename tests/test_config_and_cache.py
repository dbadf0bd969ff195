import pytest
import torch

from benchmark.cache import get_trained
from benchmark.config import TrainConfig
from benchmark.errors import ConfigError


def test_config_hashes_are_pinned():
    """Changing these breaks every cached model: add fields with hash-preserving defaults instead."""
    assert TrainConfig().hash == "a5faf9189d60b12c"
    assert TrainConfig.paper("fc3", "cifar10", epochs=30, seed=2).hash == "1c338249c00e73c9"


def test_hash_changes_with_every_result_field():
    base = TrainConfig()
    for change in [dict(seed=1), dict(epochs=3), dict(lr=0.01), dict(model="fc3"), dict(train_limit=10)]:
        assert TrainConfig(**change).hash != base.hash


def test_paper_optimisers():
    assert TrainConfig.paper("lenet5", "mnist").optimizer == "rmsprop"
    cifar = TrainConfig.paper("lenet5", "cifar10")
    assert (cifar.optimizer, cifar.momentum, cifar.weight_decay, cifar.nesterov) == ("sgd", 0.9, 5e-4, True)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown optimizer"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ConfigError, match="val_fraction"):
        TrainConfig(val_fraction=1.5)


def test_second_request_loads_from_cache(mnist_small):
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    first = get_trained(config, mnist_small)
    second = get_trained(config, mnist_small)
    assert not first.from_cache and second.from_cache and first.path == second.path
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    assert (first.path / "init.pt").exists() and not list(first.path.parent.glob(".*"))
