"""Stage artifacts beside the results database: ``root/artifacts/<hash>/<name>``, each written atomically.

Only the driver of a run writes here (:mod:`benchmark.harness.runner`): a stage in a worker reads and writes a
:class:`MemoryArtifacts` view, which holds the files the driver passed in and collects what the stage saves, as
bytes, for the driver to write. Both serialise alike (:class:`Artifacts`), so an artifact's bytes do not depend
on where it was made. A file is written under a hidden temporary name in its final directory and renamed into
place with ``os.replace``, so readers see the old file or the whole new one, never part of one; a failed write
removes its temporary file. A writer killed outright (kill -9) cannot: its temporary name carries its process id
and host, so :meth:`ArtifactDir.sweep_orphans` can remove what a dead process on this host left behind. Names
ending in ``.pt`` hold tensors, ``.json`` hold JSON, anything else (a MIP instance such as ``mip.cip``) is
written by a callable that is handed a path with the same extension.
"""

from __future__ import annotations

import io
import json
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch

from benchmark.store import StoreError, check_hash

Files = dict[tuple[str, str], bytes]  # artifact bytes by (result hash, name)


def check_name(name: str) -> str:
    """Return ``name`` if it can name an artifact (a plain file name not starting with '.'), else raise."""
    if not name or name != Path(name).name or name.startswith("."):
        raise StoreError(f"an artifact name is a plain file name not starting with '.', got {name!r}")
    return name


class Artifacts(ABC):
    """Tensors and JSON as artifact bytes, kept by a subclass."""

    @abstractmethod
    def put_bytes(self, hash: str, name: str, data: bytes):
        """Keep ``data`` as artifact ``name`` of result ``hash``."""

    @abstractmethod
    def get_bytes(self, hash: str, name: str) -> bytes:
        """The bytes of artifact ``name`` of result ``hash`` (a :class:`StoreError` if it is missing)."""

    def save_tensors(self, hash: str, name: str, tensors: dict[str, torch.Tensor]):
        """Save a dict of tensors (scores, masks, a state dict) with ``torch.save``."""
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        return self.put_bytes(hash, name, buffer.getvalue())

    def load_tensors(self, hash: str, name: str) -> dict[str, torch.Tensor]:
        """Load a dict of tensors saved by :meth:`save_tensors` (weights only, no pickled code)."""
        return torch.load(io.BytesIO(self.get_bytes(hash, name)), weights_only=True)

    def save_json(self, hash: str, name: str, value):
        """Save a JSON-serialisable value, indented."""
        return self.put_bytes(hash, name, json.dumps(value, indent=2, sort_keys=True).encode())

    def load_json(self, hash: str, name: str):
        """Load a value saved by :meth:`save_json`."""
        return json.loads(self.get_bytes(hash, name))


class ArtifactDir(Artifacts):
    """The artifact files of every stage result under ``root/artifacts``."""

    def __init__(self, root: Path):
        self.root = Path(root) / "artifacts"

    def path(self, hash: str, name: str) -> Path:
        """Where artifact ``name`` of result ``hash`` lives (whether or not it exists yet)."""
        return self.root / check_hash(hash) / check_name(name)

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

    def put_bytes(self, hash: str, name: str, data: bytes) -> Path:
        """Write ``data`` as artifact ``name`` of result ``hash``, atomically; return its path."""
        return self.write(hash, name, lambda tmp: tmp.write_bytes(data))

    def get_bytes(self, hash: str, name: str) -> bytes:
        """The bytes of an existing artifact (a :class:`StoreError` if it is missing)."""
        path = self.path(hash, name)
        if not path.is_file():
            raise StoreError(f"no artifact {name!r} for result {hash} under {self.root}")
        return path.read_bytes()

    def files(self, hashes: Iterable[str]) -> Files:
        """Every artifact of the results ``hashes`` (none for a hash without artifacts), as bytes."""
        return {(h, path.name): path.read_bytes() for h in dict.fromkeys(hashes)
                for path in sorted((self.root / check_hash(h)).glob("[!.]*")) if path.is_file()}

    def sweep_orphans(self) -> int:
        """Remove the temporary files of writers on this host whose process is gone; returns how many."""
        host, removed = socket.gethostname(), 0
        for tmp in self.root.glob("*/.*@*@*"):
            pid, writer_host, _ = tmp.name[1:].split("@", 2)
            if writer_host == host and pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed


class MemoryArtifacts(Artifacts):
    """A stage's view of the store in a worker, which never touches the store's files: it reads ``files`` (what
    the driver passed in) and what the stage saved, and keeps the saved bytes in :attr:`written`."""

    def __init__(self, files: Mapping[tuple[str, str], bytes] = ()):
        self.files, self.written = dict(files), {}

    def exists(self, hash: str, name: str) -> bool:
        """Whether artifact ``name`` of result ``hash`` was passed in or saved."""
        return (hash, name) in self.written or (hash, name) in self.files

    def put_bytes(self, hash: str, name: str, data: bytes) -> None:
        """Keep ``data`` as artifact ``name`` of result ``hash`` for the driver to write."""
        self.written[check_hash(hash), check_name(name)] = data

    def get_bytes(self, hash: str, name: str) -> bytes:
        """The bytes of an artifact saved or passed in (a :class:`StoreError` if it is neither)."""
        for source in (self.written, self.files):
            if (hash, name) in source:
                return source[hash, name]
        raise StoreError(f"no artifact {name!r} for result {hash} among the stage's inputs")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
