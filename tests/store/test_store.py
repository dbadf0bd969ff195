"""Results store: SQLite rows, concurrent writers, atomic artifacts, the manifest, the results frame and exports.

Spawned writer processes import this module, so it keeps torch (imported by ``benchmark.store.artifacts``) out
of its top level: the artifact tests import it themselves.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmark
from benchmark.store import StoreError
from benchmark.store.db import ResultStore
from benchmark.store.export import FORMATS, export_results
from benchmark.store.frame import load_results
from benchmark.store.manifest import git_sha, manifest

SHARED_HASH = "f" * 16


def stage_hash(i: int, writer: int = 0) -> str:
    return f"{writer:04x}{i:012x}"


def row_count(root: Path) -> int:
    with sqlite3.connect(root / "results.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def test_put_get_round_trip_and_persistence(tmp_path):
    store = ResultStore(tmp_path)
    record = {"model": "fc3", "seed": 1, "acc": np.float64(0.25), "counts": np.array([3, 4]),
              "finetuned_accuracy": float("nan"), "solver": {"nodes": 7}}
    store.put(stage_hash(1), "evaluate", record, wall_seconds=2.5, suites=["smoke"])
    row = ResultStore(tmp_path).get(stage_hash(1))
    assert (row["hash"], row["stage"], row["status"], row["wall_seconds"]) == (stage_hash(1), "evaluate", "ok", 2.5)
    assert row["record"]["acc"] == 0.25 and row["record"]["counts"] == [3, 4]
    assert row["record"]["solver"] == {"nodes": 7} and math.isnan(row["record"]["finetuned_accuracy"])
    assert store.has(stage_hash(1)) and not store.has(stage_hash(2)) and store.get(stage_hash(2)) is None
    assert store.hashes() == store.hashes("smoke") == [stage_hash(1)] and store.hashes("paper") == []


def test_second_put_replaces_the_row_and_unions_suites(tmp_path):
    store = ResultStore(tmp_path)
    store.put(stage_hash(1), "train", {"x": 1}, 1.0, status="failed", suites=["a"])
    store.put(stage_hash(1), "train", {"x": 2}, 2.0, suites=["b"])
    assert row_count(tmp_path) == 1
    row = store.get(stage_hash(1))
    assert (row["status"], row["record"], row["wall_seconds"]) == ("ok", {"x": 2}, 2.0)
    assert store.hashes("a") == store.hashes("b") == [stage_hash(1)]


def test_put_is_one_transaction(tmp_path):
    store = ResultStore(tmp_path)
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:  # make the suite insert fail after the result's
        conn.execute("CREATE TRIGGER fail BEFORE INSERT ON suite_members WHEN NEW.suite = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
        store.put(stage_hash(1), "train", {}, 1.0, suites=["ok", "boom"])
    assert not store.has(stage_hash(1)) and store.hashes("ok") == []


def test_add_to_suite_accepts_stored_hashes_only(tmp_path):
    store = ResultStore(tmp_path)
    store.put(stage_hash(1), "train", {}, 1.0)
    store.add_to_suite("quick", [stage_hash(1), stage_hash(1)])
    assert store.hashes("quick") == [stage_hash(1)]
    with pytest.raises(StoreError, match=stage_hash(2)):
        store.add_to_suite("paper", [stage_hash(1), stage_hash(2)])
    assert store.hashes("paper") == []


@pytest.mark.parametrize("bad", ["abc", "G" * 16, "0123456789ABCDEF", "../../etc/passwd"])
def test_malformed_hash_is_refused(tmp_path, bad):
    with pytest.raises(StoreError, match="16 lowercase hex"):
        ResultStore(tmp_path).put(bad, "train", {}, 1.0)


@pytest.mark.parametrize("suite", [None, "", 3])
def test_suite_names_are_non_empty_strings(tmp_path, suite):
    store = ResultStore(tmp_path)
    with pytest.raises(StoreError, match="suite name"):
        store.put(stage_hash(1), "train", {}, 1.0, suites=[suite])
    store.put(stage_hash(1), "train", {}, 1.0)
    with pytest.raises(StoreError, match="suite name"):
        store.add_to_suite(suite, [stage_hash(1)])


def test_record_may_not_shadow_store_columns(tmp_path):
    with pytest.raises(StoreError, match="status"):
        ResultStore(tmp_path).put(stage_hash(1), "evaluate", {"status": "optimal"}, 1.0)


def write_many(root: Path, writer: int, count: int) -> None:
    """One writer: ``count`` rows of its own, and the shared row every writer puts."""
    store = ResultStore(root)
    for i in range(count):
        store.put(stage_hash(i, writer), "train", {"writer": writer, "i": i}, 0.1, suites=["all", f"w{writer}"])
    store.put(SHARED_HASH, "train", {"writer": writer}, 0.1, suites=[f"w{writer}"])


def test_concurrent_processes_and_threads_lose_nothing(tmp_path):
    processes = [multiprocessing.get_context("spawn").Process(target=write_many, args=(tmp_path, w, 50))
                 for w in range(4)]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(write_many, tmp_path, w, 50) for w in range(4, 8)]:
            future.result()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 4
    store = ResultStore(tmp_path)
    expected = {stage_hash(i, w) for w in range(8) for i in range(50)}
    assert set(store.hashes("all")) == expected and len(store.hashes()) == 401 == row_count(tmp_path)
    assert all(len(store.hashes(f"w{w}")) == 51 for w in range(8))
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.fixture
def artifacts(tmp_path):
    from benchmark.store.artifacts import ArtifactDir

    return ArtifactDir(tmp_path)


def test_tensors_round_trip_without_leftover_files(artifacts, tmp_path):
    import torch

    tensors = {"fc1": torch.randn(3, 4), "mask": torch.tensor([True, False])}
    path = artifacts.save_tensors(stage_hash(1), "scores.pt", tensors)
    assert path == tmp_path / "artifacts" / stage_hash(1) / "scores.pt" == artifacts.path(stage_hash(1), "scores.pt")
    assert artifacts.exists(stage_hash(1), "scores.pt") and not artifacts.exists(stage_hash(1), "mask.pt")
    loaded = artifacts.load_tensors(stage_hash(1), "scores.pt")
    assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    artifacts.save_json(stage_hash(1), "stats.json", {"nodes": 3})
    assert artifacts.load_json(stage_hash(1), "stats.json") == {"nodes": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["scores.pt", "stats.json"]


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(artifacts):
    def crash(tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        artifacts.write(stage_hash(1), "mip.cip", crash)
    assert not artifacts.exists(stage_hash(1), "mip.cip")
    assert list(artifacts.path(stage_hash(1), "mip.cip").parent.iterdir()) == []
    artifacts.save_json(stage_hash(1), "stats.json", {"nodes": 3})
    with pytest.raises(RuntimeError):
        artifacts.write(stage_hash(1), "stats.json", crash)
    assert artifacts.load_json(stage_hash(1), "stats.json") == {"nodes": 3}
    assert [p.name for p in artifacts.path(stage_hash(1), "x").parent.iterdir()] == ["stats.json"]


def test_writer_sees_the_artifact_extension(artifacts):
    seen = []
    artifacts.write(stage_hash(1), "mip.cip", lambda tmp: seen.append(tmp.suffix) or tmp.write_text("x"))
    assert seen == [".cip"]


def test_sweep_removes_only_what_a_dead_writer_on_this_host_left(artifacts):
    """A writer killed mid-write (kill -9) leaves its temporary file; the next run removes it, and never the
    temporary file of a live writer, another host's, or a finished artifact."""
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = {}
    seen = []

    def killed_mid_write(tmp: Path) -> None:  # the temporary name as a real write makes it
        seen.append(tmp.name)
        left["dead"] = tmp.with_name(tmp.name.replace(f".{os.getpid()}@", f".{dead.pid}@", 1))
        left["live"] = tmp.with_name(tmp.name.replace("scores.pt", "other.pt"))
        left["elsewhere"] = tmp.with_name(tmp.name.replace(socket.gethostname(), "another-host", 1)
                                          .replace(f".{os.getpid()}@", f".{dead.pid}@", 1))
        for path in left.values():
            path.write_bytes(b"half a file")
        tmp.write_bytes(b"whole")

    artifacts.write(stage_hash(1), "scores.pt", killed_mid_write)
    assert seen[0].startswith(f".{os.getpid()}@{socket.gethostname()}@")
    assert artifacts.sweep_orphans() == 1
    assert not left["dead"].exists() and left["live"].exists() and left["elsewhere"].exists()
    assert artifacts.path(stage_hash(1), "scores.pt").read_bytes() == b"whole"


@pytest.mark.parametrize("name", ["", "../x.pt", "a/b.pt", ".hidden"])
def test_bad_artifact_names_and_missing_artifacts_are_errors(artifacts, name):
    from benchmark.store.artifacts import MemoryArtifacts

    with pytest.raises(StoreError, match="plain file name"):
        artifacts.path(stage_hash(1), name)
    with pytest.raises(StoreError, match="plain file name"):
        MemoryArtifacts().save_json(stage_hash(1), name, 1)
    for view in (artifacts, MemoryArtifacts()):
        with pytest.raises(StoreError, match="no artifact"):
            view.load_tensors(stage_hash(1), "absent.pt")


def test_a_workers_view_reads_its_inputs_and_keeps_what_it_saves_as_the_store_would_write_it(artifacts):
    """A stage in a worker saves into a :class:`MemoryArtifacts`; the driver writes those bytes, which are what
    saving into the store directly would have written, and gathers a result's files back as the next inputs."""
    import torch

    from benchmark.store.artifacts import MemoryArtifacts

    tensors = {"fc1": torch.randn(3, 4), "mask": torch.tensor([True, False])}
    artifacts.save_tensors(stage_hash(1), "prune.pt", tensors)
    artifacts.save_json(stage_hash(1), "stats.json", {"nodes": 3})
    (artifacts.root / stage_hash(1) / ".1@host@x.scores.pt").write_bytes(b"half a file")  # a writer's temporary
    files = artifacts.files([stage_hash(1), stage_hash(2), stage_hash(1)])
    assert sorted(files) == [(stage_hash(1), "prune.pt"), (stage_hash(1), "stats.json")]
    view = MemoryArtifacts(files)
    loaded = view.load_tensors(stage_hash(1), "prune.pt")
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors) and view.load_json(stage_hash(1), "stats.json")
    assert view.exists(stage_hash(1), "prune.pt") and not view.exists(stage_hash(2), "scores.pt")
    assert view.save_tensors(stage_hash(2), "scores.pt", tensors) is None and view.exists(stage_hash(2), "scores.pt")
    view.save_json(stage_hash(2), "stats.json", {"nodes": 3})
    assert view.load_json(stage_hash(2), "stats.json") == {"nodes": 3}
    assert sorted(view.written) == [(stage_hash(2), "scores.pt"), (stage_hash(2), "stats.json")]
    for (owner, name), data in view.written.items():
        assert data == artifacts.get_bytes(stage_hash(1), "prune.pt" if name == "scores.pt" else name)
        artifacts.put_bytes(owner, name, data)
    assert artifacts.load_json(stage_hash(2), "stats.json") == {"nodes": 3}
    assert not list(artifacts.root.glob(f"{stage_hash(2)}/.*"))


def test_manifest_records_versions_device_and_seed(tmp_path):
    found = manifest("cuda:0", 3)
    assert found["device"] == "cuda:0" and found["seed"] == 3 and found["python"].startswith("3.")
    assert found["torch"] and found["pyscipopt"] and found["scip"] and found["host"]
    assert found["highspy"] == metadata.version("highspy") and found["clarabel"] == metadata.version("clarabel")
    assert json.loads(json.dumps(found)) == found
    assert git_sha(tmp_path) is None
    if shutil.which("git") and git_sha(Path(benchmark.__file__).parent):
        assert re.fullmatch(r"[0-9a-f]{40}", found["git_sha"])


def test_load_results_flattens_records(tmp_path):
    store = ResultStore(tmp_path)
    store.put(stage_hash(1), "train", {"model": "fc3", "test_accuracy": 0.9, "manifest": {"seed": 0}}, 3.0,
              suites=["smoke"])
    store.put(stage_hash(2), "evaluate", {"model": "fc3", "solver": {"nodes": 5, "gap": {"final": 0.0}}}, 1.0,
              status="failed")
    frame = load_results(tmp_path)
    assert list(frame.columns[:5]) == ["hash", "stage", "status", "wall_seconds", "created"]
    assert list(frame["hash"]) == [stage_hash(1), stage_hash(2)]
    assert list(frame["status"]) == ["ok", "failed"] and list(frame["wall_seconds"]) == [3.0, 1.0]
    assert frame.loc[1, "solver.nodes"] == 5 and frame.loc[1, "solver.gap.final"] == 0.0
    assert frame.loc[0, "manifest.seed"] == 0 and math.isnan(frame.loc[1, "test_accuracy"])
    assert list(load_results(tmp_path, suite="smoke")["stage"]) == ["train"]


def test_load_results_of_an_empty_or_missing_store(tmp_path):
    with pytest.raises(StoreError, match="no results store"):
        load_results(tmp_path)
    ResultStore(tmp_path)
    assert list(load_results(tmp_path).columns) == ["hash", "stage", "status", "wall_seconds", "created"]


@pytest.fixture
def small_frame():
    return pd.DataFrame({"method": ["mip", "a|b"], "accuracy": [0.5, float("nan")], "seed": [0, 1]})


def test_export_text_formats(small_frame, tmp_path):
    csv = export_results(small_frame, "csv", tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text() == csv
    assert pd.read_csv(tmp_path / "r.csv").loc[0, "accuracy"] == 0.5
    rows = json.loads(export_results(small_frame, "json"))
    assert rows == [{"method": "mip", "accuracy": 0.5, "seed": 0}, {"method": "a|b", "accuracy": None, "seed": 1}]
    lines = export_results(small_frame, "markdown").splitlines()
    cells = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    assert cells[0] == ["method", "accuracy", "seed"] and all(set(c) <= {"-", ":"} for c in cells[1])
    assert cells[2:] == [["mip", "0.5", "0"], [r"a\|b", "", "1"]]


def test_export_parquet(small_frame, tmp_path):
    pytest.importorskip("pyarrow")
    export_results(small_frame, "parquet", tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), small_frame)


def test_export_errors_are_one_line(small_frame, monkeypatch):
    with pytest.raises(StoreError, match=f"unknown export format 'xlsx'; choose one of: {', '.join(FORMATS)}$"):
        export_results(small_frame, "xlsx")

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine;\ntried using: 'pyarrow', 'fastparquet'.")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_engine)
    with pytest.raises(StoreError, match=r"^parquet export needs pyarrow: pip install pyarrow$"):
        export_results(small_frame, "parquet")


OLD_SCHEMA = ("CREATE TABLE results (hash TEXT PRIMARY KEY, stage TEXT NOT NULL, created REAL NOT NULL, "
              "wall_seconds REAL, status TEXT NOT NULL, record TEXT NOT NULL)",
              "CREATE TABLE suite_members (suite TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (suite, hash))",
              "PRAGMA journal_mode=WAL")


def test_a_store_from_before_digests_is_read_without_being_written(tmp_path):
    """Reading a store written before artifact digests (a committed one, say) leaves its file as it was; its first
    write adds the digest table."""
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        for statement in OLD_SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO results VALUES (?, 'train', 1.0, 2.0, 'ok', '{\"x\": 1}')", (stage_hash(1),))
        conn.execute("INSERT INTO suite_members VALUES ('s', ?)", (stage_hash(1),))
    before = (tmp_path / "results.sqlite").read_bytes()
    store = ResultStore(tmp_path)
    assert store.rows("s")[0]["record"] == {"x": 1} and store.digests() == {} and len(load_results(tmp_path)) == 1
    assert (tmp_path / "results.sqlite").read_bytes() == before
    store.put(stage_hash(2), "prune", {}, 1.0, digests={(stage_hash(2), "prune.pt"): "0" * 64})
    assert ResultStore(tmp_path).digests() == {(stage_hash(2), "prune.pt"): {"sha256": "0" * 64,
                                                                              "stage": stage_hash(2)}}


def test_digests_are_stored_with_their_row_and_dropped_with_it(tmp_path):
    store = ResultStore(tmp_path)
    store.put(stage_hash(1), "prune", {}, 1.0, suites=["s"],
              digests={(stage_hash(1), "prune.pt"): "a" * 64, (SHARED_HASH, "scores.pt"): "b" * 64})
    store.put(stage_hash(2), "evaluate", {}, 1.0, suites=["s"])
    assert store.digests([SHARED_HASH]) == {(SHARED_HASH, "scores.pt"): {"sha256": "b" * 64, "stage": stage_hash(1)}}
    store.drop([stage_hash(1)])
    assert store.hashes() == [stage_hash(2)] and store.digests() == {}
    store.put(stage_hash(1), "prune", {}, 1.0)
    assert store.hashes("s") == [stage_hash(1), stage_hash(2)]  # its suites apply again once it is recomputed


def test_an_artifact_is_checked_against_its_digest_on_every_read(artifacts):
    from benchmark.store import DamagedArtifact
    from benchmark.store.files import sha256

    path = artifacts.save_json(stage_hash(1), "stats.json", {"nodes": 3})
    digests = {(stage_hash(1), "stats.json"): sha256(path.read_bytes())}
    assert artifacts.files([stage_hash(1)], digests) == {(stage_hash(1), "stats.json"): path.read_bytes()}
    path.write_bytes(path.read_bytes().replace(b"3", b"4"))
    with pytest.raises(DamagedArtifact, match=f"^damaged artifact {path} \\(its sha256 differs"):
        artifacts.files([stage_hash(1)], digests)
    path.unlink()
    with pytest.raises(DamagedArtifact, match=f"^damaged artifact {path} \\(missing\\)$"):
        artifacts.files([stage_hash(1)], digests)
    artifacts.put_bytes(stage_hash(1), "prune.pt", b"not a zip archive")  # stored before digests: unchecked
    with pytest.raises(DamagedArtifact, match=f"^damaged artifact {artifacts.path(stage_hash(1), 'prune.pt')} "
                                              "\\(cannot be read: "):
        artifacts.load_tensors(stage_hash(1), "prune.pt")


def test_an_export_on_a_full_disk_is_one_line_and_keeps_the_old_file(small_frame, tmp_path, monkeypatch):
    import errno

    from benchmark.store import WriteError

    export_results(small_frame, "csv", tmp_path / "r.csv")
    before = (tmp_path / "r.csv").read_bytes()

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteError, match=f"^cannot write the export {tmp_path / 'r.csv'}: no space left on device$"):
        export_results(small_frame.iloc[:1], "csv", tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["r.csv"]
