"""How many torch threads a process should use.

torch's intra-op pool spins while it waits for its threads: when the pools of several processes together ask
for more threads than there are cores, every process slows down many times over (LeNet-5 on 2 cores next to
one other busy process: 285 images/s with torch's default 2 threads, 6-8.6k with one). Give each of
``workers`` concurrent processes an equal share of the cores instead, and by default leave busy cores alone.
"""

from __future__ import annotations

import os

from benchmark.core.errors import ConfigError


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_worker(workers: int = 1, cores: int | None = None) -> int:
    """An equal share of ``cores`` (default: :func:`available_cores`) for each of ``workers`` processes, at least 1."""
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if cores is not None and cores < 1:
        raise ConfigError(f"torch threads must be at least 1, got {cores}")
    return max(1, (available_cores() if cores is None else cores) // workers)


def configure_threads(workers: int = 1, cores: int | None = None) -> int:
    """Set this process's torch threads to its share of the cores when ``workers`` processes run at once.

    Sets the intra-op threads (:func:`torch.set_num_threads`) and, while torch still allows it (before any
    inter-op work has started, and only once per process), the inter-op threads too. Returns the count.
    """
    import torch  # here, so that importing this module (the CLI's parser does) stays cheap

    threads = threads_per_worker(workers, cores)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # already set, or inter-op work has started: only the intra-op pool matters for training
    return threads


def default_threads() -> int:
    """The CLI's default number of torch threads: 1.

    One thread never oversubscribes a shared machine, and a fixed count keeps results independent of the load
    at start-up (a thread count that followed the load average would change reductions' summation order, and
    with it the bits of a trained model). ``--torch-threads`` raises it for a machine the run has to itself.
    """
    return 1
