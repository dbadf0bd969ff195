"""Affine maps of the supported linear layers, shared by interval bounds and the MIP encoding.

Each entry of :data:`LINEAR_MAPS` gives ``affine(module, x, bias)`` (the layer on a batch, with or without its
constant part) and ``magnitude(module, r)`` (the layer with absolute weights and no bias, applied to a
non-negative radius). Activations live in their own registry, :data:`~benchmark.mip.activations.ACTIVATIONS`.
:func:`check_supported` refuses a network with any other module before any work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import ConfigError
from benchmark.mip.activations import ACTIVATIONS


@dataclass(frozen=True)
class LinearMap:
    """How one layer type acts on a batch, with and without its constant part.

    ``identity`` marks a layer that is a no-op in eval mode (it may sit between a layer and its activation);
    ``refuse(module)`` names a setting of an instance the map cannot encode, or returns None."""

    affine: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor]
    magnitude: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    identity: bool = False
    refuse: Callable[[nn.Module], str | None] = lambda module: None


def _conv(m: nn.Conv2d, x, weight, bias):
    return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)


def _bn_scale_shift(m: nn.modules.batchnorm._BatchNorm):
    scale = torch.rsqrt(m.running_var + m.eps)
    if m.weight is not None:
        scale = scale * m.weight
    shift = -m.running_mean * scale + (m.bias if m.bias is not None else 0.0)
    return scale, shift


def _bn_view(m, x, v):
    return v.view(1, -1, *([1] * (x.dim() - 2)))


def _bn_affine(m, x, bias):
    scale, shift = _bn_scale_shift(m)
    out = x * _bn_view(m, x, scale)
    return out + _bn_view(m, x, shift) if bias else out


def _same(m, x, *rest):
    return m(x)


def _refuse_padding(m: nn.Conv2d) -> str | None:
    return None if m.padding_mode == "zeros" else f"unsupported Conv2d padding_mode={m.padding_mode!r}"


LINEAR_MAPS: dict[type, LinearMap] = {
    nn.Linear: LinearMap(lambda m, x, b: F.linear(x, m.weight, m.bias if b else None),
                         lambda m, r: F.linear(r, m.weight.abs())),
    nn.Conv2d: LinearMap(lambda m, x, b: _conv(m, x, m.weight, m.bias if b else None),
                         lambda m, r: _conv(m, r, m.weight.abs(), None), refuse=_refuse_padding),
    nn.BatchNorm1d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs())),
    nn.BatchNorm2d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs())),
    nn.AvgPool2d: LinearMap(_same, _same),
    nn.AdaptiveAvgPool2d: LinearMap(_same, _same),
    nn.Flatten: LinearMap(_same, _same),
    nn.Dropout: LinearMap(lambda m, x, b: x, lambda m, r: r, identity=True),  # a no-op in eval mode
}


def check_supported(model: nn.Sequential) -> None:
    """Refuse the first module the MIP cannot encode, in one line naming it and its position."""
    for position, (name, module) in enumerate(model.named_children()):
        if type(module) in ACTIVATIONS:
            continue
        op = LINEAR_MAPS.get(type(module))
        problem = f"unsupported layer {type(module).__name__}" if op is None else op.refuse(module)
        if problem:
            known = ", ".join(t.__name__ for t in [*LINEAR_MAPS, *ACTIVATIONS])
            raise ConfigError(f"{problem} at position {position} ({name!r}); the MIP encodes {known}")


def following_activation(children: list[tuple[str, nn.Module]], position: int) -> int | None:
    """Position of the activation that directly follows ``position`` (identity layers in between), if any."""
    for later in range(position + 1, len(children)):
        kind = type(children[later][1])
        if kind in ACTIVATIONS:
            return later
        if not (kind in LINEAR_MAPS and LINEAR_MAPS[kind].identity):
            return None
    return None
