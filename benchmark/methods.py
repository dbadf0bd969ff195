"""One interface for every pruning method: the MIP scorer, the baselines, and third-party plugins.

A method scores a trained model given a :class:`ScoringContext` and returns :class:`Scores`; turning scores
into a mask is shared code (:func:`make_mask`). Methods are found by name in a registry filled from the
``ticketbench.methods`` entry-point group (built-in methods are registered the same way in pyproject.toml),
or registered at run time with :func:`register`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.masks import NeuronMask, WeightMask, neuron_to_weight_mask
from benchmark.selection import top_k_mask
from datasets import DataSplits

GRANULARITIES = ("neuron", "weight")
ENTRY_POINT_GROUP = "ticketbench.methods"


@dataclass(frozen=True)
class Target:
    """The sparsity to hit: a fraction of units (or weights) ranked per layer or globally, or exactly the
    per-layer counts of a reference mask (matched sparsity). All empty: the method's own rule decides."""

    sparsity: float | None = None
    scope: str = "layer"
    counts: dict[str, int] | None = None

    def __post_init__(self):
        if self.sparsity is not None and not 0.0 <= self.sparsity < 1.0:
            raise ConfigError(f"sparsity must lie in [0, 1), got {self.sparsity}")
        if self.scope not in ("layer", "global"):
            raise ConfigError(f"unknown scope {self.scope!r}; choose layer or global")

    @property
    def is_set(self) -> bool:
        """True when a sparsity or per-layer counts were asked for."""
        return self.sparsity is not None or self.counts is not None


@dataclass
class ScoringContext:
    """Everything a method may use; each method takes what it needs and ignores the rest."""

    batch: tuple[torch.Tensor, torch.Tensor]  # the one-per-class batch (inputs, labels)
    splits: DataSplits | None = None  # training/validation data access
    init_state: dict | None = None  # theta_0, for rewinding
    # train(start_model, weight_mask, epochs, max_steps=None) -> trained model, pruned entries kept at zero
    train: Callable[..., nn.Module] | None = None
    target: Target = field(default_factory=Target)
    granularity: str = "neuron"
    seed: int = 0
    model_name: str = ""
    dataset: str = ""
    options: dict = field(default_factory=dict)  # method-specific settings (e.g. "mip_config", "reference_scores")
    executor: object | None = None  # a concurrent.futures.Executor for methods that parallelise

    def __post_init__(self):
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"unknown granularity {self.granularity!r}; choose neuron or weight")


@dataclass
class Scores:
    """Per prunable layer one score per unit (neuron granularity), or per parameter one score per weight.

    ``mask`` is set by methods that decide the mask themselves (the MIP's threshold, IMP's rounds)."""

    values: dict[str, torch.Tensor]
    granularity: str
    stats: dict = field(default_factory=dict)
    mask: dict[str, torch.Tensor] | None = None


@runtime_checkable
class Method(Protocol):
    """What a pruning method provides."""

    name: str
    description: str
    granularities: tuple[str, ...]

    def score(self, model: nn.Module, ctx: ScoringContext) -> Scores:
        """Score ``model``'s units or weights; must not modify ``model``."""


@dataclass
class PruneResult:
    """A method's scores, the mask chosen from them, and that mask as a weight mask."""

    scores: Scores
    mask: dict[str, torch.Tensor]
    weight_mask: WeightMask
    stats: dict


_RUNTIME: dict[str, type] = {}


def register(cls: type) -> type:
    """Register a method class at run time (decorator); entry points are the packaged way."""
    _RUNTIME[cls.name] = cls
    return cls


def available_methods() -> dict[str, type]:
    """All methods by name: entry points of ``ticketbench.methods``, then run-time registrations."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    methods = {}
    for name, ep in sorted(found.items()):
        try:
            methods[name] = ep.load()
        except Exception as exc:  # a broken plugin must not break the others
            raise ConfigError(f"method plugin {name!r} ({ep.value}) failed to load: {exc}") from None
    return {**methods, **_RUNTIME}


def get_method(name: str) -> Method:
    """An instance of the method ``name``, or a one-line error listing the valid names."""
    methods = available_methods()
    if name not in methods:
        raise ConfigError(f"unknown method {name!r}; choose one of: {', '.join(methods)}")
    return methods[name]()


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Weight-granularity scope: the weight tensor of every Linear and Conv2d layer, output layer included."""
    return {f"{n}.weight": m.weight for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}


def make_mask(scores: Scores, target: Target) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The mask for ``target`` (top-scored entries kept), else the method's own mask."""
    if target.is_set:
        return top_k_mask(scores.values, target.sparsity, target.counts, target.scope)
    if scores.mask is None:
        raise ConfigError("this method needs a target: give --sparsity or --match")
    return scores.mask, []


def to_weight_mask(model: nn.Module, mask: dict[str, torch.Tensor], granularity: str) -> WeightMask:
    """A weight mask from a neuron mask (incoming weights and bias) or a weight-level mask as is."""
    return neuron_to_weight_mask(model, mask) if granularity == "neuron" else {k: v.clone() for k, v in mask.items()}


def prune(method: str | Method, model: nn.Module, ctx: ScoringContext) -> PruneResult:
    """Score ``model`` with ``method`` and choose the mask for ``ctx.target``."""
    method = get_method(method) if isinstance(method, str) else method
    if ctx.granularity not in method.granularities:
        raise ConfigError(f"method {method.name!r} works at {' and '.join(method.granularities)} granularity, "
                          f"not {ctx.granularity}")
    scores = method.score(copy.deepcopy(model), ctx)
    mask, guarded = make_mask(scores, ctx.target)
    stats = {**scores.stats, "empty_layer_guard": sorted(set(scores.stats.get("empty_layer_guard", []) + guarded))}
    return PruneResult(scores, mask, to_weight_mask(model, mask, ctx.granularity), stats)


def neuron_counts(mask: NeuronMask) -> dict[str, int]:
    """Per-layer kept-unit counts of a mask, for matched-sparsity targets."""
    return {name: int(m.sum()) for name, m in mask.items()}
