"""Suites: declarative TOML files of models, datasets, methods, operating points, transfers, budgets and seeds.

A suite is read with ``tomllib`` into a frozen :class:`Suite` and checked before anything runs, by the schema of
the fields it fills (:mod:`benchmark.core.options`: types, choices and ranges declared once): every error is one line
naming the file and the key, and a string where a number belongs is refused, never parsed. Preset suites ship in
``benchmark/pipeline/suites/`` (``ticketbench list suites``); any other suite is a path. Keys::

    name, description                 strings; the name is a plain name (letters, digits, '.', '_', '-', at most
                                      64 characters, no leading dot, no '..'); a preset's name belongs to the
                                      preset (a suite file naming itself so must hold the preset's content),
                                      "cli" to the prune command, and a name the store keeps for a different
                                      suite to that suite (:func:`check_stored_name`)
    deviations                        ["...", ...]: one line per deliberate deviation from the paper or the
                                      official code (shown beside the results; never part of any stage's hash)
    device                            "cpu" (default), "cuda", or "auto" (CUDA when torch sees a GPU); where
                                      training, evaluation and gradient-based scoring run (the MIP: on the CPU)
    models, datasets, seeds           lists (seeds: ints)
    only                              {model = [datasets]}: run a model on these datasets only (default: all)
    [train]                           TrainConfig fields on top of each dataset's paper defaults (epochs, ...);
    [train.NAME]                      the same for one dataset or model (model settings win)
    [budget]                          finetune_epochs, retrain_epochs (default 0: none), transfer_epochs
                                      (at least 1; default "full"); "full" is the dataset's own training epochs (the
                                      source's for retraining, the target's for transfer: the paper's "full
                                      budget", as the dense net the ticket is compared with),
                                      tickets_at = "primary" | "all" (where fine-tuning, retraining and
                                      transfer run: the first operating point of each method, or every one)
    [transfer]                        source dataset = [target datasets]
    [methods.NAME]                    options = {...} (the method's Options), sweep = {option = [values]},
                                      options_for = {model = {...}} (per-model options on top),
                                      granularity, scope, thresholds = [...] ("paper": the paper's tau),
                                      sparsities = [...], match = "mip"
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.config import MODEL_NAMES, TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.core.options import FieldError, NoOptions, build_options, check, check_value, coerce, setting
from benchmark.core.specs import GRANULARITIES, SCOPES, Target
from benchmark.methods import available_methods, batch_option, scoring_batch
from benchmark.nn.device import DEVICES
from datasets import DATASETS, get_spec
from datasets.errors import describe

PRESETS = Path(__file__).parent / "suites"
CLI_SUITE = "cli"  # the suite of the prune command's one-off runs: no suite file takes its name
TICKETS_AT = ("primary", "all")
KEYS = ("name", "description", "deviations", "device", "models", "datasets", "seeds", "only", "train", "budget",
        "transfer", "methods")
METHOD_KEYS = ("granularity", "match", "options", "options_for", "scope", "sparsities", "sweep", "thresholds")
FULL = "full"  # a budget of the dataset's own training epochs
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "letters, digits, '.', '_', '-', starting with a letter or digit, at most 64 characters, no '..'"


@dataclass(frozen=True)
class MethodPlan:
    """One method of a suite: its option sets (one per sweep combination) and its operating points."""

    name: str
    option_sets: tuple = ()  # typed Options instances
    model_option_sets: tuple = ()  # (model, option sets) where options_for differs
    granularity: str = setting("neuron", "prune whole units or single weights", GRANULARITIES)
    scope: str = setting("layer", "rank per layer or across layers", SCOPES)
    thresholds: tuple[float | None, ...] = ()  # None: the paper's threshold for the model and dataset
    sparsities: tuple[float, ...] = ()
    match: str | None = None

    def __post_init__(self):
        check(self)
        for key, name, values in (("thresholds", "threshold", self.thresholds),
                                  ("sparsities", "sparsity", self.sparsities)):
            for value in values:
                check_value(Target, name, value, key)
        if self.match == self.name:
            raise FieldError("match", f"must name another method, got {self.match!r} (a method matched to itself)")

    def options_for(self, model: str) -> tuple:
        """The option sets this method runs with on ``model``."""
        return dict(self.model_option_sets).get(model, self.option_sets)


@dataclass(frozen=True)
class Budget:
    """Epochs of the stages after pruning, and where the tickets are taken."""

    finetune_epochs: int = setting(0, "fine-tuning epochs of the pruned weights (0: none)", minimum=0)
    retrain_epochs: int | None = setting(0, f'retraining epochs of the ticket (0: none; None, "{FULL}" in a file: '
                                            "the source dataset's own training epochs)", minimum=0)
    transfer_epochs: int | None = setting(None, f'training epochs of a transferred ticket (None, "{FULL}" in a '
                                                "file: the target dataset's own training epochs)", minimum=1)
    tickets_at: str = setting("primary", "where the tickets are taken: the first operating point of each method, "
                                         "or every one", TICKETS_AT)

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class Suite:
    """A validated suite: every training config, every operating point and every scoring batch is checked when
    it is built, from a file or by hand (a :class:`~benchmark.core.options.FieldError` names the suite key)."""

    name: str
    description: str
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    train: dict
    budget: Budget
    transfer: dict[str, tuple[str, ...]]
    methods: tuple[MethodPlan, ...]
    only: dict[str, tuple[str, ...]] = field(default_factory=dict)
    device: str = setting("cpu", "where stages run (resolved when the suite runs; --device overrides it)", DEVICES)
    path: Path = field(default=Path(), compare=False)
    deviations: tuple[str, ...] = ()  # one line each: what deliberately differs from the paper / official code

    def __post_init__(self):
        check(self)
        for key in ("models", "datasets", "seeds"):
            if not getattr(self, key):
                raise FieldError(key, "must not be empty")
        if not NAME.fullmatch(self.name) or ".." in self.name:
            raise FieldError("name", f"{self.name!r} is not a plain name: {NAME_RULE}")
        names = {plan.name for plan in self.methods}
        for plan in self.methods:
            if plan.match is not None and plan.match not in names:
                raise FieldError(f"methods.{plan.name}.match", f"{plan.match!r} is not a method of this suite")
        for model, dataset in self.pairs():
            self._check_batches(self._checked_config(model, dataset), model)
            for target in self.transfer.get(dataset, ()):
                self._checked_config(model, target)

    def _checked_config(self, model: str, dataset: str) -> TrainConfig:
        try:
            return self.train_config(model, dataset, self.seeds[0])
        except FieldError as error:
            raise FieldError(f"train.{error.key}", f"{error.reason} ({model} on {dataset})") from None
        except ConfigError as error:
            raise FieldError("train", f"{error} ({model} on {dataset})") from None

    def _check_batches(self, config: TrainConfig, model: str) -> None:
        """Refuse a scoring batch larger than the validation split it is drawn from."""
        images = config.split_images[1]
        pool = f"train_limit {config.train_limit}" if config.train_limit else "the whole training set"
        for plan in self.methods:
            for options in plan.options_for(model):
                size = scoring_batch(plan.name, options)
                if size > images:
                    raise FieldError(f"methods.{plan.name}.options.{batch_option(plan.name)}",
                                     f"{size} exceeds the validation split size: the batch is drawn "
                                     f"from {images} validation images of {config.dataset} ({pool}, val_fraction "
                                     f"{config.val_fraction:g})")

    def train_config(self, model: str, dataset: str, seed: int) -> TrainConfig:
        """The dense training config of one (model, dataset, seed): global, then dataset, then model settings."""
        settings = {k: v for k, v in self.train.items() if not isinstance(v, dict)}
        settings.update(self.train.get(dataset, {}), **self.train.get(model, {}))
        return TrainConfig.paper(model, dataset, **{**settings, "seed": seed})

    def pairs(self) -> list[tuple[str, str]]:
        """The (model, dataset) pairs the suite trains."""
        return [(m, d) for m in self.models for d in self.datasets if d in self.only.get(m, self.datasets)]


def available_suites() -> dict[str, Path]:
    """Preset suites by name."""
    return {path.stem: path for path in sorted(PRESETS.glob("*.toml"))}


class _Reader:
    """Reads keys of one suite document, turning every problem into one line naming the file and the key (or,
    with ``flags``, what the key is called where the document came from: a command's flag, or "" where the
    message names it already)."""

    def __init__(self, path: Path, flags: Callable[[str], str] | None = None):
        self.path, self.flags = path, flags

    def fail(self, key: str, message: str) -> ConfigError:
        where = self.flags(key) if self.flags else f"{self.path.name}: {key}"
        return ConfigError(f"{where}: {message}" if where else message)

    def get(self, table: dict, key: str, kind: type, where: str = "", default=dataclasses.MISSING):
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is dataclasses.MISSING:
                raise self.fail(name, "missing key")
            return default
        value = table[key]
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {kind.__name__}, got {value!r}")
        return value

    def fields(self, cls, table: dict, where: str, skip: tuple[str, ...] = ()) -> dict:
        """The keys of ``table`` as fields of ``cls`` (not those in ``skip``), each typed by the schema;
        ``"full"`` stands for None where a field takes None."""
        _known(self, table, [f.name for f in dataclasses.fields(cls) if f.name not in skip], where)
        try:
            return {key: coerce(cls, key, value, none=FULL) for key, value in table.items()}
        except FieldError as error:
            raise self.fail(f"{where}.{error.key}", error.reason) from None

    def make(self, cls, where: str = "", **values):
        """``cls(**values)``, a :class:`FieldError` named under ``where``."""
        try:
            return cls(**values)
        except FieldError as error:
            raise self.fail(f"{where}.{error.key}" if where else error.key, error.reason) from None

    def names(self, table: dict, key: str, valid, where: str = "") -> tuple[str, ...]:
        values = tuple(self.get(table, key, list, where))
        for value in values:
            if value not in valid:
                raise self.fail(f"{where}.{key}" if where else key,
                                f"unknown name {value!r}; choose from: {', '.join(valid)}")
        if not values:
            raise self.fail(f"{where}.{key}" if where else key, "must not be empty")
        return values

    def points(self, table: dict, key: str, where: str, name: str, paper: bool = False) -> tuple:
        """The list ``key``: values of the :class:`Target` field ``name``, typed by the schema (their range is
        :class:`MethodPlan`'s check); with ``paper``, "paper" stands for the paper's value (None)."""
        try:
            return tuple(coerce(Target, name, value, none="paper" if paper else None)
                         for value in self.get(table, key, list, where, default=[]))
        except FieldError as error:
            raise self.fail(f"{where}.{key}", error.reason) from None


def _input_shape(dataset: str, preprocessing: str) -> tuple[int, int, int]:
    if preprocessing == "paper":
        return (3, 32, 32)
    return (1, 28, 28) if get_spec(dataset).is_mnist_like else (3, 32, 32)


def _method(reader: _Reader, name: str, table: dict, methods: dict) -> MethodPlan:
    where = f"methods.{name}"
    if name not in methods:
        raise reader.fail(where, f"unknown method {name!r}; choose from: {', '.join(methods)}")
    _known(reader, table, METHOD_KEYS, where)
    method = methods[name]()
    options_class = getattr(method, "Options", NoOptions)
    options, sweep, per_model = (reader.get(table, key, dict, where, default={})
                                 for key in ("options", "sweep", "options_for"))
    for option, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise reader.fail(f"{where}.sweep.{option}", f"must be a non-empty list of values, got {values!r}")
    combos = [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())]
    for model in per_model:
        if model not in MODEL_NAMES:
            raise reader.fail(f"{where}.options_for.{model}", f"unknown model; choose from: {', '.join(MODEL_NAMES)}")
        reader.get(per_model, model, dict, f"{where}.options_for")

    def typed(extra: dict) -> tuple:
        return tuple(build_options(options_class, {**options, **extra, **combo}, name, text=False) for combo in combos)

    try:
        option_sets = typed({})
        model_sets = tuple((model, typed(extra)) for model, extra in per_model.items())
    except ConfigError as exc:
        raise reader.fail(f"{where}.options", str(exc)) from None
    granularity = reader.get(table, "granularity", str, where, default="neuron")
    if granularity not in method.granularities:
        raise reader.fail(f"{where}.granularity",
                          f"{granularity!r}; {name} works at: {', '.join(method.granularities)}")
    match = reader.get(table, "match", str, where, default=None)
    if match is not None and match not in methods:
        raise reader.fail(f"{where}.match", f"unknown method {match!r}; choose from: {', '.join(methods)}")
    plan = reader.make(MethodPlan, where, name=name, option_sets=option_sets, model_option_sets=model_sets,
                       granularity=granularity,
                       scope=reader.get(table, "scope", str, where, default="layer"),
                       thresholds=reader.points(table, "thresholds", where, "threshold", paper=True),
                       sparsities=reader.points(table, "sparsities", where, "sparsity"), match=match)
    if not (plan.thresholds or plan.sparsities or match or hasattr(method, "default_target")):
        raise reader.fail(where, f"{name} needs operating points: give thresholds, sparsities or match")
    return plan


def _known(reader: _Reader, table: dict, known, where: str = "") -> None:
    """Refuse a key of ``table`` that is not in ``known`` (a misspelt key would otherwise be ignored)."""
    for key in table:
        if key not in known:
            raise reader.fail(f"{where}.{key}" if where else key, f"unknown key; choose from: {', '.join(known)}")


def _deviations(reader: _Reader, data: dict) -> tuple[str, ...]:
    """The suite's deliberate deviations from the paper, one non-empty line each."""
    lines = tuple(reader.get(data, "deviations", list, default=[]))
    for line in lines:
        if not isinstance(line, str) or not line.strip() or "\n" in line:
            raise reader.fail("deviations", f"each must be a one-line string, got {line!r}")
    return lines


def _train(reader: _Reader, data: dict) -> dict:
    """The [train] table: TrainConfig fields of the right type, globally or per model or dataset."""
    table = reader.get(data, "train", dict, default={})
    scoped = {k: v for k, v in table.items() if isinstance(v, dict) and (k in MODEL_NAMES or k in DATASETS)}
    skip = ("model", "dataset", "seed")
    train = reader.fields(TrainConfig, {k: v for k, v in table.items() if k not in scoped}, "train", skip)
    return {**train, **{key: reader.fields(TrainConfig, value, f"train.{key}", skip) for key, value in scoped.items()}}


def _transfer(reader: _Reader, data: dict, datasets: tuple[str, ...], train: dict) -> dict[str, tuple[str, ...]]:
    """The [transfer] table: target datasets of each source dataset, with inputs of the source's shape."""
    transfer = {}
    preprocessing = train.get("preprocessing", "paper")
    for source, targets in reader.get(data, "transfer", dict, default={}).items():
        if source not in datasets:
            raise reader.fail(f"transfer.{source}", f"not a dataset of the suite; choose from: {', '.join(datasets)}")
        transfer[source] = reader.names({source: targets}, source, list(DATASETS), "transfer")
        shape = _input_shape(source, preprocessing)
        for target in transfer[source]:
            if _input_shape(target, preprocessing) != shape:
                raise reader.fail(f"transfer.{source}", f"{target} inputs are {_input_shape(target, preprocessing)}, "
                                  f"{source} inputs {shape}: a mask cannot move between them")
    return transfer


def _only(reader: _Reader, data: dict, models: tuple[str, ...], datasets: tuple[str, ...]) -> dict:
    """The [only] table: the datasets a model runs on, when not all of the suite's."""
    only = {}
    for model, names in reader.get(data, "only", dict, default={}).items():
        if model not in models:
            raise reader.fail(f"only.{model}", f"not a model of the suite; choose from: {', '.join(models)}")
        only[model] = reader.names({model: names}, model, list(datasets), "only")
    return only


def parse_suite(text: str, path: Path) -> Suite:
    """A validated :class:`Suite` from TOML ``text`` (``path`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    return suite_from_document(data, path)


def suite_from_document(data: dict, path: Path, flags: Callable[[str], str] | None = None) -> Suite:
    """A validated :class:`Suite` from a suite document, the tables of a suite file as a dict (read from TOML, or
    built by a command: ``ticketbench prune``); ``path`` names it in the one-line errors, or ``flags`` names each
    key as the command's flag."""
    reader = _Reader(path, flags)
    _known(reader, data, KEYS)
    methods = available_methods()
    train = _train(reader, data)
    budget_table = reader.get(data, "budget", dict, default={})
    budget = reader.make(Budget, "budget", **reader.fields(Budget, budget_table, "budget"))
    suite_methods = reader.get(data, "methods", dict)
    plans = tuple(_method(reader, name, reader.get(suite_methods, name, dict, "methods"), methods)
                  for name in suite_methods)
    models, datasets = reader.names(data, "models", MODEL_NAMES), reader.names(data, "datasets", list(DATASETS))
    seeds = tuple(reader.get(data, "seeds", list))
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise reader.fail("seeds", f"must be integers, got {seed!r}")
    return reader.make(Suite, name=reader.get(data, "name", str),
                       description=reader.get(data, "description", str, default=""), models=models,
                       datasets=datasets, seeds=seeds, train=train, budget=budget,
                       transfer=_transfer(reader, data, datasets, train), methods=plans,
                       only=_only(reader, data, models, datasets),
                       device=reader.get(data, "device", str, default="cpu"), path=path,
                       deviations=_deviations(reader, data))


def read_suite(path: Path) -> Suite:
    """The suite in the file at ``path``; a file that is not UTF-8 text, or cannot be read, is one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not a suite file: byte {exc.start} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot be read: {describe(exc)}") from None
    return parse_suite(text, path)


def load_suite(name_or_path: str) -> Suite:
    """A preset suite by name, or a suite file by path. A file may carry a preset's name only with that preset's
    content, so that a name always stands for one suite in the store; the prune command's suite name is not a
    file's."""
    presets = available_suites()
    path = presets.get(name_or_path) or Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"no suite {name_or_path!r}: not a preset ({', '.join(presets)}) nor a file")
    suite = read_suite(path)
    preset = presets.get(suite.name)
    if preset is not None and preset.resolve() != path.resolve() and suite != read_suite(preset):
        raise ConfigError(f"{path.name}: name: {suite.name!r} is a preset's name but the content differs from "
                          f"the preset's; rename the suite (the store keeps results by suite name)")
    if suite.name == CLI_SUITE:
        raise ConfigError(f"{path.name}: name: {CLI_SUITE!r} is the prune command's suite; rename the suite")
    return suite


def check_stored_name(suite: Suite, planned: Iterable[str], stored: Iterable[str]) -> None:
    """Refuse a suite file whose name the store already keeps for a different suite: one that stored stages this
    suite does not plan (``planned``: the hashes of its stages; ``stored``: the hashes the store keeps under its
    name). A preset is its own: its stored stages of earlier versions never refuse it."""
    if suite.path.resolve() in {path.resolve() for path in available_suites().values()}:
        return
    foreign = set(stored) - set(planned)
    if foreign:
        raise ConfigError(f"{suite.path.name}: name: the store already keeps a different suite named "
                          f"{suite.name!r} ({len(foreign)} of its stored stages are not stages of this file); "
                          "rename the suite, or give another --store")
