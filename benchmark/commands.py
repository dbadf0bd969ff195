"""What each CLI sub-command does, on parsed arguments. Pruning runs as a one-off suite through the harness, so
its stages are cached and stored under their identities like a suite's, and the report prints the stored rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path

import pandas as pd

from benchmark.cache import check_cache_writable, get_trained
from benchmark.cli_args import given_fields
from benchmark.config import TrainConfig
from benchmark.device import configure_device, resolve_device
from benchmark.errors import ConfigError
from benchmark.experiment import load_data
from benchmark.harness.executors import make_executor
from benchmark.harness.runner import run_suite
from benchmark.harness.stages import StageEnv
from benchmark.harness.suites import Budget, MethodPlan, Suite, available_suites, load_suite
from benchmark.methods import Target, available_methods, get_method, method_options
from benchmark.models import MODELS, count_parameters
from benchmark.records import SolverStats
from benchmark.report import ReportError
from benchmark.store import StoreError, default_root
from benchmark.store.db import STORE_HINT, ResultStore
from benchmark.store.export import export_results
from benchmark.store.files import ensure_writable, write_error
from benchmark.store.frame import load_results
from benchmark.threads import threads_per_worker
from benchmark.training import trained_on
from datasets import DATASETS, cache_dir

REPORT_HINT = "give --out a writable directory"


def store_root(args: argparse.Namespace) -> Path:
    """The results store: ``--store``, else ``<cache>/store``."""
    return Path(args.store) if getattr(args, "store", None) else default_root()


def report_dir(args: argparse.Namespace, suite: str) -> Path:
    """Where a suite's report goes: ``--out DIR/<suite>``, else ``<cache>/reports/<suite>`` (never the checkout's
    ``results/`` unless asked for with ``--out results``)."""
    return (Path(args.out) if args.out else cache_dir() / "reports") / suite


def check_writable(args: argparse.Namespace, report: Path | None = None) -> None:
    """Refuse in one line, before any work, a store, a model cache or a report folder that cannot be written."""
    ensure_writable(store_root(args), "the results store", STORE_HINT)
    check_cache_writable()
    if report is not None:
        ensure_writable(report.parent, "the report folder", REPORT_HINT)


def publish_report(frame: pd.DataFrame, suite: str, target: Path) -> Path:
    """Write the report of ``frame`` into a fresh folder beside ``target`` and put it in the place of ``target``
    as a whole, so that no file of an earlier report stays beside the new one; a frame without a successful row
    writes nothing. Returns the page's path."""
    from benchmark.report.html import write_report

    if not (frame["status"] == "ok").any():
        raise ReportError(f"no stored results of suite {suite!r}: the report is not written")
    fresh, old = (target.with_name(f".{target.name}.{kind}-{uuid.uuid4().hex}") for kind in ("new", "old"))
    try:
        fresh.mkdir(parents=True)
        page = write_report(frame, suite, fresh)
        if target.exists():
            os.replace(target, old)
        os.replace(fresh, target)
    except OSError as error:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise write_error("the report", target, error, REPORT_HINT) from None
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target / page.name


def device(args: argparse.Namespace, default: str = "cpu") -> str:
    """The device of a command: ``--device``, else ``default`` (a suite's), resolved (``cpu`` or ``cuda``; one
    line when CUDA is asked for without a GPU) and configured for deterministic work in this process."""
    resolved = resolve_device(getattr(args, "device", None) or default)
    configure_device(resolved)
    return resolved


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training config from the command line, on top of the paper's defaults for the dataset."""
    fields = given_fields(args, TrainConfig)
    return TrainConfig.paper(fields.pop("model", "lenet5"), fields.pop("dataset", "mnist"), **fields)


def parse_pairs(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings to a dict of strings (the options' types parse them)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"option {pair!r} is not KEY=VALUE")
        out[key] = value
    return out


def method_plan(name: str, raw_options: dict, granularity: str = "neuron", **target) -> MethodPlan:
    """A checked one-point plan of method ``name`` (its options typed and validated before any work)."""
    method = get_method(name)
    return MethodPlan(name, (method_options(method, raw_options),), granularity=granularity, **target)


def prune_suite(args: argparse.Namespace) -> Suite:
    """The one-off suite of a ``prune`` command: the reference method (with ``--match``) and the method."""
    method = get_method(args.method)
    raw = given_fields(args, method.Options) if hasattr(method, "Options") else {}
    if getattr(args, "preset", None):
        raw = {**vars(method.Options.preset(args.preset)), **raw}
    match = args.match or ("mip" if args.method == "critical" else None)
    given = [flag for flag, value in (("--sparsity", args.sparsity), ("--threshold", args.threshold))
             if value is not None]
    if match and given:
        raise ConfigError(f"--match {match} fixes the sparsity; drop {given[0]}")
    Target(sparsity=args.sparsity, scope=args.scope, threshold=args.threshold)  # checked before any work
    if not (match or given or hasattr(method, "default_target")):
        raise ConfigError(f"{args.method} needs a target: give --sparsity, --threshold or --match METHOD")
    plans = [] if not match else [method_plan(match, parse_pairs(args.match_option))]
    target = dict(scope=args.scope, thresholds=(args.threshold,) if args.threshold is not None else (),
                  sparsities=(args.sparsity,) if args.sparsity is not None else (), match=match)
    if args.method != match:
        plans.append(method_plan(args.method, raw, args.granularity, **target))
    config = train_config(args)
    train = {k: v for k, v in vars(config).items() if k not in ("model", "dataset", "seed")}
    return Suite("cli", "", (config.model,), (config.dataset,), (config.seed,), train,
                 Budget(args.finetune_epochs, args.retrain_epochs), {}, tuple(plans))


def print_rows(rows: list[dict], method: str) -> None:
    """The method's stored evaluation: units kept, accuracies, sparsities and (for the MIP) solver statistics."""
    by_stage = {row["stage"]: row["record"] for row in rows if row["record"]["method"] == method}
    prune, evaluation = by_stage["prune"], by_stage["evaluate"]
    print(f"{method} on {prune['model']} / {prune['dataset']} at {prune['point']}")
    label = "units kept" if prune.get("neurons_removed") is not None else "weights kept"
    print(f"{label}: " + ", ".join(f"{k} {v}/{prune['sizes'][k]}" for k, v in prune["kept"].items()))
    print(f"dense test accuracy:  {evaluation['dense_accuracy']:.4f}")
    print(f"pruned test accuracy: {evaluation['pruned_accuracy']:.4f} (no fine-tuning)")
    if evaluation.get("finetuned_accuracy") is not None:
        print(f"fine-tuned accuracy:  {evaluation['finetuned_accuracy']:.4f}")
    if "retrain" in by_stage:
        print(f"retrained ticket:     {by_stage['retrain']['retrained_accuracy']:.4f}")
    if prune.get("neurons_removed") is not None:
        print(f"neurons removed: {100 * prune['neurons_removed']:.1f}%")
    print(f"parameters removed: {100 * prune['params_removed']:.1f}% (dead outgoing weights included)")
    for key in SolverStats.SUMMARY:
        if key in prune["stats"]:
            value = prune["stats"][key]
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    for warning in prune["stats"].get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)


def prune(args: argparse.Namespace) -> None:
    """``ticketbench prune METHOD`` (and ``score``): prune at a target or at another method's counts, cached."""
    suite = prune_suite(args)
    check_writable(args)
    env = StageEnv(store_root(args), "cli", args.data_dir, args.torch_threads, device(args))
    report = run_suite(suite, env, make_executor("inline", 1))
    if report.failures:
        raise ConfigError(report.failures[0])
    rows = [row for row in ResultStore(env.store_root).rows("cli")]
    print_rows(rows, args.method)


def train(args: argparse.Namespace) -> None:
    """``ticketbench train``: train (on ``--device``) or load the dense model, print its test accuracy, where it
    was trained and its cache path."""
    config = train_config(args)
    on = device(args)
    trained = get_trained(config, load_data(config, args.data_dir), progress=sys.stderr.isatty(), device=on)
    source = "loaded from cache" if trained.from_cache else "trained"
    print(f"{config.model} on {config.dataset}: {source}, test accuracy {trained.metrics['test_accuracy']:.4f}, "
          f"trained on {trained_on(trained.metrics) or 'n/a (0 epochs)'}")
    print(f"cache: {trained.path}")


def list_things(args: argparse.Namespace) -> None:
    """``ticketbench list``: the registered models, datasets, methods or preset suites, one per line."""
    if args.what == "models":
        for name, builder in MODELS.items():
            print(f"{name:10s} {count_parameters(builder()):>10,d} params  {builder.__doc__.splitlines()[0]}")
    elif args.what == "datasets":
        for name, spec in DATASETS.items():
            print(f"{name:14s} {spec.num_classes} classes  (torchvision {spec.torchvision_class.__name__})")
    elif args.what == "suites":
        for name, path in available_suites().items():
            print(f"{name:8s} {load_suite(str(path)).description}")
    else:
        for name, cls in available_methods().items():
            print(f"{name:10s} {cls.description}")


def results(args: argparse.Namespace) -> None:
    """``ticketbench results``: the store (or one suite) as CSV, Parquet, JSON or Markdown; nothing to export, or
    Parquet (binary) without ``--output``, is a one-line error."""
    if args.format == "parquet" and args.output is None:
        raise StoreError("parquet is a binary format: give --output FILE")
    frame = load_results(store_root(args), args.suite)
    if frame.empty:
        which = f"of suite {args.suite!r} " if args.suite else ""
        raise StoreError(f"no results {which}in the store {store_root(args)}")
    out = export_results(frame, args.format, args.output)
    if args.output is None:
        sys.stdout.write(out)


def report(args: argparse.Namespace) -> None:
    """``ticketbench report SUITE``: tables, plots, claims and report.html under ``<cache>/reports/<suite>/`` (or
    ``--out DIR/<suite>/``)."""
    suite = load_suite(args.suite)
    target = report_dir(args, suite.name)
    ensure_writable(target.parent, "the report folder", REPORT_HINT)
    frame = load_results(store_root(args), suite.name)
    if frame.empty:
        raise ReportError(f"no results of suite {suite.name!r} in {store_root(args)}: run it first")
    print(f"report: {publish_report(frame, suite.name, target)}")


def run(args: argparse.Namespace) -> int:
    """``ticketbench run SUITE``: every missing stage, then the main table and the report's path."""
    from benchmark.harness.estimate import describe_plan
    from benchmark.harness.plan import plan_suite
    from benchmark.report.tables import main_table
    from benchmark.store.export import markdown_table

    suite = load_suite(args.suite)
    if args.dry_run:
        jobs = plan_suite(suite)
        for job in jobs:
            print(f"{job.hash}  {job.kind:9s} {job.method:10s} {job.point:16s} "
                  f"{job.spec.train.model if hasattr(job.spec, 'train') else ''}")
        print(describe_plan(jobs, args.workers))
        return 0
    workers = 1 if args.executor == "inline" else args.workers
    threads = {"inline": args.torch_threads, "dask": 0}.get(args.executor, threads_per_worker(workers))
    target = report_dir(args, suite.name)
    check_writable(args, target)
    env = StageEnv(store_root(args), suite.name, args.data_dir, threads, device(args, suite.device))
    ResultStore(env.store_root)  # a damaged store is one line before any work
    outcome = run_suite(suite, env, make_executor(args.executor, workers, args.scheduler),
                        data_check=args.scheduler is None)
    print(f"{suite.name}: {outcome.ran} stages run, {outcome.stored} already stored, {outcome.skipped} skipped, "
          f"{len(outcome.failures)} failed, in {outcome.seconds:.1f} s")
    for failure in outcome.failures:
        print(f"ticketbench: failed: {failure}", file=sys.stderr)
    frame = load_results(env.store_root, suite.name)
    if not (frame["status"] == "ok").any():
        print(f"ticketbench: error: no stage of suite {suite.name!r} succeeded: the report is not written",
              file=sys.stderr)
        return 1
    print(markdown_table(main_table(frame)))
    print(f"report: {publish_report(frame, suite.name, target)}")
    return 1 if outcome.failures else 0


def export(args: argparse.Namespace) -> None:
    """``ticketbench export SUITE``: one stored neuron ticket of the suite, compacted, as files plain torch loads."""
    from benchmark.compact import compact
    from benchmark.export.write import write_ticket
    from benchmark.harness.plan import plan_suite
    from benchmark.store.artifacts import ArtifactDir, checked

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


def store_check(args: argparse.Namespace) -> int:
    """``ticketbench store check``: every row read and every artifact checked against its digest; what is damaged,
    one line each (exit status 1), or that nothing is (0)."""
    from benchmark.store.repair import check_store

    root = store_root(args)
    damaged = check_store(root)
    for line in damaged:
        print(line)
    if damaged:
        print(f"{len(damaged)} damaged; repair with: ticketbench store repair --store {root}")
        return 1
    print(f"store {root}: nothing damaged")
    return 0


def store_repair(args: argparse.Namespace) -> None:
    """``ticketbench store repair``: salvage a damaged database and drop damaged rows, to be recomputed."""
    from benchmark.store.repair import repair_store

    root = store_root(args)
    for line in repair_store(root) or [f"store {root}: nothing to repair"]:
        print(line)
