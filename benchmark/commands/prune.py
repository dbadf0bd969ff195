"""``ticketbench prune METHOD`` (and ``score``) and ``ticketbench train``. Pruning runs as a one-off suite through
the harness, so its stages are cached and stored under their identities like a suite's, and the command prints
the stored rows.
"""

from __future__ import annotations

import argparse
import logging
import sys

from benchmark.cache import get_trained
from benchmark.cli_args import given_fields
from benchmark.commands.common import parse_pairs, store_root
from benchmark.commands.suite import check_writable, device
from benchmark.config import TrainConfig
from benchmark.errors import ConfigError
from benchmark.experiment import load_data
from benchmark.harness.executors import make_executor
from benchmark.harness.runner import run_suite
from benchmark.harness.stage_context import StageEnv
from benchmark.harness.suites import CLI_SUITE, Budget, MethodPlan, Suite
from benchmark.methods import Target, get_method, method_options
from benchmark.records import SolverStats
from benchmark.store.db import ResultStore
from benchmark.training import trained_on

log = logging.getLogger(__name__)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training config from the command line, on top of the paper's defaults for the dataset."""
    fields = given_fields(args, TrainConfig)
    return TrainConfig.paper(fields.pop("model", "lenet5"), fields.pop("dataset", "mnist"), **fields)


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
    plans.append(method_plan(args.method, raw, args.granularity, **target))
    config = train_config(args)
    train = {k: v for k, v in vars(config).items() if k not in ("model", "dataset", "seed")}
    return Suite(CLI_SUITE, "", (config.model,), (config.dataset,), (config.seed,), train,
                 Budget(args.finetune_epochs, args.retrain_epochs), {}, tuple(plans))


def print_rows(rows: list[dict], method: str) -> None:
    """The method's stored evaluation: units kept, accuracies, sparsities and (for the MIP) solver statistics;
    the method's warnings go to the log."""
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
        log.warning(warning)


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
    was trained and its cache path; a progress bar on a terminal unless the log is quiet."""
    config = train_config(args)
    on = device(args)
    progress = sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
    trained = get_trained(config, load_data(config, args.data_dir), progress=progress, device=on)
    source = "loaded from cache" if trained.from_cache else "trained"
    print(f"{config.model} on {config.dataset}: {source}, test accuracy {trained.metrics['test_accuracy']:.4f}, "
          f"trained on {trained_on(trained.metrics) or 'n/a (0 epochs)'}")
    print(f"cache: {trained.path}")
