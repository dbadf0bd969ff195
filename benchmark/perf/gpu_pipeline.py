"""Training images/s on CIFAR-10 with crop-flip augmentation: the device pipeline against a torchvision DataLoader.

(a) reference: a ``torch.utils.data.DataLoader`` (``num_workers`` = the cores, ``pin_memory`` on CUDA, persistent
    workers) over the same uint8 training images, each image cropped and flipped by ``transforms.v2``
    (``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``) in the workers, the batch copied to the device
    every step;
(b) this suite: the split on the device as uint8, :class:`datasets.InMemoryLoader` with ``augment="crop-flip"``
    (one batched gather per step, see :mod:`datasets.augment`).

Both train the same seeded model (LeNet-5, VGG-16 at width ``1/--vgg-divisor``) with the paper's CIFAR-10
optimiser (SGD, Nesterov momentum 0.9, weight decay 5e-4) under :func:`benchmark.nn.device.configure_device` (CUDA:
deterministic kernels, as training runs), for ``--steps`` steps after ``--warmup`` steps; images/s is counted
between two CUDA synchronisations. A third row per device measures the input pipelines alone (no model).
CIFAR-10 is read from ``--data-dir`` / ``$TICKETBENCH_DATA`` (``cifar10.npz`` or torchvision's batches).

    python -m benchmark.perf.gpu_pipeline --device cuda --out results/gpu_pipeline.md       # on a GPU
    python -m benchmark.perf.gpu_pipeline --device cpu --steps 20 --out /tmp/pipeline.csv   # CPU, VGG at width/8

Measured on an H100 (16 cores, a 12,000-image CIFAR-10 slice, two runs): (b)/(a) = 1.36-1.51x for LeNet-5
(22-24k against 16k images/s), 1.18-1.21x for VGG-16 (9.4k against 7.8-8.0k), 6.6-9.6x for the input alone
(178-230k against 24-27k). A LeNet-5 step is bound by kernel launches (about 60 per step, 25 us each there), not by
the GPU; on 2 CPU cores (VGG at width 1/8): 1.9x, 1.6x and 14x.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from benchmark.core.config import TrainConfig
from benchmark.nn.device import configure_device, device_name, resolve_device
from benchmark.nn.models import build_model
from benchmark.nn.threads import available_cores, configure_threads
from benchmark.nn.training import make_optimizer
from datasets import ImageSet, InMemoryLoader, load_splits

BATCH = 128


class AugmentedImages(torch.utils.data.Dataset):
    """The reference's dataset: one image at a time, cropped and flipped by ``transforms.v2``, then normalised."""

    def __init__(self, data: ImageSet):
        self.data = data
        self.transform = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(p=0.5)])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data.normalise(self.transform(self.data.images[i])[None])[0], self.data.labels[i]


def reference_batches(data: ImageSet, device: str, workers: int):
    """Endless batches of the DataLoader reference, copied to ``device`` (non-blocking from pinned memory)."""
    loader = torch.utils.data.DataLoader(
        AugmentedImages(data), batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True,
        pin_memory=device == "cuda", persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))
    for x, y in itertools.chain.from_iterable(itertools.repeat(loader)):
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def device_batches(data: ImageSet, device: str):
    """Endless batches of the in-memory device pipeline (the split moved to ``device`` once)."""
    loader = InMemoryLoader(data.to(device), BATCH, seed=0, augment="crop-flip")
    yield from itertools.chain.from_iterable(itertools.repeat(loader))


def images_per_second(batches, model_name: str | None, device: str, warmup: int, steps: int,
                      vgg_divisor: int) -> float:
    """Train a fresh seeded ``model_name`` (None: only draw the batches) for ``steps`` steps after ``warmup``."""
    step = _draw
    if model_name is not None:
        kwargs = {"width_divisor": vgg_divisor} if model_name == "vgg16" else {}
        model = build_model(model_name, seed=0, **kwargs).to(device).train()
        optimizer = make_optimizer(TrainConfig.paper(model_name, "cifar10"), model.parameters())
        step = _trainer(model, optimizer)
    for _ in range(warmup):
        step(*next(batches))
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(batches))
    _sync(device)
    return steps * BATCH / (time.perf_counter() - start)


def _draw(x: torch.Tensor, y: torch.Tensor) -> None:
    """The pipeline alone: the batch is made (and on the device); nothing trains."""


def _trainer(model, optimizer):
    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(args: argparse.Namespace, device: str) -> list[dict]:
    """Both pipelines side by side for each model, and for the pipelines alone; one row per model."""
    data = load_splits("cifar10", "paper", args.data_dir, allow_download=False).train
    rows = []
    for model_name in ("lenet5", "vgg16", None):
        rates = {}
        for label, make in (("reference", lambda: reference_batches(data, device, args.workers)),
                            ("device", lambda: device_batches(data, device))):
            batches = make()
            rates[label] = images_per_second(batches, model_name, device, args.warmup, args.steps, args.vgg_divisor)
            batches.close()  # ends the generator; a DataLoader's idle workers exit with the process at the latest
        name = {"lenet5": "LeNet-5", "vgg16": f"VGG-16 (width 1/{args.vgg_divisor})", None: "input only"}
        rows.append({"model": name[model_name], "device": device,
                     "dataloader_images_per_s": round(rates["reference"]),
                     "device_pipeline_images_per_s": round(rates["device"]),
                     "ratio": round(rates["device"] / rates["reference"], 2)})
    return rows


def markdown(rows: list[dict], header: str) -> str:
    """The rows as a Markdown table under ``header``."""
    lines = [header, "", "| model | device | (a) DataLoader + transforms.v2 (images/s) | (b) device pipeline "
             "(images/s) | (b)/(a) |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['device']} | {r['dataloader_images_per_s']:,} | "
              f"{r['device_pipeline_images_per_s']:,} | {r['ratio']:.2f}x |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table and write it to ``--out`` (CSV for a .csv path, else Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--data-dir", help="data root holding CIFAR-10 (default: $TICKETBENCH_DATA)")
    parser.add_argument("--steps", type=int, help="timed steps per measurement (default: 200 on CUDA, 20 on CPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first: workers start, kernels load, and the "
                        "batches the workers made meanwhile are used up (default: 2 x workers + 5)")
    parser.add_argument("--vgg-divisor", type=int, help="VGG-16 width divisor (default: 1 on CUDA, 8 on CPU)")
    parser.add_argument("--workers", type=int, default=available_cores(),
                        help="DataLoader workers (default: the cores, %(default)s)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads of the training process (default: %(default)s, as the CLI)")
    parser.add_argument("--out", required=True, help="where the table goes (.csv: CSV, else Markdown)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    configure_device(device)
    configure_threads(cores=args.torch_threads)
    args.steps = args.steps or (200 if device == "cuda" else 20)
    args.vgg_divisor = args.vgg_divisor or (1 if device == "cuda" else 8)
    args.warmup = 2 * args.workers + 5 if args.warmup is None else args.warmup  # DataLoader prefetches 2 per worker
    rows = measure(args, device)
    header = (f"CIFAR-10 training with crop-flip, batch {BATCH}, {args.steps} timed steps after {args.warmup}; "
              f"{device_name(device) or 'CPU'}, {available_cores()} cores, {args.workers} DataLoader workers, "
              f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    table = markdown(rows, header)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        with open(out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        out.write_text(table)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
