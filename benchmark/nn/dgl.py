"""Decoupled greedy learning (DGL, Belilovsky et al. 2019): how the paper trains VGG-16 for its decoupled MIP.

The network is cut at every Conv2d as the decoupled MIP cuts it (:func:`benchmark.nn.heads.block_spans`):
block k is ``[Conv_k, BN_k, ReLU_k]`` followed by its auxiliary head, and the last block is the real tail of the
network. Every block has its own loss and its own optimiser over its own and its head's parameters; the
representation is detached at every block input, so no gradient crosses blocks. The pooling between blocks
belongs to the main path and has no parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.nn.heads import block_spans, make_heads
from benchmark.nn.training import State, TrainResult, evaluate, fresh_model, make_optimizer
from datasets import DataSplits, InMemoryLoader


@dataclass
class Stage:
    """One DGL block: the parameter-free main-path layers before it, the block, its head (empty for the tail,
    whose own output is the logits) and the optimiser over the block's and the head's parameters."""

    lead: nn.Sequential
    block: nn.Sequential
    head: nn.Sequential
    optimizer: torch.optim.Optimizer


def dgl_heads(config: TrainConfig, model: nn.Sequential, input_shape: tuple[int, int, int],
              num_classes: int) -> nn.ModuleList:
    """The untrained auxiliary heads of ``model``, or a one-line :class:`ConfigError` when DGL cannot cut it."""
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise ConfigError(f"training='dgl' cuts the network at its conv layers and {config.model} has none; "
                          f"use training='end-to-end'")
    return make_heads(model, input_shape, num_classes)


@functools.cache
def _averaging(out: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(out, size) matrix averaging adaptive pooling's regions: rows i cover [floor(i*size/out), ceil(...))."""
    matrix = torch.zeros(out, size, dtype=dtype)
    for i in range(out):
        start, end = i * size // out, -(-(i + 1) * size // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix.to(device)


class MatmulAdaptivePool(nn.Module):
    """``AdaptiveAvgPool2d`` as averaging matrices: the same regions, and a backward pass that is deterministic
    on CUDA (adaptive_avg_pool2d's is not, so it raises under the deterministic settings of a CUDA run)."""

    def __init__(self, pool: nn.AdaptiveAvgPool2d):
        super().__init__()
        size = pool.output_size
        self.out_h, self.out_w = (size, size) if isinstance(size, int) else size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average ``x`` (N, C, H, W) over the adaptive regions of the output size."""
        rows = _averaging(self.out_h, x.shape[-2], x.device, x.dtype)
        cols = _averaging(self.out_w, x.shape[-1], x.device, x.dtype)
        return rows @ x @ cols.T


def training_head(head: nn.Sequential) -> nn.Sequential:
    """``head`` for training: the same modules (its parameters are the stored head's), adaptive pooling done by
    :class:`MatmulAdaptivePool`."""
    return nn.Sequential(*(MatmulAdaptivePool(m) if isinstance(m, nn.AdaptiveAvgPool2d) else m for m in head))


def stages(config: TrainConfig, model: nn.Sequential, heads: nn.ModuleList) -> list[Stage]:
    """The DGL blocks of ``model`` with their heads (as :func:`training_head`), each with its own optimiser
    (``config``'s)."""
    children = list(model.children())
    spans = block_spans(model)
    result, position = [], 0
    for k, (start, end) in enumerate(spans):
        end = end if k < len(spans) - 1 else len(children)
        block = nn.Sequential(*children[start:end])
        head = training_head(heads[k]) if k < len(heads) else nn.Sequential()
        optimizer = make_optimizer(config, [*block.parameters(), *head.parameters()])
        result.append(Stage(nn.Sequential(*children[position:start]), block, head, optimizer))
        position = end
    return result


def dgl_step(cut: list[Stage], x: torch.Tensor, y: torch.Tensor) -> None:
    """One DGL mini-batch: every block in order takes the detached main-path representation, steps its own
    optimiser on its own loss, and passes its output on (no host sync: nothing is read back)."""
    for stage in cut:
        out = stage.block(stage.lead(x).detach())
        loss = F.cross_entropy(stage.head(out), y)
        stage.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stage.optimizer.step()
        x = out.detach()


def _cpu_state(module: nn.Module) -> State:
    return {name: value.detach().to("cpu", copy=True) for name, value in module.state_dict().items()}


def fit_dgl(config: TrainConfig, splits: DataSplits, epochs: int | None = None, progress: bool = False,
            device: str = "cpu") -> TrainResult:
    """Train ``config``'s model with DGL on ``device`` from its seeded init (the heads are drawn right after it).

    As :func:`benchmark.nn.training.fit`: batches are augmented as ``config.augment`` says, the data, the model and
    the heads move to ``device`` once, and the epoch with the lowest validation loss of the full network is kept,
    here with its heads (checkpoints are CPU copies). The returned model, heads and ``init_state`` (the network's
    theta_0) are on the CPU.
    """
    model = fresh_model(config, splits)
    heads = dgl_heads(config, model, splits.train.input_shape, splits.train.num_classes)
    init_state = _cpu_state(model)
    model.to(device)
    heads.to(device)
    cut = stages(config, model, heads)
    train, val, test = (split.to(device) for split in (splits.train, splits.val, splits.test))
    loader = InMemoryLoader(train, config.batch_size, shuffle=True, seed=config.seed, augment=config.augment)
    best_loss, best, history = float("inf"), (_cpu_state(model), _cpu_state(heads)), []
    n_epochs = config.epochs if epochs is None else epochs
    for epoch in range(n_epochs):
        model.train()
        heads.train()
        for x, y in tqdm(loader, desc=f"DGL epoch {epoch + 1}/{n_epochs}", leave=False, disable=not progress):
            dgl_step(cut, x, y)
        val_loss, val_acc = evaluate(model, val)
        history.append({"epoch": epoch + 1, "val_loss": val_loss, "val_accuracy": val_acc, "device": device})
        if val_loss < best_loss:
            best_loss, best = val_loss, (_cpu_state(model), _cpu_state(heads))
    model.load_state_dict(best[0])
    heads.load_state_dict(best[1])
    test_loss, test_acc = evaluate(model, test)
    return TrainResult(model.cpu(), init_state, history, test_loss, test_acc, heads=heads.cpu().eval())
