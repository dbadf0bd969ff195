"""Neuron masks and weight masks: conversion, application, enforcement during training, and counting.

* A **neuron mask** maps a prunable layer name to a bool tensor with one entry per unit (Linear neuron or
  Conv2d filter); ``True`` keeps the unit. Pruning a unit zeroes its incoming weights and its bias.
* A **weight mask** maps a parameter name (``"fc1.weight"``) to a bool tensor of the parameter's shape.

Training always works on weight masks; neuron masks are turned into them with :func:`neuron_to_weight_mask`.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models import prunable_layers

NeuronMask = dict[str, torch.Tensor]
WeightMask = dict[str, torch.Tensor]


def full_neuron_mask(model: nn.Module) -> NeuronMask:
    """A mask that keeps every unit of every prunable layer."""
    return {name: torch.ones(layer.weight.shape[0], dtype=torch.bool) for name, layer in prunable_layers(model).items()}


def neuron_to_weight_mask(model: nn.Module, mask: NeuronMask) -> WeightMask:
    """Weight mask that zeroes each pruned unit's incoming weights (row or filter) and its bias."""
    layers = prunable_layers(model)
    out: WeightMask = {}
    for name, keep in mask.items():
        layer = layers[name]
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        out[f"{name}.weight"] = keep.view(shape).expand_as(layer.weight).clone()
        if layer.bias is not None:
            out[f"{name}.bias"] = keep.clone()
    return out


@torch.no_grad()
def apply_weight_mask(model: nn.Module, mask: WeightMask) -> None:
    """Zero every masked-out entry of the model's parameters, in place."""
    params = dict(model.named_parameters())
    for name, keep in mask.items():
        params[name].mul_(keep.to(params[name].dtype))


def mask_gradients(model: nn.Module, mask: WeightMask) -> None:
    """Zero the gradients of masked-out entries so no optimiser state builds up for them."""
    params = dict(model.named_parameters())
    for name, keep in mask.items():
        grad = params[name].grad
        if grad is not None:
            grad.mul_(keep.to(grad.dtype))


def neuron_sparsity(mask: NeuronMask) -> float:
    """Fraction of prunable units removed."""
    total = sum(m.numel() for m in mask.values())
    return 1.0 - sum(int(m.sum()) for m in mask.values()) / total if total else 0.0


def weight_mask_removed(mask: WeightMask) -> int:
    """Number of parameters a weight mask removes."""
    return sum(int((~m).sum()) for m in mask.values())


def parameter_sparsity(model: nn.Module, mask: WeightMask) -> float:
    """Fraction of all model parameters that the mask removes (incoming weights and biases)."""
    return weight_mask_removed(mask) / sum(p.numel() for p in model.parameters())


def units_kept(mask: NeuronMask) -> dict[str, str]:
    """Per layer, ``"kept/total"`` for printing."""
    return {name: f"{int(m.sum())}/{m.numel()}" for name, m in mask.items()}
