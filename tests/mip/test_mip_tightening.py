"""``MIPConfig.bound_propagation = "symbolic"``: zonotope bounds, intersected with interval ones. They must hold
for every input in the box (and, under ``bounds="pruned"``, every score vector), be at least as tight as the
interval bounds everywhere, and shrink the decoupled VGG-16 boxes by orders of magnitude."""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig
from benchmark.mip.decoupled import blocks, network_bounds
from benchmark.mip.scorer import build_model
from benchmark.mip.solve import offer_start
from benchmark.mip.symbolic import LIMIT, symbolic_bounds
from benchmark.nn.heads import aux_head, make_heads
from benchmark.nn.models import build_model as build_network
from benchmark.nn.models import prunable_layers
from tests.mip.test_mip_bounds import _outputs_with_scores as _outputs

TOL = 1e-9


def _escapes(net, box, pruned: bool, trials: int = 8, limit: int = LIMIT) -> int:
    """Elements, over random inputs in the box (corners too) and random 0/1 and [0,1] scores when ``pruned``,
    outside their symbolic bounds."""
    scored = prunable_layers(net) if pruned else {}
    bounds = symbolic_bounds(net, *box, scored=scored, limit=limit)
    generator = torch.Generator().manual_seed(1)
    escapes = 0
    for trial in range(trials):
        t = torch.rand(box[0].shape, generator=generator, dtype=torch.float64)
        x = box[0] + (box[1] - box[0]) * (t.round() if trial % 2 else t)
        scores = {name: torch.rand(layer.weight.shape[0], generator=generator, dtype=torch.float64)
                  for name, layer in scored.items()}
        if trial % 3 == 0:
            scores = {name: (s > 0.5).double() for name, s in scores.items()}
        for out, (lo, hi) in zip(_outputs(net, x, scores, bounds), bounds):
            escapes += int(((out < lo - TOL) | (out > hi + TOL)).sum())
    return escapes


def _tighter(net, box, pruned: bool) -> float:
    """How much narrower the symbolic bounds are than the interval ones, summed; asserts they lie within them."""
    scored = prunable_layers(net) if pruned else ()
    narrower = 0.0
    for (lo, hi), (slo, shi) in zip(interval_bounds(net, *box, scored), symbolic_bounds(net, *box, scored)):
        slack = 1e-12 * (1 + torch.maximum(lo.abs(), hi.abs()))  # the two round apart
        assert (slo >= lo - slack).all() and (shi <= hi + slack).all() and (slo <= shi).all()
        narrower += float(((hi - lo) - (shi - slo)).sum())
    return narrower


def _small_vgg_block() -> tuple[nn.Sequential, torch.Tensor]:
    """A width/8 VGG-16 block with its head (random weights, batch statistics of random images) and its input."""
    torch.manual_seed(0)
    model = build_network("vgg16", width_divisor=8, seed=0)
    heads = make_heads(model, (3, 32, 32), 10)
    block = blocks(model, heads)[3]
    with torch.no_grad():
        x = torch.rand(32, 3, 32, 32)
        block.layers.train()(nn.Sequential(*list(model.children())[:block.start]).train()(x))
        features = nn.Sequential(*list(model.eval().children())[:block.start])(x[:2])
    return block.layers.double().eval(), features.double()


def _nets(trained_fc3, trained_lenet, mip_batch):
    x = mip_batch[0][:2].double()
    block, features = _small_vgg_block()
    return {"fc3": (trained_fc3[1].model.double().eval(), x, 0.05),
            "lenet5": (trained_lenet[1].model.double().eval(), x, 0.05),
            "vgg block": (block, features, 0.1 * float(features.std()))}


@pytest.mark.parametrize("pruned", [False, True])
def test_symbolic_bounds_hold_for_every_input_and_score_and_are_tighter(trained_fc3, trained_lenet, mip_batch,
                                                                         pruned):
    for name, (net, x, width) in _nets(trained_fc3, trained_lenet, mip_batch).items():
        box = (x - width, x + width)
        assert _escapes(net, box, pruned) == 0, name
        assert _tighter(net, box, pruned) > 0, name
    trained_fc3[1].model.float(), trained_lenet[1].model.float()


def test_a_relaxation_error_cancels_like_any_generator():
    """relu(x) - relu(x) is 0 for every x: the relaxation's error of the unstable ReLU (x in [-1, 1]: chord slope
    1/2, error 1/4) reaches the output along both paths and must cancel there. Kept as a radius instead, it would
    add up to [-1/2, 1/2]; intervals give [-1, 1]."""
    net = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2), nn.Linear(2, 1)).double()
    with torch.no_grad():
        for layer, weight in zip((net[0], net[2], net[3]), ([[1.0]], [[1.0], [1.0]], [[1.0, -1.0]])):
            layer.weight.copy_(torch.tensor(weight)), layer.bias.zero_()
    box = (-torch.ones(1, 1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64))
    lo, hi = symbolic_bounds(net, *box)[-1]
    assert float(lo.abs().max()) < 1e-12 and float(hi.abs().max()) < 1e-12
    assert [float(v) for v in interval_bounds(net, *box)[-1]] == [-1.0, 1.0]


def test_folding_generators_stays_sound_and_loosens(trained_lenet, mip_batch):
    net, x = trained_lenet[1].model.double().eval(), mip_batch[0][:2].double()
    box = (x - 0.05, x + 0.05)
    full, folded = symbolic_bounds(net, *box), symbolic_bounds(net, *box, limit=20_000)
    assert _escapes(net, box, pruned=True, limit=20_000) == 0
    trained_lenet[1].model.float()
    assert sum(float((fhi - flo).sum()) for flo, fhi in folded) > 1.01 * sum(float((hi - lo).sum()) for lo, hi in full)


def test_the_deep_block_boxes_of_vgg16_shrink_by_orders_of_magnitude():
    torch.manual_seed(0)
    model = build_network("vgg16", width_divisor=8, seed=0).eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    box = (x - 1e-5, x + 1e-5)
    start = blocks(model, make_heads(model, (3, 32, 32), 10))[12].start
    interval = network_bounds(model, box, "interval")[start - 1]
    symbolic = network_bounds(model, box, "symbolic")[start - 1]
    width = [float((hi - lo).max()) for lo, hi in (interval, symbolic)]
    assert width[1] * 100 < width[0]
    inner = nn.Sequential(*list(model.children())[:start]).double()(x)
    assert ((inner >= symbolic[0] - TOL) & (inner <= symbolic[1] + TOL)).all()


@pytest.mark.parametrize("bounds", ["dense", "pruned"])
def test_the_dense_start_is_feasible_under_symbolic_bounds(trained_lenet, mip_batch, bounds):
    x, y = mip_batch[0][:2], mip_batch[1][:2]
    config = MIPConfig(loss="margin", n_samples=2, bounds=bounds, bound_propagation="symbolic", solver="scip")
    encoded, _ = build_model(trained_lenet[1].model, x, y, config)
    assert offer_start(encoded.builder.scip, encoded.builder.start)
    interval, _ = build_model(trained_lenet[1].model, x, y, MIPConfig(loss="margin", n_samples=2, bounds=bounds))
    assert encoded.relu_counts.unstable <= interval.relu_counts.unstable


def test_a_head_alone_is_sound_under_a_wide_box():
    torch.manual_seed(2)
    head = aux_head(8, 4, 10)
    with torch.no_grad():
        head.train()(torch.randn(64, 8, 4, 4))
    head = nn.Sequential(OrderedDict(head.named_children())).double().eval()
    x = torch.randn(3, 8, 4, 4, dtype=torch.float64)
    box = (x - 0.5, x + 0.5)
    assert _escapes(head, box, pruned=True) == 0 and _escapes(head, box, pruned=False) == 0
    assert _tighter(head, box, pruned=False) > 0
