"""What each CLI sub-command does, on parsed arguments."""

from __future__ import annotations

import argparse
import json

from benchmark import experiment
from benchmark.cache import get_trained
from benchmark.cli_args import given_fields
from benchmark.config import TrainConfig
from benchmark.errors import ConfigError
from benchmark.masks import units_kept
from benchmark.methods import Target, available_methods, matched_target, neuron_counts
from benchmark.methods import prune as run_method
from benchmark.mip.config import MIPConfig
from benchmark.models import MODELS, count_parameters
from datasets import DATASETS

SOLVER_STATS = ("status", "primal_bound", "dual_bound", "gap", "nodes", "lp_iterations", "variables", "binaries",
                "binaries_before_stable_removal", "binaries_after_stable_removal", "constraints", "build_seconds",
                "solve_seconds", "scip_version", "pyscipopt_version", "empty_layer_guard")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The training config from the command line, on top of the paper's defaults for the dataset."""
    fields = given_fields(args, TrainConfig)
    return TrainConfig.paper(fields.pop("model", "lenet5"), fields.pop("dataset", "mnist"), **fields)


def print_report(name: str, exp: experiment.Experiment, result, summary: dict) -> None:
    """Units kept per layer, accuracies, sparsities and (for the MIP) solver statistics."""
    print(f"{name} on {exp.config.model} / {exp.config.dataset} ({result.scores.granularity} level)")
    if result.scores.granularity == "neuron":
        print("units kept: " + ", ".join(f"{k} {v}" for k, v in units_kept(result.mask).items()))
    print(f"dense test accuracy:  {summary['dense_accuracy']:.4f}")
    print(f"pruned test accuracy: {summary['pruned_accuracy']:.4f} (no fine-tuning)")
    if "finetuned_accuracy" in summary:
        print(f"fine-tuned accuracy:  {summary['finetuned_accuracy']:.4f}")
    if "retrained_accuracy" in summary:
        print(f"retrained from theta_0: {summary['retrained_accuracy']:.4f}")
    if "neurons_removed" in summary:
        print(f"neurons removed: {100 * summary['neurons_removed']:.1f}%")
    print(f"parameters removed: {100 * summary['params_removed']:.1f}%")
    stats = {k: result.stats[k] for k in SOLVER_STATS if k in result.stats}
    extra = {k: v for k, v in result.stats.items() if k not in SOLVER_STATS and k != "config"}
    for key, value in {**stats, **extra}.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")


def score(args: argparse.Namespace) -> None:
    """``ticketbench score``: train or load the dense model, score it with the MIP, report."""
    config = train_config(args)
    mip_config = MIPConfig.preset(args.preset, **given_fields(args, MIPConfig))
    exp = experiment.prepare(config, args.data_dir, batch_size=mip_config.n_samples, progress=True)
    ctx = experiment.context(exp, seed=config.seed,
                             options={"mip_config": mip_config, "export_path": args.export})
    result = run_method("mip", exp.trained.model, ctx)
    print_report("mip", exp, result, experiment.evaluate_pruned(exp, result, args.finetune_epochs, args.retrain_epochs))


def parse_options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings to a dict, values read as JSON where they parse (numbers, true/false)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"option {pair!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def prune(args: argparse.Namespace) -> None:
    """``ticketbench prune METHOD``: prune the dense model at a sparsity or at another method's counts."""
    config = train_config(args)
    exp = experiment.prepare(config, args.data_dir, progress=True)
    options = parse_options(args.option)
    match = args.match or ("mip" if args.method == "critical" else None)
    reference, target = None, Target(sparsity=args.sparsity, scope=args.scope)
    if match:
        if args.sparsity is not None:
            raise ConfigError(f"--match {match} fixes the sparsity; drop --sparsity")
        reference = run_method(match, exp.trained.model, experiment.context(exp, seed=config.seed))
        target = matched_target(reference, args.granularity)
        print(f"matched to {match}: " + ", ".join(f"{k} {v}" for k, v in units_kept(reference.mask).items()))
    ctx = experiment.context(exp, target, args.granularity, config.seed, options, reference)
    result = run_method(args.method, exp.trained.model, ctx)
    summary = experiment.evaluate_pruned(exp, result, args.finetune_epochs, args.retrain_epochs)
    print_report(args.method, exp, result, summary)


def train(args: argparse.Namespace) -> None:
    """``ticketbench train``: train or load the dense model, print its test accuracy and cache path."""
    config = train_config(args)
    trained = get_trained(config, experiment.load_data(config, args.data_dir), progress=True)
    source = "loaded from cache" if trained.from_cache else "trained"
    print(f"{config.model} on {config.dataset}: {source}, test accuracy {trained.metrics['test_accuracy']:.4f}")
    print(f"cache: {trained.path}")


def demo(args: argparse.Namespace) -> None:
    """``ticketbench demo``: LeNet-5 on MNIST trained briefly and cached, scored with the MIP, and compared with
    magnitude and random pruning at the MIP's per-layer counts."""
    config = TrainConfig.paper("lenet5", "mnist", epochs=args.epochs)
    exp = experiment.prepare(config, args.data_dir, progress=True)
    source = "loaded from cache" if exp.trained.from_cache else f"trained for {config.epochs} epoch(s)"
    print(f"LeNet-5 on MNIST ({len(exp.splits.train)} train / {len(exp.splits.val)} val / "
          f"{len(exp.splits.test)} test): {source}")
    print(f"dense test accuracy: {exp.trained.metrics['test_accuracy']:.4f}   cache: {exp.trained.path}")
    mip_config = MIPConfig(loss="margin", time_limit=300)
    mip = run_method("mip", exp.trained.model, experiment.context(exp, options={"mip_config": mip_config}))
    print(f"\nMIP (SCIP, N=10, margin loss): {mip.stats['status']} in {mip.stats['build_seconds']:.1f} s build + "
          f"{mip.stats['solve_seconds']:.1f} s solve, {mip.stats['binaries']} binaries of "
          f"{mip.stats['binaries_before_stable_removal']} ReLUs")
    print("units kept: " + ", ".join(f"{k} {v}" for k, v in units_kept(mip.mask).items()))
    print(f"\n{'method':10s} {'neurons removed':>16s} {'test accuracy (no fine-tuning)':>32s}")
    target = Target(counts=neuron_counts(mip.mask))
    for name, result in [("mip", mip)] + [(m, run_method(m, exp.trained.model, experiment.context(exp, target)))
                                          for m in ("magnitude", "random")]:
        row = experiment.evaluate_pruned(exp, result)
        print(f"{name:10s} {100 * row['neurons_removed']:15.1f}% {row['pruned_accuracy']:32.4f}")
    print(f"{'dense':10s} {0.0:15.1f}% {exp.trained.metrics['test_accuracy']:32.4f}")


def list_things(args: argparse.Namespace) -> None:
    """``ticketbench list``: the registered models, datasets or methods, one per line."""
    if args.what == "models":
        for name, builder in MODELS.items():
            print(f"{name:10s} {count_parameters(builder()):>10,d} params  {builder.__doc__.splitlines()[0]}")
    elif args.what == "datasets":
        for name, spec in DATASETS.items():
            print(f"{name:14s} {spec.num_classes} classes  (torchvision {spec.torchvision_class.__name__})")
    else:
        for name, cls in available_methods().items():
            print(f"{name:10s} {cls.description}")
