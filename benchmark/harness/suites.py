"""Suites: declarative TOML files of models, datasets, methods, operating points, transfers, budgets and seeds.

A suite is read with ``tomllib`` into a frozen :class:`Suite` and checked before anything runs: every error is
one line naming the file, the key and the valid choices. Preset suites ship in ``benchmark/harness/suites/``
(``ticketbench list suites``); any other suite is a path. Keys::

    name, description                 strings; the name is a plain name (letters, digits, '.', '_', '-', at most
                                      64 characters, no leading dot, no '..'), and a preset's name belongs to the
                                      preset: a suite file naming itself so must hold the preset's content
    deviations                        ["...", ...]: one line per deliberate deviation from the paper or the
                                      official code (shown beside the results; never part of any stage's hash)
    device                            "cpu" (default), "cuda", or "auto" (CUDA when torch sees a GPU); where
                                      training, evaluation and gradient-based scoring run (the MIP: on the CPU)
    models, datasets, seeds           lists (seeds: ints)
    only                              {model = [datasets]}: run a model on these datasets only (default: all)
    [train]                           TrainConfig fields on top of each dataset's paper defaults (epochs, ...);
    [train.NAME]                      the same for one dataset or model (model settings win)
    [budget]                          finetune_epochs, retrain_epochs (default 0: none), transfer_epochs
                                      (default "full"); "full" is the dataset's own training epochs (the
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
import typing
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config import TrainConfig
from benchmark.device import DEVICES
from benchmark.errors import ConfigError
from benchmark.methods import GRANULARITIES, available_methods, method_options
from benchmark.models import MODELS
from datasets import DATASETS, get_spec
from datasets.errors import describe

PRESETS = Path(__file__).parent / "suites"
TICKETS_AT = ("primary", "all")
KEYS = ("name", "description", "deviations", "device", "models", "datasets", "seeds", "only", "train", "budget",
        "transfer", "methods")
BUDGET_KEYS = ("finetune_epochs", "retrain_epochs", "transfer_epochs", "tickets_at")
FULL = "full"  # a budget of the dataset's own training epochs
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "letters, digits, '.', '_', '-', starting with a letter or digit, at most 64 characters, no '..'"


@dataclass(frozen=True)
class MethodPlan:
    """One method of a suite: its option sets (one per sweep combination) and its operating points."""

    name: str
    option_sets: tuple = ()  # typed Options instances
    model_option_sets: tuple = ()  # (model, option sets) where options_for differs
    granularity: str = "neuron"
    scope: str = "layer"
    thresholds: tuple[float | None, ...] = ()  # None: the paper's threshold for the model and dataset
    sparsities: tuple[float, ...] = ()
    match: str | None = None

    def options_for(self, model: str) -> tuple:
        """The option sets this method runs with on ``model``."""
        return dict(self.model_option_sets).get(model, self.option_sets)


@dataclass(frozen=True)
class Budget:
    """Epochs of the stages after pruning, and where the tickets are taken."""

    finetune_epochs: int = 0
    retrain_epochs: int | None = 0  # 0: no retraining; None: the source dataset's own training epochs
    transfer_epochs: int | None = None  # None: the target dataset's own training epochs
    tickets_at: str = "primary"


@dataclass(frozen=True)
class Suite:
    """A validated suite."""

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
    device: str = "cpu"  # auto, cpu or cuda (resolved when the suite runs; --device overrides it)
    path: Path = field(default=Path(), compare=False)
    deviations: tuple[str, ...] = ()  # one line each: what deliberately differs from the paper / official code

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
    """Reads keys of one suite file, turning every problem into one line naming the file and the key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path.name}: {key}: {message}")

    def get(self, table: dict, key: str, kind: type, where: str = "", default=dataclasses.MISSING):
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is dataclasses.MISSING:
                raise self.fail(name, "missing key")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(name, f"must be {kind.__name__}, got {value!r}")
        return value

    def names(self, table: dict, key: str, valid, where: str = "") -> tuple[str, ...]:
        values = tuple(self.get(table, key, list, where))
        for value in values:
            if value not in valid:
                raise self.fail(f"{where}.{key}" if where else key,
                                f"unknown name {value!r}; choose from: {', '.join(valid)}")
        if not values:
            raise self.fail(key, "must not be empty")
        return values

    def numbers(self, table: dict, key: str, where: str, low: float, high: float, closed: bool,
                paper: bool = False) -> tuple:
        """Numbers in the interval; with ``paper``, the string "paper" stands for the paper's value (None)."""
        values = []
        for v in self.get(table, key, list, where, default=[]):
            if paper and v == "paper":
                values.append(None)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                values.append(float(v))
            else:
                raise self.fail(f"{where}.{key}", f"{v!r} is not a number" + (' or "paper"' if paper else ""))
        for v in (v for v in values if v is not None):
            if not (low <= v <= high if closed else low <= v < high):
                interval = f"[{low:g}, {high:g}]" if closed else f"[{low:g}, {high:g})"
                raise self.fail(f"{where}.{key}", f"{v:g} is outside {interval}")
        return tuple(values)


def _input_shape(dataset: str, preprocessing: str) -> tuple[int, int, int]:
    if preprocessing == "paper":
        return (3, 32, 32)
    return (1, 28, 28) if get_spec(dataset).is_mnist_like else (3, 32, 32)


def _method(reader: _Reader, name: str, table: dict, methods: dict) -> MethodPlan:
    where = f"methods.{name}"
    if name not in methods:
        raise reader.fail(where, f"unknown method {name!r}; choose from: {', '.join(methods)}")
    _known(reader, table, ("granularity", "match", "options", "options_for", "scope", "sparsities", "sweep",
                           "thresholds"), where)
    method = methods[name]()
    options = reader.get(table, "options", dict, where, default={})
    sweep = reader.get(table, "sweep", dict, where, default={})
    combos = [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())] if sweep else [{}]
    per_model = reader.get(table, "options_for", dict, where, default={})
    try:
        option_sets = tuple(method_options(method, {**options, **combo}) for combo in combos)
        model_sets = tuple((model, tuple(method_options(method, {**options, **extra, **combo}) for combo in combos))
                           for model, extra in per_model.items())
    except ConfigError as exc:
        raise reader.fail(f"{where}.options", str(exc)) from None
    for model, _ in model_sets:
        if model not in MODELS:
            raise reader.fail(f"{where}.options_for.{model}", f"unknown model; choose from: {', '.join(MODELS)}")
    granularity = reader.get(table, "granularity", str, where, default="neuron")
    if granularity not in GRANULARITIES or granularity not in method.granularities:
        raise reader.fail(f"{where}.granularity",
                          f"{granularity!r}; {name} works at: {', '.join(method.granularities)}")
    match = reader.get(table, "match", str, where, default=None)
    if match is not None and match not in methods:
        raise reader.fail(f"{where}.match", f"unknown method {match!r}; choose from: {', '.join(methods)}")
    plan = MethodPlan(name, option_sets, model_sets, granularity,
                      reader.get(table, "scope", str, where, default="layer"),
                      reader.numbers(table, "thresholds", where, 0.0, 1.0, closed=True, paper=True),
                      reader.numbers(table, "sparsities", where, 0.0, 1.0, closed=False), match)
    if not (plan.thresholds or plan.sparsities or match or hasattr(method, "default_target")):
        raise reader.fail(where, f"{name} needs operating points: give thresholds, sparsities or match")
    if plan.scope not in ("layer", "global"):
        raise reader.fail(f"{where}.scope", f"{plan.scope!r}; choose from: layer, global")
    return plan


def _known(reader: _Reader, table: dict, known, where: str = "") -> None:
    """Refuse a key of ``table`` that is not in ``known`` (a misspelt key would otherwise be ignored)."""
    for key in table:
        if key not in known:
            raise reader.fail(f"{where}.{key}" if where else key, f"unknown key; choose from: {', '.join(known)}")


def _name(reader: _Reader, data: dict) -> str:
    """The suite's name: a plain name, safe as a directory and as the store's key."""
    name = reader.get(data, "name", str)
    if not NAME.fullmatch(name) or ".." in name:
        raise reader.fail("name", f"{name!r} is not a plain name: {NAME_RULE}")
    return name


def _deviations(reader: _Reader, data: dict) -> tuple[str, ...]:
    """The suite's deliberate deviations from the paper, one non-empty line each."""
    lines = tuple(reader.get(data, "deviations", list, default=[]))
    for line in lines:
        if not isinstance(line, str) or not line.strip() or "\n" in line:
            raise reader.fail("deviations", f"each must be a one-line string, got {line!r}")
    return lines


def _train(reader: _Reader, data: dict) -> dict:
    """The [train] table: TrainConfig fields of the right type, globally or per model or dataset."""
    types = {k: v for k, v in typing.get_type_hints(TrainConfig).items() if k not in ("model", "dataset", "seed")}

    def fields(table: dict, where: str) -> dict:
        _known(reader, table, sorted(types), where)
        return {key: reader.get(table, key, types[key], where) for key in table}

    table = reader.get(data, "train", dict, default={})
    scoped = {k: v for k, v in table.items() if isinstance(v, dict) and (k in MODELS or k in DATASETS)}
    train = fields({k: v for k, v in table.items() if k not in scoped}, "train")
    return {**train, **{key: fields(value, f"train.{key}") for key, value in scoped.items()}}


def _epochs(reader: _Reader, table: dict, key: str, default: int | None, full: bool = True) -> int | None:
    """A budget's epochs: a count >= 0 or, with ``full``, "full" (None: the dataset's own training epochs)."""
    value = table.get(key, FULL if default is None else default)
    if full and value == FULL:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        expected = 'epochs >= 0 or "full"' if full else "epochs >= 0"
        raise reader.fail(f"budget.{key}", f"must be {expected}, got {value!r}")
    return value


def _budget(reader: _Reader, data: dict) -> Budget:
    """The [budget] table: epochs of the stages after pruning, and where the tickets are taken."""
    table = reader.get(data, "budget", dict, default={})
    _known(reader, table, BUDGET_KEYS, "budget")
    budget = Budget(_epochs(reader, table, "finetune_epochs", 0, full=False),
                    _epochs(reader, table, "retrain_epochs", 0), _epochs(reader, table, "transfer_epochs", None),
                    reader.get(table, "tickets_at", str, "budget", default="primary"))
    if budget.tickets_at not in TICKETS_AT:
        raise reader.fail("budget.tickets_at", f"{budget.tickets_at!r}; choose from: {', '.join(TICKETS_AT)}")
    return budget


def parse_suite(text: str, path: Path) -> Suite:
    """A validated :class:`Suite` from TOML ``text`` (``path`` names it in errors)."""
    reader = _Reader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    _known(reader, data, KEYS)
    methods = available_methods()
    train, budget = _train(reader, data), _budget(reader, data)
    suite_methods = reader.get(data, "methods", dict)
    plans = tuple(_method(reader, name, reader.get(suite_methods, name, dict, "methods"), methods)
                  for name in suite_methods)
    device = reader.get(data, "device", str, default="cpu")
    if device not in DEVICES:
        raise reader.fail("device", f"{device!r}; choose from: {', '.join(DEVICES)}")
    suite = Suite(_name(reader, data), reader.get(data, "description", str, default=""),
                  reader.names(data, "models", list(MODELS)), reader.names(data, "datasets", list(DATASETS)),
                  tuple(reader.get(data, "seeds", list)), train, budget, {}, plans, {}, device, path,
                  _deviations(reader, data))
    for seed in suite.seeds:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise reader.fail("seeds", f"must be integers, got {seed!r}")
    transfer = {}
    for source, targets in reader.get(data, "transfer", dict, default={}).items():
        if source not in suite.datasets:
            raise reader.fail(f"transfer.{source}",
                              f"not a dataset of the suite; choose from: {', '.join(suite.datasets)}")
        transfer[source] = reader.names({source: targets}, source, list(DATASETS), "transfer")
        preprocessing = train.get("preprocessing", "paper")
        shape = _input_shape(source, preprocessing)
        for target in transfer[source]:
            if _input_shape(target, preprocessing) != shape:
                raise reader.fail(f"transfer.{source}", f"{target} inputs are {_input_shape(target, preprocessing)}, "
                                  f"{source} inputs {shape}: a mask cannot move between them")
    for plan in plans:
        if plan.match is not None and plan.match not in {p.name for p in plans}:
            raise reader.fail(f"methods.{plan.name}.match", f"{plan.match!r} is not a method of this suite")
    only = {}
    for model, datasets in reader.get(data, "only", dict, default={}).items():
        if model not in suite.models:
            raise reader.fail(f"only.{model}", f"not a model of the suite; choose from: {', '.join(suite.models)}")
        only[model] = reader.names({model: datasets}, model, list(suite.datasets), "only")
    try:
        for model, dataset in itertools.product(suite.models, suite.datasets):
            suite.train_config(model, dataset, suite.seeds[0])
    except ConfigError as exc:
        raise reader.fail("train", str(exc)) from None
    return dataclasses.replace(suite, transfer=transfer, only=only)


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
    content, so that a name always stands for one suite in the store."""
    presets = available_suites()
    path = presets.get(name_or_path) or Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"no suite {name_or_path!r}: not a preset ({', '.join(presets)}) nor a file")
    suite = read_suite(path)
    preset = presets.get(suite.name)
    if preset is not None and preset.resolve() != path.resolve() and suite != read_suite(preset):
        raise ConfigError(f"{path.name}: name: {suite.name!r} is a preset's name but the content differs from "
                          f"the preset's; rename the suite (the store keeps results by suite name)")
    return suite
