"""The run manifest stored with every result: code version, library versions, locked environment, platform,
device and seed.

The platform (:func:`platform_fingerprint`) is what decides whether CPU results can match bit for bit: torch's
CPU kernels and MKL take other code paths on another processor (AVX2 against AVX-512, Intel against AMD), so a
seeded CPU run is bit-identical on one machine kind, not across kinds. The environment is named by the hash of
the lock it was installed from (``requirements.lock``) and by the hash of what is actually installed.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = {"ticketbench": "ticketbench", "torch": "torch", "torchvision": "torchvision", "pyscipopt": "PySCIPOpt",
            "highspy": "highspy", "clarabel": "clarabel"}  # the relaxed programs' solvers beside SCIP
LOCK_FILE = "requirements.lock"
PLATFORM_KEYS = ("machine", "cpu", "cpu_capability", "blas")


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def git_sha(directory: Path) -> str | None:
    """``git rev-parse HEAD`` run in ``directory``, or None when git or the repository is missing."""
    return _git(directory, "rev-parse", "HEAD")


def package_version(distribution: str) -> str | None:
    """Installed version of ``distribution``, or None if it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def scip_version() -> str | None:
    """Version of the SCIP library PySCIPOpt is linked against, or None without PySCIPOpt."""
    try:
        import pyscipopt
    except ImportError:
        return None
    return str(pyscipopt.Model().version())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@functools.lru_cache(maxsize=1)
def platform_fingerprint() -> dict:
    """The machine kind CPU results are bit-identical on: ``machine`` (x86_64, ...), ``cpu`` (the model name),
    ``cpu_capability`` (the vector instructions torch's CPU kernels dispatch to: DEFAULT, AVX2, AVX512, ...)
    and ``blas`` (the BLAS torch was built with). ``ATEN_CPU_CAPABILITY`` changes the capability."""
    import torch

    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return {"machine": platform.machine(), "cpu": _cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "blas": blas.group(1) if blas else None}


def same_platform(a: dict | None, b: dict | None) -> bool:
    """Whether two fingerprints name one machine kind (every :data:`PLATFORM_KEYS` equal); False when either is
    missing (a record made before fingerprints were kept)."""
    return bool(a) and bool(b) and all(a.get(key) == b.get(key) for key in PLATFORM_KEYS)


@functools.lru_cache(maxsize=1)
def lock_sha() -> str | None:
    """Short sha256 of the lock file of the checkout this code runs from, or None outside a checkout."""
    top = _git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel")
    path = Path(top) / LOCK_FILE if top else None
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def environment_sha() -> str:
    """Short sha256 of every installed distribution's ``name==version``, sorted: what actually ran."""
    pins = sorted({f"{d.metadata['Name'].lower()}=={d.version}" for d in metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "ticketbench"})
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]


def manifest(device: str, seed: int | None) -> dict:
    """Everything needed to tell how a result was produced; store it under the record's ``manifest`` key.

    Keys: ``git_sha``, ``ticketbench``, ``torch``, ``torchvision``, ``pyscipopt``, ``highspy``, ``clarabel``,
    ``scip``, ``python``, ``lock`` (:func:`lock_sha`), ``environment`` (:func:`environment_sha`), ``platform``
    (:func:`platform_fingerprint`), ``host``, ``device``, ``seed``. A version that cannot be found is None rather
    than an error.
    """
    return {
        "git_sha": git_sha(Path(__file__).resolve().parent),
        **{key: package_version(name) for key, name in PACKAGES.items()},
        "scip": scip_version(),
        "python": platform.python_version(),
        "lock": lock_sha(),
        "environment": environment_sha(),
        "platform": platform_fingerprint(),
        "host": socket.gethostname(),
        "device": device,
        "seed": seed,
    }
