"""Fixture networks of the solver-work regression: a trained network and its MIP batch, frozen in a small file.

The solver work (nodes, LP iterations, binaries) of a MIP built from a freshly trained network follows the last
bits of the training, and those differ from one processor kind to another. A committed fixture takes training out
of the comparison: the network and batch are the same bytes everywhere, so what is left is the MIP builder's
float path and SCIP. A fixture file is ``torch.save`` of ``{"config", "state_dict", "inputs", "labels"}``, gzip
compressed; ``python -m benchmark.regression.fixtures`` (re)writes them from the regression suites' own training
(seed 0, one torch thread), and the file's sha256 goes into every solver record.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.mip.config import MIPConfig
from benchmark.nn.models import build_model

FIXTURES_DIR = Path(__file__).parent / "frozen"  # package data (see frozen/README.md)


@dataclass(frozen=True)
class SolverCase:
    """One solver-work configuration: a fixture network, the MIP options, the images used and the threshold."""

    name: str
    fixture: str
    options: MIPConfig
    n_samples: int
    threshold: float


# the regression suite's LeNet-5 (3 epochs on a 6,000-image MNIST slice, seed 0) and its 10-image batch
FIXTURE_CONFIGS = {"lenet5-mnist": TrainConfig.paper("lenet5", "mnist", epochs=3, train_limit=6000)}
CASES = (
    SolverCase("lenet5-mnist-margin", "lenet5-mnist", MIPConfig(loss="margin", time_limit=600.0, node_limit=20000),
               10, 0.2),
    SolverCase("lenet5-mnist-ce-relaxed", "lenet5-mnist", MIPConfig(loss="ce", relaxed=True, time_limit=600.0,
                                                                    node_limit=20000, solver="scip"), 3, 0.2),
)


@dataclass(frozen=True)
class Fixture:
    """A loaded fixture: the network (eval mode, CPU, float32), its batch, and the file's sha256."""

    config: TrainConfig
    model: nn.Sequential
    inputs: torch.Tensor
    labels: torch.Tensor
    sha256: str


def fixture_path(name: str, directory: Path = FIXTURES_DIR) -> Path:
    """Where fixture ``name`` lives."""
    return Path(directory) / f"{name}.pt.gz"


def load_fixture(name: str, directory: Path = FIXTURES_DIR) -> Fixture:
    """Read fixture ``name``: rebuild its model from the stored config and load the weights."""
    raw = fixture_path(name, directory).read_bytes()
    saved = torch.load(io.BytesIO(gzip.decompress(raw)), weights_only=True)
    config = TrainConfig(**json.loads(saved["config"]))
    model = build_model(config.model, tuple(saved["inputs"].shape[1:]), int(saved["num_classes"]))
    model.load_state_dict(saved["state_dict"])
    return Fixture(config, model.eval(), saved["inputs"], saved["labels"], hashlib.sha256(raw).hexdigest())


def write_fixture(name: str, data_dir: str | None, directory: Path = FIXTURES_DIR) -> Path:
    """Train (in a temporary model cache, one torch thread) the network of fixture ``name``, pick its MIP batch
    as the prune stage does, and write the fixture file; returns its path."""
    from benchmark.pipeline import experiment
    from benchmark.regression.configs import isolated_run

    config = FIXTURE_CONFIGS[name]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache, isolated_run(Path(cache)):
        exp = experiment.prepare(config, data_dir, batch_size=max(case.n_samples for case in CASES))
    buffer = io.BytesIO()
    torch.save({"config": json.dumps(dataclasses.asdict(config)), "state_dict": exp.trained.model.state_dict(),
                "inputs": exp.batch[0], "labels": exp.batch[1], "num_classes": exp.splits.train.num_classes}, buffer)
    path = fixture_path(name, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


def main(argv: list[str] | None = None) -> int:
    """Write every fixture of :data:`FIXTURE_CONFIGS` (or those named) from the data under ``--data-dir``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(FIXTURE_CONFIGS))
    parser.add_argument("--data-dir", default=None, help="data root (default: $TICKETBENCH_DATA, then the cache)")
    parser.add_argument("--out", type=Path, default=FIXTURES_DIR, help="folder (default: the package's frozen/)")
    args = parser.parse_args(argv)
    for name in args.names:
        path = write_fixture(name, args.data_dir, args.out)
        print(f"written: {path} ({path.stat().st_size:,d} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
