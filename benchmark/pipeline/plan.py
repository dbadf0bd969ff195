"""A suite expanded into its stages: each a spec named by its hash, with the stages it waits for.

Per (model, dataset, seed): the dense training; per method, option set and operating point a prune stage
and an evaluation (no fine-tuning); at the primary points (or every point, with ``tickets_at = "all"``) the
fine-tuned evaluation, the retrained ticket (for the budget's epochs, or, with "full", for as long as its dense
net trained) and, per target dataset, the transferred ticket with its random control. A baseline matched to
another method gets one point per point of that method. A method's own stages (its ``stages`` hook, see
:mod:`benchmark.methods`: the decoupled MIP's heads and blocks) come before its prune stage, which waits for
them; the plan never names a method. The random control of a transferred mask is the
``random`` method matched to the same counts, transferred the same way; the plan adds those stages when the suite
does not run them itself, and runs each once however many masks share it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from benchmark.core.config import TrainConfig
from benchmark.core.options import NoOptions
from benchmark.core.paper import paper_threshold
from benchmark.core.specs import EvaluateSpec, PruneSpec, RetrainSpec, Target, TransferSpec
from benchmark.methods import get_method, method_stages, scores_depend_on_target
from benchmark.pipeline.suites import MethodPlan, Suite


@dataclass(frozen=True)
class Point:
    """A prune's operating point as facts, stored as columns of its rows: the score ``threshold``, or the
    ``sparsity`` (ranked per layer or globally by ``scope``), or the method whose per-layer counts it ``matched``
    and that method's point ``matched_point``; ``sweep`` names the options that vary across the method's option
    sets (``lam=1``). :attr:`label` is derived from them, for display only (``tau=0.1``, ``sparsity=0.5/global``,
    ``match=mip``, ``match=mip@tau=0.3``, ``lam=1,tau=0.1``)."""

    threshold: float | None = None
    sparsity: float | None = None
    scope: str = "layer"
    matched: str = ""
    matched_point: str = ""
    sweep: str = ""
    name_matched_point: bool = False  # whether the label names the matched point (the matched method has several)

    @property
    def label(self) -> str:
        """The display label, the ``point`` column (a matched label keeps ``match=X@point`` first)."""
        if self.matched:
            label = f"match={self.matched}" + (f"@{self.matched_point}" if self.name_matched_point else "")
            return f"{label}[{self.sweep}]" if self.sweep else label
        if self.sparsity is not None:
            label = f"sparsity={self.sparsity:g}" + ("/global" if self.scope == "global" else "")
        else:
            label = f"tau={self.threshold:g}"
        return f"{self.sweep},{label}" if self.sweep else label

    def columns(self) -> dict:
        """The facts as row columns (``scope`` only with a sparsity)."""
        return {"threshold": self.threshold, "sparsity": self.sparsity,
                "scope": self.scope if self.sparsity is not None else None, "matched": self.matched,
                "matched_point": self.matched_point, "sweep": self.sweep}


@dataclass(frozen=True)
class Job:
    """One stage: ``kind`` (train, prune, evaluate, retrain, transfer, or a method's own), its spec, the hashes
    it waits for and the labels its stored row carries (method, operating point)."""

    kind: str
    spec: object
    needs: tuple[str, ...] = ()
    method: str = "dense"
    point: str = ""
    primary: bool = False  # the method's first operating point (the paper's setting in the presets)
    at: Point | None = None  # a prune's operating point (and that of the stages of its mask), as facts

    @property
    def hash(self) -> str:
        """The stage's identity: its spec's hash."""
        return self.spec.hash


def control_prune(spec: PruneSpec) -> PruneSpec:
    """The random mask at ``spec``'s counts: random matched to what ``spec`` is matched to, else to ``spec``."""
    return PruneSpec(spec.train, "random", NoOptions(), spec.granularity, Target(match=spec.target.match or spec))


def _sweep_label(option_sets: tuple, options) -> str:
    if len(option_sets) < 2:
        return ""
    varying = [f.name for f in dataclasses.fields(options) if len({getattr(o, f.name) for o in option_sets}) > 1]
    return ",".join(f"{name}={getattr(options, name):g}" if isinstance(getattr(options, name), float)
                    else f"{name}={getattr(options, name)}" for name in varying)


class Planner:
    """Builds the ordered job list of a suite (dependencies always before dependants)."""

    def __init__(self, suite: Suite):
        self.suite, self.jobs = suite, {}

    def add(self, job: Job) -> Job:
        self.jobs.setdefault(job.hash, job)
        return self.jobs[job.hash]

    def train(self, config: TrainConfig) -> Job:
        return self.add(Job("train", config, method="dense"))

    def points(self, plan: MethodPlan, config: TrainConfig, matched: dict) -> list[tuple[PruneSpec, Point]]:
        """Prune specs and operating points of one method on one trained model, primary point first."""
        taus = [paper_threshold(config.model, config.dataset) if t is None else t for t in plan.thresholds]
        if not (taus or plan.sparsities or plan.match) and hasattr(get_method(plan.name), "default_target"):
            taus = [paper_threshold(config.model, config.dataset)]
        targets = [(Target(threshold=t), Point(threshold=t)) for t in taus]
        targets += [(Target(sparsity=s, scope=plan.scope), Point(sparsity=s, scope=plan.scope))
                    for s in plan.sparsities]
        if plan.match is not None:
            refs = matched[plan.match]
            targets += [(Target(match=ref), Point(matched=plan.match, matched_point=at.label,
                                                      name_matched_point=len(refs) > 1)) for ref, at in refs]
        out, option_sets = [], plan.options_for(config.model)
        for options, (target, at) in itertools.product(option_sets, targets):
            at = dataclasses.replace(at, sweep=_sweep_label(option_sets, options))
            out.append((PruneSpec(config, plan.name, options, plan.granularity, target), at))
        return out

    def method_stages(self, spec: PruneSpec) -> list[str]:
        """The method's own stages for ``spec`` (shared by all its targets), each after the dense training and
        the stages it names; their hashes, for the prune to wait for (it reads their records and artifacts)."""
        train = self.train(spec.train)
        return [self.add(Job(stage.kind, stage.spec, (train.hash, *stage.needs), spec.method, stage.label)).hash
                for stage in method_stages(spec)]

    def prune(self, spec: PruneSpec, at: Point, primary: bool = False, after: Job | None = None) -> Job:
        needs = [self.train(spec.train).hash] + ([after.hash] if after is not None else [])
        needs += self.method_stages(spec)
        if spec.target.match is not None:
            needs.append(spec.target.match.hash)
        return self.add(Job("prune", spec, tuple(needs), spec.method, at.label, primary, at))

    def of_mask(self, kind: str, spec, needs: tuple[str, ...], prune: Job) -> Job:
        """A stage of ``prune``'s mask (evaluation, retraining, transfer), at its method and operating point."""
        return self.add(Job(kind, spec, needs, prune.method, prune.point, prune.primary, prune.at))

    def tickets(self, spec: PruneSpec) -> None:
        """Fine-tuned evaluation, retraining and transfers (with random controls) of one primary point."""
        budget, prune = self.suite.budget, self.jobs[spec.hash]
        if budget.finetune_epochs:
            self.of_mask("evaluate", EvaluateSpec(spec, budget.finetune_epochs), (prune.hash,), prune)
        retrain_epochs = spec.train.epochs if budget.retrain_epochs is None else budget.retrain_epochs
        if retrain_epochs:
            self.of_mask("retrain", RetrainSpec(spec, retrain_epochs), (prune.hash,), prune)
        for dataset in self.suite.transfer.get(spec.train.dataset, ()):
            dense = self.train(self.suite.train_config(spec.train.model, dataset, spec.train.seed))
            epochs = dense.spec.epochs if budget.transfer_epochs is None else budget.transfer_epochs
            target = dataclasses.replace(dense.spec, epochs=epochs)
            ticket = self.of_mask("transfer", TransferSpec(spec, target), (prune.hash,), prune)
            control_spec = control_prune(spec)
            reference = self.jobs[control_spec.target.match.hash]
            control = self.prune(control_spec, Point(matched=reference.method, matched_point=reference.point,
                                                     name_matched_point=True))
            control_ticket = self.of_mask("transfer", TransferSpec(control_spec, target), (control.hash,), control)
            # the random control reads the control ticket's record, and the mask's counts from the prune
            self.of_mask("transfer", TransferSpec(spec, target, control="random"),
                         (control_ticket.hash, ticket.hash, dense.hash, prune.hash), prune)


def plan_suite(suite: Suite) -> list[Job]:
    """Every stage of ``suite``, dependencies first."""
    planner = Planner(suite)
    order = sorted(suite.methods, key=lambda p: p.match is not None)  # references before matched methods
    for (model, dataset), seed in itertools.product(suite.pairs(), suite.seeds):
        config = suite.train_config(model, dataset, seed)
        planner.train(config)
        matched, primary = {}, []
        for plan in order:
            points = planner.points(plan, config, matched)
            matched[plan.name] = points
            shares = not scores_depend_on_target(get_method(plan.name))
            first = {}  # per option set, the prune whose scores the other targets reuse
            for index, (spec, at) in enumerate(points):
                prune = planner.prune(spec, at, index == 0, first.get(spec.options) if shares else None)
                first.setdefault(spec.options, prune)
                planner.of_mask("evaluate", EvaluateSpec(spec), (prune.hash,), prune)
                if index == 0 or suite.budget.tickets_at == "all":
                    primary.append(spec)
        for spec in primary:
            planner.tickets(spec)
    return list(planner.jobs.values())
