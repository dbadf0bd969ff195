import dataclasses

import pytest
import torch

import benchmark.core.paper
from benchmark.core.config import TrainConfig, config_hash
from benchmark.core.errors import ConfigError
from benchmark.pipeline.model_cache import get_trained
from datasets import DatasetError

PINNED = {"default": "586a131e5c2d8bde", "fc3-cifar10": "31dabcd291b08169"}
# paper configs of the digit sets, pinned before augmentation and DGL were added: those fields keep them valid
PINNED_DIGITS = {("fc3", "mnist"): "7d5e9f2c2570a5f5", ("lenet5", "mnist"): "1aa00b07e78e4d4b",
                 ("lenet5", "fashion-mnist"): "d3722e8126f07fbc", ("fc4", "fashion-mnist"): "fca27cd66ebcd72e"}


def test_config_hashes_are_pinned():
    """Changing these breaks every cached model: add fields with defaults instead (they keep hashes)."""
    assert TrainConfig().hash == PINNED["default"]
    assert TrainConfig.paper("fc3", "cifar10", epochs=30, seed=2, augment="none").hash == PINNED["fc3-cifar10"]
    for (model, dataset), pinned in PINNED_DIGITS.items():
        assert TrainConfig.paper(model, dataset, epochs=30, seed=2).hash == pinned


def test_paper_augments_cifar10_only_and_trains_vgg16_with_dgl():
    assert TrainConfig.paper("lenet5", "cifar10").augment == "crop-flip"
    assert TrainConfig.paper("lenet5", "mnist").augment == "none"
    vgg = TrainConfig.paper("vgg16", "cifar10")
    assert (vgg.training, vgg.lr, vgg.optimizer, vgg.nesterov) == ("dgl", 0.1, "sgd", True)
    assert TrainConfig.paper("lenet5", "cifar10").training == "end-to-end"
    with pytest.raises(ConfigError, match="^augment must be one of none, crop-flip, got 'jitter'$"):
        TrainConfig(augment="jitter")


def test_a_new_defaulted_field_keeps_the_pinned_hashes():
    extended = dataclasses.make_dataclass("TrainConfig", [("jitter", bool, dataclasses.field(default=False))],
                                          bases=(TrainConfig,), frozen=True)
    paper = dataclasses.asdict(TrainConfig.paper("fc3", "cifar10", epochs=30, seed=2, augment="none"))
    assert config_hash(extended()) == PINNED["default"]
    assert config_hash(extended(**paper)) == PINNED["fc3-cifar10"]
    assert config_hash(extended(**paper, jitter=True)) != PINNED["fc3-cifar10"]


def test_hash_changes_with_every_field():
    base = TrainConfig()
    changes = dict(model="fc3", dataset="kmnist", preprocessing="native", epochs=3, batch_size=64, optimizer="sgd",
                   lr=0.01, momentum=0.5, weight_decay=1e-4, nesterov=True, val_fraction=0.1, seed=1,
                   train_limit=100, width_divisor=2, augment="crop-flip", training="dgl")
    assert set(changes) == {f.name for f in dataclasses.fields(TrainConfig)}
    hashes = {TrainConfig(**{name: value}).hash for name, value in changes.items() if name != "width_divisor"}
    assert len(hashes) == len(changes) - 1 and base.hash not in hashes
    vgg = TrainConfig(model="vgg16")  # the width divisor is VGG-16's only
    assert vgg.hash not in hashes and TrainConfig(model="vgg16", width_divisor=2).hash not in hashes | {vgg.hash}


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 1
    names: tuple = ("a",)


@dataclasses.dataclass(frozen=True)
class Spec:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    inner: Inner = Inner()
    options: dict = dataclasses.field(default_factory=dict)
    counts: tuple = ()


def test_nested_dict_and_tuple_values_hash_stably():
    a = Spec(options={"norm": "l1", "rewind": 100}, counts=(3, 4))
    b = Spec(options={"rewind": 100, "norm": "l1"}, counts=(3, 4))
    assert config_hash(a) == config_hash(b)  # dict order does not matter
    assert config_hash(Spec(counts=(4, 3))) != config_hash(Spec(counts=(3, 4)))
    assert config_hash(Spec(options={"norm": "l2"})) != config_hash(Spec(options={"norm": "l1"}))
    assert config_hash(Spec(train=TrainConfig(seed=1))) != config_hash(Spec())
    assert config_hash(Spec(inner=Inner(names=("b",)))) != config_hash(Spec())
    assert config_hash(Spec(train=TrainConfig())) == config_hash(Spec())  # explicit defaults are defaults
    assert config_hash(Spec(counts=(Inner(width=2),))) != config_hash(Spec(counts=(Inner(),)))
    assert config_hash(Spec(options={"k": Inner(width=2)})) != config_hash(Spec(options={"k": Inner()}))


def test_nested_config_with_a_new_defaulted_field_keeps_the_outer_hash():
    extended = dataclasses.make_dataclass("TrainConfig", [("jitter", bool, dataclasses.field(default=False))],
                                          bases=(TrainConfig,), frozen=True)
    assert config_hash(Spec(train=extended(seed=3))) == config_hash(Spec(train=TrainConfig(seed=3)))
    assert config_hash(Spec(train=extended(seed=3, jitter=True))) != config_hash(Spec(train=TrainConfig(seed=3)))


def test_class_name_is_part_of_the_hash():
    other = dataclasses.make_dataclass("EvalConfig", [("seed", int, dataclasses.field(default=0))], frozen=True)
    assert config_hash(other()) != config_hash(TrainConfig())


def test_every_field_has_help_text():
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f.name


def test_paper_optimisers():
    assert TrainConfig.paper("lenet5", "mnist").optimizer == "rmsprop"
    cifar = TrainConfig.paper("lenet5", "cifar10")
    assert (cifar.optimizer, cifar.momentum, cifar.weight_decay, cifar.nesterov) == ("sgd", 0.9, 5e-4, True)


def test_paper_defaults_come_from_the_paper_table(monkeypatch):
    monkeypatch.setitem(benchmark.core.paper.PAPER_DEFAULTS, "kmnist",
                        dataclasses.replace(benchmark.core.paper.PAPER_DEFAULTS["kmnist"], lr=0.5))
    assert TrainConfig.paper("fc3", "kmnist").lr == 0.5
    monkeypatch.delitem(benchmark.core.paper.PAPER_DEFAULTS, "kmnist")
    with pytest.raises(ConfigError, match="no paper defaults for dataset 'kmnist'"):
        TrainConfig.paper("fc3", "kmnist")


def test_paper_with_an_unknown_dataset_is_one_line():
    with pytest.raises(DatasetError, match="unknown dataset 'svhn'; choose one of") as info:
        TrainConfig.paper("fc3", "svhn", lr=0.1)
    assert "\n" not in str(info.value)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="^optimizer must be one of rmsprop, sgd, adam, got 'lion'$"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ConfigError, match=r"^val_fraction must lie in \(0, 1\), got 1.5$"):
        TrainConfig(val_fraction=1.5)


def test_second_request_loads_from_cache(mnist_small):
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    first = get_trained(config, mnist_small)
    second = get_trained(config, mnist_small)
    assert not first.from_cache and second.from_cache and first.path == second.path
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    assert (first.path / "init.pt").exists() and not list(first.path.parent.glob(f".{first.path.name}.*"))
