"""One schema (#17 item 3): choices and ranges declared once in the fields' ``setting(...)`` and checked by one
validator, for Python calls, suite files and command-line flags alike; every bad input of the trials (#17, #21) is
one line naming the key, before any work."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import benchmark.core.config
import benchmark.core.specs
import datasets
from benchmark.cli.main import main
from benchmark.core.config import TrainConfig, config_hash
from benchmark.core.errors import ConfigError
from benchmark.core.options import FieldError, build_options, check, setting
from benchmark.core.specs import EvaluateSpec, PruneSpec, Target
from benchmark.methods import GRANULARITIES
from benchmark.nn.models import MODELS
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import check_stored_name, load_suite, parse_suite
from tests.store.test_integrity import in_namespace, needs_namespaces, one_line

TINY = Path(__file__).parents[1] / "suites" / "tiny.toml"
VALID = TINY.read_text()


@dataclasses.dataclass(frozen=True)
class Knobs:
    count: int = setting(2, "a count", minimum=1)
    share: float = setting(0.5, "a share", above=0, below=1)
    level: float | None = setting(None, "a level", minimum=0, maximum=1)
    mode: str = setting("a", "a mode", ("a", "b"))
    flag: bool = setting(False, "a flag")

    def __post_init__(self):
        check(self)


@pytest.mark.parametrize("values,message", [
    (dict(count=0), "count must be >= 1, got 0"),
    (dict(count="3"), "count must be int, got '3'"),
    (dict(count=True), "count must be int, got True"),
    (dict(count=2.0), "count must be int, got 2.0"),
    (dict(share=1), "share must lie in (0, 1), got 1"),
    (dict(share=0.0), "share must lie in (0, 1), got 0.0"),
    (dict(level=1.5), "level must lie in [0, 1], got 1.5"),
    (dict(level=-0.1), "level must lie in [0, 1], got -0.1"),
    (dict(mode="c"), "mode must be one of a, b, got 'c'"),
    (dict(flag=1), "flag must be bool, got 1"),
    (dict(mode=None), "mode must be str, got None"),
])
def test_the_validator_checks_type_choices_and_bounds_in_one_line_naming_the_key(values, message):
    with pytest.raises(FieldError) as info:
        Knobs(**values)
    assert str(info.value) == message and info.value.key == next(iter(values))


def test_the_validator_accepts_the_edges_none_and_an_int_for_a_float():
    for values in (dict(count=1), dict(share=0.999), dict(level=None), dict(level=0), dict(level=1), dict(flag=True)):
        Knobs(**values)


def test_text_is_parsed_for_a_command_line_only():
    assert build_options(Knobs, {"count": "3", "flag": "yes", "share": "0.25"}, "knob") == Knobs(3, 0.25, flag=True)
    with pytest.raises(ConfigError, match=r"^knob option count must be int, got '3'$"):
        build_options(Knobs, {"count": "3"}, "knob", text=False)
    with pytest.raises(ConfigError, match=r"^knob option count must be >= 1, got 0$"):
        build_options(Knobs, {"count": "0"}, "knob")


def test_a_whole_number_where_a_float_belongs_keeps_every_hash():
    """``time_limit = 60`` and ``lr = 1`` in a file are the floats 60.0 and 1.0: a hash sees ``60.0``, never ``60``."""
    as_ints = VALID.replace("time_limit = 60.0", "time_limit = 60").replace("epochs = 2", "epochs = 2\nlr = 1")
    as_floats = VALID.replace("epochs = 2", "epochs = 2\nlr = 1.0")
    assert [job.hash for job in plan_suite(parse_suite(as_ints, TINY))] == [
        job.hash for job in plan_suite(parse_suite(as_floats, TINY))]
    assert build_options(Knobs, {"level": 1}, "knob", text=False).level.__class__ is float


def test_the_schema_never_moves_a_hash():
    plain = dataclasses.make_dataclass("Knobs", [("count", int, dataclasses.field(default=2)),
                                                 ("share", float, dataclasses.field(default=0.5))], frozen=True)
    assert config_hash(Knobs(count=3)) == config_hash(plain(count=3))
    assert config_hash(Knobs()) == config_hash(plain()) != config_hash(Knobs(count=3))


def test_a_field_error_survives_a_trip_to_a_worker_process():
    error = pickle.loads(pickle.dumps(FieldError("epochs", "must be >= 1, got 0")))
    assert (error.key, error.reason, str(error)) == ("epochs", "must be >= 1, got 0", "epochs must be >= 1, got 0")


def test_the_schemas_names_agree_with_the_modules_that_own_them():
    assert benchmark.core.config.MODEL_NAMES == tuple(MODELS)
    assert benchmark.core.config.AUGMENTATIONS == datasets.AUGMENTATIONS
    assert benchmark.core.config.PREPROCESSINGS == datasets.PREPROCESSINGS
    assert benchmark.core.specs.GRANULARITIES == GRANULARITIES


def test_the_configs_and_specs_load_no_torch():
    code = ("import sys, benchmark.core.specs; "
            "print(sorted({'torch', 'benchmark.nn.models', 'datasets'} & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("call,message", [
    (lambda: TrainConfig(epochs=0), "epochs must be >= 1, got 0"),
    (lambda: TrainConfig(train_limit=-5), "train_limit must be >= 0, got -5"),
    (lambda: TrainConfig(model="fc9"), "model must be one of fc3, fc4, lenet5, vgg16, got 'fc9'"),
    (lambda: TrainConfig(model="vgg16", width_divisor=0), "width_divisor must be >= 1, got 0"),
    (lambda: TrainConfig(model="fc3", width_divisor=2),
     "width_divisor must be 1 for fc3 (it divides VGG-16's channels only), got 2"),
    (lambda: TrainConfig(train_limit=3), "train_limit must leave an image per class (10) in both the training and "
                                         "the validation split, got 3 (2 training and 1 validation images"),
    (lambda: TrainConfig(epochs="3"), "epochs must be int, got '3'"),
    (lambda: Target(sparsity=1.0), "sparsity must lie in [0, 1), got 1.0"),
    (lambda: EvaluateSpec(PruneSpec(TrainConfig(), "mip"), finetune_epochs=-1), "finetune_epochs must be >= 0"),
])
def test_python_calls_are_checked_like_files(call, message):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_smallest_slice_that_keeps_an_image_per_class_in_both_splits_is_accepted():
    assert TrainConfig(train_limit=48).split_images == (38, 10)
    with pytest.raises(FieldError, match="^train_limit must leave"):
        TrainConfig(train_limit=47)


@pytest.mark.parametrize("edit,message", [
    (("epochs = 2", 'epochs = "3"'), "tiny.toml: train.epochs: must be int, got '3'"),
    (("epochs = 2", 'epochs = 2\n[train.fc3]\nbatch_size = "64"'), "tiny.toml: train.fc3.batch_size: must be int"),
    (("finetune_epochs = 1", 'finetune_epochs = "1"'), "tiny.toml: budget.finetune_epochs: must be int, got '1'"),
    (("time_limit = 60.0 }", 'time_limit = "60" }'),
     "tiny.toml: methods.mip.options: mip option time_limit must be float, got '60'"),
    (("epochs = 2", "epochs = 0"), "tiny.toml: train.epochs: must be >= 1, got 0 (fc3 on mnist)"),
    (("epochs = 2", "epochs = 2\n[train.fashion-mnist]\nepochs = 0"),
     "tiny.toml: train.epochs: must be >= 1, got 0 (fc3 on fashion-mnist)"),
    (("epochs = 2", "epochs = 2\ntrain_limit = -5"), "tiny.toml: train.train_limit: must be >= 0, got -5"),
    (("epochs = 2", "epochs = 2\ntrain_limit = 3"), "tiny.toml: train.train_limit: must leave an image per class"),
    (("epochs = 2", "epochs = 2\nwidth_divisor = 2"), "tiny.toml: train.width_divisor: must be 1 for fc3"),
    (("epochs = 2", "epochs = 2\nwidth_divisor = 0"), "tiny.toml: train.width_divisor: must be >= 1, got 0"),
    (("transfer_epochs = 1", "transfer_epochs = 0"), "tiny.toml: budget.transfer_epochs: must be >= 1, got 0"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nmatch = \"random\""),
     "tiny.toml: methods.random.match: must name another method, got 'random' (a method matched to itself)"),
    (("epochs = 2", "epochs = 2\ntrain_limit = 800", "time_limit = 60.0 }", "time_limit = 60.0, n_samples = 160 }"),
     None),
    (("seeds = [0]", "seeds = []"), "tiny.toml: seeds: must not be empty"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nthresholds = [\"paper\", \"high\"]"),
     "tiny.toml: methods.random.thresholds: must be float or \"paper\", got 'high'"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nsparsities = [\"paper\"]"),
     "tiny.toml: methods.random.sparsities: must be float, got 'paper'"),
    (("[methods.snip]\nmatch = \"mip\"\n", "",
      "[methods.random]\nmatch = \"mip\"", "[methods.random]\nmatch = \"snip\""),
     "tiny.toml: methods.random.match: 'snip' is not a method of this suite"),
    (("[methods.snip]\nmatch = \"mip\"", "[methods.snip]\nmatch = \"mip\"\nsweep = { images = 64 }"),
     "tiny.toml: methods.snip.sweep.images: must be a non-empty list of values, got 64"),
    (("options = { round_epochs = 1 }", "options_for = { fc3 = 1 }"),
     "tiny.toml: methods.lottery.options_for.fc3: must be dict, got 1"),
])
def test_bad_suite_values_are_one_line_naming_the_key(edit, message):
    text = VALID
    for old, new in zip(edit[::2], edit[1::2]):
        assert old in text
        text = text.replace(old, new)
    if message is None:
        parse_suite(text, TINY)
        return
    with pytest.raises(ConfigError) as info:
        parse_suite(text, TINY)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_mip_batch_larger_than_the_validation_split_is_refused_when_the_suite_is_read():
    text = VALID.replace("epochs = 2", "epochs = 2\ntrain_limit = 800").replace("time_limit = 60.0 }",
                                                                                "time_limit = 60.0, n_samples = 161 }")
    with pytest.raises(ConfigError) as info:
        parse_suite(text, TINY)
    assert str(info.value) == ("tiny.toml: methods.mip.options.n_samples: 161 exceeds the validation split size: the "
                               "batch is drawn from 160 validation images of mnist (train_limit 800, val_fraction 0.2)")


def test_a_batch_larger_than_the_validation_split_is_named_so_when_the_data_is_smaller_than_planned(mnist_small):
    """The fixture slice has 160 validation images where planning assumed the official set's 12,000."""
    with pytest.raises(datasets.DatasetError, match=r"^a batch of 161 images exceeds the validation split of 160 "):
        datasets.pick_one_per_class(torch.nn.Flatten(), mnist_small.val, n=161)


def test_a_suite_file_may_not_take_the_prune_commands_suite_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(VALID.replace('name = "tiny"', 'name = "cli"'))
    with pytest.raises(ConfigError, match=r"^mine.toml: name: 'cli' is the prune command's suite; rename the suite$"):
        load_suite(str(path))


def test_a_suite_file_named_like_a_different_stored_suite_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(VALID.replace('name = "tiny"', 'name = "mine"'))
    suite = load_suite(str(path))
    planned = [job.hash for job in plan_suite(suite)]
    check_stored_name(suite, planned, planned[:3])  # its own stages, some of them stored: the same suite
    with pytest.raises(ConfigError) as info:
        check_stored_name(suite, planned, [*planned[:3], "f" * 16])
    assert str(info.value) == ("mine.toml: name: the store already keeps a different suite named 'mine' (1 of its "
                               "stored stages are not stages of this file); rename the suite, or give another --store")
    smoke = load_suite("smoke")  # a preset's earlier versions are its own
    check_stored_name(smoke, [job.hash for job in plan_suite(smoke)], ["f" * 16])


@pytest.fixture
def run(fixture_root, capsys):
    """``ticketbench ARGS --data-dir <fixture slices>`` in this process: (exit code, stdout, stderr)."""

    def invoke(*args):
        try:
            code = main([*args, "--data-dir", str(fixture_root)])
        except SystemExit as stop:  # argparse's own errors
            code = stop.code
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("args,message", [
    (["train", "--epochs", "0"], "epochs must be >= 1, got 0"),
    (["train", "--train-limit", "-5"], "train_limit must be >= 0, got -5"),
    (["score", "--model", "fc9"], "argument --model: invalid choice: 'fc9'"),
    (["train", "--model", "vgg16", "--width-divisor", "0"], "width_divisor must be >= 1, got 0"),
    (["train", "--model", "fc3", "--width-divisor", "2"], "width_divisor must be 1 for fc3"),
    (["train", "--train-limit", "3"], "train_limit must leave an image per class (10)"),
    (["score", "--model", "fc3", "--train-limit", "800", "--n-samples", "200"],
     "--n-samples: 200 exceeds the validation split size: the batch is drawn from 160 validation "
     "images of mnist (train_limit 800, val_fraction 0.2)"),
    (["prune", "magnitude", "--sparsity", "0.5", "--retrain-epochs", "-1"], "--retrain-epochs: must be >= 0, got -1"),
    (["train", "--torch-threads", "0"], "torch threads must be at least 1, got 0"),
    (["prune", "mip", "--match", "mip", "--model", "fc3", "--epochs", "1", "--loss", "margin", "--time-limit", "5"],
     "(a method matched to itself)"),
])
def test_bad_flags_are_one_line_before_any_work(run, args, message):
    code, out, err = run(*args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert "done" not in out and not (datasets.cache_dir() / "models").exists()


@needs_namespaces
def test_run_smoke_with_a_read_only_cache_is_one_line_and_exit_2_before_any_work(tmp_path):
    import os

    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "TICKETBENCH_CACHE": str(cache), "LIST": str(cache), "OMP_NUM_THREADS": "1"}
    done = in_namespace(f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache}",
                        [sys.executable, "-m", "benchmark", "run", "smoke"], env)
    assert "rc=2" in done.stdout and "read-only file system" in one_line(done.stderr), done.stderr
    assert str(cache) in done.stderr and "done" not in done.stdout and not list(cache.iterdir())


def test_run_refuses_a_suite_file_named_like_a_different_stored_suite(run, tmp_path):
    from benchmark.store.db import ResultStore

    store = tmp_path / "store"
    ResultStore(store).put("f" * 16, "train", {"model": "fc3"}, 0.0, suites=["mine"])
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nmodels = ["fc3"]\ndatasets = ["mnist"]\nseeds = [0]\n[train]\nepochs = 1\n'
                    '[methods.magnitude]\nsparsities = [0.5]\n')
    code, out, err = run("run", str(path), "--store", str(store), "--executor", "inline")
    assert code == 2 and "the store already keeps a different suite named 'mine'" in err and "done" not in out


def test_the_prune_command_builds_the_suite_a_file_would_give():
    """``ticketbench prune`` builds a suite document and validates it like a file: the same stages as the suite
    file that says the same."""
    from benchmark.cli.commands.prune import prune_document, prune_suite
    from benchmark.cli.main import build_parser, command_of
    from benchmark.pipeline.plan import plan_suite
    from benchmark.pipeline.suites import parse_suite

    argv = ["prune", "snip", "--model", "lenet5", "--epochs", "3", "--match", "mip", "--match-option", "loss=margin",
            "--retrain-epochs", "2", "--images", "64"]
    args = build_parser(command_of(argv)).parse_args(argv)
    document = prune_document(args)
    assert document["methods"] == {"mip": {"options": {"loss": "margin"}, "thresholds": ["paper"]},
                                   "snip": {"options": {"images": 64}, "granularity": "neuron", "scope": "layer",
                                            "match": "mip"}}
    text = """name = "cli"
models = ["lenet5"]
datasets = ["mnist"]
seeds = [0]
[train]
epochs = 3
[budget]
finetune_epochs = 0
retrain_epochs = 2
[methods.mip]
options = { loss = "margin" }
thresholds = ["paper"]
[methods.snip]
options = { images = 64 }
match = "mip"
"""
    from_file = plan_suite(parse_suite(text, Path("cli.toml")))
    assert [job.hash for job in plan_suite(prune_suite(args))] == [job.hash for job in from_file]
