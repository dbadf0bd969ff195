"""Neuron masks and weight masks: conversion, application, enforcement during training, and counting.

* A **neuron mask** maps a prunable layer name to a bool tensor with one entry per unit (Linear neuron or
  Conv2d filter); ``True`` keeps the unit.
* A **weight mask** maps a state entry (``"fc1.weight"``, ``"bn1.running_mean"``) to a bool tensor of its shape.

Pruning a unit removes everything that only exists for it: its incoming weights and bias, its entries in a
BatchNorm that follows it (the running mean too, so the unit outputs exactly 0 after the BatchNorm instead of
the constant ``ReLU(-mu/sigma)``), and its outgoing weights in the next Linear or Conv2d layer, which only
ever see a zero input. Training always works on weight masks; :func:`neuron_to_weight_mask` builds them.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.nn.models import prunable_layers

NeuronMask = dict[str, torch.Tensor]
WeightMask = dict[str, torch.Tensor]

WEIGHTED = (nn.Linear, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
UNIT_PRESERVING = (nn.ReLU, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity)


def full_neuron_mask(model: nn.Module) -> NeuronMask:
    """A mask that keeps every unit of every prunable layer."""
    return {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in prunable_layers(model).items()}


def _state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def _consumers(model: nn.Module, mask: NeuronMask) -> WeightMask:
    """Weight-mask entries downstream of the pruned units: BatchNorm entries and the next layer's input columns.

    Walks the flat sequential model, carrying which units of the current activation are alive."""
    out: WeightMask = {}
    alive, flattened = None, False
    for position, (name, module) in enumerate(model.named_children()):
        if isinstance(module, WEIGHTED):
            if alive is not None:
                columns = alive.repeat_interleave(module.weight.shape[1] // alive.numel()) if flattened else alive
                shape = (1, -1) + (1,) * (module.weight.dim() - 2)
                out[f"{name}.weight"] = columns.view(shape).expand_as(module.weight).clone()
            alive, flattened = mask.get(name), False
        elif isinstance(module, NORMS):
            if alive is not None:
                out[f"{name}.running_mean"] = alive.clone()
                for param in ("weight", "bias"):
                    if getattr(module, param) is not None:
                        out[f"{name}.{param}"] = alive.clone()
        elif isinstance(module, nn.Flatten):
            flattened = True
        elif not isinstance(module, UNIT_PRESERVING):
            raise ConfigError(f"cannot follow pruned units through {type(module).__name__} at position {position} "
                              f"({name!r}); masks support Linear, Conv2d, BatchNorm, Flatten, ReLU, pooling, Dropout")
    return out


def neuron_to_weight_mask(model: nn.Module, mask: NeuronMask) -> WeightMask:
    """Weight mask removing each pruned unit: incoming weights (row or filter) and bias, its BatchNorm entries,
    and its outgoing weights in the next layer."""
    layers = prunable_layers(model)
    out: WeightMask = {}
    for name, keep in mask.items():
        layer = layers[name]
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        out[f"{name}.weight"] = keep.view(shape).expand_as(layer.weight).clone()
        if layer.bias is not None:
            out[f"{name}.bias"] = keep.clone()
    for key, keep in _consumers(model, mask).items():
        out[key] = out[key] & keep if key in out else keep
    return out


@torch.no_grad()
def apply_weight_mask(model: nn.Module, mask: WeightMask) -> None:
    """Zero every masked-out entry of the model's parameters and buffers, in place, wherever they lie.

    A mask made by :func:`weight_mask_on` for the model is used as it is (no copy, no conversion)."""
    state = _state_tensors(model)
    for name, keep in mask.items():
        state[name].mul_(keep.to(device=state[name].device, dtype=state[name].dtype))


def weight_mask_on(model: nn.Module, mask: WeightMask) -> WeightMask:
    """``mask`` as 0/1 multipliers of each entry's dtype on its device: converted and moved once, so that
    re-applying it after every optimiser step moves nothing between host and device."""
    state = _state_tensors(model)
    return {name: keep.to(device=state[name].device, dtype=state[name].dtype) for name, keep in mask.items()}


def neuron_sparsity(mask: NeuronMask) -> float:
    """Fraction of prunable units removed."""
    total = sum(m.numel() for m in mask.values())
    return 1.0 - sum(int(m.sum()) for m in mask.values()) / total if total else 0.0


def parameters_removed(model: nn.Module, mask: WeightMask) -> int:
    """Number of trainable parameters a weight mask removes (buffers such as running means do not count)."""
    params = dict(model.named_parameters())
    return sum(int((~keep).sum()) for name, keep in mask.items() if name in params)


def parameter_sparsity(model: nn.Module, mask: WeightMask) -> float:
    """Fraction of all trainable parameters that the mask removes, dead outgoing weights included."""
    return parameters_removed(model, mask) / sum(p.numel() for p in model.parameters())


def official_parameter_sparsity(model: nn.Module, mask: NeuronMask) -> float:
    """The official code's "% parameters removed" as a fraction: per pruned unit only its incoming weights (a
    Linear row, ``in_features``; a Conv2d filter, ``C_in * k_h * k_w``) over all trainable parameters. Its bias,
    its BatchNorm entries and the dead outgoing weights in the next layer are not counted (paper-notes 1.8)."""
    layers = prunable_layers(model)
    removed = sum(int((~keep).sum()) * layers[name].weight[0].numel() for name, keep in mask.items())
    return removed / sum(p.numel() for p in model.parameters())


def units_kept(mask: NeuronMask) -> dict[str, str]:
    """Per layer, ``"kept/total"`` for printing."""
    return {name: f"{int(m.sum())}/{m.numel()}" for name, m in mask.items()}


def score_levels(scores: dict[str, torch.Tensor], tolerance: float = 1e-6) -> dict[str, dict[str, int]]:
    """Per layer, how many unit scores sit at 0, at 1 and strictly between (within ``tolerance``); empty unless
    every score lies in [0, 1] (importance scores such as the MIP's, not magnitudes or gradients)."""
    values = {name: score.detach().flatten().double() for name, score in scores.items()}
    if not values or any(v.numel() and (v.min() < -tolerance or v.max() > 1 + tolerance) for v in values.values()):
        return {}
    levels = {}
    for name, value in values.items():
        zero, one = int((value <= tolerance).sum()), int((value >= 1 - tolerance).sum())
        levels[name] = {"zero": zero, "between": value.numel() - zero - one, "one": one}
    return levels
