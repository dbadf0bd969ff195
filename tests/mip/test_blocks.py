"""The decoupled MIP's sub-MIPs as harness stages: planned one per block, run on the executor, merged into the
same scores as solving every block in one process, resumable block by block."""

import json
from pathlib import Path

import torch

from benchmark.mip.decoupled import score_decoupled
from benchmark.nn.heads import make_heads
from benchmark.pipeline.executors import make_executor
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.runner import run_suite
from benchmark.pipeline.stage_context import load_data, load_trained
from benchmark.pipeline.stages import StageEnv
from benchmark.pipeline.suites import load_suite
from benchmark.store.artifacts import ArtifactDir
from benchmark.store.db import ResultStore

SUITE = Path(__file__).parents[1] / "suites" / "decoupled.toml"


def _run(store, fixture_root, executor="local", workers=2):
    env = StageEnv(store, "decoupled", str(fixture_root), 1)
    return run_suite(load_suite(str(SUITE)), env, make_executor(executor, workers), progress=False), env


def test_the_plan_gives_heads_and_one_stage_per_block_before_the_prunes():
    jobs = plan_suite(load_suite(str(SUITE)))
    kinds = [job.kind for job in jobs]
    assert kinds.count("heads") == 1 and kinds.count("block") == 13 and kinds.count("prune") == 2
    blocks = {job.hash for job in jobs if job.kind == "block"}
    for prune in (job for job in jobs if job.kind == "prune"):
        assert blocks <= set(prune.needs)  # both thresholds share the same 13 sub-MIPs
    order = {job.hash: i for i, job in enumerate(jobs)}
    assert all(order[need] < order[job.hash] for job in jobs for need in job.needs)


def test_blocks_on_the_executor_merge_to_the_single_process_scores_and_resume_per_block(tmp_path, fixture_root):
    store = tmp_path / "store"
    report, env = _run(store, fixture_root)
    assert not report.failures and report.ran == report.planned
    rows = {row["hash"]: row for row in ResultStore(store).rows()}
    jobs = plan_suite(load_suite(str(SUITE)))
    prune = next(job for job in jobs if job.kind == "prune" and job.primary)
    record = rows[prune.hash]["record"]
    assert len(record["stats"]["blocks"]) == 13 and record["stats"]["heads"] == "fitted"
    assert record["stats"]["binaries"] == sum(b["binaries"] for b in record["stats"]["blocks"])

    # the same sub-MIPs solved in one process, on the stored heads, give the same scores
    heads_job = next(job for job in jobs if job.kind == "heads")
    model = load_trained(prune.spec.train, env.data_dir).model
    data = load_data(prune.spec.train, env.data_dir)
    heads = make_heads(model, data.train.input_shape, data.train.num_classes)
    heads.load_state_dict(ArtifactDir(store).load_tensors(heads_job.hash, "heads.pt"))
    config = prune.spec.options.for_seed(prune.spec.train.seed)
    direct = score_decoupled(model, heads, data.val, config, 0.2, workers=0)
    stored = ArtifactDir(store).load_tensors(prune.hash, "prune.pt")
    assert list(stored["values"]) == list(direct.scores)
    for name, scores in direct.scores.items():
        assert torch.equal(stored["values"][name], scores)

    # a lost block is solved again, and only it (the prunes that need it were stored and stay)
    block = next(job for job in jobs if job.kind == "block" and job.point == "block 5")
    ResultStore(store).write(lambda conn: conn.execute("DELETE FROM results WHERE hash = ?", (block.hash,)))
    again, _ = _run(store, fixture_root, executor="inline", workers=1)
    assert (again.ran, again.stored) == (1, report.planned - 1) and not again.failures


def test_an_exact_block_row_gives_its_gap_to_the_relaxed_optimum_kept_beside_it(tmp_path):
    from benchmark.perf.block_solve import relaxed_optimum, row

    (tmp_path / "block3_relaxed_120.json").write_text(json.dumps({"status": "unknown", "primal_bound": 2.0}))
    (tmp_path / "block3_relaxed_300.json").write_text(json.dumps({"status": "optimal", "primal_bound": 10.0}))
    assert relaxed_optimum(tmp_path, 3) == 10.0 and relaxed_optimum(tmp_path, 4) is None
    exact = {"binaries_before_stable_removal": 9, "stable_inactive": 4, "stable_active": 3, "largest_big_m": 0.5,
             "variables": 20, "constraints": 30, "build_seconds": 1.0, "solve_seconds": 2.0, "peak_gb": 0.1,
             "status": "timelimit", "primal_bound": 10.5, "dense_start_accepted": True, "dense_start_objective": 11.0,
             "rounding_start_accepted": True, "rounding_start_objective": 10.5, "rounding_start_cpu_seconds": 40.2,
             "gap": 1e20, "solver": "scip", "solver_version": "10.0"}
    cells = [cell.strip() for cell in row(3, exact, relaxed_optimum(tmp_path, 3)).split("|")[1:-1]]
    assert cells[:3] == ["3", "2", "0.5"]
    assert cells[-6:] == ["yes (11)", "accepted 10.5 after 40 CPU s", "1e+20", "10", "0.05", "scip 10.0"]
