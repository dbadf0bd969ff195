"""Affine maps of the supported linear layers, shared by interval bounds and the MIP encoding.

Each entry gives ``affine(module, x, bias)`` (the layer on a batch, with or without its constant part) and
``magnitude(module, r)`` (the layer with absolute weights and no bias, applied to a non-negative radius).
ReLU is not here: it is a MIP activation (see ``activations.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import ConfigError


@dataclass(frozen=True)
class LinearMap:
    """How one layer type acts on a batch, with and without its constant part."""

    affine: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor]
    magnitude: Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _conv(m: nn.Conv2d, x, weight, bias):
    if m.padding_mode != "zeros":
        raise ConfigError(f"Conv2d with padding_mode={m.padding_mode!r} is not supported by the MIP")
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


LINEAR_MAPS: dict[type, LinearMap] = {
    nn.Linear: LinearMap(lambda m, x, b: F.linear(x, m.weight, m.bias if b else None),
                         lambda m, r: F.linear(r, m.weight.abs())),
    nn.Conv2d: LinearMap(lambda m, x, b: _conv(m, x, m.weight, m.bias if b else None),
                         lambda m, r: _conv(m, r, m.weight.abs(), None)),
    nn.BatchNorm1d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs())),
    nn.BatchNorm2d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs())),
    nn.AvgPool2d: LinearMap(_same, _same),
    nn.AdaptiveAvgPool2d: LinearMap(_same, _same),
    nn.Flatten: LinearMap(_same, _same),
    nn.Dropout: LinearMap(lambda m, x, b: x, lambda m, r: r),  # a no-op in eval mode
}
SUPPORTED = ("Linear", "Conv2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "ReLU", "Flatten",
             "Dropout")


def linear_map(module: nn.Module, position: int, name: str) -> LinearMap:
    """The map of ``module``, or a one-line error naming the unsupported layer and its position."""
    if type(module) in LINEAR_MAPS:
        return LINEAR_MAPS[type(module)]
    raise ConfigError(f"unsupported layer {type(module).__name__} at position {position} ({name!r}); "
                      f"the MIP encodes {', '.join(SUPPORTED)}")
