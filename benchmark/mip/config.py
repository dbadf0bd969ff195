"""Settings of the MIP neuron scorer, with the paper's defaults and the reference code's options.

Preset ``paper`` (the defaults) is the formulation of the paper and issue text: a plain sum over layers of
``(1/n_l) * sum_i (s_i - 2)``, one normaliser per unit (filter), exact binary ReLU indicators.
Preset ``reference-code`` switches on what the official code (chair-dsgt/mip-for-ann) actually ran:
``sum_largest(S-1)`` aggregation, the ``C_out * k^2`` conv normaliser, and relaxed ReLU indicators.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from benchmark.errors import ConfigError

LOSSES = ("ce", "margin")
AGGREGATIONS = ("sum", "sum_largest")
CONV_NORMALISERS = ("filters", "filters_k2")
PRESETS = {
    "paper": {},
    "reference-code": {"aggregation": "sum_largest", "conv_normaliser": "filters_k2", "relaxed": True},
}


@dataclass(frozen=True)
class MIPConfig:
    """Formulation and solver settings; every field is part of the result's hash."""

    loss: str = "ce"  # "ce": exact log-sum-exp cross-entropy (MINLP); "margin": linear multiclass hinge
    lam: float = 5.0  # weight of the loss term (the official code's -sw)
    n_samples: int = 10  # images in the MIP batch, cycling through the classes
    epsilon: float = 1e-5  # input box X +- epsilon for interval bounds
    relaxed: bool = False  # ReLU indicators continuous in [0,1] (the official experiments ran so)
    aggregation: str = "sum"  # "sum" over layers, or the reference code's "sum_largest" of S-1 layer terms
    conv_normaliser: str = "filters"  # n_l = C_out, or the reference code's "filters_k2" = C_out*k_h*k_w
    margin: float = 1.0  # hinge margin of the "margin" loss
    threshold: float = -1.0  # prune s < threshold; negative means the paper's default for model/dataset
    time_limit: float = 600.0  # seconds; on hitting it the best incumbent is used and the status recorded
    gap: float = 1e-4  # relative gap at which SCIP stops
    threads: int = 1  # >1 uses SCIP's concurrent solver where the build supports it
    solver_seed: int = 0  # SCIP's random seed shift
    # decoupled sub-MIPs: input box of block k>0 from the full network's interval bounds ("network", as the
    # official code) or the block input's own +- epsilon box ("local", far fewer unstable ReLUs)
    block_bounds: str = "network"
    decoupled: bool = False  # one sub-MIP per conv block with auxiliary heads (the paper's VGG-16 route)
    head_epochs: int = 40  # epochs to fit the auxiliary heads when decoupled

    def __post_init__(self):
        checks = [(self.loss, LOSSES, "loss"), (self.aggregation, AGGREGATIONS, "aggregation"),
                  (self.conv_normaliser, CONV_NORMALISERS, "conv_normaliser"),
                  (self.block_bounds, ("network", "local"), "block_bounds")]
        for value, allowed, name in checks:
            if value not in allowed:
                raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")
        if self.threshold > 1.0:
            raise ConfigError(f"threshold must be at most 1 (scores lie in [0,1]), got {self.threshold}")
        if self.lam <= 0 or self.n_samples < 1 or self.epsilon <= 0 or self.time_limit <= 0 or self.gap < 0:
            raise ConfigError("lam, n_samples, epsilon and time_limit must be positive and gap non-negative")

    @classmethod
    def preset(cls, name: str, **overrides) -> MIPConfig:
        """A named preset (``paper`` or ``reference-code``) with ``overrides`` applied."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes) -> MIPConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


def default_threshold(model: str, dataset: str) -> float:
    """The paper's pruning thresholds: 0.1 for FC nets, 0.2 for LeNet-5 on the digit sets, 0.3 for CIFAR-10."""
    if dataset == "cifar10":
        return 0.3
    return 0.2 if model in ("lenet5", "vgg16") else 0.1
