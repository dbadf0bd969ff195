"""``ticketbench export SUITE``: one stored neuron ticket, compacted, as files plain torch loads."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.commands.common import store_root
from benchmark.core.errors import ConfigError
from benchmark.export.write import write_ticket
from benchmark.nn.compact import compact
from benchmark.nn.models import count_parameters
from benchmark.pipeline.experiment import load_data
from benchmark.pipeline.model_cache import get_trained
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import load_suite
from benchmark.store.artifacts import ArtifactDir, checked
from benchmark.store.db import ResultStore


def export(args: argparse.Namespace) -> None:
    """``ticketbench export SUITE``: one stored neuron ticket of the suite, compacted, as files plain torch loads."""
    suite = load_suite(args.suite)
    wanted = {"model": args.model, "dataset": args.dataset, "seed": args.seed}
    jobs = [job for job in plan_suite(suite) if job.kind == "prune" and job.method == args.method
            and (job.point == args.point if args.point else job.primary)
            and all(value is None or getattr(job.spec.train, key) == value for key, value in wanted.items())]
    if len(jobs) != 1:
        points = sorted({job.point for job in plan_suite(suite) if job.kind == "prune" and job.method == args.method})
        raise ConfigError(f"{len(jobs)} prune stages of {args.method!r} in suite {suite.name!r} match; narrow with "
                          f"--model, --dataset, --seed or --point (points: {', '.join(points) or 'none'})")
    spec = jobs[0].spec
    if spec.granularity != "neuron":
        raise ConfigError(f"only neuron tickets can be compacted; {args.method} prunes {spec.granularity}s")
    root = store_root(args)
    mask = checked(ResultStore(root), ArtifactDir(root), [jobs[0].hash]).load_tensors(jobs[0].hash, "prune.pt")["mask"]
    splits = load_data(spec.train, args.data_dir)
    model = get_trained(spec.train, splits).model
    shape = tuple(splits.test.input_shape)
    compacted = compact(model, mask, shape)
    source = {"suite": suite.name, "stage": jobs[0].hash, "method": args.method, "point": jobs[0].point,
              "model": spec.train.model, "dataset": spec.train.dataset, "seed": spec.train.seed,
              "dead_units": compacted.dead}
    for path in write_ticket(compacted, shape, Path(args.out), source):
        print(f"written: {path}")
    print(f"{spec.train.model} {args.method} {jobs[0].point}: {count_parameters(model):,d} -> "
          f"{count_parameters(compacted.model):,d} parameters, widths {compacted.widths}")
