"""Which torch device a run trains on, and the settings that make CUDA runs deterministic.

Training, evaluation, fine-tuning, retraining, transfer and gradient-based scoring (SNIP, IMP's rounds) run on the
device; the MIP always runs on the CPU, and trained models are handed to it (and stored) as CPU tensors. The
device is recorded in each result's manifest and is never part of a config hash.
"""

from __future__ import annotations

import os

from benchmark.core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
CUBLAS_WORKSPACE = ":4096:8"  # one of the two settings cuBLAS is deterministic with


def resolve_device(name: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a device name of :data:`DEVICES` (``auto``: CUDA when torch sees a GPU).

    ``cuda`` without a GPU, or an unknown name, is a one-line :class:`ConfigError`."""
    import torch  # here: the CLI's parser imports this module
    if name not in DEVICES:
        raise ConfigError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but torch sees no CUDA GPU here "
                          "(torch.cuda.is_available() is False); use --device cpu or auto")
    return name


def configure_device(device: str) -> None:
    """Make this process's work on ``device`` deterministic; call it before CUDA is first used.

    On CUDA: ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (unless already set), cuDNN autotuning off and cuDNN's
    deterministic kernels, and :func:`torch.use_deterministic_algorithms` (an op without a deterministic kernel
    then raises instead of varying). A run is then repeatable on the same GPU model, driver and torch build, not
    bit-identical to a CPU run. Deterministic mode's NaN-filling of fresh allocations is turned off: it guards
    against reading uninitialised memory, which no op here does, and it doubled the time of a LeNet-5 step on an
    H100 (2.7 ms against 4.9 ms). On the CPU nothing changes: CPU runs are bit-identical already.
    """
    import torch  # here: the CLI's parser imports this module
    if device != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def device_name(device: str) -> str | None:
    """The GPU's name for ``cuda`` (what a CUDA result is repeatable on), else None."""
    import torch  # here: the CLI's parser imports this module
    return torch.cuda.get_device_name() if device == "cuda" else None
