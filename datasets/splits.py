"""Loading a dataset into seeded train/validation/test image sets, and picking the MIP batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from datasets.errors import DatasetError
from datasets.loader import ImageSet
from datasets.preprocess import preprocess
from datasets.registry import get_spec
from datasets.root import resolve_data_root


@dataclass
class DataSplits:
    """Train and validation split of the official training set, and the untouched official test set."""

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet


def load_splits(
    name: str,
    preprocessing: str = "paper",
    data_dir=None,
    val_fraction: float = 0.2,
    seed: int = 0,
    train_limit: int | None = None,
    allow_download: bool = True,
) -> DataSplits:
    """Load ``name`` into memory and split its training set with ``seed``.

    ``train_limit`` keeps only the first images of the (shuffled) training pool: small real slices for tests
    and quick suites. The test set is always whole.
    """
    spec = get_spec(name)
    raw = spec.read(resolve_data_root(data_dir), allow_download=allow_download)
    for split, labels in (("training", raw.y_train), ("test", raw.y_test)):
        if not len(labels) or labels.min() < 0 or labels.max() >= spec.num_classes:
            raise DatasetError(f"the {name} {split} set is empty or has labels outside 0..{spec.num_classes - 1}")
    x_train, norm = preprocess(raw.x_train, preprocessing, spec.mean, spec.std)
    x_test, _ = preprocess(raw.x_test, preprocessing, spec.mean, spec.std)
    pool = ImageSet(x_train, torch.as_tensor(raw.y_train), norm, spec.num_classes)
    test = ImageSet(x_test, torch.as_tensor(raw.y_test), norm, spec.num_classes)
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
    n_train, n_val = split_sizes(len(pool), val_fraction, train_limit)
    if n_train < 1 or n_val < 1:
        raise DatasetError(f"{n_train + n_val} training images with val_fraction {val_fraction} leave an empty "
                           "train or validation split; use more images (train_limit) or another val_fraction")
    order = order[:n_train + n_val]
    return DataSplits(name, pool.subset(order[n_val:]), pool.subset(order[:n_val]), test)


def split_sizes(pool: int, val_fraction: float, train_limit: int | None = None) -> tuple[int, int]:
    """The (train, validation) image counts :func:`load_splits` makes of a training set of ``pool`` images, or of
    its first ``train_limit`` (0 or None: all)."""
    images = min(pool, train_limit) if train_limit else pool
    n_val = int(round(images * val_fraction))
    return images - n_val, n_val


@torch.no_grad()
def pick_one_per_class(model: torch.nn.Module, data: ImageSet, n: int = 10, seed: int = 0):
    """Pick ``n`` images, cycling through the classes, that ``model`` classifies correctly.

    Draw from the *validation* split (the official code drew from the training set by mistake).
    Returns ``(inputs, labels, indices)``; raises :class:`DatasetError` if some class has no correct image.
    """
    if n > len(data):
        raise DatasetError(f"a batch of {n} images exceeds the validation split of {len(data)} images; ask for a "
                           "smaller batch (the MIP's n_samples) or a larger split (train_limit, val_fraction)")
    model.eval()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    y = data.labels[order]
    preds = [model(data.tensors(chunk)[0]).argmax(1) for chunk in order.split(1024)]
    correct = torch.cat(preds) == y
    chosen: list[int] = []
    for k in range(n):
        cls = k % data.num_classes
        candidates = [i for i in torch.nonzero(correct & (y == cls)).flatten().tolist() if i not in chosen]
        if not candidates:
            raise DatasetError(f"no correctly classified image of class {cls} left in the validation split; "
                               "train the model longer or use a larger validation split")
        chosen.append(candidates[0])
    index = order[torch.tensor(chosen)]
    inputs, labels = data.tensors(index)
    return inputs, labels, index
