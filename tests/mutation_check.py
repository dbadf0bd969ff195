"""Mutation check: each known silent bug, planted in a copy of the source, must make the test suite fail.

Run it from the repository root with the project's environment::

    .venv/bin/python tests/mutation_check.py            # every mutant
    .venv/bin/python tests/mutation_check.py --list     # the mutants and the tests that must catch them
    .venv/bin/python tests/mutation_check.py --match test_stage_semantics   # only the mutants named so

For each mutant the package and its tests are copied to a temporary directory, one exact text substitution
(or a few) is applied, and the tests named for that mutant run there. A mutant is *killed* when those tests
fail (pytest exit status 1). The unmutated copy is run first with the same tests, which must pass, so a kill
is never a broken setup. The exit status is 1 if any mutant survives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("benchmark", "baselines", "datasets", "tests", "docs", "pyproject.toml")
STAGES, EXPERIMENT = "benchmark/pipeline/stages.py", "benchmark/pipeline/experiment.py"
SEMANTICS = "tests/pipeline/test_stage_semantics.py"


@dataclass(frozen=True)
class Mutant:
    """A planted bug: substitutions ``(file, old, new)`` (each ``old`` must occur exactly once) and the tests
    (pytest node ids or ``file -k expr`` arguments) that must fail on it."""

    name: str
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]


MUTANTS = (
    Mutant("auto gives sum_largest's degenerate relaxed optimum to the simplex (a vertex), not the interior point",
           (("benchmark/mip/config.py", "            return CENTRED_SOLVERS",
             "            return PROGRAM_SOLVERS[self.program]"),),
           ("tests/mip/test_mip_solvers.py", "-k", "degenerate")),
    Mutant("Clarabel's exponential cone takes +t instead of z - t",
           (("benchmark/mip/clarabel_cone.py", "[-np.ones(len(u)), np.ones(len(u)), -np.ones(len(u))]",
             "[-np.ones(len(u)), -np.ones(len(u)), -np.ones(len(u))]"),),
           ("tests/mip/test_mip_solvers.py",)),
    Mutant("MIP score shift sign flipped: a + (1-s)U instead of a - (1-s)U",
           (("benchmark/mip/activations.py", "shifted = Affine(a.const - magnitude,",
             "shifted = Affine(a.const + magnitude,"),
            ("benchmark/mip/activations.py", "block = sparse.csr_array((flat, (",
             "block = sparse.csr_array((-flat, (")),
           ("tests/mip/test_mip.py",)),
    Mutant("a materialised variable is minus its expression instead of equal to it",
           (("benchmark/mip/affine.py", "[coef[many], -sparse.identity(len(many))]",
             "[coef[many], sparse.identity(len(many))]"),),
           ("tests/mip/test_mip_sparse.py",)),
    Mutant("SNIP scores |w| instead of |g*w|",
           (("baselines/snip.py", "(w.grad * w).detach().abs()", "w.detach().abs()"),),
           ("tests/baselines/test_baselines.py", "-k", "snip")),
    Mutant("IMP without rewinding: each round continues from the trained weights",
           (("baselines/lottery.py", "ctx.train(rewound(model, rewind_state, weight_mask)",
             "ctx.train(rewound(model, model.state_dict(), weight_mask)"),),
           ("tests/baselines/test_baselines.py", "-k", "lottery")),
    Mutant("mask not reapplied after the optimiser step",
           (("benchmark/nn/training.py",
             "optimizer.step()\n            if mask:\n                apply_weight_mask(model, mask)",
             "optimizer.step()"),),
           ("tests/nn/test_training.py", "-k", "regrow")),
    Mutant("random draws with replacement",
           (("baselines/random_units.py", "torch.randperm(shape.numel(), generator=generator)",
             "torch.randint(shape.numel(), (shape.numel(),), generator=generator)"),),
           ("tests/baselines/test_baselines.py", "-k", "random")),
    Mutant("critical keeps the reference's top units instead of its bottom ones",
           (("baselines/critical.py", "values = {name: -s for name, s in", "values = {name: s for name, s in"),),
           ("tests/baselines/test_baselines.py", "-k", "critical")),
    Mutant("another platform's kept units pass whatever they are",
           (("benchmark/regression/compare.py", "ok = a is not None and b is not None and abs(a - b) <= tol",
             "ok = True"),),
           ("tests/regression/test_regression_checks.py", "-k", "foreign")),
    Mutant("another platform's accuracy keeps the seed tolerance",
           (("benchmark/regression/compare.py", "tol = max(tol, tolerances.get(", "tol = min(tol, tolerances.get("),),
           ("tests/regression/test_regression_checks.py", "-k", "foreign")),
    Mutant("records made with another torch compared figure by figure",
           (("benchmark/regression/compare.py", 'VERSIONS = ("torch", "python",', 'VERSIONS = ("python",'),),
           ("tests/regression/test_regression_checks.py", "-k", "library_version")),
    # --- the semantics of the stages after pruning (tests/pipeline/test_stage_semantics.py) ---
    Mutant("transfer starts from the source's trained weights instead of its theta_0",
           ((STAGES, "start_state=exp.trained.init_state, mask=result.weight_mask",
             "start_state=exp.trained.model.state_dict(), mask=result.weight_mask"),),
           (SEMANTICS, "-k", "transfer_trains")),
    Mutant("transfer starts a late-rewound ticket from its theta_k instead of theta_0",
           ((STAGES, "start_state=exp.trained.init_state, mask=result.weight_mask",
             "start_state=result.scores.rewind_state or exp.trained.init_state, mask=result.weight_mask"),),
           (SEMANTICS, "-k", "transfer_trains")),
    Mutant("transfer trains without the ticket's mask",
           ((STAGES, "start_state=exp.trained.init_state, mask=result.weight_mask",
             "start_state=exp.trained.init_state, mask=None"),),
           (SEMANTICS, "-k", "transfer_trains")),
    Mutant("transfer trains on the source's data instead of the target's",
           ((STAGES, "splits = load_data(spec.target, env.data_dir)",
             "splits = load_data(spec.prune.train, env.data_dir)"),),
           (SEMANTICS, "-k", "transfer_trains")),
    Mutant("the random control reports the ticket's own transfer",
           ((STAGES, "inputs.records[TransferSpec(control_prune(spec.prune), spec.target).hash]",
             "inputs.records[TransferSpec(spec.prune, spec.target).hash]"),),
           (SEMANTICS, "-k", "control_reports")),
    Mutant("the random control is the critical (complement-ordered) mask at the same counts",
           (("benchmark/pipeline/plan.py", 'PruneSpec(spec.train, "random", NoOptions()',
             'PruneSpec(spec.train, "critical", NoOptions()'),),
           (SEMANTICS, "-k", "control_reports")),
    Mutant("the prune stage scores with seed 0 whatever the suite seed",
           ((STAGES, "spec.granularity, spec.train.seed, spec.options", "spec.granularity, 0, spec.options"),),
           (SEMANTICS, "-k", "suite_seed")),
    Mutant("random draws from an unseeded generator",
           (("baselines/random_units.py", "torch.Generator().manual_seed(ctx.seed)",
             "torch.Generator().manual_seed(torch.seed())"),),
           (SEMANTICS, "-k", "suite_seed")),
    Mutant("pruned accuracy measured on the validation split",
           ((EXPERIMENT, "exp.splits.test)[1]", "exp.splits.val)[1]"),),
           (SEMANTICS, "-k", "pruned_accuracy")),
    Mutant("pruned accuracy measured without applying the mask",
           ((EXPERIMENT, "apply_weight_mask(pruned, result.weight_mask)\n", "\n"),),
           (SEMANTICS, "-k", "pruned_accuracy")),
    Mutant("fine-tuning starts from theta_0 instead of the trained weights",
           ((EXPERIMENT, "start_state=pruned.state_dict(), mask=result.weight_mask",
             "start_state=exp.trained.init_state, mask=result.weight_mask"),),
           (SEMANTICS, "-k", "fine_tuning")),
    Mutant("fine-tuning without the mask",
           ((EXPERIMENT, "start_state=pruned.state_dict(), mask=result.weight_mask",
             "start_state=pruned.state_dict(), mask=None"),),
           (SEMANTICS, "-k", "fine_tuning")),
    Mutant("retraining ignores the stored theta_k of late rewinding",
           ((STAGES, 'rewind_state=saved["rewind_state"]', "rewind_state=None"),),
           (SEMANTICS, "-k", "retraining")),
    Mutant("retraining starts from the trained weights instead of theta_0",
           ((EXPERIMENT, "result.scores.rewind_state or exp.trained.init_state",
             "result.scores.rewind_state or exp.trained.model.state_dict()"),),
           (SEMANTICS, "-k", "retraining")),
    Mutant("retraining without the mask",
           ((EXPERIMENT, "start_state=rewind_state, mask=result.weight_mask", "start_state=rewind_state, mask=None"),),
           (SEMANTICS, "-k", "retraining")),
    Mutant("the threshold rule prunes a unit scoring exactly tau",
           (("benchmark/methods/selection.py", "mask[name] = s >= tau", "mask[name] = s > tau"),),
           (SEMANTICS, "-k", "exactly_tau")),
)


def copy_tree(dest: Path) -> None:
    """Copy the package sources and tests (no caches) into ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)


def apply(dest: Path, mutant: Mutant) -> None:
    """Plant the mutant's edits; an edit whose text is not found exactly once is an error (the code moved)."""
    for file, old, new in mutant.edits:
        path = dest / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"mutant {mutant.name!r} no longer applies: {old!r} occurs {text.count(old)} "
                             f"times in {file}; update tests/mutation_check.py")
        path.write_text(text.replace(old, new))


def run_tests(dest: Path, tests: tuple[str, ...]) -> int:
    """Run pytest on ``tests`` inside ``dest`` with ``dest`` first on the import path; returns the exit status."""
    env = {**os.environ, "PYTHONPATH": str(dest), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    return subprocess.run(command, cwd=dest, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def check(mutant: Mutant) -> str:
    """``killed`` or ``SURVIVED`` for one mutant (after checking the unmutated copy passes the same tests)."""
    with tempfile.TemporaryDirectory(prefix="ticketbench-mutant-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        if run_tests(dest, mutant.tests) != 0:
            raise SystemExit(f"the unmutated tests for {mutant.name!r} fail: fix them first")
        apply(dest, mutant)
        return "killed" if run_tests(dest, mutant.tests) == 1 else "SURVIVED"


def selected(texts: list[str]) -> list[Mutant]:
    """The mutants whose name or tests contain any of ``texts`` (every mutant when none is given)."""
    return [m for m in MUTANTS if not texts or any(text in " ".join((m.name, *m.tests)) for text in texts)]


def main() -> int:
    """Check every mutant and print one line each; exit 1 if any survived."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--match", action="append", default=[], metavar="TEXT",
                        help="only the mutants whose name or tests contain TEXT (repeatable: any of them)")
    args = parser.parse_args()
    survived = 0
    for mutant in selected(args.match):
        if args.list:
            print(f"{mutant.name}: {' '.join(mutant.tests)}")
            continue
        verdict = check(mutant)
        survived += verdict != "killed"
        print(f"{verdict:8s}  {mutant.name}  ({' '.join(mutant.tests)})", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
