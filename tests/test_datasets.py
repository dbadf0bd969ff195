import gzip
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


def test_failed_download_is_one_line(tmp_path, monkeypatch):
    def offline(self, *a, **k):
        raise URLError("no route to host")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(DatasetError) as info:
        load_splits("mnist", data_dir=tmp_path)
    assert "download failed" in str(info.value) and "\n" not in str(info.value)


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
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        load_splits("mnist", data_dir=tmp_path, allow_download=False)


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
