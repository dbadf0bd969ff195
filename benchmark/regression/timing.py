"""The time regression's yardstick: a fixed control MIP instance, solved beside each timed MIP, and a clock that
makes pytest-benchmark record their ratio instead of seconds.

Wall-clock seconds on a shared machine move with its speed and load; the ratio of a timed MIP (our encoding and
SCIP's solve of it) to a fixed instance solved by SCIP in the same process, right before and right after it,
mostly does not. :func:`paired_round` measures one such ratio; :class:`RatioClock` is handed to pytest-benchmark
as its timer, so every round's "duration" is that ratio and ``--benchmark-compare-fail=median:25%`` compares the
median ratio (see ``benchmark/perf/bench_regression.py``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pyscipopt as scip

CONTROL = Path(__file__).parent / "frozen" / "fc3-control.mps.gz"  # package data (see frozen/README.md)
CONTROL_REPEATS = 10  # one solve takes about 0.07 s; ten make a control about as long as the timed MIPs


class RatioClock:
    """A pytest-benchmark timer that reads the sum of the ratios recorded so far: the "seconds" a round takes
    on this clock are the ratio :func:`paired_round` adds during it."""

    def __init__(self):
        self.value = 0.0
        self.seconds: list[tuple[float, float]] = []  # (candidate, control) wall seconds of every round

    def __call__(self) -> float:
        return self.value

    def add(self, ratio: float) -> None:
        """Advance the clock by ``ratio``."""
        self.value += ratio


def solve_control(path: Path = CONTROL, repeats: int = CONTROL_REPEATS, seed: int = 0) -> None:
    """Read and solve the control instance ``repeats`` times with one thread and SCIP's seed shift ``seed``."""
    for _ in range(repeats):
        model = scip.Model()
        model.hideOutput()
        model.readProblem(str(path))
        model.setParam("parallel/maxnthreads", 1)
        model.setParam("randomization/randomseedshift", seed)
        model.optimize()
        if model.getStatus() != "optimal":
            raise RuntimeError(f"the control instance {path} ended {model.getStatus()}, not optimal")


def paired_round(clock: RatioClock, candidate: Callable[[], object], control: Callable[[], object] = solve_control,
                 timer: Callable[[], float] = time.perf_counter) -> float:
    """Time ``control``, ``candidate``, ``control``; add candidate / mean(control) to ``clock``; return it."""
    t0 = timer()
    control()
    t1 = timer()
    candidate()
    t2 = timer()
    control()
    t3 = timer()
    reference = ((t1 - t0) + (t3 - t2)) / 2
    ratio = (t2 - t1) / reference
    clock.seconds.append((t2 - t1, reference))
    clock.add(ratio)
    return ratio


def seconds_info(clock: RatioClock) -> dict:
    """Median wall seconds of the timed MIP and of the control, for ``benchmark.extra_info``."""
    return {"candidate_median_s": round(statistics.median(c for c, _ in clock.seconds), 4),
            "control_median_s": round(statistics.median(r for _, r in clock.seconds), 4)}


def write_control(data_dir: Path, path: Path = CONTROL) -> Path:
    """Export the control instance: FC-3 trained 5 epochs on the MNIST under ``data_dir`` (the test fixture
    slice, ``tests/fixtures/data``; seed 0, one thread), the margin-loss MIP on its first one-per-class image, as
    gzipped MPS. Run once; the file is then fixed."""
    import gzip
    import shutil
    import tempfile

    from benchmark.core.config import TrainConfig
    from benchmark.mip.config import MIPConfig
    from benchmark.mip.scorer import score_network
    from benchmark.nn.threads import configure_threads
    from benchmark.pipeline.experiment import prepare

    configure_threads(1, cores=1)
    exp = prepare(TrainConfig.paper("fc3", "mnist", epochs=5), data_dir=data_dir)
    x, y = exp.batch
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "control.mps"
        score_network(exp.trained.model, x[:1], y[:1], MIPConfig(loss="margin", n_samples=1), 0.1, export_path=plain)
        path.parent.mkdir(parents=True, exist_ok=True)
        with plain.open("rb") as source, gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as target:
            shutil.copyfileobj(source, target)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.regression.timing --data-dir tests/fixtures/data``: write the control instance."""
    import argparse

    parser = argparse.ArgumentParser(description=write_control.__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the MNIST slice, tests/fixtures/data")
    parser.add_argument("--out", type=Path, default=CONTROL, help="the file (default: the package's)")
    args = parser.parse_args(argv)
    print(f"written: {write_control(args.data_dir, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
