"""The dry-run estimate of decoupled blocks: each costs its build time (measured per block at full width) plus its
solve time (measured for the relaxed ce program under symbolic bounds, else its time limit), less at reduced width,
with fewer samples and under local bounds, never below the fixed cost."""

import dataclasses
from pathlib import Path

import pytest

from benchmark.mip import estimate as mip_estimate
from benchmark.pipeline import estimate
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import load_suite

SUITE = Path(__file__).parents[1] / "suites" / "decoupled.toml"


def _block_jobs(width_divisor: int, block_bounds: str, n_samples: int = 10, propagation: str = "interval",
                **options):
    jobs = [job for job in plan_suite(load_suite(str(SUITE))) if job.kind == "block"]
    return [dataclasses.replace(job, spec=dataclasses.replace(job.spec, prune=dataclasses.replace(
        job.spec.prune, train=dataclasses.replace(job.spec.prune.train, width_divisor=width_divisor),
        options=dataclasses.replace(job.spec.prune.options, block_bounds=block_bounds, n_samples=n_samples,
                                    bound_propagation=propagation, **options))))
        for job in jobs]


def test_a_full_width_block_costs_its_measured_build_plus_its_time_limit():
    jobs = _block_jobs(1, "network")
    limit = jobs[0].spec.prune.options.time_limit
    work = [estimate.job_seconds(job, "cpu") - estimate.OVERHEAD["cpu"] for job in jobs]
    assert work == pytest.approx([seconds + limit for seconds in mip_estimate.BLOCK_BUILD_SECONDS])


def test_narrower_networks_smaller_batches_and_local_bounds_build_faster_down_to_the_fixed_cost():
    def build(*args):
        return [mip_estimate.block_build_seconds(job.spec) for job in _block_jobs(*args)]

    full, floor = build(1, "network"), min(mip_estimate.BLOCK_BUILD_SECONDS)
    assert build(8, "network") == pytest.approx([max(floor, f / 64) for f in full])
    assert build(1, "network", 20) == pytest.approx([2 * f for f in full])  # the work grows with the batch
    assert build(1, "local") == [floor] * len(full)


def test_a_symbolic_block_past_the_first_adds_the_networks_pass_to_its_measured_build():
    jobs = _block_jobs(1, "network", propagation="symbolic")
    build = [mip_estimate.block_build_seconds(job.spec) for job in jobs]
    passes = [0.0] + [mip_estimate.SYMBOLIC_NETWORK_SECONDS] * (len(jobs) - 1)  # block 0 takes the input box
    assert build == pytest.approx([b + p for b, p in zip(mip_estimate.SYMBOLIC_BUILD_SECONDS, passes)])
    narrow = [mip_estimate.block_build_seconds(job.spec) for job in _block_jobs(8, "network", propagation="symbolic")]
    assert narrow == pytest.approx([max(min(mip_estimate.BLOCK_BUILD_SECONDS), b / 64) for b in build])
    assert [note for note in estimate.notes(jobs) if "measured on a weakly trained network" in note] == [
        mip_estimate.FULL_WIDTH_WARNING.format("results/vgg16-blocks/block_solve_cpu.md")]


def test_a_symbolic_relaxed_ce_block_costs_its_measured_solve_within_its_time_limit():
    def solve(*args, **options):
        return [mip_estimate.block_solve_seconds(job.spec) for job in _block_jobs(*args, **options)]

    measured = list(mip_estimate.SYMBOLIC_SOLVE_SECONDS)
    assert solve(1, "network", 10, "symbolic", loss="ce", relaxed=True, time_limit=3600.0) == pytest.approx(measured)
    assert solve(1, "network", 10, "symbolic", loss="ce", relaxed=True, time_limit=60.0) == pytest.approx(
        [min(60.0, m) for m in measured])
    assert solve(4, "network", 20, "symbolic", loss="ce", relaxed=True, time_limit=3600.0) == pytest.approx(
        [m * 2 / 16 for m in measured])
    for other in ({"loss": "margin", "relaxed": True}, {"loss": "ce", "relaxed": False}):  # never measured
        assert solve(1, "network", 10, "symbolic", time_limit=600.0, **other) == [600.0] * len(measured)
    assert solve(1, "network", 10, "interval", loss="ce", relaxed=True, time_limit=600.0) == [600.0] * len(measured)
