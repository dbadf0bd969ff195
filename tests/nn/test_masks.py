"""Hand-checked masks: a pruned unit loses its incoming weights, its BatchNorm entries and its outgoing weights."""

from collections import OrderedDict

import torch
from torch import nn

from benchmark.methods import PruneResult, Scores
from benchmark.nn.masks import (
    apply_weight_mask,
    neuron_to_weight_mask,
    official_parameter_sparsity,
    parameter_sparsity,
    parameters_removed,
)
from benchmark.nn.models import build_model
from benchmark.pipeline.experiment import removed


def test_fc_unit_removes_its_row_bias_and_outgoing_column():
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("relu1", nn.ReLU()), ("out", nn.Linear(3, 2))]))
    mask = neuron_to_weight_mask(net, {"fc1": torch.tensor([True, False, True])})
    assert mask["fc1.weight"].tolist() == [[True, True], [False, False], [True, True]]
    assert mask["fc1.bias"].tolist() == [True, False, True]
    assert mask["out.weight"].tolist() == [[True, False, True], [True, False, True]]
    # 2 incoming + 1 bias + 2 outgoing of 17 parameters
    assert parameters_removed(net, mask) == 5 and parameter_sparsity(net, mask) == 5 / 17


def test_conv_filter_removes_its_flattened_columns_in_lenet():
    net = build_model("lenet5", seed=0)
    keep = torch.ones(16, dtype=torch.bool)
    keep[3] = False
    mask = neuron_to_weight_mask(net, {"conv2": keep})
    dead_columns = ~mask["fc1.weight"][0]
    assert torch.nonzero(dead_columns).flatten().tolist() == list(range(3 * 25, 4 * 25))  # 16 x 5 x 5 flattened
    assert parameters_removed(net, mask) == 6 * 25 + 1 + 120 * 25


def test_conv_filter_feeding_a_conv_removes_that_input_channel():
    net = build_model("lenet5", seed=0)
    keep = torch.tensor([True, True, False, True, True, True])
    mask = neuron_to_weight_mask(net, {"conv1": keep})
    assert (~mask["conv2.weight"]).nonzero()[:, 1].unique().tolist() == [2]
    assert parameters_removed(net, mask) == 3 * 25 + 1 + 16 * 25


def test_pruned_vgg_filters_are_dead_after_their_batchnorm():
    """Affine-free BatchNorm turns a zeroed filter into ReLU(-mu/sigma); the mask zeroes the running mean too."""
    net = build_model("vgg16", seed=0, width_divisor=16)
    net.train()
    with torch.no_grad():
        for _ in range(3):  # real running statistics, far from 0
            net(torch.rand(16, 3, 32, 32) + 0.5)
    net.eval()
    keep = torch.ones(4, dtype=torch.bool)
    keep[[0, 2]] = False
    mask = neuron_to_weight_mask(net, {"conv1_1": keep})
    apply_weight_mask(net, mask)
    with torch.no_grad():
        out = net[:3](torch.rand(4, 3, 32, 32))  # conv1_1, bn1_1, relu1_1
    assert torch.all(out[:, [0, 2]] == 0) and torch.any(out[:, [1, 3]] != 0)
    assert "bn1_1.running_mean" in mask and parameters_removed(net, mask) == 2 * (27 + 1) + 2 * 4 * 9


def test_score_levels_counts_units_at_zero_at_one_and_between_per_layer():
    from benchmark.nn.masks import score_levels

    levels = score_levels({"fc1": torch.tensor([0.0, 1e-9, 0.5, 1.0, 1 - 1e-9, 0.2]), "fc2": torch.tensor([1.0])})
    assert levels == {"fc1": {"zero": 2, "between": 2, "one": 2}, "fc2": {"zero": 0, "between": 0, "one": 1}}
    assert score_levels({"fc1": torch.tensor([0.5, 3.0])}) == {}  # magnitudes are not importance scores


def test_the_official_rule_counts_only_the_pruned_units_incoming_weights():
    """The official code's "% parameters removed" (paper-notes 1.8): a Linear unit's in_features, a filter's
    C_in * k * k, over all parameters; no bias, no BatchNorm entry, no dead outgoing weight."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("relu1", nn.ReLU()), ("out", nn.Linear(3, 2))]))
    assert official_parameter_sparsity(net, {"fc1": torch.tensor([True, False, True])}) == 2 / 17
    lenet = build_model("lenet5", seed=0)
    keep = torch.ones(16, dtype=torch.bool)
    keep[[3, 7]] = False
    assert official_parameter_sparsity(lenet, {"conv2": keep}) == 2 * 6 * 25 / 62006


def test_the_official_figure_sits_beside_ours_in_the_record():
    """Seed 0 of the H100 LeNet-5 CIFAR-10 run (results/paper-gpu): 12 fc1 and 20 fc2 units pruned. Official:
    12 rows of 400 + 20 rows of 120 = 7,200 of 62,006. Ours adds their 32 biases, the 12 x 84 fc2 columns less the
    12 x 20 already in pruned rows, and 20 x 10 output columns: 8,200."""
    net = build_model("lenet5", seed=0)
    mask = {"conv1": torch.ones(6, dtype=torch.bool), "conv2": torch.ones(16, dtype=torch.bool),
            "fc1": torch.arange(120) >= 12, "fc2": torch.arange(84) >= 20}
    result = PruneResult(Scores({}, "neuron"), mask, neuron_to_weight_mask(net, mask), {})
    assert removed(net, result) == {"params_removed": 8200 / 62006, "neurons_removed": 32 / 226,
                                    "params_removed_official": 7200 / 62006}
