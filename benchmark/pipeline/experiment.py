"""Harness glue: a dense model from the cache, its scoring context, and the evaluation of a mask.

Training, fine-tuning, retraining and evaluation run on the given device; the dense model, theta_0 and the
one-per-class batch stay on the CPU, where the MIP reads them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.core.records import Evaluation
from benchmark.methods import PruneResult, ScoringContext, Target
from benchmark.nn.masks import (
    WeightMask,
    apply_weight_mask,
    neuron_sparsity,
    official_parameter_sparsity,
    parameter_sparsity,
)
from benchmark.nn.training import evaluate, fit
from benchmark.pipeline.model_cache import TrainedModel, get_trained
from datasets import DataSplits, load_splits, pick_one_per_class


@dataclass
class Experiment:
    """A trained dense model with its data and its one-per-class batch."""

    config: TrainConfig
    splits: DataSplits
    trained: TrainedModel
    batch: tuple[torch.Tensor, torch.Tensor]


def load_data(config: TrainConfig, data_dir=None) -> DataSplits:
    """The data splits a training config asks for."""
    return load_splits(config.dataset, config.preprocessing, data_dir, config.val_fraction, config.seed,
                       train_limit=config.train_limit or None)


def with_batch(config: TrainConfig, splits: DataSplits, trained: TrainedModel, batch_size: int = 10) -> Experiment:
    """The experiment of a trained model, with its one-per-class batch picked from the validation split among
    correctly classified images, seeded by the run's seed."""
    x, y, _ = pick_one_per_class(trained.model, splits.val, n=batch_size, seed=config.seed)
    return Experiment(config, splits, trained, (x, y))


def prepare(config: TrainConfig, data_dir=None, batch_size: int = 10, progress: bool = False,
            device: str = "cpu") -> Experiment:
    """Load the data, train (on ``device``) or load the dense model, and pick the MIP batch from the validation
    split."""
    splits = load_data(config, data_dir)
    return with_batch(config, splits, get_trained(config, splits, progress=progress, device=device), batch_size)


def context(exp: Experiment, target: Target = Target(), granularity: str = "neuron", seed: int = 0,
            options: dict | None = None, reference: PruneResult | None = None,
            device: str = "cpu") -> ScoringContext:
    """The scoring context of ``exp``: batch, data, theta_0, the training budget, a masked-training callable that
    trains on ``device`` (and returns a CPU model), and the device for gradient-based scoring."""

    def train(model: nn.Module, mask: WeightMask, epochs: int, max_steps: int | None = None) -> nn.Module:
        return fit(exp.config, exp.splits, start_state=model.state_dict(), mask=mask, epochs=epochs,
                   max_steps=max_steps, device=device).model

    return ScoringContext(batch=exp.batch, splits=exp.splits, init_state=exp.trained.init_state, train=train,
                          train_epochs=exp.config.epochs,
                          steps_per_epoch=math.ceil(len(exp.splits.train) / exp.config.batch_size),
                          target=target, granularity=granularity, seed=seed, model_name=exp.config.model,
                          dataset=exp.config.dataset, reference=reference, options=options or {},
                          heads=exp.trained.heads, device=device)


def removed(model: nn.Module, result: PruneResult) -> dict:
    """What ``result``'s mask removes from ``model``, as fractions: ``params_removed`` (biases and dead outgoing
    weights included) and, for a neuron mask, ``neurons_removed`` and ``params_removed_official`` (the official
    code's count: the pruned units' incoming weights only)."""
    fractions = {"params_removed": parameter_sparsity(model, result.weight_mask)}
    if result.granularity == "neuron":
        fractions["neurons_removed"] = neuron_sparsity(result.mask)
        fractions["params_removed_official"] = official_parameter_sparsity(model, result.mask)
    return fractions


def evaluate_pruned(exp: Experiment, result: PruneResult, finetune_epochs: int = 0,
                    retrain_epochs: int = 0, device: str = "cpu") -> Evaluation:
    """Dense and pruned test accuracy (no fine-tuning), optionally after fine-tuning the pruned weights and
    after retraining the ticket under the mask from its rewind point (theta_0, or theta_k for late rewinding),
    and the sparsities (parameters removed count the dead outgoing weights too). Evaluation, fine-tuning and
    retraining run on ``device``."""
    dense = exp.trained.model
    pruned = copy.deepcopy(dense)
    apply_weight_mask(pruned, result.weight_mask)
    finetuned = retrained = None
    if finetune_epochs:
        finetuned = fit(exp.config, exp.splits, start_state=pruned.state_dict(), mask=result.weight_mask,
                        epochs=finetune_epochs, device=device).test_accuracy
    if retrain_epochs:
        rewind_state = result.scores.rewind_state or exp.trained.init_state
        retrained = fit(exp.config, exp.splits, start_state=rewind_state, mask=result.weight_mask,
                        epochs=retrain_epochs, device=device).test_accuracy
    return Evaluation(dense_accuracy=exp.trained.metrics["test_accuracy"],
                      pruned_accuracy=evaluate(pruned.to(device), exp.splits.test)[1], finetuned_accuracy=finetuned,
                      retrained_accuracy=retrained, **removed(dense, result))
