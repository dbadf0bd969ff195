import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision

from datasets import DatasetError, get_spec, load_splits, pick_one_per_class


def test_fixture_loads_in_paper_form(mnist_small):
    assert mnist_small.train.images.dtype == torch.uint8
    assert mnist_small.train.images.shape[1:] == (1, 32, 32)
    assert mnist_small.train.input_shape == (3, 32, 32)
    x, y = mnist_small.train.tensors(slice(0, 16))
    assert x.shape == (16, 3, 32, 32) and 0.0 <= x.min() and x.max() <= 1.0
    assert torch.equal(x[:, 0], x[:, 2])  # grayscale replicated
    assert (len(mnist_small.train), len(mnist_small.val), len(mnist_small.test)) == (640, 160, 200)


def test_native_preprocessing_keeps_shape_and_normalises(fixture_root):
    splits = load_splits("mnist", "native", fixture_root, allow_download=False)
    assert splits.train.input_shape == (1, 28, 28)
    x, _ = splits.train.tensors()
    assert abs(float(x.mean())) < 0.2 and 0.8 < float(x.std()) < 1.2


def test_split_is_seeded_disjoint_and_test_untouched(fixture_root):
    a = load_splits("mnist", "paper", fixture_root, seed=1, allow_download=False)
    b = load_splits("mnist", "paper", fixture_root, seed=1, allow_download=False)
    c = load_splits("mnist", "paper", fixture_root, seed=2, allow_download=False)
    assert torch.equal(a.val.images, b.val.images)
    assert not torch.equal(a.val.images, c.val.images)
    assert torch.equal(a.test.images, c.test.images)
    rows = {img.numpy().tobytes() for img in a.train.images}
    assert not any(img.numpy().tobytes() in rows for img in a.val.images)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DatasetError, match="unknown dataset 'svhn'.*mnist, fashion-mnist"):
        get_spec("svhn")


def test_missing_files_offline_names_expected_files(tmp_path):
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz.*MNIST/raw"):
        load_splits("mnist", data_dir=tmp_path, allow_download=False)


def _failing_download(error: Exception):
    """A stand-in for torchvision's MNIST.download: it makes MNIST/raw, as torchvision does, then fails."""

    def download(self, *a, **k):
        os.makedirs(self.raw_folder, exist_ok=True)
        raise error

    return download


# torchvision's own message: the reasons follow the colon on later lines
TORCHVISION_ERROR = RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://a/, got:\n"
                                 "<urlopen error no route to host>\n")


@pytest.mark.parametrize("error, reason", [
    (TORCHVISION_ERROR, "RuntimeError: Error downloading train-images-idx3-ubyte.gz: Tried https://a/, got: "
                        "<urlopen error no route to host>"),
    (URLError("no route to host"), "URLError: <urlopen error no route to host>"),
    (ConnectionResetError(), "(ConnectionResetError)"),
])
def test_failed_download_is_one_line_with_its_reason(tmp_path, monkeypatch, error, reason):
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", _failing_download(error))
    with pytest.raises(DatasetError, match="download failed") as info:
        load_splits("mnist", data_dir=tmp_path)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_failed_download_leaves_no_empty_folder_it_made(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", _failing_download(TORCHVISION_ERROR))
    (tmp_path / "kept").mkdir()
    (tmp_path / "MNIST").mkdir()
    (tmp_path / "MNIST" / "note.txt").write_text("mine")
    with pytest.raises(DatasetError):
        load_splits("mnist", data_dir=tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["MNIST", "MNIST/note.txt", "kept"]
    with pytest.raises(DatasetError):
        load_splits("mnist", data_dir=tmp_path / "new" / "root")
    assert not (tmp_path / "new").exists()


def test_uncreatable_data_root_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetError, match=r"data directory .*file/root cannot be created \(\w+Error"):
        load_splits("mnist", data_dir=tmp_path / "file" / "root")


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_md5_mismatch_is_reported(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, _ in torchvision.datasets.MNIST.resources:
        _write_idx_gz(raw / name, np.zeros((2, 28, 28) if "images" in name else (2,)))
    with pytest.raises(DatasetError, match="fails its md5 check"):
        load_splits("mnist", data_dir=tmp_path, allow_download=False)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_npz_is_reported(tmp_path, fixture_root, damage):
    data = (fixture_root / "mnist.npz").read_bytes()
    data = data[: len(data) // 2] if damage == "truncate" else data[:100] + b"\x00" * 5000 + data[5100:]
    (tmp_path / "mnist.npz").write_bytes(data)
    with pytest.raises(DatasetError, match="mnist.npz is not a valid .npz file: corrupt or truncated"):
        load_splits("mnist", data_dir=tmp_path, allow_download=False)


@pytest.mark.parametrize("content", [b"garbage " * 100, b"\x93NUMPY" + b"\x00" * 100, b""])
def test_file_that_is_not_an_npz_is_named(tmp_path, content):
    (tmp_path / "cifar10.npz").write_bytes(content)
    with pytest.raises(DatasetError) as info:
        load_splits("cifar10", data_dir=tmp_path, allow_download=False)
    assert str(info.value) == f"{tmp_path / 'cifar10.npz'} is not a valid .npz file (not a zip archive)"


def _npz(path: Path, n: int = 20, shape=(8, 8), **changes) -> None:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n, *shape), dtype=np.uint8), "y_train": np.arange(n) % 10,
              "x_test": rng.integers(0, 256, (n, *shape), dtype=np.uint8), "y_test": np.arange(n) % 10}
    np.savez(path, **{**arrays, **changes})


@pytest.mark.parametrize("changes, message", [
    (dict(x_train=np.zeros((20, 8, 8, 5), np.uint8)), r"x_train must be uint8 \(N,H,W\) or \(N,H,W,3\)"),
    (dict(y_test=np.arange(19)), "x_test must be uint8 .* one label per image"),
    (dict(y_train=np.full(20, 0.5)), "y_train must hold integer labels, not float64"),
    (dict(y_train=np.arange(20)), "the mnist training set is empty or has labels outside 0..9"),
    (dict(x_test=np.zeros((0, 8, 8), np.uint8), y_test=np.zeros(0, np.int64)), "mnist test set is empty"),
])
def test_malformed_npz_arrays_are_one_line(tmp_path, changes, message):
    _npz(tmp_path / "mnist.npz", **changes)
    with pytest.raises(DatasetError, match=message) as info:
        load_splits("mnist", data_dir=tmp_path, allow_download=False)
    assert "\n" not in str(info.value)


def test_too_few_images_for_a_validation_split_is_one_line(fixture_root):
    with pytest.raises(DatasetError, match="2 training images with val_fraction 0.2 leave an empty"):
        load_splits("mnist", data_dir=fixture_root, train_limit=2, allow_download=False)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _plain_mnist(root: Path, counts=(4, 4, 2, 2)) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for (name, _), n in zip(torchvision.datasets.MNIST.resources, counts):
        _write_idx(raw / name.removesuffix(".gz"), np.zeros((n, 28, 28) if "images" in name else (n,)))
    return raw


def test_extracted_idx_files_are_read(tmp_path):
    _plain_mnist(tmp_path, counts=(10, 10, 10, 10))
    splits = load_splits("mnist", data_dir=tmp_path, allow_download=False)
    assert len(splits.train) + len(splits.val) == 10 and len(splits.test) == 10


@pytest.mark.parametrize("damage, message", [
    ("count", r"the train images and labels files must hold N images \(N,H,W\) and N labels, not \(4, 28, 28\) "
              r"and \(3,\)"),
    ("header", "t10k-labels-idx1-ubyte is not an IDX file"),
    ("unreadable", r"t10k-images-idx3-ubyte.gz cannot be read \(IsADirectoryError"),
])
def test_damaged_idx_files_are_one_line(tmp_path, damage, message):
    raw = _plain_mnist(tmp_path, counts=(4, 3, 2, 2) if damage == "count" else (4, 4, 2, 2))
    if damage == "header":
        (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 200, 0, 0, 0, 2]))
    if damage == "unreadable":
        (raw / "t10k-images-idx3-ubyte.gz").mkdir()
    with pytest.raises(DatasetError, match=message) as info:
        load_splits("mnist", data_dir=tmp_path, allow_download=False)
    assert "\n" not in str(info.value)


def test_partial_cifar_folder_falls_back_to_the_npz(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"partial")
    _npz(tmp_path / "cifar10.npz", shape=(32, 32, 3))
    assert len(load_splits("cifar10", data_dir=tmp_path, allow_download=False).test) == 20


@pytest.mark.parametrize("unreadable", [False, True])
def test_corrupt_or_unreadable_cifar_batches_are_one_line(tmp_path, monkeypatch, unreadable):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    cls = torchvision.datasets.CIFAR10
    for name in [n for n, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]:
        (folder / name).write_bytes(b"garbage")
    if unreadable:  # as root, permission bits do not stop reads: make torchvision's md5 check hit the error
        def denied(self):
            raise PermissionError(13, "Permission denied", str(folder / "data_batch_1"))
        monkeypatch.setattr(cls, "_check_integrity", denied)
    reason = "PermissionError: .*Permission denied" if unreadable else "RuntimeError: Dataset not found or corrupted"
    with pytest.raises(DatasetError, match=f"cifar-10-batches-py cannot be read \\({reason}") as info:
        load_splits("cifar10", data_dir=tmp_path, allow_download=False)
    assert "\n" not in str(info.value)


def test_cli_reports_bad_dataset_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmark", "train", "--dataset", "svhn"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "unknown dataset 'svhn'" in proc.stderr


def test_cli_reports_missing_data_in_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "benchmark", "train", "--data-dir", str(empty)],
                          capture_output=True, text=True, env={"PATH": "", "TICKETBENCH_CACHE": str(tmp_path)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "train-images-idx3-ubyte.gz" in proc.stderr


def test_one_per_class_batch_is_correct_balanced_and_from_val(trained_lenet, mnist_small):
    _, result = trained_lenet
    x, y, index = pick_one_per_class(result.model, mnist_small.val, n=10, seed=0)
    assert sorted(y.tolist()) == list(range(10))
    assert torch.equal(result.model(x).argmax(1), y)
    assert torch.equal(mnist_small.val.labels[index], y)
    assert torch.equal(mnist_small.val.tensors(index)[0], x)


def test_real_mnist_passes_md5_and_mirror_is_not_written(real_data_root):
    before = sorted(p.name for p in (real_data_root / "MNIST" / "raw").iterdir())
    splits = load_splits("mnist", data_dir=real_data_root, allow_download=False)
    assert len(splits.train) + len(splits.val) == 60000 and len(splits.test) == 10000
    assert sorted(p.name for p in (real_data_root / "MNIST" / "raw").iterdir()) == before


def test_real_cifar10_npz_mirror(real_data_root, tmp_path):
    splits = load_splits("cifar10", data_dir=real_data_root, allow_download=False, train_limit=1000)
    assert splits.train.input_shape == (3, 32, 32) and len(splits.test) == 10000
    assert sorted(splits.test.labels.unique().tolist()) == list(range(10))


def test_torchvision_layout_is_read_from_gz(real_data_root, tmp_path):
    shutil.copytree(real_data_root / "FashionMNIST", tmp_path / "FashionMNIST")
    splits = load_splits("fashion-mnist", data_dir=tmp_path, allow_download=False)
    assert len(splits.test) == 10000
    assert not list((tmp_path / "FashionMNIST" / "raw").glob("*-ubyte"))  # nothing extracted
