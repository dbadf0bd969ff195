"""The OAMIP formulation away from s = 1, on tiny hand-built networks whose values are computed by hand.

Each test fixes the score variables, optimises, and compares SCIP's logits (or objective) with the network
evaluated directly: ``h = ReLU(a - (1-s)*Ubar)`` with ``Ubar = max(U, 0)`` and ``U = a + eps * sum|W|`` for
a first layer (its input box is ``x +- eps``).
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import build_model

X = torch.tensor([[1.0, 0.2], [0.1, 1.0]], dtype=torch.float64)
Y = torch.tensor([0, 1])


def _two_layer_net():
    """2 inputs -> fc1 (3 units, all active on X) -> fc2 (2 units) -> 2 logits."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("relu1", nn.ReLU()), ("fc2", nn.Linear(3, 2)),
                                     ("relu2", nn.ReLU()), ("out", nn.Linear(2, 2))])).double()
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net.fc1.bias.copy_(torch.tensor([0.0, 0.0, -0.5]))
        net.fc2.weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.5]]))
        net.fc2.bias.copy_(torch.tensor([0.1, 0.1]))
        net.out.weight.copy_(torch.tensor([[2.0, -1.0], [-1.0, 2.0]]))
        net.out.bias.copy_(torch.tensor([0.0, 0.3]))
    return net


def _solve_fixed(net, config: MIPConfig, fixed: dict[str, list[float]]):
    """Build the OAMIP model on X, fix every score to ``fixed``, optimise; returns (SCIP model, logits)."""
    encoded, z = build_model(net, X, Y, config)
    model, variables = encoded.builder.scip
    for name, values in fixed.items():
        for j, value in zip(encoded.scores[name].tolist(), values):
            model.chgVarLb(variables[j], value)
            model.chgVarUb(variables[j], value)
    model.optimize()
    assert model.getStatus() == "optimal"
    solution = model.getBestSol()
    return model, np.array([[solution[variables[j]] for j in row] for row in z.tolist()])


def _scored_relu(layer: nn.Linear, x: torch.Tensor, s: list[float], eps: float) -> torch.Tensor:
    """``ReLU(a - (1-s) * max(U, 0))`` for a first layer, with ``U = a + eps * sum_j |W_ij|``."""
    a = layer(x)
    upper = a + eps * layer.weight.abs().sum(1)
    return (a - (1 - torch.tensor(s, dtype=x.dtype)) * upper.clamp_min(0)).clamp_min(0)


@torch.no_grad()
def test_score_zero_removes_the_unit_on_every_sample():
    """s = 0 on an active unit: its ReLU output is 0 on both samples, so the logits are those of the network
    without it. (Dense bounds cannot express this: they forbid ``a - Ubar < L``; the pruned bounds can.)"""
    net = _two_layer_net()
    _, logits = _solve_fixed(net, MIPConfig(loss="margin", bounds="pruned"), {"fc1": [1, 1, 0], "fc2": [1, 1]})
    h1 = net.relu1(net.fc1(X)) * torch.tensor([1.0, 1.0, 0.0], dtype=X.dtype)
    expected = net.out(net.relu2(net.fc2(h1)))
    assert logits == pytest.approx(expected.numpy(), abs=1e-6)
    assert not np.allclose(expected.numpy(), net(X).numpy(), atol=0.1)  # the unit mattered


@pytest.mark.parametrize("bounds", ["dense", "pruned"])
@torch.no_grad()
def test_fractional_score_on_a_stable_active_unit_shifts_by_its_upper_bound(bounds):
    """0 < s < 1 on a unit that is active on the whole input box: ``h = a - (1-s)*U``, not ``s*a``."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 2)), ("relu1", nn.ReLU()),
                                     ("out", nn.Linear(2, 2))])).double()
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[1.0, 0.5], [-1.0, 1.0]]))
        net.fc1.bias.copy_(torch.tensor([0.2, 0.0]))
        net.out.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        net.out.bias.zero_()
    eps, s = 0.05, [0.3, 1.0]
    assert (net.fc1(X)[:, 0] - eps * 1.5 > 0).all()  # unit 0 is stable-active: L > 0
    _, logits = _solve_fixed(net, MIPConfig(loss="margin", epsilon=eps, bounds=bounds), {"fc1": s})
    h = _scored_relu(net.fc1, X, s, eps)
    assert h[:, 0] == pytest.approx([1.3 - 0.7 * 1.375, 0.8 - 0.7 * 0.875])  # a - (1-s)U by hand
    assert logits == pytest.approx(net.out(h).numpy(), abs=1e-6)


@torch.no_grad()
def test_objective_at_a_fixed_point_is_the_hand_computed_margin_objective():
    """lam * mean hinge + sum_l (1/n_l) sum_i (s_i - 2), at fractional first-layer and 0/1 second-layer scores."""
    net = _two_layer_net()
    eps, lam, margin = 0.05, 3.0, 5.0
    s1, s2 = [0.5, 1.0, 0.25], [1.0, 0.0]
    config = MIPConfig(loss="margin", lam=lam, margin=margin, epsilon=eps, bounds="pruned")
    model, logits = _solve_fixed(net, config, {"fc1": s1, "fc2": s2})
    h2 = net.relu2(net.fc2(_scored_relu(net.fc1, X, s1, eps))) * torch.tensor(s2, dtype=X.dtype)
    z = net.out(h2)
    assert logits == pytest.approx(z.numpy(), abs=1e-6)
    hinge = [max(0.0, margin + float(z[n, 1 - y]) - float(z[n, y])) for n, y in enumerate(Y.tolist())]
    assert min(hinge) > 0  # the loss term is live
    sparsity = sum(v - 2 for v in s1) / 3 + sum(v - 2 for v in s2) / 2
    assert model.getObjVal() == pytest.approx(lam * sum(hinge) / 2 + sparsity, abs=1e-6)
