"""A method with a stage of its own runs through a suite without the harness naming it: the plan puts the stage
before the method's prunes, the runner runs it through the method's ``run_stage`` hook, the prune stage takes the
scores its ``merge`` hook makes from the stage's record and artifact, and the dry-run estimate and the evaluation
rows come from the method's hooks too."""

from dataclasses import dataclass

import pytest
import torch

from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.core.records import StageRecord
from benchmark.core.specs import Identified
from benchmark.methods import MethodStage, Scores, ScoringContext, register
from benchmark.nn.models import prunable_layers
from benchmark.pipeline import estimate
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stage_context import load_data, load_trained
from benchmark.pipeline.stages import StageEnv
from benchmark.pipeline.suites import load_suite
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import ResultStore

IMAGES = 128


@dataclass(frozen=True)
class ActivitySpec(Identified):
    """The plugin's stage: mean absolute unit outputs of ``train``'s dense model on its first training images."""

    train: TrainConfig
    images: int = IMAGES


@dataclass(frozen=True)
class ActivityRecord(StageRecord):
    """The plugin stage's typed record: how many images it measured."""

    images: int


def unit_activity(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per prunable (fully connected) layer, each unit's mean absolute output over ``x``."""
    found = {}
    hooks = [layer.register_forward_hook(lambda module, args, out, name=name: found.__setitem__(
        name, out.abs().mean(0))) for name, layer in prunable_layers(model).items()]
    with torch.no_grad():
        model.eval()(x)
    for hook in hooks:
        hook.remove()
    return found


@register
class MeanActivity:
    """Keeps the units with the largest mean absolute output, measured in a stage of its own."""

    name = "mean-activity"
    description = "units by mean absolute output, measured in a stage of its own (a test plugin)"
    granularities = ("neuron",)

    def score(self, model, ctx: ScoringContext) -> Scores:
        x, _ = ctx.splits.train.tensors(slice(0, IMAGES))
        return Scores(unit_activity(model, x), "neuron")

    def stages(self, spec):
        return [MethodStage("activity", ActivitySpec(spec.train), label="activity")]

    def run_stage(self, kind, spec, env, inputs):
        assert kind == "activity"
        x, _ = env.data(spec.train).train.tensors(slice(0, spec.images))
        inputs.artifacts.save_tensors(spec.hash, "activity.pt", unit_activity(env.trained(spec.train).model, x))
        return ActivityRecord(spec.images)

    def merge(self, spec, inputs):
        stage = ActivitySpec(spec.train)
        values = inputs.artifacts.load_tensors(stage.hash, "activity.pt")
        return Scores(values, "neuron", {"images_seen": inputs.records[stage.hash]["images"]})

    def stage_seconds(self, kind, spec, epoch_seconds):
        return 42.0

    def evaluation_columns(self, stats, mask):
        return {"images_seen": stats["images_seen"]}


SUITE = """
name = "activity"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0]
[train]
epochs = 2
[budget]
finetune_epochs = 0
retrain_epochs = 0
[methods.mean-activity]
sparsities = [0.5, 0.25]
"""


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "activity.toml"
    path.write_text(SUITE)
    return load_suite(str(path))


def test_the_plan_puts_the_methods_own_stage_before_both_of_its_prunes(suite):
    jobs = plan_suite(suite)
    stage = next(job for job in jobs if job.kind == "activity")
    prunes = [job for job in jobs if job.kind == "prune"]
    assert len(prunes) == 2 and all(stage.hash in prune.needs for prune in prunes)
    order = [job.hash for job in jobs]
    assert all(order.index(stage.hash) < order.index(prune.hash) for prune in prunes)
    assert stage.method == "mean-activity" and stage.point == "activity"
    assert estimate.job_seconds(stage, "cpu") == pytest.approx(estimate.OVERHEAD["cpu"] + 42.0)


def test_the_methods_stage_runs_and_its_merge_gives_the_scores_of_the_library_route(suite, tmp_path, fixture_root):
    env = StageEnv(tmp_path / "store", suite.name, str(fixture_root), 1)
    report = run_suite(suite, env, make_executor("inline", 0), progress=False)
    assert not report.failures and report.ran == report.planned
    rows = {row["hash"]: row for row in ResultStore(env.store_root).rows()}
    jobs = plan_suite(suite)
    stage = next(job for job in jobs if job.kind == "activity")
    assert rows[stage.hash]["record"]["images"] == IMAGES

    prune = next(job for job in jobs if job.kind == "prune" and job.primary)
    config = prune.spec.train
    data = load_data(config, env.data_dir)
    direct = MeanActivity().score(load_trained(config, env.data_dir).model, ScoringContext((None, None), data))
    stored = ArtifactDir(env.store_root).load_tensors(prune.hash, "prune.pt")["values"]
    assert list(stored) == list(direct.values)
    assert all(torch.equal(stored[name], direct.values[name]) for name in stored)
    evaluations = [row["record"] for row in rows.values() if row["record"].get("method") == "mean-activity"
                   and "pruned_accuracy" in row["record"]]
    assert len(evaluations) == 2 and all(record["images_seen"] == IMAGES for record in evaluations)


def test_a_method_stage_may_not_take_a_kind_the_harness_runs(suite, monkeypatch):
    monkeypatch.setattr(MeanActivity, "stages", lambda self, spec: [MethodStage("prune", ActivitySpec(spec.train))])
    with pytest.raises(ConfigError, match="declares a stage 'prune'"):
        plan_suite(suite)


def test_a_method_stage_that_returns_a_plain_dict_is_one_stored_failure(suite, tmp_path, fixture_root, monkeypatch):
    monkeypatch.setattr(MeanActivity, "run_stage", lambda self, kind, spec, env, inputs: {"images": spec.images})
    env = StageEnv(tmp_path / "store", suite.name, str(fixture_root), 1)
    report = run_suite(suite, env, make_executor("inline", 0), progress=False)
    assert len(report.failures) == 1
    assert "method 'mean-activity': its 'activity' stage returned a dict, not a typed record" in report.failures[0]
