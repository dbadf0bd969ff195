"""Affine maps of the supported linear layers, shared by interval bounds and the MIP encoding.

Each entry of :data:`LINEAR_MAPS` gives ``affine(module, x, bias)`` (the layer on a batch, with or without its
constant part), ``magnitude(module, r)`` (the layer with absolute weights and no bias, applied to a
non-negative radius) and ``matrix(module, shape)`` (the layer without bias as a sparse matrix on a flattened
input of ``shape``, for the MIP's large expressions). Activations live in their own registry,
:data:`~benchmark.mip.activations.ACTIVATIONS`.
:func:`check_supported` refuses a network with any other module before any work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.mip.activations import ACTIVATIONS


@dataclass(frozen=True)
class LinearMap:
    """How one layer type acts on a batch, with and without its constant part.

    ``identity`` marks a layer that is a no-op in eval mode (it may sit between a layer and its activation);
    ``refuse(module)`` names a setting of an instance the map cannot encode, or returns None."""

    affine: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor]
    magnitude: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    matrix: Callable[[nn.Module, tuple[int, ...]], sparse.csr_array]
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


def _conv_padding(m: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding of the conv, also for padding='same' (extra on the far side, as
    torch pads an even kernel) and 'valid'."""
    if m.padding == "valid":
        return (0, 0, 0, 0)
    if m.padding == "same":
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        (top, left) = (t // 2 for t in total)
        return (left, total[1] - left, top, total[0] - top)
    return (m.padding[1], m.padding[1], m.padding[0], m.padding[0])


def _conv_matrix(m: nn.Conv2d, shape: tuple[int, ...]) -> sparse.csr_array:
    """The convolution as a sparse (C_out*H_out*W_out, C*H*W) matrix: each output reads its patch's inputs."""
    index = torch.arange(1, int(np.prod(shape)) + 1, dtype=torch.float64).view(1, *shape)
    index = F.pad(index, _conv_padding(m))  # zero index: a padded position
    patches = F.unfold(index, m.kernel_size, m.dilation, 0, m.stride)[0].long() - 1  # -1: padding
    positions = patches.shape[1]
    per_group_in, per_group_out = patches.shape[0] // m.groups, m.out_channels // m.groups
    weight = m.weight.detach().double().reshape(m.out_channels, per_group_in)
    group = torch.arange(m.out_channels) // per_group_out
    columns = patches.view(m.groups, per_group_in, positions)[group]  # (C_out, per_group_in, positions)
    rows = (torch.arange(m.out_channels).view(-1, 1, 1) * positions + torch.arange(positions)).expand_as(columns)
    values = weight.unsqueeze(-1).expand_as(columns)
    real = columns >= 0
    return sparse.csr_array((values[real].numpy(), (rows[real].numpy(), columns[real].numpy())),
                            shape=(m.out_channels * positions, int(np.prod(shape))))


def _per_channel_matrix(m: nn.Module, shape: tuple[int, ...]) -> sparse.csr_array:
    """A layer acting on each channel alike (pooling) as a block-diagonal matrix, probed on one channel."""
    pixels = int(np.prod(shape[1:]))
    probe = torch.eye(pixels, dtype=torch.float64).view(pixels, 1, *shape[1:])
    one_channel = sparse.csr_array(m(probe).reshape(pixels, -1).numpy().T)
    return sparse.kron(sparse.identity(shape[0]), one_channel, format="csr")


def _bn_matrix(m, shape: tuple[int, ...]) -> sparse.csr_array:
    scale = _bn_scale_shift(m)[0].detach().double().numpy()
    return sparse.diags_array(np.repeat(scale, int(np.prod(shape[1:]))), format="csr")


def _identity_matrix(m, shape: tuple[int, ...]) -> sparse.csr_array:
    return sparse.identity(int(np.prod(shape)), format="csr")


def _refuse_padding(m: nn.Conv2d) -> str | None:
    return None if m.padding_mode == "zeros" else f"unsupported Conv2d padding_mode={m.padding_mode!r}"


LINEAR_MAPS: dict[type, LinearMap] = {
    nn.Linear: LinearMap(lambda m, x, b: F.linear(x, m.weight, m.bias if b else None),
                         lambda m, r: F.linear(r, m.weight.abs()),
                         lambda m, shape: sparse.kron(sparse.identity(int(np.prod(shape[:-1]))),
                                                      m.weight.detach().double().numpy(), format="csr")),
    nn.Conv2d: LinearMap(lambda m, x, b: _conv(m, x, m.weight, m.bias if b else None),
                         lambda m, r: _conv(m, r, m.weight.abs(), None), _conv_matrix, refuse=_refuse_padding),
    nn.BatchNorm1d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs()), _bn_matrix),
    nn.BatchNorm2d: LinearMap(_bn_affine, lambda m, r: r * _bn_view(m, r, _bn_scale_shift(m)[0].abs()), _bn_matrix),
    nn.AvgPool2d: LinearMap(_same, _same, _per_channel_matrix),
    nn.AdaptiveAvgPool2d: LinearMap(_same, _same, _per_channel_matrix),
    nn.Flatten: LinearMap(_same, _same, _identity_matrix),
    nn.Dropout: LinearMap(lambda m, x, b: x, lambda m, r: r, _identity_matrix, identity=True),  # no-op in eval
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
