"""``run --dry-run``: the stages of a suite and an honest estimate of its wall time, per device.

Training cost is epochs x images / throughput, plus a fixed overhead per stage (loading data and artifacts,
evaluating on the test set); a prune stage, and a method's own stages, cost what the method estimates (its
``prune_seconds`` and ``stage_seconds`` hooks: the MIP's measured solve and block build times, IMP's training
rounds). The CPU figures are what each of 2 workers sustained on the idle 2-core development machine during a cold
``quick`` run (one torch thread each; FC-4 and VGG-16 scaled from them); beside other CPU-heavy jobs the same run
took three times as long. The CUDA figures were measured on an H100 (results/paper-gpu): LeNet-5 with three training
processes sharing the GPU, full-width VGG-16 under DGL beside them; FC-3 and FC-4 are assumed to run like LeNet-5 (a
step is bound by kernel launches, not arithmetic). On a GPU machine the training-type stages share the GPU three at
a time, as measured, while the solver stages run on the CPU workers.
"""

from __future__ import annotations

import collections
import functools
import math

from benchmark.methods import HARNESS_STAGES, get_method
from benchmark.pipeline.plan import Job

# training images per second, one worker: (model, device)
THROUGHPUT = {("fc3", "cpu"): 6700, ("fc4", "cpu"): 7600, ("lenet5", "cpu"): 4000, ("vgg16", "cpu"): 60,
              ("fc3", "cuda"): 30000, ("fc4", "cuda"): 30000, ("lenet5", "cuda"): 30700, ("vgg16", "cuda"): 1760}
MEASURED = {"cpu": "measured on 2 cores", "cuda": "measured on an H100 (FC nets assumed like LeNet-5)"}
GPU_STREAMS = 3  # training processes sharing one GPU in the measurement
GPU_KINDS = ("train", "evaluate", "retrain", "transfer")  # plus the prunes of methods that train; methods' own
# stages run on the CPU
TRAIN_IMAGES = {"mnist": 60000, "fashion-mnist": 60000, "kmnist": 60000, "cifar10": 50000}
OVERHEAD = {"cpu": 0.7, "cuda": 2.0}  # seconds per stage: data, artifacts, one pass over the test set (cpu: measured)


def _images(config) -> int:
    total = config.train_limit or TRAIN_IMAGES.get(config.dataset, 60000)
    return int(total * (1 - config.val_fraction))


def epoch_seconds(config, device: str) -> float:
    """Seconds of one training epoch of ``config`` on ``device`` (a reduced VGG-16 does width_divisor**2 times
    less convolution work; the figure is a rough guide, not measured)."""
    reduced = config.width_divisor ** 2 if config.model == "vgg16" else 1
    return _images(config) / (THROUGHPUT[(config.model, device)] * reduced)


def job_seconds(job: Job, device: str) -> float:
    """Estimated seconds of one stage on ``device``."""
    return OVERHEAD[device] + _work_seconds(job, device)


def _work_seconds(job: Job, device: str) -> float:
    spec = job.spec
    if job.kind == "train":
        return spec.epochs * epoch_seconds(spec, device)
    if job.kind == "prune":  # the method's own estimate (its prune_seconds hook), else none
        method = get_method(job.method)
        on_device = functools.partial(epoch_seconds, device=device)
        return method.prune_seconds(spec, on_device) if hasattr(method, "prune_seconds") else 0.0
    if job.kind not in HARNESS_STAGES:  # one of a method's own stages (its stage_seconds hook), on the CPU
        method = get_method(job.method)
        on_cpu = functools.partial(epoch_seconds, device="cpu")
        return method.stage_seconds(job.kind, spec, on_cpu) if hasattr(method, "stage_seconds") else 0.0
    if job.kind == "evaluate":
        return spec.finetune_epochs * epoch_seconds(spec.prune.train, device)
    if job.kind == "retrain":
        return spec.epochs * epoch_seconds(spec.prune.train, device)
    if spec.control == "random":
        return 0.0
    return spec.target.epochs * epoch_seconds(spec.target, device)


def on_gpu(job: Job) -> bool:
    """Whether ``job`` trains or evaluates (the GPU's work on a GPU machine) rather than solving on the CPU."""
    return job.kind in GPU_KINDS or (job.kind == "prune" and getattr(get_method(job.method), "trains", False))


def notes(jobs: list[Job]) -> list[str]:
    """The distinct caveats the methods attach to their own stages' estimates (their stage_note hook)."""
    found = []
    for job in jobs:
        method = get_method(job.method) if job.kind not in HARNESS_STAGES else None
        note = method.stage_note(job.kind, job.spec) if hasattr(method, "stage_note") else ""
        if note and note not in found:
            found.append(note)
    return found


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
                 f"({_duration(gpu)} of GPU stage time, {streams} at a time; {_duration(cpu)} of solver stages on the "
                 f"CPU workers; throughput {MEASURED['cuda']})")
    lines += [f"note: {note}" for note in notes(jobs)]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    hours, rest = divmod(math.ceil(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
