"""One interface for every pruning method: the MIP scorer, the baselines, and third-party plugins.

A method scores a trained model given a :class:`ScoringContext` and returns :class:`Scores`; turning scores
into a mask is shared code (:func:`make_mask`). Methods are found by name in a registry filled from the
``ticketbench.methods`` entry-point group (built-in methods are registered the same way in pyproject.toml),
or registered at run time with :func:`register`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.core.options import NoOptions, build_options, check, setting
from benchmark.core.plugins import method_entry_points
from benchmark.core.specs import GRANULARITIES, SCORING_BATCH, Target
from benchmark.methods.selection import threshold_mask, top_k_mask
from benchmark.nn.masks import NeuronMask, WeightMask, neuron_to_weight_mask
from datasets import DataSplits


@dataclass
class ScoringContext:
    """Everything a method may use; each method takes what it needs and ignores the rest."""

    batch: tuple[torch.Tensor, torch.Tensor]  # the one-per-class batch (inputs, labels)
    splits: DataSplits | None = None  # training/validation data access
    init_state: dict | None = None  # theta_0, for rewinding
    # train(start_model, weight_mask, epochs, max_steps=None) -> trained model, pruned entries kept at zero
    train: Callable[..., nn.Module] | None = None
    train_epochs: int = 0  # the dense training budget, in epochs
    steps_per_epoch: int = 0  # optimiser steps in one training epoch
    target: Target = field(default_factory=Target)
    granularity: str = setting("neuron", "prune whole units or single weights", GRANULARITIES)
    seed: int = 0
    model_name: str = ""
    dataset: str = ""
    reference: PruneResult | None = None  # another method's result, for methods defined relative to it (critical)
    export_path: str | None = None  # where a method that builds a model instance (the MIP) writes it
    device: str = "cpu"  # where a method that trains (lottery) or takes gradients (SNIP) runs; the MIP stays on CPU
    heads: nn.ModuleList | None = None  # a DGL-trained model's auxiliary heads (the decoupled MIP uses them)
    # the method's typed options (an instance of its ``Options``); a dict of raw values is checked by prune()
    options: object = field(default_factory=dict)

    def __post_init__(self):
        check(self)  # the granularity's choices, as the field declares them


@dataclass
class Scores:
    """Per prunable layer one score per unit (neuron granularity), or per parameter one score per weight.

    ``mask`` is set only by methods whose mask is the outcome of their own procedure for ``ctx.target`` (IMP's
    rounds train exactly that mask); it is then used as is, never re-cut. ``rewind_state`` is the state a ticket
    of this mask restarts from when it differs from theta_0 (late rewinding's theta_k)."""

    values: dict[str, torch.Tensor]
    granularity: str
    stats: dict = field(default_factory=dict)
    mask: dict[str, torch.Tensor] | None = None
    rewind_state: dict | None = None


@dataclass(frozen=True)
class MethodStage:
    """A stage of a method's own, which its prune stage waits for (the decoupled MIP's heads and blocks).

    ``kind`` names it (the method's ``run_stage(kind, spec, env, inputs) -> StageRecord`` runs it in a worker
    and its record is stored under ``spec.hash``); ``spec`` is a frozen, hashable dataclass with ``hash`` (a
    :class:`~benchmark.core.specs.Identified`) and ``train`` or ``prune.train``; ``needs`` are the hashes of the
    method's other stages it waits for (the dense training always comes first); ``label`` is its row's point."""

    kind: str
    spec: object
    needs: tuple[str, ...] = ()
    label: str = ""


@runtime_checkable
class Method(Protocol):
    """What a pruning method provides. Optional: a frozen dataclass ``Options`` of its settings (none if absent),
    and ``default_target(ctx) -> Target`` for the target used when none is given (the MIP's threshold).

    Optional hooks for the harness, which never names a method (each is ignored when absent):

    - ``stages(spec) -> list[MethodStage]``: stages of its own that a prune of ``spec`` waits for, and
      ``run_stage(kind, spec, env, inputs) -> StageRecord`` that runs one and returns its typed record, a frozen
      dataclass deriving from :class:`benchmark.core.records.StageRecord` whose fields are its row's columns
      (``env.trained(config)`` and ``env.data(config)`` load the dense model and data; ``inputs.records`` and
      ``inputs.artifacts`` hold what the stages it needs stored);
    - ``merge(spec, inputs) -> Scores | None``: the prune's scores from its stages' records and artifacts;
    - ``prune_seconds(spec, epoch_seconds)`` and ``stage_seconds(kind, spec, epoch_seconds)``: the dry-run's cost
      estimates (``epoch_seconds(config)``: one training epoch of ``config`` on the stage's device; a method's own
      stages run on the CPU), ``stage_note(kind, spec) -> str`` a
      caveat printed beside them, and ``trains = True`` when its prune stage trains (the GPU's work);
    - ``evaluation_columns(stats, mask) -> dict``: columns its evaluation rows add (the MIP's solver statistics);
    - ``batch_option``: the name of its option that sets the size of the one-per-class batch it scores on (the
      MIP's ``n_samples``; :data:`~benchmark.core.specs.SCORING_BATCH` images without it).
    """

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

    @property
    def granularity(self) -> str:
        """``neuron`` or ``weight``: what the mask's entries are."""
        return self.scores.granularity


_RUNTIME: dict[str, type] = {}
HARNESS_STAGES = ("train", "prune", "evaluate", "retrain", "transfer")  # the kinds no method stage may take


def register(cls: type) -> type:
    """Register a method class at run time (decorator); entry points are the packaged way."""
    _RUNTIME[cls.name] = cls
    return cls


def available_methods() -> dict[str, type]:
    """All methods by name: entry points of ``ticketbench.methods``, then run-time registrations."""
    methods = {}
    for name, ep in method_entry_points().items():
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
    """The mask for ``target``: the method's own mask when it decided one, else the entries kept by the target's
    rule (top-scored at a sparsity or counts, or at least the threshold). Also returns the layers where the
    never-empty-a-layer guard fired."""
    if scores.mask is not None:
        return scores.mask, []
    if target.threshold is not None:
        return threshold_mask(scores.values, target.threshold)
    if target.is_set:
        return top_k_mask(scores.values, target.sparsity, target.counts, target.scope)
    raise ConfigError("this method needs a target: give a sparsity, a threshold or a method to match")


def to_weight_mask(model: nn.Module, mask: dict[str, torch.Tensor], granularity: str) -> WeightMask:
    """A weight mask from a neuron mask (the whole unit, see :mod:`benchmark.nn.masks`) or a weight-level mask as is."""
    return neuron_to_weight_mask(model, mask) if granularity == "neuron" else {k: v.clone() for k, v in mask.items()}


def check_granularity(method: Method, granularity: str) -> None:
    """A one-line error when ``method`` cannot work at ``granularity``."""
    if granularity not in method.granularities:
        raise ConfigError(f"method {method.name!r} works at {' and '.join(method.granularities)} granularity, "
                          f"not {granularity}")


def method_options(method: Method, values: dict | object):
    """``method``'s typed options from raw ``values`` (checked, one-line errors), or ``values`` if already typed.
    A method without ``Options`` takes none."""
    options_class = getattr(method, "Options", NoOptions)
    if isinstance(values, options_class):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"method {method.name!r} takes {options_class.__name__}, not {type(values).__name__}")
    return build_options(options_class, values, method.name)


def batch_option(name: str) -> str | None:
    """The option of method ``name`` that sets its scoring batch's size (its ``batch_option``), if any."""
    return getattr(get_method(name), "batch_option", None)


def scoring_batch(name: str, options) -> int:
    """Images in the one-per-class batch, drawn from the validation split, that a prune of method ``name`` with
    ``options`` scores on: its batch option's value, else :data:`~benchmark.core.specs.SCORING_BATCH`."""
    option = batch_option(name)
    return SCORING_BATCH if option is None else getattr(options, option)


def method_stages(spec) -> list[MethodStage]:
    """The stages of its own that the prune of ``spec`` waits for (its method's ``stages`` hook; none without
    it); a kind that clashes with the harness's own stage kinds is a one-line error."""
    method = get_method(spec.method)
    declared = method.stages(spec) if hasattr(method, "stages") else []
    for stage in declared:
        if stage.kind in HARNESS_STAGES:
            raise ConfigError(f"method {method.name!r} declares a stage {stage.kind!r}, a kind the harness runs "
                              f"itself; name it otherwise")
    return declared


def scores_depend_on_target(method: Method) -> bool:
    """Whether ``method``'s scores change with the target (IMP's rounds, critical's reference); the scores of
    every other method can be computed once and cut at many targets."""
    return bool(getattr(method, "scores_depend_on_target", False))


def prune(method: str | Method, model: nn.Module, ctx: ScoringContext, scores: Scores | None = None) -> PruneResult:
    """Score ``model`` with ``method`` (or take ``scores`` it computed before, for a method whose scores do not
    depend on the target) and choose the mask for ``ctx.target``."""
    method = get_method(method) if isinstance(method, str) else method
    check_granularity(method, ctx.granularity)
    ctx = dataclasses.replace(ctx, options=method_options(method, ctx.options))
    if not ctx.target.is_set and hasattr(method, "default_target"):
        ctx = dataclasses.replace(ctx, target=method.default_target(ctx))
    if scores is None or scores_depend_on_target(method):
        scores = method.score(copy.deepcopy(model), ctx)
    mask, guarded = make_mask(scores, ctx.target)
    own = scores.stats.get("empty_layer_guard", []) if scores.mask is not None else []  # a method's own cut only
    stats = {**scores.stats, "empty_layer_guard": sorted(set(own + guarded))}
    if "threshold" in stats and ctx.target.threshold is not None:  # shared scores: the threshold cut here
        stats["threshold"] = ctx.target.threshold
    return PruneResult(scores, mask, to_weight_mask(model, mask, ctx.granularity), stats)


def matched_target(reference: PruneResult, granularity: str) -> Target:
    """The target that matches ``reference`` at ``granularity``: its kept count per layer, or, for a weight-level
    method matched to a neuron mask, its kept parameter count per weight tensor."""
    if granularity == reference.granularity:
        return Target(counts=neuron_counts(reference.mask))
    if granularity == "weight":
        return Target(counts={k: int(m.sum()) for k, m in reference.weight_mask.items() if k.endswith(".weight")})
    raise ConfigError("a neuron-level method cannot match a weight-level mask: match a neuron-level method")


def neuron_counts(mask: NeuronMask) -> dict[str, int]:
    """Per-layer kept-unit counts of a mask, for matched-sparsity targets."""
    return {name: int(m.sum()) for name, m in mask.items()}
