"""Compaction: a masked network turned into a smaller dense one computes the same function (FC-3, FC-4, LeNet-5,
VGG-16), removes the units that have no live input or output, folds nonzero constants where that is exact, counts
multiply-accumulates by hand, and agrees with Torch-Pruning's channel removal."""

import copy

import pytest
import torch
from torch import nn

from benchmark.nn.compact import compact, count_macs
from benchmark.nn.masks import apply_weight_mask, neuron_to_weight_mask
from benchmark.nn.models import build_model, count_parameters, prunable_layers

SHAPE = (3, 32, 32)
MODELS = [("fc3", {}), ("fc4", {}), ("lenet5", {}), ("vgg16", {"width_divisor": 8})]


def _trained_like(name, seed=0, **kwargs):
    """A model with every parameter and BatchNorm statistic moved off its initial value (zero biases and unit
    running variances would hide errors)."""
    model = build_model(name, SHAPE, 10, seed=seed, **kwargs).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model


def _random_mask(model, keep=0.6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.rand(layer.weight.shape[0], generator=generator) < keep
            for name, layer in prunable_layers(model).items()}


def _masked(model, mask):
    masked = copy.deepcopy(model)
    apply_weight_mask(masked, neuron_to_weight_mask(masked, mask))
    return masked


@pytest.fixture(scope="module")
def test_images(mnist_small):
    return mnist_small.test.tensors()[0]


def _gap(a, b, x):
    with torch.no_grad():
        return float((a(x) - b(x)).abs().max())


@pytest.mark.parametrize("name,kwargs", MODELS)
def test_the_compacted_network_computes_the_masked_function(name, kwargs, test_images):
    model = _trained_like(name, **kwargs)
    mask = _random_mask(model)
    compacted = compact(model, mask, SHAPE)
    assert _gap(_masked(model, mask), compacted.model, test_images) <= 1e-5
    assert compacted.widths == {k: int(m.sum()) for k, m in mask.items()}  # no dead unit in a random mask
    layers = prunable_layers(compacted.model)
    assert {k: layer.weight.shape[0] for k, layer in layers.items()} == compacted.widths
    assert count_parameters(compacted.model) < count_parameters(model)
    assert _gap(_masked(model, mask), model, test_images) > 1e-3  # the mask matters: the check is not vacuous


def test_a_unit_without_live_inputs_is_folded_into_the_next_bias(test_images):
    """LeNet-5: fc1 unit 0 keeps its row but every input column of a live conv2 channel is zero, so it emits the
    constant ReLU(bias) > 0; compaction removes it and adds that constant times its fc2 column to fc2's bias."""
    model = _trained_like("lenet5")
    mask = {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in
            prunable_layers(model).items()}
    with torch.no_grad():
        model.fc1.weight[0] = 0.0
        model.fc1.bias[0] = 0.7
    compacted = compact(model, mask, SHAPE)
    assert compacted.dead["fc1"] == 1 and compacted.folded["fc1"] == 1 and compacted.widths["fc1"] == 119
    assert _gap(model, compacted.model, test_images) <= 1e-5
    dropped = copy.deepcopy(model)
    with torch.no_grad():
        dropped.fc2.weight[:, 0] = 0.0  # removing the unit without folding its constant
    assert _gap(model, dropped, test_images) > 1e-3


def test_a_unit_whose_outputs_are_all_pruned_is_removed(test_images):
    """LeNet-5: fc2 keeps 40 units whose rows ignore fc1 unit 3, so unit 3 has no live output; fc1 unit 7 has
    neither input nor bias, emits ReLU(0) = 0, and goes without folding."""
    model = _trained_like("lenet5")
    mask = {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in
            prunable_layers(model).items()}
    mask["fc2"][40:] = False
    with torch.no_grad():
        model.fc2.weight[:40, 3] = 0.0
        model.fc1.weight[7] = 0.0
        model.fc1.bias[7] = 0.0
    compacted = compact(model, mask, SHAPE)
    assert compacted.dead["fc1"] == 2 and compacted.folded["fc1"] == 0 and compacted.widths["fc1"] == 118
    assert compacted.widths["fc2"] == 40
    assert _gap(_masked(model, mask), compacted.model, test_images) <= 1e-5


def test_removals_cascade_until_nothing_changes(test_images):
    """FC-4: fc2 unit 5 has no live output (its fc3 column is zero), so it goes; fc1 unit 9 fed only fc2 unit 5,
    so once unit 5 is gone it has no live output either, and goes too."""
    model = _trained_like("fc4")
    mask = {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in
            prunable_layers(model).items()}
    with torch.no_grad():
        model.fc3.weight[:, 5] = 0.0
        model.fc2.weight[:, 9] = 0.0
        model.fc2.weight[5, 9] = 1.0
    compacted = compact(model, mask, SHAPE)
    assert compacted.dead == {"fc1": 1, "fc2": 1, "fc3": 0}
    assert _gap(model, compacted.model, test_images) <= 1e-5


def test_a_batchnorm_constant_is_folded_before_a_linear_layer_and_kept_before_a_padded_conv(test_images):
    """VGG-16: a kept filter with no live input emits the constant ReLU((b - mu)/sigma). Before the flatten into
    fc1 (conv5_3) it is folded into fc1's bias; before a padded 3x3 conv (conv4_3 into conv5_1) the constant is
    not uniform at the borders, so the filter stays, and the function matches either way."""
    model = _trained_like("vgg16", width_divisor=8)
    mask = _random_mask(model, keep=0.7)
    for layer in ("conv5_3", "conv4_3"):
        mask[layer][0] = True
        with torch.no_grad():
            getattr(model, layer).weight[0] = 0.0
            getattr(model, layer).bias[0] = 0.3
            bn = getattr(model, "bn" + layer[4:])
            bn.running_mean[0] = -0.4  # (0.3 + 0.4) / sigma > 0: a nonzero constant after the ReLU
    compacted = compact(model, mask, SHAPE)
    assert compacted.folded["conv5_3"] == 1 and compacted.widths["conv5_3"] == int(mask["conv5_3"].sum()) - 1
    assert compacted.folded["conv4_3"] == 0 and compacted.widths["conv4_3"] == int(mask["conv4_3"].sum())
    assert _gap(_masked(model, mask), compacted.model, test_images) <= 1e-5


def test_multiply_accumulates_are_counted_by_hand_for_lenet5():
    model = build_model("lenet5", SHAPE, 10, seed=0)
    dense = 28 * 28 * 6 * 3 * 25 + 10 * 10 * 16 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert count_macs(model, SHAPE) == dense == 651_720
    mask = {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in
            prunable_layers(model).items()}
    mask["conv1"][3:] = False  # 3 of 6 filters: conv1 and conv2's inputs halve
    mask["fc2"][42:] = False  # 42 of 84 units: fc2's rows and the output layer's columns halve
    half = 28 * 28 * 3 * 3 * 25 + 10 * 10 * 16 * 3 * 25 + 400 * 120 + 120 * 42 + 42 * 10
    assert count_macs(compact(model, mask, SHAPE).model, SHAPE) == half


@pytest.mark.parametrize("name,kwargs", [("fc3", {}), ("lenet5", {}), ("vgg16", {"width_divisor": 8})])
def test_torch_pruning_removes_the_same_channels_with_the_same_result(name, kwargs, test_images):
    import torch_pruning as tp  # a test dependency (the lock has it): never skipped
    model = _trained_like(name, **kwargs)
    mask = _random_mask(model, seed=1)
    peer = _masked(model, mask)
    graph = tp.DependencyGraph().build_dependency(peer, example_inputs=torch.zeros((1,) + SHAPE))
    layers = dict(peer.named_children())
    for layer_name, keep in mask.items():
        layer = layers[layer_name]
        prune = tp.prune_linear_out_channels if isinstance(layer, nn.Linear) else tp.prune_conv_out_channels
        graph.get_pruning_group(layer, prune, idxs=(~keep).nonzero().flatten().tolist()).prune()
    ours = compact(model, mask, SHAPE).model
    assert count_parameters(peer) == count_parameters(ours)
    assert {k: v.shape for k, v in peer.named_parameters()} == {k: v.shape for k, v in ours.named_parameters()}
    assert _gap(peer, ours, test_images) <= 1e-5
