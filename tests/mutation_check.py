"""Mutation check: each known silent bug, planted in a copy of the source, must make the test suite fail.

Run it from the repository root with the project's environment::

    .venv/bin/python tests/mutation_check.py            # every mutant
    .venv/bin/python tests/mutation_check.py --list     # the mutants and the tests that must catch them

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


@dataclass(frozen=True)
class Mutant:
    """A planted bug: substitutions ``(file, old, new)`` (each ``old`` must occur exactly once) and the tests
    (pytest node ids or ``file -k expr`` arguments) that must fail on it."""

    name: str
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]


MUTANTS = (
    Mutant("MIP score shift sign flipped: a + (1-s)U instead of a - (1-s)U",
           (("benchmark/mip/activations.py", "shifted = Affine(a.const - magnitude,",
             "shifted = Affine(a.const + magnitude,"),
            ("benchmark/mip/activations.py", "block = sparse.csr_array((flat, (",
             "block = sparse.csr_array((-flat, (")),
           ("tests/test_mip.py",)),
    Mutant("a materialised variable is minus its expression instead of equal to it",
           (("benchmark/mip/affine.py", "[coef[many], -sparse.identity(len(many))]",
             "[coef[many], sparse.identity(len(many))]"),),
           ("tests/test_mip_sparse.py",)),
    Mutant("SNIP scores |w| instead of |g*w|",
           (("baselines/snip.py", "(w.grad * w).detach().abs()", "w.detach().abs()"),),
           ("tests/test_baselines.py", "-k", "snip")),
    Mutant("IMP without rewinding: each round continues from the trained weights",
           (("baselines/lottery.py", "ctx.train(rewound(model, rewind_state, weight_mask)",
             "ctx.train(rewound(model, model.state_dict(), weight_mask)"),),
           ("tests/test_baselines.py", "-k", "lottery")),
    Mutant("mask not reapplied after the optimiser step",
           (("benchmark/training.py",
             "optimizer.step()\n            if mask:\n                apply_weight_mask(model, mask)",
             "optimizer.step()"),),
           ("tests/test_training.py", "-k", "regrow")),
    Mutant("random draws with replacement",
           (("baselines/random_units.py", "torch.randperm(shape.numel(), generator=generator)",
             "torch.randint(shape.numel(), (shape.numel(),), generator=generator)"),),
           ("tests/test_baselines.py", "-k", "random")),
    Mutant("critical keeps the reference's top units instead of its bottom ones",
           (("baselines/critical.py", "values = {name: -s for name, s in", "values = {name: s for name, s in"),),
           ("tests/test_baselines.py", "-k", "critical")),
    Mutant("another platform's kept units pass whatever they are",
           (("benchmark/regression/compare.py", "ok = a is not None and b is not None and abs(a - b) <= tol",
             "ok = True"),),
           ("tests/test_regression_checks.py", "-k", "foreign")),
    Mutant("another platform's accuracy keeps the seed tolerance",
           (("benchmark/regression/compare.py", "tol = max(tol, tolerances.get(", "tol = min(tol, tolerances.get("),),
           ("tests/test_regression_checks.py", "-k", "foreign")),
    Mutant("records made with another torch compared figure by figure",
           (("benchmark/regression/compare.py", 'VERSIONS = ("torch", "python",', 'VERSIONS = ("python",'),),
           ("tests/test_regression_checks.py", "-k", "library_version")),
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


def main() -> int:
    """Check every mutant and print one line each; exit 1 if any survived."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    args = parser.parse_args()
    survived = 0
    for mutant in MUTANTS:
        if args.list:
            print(f"{mutant.name}: {' '.join(mutant.tests)}")
            continue
        verdict = check(mutant)
        survived += verdict != "killed"
        print(f"{verdict:8s}  {mutant.name}  ({' '.join(mutant.tests)})", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
