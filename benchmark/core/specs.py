"""Frozen identities of every kind of run, each with its own stable hash (OpenLTH's ``desc`` idea).

A spec names everything that determines its result and nothing else, so the harness caches and stores each
stage result under ``spec.hash``. Specs nest: a prune spec holds the train config it prunes, an evaluate,
retrain or transfer spec the prune spec whose mask it uses.

**Seed policy.** A run has one seed, ``TrainConfig.seed``. It seeds the initialisation, the train/validation
split and the batch order; the one-per-class MIP batch, the method's own randomness (``ScoringContext.seed``)
and SCIP's random seed shift all take the same value. A spec therefore stores no other seed, and a result
row reports ``seed`` from its train config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from benchmark.core.config import TrainConfig, config_hash
from benchmark.core.errors import ConfigError
from benchmark.core.options import NoOptions, check, setting

GRANULARITIES = ("neuron", "weight")
SCOPES = ("layer", "global")
SCORING_BATCH = 10  # images in the one-per-class batch of a method without a batch option of its own


@dataclass(frozen=True)
class Target:
    """What a prune's mask must hit, one of: a ``sparsity`` (fraction of units or weights removed, ranked per layer
    or globally by ``scope``), a score ``threshold`` (keep ``score >= threshold``, the MIP's rule), the per-layer
    counts of another prune run (``match``, in a plan), or those counts themselves (``counts``, once the matched
    mask is known: what a method is given). All empty: the method's default target."""

    HASHED_AS: ClassVar[str] = "TargetSpec"  # its name in every stored hash (before plans and methods shared it)

    sparsity: float | None = setting(None, "fraction of units (or weights) to remove", minimum=0, below=1)
    scope: str = setting("layer", "rank per layer or across layers", SCOPES)
    threshold: float | None = setting(None, "keep units scoring at least this (the MIP's rule)", minimum=0,
                                      maximum=1)
    match: PruneSpec | None = None  # keep exactly this run's per-layer counts
    counts: dict[str, int] | None = None  # keep exactly these per-layer counts (a matched mask's)

    def __post_init__(self):
        check(self)
        given = [k for k in ("sparsity", "threshold", "match", "counts") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ConfigError(f"give one target, not both {' and '.join(given[:2])} (a matched mask fixes the "
                              "sparsity)")

    @property
    def is_set(self) -> bool:
        """True when a sparsity, a threshold, a run to match or per-layer counts was asked for."""
        return any(getattr(self, k) is not None for k in ("sparsity", "threshold", "match", "counts"))


class Identified:
    """A frozen spec named by its content hash, its fields checked (:func:`benchmark.core.options.check`)."""

    def __post_init__(self):
        check(self)

    @property
    def hash(self) -> str:
        """Content hash: class name, schema version and the fields that differ from their defaults."""
        return config_hash(self)


@dataclass(frozen=True)
class PruneSpec(Identified):
    """A method applied to a trained dense model at an operating point."""

    train: TrainConfig
    method: str
    options: object = field(default_factory=NoOptions)  # the method's typed Options
    granularity: str = setting("neuron", "prune whole units (neurons, filters) or single weights", GRANULARITIES)
    target: Target = field(default_factory=Target)


@dataclass(frozen=True)
class EvaluateSpec(Identified):
    """The pruned network on the source test set, with no fine-tuning or after ``finetune_epochs``."""

    prune: PruneSpec
    finetune_epochs: int = setting(0, "fine-tuning epochs of the pruned weights (0: none)", minimum=0)


@dataclass(frozen=True)
class RetrainSpec(Identified):
    """The ticket rewound to its rewind point (theta_0, or theta_k) and retrained on the source dataset."""

    prune: PruneSpec
    epochs: int


@dataclass(frozen=True)
class TransferSpec(Identified):
    """The mask found on the source, rewound to the source's theta_0 and trained with ``target`` (the target
    dataset's training config: its paper optimiser, the transfer budget); ``control="random"`` uses a random
    mask with the same per-layer counts instead."""

    prune: PruneSpec
    target: TrainConfig
    control: str = setting("ticket", "the mask itself, or the random control", ("ticket", "random"))

    def __post_init__(self):
        super().__post_init__()
        if (self.target.model, self.target.seed) != (self.prune.train.model, self.prune.train.seed):
            raise ConfigError("a transfer keeps the source's model and seed")


@dataclass(frozen=True)
class HeadsSpec(Identified):
    """The auxiliary heads the decoupled MIP's sub-problems use: a DGL-trained model's own heads, or heads fitted
    for ``epochs`` epochs to the frozen network of ``train``."""

    train: TrainConfig
    epochs: int = 0


@dataclass(frozen=True)
class BlockSpec(Identified):
    """Sub-MIP number ``block`` of the decoupled MIP of ``prune`` (whose target is cleared: the blocks' scores
    serve every threshold the prune stages cut them at)."""

    prune: PruneSpec
    block: int
