"""``run --dry-run``: the stages of a suite and an honest estimate of its wall time, per device.

Training cost is epochs x images / throughput, plus a fixed overhead per stage (loading data and artifacts, evaluating
on the test set); a MIP solve costs a measured figure per model and loss, a decoupled block its measured build time
plus its time limit. The CPU figures are what each of 2 workers sustained on the idle 2-core development machine
during a cold ``quick`` run (one torch thread each; FC-4 and VGG-16 scaled from them); beside other CPU-heavy jobs the
same run took three times as long. The CUDA figures were measured on an H100 (results/paper-gpu): LeNet-5 with three
training processes sharing the GPU, full-width VGG-16 under DGL beside them; FC-3 and FC-4 are assumed to run like
LeNet-5 (a step is bound by kernel launches, not arithmetic). On a GPU machine the training-type stages share the GPU
three at a time, as measured, while the MIP stages run on the CPU workers.
"""

from __future__ import annotations

import collections
import math

from benchmark.harness.plan import Job
from benchmark.specs import PruneSpec

# training images per second, one worker: (model, device)
THROUGHPUT = {("fc3", "cpu"): 6700, ("fc4", "cpu"): 7600, ("lenet5", "cpu"): 4000, ("vgg16", "cpu"): 60,
              ("fc3", "cuda"): 30000, ("fc4", "cuda"): 30000, ("lenet5", "cuda"): 30700, ("vgg16", "cuda"): 1760}
MEASURED = {"cpu": "measured on 2 cores", "cuda": "measured on an H100 (FC nets assumed like LeNet-5)"}
GPU_STREAMS = 3  # training processes sharing one GPU in the measurement
GPU_KINDS = ("train", "evaluate", "retrain", "transfer")  # plus lottery's prune stages; fitted heads run on CPU
FULL_WIDTH_WARNING = ("the full-width VGG-16 blocks' build times were measured on a weakly trained network "
                      "(results/paper-gpu/block_build_cpu.md); a fully trained one leaves more ReLUs unstable "
                      "under block_bounds=network, so their estimate is a lower bound")
# seconds to build each decoupled VGG-16 sub-MIP at full width under block_bounds=network with N=10, one CPU thread
# (benchmark.perf.block_build, results/paper-gpu/block_build_cpu.md); the work grows with N, a block of a VGG of
# width/d has about d^2 times fewer terms, and under block_bounds=local every block is about as small as the
# smallest, whose time is mostly fixed cost and the least any block takes
BLOCK_BUILD_SECONDS = (2.7, 2.8, 2.6, 3.5, 14.6, 44.4, 77.1, 79.3, 79.5, 73.1, 27.9, 29.8, 7.6)
# seconds per MIP solve (N=10, one thread): (model, loss)
MIP_SECONDS = {("fc3", "margin"): 1, ("fc3", "ce"): 12, ("fc4", "margin"): 2, ("fc4", "ce"): 75,
               ("lenet5", "margin"): 15, ("lenet5", "ce"): 135}
TRAIN_IMAGES = {"mnist": 60000, "fashion-mnist": 60000, "kmnist": 60000, "cifar10": 50000}
LOTTERY_ROUNDS = 4  # about 1 - 0.8^4 = 59% removed; the real count depends on the matched sparsity
OVERHEAD = {"cpu": 0.7, "cuda": 2.0}  # seconds per stage: data, artifacts, one pass over the test set (cpu: measured)


def _images(config) -> int:
    total = config.train_limit or TRAIN_IMAGES.get(config.dataset, 60000)
    return int(total * (1 - config.val_fraction))


def epoch_seconds(config, device: str) -> float:
    """Seconds of one training epoch of ``config`` on ``device`` (a reduced VGG-16 does width_divisor**2 times
    less convolution work; the figure is a rough guide, not measured)."""
    reduced = config.width_divisor ** 2 if config.model == "vgg16" else 1
    return _images(config) / (THROUGHPUT[(config.model, device)] * reduced)


def mip_seconds(spec: PruneSpec) -> float:
    """Seconds of one (single, not decoupled) MIP solve."""
    return min(MIP_SECONDS.get((spec.train.model, spec.options.loss), spec.options.time_limit),
               spec.options.time_limit)


def block_build_seconds(spec) -> float:
    """Seconds to build the decoupled sub-MIP of a :class:`~benchmark.specs.BlockSpec` (VGG-16's blocks)."""
    options, floor = spec.prune.options, min(BLOCK_BUILD_SECONDS)
    if options.block_bounds != "network":
        return floor
    seconds = BLOCK_BUILD_SECONDS[min(spec.block, len(BLOCK_BUILD_SECONDS) - 1)]
    return max(floor, seconds * options.n_samples / 10 / spec.prune.train.width_divisor ** 2)


def job_seconds(job: Job, device: str) -> float:
    """Estimated seconds of one stage on ``device``."""
    return OVERHEAD[device] + _work_seconds(job, device)


def _work_seconds(job: Job, device: str) -> float:
    spec = job.spec
    if job.kind == "train":
        return spec.epochs * epoch_seconds(spec, device)
    if job.kind == "prune":
        if spec.method == "mip":
            return 0.0 if getattr(spec.options, "decoupled", False) else mip_seconds(spec)
        if spec.method == "lottery":
            rounds_epochs = spec.options.round_epochs
            per_round = spec.train.epochs if rounds_epochs is None else rounds_epochs
            return LOTTERY_ROUNDS * per_round * epoch_seconds(spec.train, device)
        return 0.0
    if job.kind == "heads":  # fitted on the CPU for head_epochs (frozen net: forward passes); none for DGL
        return spec.epochs * epoch_seconds(spec.train, "cpu") / 3
    if job.kind == "block":  # a decoupled sub-MIP, built and then solved to its time limit, on the CPU
        return block_build_seconds(spec) + spec.prune.options.time_limit
    if job.kind == "evaluate":
        return spec.finetune_epochs * epoch_seconds(spec.prune.train, device)
    if job.kind == "retrain":
        return spec.epochs * epoch_seconds(spec.prune.train, device)
    if spec.control == "random":
        return 0.0
    return spec.target.epochs * epoch_seconds(spec.target, device)


def on_gpu(job: Job) -> bool:
    """Whether ``job`` trains or evaluates (the GPU's work on a GPU machine) rather than solving a MIP."""
    return job.kind in GPU_KINDS or (job.kind == "prune" and job.spec.method == "lottery")


def describe_plan(jobs: list[Job], workers: int) -> str:
    """Stage counts per kind and the estimated wall time on CPU workers and on a GPU machine."""
    counts = collections.Counter(job.kind for job in jobs)
    lines = [f"{len(jobs)} stages: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())]
    total = sum(job_seconds(job, "cpu") for job in jobs)
    lines.append(f"estimate on {workers} CPU workers: {_duration(total / workers)} "
                 f"({_duration(total)} of stage time; throughput {MEASURED['cpu']})")
    gpu = sum(job_seconds(job, "cuda") for job in jobs if on_gpu(job))
    cpu = sum(job_seconds(job, "cuda") for job in jobs if not on_gpu(job))
    streams = min(workers, GPU_STREAMS)
    lines.append(f"estimate on one GPU and {workers} CPU workers: {_duration(gpu / streams + cpu / workers)} "
                 f"({_duration(gpu)} of GPU stage time, {streams} at a time; {_duration(cpu)} of MIP time on "
                 f"the CPU workers; throughput {MEASURED['cuda']})")
    if any(job.kind == "block" and job.spec.prune.train.width_divisor == 1
           and job.spec.prune.options.block_bounds == "network" for job in jobs):
        lines.append(f"note: {FULL_WIDTH_WARNING}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    hours, rest = divmod(math.ceil(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
