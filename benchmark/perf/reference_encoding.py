"""A reference-style encoding of the same OAMIP model, for the speed benchmark only.

Like the official code: one variable per unit (pre-activation and output), a binary indicator for every
ReLU whether stable or not, dense layer matrices (a conv as its dense Toeplitz matrix), and every expression
built element by element with ``+=``. Same bounds (``config.bounds``), loss and sparsity term as
:mod:`benchmark.mip`, so both reach the same optimal objective (``tests/mip/test_mip_reference.py`` checks it).
"""

from __future__ import annotations

import copy

import numpy as np
import pyscipopt as scip
import torch
from torch import nn

from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig
from benchmark.mip.objective import layer_normaliser
from benchmark.nn.models import prunable_layers


def dense_matrix(module: nn.Module, in_shape: torch.Size) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, bias) of a linear layer, obtained by applying it to the identity basis."""
    n = int(np.prod(in_shape))
    with torch.no_grad():
        bias = module(torch.zeros(1, *in_shape, dtype=torch.float64)).reshape(-1)
        columns = module(torch.eye(n, dtype=torch.float64).view(n, *in_shape)).reshape(n, -1) - bias
    return columns.T.numpy(), bias.numpy()


def build_reference(model: nn.Sequential, inputs: torch.Tensor, labels: torch.Tensor, config: MIPConfig) -> scip.Model:
    """The OAMIP model (margin loss, plain-sum sparsity) encoded reference-style."""
    net = copy.deepcopy(model).double().eval()
    x = inputs.double()
    scored = prunable_layers(net)
    pruned = config.bounds == "pruned"
    bounds = interval_bounds(net, x - config.epsilon, x + config.epsilon, scored=scored if pruned else ())
    m = scip.Model("reference")
    m.hideOutput()
    scores = {name: [m.addVar(f"s_{name}_{i}", lb=0, ub=1) for i in range(layer.weight.shape[0])]
              for name, layer in scored.items()}
    children = list(net.named_children())
    losses = []
    for n in range(len(x)):
        values = [float(v) for v in x[n].reshape(-1)]
        h, shape = values, x[n].shape
        for position, (name, module) in enumerate(children):
            if isinstance(module, nn.ReLU):
                continue
            matrix, bias = dense_matrix(module, shape)
            shape = module(torch.zeros(1, *shape, dtype=torch.float64)).shape[1:]
            a = []
            for o in range(matrix.shape[0]):
                expr = scip.Expr() + float(bias[o])
                for j in np.flatnonzero(matrix[o]).tolist():
                    expr += float(matrix[o, j]) * h[j]
                var = m.addVar(f"a_{n}_{position}_{o}", lb=None)
                m.addCons(var == expr)
                a.append(var)
            if name not in scored:
                h = a
                continue
            lower, upper = (b[n].reshape(-1).tolist() for b in bounds[position])
            per_unit = len(a) // len(scores[name])
            h = []
            for o, a_o in enumerate(a):
                s, ubar = scores[name][o // per_unit], max(upper[o], 0.0)
                low = lower[o] - ubar if pruned else lower[o]  # a lower bound of a - (1-s)*ubar
                out = m.addVar(f"h_{n}_{position}_{o}", lb=0)
                v = m.addVar(f"v_{n}_{position}_{o}", vtype="B")
                m.addCons(out <= v * ubar)
                m.addCons(out >= a_o - (1 - s) * ubar)
                m.addCons(out <= a_o - (1 - v) * low - (1 - s) * ubar)
                h.append(out)
        xi = m.addVar(f"hinge_{n}", lb=0)
        y = int(labels[n])
        for k in range(len(h)):
            if k != y:
                m.addCons(xi - h[k] + h[y] >= config.margin)
        losses.append(xi)
    sparsity = scip.quicksum((scip.quicksum(scores[name]) - 2 * len(scores[name])) / layer_normaliser(layer, config)
                             for name, layer in scored.items())
    m.setObjective(config.lam * scip.quicksum(losses) / len(x) + sparsity)
    m.setParam("limits/time", config.time_limit)
    m.setParam("limits/gap", config.gap)
    m.setParam("limits/nodes", config.node_limit)
    return m
