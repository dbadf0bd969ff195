"""Compacted tickets: a neuron mask turned into a physically smaller network that computes the masked function.

Under ticketbench's mask semantics (:mod:`benchmark.nn.masks`) a pruned unit outputs exactly 0, so deleting it (its
row and bias, its BatchNorm entries, and the matching input columns or channels of the next weighted layer,
across a Flatten too) changes nothing. Two more kinds of unit can go although the mask keeps them:

* a unit whose outgoing weights into every live unit of the next layer are all zero (**no live output**): its
  output is never read;
* a unit whose incoming weights from every live unit are all zero (**no live input**): it outputs a constant. A
  zero constant is dropped; a nonzero one (a bias through ReLU, or a BatchNorm whose running mean the mask did
  not zero) is folded into the next weighted layer's bias where that is exact: a Linear layer (after a Flatten
  too) or an unpadded convolution. Before a padded convolution the constant is not uniform at the borders, so
  such a unit stays.

Removing units can leave others without live inputs or outputs; the search repeats until nothing changes.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.nn.masks import NORMS, UNIT_PRESERVING, WEIGHTED, apply_weight_mask, neuron_to_weight_mask
from benchmark.nn.models import prunable_layers

NeuronMask = dict[str, torch.Tensor]


@dataclass
class Compacted:
    """The compacted network, its units per prunable layer, and how many units the mask kept but compaction
    removed (no live input or output; ``folded`` of them had a nonzero constant folded into the next bias)."""

    model: nn.Sequential
    widths: dict[str, int]
    dead: dict[str, int] = field(default_factory=dict)
    folded: dict[str, int] = field(default_factory=dict)


@dataclass
class _Layer:
    """A weighted layer of the walk: its name, module, the modules between it and the next weighted layer, and
    whether a Flatten sits in between."""

    name: str
    module: nn.Module
    between: list[tuple[str, nn.Module]]
    flatten_after: bool = False


def _walk(model: nn.Sequential) -> tuple[list[tuple[str, nn.Module]], list[_Layer]]:
    """The modules before the first weighted layer, and the weighted layers with what follows each."""
    head: list[tuple[str, nn.Module]] = []
    layers: list[_Layer] = []
    for position, (name, module) in enumerate(model.named_children()):
        if isinstance(module, nn.Conv2d) and module.groups != 1:
            raise ConfigError(f"cannot compact the grouped convolution {name!r}")
        if isinstance(module, WEIGHTED):
            layers.append(_Layer(name, module, []))
        elif not layers and isinstance(module, UNIT_PRESERVING + (nn.Flatten,)):
            head.append((name, module))
        elif layers and isinstance(module, NORMS + UNIT_PRESERVING + (nn.Flatten,)):
            layers[-1].between.append((name, module))
            layers[-1].flatten_after |= isinstance(module, nn.Flatten)
        else:
            raise ConfigError(f"cannot compact through {type(module).__name__} at position {position} ({name!r})")
    return head, layers


def _columns(layer: _Layer, nxt: _Layer, units: int) -> int:
    """Input columns of ``nxt`` per unit of ``layer`` (the spatial size across a Flatten, else 1)."""
    return nxt.module.weight.shape[1] // units if layer.flatten_after else 1


def _unit_columns(weight: torch.Tensor, per_unit: int) -> torch.Tensor:
    """``weight`` (out, in, ...) with its input columns grouped by unit: (out, units, per_unit * rest)."""
    return weight.reshape(weight.shape[0], weight.shape[1] // per_unit, -1)


def _has_output(layer: _Layer, nxt: _Layer, rows: torch.Tensor, units: int) -> torch.Tensor:
    grouped = _unit_columns(nxt.module.weight[rows], _columns(layer, nxt, units))
    return (grouped != 0).any(dim=2).any(dim=0) if grouped.shape[0] else torch.zeros(units, dtype=torch.bool)


def _has_input(layer: _Layer, prev: _Layer | None, alive_prev: torch.Tensor | None) -> torch.Tensor:
    weight = layer.module.weight
    if prev is None:
        return (weight != 0).flatten(1).any(dim=1)
    grouped = _unit_columns(weight, _columns(prev, layer, len(alive_prev)))[:, alive_prev]
    return (grouped != 0).flatten(1).any(dim=1)


@torch.no_grad()
def _constants(layer: _Layer, bias: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """What each unit of ``layer`` emits into the next weighted layer when its pre-activation is its bias alone
    (NaN where that is not one value everywhere)."""
    x = bias.view((1, -1) + (1,) * (len(shape) - 2)).expand((1,) + tuple(shape[1:])).clone()
    for _, module in layer.between:
        if isinstance(module, nn.Flatten):
            break
        x = module(x)
    flat = x.flatten(2) if x.dim() > 2 else x.unsqueeze(2)
    low, high = flat.amin(dim=2)[0], flat.amax(dim=2)[0]
    return torch.where(low == high, low, torch.full_like(low, float("nan")))


def _foldable(nxt: _Layer) -> bool:
    """Whether a constant input of ``nxt`` is a bias of it: a Linear layer, or a convolution without padding."""
    if isinstance(nxt.module, nn.Linear):
        return True
    padding = nxt.module.padding
    return padding == "valid" if isinstance(padding, str) else all(p == 0 for p in padding)


def _output_shapes(model: nn.Sequential, input_shape: tuple[int, ...]) -> dict[str, torch.Size]:
    shapes: dict[str, torch.Size] = {}
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, o.shape))
             for name, module in model.named_children()]
    try:
        with torch.no_grad():
            model(torch.zeros((1,) + tuple(input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


@torch.no_grad()
def compact(model: nn.Sequential, mask: NeuronMask, input_shape: tuple[int, ...]) -> Compacted:
    """The masked ``model`` as a smaller dense network of the same layer types (see the module docstring);
    ``input_shape`` is one input's shape (C, H, W). ``model`` is left untouched."""
    masked = copy.deepcopy(model).eval()
    apply_weight_mask(masked, neuron_to_weight_mask(masked, mask))
    head, layers = _walk(masked)
    prunable = set(prunable_layers(masked))
    units = [layer.module.weight.shape[0] for layer in layers]
    alive = [mask[layer.name].clone() if layer.name in mask else torch.ones(n, dtype=torch.bool)
             for layer, n in zip(layers, units)]
    shapes = _output_shapes(masked, input_shape)
    biases = [layer.module.bias.clone() if layer.module.bias is not None else torch.zeros(n)
              for layer, n in zip(layers, units)]
    folds: list[torch.Tensor] = [torch.zeros(n, dtype=torch.bool) for n in units]
    changed = True
    while changed:  # sets only shrink; a folded unit leaves ``alive`` with its contribution, so it folds once
        changed = False
        for k in range(len(layers) - 2, -1, -1):  # no live output
            if layers[k].name in prunable:
                used = _has_output(layers[k], layers[k + 1], alive[k + 1], units[k])
                changed |= bool((alive[k] & ~used).any())
                alive[k] &= used
        for k, layer in enumerate(layers[:-1]):  # no live input: drop, or fold the constant forward
            if layer.name not in prunable:
                continue
            idle = alive[k] & ~_has_input(layer, layers[k - 1] if k else None, alive[k - 1] if k else None)
            if not idle.any():
                continue
            constant = _constants(layer, biases[k], shapes[layer.name])
            zero = idle & (constant == 0)
            fold = idle & ~zero & ~constant.isnan() & _foldable(layers[k + 1])
            if fold.any():
                _fold(layers[k], layers[k + 1], fold, constant, biases[k + 1], units[k])
            folds[k] |= fold
            gone = zero | fold
            changed |= bool(gone.any())
            alive[k] &= ~gone
    compacted = _rebuild(head, layers, alive, biases)
    widths = {layer.name: int(a.sum()) for layer, a in zip(layers, alive) if layer.name in prunable}
    dead = {layer.name: int((mask[layer.name] & ~a).sum()) for layer, a in zip(layers, alive) if layer.name in mask}
    folded = {layer.name: int(f.sum()) for layer, f in zip(layers, folds) if layer.name in mask}
    return Compacted(compacted, widths, dead, folded)


def _fold(layer: _Layer, nxt: _Layer, fold: torch.Tensor, constant: torch.Tensor, bias: torch.Tensor,
          units: int) -> None:
    """Add the folded units' constant contribution to the next layer's ``bias`` (in place)."""
    grouped = _unit_columns(nxt.module.weight, _columns(layer, nxt, units))
    bias += (grouped[:, fold].sum(dim=2) * constant[fold]).sum(dim=1)


def _slice_weighted(module: nn.Module, rows: torch.Tensor, columns: torch.Tensor, bias: torch.Tensor) -> nn.Module:
    weight = module.weight[rows][:, columns]
    if isinstance(module, nn.Linear):
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=True)
    else:
        new = nn.Conv2d(weight.shape[1], weight.shape[0], module.kernel_size, module.stride, module.padding,
                        module.dilation, bias=True, padding_mode=module.padding_mode)
    new.weight.copy_(weight)
    new.bias.copy_(bias[rows])
    return new


def _slice_norm(module: nn.Module, keep: torch.Tensor) -> nn.Module:
    new = type(module)(int(keep.sum()), module.eps, module.momentum, module.affine, module.track_running_stats)
    for name in ("weight", "bias", "running_mean", "running_var"):
        value = getattr(module, name)
        if value is not None:
            getattr(new, name).copy_(value[keep])
    new.eval()
    return new


def _rebuild(head: list[tuple[str, nn.Module]], layers: list[_Layer], alive: list[torch.Tensor],
             biases: list[torch.Tensor]) -> nn.Sequential:
    modules: dict[str, nn.Module] = {name: copy.deepcopy(module) for name, module in head}
    for k, layer in enumerate(layers):
        if k == 0:
            columns = torch.ones(layer.module.weight.shape[1], dtype=torch.bool)
        else:
            per_unit = _columns(layers[k - 1], layer, len(alive[k - 1]))
            columns = alive[k - 1].repeat_interleave(per_unit)
        modules[layer.name] = _slice_weighted(layer.module, alive[k], columns, biases[k])
        for name, module in layer.between:
            modules[name] = _slice_norm(module, alive[k]) if isinstance(module, NORMS) else copy.deepcopy(module)
    return nn.Sequential(OrderedDict(modules)).eval()


def count_macs(model: nn.Sequential, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of one input, counted layer by layer (Linear: in x out;
    Conv2d: output positions x out channels x in channels / groups x kernel size)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output[0].numel() * kernel

    hooks = [module.register_forward_hook(count) for module in model.modules() if isinstance(module, WEIGHTED)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros((1,) + tuple(input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
    return total
