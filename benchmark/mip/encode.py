"""Encode a trained network on a batch of images into the OAMIP model: scores, activations, logits.

Walks a flat ``nn.Sequential`` whose modules are looked up in ``LINEAR_MAPS`` or ``ACTIVATIONS`` (anything else
is refused before the SCIP model is built). Every prunable layer (Linear or Conv2d but the last) gets one score
per unit, shared by all samples. A scored layer followed by an activation uses the scored activation; one
followed by anything else uses the linear shift. Each sample is encoded separately on affine expressions
(see ``affine.py``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from benchmark.mip.activations import ACTIVATIONS, ReluCounts, score_shift
from benchmark.mip.affine import Affine, Builder
from benchmark.mip.bounds import interval_bounds
from benchmark.mip.layers import LINEAR_MAPS, check_supported, following_activation
from benchmark.mip.symbolic import symbolic_bounds
from benchmark.nn.models import prunable_layers


@dataclass
class EncodedNetwork:
    """The SCIP model with the score variables per layer and each sample's logits as expressions."""

    builder: Builder
    scores: dict[str, np.ndarray]  # layer name -> global variable ids
    units: dict[str, nn.Module] = field(default_factory=dict)
    logits: list[Affine] = field(default_factory=list)
    relu_counts: ReluCounts = field(default_factory=ReluCounts)


def _input_bounds(bounds, position: int, box, n: int):
    """Bounds of the input of the module at ``position`` for sample ``n`` (the input box at position 0)."""
    if position == 0:
        return box[0][n], box[1][n]
    return bounds[position - 1][0][n], bounds[position - 1][1][n]


@torch.no_grad()
def encode_network(model: nn.Sequential, inputs: torch.Tensor, epsilon: float, relaxed: bool,
                   scored: list[str] | None = None, input_box: tuple[torch.Tensor, torch.Tensor] | None = None,
                   bounds: str = "dense", propagation: str = "interval") -> EncodedNetwork:
    """Build score variables and the per-sample constraints of ``model`` on ``inputs``.

    ``scored`` names the layers that get scores (default: the model's prunable layers). Bounds come from
    propagation of ``input_box`` (default ``inputs +- epsilon``), by intervals or, with ``propagation="symbolic"``,
    zonotopes: of the dense network (``bounds="dense"``) or valid for every score in [0,1] (``"pruned"``).
    """
    check_supported(model)
    net = copy.deepcopy(model).double().eval()
    x = inputs.double()
    box = (x - epsilon, x + epsilon) if input_box is None else (input_box[0].double(), input_box[1].double())
    builder = Builder()
    layers = prunable_layers(net) if scored is None else {n: dict(net.named_children())[n] for n in scored}
    encoded = EncodedNetwork(builder, {}, dict(layers))
    for name, layer in layers.items():
        encoded.scores[name] = builder.add_vars(layer.weight.shape[0], 0.0, 1.0, prefix=f"s_{name}", start=1.0)
    pruned = bounds == "pruned"
    propagate = symbolic_bounds if propagation == "symbolic" else interval_bounds
    layer_bounds = propagate(net, *box, scored=encoded.scores if pruned else ())
    children = list(net.named_children())
    for n in range(len(x)):
        h = Affine.constant(x[n])
        absorbed: set[int] = set()  # activations already encoded together with their scored layer
        for position, (name, module) in enumerate(children):
            if position in absorbed:
                continue
            if type(module) in ACTIVATIONS:  # an activation needs the bounds of its input, not of its output
                lower, upper = _input_bounds(layer_bounds, position, box, n)
                h, counts = ACTIVATIONS[type(module)].encode(builder, h, lower, upper, relaxed)
                encoded.relu_counts.add(counts)
                continue
            op = LINEAR_MAPS[type(module)]
            h = h.map(op, module, builder)
            if name not in encoded.scores:
                continue
            lower, upper = layer_bounds[position][0][n], layer_bounds[position][1][n]
            activation = following_activation(children, position)
            if activation is not None:
                encode = ACTIVATIONS[type(children[activation][1])].encode
                h, counts = encode(builder, h, lower, upper, relaxed, encoded.scores[name], pruned)
                encoded.relu_counts.add(counts)
                absorbed.add(activation)
            else:
                h = score_shift(h, encoded.scores[name], upper)
        encoded.logits.append(h)
    return encoded
