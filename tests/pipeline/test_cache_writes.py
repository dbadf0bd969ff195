"""Cache writes: two processes training one config, an unwritable cache, a target that appears meanwhile."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import benchmark.pipeline.model_cache
from benchmark.core.config import TrainConfig
from benchmark.pipeline.model_cache import atomic_directory, get_trained, is_complete, model_dir
from benchmark.store import WriteError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
TRAIN_WHEN_RELEASED = f"""
import sys
from benchmark.pipeline.model_cache import get_trained
from benchmark.core.config import TrainConfig
from datasets import load_splits
splits = load_splits("mnist", "paper", {str(FIXTURES)!r}, seed=0, allow_download=False)
print("ready", flush=True)
sys.stdin.readline()
print("from_cache", get_trained(TrainConfig.paper("fc3", "mnist", epochs=1), splits).from_cache, flush=True)
"""


def test_two_processes_train_one_config_once(tmp_path):
    env = {**os.environ, "TICKETBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN_WHEN_RELEASED], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
    for p in procs:  # release both at once: each checks the cache before the other can have written it
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["from_cache False", "from_cache True"]
    path = model_dir(TrainConfig.paper("fc3", "mnist", epochs=1), tmp_path / "cache")
    assert is_complete(path)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([".locks", path.name])  # no temp dirs


def test_a_file_in_place_of_the_cache_fails_before_training(tmp_path, monkeypatch, mnist_small):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("TICKETBENCH_CACHE", str(blocker))
    monkeypatch.setattr(benchmark.pipeline.model_cache, "fit",
                        lambda *a, **k: pytest.fail("trained before checking the cache"))
    with pytest.raises(WriteError, match=f"^cannot write the model cache {blocker}/models/.locks: a part of the path "
                                         "is a regular file, not a directory; .*TICKETBENCH_CACHE") as info:
        get_trained(TrainConfig.paper("fc3", "mnist", epochs=1), mnist_small)
    assert "\n" not in str(info.value)


def test_target_that_appears_meanwhile_is_kept(tmp_path):
    target = tmp_path / "entry"

    def write(tmp: Path) -> None:
        (tmp / "mine").write_text("late")
        target.mkdir()  # another writer finished first
        (target / "theirs").write_text("first")

    atomic_directory(target, write)
    assert [p.name for p in target.iterdir()] == ["theirs"] and list(tmp_path.iterdir()) == [target]


def test_a_damaged_entry_is_retrained(mnist_small):
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    path = get_trained(config, mnist_small).path
    (path / "metrics.json").unlink()
    again = get_trained(config, mnist_small)
    assert not again.from_cache and is_complete(path)
