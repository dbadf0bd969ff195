"""Dataset registry and in-memory loaders for ticketbench.

Note: this top-level package is named ``datasets`` and shadows HuggingFace ``datasets``; install
ticketbench into its own virtual environment.
"""

from datasets.augment import AUGMENTATIONS
from datasets.errors import DatasetError
from datasets.loader import ImageSet, InMemoryLoader
from datasets.preprocess import PREPROCESSINGS
from datasets.registry import DATASETS, get_spec
from datasets.root import cache_dir, resolve_data_root
from datasets.splits import DataSplits, load_splits, pick_one_per_class, split_sizes

__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "PREPROCESSINGS",
    "DataSplits",
    "DatasetError",
    "ImageSet",
    "InMemoryLoader",
    "cache_dir",
    "get_spec",
    "load_splits",
    "pick_one_per_class",
    "resolve_data_root",
    "split_sizes",
]
