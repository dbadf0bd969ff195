"""Stage artifacts beside the results database: ``root/artifacts/<hash>/<name>``, each written atomically.

A file is written under a hidden temporary name in its final directory and renamed into place with ``os.replace``,
so readers see the old file or the whole new one, never part of one; a failed write removes its temporary file. A
writer killed outright (kill -9) cannot: its temporary name carries its process id and host, so
:meth:`ArtifactDir.sweep_orphans` can remove what a dead process on this host left behind. Names ending in ``.pt``
hold tensors, ``.json`` hold JSON, anything else (a MIP instance such as ``mip.cip``) is written by a callable that
is handed a path with the same extension.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import torch

from benchmark.store import StoreError, check_hash


class ArtifactDir:
    """The artifact files of every stage result under ``root/artifacts``."""

    def __init__(self, root: Path):
        self.root = Path(root) / "artifacts"

    def path(self, hash: str, name: str) -> Path:
        """Where artifact ``name`` of result ``hash`` lives (whether or not it exists yet)."""
        if not name or name != Path(name).name or name.startswith("."):
            raise StoreError(f"an artifact name is a plain file name not starting with '.', got {name!r}")
        return self.root / check_hash(hash) / name

    def exists(self, hash: str, name: str) -> bool:
        """Whether artifact ``name`` of result ``hash`` has been written."""
        return self.path(hash, name).is_file()

    def write(self, hash: str, name: str, writer: Callable[[Path], None]) -> Path:
        """Call ``writer(tmp_path)`` and atomically move what it wrote to :meth:`path`; return that path."""
        target = self.path(hash, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{os.getpid()}@{socket.gethostname()}@{uuid.uuid4().hex}.{name}")  # SCIP reads
        # the extension, so it stays last
        try:
            writer(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def sweep_orphans(self) -> int:
        """Remove the temporary files of writers on this host whose process is gone; returns how many."""
        host, removed = socket.gethostname(), 0
        for tmp in self.root.glob("*/.*@*@*"):
            pid, writer_host, _ = tmp.name[1:].split("@", 2)
            if writer_host == host and pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    def save_tensors(self, hash: str, name: str, tensors: dict[str, torch.Tensor]) -> Path:
        """Save a dict of tensors (scores, masks, a state dict) with ``torch.save``."""
        return self.write(hash, name, lambda tmp: torch.save(tensors, tmp))

    def load_tensors(self, hash: str, name: str) -> dict[str, torch.Tensor]:
        """Load a dict of tensors saved by :meth:`save_tensors` (weights only, no pickled code)."""
        return torch.load(self._existing(hash, name), weights_only=True)

    def save_json(self, hash: str, name: str, value) -> Path:
        """Save a JSON-serialisable value, indented."""
        text = json.dumps(value, indent=2, sort_keys=True)
        return self.write(hash, name, lambda tmp: tmp.write_text(text))

    def load_json(self, hash: str, name: str):
        """Load a value saved by :meth:`save_json`."""
        return json.loads(self._existing(hash, name).read_text())

    def _existing(self, hash: str, name: str) -> Path:
        path = self.path(hash, name)
        if not path.is_file():
            raise StoreError(f"no artifact {name!r} for result {hash} under {self.root}")
        return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
