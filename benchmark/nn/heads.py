"""Network cuts and auxiliary heads: where the decoupled methods cut a conv network, and the classifier each cut gets.

DGL training (:mod:`benchmark.nn.dgl`) trains every block through its own head; the decoupled MIP
(:mod:`benchmark.mip.decoupled`) builds one sub-MIP per block and its head. Block k is ``[Conv_k, BN_k, ReLU_k]``
(pooling stays outside); the head is the official code's: AdaptiveAvgPool(ceil(H/4)), 1x1 conv, BN, ReLU,
AdaptiveAvgPool(2), Linear(4C,4C), BN, ReLU, Linear(4C, classes). The last block has no head: the network's own
tail is its classifier.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn


def aux_head(channels: int, spatial: int, num_classes: int) -> nn.Sequential:
    """The DGL auxiliary classifier of the official code (n_lin=1, mlp_layers=1)."""
    return nn.Sequential(OrderedDict([
        ("aux_pool", nn.AdaptiveAvgPool2d(math.ceil(spatial / 4))),
        ("aux_conv", nn.Conv2d(channels, channels, 1, bias=False)),
        ("aux_bn", nn.BatchNorm2d(channels, affine=False)),
        ("aux_relu", nn.ReLU()),
        ("aux_pool2", nn.AdaptiveAvgPool2d(2)),
        ("aux_flatten", nn.Flatten()),
        ("aux_fc", nn.Linear(4 * channels, 4 * channels)),
        ("aux_bn_fc", nn.BatchNorm1d(4 * channels, affine=False)),
        ("aux_relu_fc", nn.ReLU()),
        ("aux_out", nn.Linear(4 * channels, num_classes)),
    ]))


POOLS = (nn.AvgPool2d, nn.AdaptiveAvgPool2d)  # MaxPool2d is refused: the encoder has no max-pooling


def block_spans(model: nn.Sequential) -> list[tuple[int, int]]:
    """(start, end) of each conv block: from a Conv2d up to the next pooling layer or Conv2d."""
    children = list(model.children())
    starts = [i for i, m in enumerate(children) if isinstance(m, nn.Conv2d)]
    spans = []
    for start in starts:
        end = start + 1
        while end < len(children) and not isinstance(children[end], (nn.Conv2d, *POOLS)):
            end += 1
        spans.append((start, end))
    return spans


def block_features(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every conv block but the last (what the heads see), in one forward pass."""
    children, features, position = list(model.children()), [], 0
    for _, end in block_spans(model)[:-1]:
        x = nn.Sequential(*children[position:end])(x)
        features.append(x)
        position = end
    return features


def make_heads(model: nn.Sequential, input_shape: tuple[int, int, int], num_classes: int) -> nn.ModuleList:
    """One untrained head per conv block but the last, sized from a dry run."""
    with torch.no_grad():
        shapes = [f.shape for f in block_features(model.eval(), torch.zeros(1, *input_shape))]
    return nn.ModuleList(aux_head(shape[1], shape[2], num_classes) for shape in shapes)
