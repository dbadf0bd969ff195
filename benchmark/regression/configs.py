"""The regression configurations: small suites run through the harness, and the stages whose results are recorded.

The suites are presets like any other (``benchmark/pipeline/suites/regression-*.toml``, the one place presets
live), so ``ticketbench run regression-fc3`` runs one by hand. Every stage runs inline on one torch thread (and
SCIP on one thread), with a fresh model cache, so the records depend only on the code, the data and the library
versions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.core.errors import TicketbenchError
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.plan import Job, plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stage_context import StageEnv, clear_caches
from benchmark.pipeline.suites import Suite, load_suite
from datasets.root import CACHE_ENV

SUITE_NAMES = ("regression-fc3", "regression-lenet5")


class RegressionError(TicketbenchError):
    """A regression run that could not produce its records (a failed stage, a missing result)."""


@dataclass(frozen=True)
class Selected:
    """A recorded configuration: its name (the record's file name), the seed and the stage it reads."""

    name: str
    seed: int
    job: Job


def load_suites(paths: tuple[Path, ...] | None = None, seeds: tuple[int, ...] | None = None) -> list[Suite]:
    """The regression suites (default: the presets ``SUITE_NAMES``), with their seeds replaced by ``seeds`` if
    given."""
    suites = [load_suite(str(path)) for path in (paths or SUITE_NAMES)]
    return [dataclasses.replace(suite, seeds=tuple(seeds)) if seeds else suite for suite in suites]


def select(suite: Suite) -> list[Selected]:
    """The recorded stages of ``suite``: per source (model, dataset, seed), the dense training, every method's
    primary point evaluated without (and, when the suite fine-tunes, after) fine-tuning, and the transferred
    tickets pruned at an operating point of their own (not those at another method's per-layer counts), so that
    no method is named here."""
    sources = {(model, dataset) for model, dataset in suite.pairs()}
    out = []
    for job in plan_suite(suite):
        spec = job.spec
        if job.kind == "train" and (spec.model, spec.dataset) in sources:
            out.append(Selected(f"{spec.model}-{spec.dataset}-dense", spec.seed, job))
        elif job.kind == "evaluate" and job.primary:
            train = spec.prune.train
            suffix = "-finetuned" if spec.finetune_epochs else ""
            out.append(Selected(f"{train.model}-{train.dataset}-{job.method}{suffix}", train.seed, job))
        elif (job.kind == "transfer" and job.primary and spec.control == "ticket"
              and not job.at.matched):
            train = spec.prune.train
            out.append(Selected(f"{train.model}-{train.dataset}-{job.method}-to-{spec.target.dataset}",
                                train.seed, job))
    return out


@contextlib.contextmanager
def isolated_run(cache: Path) -> Iterator[None]:
    """A model cache at ``cache`` and empty in-process stage caches for the duration (so no model trained by an
    earlier run in this process, on other threads, is reused); the torch thread count and the cache variable are
    restored afterwards."""
    threads, previous = torch.get_num_threads(), os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(cache)
    clear_caches()
    try:
        yield
    finally:
        clear_caches()
        torch.set_num_threads(threads)
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous


def run(suites: list[Suite], store_root: Path, data_dir: str | Path | None = None, progress: bool = False) -> None:
    """Run ``suites`` inline into the store at ``store_root`` (with a fresh model cache beside it).

    Every stage gets one torch thread, so the figures do not depend on the machine's core count. A failed stage
    raises :class:`RegressionError`.
    """
    store_root = Path(store_root)
    with isolated_run(store_root / "model-cache"):
        for suite in suites:
            env = StageEnv(store_root, suite.name, None if data_dir is None else str(data_dir), threads=1)
            report = run_suite(suite, env, make_executor("inline", 1), progress=progress)
            if report.failures:
                raise RegressionError(f"{suite.name}: {len(report.failures)} stage(s) failed: "
                                      + "; ".join(report.failures))
