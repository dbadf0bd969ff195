"""``run --dry-run``: the stages of a suite and an honest estimate of its wall time, per device.

Training cost is epochs x images / throughput, plus a fixed overhead per stage (loading data and artifacts,
evaluating on the test set); a MIP solve costs a measured figure per model and loss. The CPU figures are what
each of 2 workers sustained on the 2-core development machine during the ``quick`` run (one torch thread each);
the CUDA figures are assumptions until measured on a GPU (no GPU was lent when this table was written), and the
estimate says so.
"""

from __future__ import annotations

import collections
import math

from benchmark.harness.plan import Job
from benchmark.specs import PruneSpec

# training images per second, one worker: (model, device)
THROUGHPUT = {("fc3", "cpu"): 3500, ("fc4", "cpu"): 4000, ("lenet5", "cpu"): 1900, ("vgg16", "cpu"): 30,
              ("fc3", "cuda"): 150000, ("fc4", "cuda"): 150000, ("lenet5", "cuda"): 100000, ("vgg16", "cuda"): 6000}
MEASURED = {"cpu": "measured", "cuda": "assumed, not measured"}
# seconds per MIP solve (N=10, one thread): (model, loss); decoupled VGG-16: 13 blocks at their time limit
MIP_SECONDS = {("fc3", "margin"): 1, ("fc3", "ce"): 12, ("fc4", "margin"): 2, ("fc4", "ce"): 75,
               ("lenet5", "margin"): 15, ("lenet5", "ce"): 135}
TRAIN_IMAGES = {"mnist": 60000, "fashion-mnist": 60000, "kmnist": 60000, "cifar10": 50000}
LOTTERY_ROUNDS = 4  # about 1 - 0.8^4 = 59% removed; the real count depends on the matched sparsity
OVERHEAD = {"cpu": 2.0, "cuda": 2.0}  # seconds per stage: data, artifacts, one pass over the test set


def _images(config) -> int:
    total = config.train_limit or TRAIN_IMAGES.get(config.dataset, 60000)
    return int(total * (1 - config.val_fraction))


def epoch_seconds(config, device: str) -> float:
    """Seconds of one training epoch of ``config`` on ``device``."""
    return _images(config) / THROUGHPUT[(config.model, device)]


def mip_seconds(spec: PruneSpec) -> float:
    """Seconds of one MIP solve (decoupled: every block at its time limit, run one after another)."""
    if getattr(spec.options, "decoupled", False):
        return 13 * spec.options.time_limit
    return min(MIP_SECONDS.get((spec.train.model, spec.options.loss), spec.options.time_limit),
               spec.options.time_limit)


def job_seconds(job: Job, device: str) -> float:
    """Estimated seconds of one stage on ``device``."""
    return OVERHEAD[device] + _work_seconds(job, device)


def _work_seconds(job: Job, device: str) -> float:
    spec = job.spec
    if job.kind == "train":
        return spec.epochs * epoch_seconds(spec, device)
    if job.kind == "prune":
        if spec.method == "mip":
            return mip_seconds(spec)
        if spec.method == "lottery":
            rounds_epochs = spec.options.round_epochs
            per_round = spec.train.epochs if rounds_epochs is None else rounds_epochs
            return LOTTERY_ROUNDS * per_round * epoch_seconds(spec.train, device)
        return 0.0
    if job.kind == "evaluate":
        return spec.finetune_epochs * epoch_seconds(spec.prune.train, device)
    if job.kind == "retrain":
        return spec.epochs * epoch_seconds(spec.prune.train, device)
    if spec.control == "random":
        return 0.0
    return spec.target.epochs * epoch_seconds(spec.target, device)


def describe_plan(jobs: list[Job], workers: int) -> str:
    """Stage counts per kind and the estimated wall time on CPU and on one GPU."""
    counts = collections.Counter(job.kind for job in jobs)
    lines = [f"{len(jobs)} stages: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())]
    for device in ("cpu", "cuda"):
        total = sum(job_seconds(job, device) for job in jobs)
        parallel = total / workers if device == "cpu" else total
        where = f"{workers} CPU workers" if device == "cpu" else "one GPU (stages one after another)"
        lines.append(f"estimate on {where}: {_duration(parallel)} "
                     f"({_duration(total)} of stage time; throughput {MEASURED[device]})")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    hours, rest = divmod(math.ceil(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
