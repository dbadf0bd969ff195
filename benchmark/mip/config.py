"""Settings of the MIP neuron scorer, with the paper's defaults and the reference code's options.

Preset ``paper`` (the defaults) is the formulation of the paper and issue text: a plain sum over layers of
``(1/n_l) * sum_i (s_i - 2)``, one normaliser per unit (filter), exact binary ReLU indicators.
Preset ``reference-code`` switches on what the official code (chair-dsgt/mip-for-ann) actually ran:
``sum_largest(S-1)`` aggregation, the ``C_out * k^2`` conv normaliser, and relaxed ReLU indicators.
Every field carries its help text in ``metadata["help"]`` and its allowed values and ranges, which the one validator
(:func:`benchmark.core.options.check`) enforces wherever the config comes from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from benchmark.core.config import setting
from benchmark.core.errors import ConfigError
from benchmark.core.options import check

LOSSES = ("ce", "margin")
AGGREGATIONS = ("sum", "sum_largest")
CONV_NORMALISERS = ("filters", "filters_k2")
BOUNDS = ("dense", "pruned")
BLOCK_BOUNDS = ("network", "local")
PROPAGATIONS = ("interval", "symbolic")
SOLVERS = ("auto", "scip", "highs", "clarabel")
# the programs a config makes, and the solvers that run each; "auto" takes the first, the fastest measured
# (results/solvers/mip_solvers_cpu.md; on full-width VGG-16 blocks Clarabel stalls on 11 of 13 relaxed ce programs
# where HiGHS's planes certify the optimum, results/vgg16-blocks/block_solve_cpu.md)
PROGRAM_SOLVERS = {
    "mip": ("scip",),  # binary ReLU indicators: branch and bound
    "lp": ("highs", "clarabel", "scip"),  # relaxed, margin loss: a linear program
    "expcone": ("highs", "clarabel", "scip"),  # relaxed, ce loss: an exponential-cone program (HiGHS: by planes)
}
# sum_largest leaves the scores of the layer outside the S-1 largest terms out of the sparsity term, so its relaxed
# optimum can be a face, not a point: an interior-point solver returns a point inside that face (near its centre),
# as the official code's MOSEK did, and a simplex solver a vertex of it (FC-4 on Fashion-MNIST: 314 units kept
# against 184), so "auto" takes Clarabel first there; not for a decoupled VGG-16 block, where Clarabel stalls
CENTRED_SOLVERS = ("clarabel", "highs", "scip")
PROGRAM_NAMES = {"mip": "the exact MIP (binary ReLU indicators)", "lp": "the relaxed margin LP",
                 "expcone": "the relaxed ce exponential-cone program"}
PRESETS = {
    "paper": {},
    "reference-code": {"aggregation": "sum_largest", "conv_normaliser": "filters_k2", "relaxed": True},
}


@dataclass(frozen=True)
class MIPConfig:
    """Formulation and solver settings of one MIP run."""

    loss: str = setting("ce", "loss term: 'ce' (exact log-sum-exp cross-entropy, nonlinear) or 'margin' "
                               "(linear multiclass hinge)", LOSSES)
    lam: float = setting(5.0, "weight of the loss term against the sparsity term (the official code's -sw)",
                         above=0)
    n_samples: int = setting(10, "images in the MIP batch, one per class in turn", minimum=1)
    epsilon: float = setting(1e-5, "half-width of the input box X +- epsilon the interval bounds start from",
                             above=0)
    relaxed: bool = setting(False, "make the ReLU indicators continuous in [0,1] (the official experiments did)")
    aggregation: str = setting("sum", "sparsity term over layers: 'sum', or the reference code's "
                                       "'sum_largest' of the S-1 largest layer terms", AGGREGATIONS)
    conv_normaliser: str = setting("filters", "n_l of a conv layer: 'filters' (C_out) or the reference code's "
                                               "'filters_k2' (C_out*k_h*k_w)", CONV_NORMALISERS)
    margin: float = setting(1.0, "hinge margin of the 'margin' loss, in logit units")
    time_limit: float = setting(600.0, "solver time limit in seconds (CPU seconds for SCIP, wall-clock for HiGHS "
                                        "and Clarabel); on hitting it SCIP's best incumbent is used", above=0)
    node_limit: int = setting(-1, "SCIP branch-and-bound node limit (-1: none); on hitting it the best "
                                   "incumbent is used", minimum=-1)
    gap: float = setting(1e-4, "relative optimality gap at which SCIP stops (HiGHS and Clarabel solve to their own "
                               "default tolerances)", minimum=0)
    threads: int = setting(1, "solver threads; for SCIP more than 1 uses the concurrent solver where the build has "
                              "it")
    solver_seed: int = setting(0, "solver random seed: SCIP's seed shift, HiGHS's random_seed")
    bounds: str = setting("dense", "big-M interval bounds: 'dense' (of the unpruned network, as the official "
                                    "code; they pin hidden pre-activations near the dense ones) or 'pruned' "
                                    "(valid for every score in [0,1], more binaries)", BOUNDS)
    block_bounds: str = setting("network", "decoupled input box of block k>0: 'network' (the full network's "
                                            "interval bounds, as the official code) or 'local' (the block "
                                            "input +- epsilon, far fewer unstable ReLUs)", BLOCK_BOUNDS)
    bound_propagation: str = setting("interval", "how the bounds are propagated: 'interval' (IBP, as the official "
                                                 "code) or 'symbolic' (zonotopes intersected with IBP: far tighter "
                                                 "on deep networks, slower to compute)", PROPAGATIONS)
    decoupled: bool = setting(False, "solve one sub-MIP per conv block with auxiliary heads (the paper's VGG-16 "
                                      "route)")
    head_epochs: int = setting(40, "epochs to fit the auxiliary heads when decoupled")
    max_unstable: int = setting(0, "decoupled: a block whose box leaves more than this many ReLU elements unstable "
                                   "is not built (status 'sizelimit', its dense start kept: nothing pruned there); "
                                   "0 means no limit", minimum=0)
    nlp_heuristics: bool = setting(True, "run SCIP's Ipopt-based primal heuristics (subnlp, mpec, multistart, "
                                         "nlpdiving, undercover); with the ce loss SCIP 10.0 can crash in them on "
                                         "some instances (decoupled VGG-16 blocks): turn them off there")
    solver: str = setting("auto", "solver of the program: 'auto' (SCIP for the exact MIP, HiGHS, the measured "
                                  "fastest, for a relaxed program, Clarabel, an interior point, for one under "
                                  "sum_largest unless decoupled; the next of solver_order where one returns no "
                                  "usable point), "
                                  "'scip' (any), 'highs' (relaxed only; ce by outer approximation) or 'clarabel' "
                                  "(relaxed only)", SOLVERS)
    rounding_start: bool = setting(False, "exact program: before SCIP solves, round the ReLU indicators of the "
                                          "relaxed program's solution, fix them, re-solve the continuous part "
                                          "(HiGHS or Clarabel) and offer that point to SCIP as a start "
                                          "(benchmark.mip.rounding); off by default, see "
                                          "results/solvers/rounding_start_cpu.md")

    def __post_init__(self):
        check(self)  # types, choices and ranges as the fields declare them
        if self.rounding_start and self.program != "mip":
            raise ConfigError("rounding_start starts the exact program; it needs relaxed = false")
        if self.solver != "auto" and self.solver not in PROGRAM_SOLVERS[self.program]:
            raise ConfigError(f"solver {self.solver!r} cannot run {PROGRAM_NAMES[self.program]}; use one of: "
                              f"{', '.join(('auto', *PROGRAM_SOLVERS[self.program]))}")

    @property
    def program(self) -> str:
        """What the settings make: ``mip`` (binary indicators), ``lp`` (relaxed margin) or ``expcone`` (relaxed
        ce)."""
        if not self.relaxed:
            return "mip"
        return "lp" if self.loss == "margin" else "expcone"

    @property
    def solver_order(self) -> tuple[str, ...]:
        """The solvers that try the program in turn, each taking over where the one before returned no usable
        point: :attr:`solver` alone, or for ``auto`` the measured order (:data:`PROGRAM_SOLVERS`), interior point
        first (:data:`CENTRED_SOLVERS`) for a relaxed program under ``sum_largest`` that is not decoupled."""
        if self.solver != "auto":
            return (self.solver,)
        if self.program != "mip" and self.aggregation == "sum_largest" and not self.decoupled:
            return CENTRED_SOLVERS
        return PROGRAM_SOLVERS[self.program]

    @property
    def backend(self) -> str:
        """The solver that runs the program first: :attr:`solver`, or for ``auto`` the first of
        :attr:`solver_order` (the fastest measured, or the interior-point solver under ``sum_largest``)."""
        return self.solver_order[0]

    def for_seed(self, seed: int) -> MIPConfig:
        """The settings a run of seed ``seed`` solves with: SCIP's seed shift is the run's seed plus
        ``solver_seed`` (the seed policy of :mod:`benchmark.core.specs`)."""
        return dataclasses.replace(self, solver_seed=self.solver_seed + seed)

    @classmethod
    def preset(cls, name: str, **overrides) -> MIPConfig:
        """A named preset (``paper`` or ``reference-code``) with ``overrides`` applied."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})
