"""Seeded training, evaluation, fine-tuning and retraining from theta_0 under a mask, on the CPU or a GPU.

A model is built and seeded on the CPU (the same theta_0 on every device), trained on the device with its data
there, and handed back on the CPU, so it is stored, scored by the MIP and loaded as CPU tensors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from benchmark.core.config import TrainConfig
from benchmark.nn.masks import WeightMask, apply_weight_mask, weight_mask_on
from benchmark.nn.models import build_model
from datasets import DataSplits, ImageSet, InMemoryLoader

State = dict[str, torch.Tensor]


@dataclass
class TrainResult:
    """A trained model with its starting weights, per-epoch history, final test metrics and, for DGL, its heads."""

    model: nn.Module
    init_state: State
    history: list[dict] = field(default_factory=list)
    test_loss: float = float("nan")
    test_accuracy: float = float("nan")
    heads: nn.ModuleList | None = None  # DGL's auxiliary heads (benchmark.nn.dgl.fit_dgl)


def trained_on(metrics: dict) -> str | None:
    """The device (``cpu``, ``cuda``) a stored model was trained on, from its metrics' per-epoch history; None
    when it has no epoch or predates the record."""
    history = metrics.get("history") or [{}]
    return history[-1].get("device")


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet, batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode), on the model's device.

    The data moves there once; the sums stay there (the loss in float64, as the Python float sum it replaces) and
    are read once at the end. Evaluation never augments."""
    model.eval()
    device = next(model.parameters()).device
    data = data.to(device)
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, len(data), batch_size):
        x, y = data.tensors(slice(start, start + batch_size))
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").double()
        correct += (logits.argmax(1) == y).sum()
    return total_loss.item() / len(data), correct.item() / len(data)


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The optimiser named by ``config`` with its hyper-parameters."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, nesterov=config.nesterov)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def fresh_model(config: TrainConfig, splits: DataSplits) -> nn.Module:
    """The untrained model of ``config``, initialised from ``config.seed``."""
    kwargs = {"width_divisor": config.width_divisor} if config.model == "vgg16" else {}
    return build_model(config.model, splits.train.input_shape, splits.train.num_classes, seed=config.seed, **kwargs)


def fit(
    config: TrainConfig,
    splits: DataSplits,
    start_state: State | None = None,
    mask: WeightMask | None = None,
    epochs: int | None = None,
    progress: bool = False,
    max_steps: int | None = None,
    device: str = "cpu",
) -> TrainResult:
    """Train from ``start_state`` (default: a fresh seeded init) under an optional weight mask, on ``device``.

    The mask is applied before training and re-applied after every optimiser step, so RMSprop, Adam, momentum
    or weight decay cannot regrow pruned entries (their optimiser state may build up; it never reaches them). The state
    with the lowest validation loss is kept. Fine-tuning passes trained weights as ``start_state``;
    lottery-ticket retraining passes theta_0. ``max_steps`` stops after that many optimiser steps (late
    rewinding's theta_k). Training batches are augmented as ``config.augment`` says. The data, the mask and the
    model move to ``device`` once; the returned model and ``init_state`` are on the CPU.
    """
    model = fresh_model(config, splits)
    if start_state is not None:
        model.load_state_dict(start_state)
    init_state = copy.deepcopy(model.state_dict())
    model.to(device)
    if mask:
        mask = weight_mask_on(model, mask)
        apply_weight_mask(model, mask)
    optimizer = make_optimizer(config, model.parameters())
    train, val, test = (split.to(device) for split in (splits.train, splits.val, splits.test))
    loader = InMemoryLoader(train, config.batch_size, shuffle=True, seed=config.seed, augment=config.augment)
    best_loss, best_state, history = float("inf"), copy.deepcopy(model.state_dict()), []
    n_epochs = config.epochs if epochs is None else epochs
    steps = 0
    for epoch in range(n_epochs):
        model.train()
        for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{n_epochs}", leave=False, disable=not progress):
            if max_steps is not None and steps >= max_steps:
                break
            steps += 1
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            if mask:
                apply_weight_mask(model, mask)
        val_loss, val_acc = evaluate(model, val)
        history.append({"epoch": epoch + 1, "val_loss": val_loss, "val_accuracy": val_acc, "device": device})
        if val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
    if max_steps is None:
        model.load_state_dict(best_state)
    test_loss, test_acc = evaluate(model, test)
    return TrainResult(model.cpu(), init_state, history, test_loss, test_acc)
