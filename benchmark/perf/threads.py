"""LeNet-5 training throughput when processes share the cores: torch's default threads vs configure_threads.

Three runs on MNIST under ``--data-dir`` (default: ``$TICKETBENCH_DATA``, then the cache; the test fixture slice
``tests/fixtures/data`` of a checkout will do), each process training for ``--seconds`` after all
of them have started: (a) one process alone with ``configure_threads(workers=1)`` (every core), and (a1) with
one thread; (b) two processes at once, each with ``configure_threads(workers=2)``; (c) two processes at once
with torch's default threads.
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` are dropped so that (c) really gets torch's defaults.
Run ``python -m benchmark.perf.threads``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import torch
import torch.nn.functional as F

from benchmark.nn.models import build_model
from benchmark.nn.threads import available_cores, configure_threads
from datasets import DatasetError, InMemoryLoader, load_splits, resolve_data_root


def _worker(share: tuple[int, int | None] | None, seconds: float, data_dir: str, barrier, results) -> None:
    """Train LeNet-5 for ``seconds`` once every process is ready; report (threads, images per second)."""
    if share is not None:
        configure_threads(*share)
    splits = load_splits("mnist", "paper", data_dir, allow_download=False)
    model = build_model("lenet5", seed=0)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    loader = InMemoryLoader(splits.train, 128, seed=0)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    step(*next(iter(loader)))  # warm-up outside the clock
    barrier.wait()
    seen, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for x, y in loader:
            step(x, y)
            seen += len(y)
    results.put((torch.get_num_threads(), seen / (time.perf_counter() - start)))


def measure(processes: int, share: tuple[int, int | None] | None, seconds: float,
            data_dir: str) -> list[tuple[int, float]]:
    """Run ``processes`` training processes at once, each calling ``configure_threads(*share)`` (``None``: torch's
    default threads); per process (threads, images per second)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(share, seconds, data_dir, barrier, results))
             for _ in range(processes)]
    for proc in procs:
        proc.start()
    rates = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    return rates


def main() -> None:
    """Measure (a), (b) and (c) in one run and print them with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="data root with MNIST (default: $TICKETBENCH_DATA, then the "
                        "cache; tests/fixtures/data in a checkout is a small slice)")
    parser.add_argument("--seconds", type=float, default=10.0, help="training time per process and run")
    args = parser.parse_args()
    args.data_dir = str(resolve_data_root(args.data_dir))
    try:  # missing data is one line here, not a worker's traceback and a wait for its result
        load_splits("mnist", "paper", args.data_dir, allow_download=False)
    except DatasetError as error:
        parser.error(str(error))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.pop(name, None)
    runs = {
        "(a)  1 process,   configure_threads(workers=1)  ": measure(1, (1, None), args.seconds, args.data_dir),
        "(a1) 1 process,   configure_threads(cores=1)    ": measure(1, (1, 1), args.seconds, args.data_dir),
        "(b)  2 processes, configure_threads(workers=2)  ": measure(2, (2, None), args.seconds, args.data_dir),
        "(c)  2 processes, torch's default threads       ": measure(2, None, args.seconds, args.data_dir),
    }
    print(f"LeNet-5, batch 128, {args.seconds:g} s per process; {available_cores()} cores available")
    totals = {}
    for label, rates in runs.items():
        totals[label.split()[0]] = total = sum(rate for _, rate in rates)
        each = " + ".join(f"{rate:6.0f}" for _, rate in rates)
        print(f"{label}: {rates[0][0]} thread(s) each, {each} = {total:6.0f} images/s")
    a, a1, b, c = totals["(a)"], totals["(a1)"], totals["(b)"], totals["(c)"]
    print(f"total throughput ratios: (b)/(c) {b / c:.2f}x   (b)/(a) {b / a:.2f}x   (c)/(a) {c / a:.2f}x   "
          f"(a1)/(a) {a1 / a:.2f}x")


if __name__ == "__main__":
    main()
