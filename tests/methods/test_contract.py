"""The method plug-in contract (benchmark.methods): names are looked up with a one-line error listing the valid
ones, a plug-in registered in a test runs by name, and a weight-level method matched to a neuron mask keeps its
parameter count per layer."""

import pytest
import torch

from benchmark.core.errors import ConfigError
from benchmark.methods import Scores, Target, get_method, matched_target, prune, register
from tests.baselines.test_baselines import ctx, toy_net


def test_unknown_method_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown method 'grasp'; choose one of: .*lottery.*magnitude.*mip"):
        get_method("grasp")


def test_a_throwaway_plugin_runs_by_name():
    @register
    class LastUnitsFirst:
        name = "last-units-first"
        description = "keeps the last units"
        granularities = ("neuron",)

        def score(self, model, context):
            return Scores({"fc1": torch.arange(3, dtype=torch.float)}, "neuron")

    result = prune("last-units-first", toy_net(), ctx(target=Target(sparsity=1 / 3)))
    assert result.mask["fc1"].tolist() == [False, True, True]
    with pytest.raises(ConfigError, match="neuron granularity, not weight"):
        prune("last-units-first", toy_net(), ctx(granularity="weight", target=Target(sparsity=0.5)))


def test_a_weight_level_method_matched_to_a_neuron_mask_keeps_its_parameter_count_per_layer():
    reference = prune("magnitude", toy_net(), ctx(target=Target(sparsity=1 / 3)))  # drops fc1's unit 1
    target = matched_target(reference, "weight")
    assert target.counts == {"fc1.weight": 4, "out.weight": 4}  # 2 of 6 rows' weights, 2 of 6 outgoing gone
    result = prune("magnitude", toy_net(), ctx(granularity="weight", target=target))
    assert {k: int(m.sum()) for k, m in result.mask.items()} == target.counts
    with pytest.raises(ConfigError, match="a neuron-level method cannot match a weight-level mask"):
        matched_target(result, "neuron")
