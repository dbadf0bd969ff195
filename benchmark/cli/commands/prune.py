"""``ticketbench prune METHOD`` (and ``score``) and ``ticketbench train``. Pruning runs as a one-off suite through
the harness, so its stages are cached and stored under their identities like a suite's, and the command prints
the stored rows.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from benchmark.cli.args import given_fields
from benchmark.cli.commands.common import parse_pairs, store_root
from benchmark.cli.commands.suite import check_writable, device
from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.core.records import SolverStats
from benchmark.methods import get_method
from benchmark.nn.training import trained_on
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.experiment import load_data
from benchmark.pipeline.model_cache import get_trained
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stage_context import StageEnv
from benchmark.pipeline.suites import CLI_SUITE, Suite, suite_from_document
from benchmark.store.db import ResultStore

log = logging.getLogger(__name__)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training config from the command line, on top of the paper's defaults for the dataset."""
    fields = given_fields(args, TrainConfig)
    return TrainConfig.paper(fields.pop("model", "lenet5"), fields.pop("dataset", "mnist"), **fields)


def prune_document(args: argparse.Namespace) -> dict:
    """The one-off suite of a ``prune`` command as a suite document: the method at its target, after the
    reference method it is matched to (``--match``), on the model, dataset and seed of the command line."""
    method = get_method(args.method)
    options = given_fields(args, method.Options) if hasattr(method, "Options") else {}
    if getattr(args, "preset", None):
        options = {**vars(method.Options.preset(args.preset)), **options}
    match = args.match or ("mip" if args.method == "critical" else None)
    given = [flag for flag, value in (("--sparsity", args.sparsity), ("--threshold", args.threshold))
             if value is not None]
    if match and given:
        raise ConfigError(f"--match {match} fixes the sparsity; drop {given[0]}")
    if not (match or given or hasattr(method, "default_target")):
        raise ConfigError(f"{args.method} needs a target: give --sparsity, --threshold or --match METHOD")
    plan = {"options": options, "granularity": args.granularity, "scope": args.scope}
    if args.threshold is not None:
        plan["thresholds"] = [args.threshold]
    if args.sparsity is not None:
        plan["sparsities"] = [args.sparsity]
    if not (match or given):
        plan["thresholds"] = ["paper"]  # the method's default target: the paper's threshold
    methods = {match: {"options": parse_pairs(args.match_option), "thresholds": ["paper"]}} if match else {}
    methods[args.method] = {**plan, **({"match": match} if match else {})}
    train = given_fields(args, TrainConfig)
    config = train_config(args)
    return {"name": CLI_SUITE, "models": [config.model], "datasets": [config.dataset], "seeds": [config.seed],
            "train": {key: value for key, value in train.items() if key not in ("model", "dataset", "seed")},
            "budget": {"finetune_epochs": args.finetune_epochs, "retrain_epochs": args.retrain_epochs},
            "methods": methods}


def flag_of(key: str, reference: str | None) -> str:
    """The flag behind a key of :func:`prune_document` (``methods.mip.thresholds`` -> ``--threshold``), for
    one-line errors: the reference method's options are its ``--match-option``; the method's own are flags of
    their own, or named by the options' message itself ("") where the key names no option."""
    parts = key.split(".")
    if parts[0] == "methods" and len(parts) > 2 and parts[2] == "options":
        option = parts[3] if len(parts) > 3 else ""
        if parts[1] == reference:
            return f"--match-option {option}".strip()
        return f"--{option.replace('_', '-')}" if option else ""
    name = {"sparsities": "sparsity", "thresholds": "threshold"}.get(parts[-1], parts[-1])
    return "--" + name.replace("_", "-")


def prune_suite(args: argparse.Namespace) -> Suite:
    """The one-off suite of a ``prune`` command (:func:`prune_document`), validated like a suite file; an error
    names the flag."""
    document = prune_document(args)
    reference = next((name for name in document["methods"] if name != args.method), None)
    return suite_from_document(document, Path("command line"), lambda key: flag_of(key, reference))


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
