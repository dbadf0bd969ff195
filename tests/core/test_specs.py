"""Run identities: every kind of run has a stable, pinned hash that moves with what determines its result."""

import dataclasses

import pytest

from baselines.lottery import LotteryOptions
from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.core.specs import EvaluateSpec, PruneSpec, RetrainSpec, Target, TransferSpec
from benchmark.pipeline.plan import Point

TRAIN = TrainConfig.paper("fc3", "mnist", epochs=3)
FASHION = TrainConfig.paper("fc3", "fashion-mnist", epochs=3)
MIP = PruneSpec(TRAIN, "mip", target=Target(threshold=0.1))


def test_spec_hashes_are_pinned():
    """Changing these orphans every stored result: add fields with defaults instead."""
    magnitude = PruneSpec(TRAIN, "magnitude", target=Target(match=MIP))
    lottery = PruneSpec(TRAIN, "lottery", LotteryOptions(rewind_iteration=100), target=Target(sparsity=0.5))
    assert (MIP.hash, magnitude.hash, lottery.hash) == ("1830484430369373", "bddca4d92d5d7a3c", "752a794652a59cc8")
    assert EvaluateSpec(MIP).hash == "6ea756cfb66c93ea"
    assert RetrainSpec(MIP, 3).hash == "da40442cc5c99154"
    assert TransferSpec(MIP, FASHION).hash == "44b4dbf06bde4de2"


@pytest.mark.parametrize("change", [
    dict(train=dataclasses.replace(TRAIN, seed=1)),
    dict(method="snip"),
    dict(options=LotteryOptions(prune_fraction=0.5)),
    dict(granularity="weight"),
    dict(target=Target(threshold=0.2)),
    dict(target=Target(match=PruneSpec(TRAIN, "mip", target=Target(threshold=0.2)))),
])
def test_prune_hash_moves_with_every_input(change):
    assert dataclasses.replace(MIP, **change).hash != MIP.hash


def test_stage_hashes_move_with_their_inputs_and_their_source():
    other = dataclasses.replace(MIP, method="random")
    assert EvaluateSpec(MIP, 1).hash != EvaluateSpec(MIP).hash != EvaluateSpec(other).hash
    assert RetrainSpec(MIP, 4).hash != RetrainSpec(MIP, 3).hash != RetrainSpec(other, 3).hash
    base = TransferSpec(MIP, FASHION)
    for changed in (TransferSpec(MIP, TrainConfig.paper("fc3", "cifar10", epochs=3)),
                    TransferSpec(MIP, dataclasses.replace(FASHION, epochs=4)),
                    TransferSpec(MIP, FASHION, control="random"), TransferSpec(other, FASHION)):
        assert changed.hash != base.hash
    kinds = {EvaluateSpec(MIP).hash, RetrainSpec(MIP, 0).hash, MIP.hash, TransferSpec(MIP, TRAIN).hash}
    assert len(kinds) == 4  # kinds never collide


def test_operating_point_labels_and_bad_specs():
    assert [p.label for p in (Point(sparsity=0.5), Point(threshold=0.1), Point(matched="mip", matched_point="tau=0.1"),
                              Point(sparsity=0.2, scope="global"))] == [
        "sparsity=0.5", "tau=0.1", "match=mip", "sparsity=0.2/global"]
    with pytest.raises(ConfigError, match="give one target, not both threshold and match"):
        Target(threshold=0.1, match=MIP)
    with pytest.raises(ConfigError, match="^granularity must be one of neuron, weight, got 'filter'$"):
        PruneSpec(TRAIN, "mip", granularity="filter")
    with pytest.raises(ConfigError, match="^control must be one of ticket, random, got 'shuffled'$"):
        TransferSpec(MIP, FASHION, control="shuffled")
    with pytest.raises(ConfigError, match="keeps the source's model and seed"):
        TransferSpec(MIP, dataclasses.replace(FASHION, seed=1))
