"""Nothing lost and nothing silently wrong (#21): damaged artifacts, cached models and SQLite files are named in one
line and recomputed (never used), full disks and unwritable places are one line with exit 2 and leave nothing
half-written, output commands never succeed on nothing, and reports never land over the checkout's results/.

Each test replays a failed trial of the issue on a four-stage suite over the fixture slices (seconds)."""

from __future__ import annotations

import errno
import io
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmark.cli.main import main
from benchmark.pipeline.stage_context import clear_caches
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results

SUITE = """
name = "integrity"
description = "FC-3 on the fixture MNIST slice: the MIP's mask, without and after fine-tuning"
models = ["fc3"]
datasets = ["mnist"]
seeds = [0]

[train]
epochs = 2

[budget]
finetune_epochs = 1

[methods.mip]
options = { loss = "margin", time_limit = 60.0 }
"""
TRAIN = ["train", "--model", "fc3", "--dataset", "mnist", "--epochs", "1"]


@pytest.fixture
def cli(capsys):
    """Run the CLI in this process as a fresh ``ticketbench`` process would (its inline stages load models from the
    cache, not from what an earlier run kept in memory); returns (exit code, stdout, stderr)."""

    def invoke(*args):
        clear_caches()
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as stop:
            code = stop.code
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def suite(tmp_path, fixture_root):
    """The suite file, and the arguments of ``ticketbench run`` on it with a store under tmp_path."""
    path = tmp_path / "integrity.toml"
    path.write_text(SUITE)
    return [path, "--executor", "inline", "--data-dir", fixture_root, "--store", tmp_path / "store"]


TORCH_LOG = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\d\d")  # torch's own warnings (no CUDA runtime, ...)


def one_line(err: str) -> str:
    """The single ``ticketbench: error:`` line of ``err``, asserting that it is all there is (torch's own log
    lines aside): no traceback."""
    lines = [line for line in err.splitlines() if not TORCH_LOG.match(line)]
    assert len(lines) == 1 and lines[0].startswith("ticketbench: error: "), err
    return lines[0]


def rows(store: Path) -> dict[str, dict]:
    return {row["hash"]: row for row in ResultStore(store).rows()}


def prune_hash(store: Path) -> str:
    (found,) = [h for h, row in rows(store).items() if row["stage"] == "prune"]
    return found


def sql(store: Path, statement: str) -> None:
    with sqlite3.connect(store / "results.sqlite") as conn:
        conn.execute(statement)


def test_a_mask_garbled_at_the_same_size_is_named_and_recomputed_never_used(cli, suite, tmp_path):
    """The trial: a mask rewritten at the same size fed a wrong fine-tuned accuracy into the table."""
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    evaluated = {h: row["record"]["pruned_accuracy"] for h, row in rows(store).items() if row["stage"] == "evaluate"}
    path = store / "artifacts" / prune_hash(store) / "prune.pt"
    original = path.read_bytes()
    saved = torch.load(path, weights_only=True)
    saved["mask"] = {name: keep.flip(0) for name, keep in saved["mask"].items()}  # same counts, other units
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    assert len(buffer.getvalue()) == len(original) and buffer.getvalue() != original
    path.write_bytes(buffer.getvalue())
    sql(store, "DELETE FROM results WHERE stage = 'evaluate'")  # the evaluations must read the mask again
    code, out, err = cli("run", *suite)
    assert code == 0, err
    assert f"damaged artifact {path} " in err and "recomputing prune mip" in err
    assert "integrity: 3 stages run" in out  # the prune, and both evaluations that read its mask
    assert path.read_bytes() == original
    assert {h: row["record"]["pruned_accuracy"] for h, row in rows(store).items()
            if row["stage"] == "evaluate"} == evaluated


def test_a_truncated_artifact_is_named_and_recomputed(cli, suite, tmp_path):
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    path = store / "artifacts" / prune_hash(store) / "prune.pt"
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])
    code, out, err = cli("run", *suite)
    assert code == 0 and f"damaged artifact {path} " in err and "integrity: 3 stages run" in out, err
    assert path.read_bytes() == original


def test_a_store_written_before_digests_is_read_as_it_is_and_reruns_nothing(cli, suite, tmp_path):
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    sql(store, "DROP TABLE IF EXISTS artifacts")  # the schema of a store written before this change
    code, out, err = cli("run", *suite)
    assert code == 0 and "integrity: 0 stages run, 4 already stored" in out and "damaged" not in err, err


def test_an_unreadable_artifact_of_a_store_from_before_digests_is_named_and_recomputed_by_the_next_run(
        cli, suite, tmp_path):
    """Without a digest, a truncated mask is found only when a stage reads it: that stage fails naming the file,
    and the next run recomputes the mask and the stage."""
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    sql(store, "DROP TABLE artifacts")
    path = store / "artifacts" / prune_hash(store) / "prune.pt"
    path.write_bytes(path.read_bytes()[:1000])
    sql(store, "DELETE FROM results WHERE stage = 'evaluate'")
    code, out, err = cli("run", *suite)
    assert code == 1 and f"damaged artifact {path} (cannot be read: " in out and "2 failed" in out, out + err
    code, out, err = cli("run", *suite)
    assert code == 0 and "integrity: 3 stages run, 1 already stored, 0 skipped, 0 failed" in out, out + err


def cached_model(cache: Path) -> Path:
    (entry,) = (cache / "models").glob("[!.]*")
    return entry / "trained.pt"


@pytest.mark.parametrize("digests", [True, False], ids=["entry", "entry-from-before-digests"])
def test_a_truncated_cached_model_is_named_in_one_line_and_retrained(cli, fixture_root, tmp_path, digests):
    """The trial: ``train`` on a truncated trained.pt gave torch's traceback."""
    assert cli(*TRAIN, "--data-dir", fixture_root)[0] == 0
    path = cached_model(tmp_path / "cache")
    original = path.read_bytes()
    path.write_bytes(original[:1000])
    if not digests:
        (path.parent / "digests.json").unlink()
    code, out, err = cli(*TRAIN, "--data-dir", fixture_root)
    assert code == 0 and "fc3 on mnist: trained," in out, err
    (line,) = [line for line in err.splitlines() if not TORCH_LOG.match(line)]
    reason = "is damaged (its sha256 differs from digests.json)" if digests else "cannot be read (RuntimeError: "
    assert line.startswith(f"warning: the cached model file {path} {reason}") and line.endswith("; retraining")
    assert path.read_bytes() == original  # the same weights again


def test_a_cached_model_garbled_at_the_same_size_is_retrained_not_used(cli, fixture_root, tmp_path):
    assert cli(*TRAIN, "--data-dir", fixture_root)[0] == 0
    path = cached_model(tmp_path / "cache")
    original = path.read_bytes()
    state = torch.load(path, weights_only=True)
    for value in state.values():
        value.neg_()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    assert len(buffer.getvalue()) == len(original)
    path.write_bytes(buffer.getvalue())
    code, out, err = cli(*TRAIN, "--data-dir", fixture_root)
    assert code == 0 and "fc3 on mnist: trained," in out and f"cached model file {path} " in err, err
    assert path.read_bytes() == original


def test_a_run_retrains_a_truncated_cached_model_instead_of_failing_its_stages(cli, suite, tmp_path):
    """The trial: every stage that loaded the truncated model failed with torch's zip error and no path."""
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    path = cached_model(tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:1000])
    sql(store, "DELETE FROM results WHERE stage != 'train'")
    code, out, err = cli("run", *suite)
    assert code == 0 and "integrity: 3 stages run, 1 already stored, 0 skipped, 0 failed" in out, err
    assert err.count(f"cached model file {path} ") == 1


def garble_header(store: Path) -> None:
    with open(store / "results.sqlite", "r+b") as handle:
        handle.write(b"garbage " * 16)


@pytest.mark.parametrize("command", ["run", "report", "results"])
def test_a_damaged_results_database_is_one_line_with_the_repair_command(cli, suite, tmp_path, command):
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    garble_header(store)
    args = {"run": ["run", *suite], "report": ["report", suite[0], "--store", store],
            "results": ["results", "--store", store]}[command]
    code, out, err = cli(*args)
    assert code == 2 and f"ticketbench store repair --store {store}" in one_line(err)
    assert "damaged" in err


def test_store_check_and_repair_find_and_drop_a_damaged_row_which_the_next_run_recomputes(cli, suite, tmp_path):
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    code, out, err = cli("store", "check", "--store", store)
    assert code == 0 and "nothing damaged" in out, err
    prune = prune_hash(store)
    path = store / "artifacts" / prune / "prune.pt"
    path.write_bytes(path.read_bytes()[:-10])
    code, out, err = cli("store", "check", "--store", store)
    assert code == 1 and f"damaged artifact {path} " in out and prune in out, out
    code, out, err = cli("store", "repair", "--store", store)
    assert code == 0 and f"dropped row {prune}" in out, out + err
    assert prune not in rows(store) and len(rows(store)) == 3 and not path.exists()
    assert cli("store", "check", "--store", store)[0] == 0
    code, out, err = cli("run", *suite)
    assert code == 0 and "integrity: 1 stages run, 3 already stored" in out, err


def page_of(path: Path, marker: bytes, page_size: int = 4096) -> int:
    return path.read_bytes().index(marker) // page_size


def test_repair_salvages_every_readable_row_of_a_corrupt_database_and_keeps_a_backup(cli, tmp_path):
    store_dir = tmp_path / "store"
    store = ResultStore(store_dir)
    for i in range(60):  # one row per 4 KiB page
        store.put(f"{i:016x}", "train", {"i": i, "pad": f"row-{i:04d}-" + "x" * 3000}, 1.0, suites=["s"])
    database = store_dir / "results.sqlite"
    page = page_of(database, b"row-0030-")
    with open(database, "r+b") as handle:  # a leaf page of the table overwritten
        handle.seek(page * 4096)
        handle.write(b"\xff" * 4096)
    damaged = database.read_bytes()
    code, out, err = cli("results", "--store", store_dir)
    assert code == 2 and "store repair" in one_line(err)
    code, out, err = cli("store", "check", "--store", store_dir)
    assert code == 1 and "damaged" in out and "store repair" in out, out + err
    code, out, err = cli("store", "repair", "--store", store_dir)
    assert code == 0, err
    (backup,) = store_dir.glob("results.sqlite.damaged-*[0-9]")
    assert backup.read_bytes() == damaged and str(backup) in out
    kept = {row["record"]["i"] for row in ResultStore(store_dir).rows("s")}
    assert kept == set(range(60)) - {30}
    assert cli("store", "check", "--store", store_dir)[0] == 0


def test_repair_of_an_unreadable_database_starts_afresh_and_keeps_the_old_file(cli, tmp_path):
    store_dir = tmp_path / "store"
    ResultStore(store_dir).put("0" * 16, "train", {}, 1.0)
    garble_header(store_dir)
    code, out, err = cli("store", "repair", "--store", store_dir)
    assert code == 0 and "backup" in out, err
    assert len(list(store_dir.glob("results.sqlite.damaged-*[0-9]"))) == 1 and ResultStore(store_dir).rows() == []


def full_disk(monkeypatch, under: Path) -> None:
    """Every ``Path.write_bytes`` under ``under`` fails as on a full disk."""
    write_bytes = Path.write_bytes

    def full(self, data):
        if under in self.parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)


def test_a_full_disk_while_saving_a_model_is_one_line_and_leaves_no_entry(cli, fixture_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    full_disk(monkeypatch, cache / "models")
    code, out, err = cli(*TRAIN, "--data-dir", fixture_root)
    assert code == 2 and "no space left on device" in one_line(err) and str(cache / "models") in err
    assert sorted(p.name for p in (cache / "models").iterdir()) == [".locks"]


def test_a_full_disk_while_storing_an_artifact_stops_the_run_in_one_line(cli, suite, tmp_path, monkeypatch):
    store = tmp_path / "store"
    full_disk(monkeypatch, store / "artifacts")
    code, out, err = cli("run", *suite)
    assert code == 2 and "no space left on device" in one_line(err) and str(store / "artifacts") in err
    assert {row["stage"] for row in rows(store).values()} == {"train"}  # no row without its artifacts
    assert not list((store / "artifacts").rglob(".*")) and not list((store / "artifacts").rglob("*.pt"))
    assert not (tmp_path / "cache" / "reports" / "integrity").exists()


def test_a_full_disk_under_the_store_rolls_back_and_says_so(tmp_path, monkeypatch):
    """The trial: SQLite's full-disk error was masked by 'cannot rollback - no transaction is active'."""
    from benchmark.store import WriteError

    store = ResultStore(tmp_path)
    store.put("0" * 16, "train", {"x": 1}, 1.0)
    connect = ResultStore._connect

    def small_disk(self):
        conn = connect(self)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr(ResultStore, "_connect", small_disk)
    with pytest.raises(WriteError, match=f"^cannot write the results store {tmp_path / 'results.sqlite'}: "
                                         "no space left on device[^\n]*$"):
        store.put("1" * 16, "train", {"pad": "x" * 20000}, 1.0, suites=["s"])
    monkeypatch.undo()
    assert [row["hash"] for row in ResultStore(tmp_path).rows()] == ["0" * 16] and store.hashes("s") == []


@pytest.mark.parametrize("where", ["store-is-a-file", "store-under-a-file", "cache-under-a-file"])
def test_an_unwritable_store_or_cache_is_one_line_before_any_work(cli, suite, tmp_path, monkeypatch, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = list(suite)
    if where == "cache-under-a-file":
        monkeypatch.setenv("TICKETBENCH_CACHE", str(blocker / "cache"))
        args = args[:-2]  # the default store, <cache>/store
    else:
        args[-1] = blocker if where == "store-is-a-file" else blocker / "store"
    code, out, err = cli("run", *args)
    assert code == 2 and "cannot write" in one_line(err) and str(blocker) in err
    assert "done" not in out and not (tmp_path / "cache" / "models").exists()


def unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespaces = pytest.mark.skipif(not unshare_works(), reason="unprivileged user and mount namespaces unavailable")


def in_namespace(mount: str, command: list, env: dict) -> subprocess.CompletedProcess:
    """Run ``command`` in a private user and mount namespace after the shell ``mount`` commands, then list what is
    left under the mounted folder (a tmpfs vanishes with the namespace)."""
    script = f'{mount} && "$@"; echo "rc=$?"; find "$LIST" -mindepth 1 | sort'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *map(str, command)], capture_output=True,
                          text=True, timeout=600, env=env)


@needs_namespaces
def test_a_real_full_disk_while_saving_a_model(fixture_root, tmp_path):
    """A 1 MiB tmpfs as the cache: FC-3's weights do not fit."""
    import os

    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "TICKETBENCH_CACHE": str(cache), "LIST": str(cache), "OMP_NUM_THREADS": "1"}
    done = in_namespace(f"mount -t tmpfs -o size=1m tmpfs {cache}",
                        [sys.executable, "-m", "benchmark", *TRAIN, "--data-dir", fixture_root], env)
    err = done.stderr
    assert "rc=2" in done.stdout and "no space left on device" in one_line(err) and str(cache) in err
    assert done.stdout.split("rc=2\n")[1].split() == [str(cache / "models"), str(cache / "models" / ".locks")]


@needs_namespaces
def test_a_cache_on_a_read_only_file_system_is_one_line_before_any_work(suite, tmp_path):
    import os

    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "TICKETBENCH_CACHE": str(cache), "LIST": str(cache), "OMP_NUM_THREADS": "1"}
    done = in_namespace(f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache}",
                        [sys.executable, "-m", "benchmark", "run", *suite[:-2]], env)
    assert "rc=2" in done.stdout and "read-only file system" in one_line(done.stderr) and "done" not in done.stdout
    assert str(cache) in done.stderr and not list(cache.iterdir())


def test_parquet_without_output_and_an_empty_result_set_are_one_line_and_exit_2(cli, suite, tmp_path):
    store = tmp_path / "store"
    assert cli("run", *suite)[0] == 0
    code, out, err = cli("results", "--store", store, "--format", "parquet")
    assert code == 2 and "--output" in one_line(err) and out == ""
    code, out, err = cli("results", "--store", store, "--suite", "nosuch")
    assert code == 2 and "no results of suite 'nosuch'" in one_line(err) and out == ""
    code, out, err = cli("results", "--store", store, "--suite", "integrity", "--format", "csv")
    assert code == 0 and out.count("\n") == 5


def test_a_corrupt_dataset_stops_the_run_before_any_stage_or_report(cli, suite, tmp_path, fixture_root):
    data = tmp_path / "data"
    shutil.copytree(fixture_root, data)
    (data / "mnist.npz").write_bytes((fixture_root / "mnist.npz").read_bytes()[:5000])
    report = tmp_path / "cache" / "reports" / "integrity"
    report.mkdir(parents=True)
    (report / "table1_pruning.md").write_text("an earlier report\n")
    args = list(suite)
    args[args.index("--data-dir") + 1] = data
    code, out, err = cli("run", *args)
    assert code == 2 and f"{data / 'mnist.npz'}" in one_line(err)
    assert [p.name for p in report.iterdir()] == ["table1_pruning.md"] and rows(tmp_path / "store") == {}


def test_reports_go_to_the_user_cache_not_the_checkouts_results(cli, suite, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "integrity").mkdir(parents=True)
    report = tmp_path / "cache" / "reports" / "integrity"
    report.mkdir(parents=True)
    (report / "stale_plot.png").write_bytes(b"an earlier report's plot")
    code, out, err = cli("run", *suite)
    assert code == 0 and f"report: {report / 'report.html'}" in out, err
    assert not list((tmp_path / "results" / "integrity").iterdir())
    assert (report / "table1_pruning.md").is_file() and not (report / "stale_plot.png").exists()
    code, out, err = cli("report", suite[0], "--store", tmp_path / "store", "--out", tmp_path / "mine")
    assert code == 0 and f"report: {tmp_path / 'mine' / 'integrity' / 'report.html'}" in out, err


def test_a_new_report_keeps_what_no_report_wrote_and_drops_an_earlier_reports_files(cli, suite, tmp_path):
    assert cli("run", *suite)[0] == 0
    report = tmp_path / "cache" / "reports" / "integrity"
    written = (report / ".report-files").read_text().splitlines()
    assert "report.html" in written and "table1_pruning.md" in written and "README.md" not in written
    (report / "README.md").write_text("caveats the user wrote\n")
    (report / "notes").mkdir()
    (report / "notes" / "seeds.md").write_text("a folder of the user's\n")
    (report / "old_plot.png").write_bytes(b"a file an earlier report wrote")
    (report / ".report-files").write_text("\n".join([*written, "old_plot.png"]) + "\n")
    code, out, err = cli("report", suite[0], "--store", tmp_path / "store")
    assert code == 0, err
    assert (report / "README.md").read_text() == "caveats the user wrote\n"
    assert (report / "notes" / "seeds.md").is_file() and not (report / "old_plot.png").exists()
    assert (report / ".report-files").read_text().splitlines() == written


def test_what_a_new_report_would_overwrite_stops_it_before_anything_is_replaced(cli, suite, tmp_path):
    assert cli("run", *suite)[0] == 0
    report = tmp_path / "cache" / "reports" / "integrity"
    (report / "README.md").symlink_to(tmp_path / "nowhere")
    assert cli("report", suite[0], "--store", tmp_path / "store")[0] == 0
    assert (report / "README.md").is_symlink()  # carried over as a link, though it leads nowhere
    manifest = report / ".report-files"
    manifest.write_text("".join(f"{name}\n" for name in manifest.read_text().splitlines() if name != "claims.md"))
    before = {path.name: path.read_bytes() for path in report.iterdir() if path.is_file()}
    code, out, err = cli("report", suite[0], "--store", tmp_path / "store")
    assert code == 2 and "'claims.md'" in one_line(err) and "move it away" in err and out == ""
    assert {path.name: path.read_bytes() for path in report.iterdir() if path.is_file()} == before
    assert [path.name for path in report.parent.iterdir()] == ["integrity"]


def test_load_results_without_a_root_reads_the_default_store(cli, suite):
    assert cli("run", *suite[:-2])[0] == 0
    frame = load_results()
    assert len(frame) == 4 and set(frame["stage"]) == {"train", "prune", "evaluate"}
    assert len(load_results(suite="integrity")) == 4
