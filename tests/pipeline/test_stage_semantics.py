"""What the stages after pruning compute, pinned by the values they actually train from and end with.

The stages of a small suite (FC-3 on the fixture MNIST slice, magnitude at half the units, an IMP ticket with
late rewinding matched to it, transferred to the Fashion-MNIST slice) run as the driver runs them
(:func:`benchmark.pipeline.stages.execute` on the inputs gathered from a store). While a stage runs, every
training it starts is recorded: the weights at step 0 (as the optimiser first sees them, loaded and masked),
the data, and the model it returns. The tests compare those with values computed independently: theta_0 from
the seeded initialisation, theta_k from k steps of dense training, the trained weights the stages load (bit for
bit, whatever thread count trained them), the masks from the stored prune artifacts, accuracies from
:func:`benchmark.nn.training.evaluate` on the split they must come from. The MIP's threshold rule is pinned at its
boundary on hand-made scores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest
import torch

import benchmark.nn.training as training
from benchmark.core.config import TrainConfig
from benchmark.core.paper import paper_threshold
from benchmark.methods import Scores, ScoringContext, Target, prune
from benchmark.nn.masks import apply_weight_mask, neuron_to_weight_mask
from benchmark.nn.models import prunable_layers
from benchmark.nn.ticket_cost import ticket_cost
from benchmark.nn.training import TrainResult, evaluate, fit, fresh_model
from benchmark.pipeline import experiment, stages
from benchmark.pipeline.plan import Job, control_prune, plan_suite
from benchmark.pipeline.runner import gather, keep
from benchmark.pipeline.stage_context import load_trained
from benchmark.pipeline.stages import StageEnv, execute
from benchmark.pipeline.suites import parse_suite
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import ResultStore
from datasets import DataSplits, load_splits

SUITE = """
name = "semantics"
description = "FC-3 on the fixture MNIST slice: magnitude, weight-level IMP with late rewinding matched to it"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0, 1]

[train]
epochs = 5

[budget]
finetune_epochs = 1
retrain_epochs = 1
transfer_epochs = 1

[transfer]
mnist = ["fashion-mnist"]

[methods.magnitude]
sparsities = [0.5]

[methods.lottery]
match = "magnitude"
granularity = "weight"
options = { prune_fraction = 0.5, round_epochs = 1, rewind_iteration = 3 }
"""
REWIND_ITERATION = 3  # the lottery's theta_k above
TICKETS = ("magnitude", "lottery")  # a neuron-level ticket rewound to theta_0, a weight-level one to theta_k


# --- running stages as the driver does ---------------------------------------------------------------------------
class StageRunner:
    """The planned stages of :data:`SUITE`, each run (after the stages it needs) and stored at most once."""

    def __init__(self, root, data_dir):
        self.env = StageEnv(root, "semantics", str(data_dir), threads=1)
        self.store, self.artifacts = ResultStore(root), ArtifactDir(root)
        self.jobs = {job.hash: job for job in plan_suite(parse_suite(SUITE, root / "semantics.toml"))}

    def find(self, kind: str, method: str, seed: int = 0, **spec_fields) -> Job:
        """The one planned stage of ``kind`` for ``method`` at ``seed`` whose spec has ``spec_fields``
        (``finetune_epochs`` of an evaluation, ``control`` of a transfer)."""
        found = [job for job in self.jobs.values() if job.kind == kind and job.method == method
                 and stages.source_config(job).seed == seed
                 and all(getattr(job.spec, key) == value for key, value in spec_fields.items())]
        assert len(found) == 1, f"expected one {kind} stage of {method} at seed {seed}, planned {len(found)}"
        return found[0]

    def record(self, job: Job) -> dict:
        """The stored row of ``job``, running it first if it is not stored yet."""
        if self.store.get(job.hash) is None:
            keep(self.store, self.artifacts, self.env, job, self.run(job))
        return self.store.get(job.hash)["record"]

    def run(self, job: Job):
        """Run ``job`` now (its needs from the store, run first if missing); its result, not stored."""
        for need in job.needs:
            self.record(self.jobs[need])
        with pytest.MonkeyPatch.context() as patch:  # a prune's speed-up timing takes seconds and pins nothing here
            patch.setattr(stages, "ticket_cost", functools.partial(ticket_cost, timed=False))
            return execute(job, self.env, gather(job, self.store, self.artifacts))

    def mask(self, prune_spec) -> dict[str, torch.Tensor]:
        """The mask (per unit or per weight) a prune stage stored (run first if missing)."""
        self.record(self.jobs[prune_spec.hash])
        return self.artifacts.load_tensors(prune_spec.hash, "prune.pt")["mask"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory, fixture_root):
    return StageRunner(tmp_path_factory.mktemp("stage-semantics"), fixture_root)


@pytest.fixture(scope="module")
def target_splits(fixture_root) -> DataSplits:
    """The Fashion-MNIST slice, loaded here independently of the stages."""
    return load_splits("fashion-mnist", "paper", fixture_root, seed=0, allow_download=False)


# --- recording what a stage trains -----------------------------------------------------------------------------
@dataclass
class Training:
    """One training a stage ran: its config and data, the parameters at step 0 and what it returned."""

    config: TrainConfig
    splits: DataSplits
    step_zero: dict[str, torch.Tensor]
    result: TrainResult


def record_trainings(monkeypatch, module) -> list[Training]:
    """Record every ``fit`` that ``module`` calls; step 0 is read when the optimiser is made (after the start
    state is loaded and the mask applied), so it holds the values training actually starts from."""
    snapshots, trainings = [], []
    make_optimizer, real_fit = training.make_optimizer, module.fit

    def snapshot_then_make(config, params):
        params = list(params)
        snapshots.append([p.detach().clone() for p in params])
        return make_optimizer(config, params)

    def recorded_fit(config, splits, **kwargs):
        before = len(snapshots)
        result = real_fit(config, splits, **kwargs)
        assert len(snapshots) == before + 1, "fit made no optimiser (or several): cannot read its step 0"
        names = [name for name, _ in result.model.named_parameters()]
        trainings.append(Training(config, splits, dict(zip(names, snapshots[before])), result))
        return result

    monkeypatch.setattr(training, "make_optimizer", snapshot_then_make)
    monkeypatch.setattr(module, "fit", recorded_fit)
    return trainings


def only(trainings: list[Training]) -> Training:
    assert len(trainings) == 1, f"expected the stage to train once, it trained {len(trainings)} times"
    return trainings[0]


# --- comparing weights under a mask ----------------------------------------------------------------------------
def weight_mask_of(runner: StageRunner, prune_spec, splits: DataSplits) -> dict[str, torch.Tensor]:
    """The weight mask of a stored prune: a weight-level mask as stored, a neuron mask's rebuilt here."""
    mask = runner.mask(prune_spec)
    if prune_spec.granularity == "weight":
        return mask
    return neuron_to_weight_mask(fresh_model(prune_spec.train, splits), mask)


def kept(tensor: torch.Tensor, name: str, weight_mask) -> torch.Tensor:
    """The entries of state entry ``name`` that the mask keeps (all of an entry it does not mention)."""
    return tensor[weight_mask[name]] if name in weight_mask else tensor


def assert_pruned_entries_zero(state: dict, weight_mask) -> None:
    for name, keep_entry in weight_mask.items():
        assert keep_entry.any() and not keep_entry.all(), f"{name}: the mask must prune some entries and keep some"
        assert torch.count_nonzero(state[name][~keep_entry]) == 0, f"{name}: a pruned entry is not zero"


def assert_kept_entries_equal(state: dict, reference: dict, weight_mask) -> None:
    for name, value in state.items():
        assert torch.equal(kept(value, name, weight_mask), kept(reference[name], name, weight_mask)), name


def assert_kept_entries_moved(after: dict, before: dict, weight_mask) -> None:
    weights = [name for name in after if name.endswith("weight")]
    moved = [name for name in weights
             if not torch.equal(kept(after[name], name, weight_mask), kept(before[name], name, weight_mask))]
    assert moved == weights, f"every layer's kept weights must train, only {moved} moved"


def assert_same_data(used: DataSplits, expected: DataSplits) -> None:
    for split in ("train", "val", "test"):
        (x, y), (ex, ey) = getattr(used, split).tensors(slice(None)), getattr(expected, split).tensors(slice(None))
        assert torch.equal(x, ex) and torch.equal(y, ey), f"trained on another {split} split"


def theta_0(config: TrainConfig, splits: DataSplits) -> dict:
    """The seeded initialisation of ``config``."""
    return fresh_model(config, splits).state_dict()


def theta_k(config: TrainConfig, splits: DataSplits, k: int) -> dict:
    """The dense run from theta_0 after ``k`` optimiser steps (late rewinding's start)."""
    return fit(config, splits, start_state=theta_0(config, splits), epochs=1, max_steps=k).model.state_dict()


def trained_weights(runner: StageRunner, config: TrainConfig) -> dict:
    """The dense model the stages load for ``config`` (their in-process cache: the very weights, bit for bit,
    whatever thread count trained them)."""
    return load_trained(config, runner.env.data_dir, runner.env.device).model.state_dict()


# --- evaluation: the pruned network, not trained, on the test set ----------------------------------------------
def test_pruned_accuracy_is_the_masked_trained_network_on_the_test_set(runner, mnist_small):
    """No training; the trained weights with the mask applied, measured on the source's test split."""
    job = runner.find("evaluate", "magnitude", finetune_epochs=0)
    spec = job.spec
    weight_mask = weight_mask_of(runner, spec.prune, mnist_small)
    pruned = fresh_model(spec.prune.train, mnist_small)
    pruned.load_state_dict(trained_weights(runner, spec.prune.train))
    dense = evaluate(pruned, mnist_small.test)[1]
    apply_weight_mask(pruned, weight_mask)
    accuracy = {split: evaluate(pruned, getattr(mnist_small, split))[1] for split in ("train", "val", "test")}
    assert len({*accuracy.values(), dense}) == 4, "the fixture cannot tell the splits or the mask apart"
    record = runner.run(job).record
    assert record["pruned_accuracy"] == accuracy["test"]
    assert record["dense_accuracy"] == dense


# --- fine-tuning: from the trained weights, only the kept ones move ----------------------------------------------
@pytest.mark.parametrize("method", TICKETS)
def test_fine_tuning_starts_from_the_trained_weights_and_moves_only_the_kept_ones(
        runner, mnist_small, monkeypatch, method):
    """The fine-tuned evaluation trains the pruned trained network on the source; pruned weights stay zero. (A
    neuron-pruned ReLU net started at zero never regrows its dead units; the weight-level ticket can.)"""
    job = runner.find("evaluate", method, finetune_epochs=1)
    weight_mask = weight_mask_of(runner, job.spec.prune, mnist_small)
    trainings = record_trainings(monkeypatch, experiment)
    record = runner.run(job).record
    tuned = only(trainings)
    assert tuned.config == job.spec.prune.train
    assert_same_data(tuned.splits, mnist_small)
    assert_kept_entries_equal(tuned.step_zero, trained_weights(runner, tuned.config), weight_mask)
    assert_pruned_entries_zero(tuned.step_zero, weight_mask)
    after = tuned.result.model.state_dict()
    assert_pruned_entries_zero(after, weight_mask)
    assert_kept_entries_moved(after, tuned.step_zero, weight_mask)
    assert record["finetuned_accuracy"] == evaluate(tuned.result.model, mnist_small.test)[1]


# --- retraining: rewound to theta_0, or theta_k for late rewinding, under the mask -------------------------------
@pytest.mark.parametrize("method", TICKETS)
def test_retraining_rewinds_to_the_tickets_rewind_point_under_its_mask(runner, mnist_small, monkeypatch, method):
    """Magnitude rewinds to theta_0; IMP with late rewinding to theta_k, the dense run after k steps (which the
    prune stage stores and the retrain stage must load)."""
    job = runner.find("retrain", method)
    config = job.spec.prune.train
    rewind = theta_k(config, mnist_small, REWIND_ITERATION) if method == "lottery" else theta_0(config, mnist_small)
    weight_mask = weight_mask_of(runner, job.spec.prune, mnist_small)
    trainings = record_trainings(monkeypatch, experiment)
    record = runner.run(job).record
    retrained = only(trainings)
    assert retrained.config == config
    assert_same_data(retrained.splits, mnist_small)
    assert_kept_entries_equal(retrained.step_zero, rewind, weight_mask)
    assert_pruned_entries_zero(retrained.step_zero, weight_mask)
    assert_pruned_entries_zero(retrained.result.model.state_dict(), weight_mask)
    assert record["retrained_accuracy"] == evaluate(retrained.result.model, mnist_small.test)[1]


# --- transfer: the source's theta_0 under the ticket's mask, trained on the target --------------------------------
@pytest.mark.parametrize("method", TICKETS)
def test_transfer_trains_the_sources_theta_0_under_the_mask_on_the_target(
        runner, mnist_small, target_splits, monkeypatch, method):
    """Even a late-rewound ticket transfers from theta_0 (not theta_k, not the trained weights); its pruned
    weights are zero at step 0 and after training; it trains and is tested on the target's data."""
    job = runner.find("transfer", method, control="ticket")
    source = job.spec.prune.train
    weight_mask = weight_mask_of(runner, job.spec.prune, mnist_small)
    trainings = record_trainings(monkeypatch, stages)
    record = runner.run(job).record
    transferred = only(trainings)
    assert transferred.config == job.spec.target and transferred.config.dataset == "fashion-mnist"
    assert_same_data(transferred.splits, target_splits)
    assert_kept_entries_equal(transferred.step_zero, theta_0(source, mnist_small), weight_mask)
    assert_pruned_entries_zero(transferred.step_zero, weight_mask)
    assert_pruned_entries_zero(transferred.result.model.state_dict(), weight_mask)
    assert record["transfer_accuracy"] == evaluate(transferred.result.model, target_splits.test)[1]


def random_mask_at_counts(config: TrainConfig, splits: DataSplits, counts: dict[str, int], seed: int) -> dict:
    """The random method's neuron mask at per-layer ``counts``, drawn with ``seed``."""
    context = ScoringContext(batch=(None, None), target=Target(counts=counts), seed=seed)
    return prune("random", fresh_model(config, splits), context).mask


def test_the_random_control_reports_its_own_random_mask_trained_on_the_target(runner, mnist_small, target_splits):
    """The control row's accuracy is a random mask at the ticket's per-layer counts, rewound to the source's
    theta_0 and trained on the target: recomputed here, and unlike the ticket's own transfer."""
    job = runner.find("transfer", "magnitude", control="random")
    source = job.spec.prune.train
    counts = {name: int(m.sum()) for name, m in runner.mask(job.spec.prune).items()}
    random_mask = random_mask_at_counts(source, mnist_small, counts, seed=source.seed)
    expected = fit(job.spec.target, target_splits, start_state=theta_0(source, mnist_small),
                   mask=neuron_to_weight_mask(fresh_model(source, mnist_small), random_mask)).test_accuracy
    ticket = runner.record(runner.find("transfer", "magnitude", control="ticket"))
    assert ticket["transfer_accuracy"] != expected, "the fixture cannot tell the control from the ticket"
    assert runner.run(job).record["transfer_accuracy"] == expected


def test_the_random_control_mask_is_drawn_with_the_suite_seed(runner, mnist_small):
    """Per suite seed the control's mask is the random draw with that seed: seeds 0 and 1 differ, and running
    the control of one seed again gives the same mask."""
    masks = {}
    for seed in (0, 1):
        ticket = runner.find("prune", "magnitude", seed=seed)
        control = runner.jobs[control_prune(ticket.spec).hash]
        runner.record(control)
        masks[seed] = runner.mask(control.spec)
        counts = {name: int(m.sum()) for name, m in runner.mask(ticket.spec).items()}
        expected = random_mask_at_counts(control.spec.train, mnist_small, counts, seed=seed)
        assert all(torch.equal(masks[seed][name], expected[name]) for name in expected), f"seed {seed}"
    assert any(not torch.equal(masks[0][name], masks[1][name]) for name in masks[0])
    again = runner.run(runner.jobs[control_prune(runner.find("prune", "magnitude", seed=0).spec).hash])
    assert again.record["mask_sha"] == runner.record(runner.jobs[again.hash])["mask_sha"]


# --- the MIP's threshold rule: a unit scoring exactly tau is kept, one just under it is pruned -------------------
def boundary_scores(model, tau: float) -> dict[str, torch.Tensor]:
    """Per layer: unit 0 scores exactly tau, unit 1 just under, unit 2 just over, the rest 1."""
    scores = {}
    for name, layer in prunable_layers(model).items():
        score = torch.ones(layer.weight.shape[0])
        at = torch.tensor(tau, dtype=score.dtype)
        score[:3] = torch.stack([at, torch.nextafter(at, torch.tensor(-1.0)), torch.nextafter(at, torch.tensor(2.0))])
        scores[name] = score
    return scores


@pytest.mark.parametrize("tau", [0.25, 0.5, None])
def test_the_mip_keeps_a_unit_scoring_exactly_tau_and_prunes_one_just_under(mnist_small, tau):
    """``None``: the MIP's default target, the paper's tau for FC-3 on MNIST."""
    config = TrainConfig.paper("fc3", "mnist")
    model = fresh_model(config, mnist_small)
    target = Target() if tau is None else Target(threshold=tau)
    tau = paper_threshold("fc3", "mnist") if tau is None else tau
    context = ScoringContext(batch=(None, None), target=target, model_name="fc3", dataset="mnist")
    result = prune("mip", model, context, scores=Scores(boundary_scores(model, tau), "neuron"))
    for name, keep_unit in result.mask.items():
        assert keep_unit[:3].tolist() == [True, False, True], f"{name} at tau={tau}"
        assert keep_unit[3:].all()
