"""What each stage computes, as a pure function of its spec and its inputs, and the row and artifacts it yields.

Every stage runs in a worker, which never opens the results store: the driver passes in what the stage reads
from it (:class:`StageInputs`: the stored records of the stages it needs and their artifact files), the stage
loads the rest (data, the cached dense model), computes, and :func:`execute` hands its row and the artifacts it
made back to the driver (:class:`StageResult`). Only the driver writes the store, the artifacts atomically and
then the row in one transaction, so a stage killed at any moment leaves nothing behind and a stored row always
has its artifacts. Rows follow the column contract of :mod:`benchmark.report`; method statistics nest under
``stats``, the run manifest under ``manifest``. A stage's environment, its inputs and the data and models a
worker keeps in memory come from :mod:`~benchmark.pipeline.stage_context`. A method's own stages (its ``stages``
hook, :mod:`benchmark.methods`) run through its ``run_stage``, and its ``merge`` and ``evaluation_columns``
hooks bring their results into its prune and evaluation rows: this module never names a method.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass

import torch

from benchmark.core.config import TrainConfig, config_hash
from benchmark.core.errors import ConfigError
from benchmark.core.records import EvaluateRecord, PruneRecord, RetrainRecord, StageRecord, TrainRecord, TransferRecord
from benchmark.core.specs import PruneSpec, Target, TransferSpec
from benchmark.methods import (
    PruneResult,
    Scores,
    get_method,
    matched_target,
    prune,
    scoring_batch,
    to_weight_mask,
)
from benchmark.nn.device import configure_device, device_name, resolve_device
from benchmark.nn.masks import score_levels
from benchmark.nn.models import count_parameters, prunable_layers
from benchmark.nn.threads import configure_threads
from benchmark.nn.ticket_cost import ticket_cost
from benchmark.nn.training import fit, trained_on
from benchmark.pipeline import experiment
from benchmark.pipeline.executors import host_slots
from benchmark.pipeline.plan import Job, control_prune
from benchmark.pipeline.stage_context import StageEnv, StageInputs, load_data, load_experiment, load_trained
from benchmark.store.artifacts import Artifacts, Files
from benchmark.store.manifest import manifest


@dataclass(frozen=True)
class StageResult:
    """A finished stage, for the driver to store: its hash, wall seconds, row record (labels and manifest
    included) and the artifacts it made, as bytes by (result hash, name)."""

    hash: str
    wall: float
    record: dict
    artifacts: Files


def _source(config: TrainConfig, data_dir: str | None, device: str) -> experiment.Experiment:
    """The trained model and its data, without a MIP batch (evaluation, retraining and transfer need none)."""
    trained = load_trained(config, data_dir, device)
    return experiment.Experiment(config, load_data(config, data_dir), trained, (None, None))


def _labels(job: Job, config: TrainConfig) -> dict:
    return {"model": config.model, "dataset": config.dataset, "seed": config.seed, "method": job.method,
            "point": job.point, "primary": job.primary, **(job.at.columns() if job.at else {})}


def mask_digest(mask: dict[str, torch.Tensor]) -> str:
    """A short hash of a mask's entries, layer by layer in order."""
    digest = hashlib.sha256()
    for name, keep in mask.items():
        digest.update(name.encode() + keep.to(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def score_key(spec: PruneSpec) -> str:
    """Where a method's scores are shared between the targets they are cut at: the spec without its target."""
    return config_hash(dataclasses.replace(spec, target=Target()))


def load_scores(artifacts: Artifacts, key: str, granularity: str) -> Scores | None:
    """Scores stored under ``key`` by an earlier prune stage, or None."""
    if not artifacts.exists(key, "scores.pt"):
        return None
    return Scores(artifacts.load_tensors(key, "scores.pt"), granularity, artifacts.load_json(key, "stats.json"))


def load_prune(spec: PruneSpec, env: StageEnv, artifacts: Artifacts) -> PruneResult:
    """The stored result of a prune stage, rebuilt (its weight mask recomputed from the mask)."""
    saved = artifacts.load_tensors(spec.hash, "prune.pt")
    model = load_trained(spec.train, env.data_dir, env.device).model
    scores = Scores(saved["values"], spec.granularity, mask=saved["mask"], rewind_state=saved["rewind_state"])
    return PruneResult(scores, saved["mask"], to_weight_mask(model, saved["mask"], spec.granularity), {})


def run_train(job: Job, env: StageEnv, inputs: StageInputs) -> TrainRecord:
    """Train (or load) the dense model: test accuracy, size, and the device it was trained on (``trained_on``,
    which differs from this stage's device when a model trained elsewhere was found in the cache)."""
    trained = load_trained(job.spec, env.data_dir, env.device)
    model = trained.model
    units = sum(layer.weight.shape[0] for layer in prunable_layers(model).values())
    return TrainRecord(trained.metrics["test_accuracy"], count_parameters(model), units, job.spec.epochs,
                       job.spec.hash, trained_on(trained.metrics))


def run_prune(job: Job, env: StageEnv, inputs: StageInputs) -> PruneRecord:
    """Score with the method, choose the mask for the target, store scores, mask and rewind point; a neuron
    ticket's row adds its compacted cost (:func:`benchmark.nn.ticket_cost.ticket_cost`) and, for scores in [0, 1],
    how many per layer sit at 0, at 1 and between (:func:`benchmark.nn.masks.score_levels`)."""
    spec: PruneSpec = job.spec
    exp = load_experiment(spec.train, env.data_dir, scoring_batch(spec.method, spec.options), env.device)
    artifacts, shared = inputs.artifacts, score_key(spec)
    reference = load_prune(spec.target.match, env, artifacts) if spec.target.match is not None else None
    target = matched_target(reference, spec.granularity) if reference is not None else spec.target
    ctx = experiment.context(exp, target, spec.granularity, spec.train.seed, spec.options, reference, env.device)
    method = get_method(spec.method)
    stored = load_scores(artifacts, shared, spec.granularity) or (
        method.merge(spec, inputs) if hasattr(method, "merge") else None)
    result = prune(spec.method, exp.trained.model, ctx, scores=stored)
    if not artifacts.exists(shared, "scores.pt"):
        artifacts.save_json(shared, "stats.json", result.scores.stats)
        artifacts.save_tensors(shared, "scores.pt", result.scores.values)
    artifacts.save_tensors(spec.hash, "prune.pt", {
        "values": result.scores.values, "mask": result.mask, "rewind_state": result.scores.rewind_state})
    kept = {name: int(m.sum()) for name, m in result.mask.items()}
    sizes = {name: m.numel() for name, m in result.mask.items()}
    neuron = spec.granularity == "neuron"
    cost = ticket_cost(exp.trained.model, result.mask, tuple(exp.splits.test.input_shape)) if neuron else {}
    return PruneRecord(kept=kept, sizes=sizes, mask_sha=mask_digest(result.mask), stats=result.stats,
                       options=dataclasses.asdict(spec.options), cost=cost,
                       score_levels=score_levels(result.scores.values) if neuron else {},
                       **experiment.removed(exp.trained.model, result))


def run_evaluate(job: Job, env: StageEnv, inputs: StageInputs) -> EvaluateRecord:
    """The pruned network on the source test set, without and (optionally) after fine-tuning."""
    spec = job.spec
    exp = _source(spec.prune.train, env.data_dir, env.device)
    result = load_prune(spec.prune, env, inputs.artifacts)
    evaluation = experiment.evaluate_pruned(exp, result, finetune_epochs=spec.finetune_epochs, device=env.device)
    method, prune_record = get_method(spec.prune.method), inputs.records[spec.prune.hash]
    columns = method.evaluation_columns(prune_record["stats"], result.mask) if hasattr(
        method, "evaluation_columns") else {}  # e.g. the MIP's solver statistics, for Table 1 and its plot
    cost = {key: value for key, value in (prune_record.get("cost") or {}).items() if key != "widths"}
    return EvaluateRecord(finetune_epochs=spec.finetune_epochs, cost=cost, method_columns=columns,
                          **evaluation.measured(retrained=False))


def run_retrain(job: Job, env: StageEnv, inputs: StageInputs) -> RetrainRecord:
    """The ticket rewound to its rewind point and retrained on the source under its mask."""
    spec = job.spec
    exp = _source(spec.prune.train, env.data_dir, env.device)
    result = load_prune(spec.prune, env, inputs.artifacts)
    evaluation = experiment.evaluate_pruned(exp, result, retrain_epochs=spec.epochs, device=env.device)
    return RetrainRecord(retrain_epochs=spec.epochs, **evaluation.measured(finetuned=False))


def run_transfer(job: Job, env: StageEnv, inputs: StageInputs) -> TransferRecord:
    """The source mask rewound to the source's theta_0 and trained on the target dataset; the random control
    reads the transfer of the random mask at the same counts."""
    spec: TransferSpec = job.spec
    exp = _source(spec.prune.train, env.data_dir, env.device)
    result = load_prune(spec.prune, env, inputs.artifacts)
    if spec.control == "random":
        accuracy = inputs.records[TransferSpec(control_prune(spec.prune), spec.target).hash]["transfer_accuracy"]
    else:
        splits = load_data(spec.target, env.data_dir)
        accuracy = fit(spec.target, splits, start_state=exp.trained.init_state, mask=result.weight_mask,
                       device=env.device).test_accuracy
    return TransferRecord(spec.target.dataset, spec.control, spec.target.epochs, accuracy,
                          **experiment.removed(exp.trained.model, result))


STAGES = {"train": run_train, "prune": run_prune, "evaluate": run_evaluate, "retrain": run_retrain,
          "transfer": run_transfer}


def run_method_stage(job: Job, env: StageEnv, inputs: StageInputs) -> StageRecord:
    """One of a method's own stages, run by the method (its ``run_stage`` hook), which returns a typed record."""
    record = get_method(job.method).run_stage(job.kind, job.spec, env, inputs)
    if not isinstance(record, StageRecord):
        raise ConfigError(f"method {job.method!r}: its {job.kind!r} stage returned a {type(record).__name__}, not a "
                          "typed record (a dataclass deriving from benchmark.core.records.StageRecord)")
    return record


def source_config(job: Job) -> TrainConfig:
    """The dense training config a job belongs to."""
    spec = job.spec
    return spec if isinstance(spec, TrainConfig) else getattr(spec, "train", None) or spec.prune.train


def execute(job: Job, env: StageEnv, inputs: StageInputs) -> StageResult:
    """Run one stage in this worker on its device, reading only ``inputs`` of the store; returns its result for
    the driver to store."""
    env = dataclasses.replace(env, device=resolve_device(env.device))
    if env.threads:
        configure_threads(cores=env.threads)
    else:
        configure_threads(workers=host_slots())
    configure_device(env.device)
    start = time.perf_counter()
    record = STAGES.get(job.kind, run_method_stage)(job, env, inputs)
    record = record.row()
    wall = time.perf_counter() - start
    config = source_config(job)
    gpu = {"gpu": device_name(env.device)} if env.device == "cuda" else {}
    record = {**_labels(job, config), **record, "manifest": {**manifest(device=env.device, seed=config.seed), **gpu}}
    return StageResult(job.hash, wall, record, inputs.artifacts.written)
