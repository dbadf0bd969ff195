"""The run manifest stored with every result: code version, library versions, machine, device and seed."""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = {"ticketbench": "ticketbench", "torch": "torch", "torchvision": "torchvision", "pyscipopt": "PySCIPOpt"}


def git_sha(directory: Path) -> str | None:
    """``git rev-parse HEAD`` run in ``directory``, or None when git or the repository is missing."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                              timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


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


def manifest(device: str, seed: int | None) -> dict:
    """Everything needed to tell how a result was produced; store it under the record's ``manifest`` key.

    Keys: ``git_sha``, ``ticketbench``, ``torch``, ``torchvision``, ``pyscipopt``, ``scip``, ``python``,
    ``host``, ``device``, ``seed``. A version that cannot be found is None rather than an error.
    """
    return {
        "git_sha": git_sha(Path(__file__).resolve().parent),
        **{key: package_version(name) for key, name in PACKAGES.items()},
        "scip": scip_version(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "device": device,
        "seed": seed,
    }
