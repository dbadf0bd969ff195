"""Typed method options: a wrong name, type or choice is one line listing what is valid."""

import pytest

from baselines.lottery import LotteryOptions
from baselines.magnitude import MagnitudeOptions
from benchmark.core.errors import ConfigError
from benchmark.core.options import NoOptions, build_options
from benchmark.methods import Target, get_method, method_options


def test_strings_parse_by_the_type_hint_optional_floats_included():
    options = build_options(LotteryOptions, {"prune_fraction": "0.5", "round_epochs": "3"}, "lottery")
    assert options == LotteryOptions(prune_fraction=0.5, round_epochs=3)
    assert build_options(LotteryOptions, {"round_epochs": None}, "lottery").round_epochs is None


@pytest.mark.parametrize("values,message", [
    ({"rewind_iterations": 100}, "unknown lottery option 'rewind_iterations'; valid options: prune_fraction "
                                 "(float, default 0.2), round_epochs (int, default None), rewind_iteration"),
    ({"rewind_iteration": "ten"}, "lottery option rewind_iteration must be int, got 'ten'"),
    ({"rewind_iteration": 1.5}, "lottery option rewind_iteration must be int, got 1.5"),
    ({"norm": "l3"}, "lottery option norm must be one of l1, l2, got 'l3'"),
    ({"prune_fraction": 1.5}, "prune_fraction must lie in (0, 1)"),
])
def test_bad_options_are_one_line(values, message):
    with pytest.raises(ConfigError) as info:
        build_options(LotteryOptions, values, "lottery")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_each_method_gets_its_own_typed_options():
    assert method_options(get_method("magnitude"), {"norm": "l1"}) == MagnitudeOptions(norm="l1")
    assert method_options(get_method("random"), {}) == NoOptions()
    with pytest.raises(ConfigError, match="unknown random option 'norm'; valid options: none"):
        method_options(get_method("random"), {"norm": "l1"})
    with pytest.raises(ConfigError, match="takes MagnitudeOptions, not LotteryOptions"):
        method_options(get_method("magnitude"), LotteryOptions())


@pytest.mark.parametrize("target,message", [
    (dict(threshold=1.5), r"threshold must lie in \[0, 1\], got 1.5"),
    (dict(threshold=-0.1), r"threshold must lie in \[0, 1\], got -0.1"),
    (dict(sparsity=0.3, threshold=0.1), "give one target, not both sparsity and threshold"),
    (dict(sparsity=1.0), r"sparsity must lie in \[0, 1\), got 1.0"),
])
def test_targets_refuse_bad_values_and_conflicts(target, message):
    with pytest.raises(ConfigError, match=message):
        Target(**target)
