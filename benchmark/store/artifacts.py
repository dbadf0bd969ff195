"""Stage artifacts beside the results database: ``root/artifacts/<hash>/<name>``, each written atomically.

Only the driver of a run writes here (:mod:`benchmark.pipeline.runner`): a stage in a worker reads and writes a
:class:`MemoryArtifacts` view, which holds the files the driver passed in and collects what the stage saves, as
bytes, for the driver to write. Both serialise alike (:class:`Artifacts`), so an artifact's bytes do not depend
on where it was made. A file is written under a hidden temporary name in its final directory and renamed into
place with ``os.replace``, so readers see the old file or the whole new one, never part of one; a failed write
removes its temporary file. A writer killed outright (kill -9) cannot: its temporary name carries its process id
and host, so :meth:`ArtifactDir.sweep_orphans` can remove what a dead process on this host left behind. Names
ending in ``.pt`` hold tensors, ``.json`` hold JSON, anything else (a MIP instance such as ``mip.cip``) is
written by a callable that is handed a path with the same extension.

The sha256 of every artifact is stored with the row of the stage that made it (:mod:`benchmark.store.db`), and
:meth:`ArtifactDir.files` checks each file against it: a damaged or missing file is a one-line
:class:`~benchmark.store.DamagedArtifact` naming it, never data. An artifact that cannot be decoded is one too.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from pathlib import Path

import torch

from benchmark.store import DamagedArtifact, StoreError, check_hash
from benchmark.store.db import STORE_HINT, ResultStore
from benchmark.store.files import alive, sha256, write_error

Files = dict[tuple[str, str], bytes]  # artifact bytes by (result hash, name)
UNREADABLE = (RuntimeError, ValueError, EOFError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile)


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

    @abstractmethod
    def where(self, hash: str, name: str) -> str:
        """Where artifact ``name`` of result ``hash`` lives, for messages."""

    def save_tensors(self, hash: str, name: str, tensors: dict[str, torch.Tensor]):
        """Save a dict of tensors (scores, masks, a state dict) with ``torch.save``."""
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        return self.put_bytes(hash, name, buffer.getvalue())

    def load_tensors(self, hash: str, name: str) -> dict[str, torch.Tensor]:
        """Load a dict of tensors saved by :meth:`save_tensors` (weights only, no pickled code); one that cannot
        be decoded is a :class:`DamagedArtifact`."""
        return self._decode(hash, name, lambda data: torch.load(io.BytesIO(data), weights_only=True))

    def save_json(self, hash: str, name: str, value):
        """Save a JSON-serialisable value, indented."""
        return self.put_bytes(hash, name, json.dumps(value, indent=2, sort_keys=True).encode())

    def load_json(self, hash: str, name: str):
        """Load a value saved by :meth:`save_json` (a :class:`DamagedArtifact` if it is not JSON)."""
        return self._decode(hash, name, json.loads)

    def _decode(self, hash: str, name: str, decode: Callable[[bytes], object]):
        data = self.get_bytes(hash, name)
        try:
            return decode(data)
        except UNREADABLE as error:
            reason = " ".join(f"{type(error).__name__}: {error}".split())
            raise DamagedArtifact(f"damaged artifact {self.where(hash, name)} (cannot be read: {reason})", hash,
                                  name) from None


class ArtifactDir(Artifacts):
    """The artifact files of every stage result under ``root/artifacts``."""

    def __init__(self, root: Path):
        self.root = Path(root) / "artifacts"

    def path(self, hash: str, name: str) -> Path:
        """Where artifact ``name`` of result ``hash`` lives (whether or not it exists yet)."""
        return self.root / check_hash(hash) / check_name(name)

    def where(self, hash: str, name: str) -> str:
        """The artifact's path, as text."""
        return str(self.path(hash, name))

    def exists(self, hash: str, name: str) -> bool:
        """Whether artifact ``name`` of result ``hash`` has been written."""
        return self.path(hash, name).is_file()

    def write(self, hash: str, name: str, writer: Callable[[Path], None]) -> Path:
        """Call ``writer(tmp_path)`` and atomically move what it wrote to :meth:`path`; return that path. A full
        disk or an unwritable store is a one-line :class:`~benchmark.store.WriteError`, and leaves nothing."""
        target = self.path(hash, name)
        tmp = target.with_name(f".{os.getpid()}@{socket.gethostname()}@{uuid.uuid4().hex}.{name}")  # SCIP reads
        # the extension, so it stays last
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            writer(tmp)
            os.replace(tmp, target)
        except OSError as error:
            raise write_error("the artifact", target, error, STORE_HINT) from None
        finally:
            with suppress(OSError):
                tmp.unlink()
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

    def files(self, hashes: Iterable[str], digests: Mapping[tuple[str, str], str] | None = None) -> Files:
        """Every artifact of the results ``hashes`` (none for a hash without artifacts), as bytes, each checked
        against its sha256 in ``digests`` (by owner hash and name) where it has one: a damaged or missing one is
        a :class:`DamagedArtifact`."""
        wanted = list(dict.fromkeys(hashes))
        found = {(h, path.name): path.read_bytes() for h in wanted
                 for path in sorted((self.root / check_hash(h)).glob("[!.]*")) if path.is_file()}
        for (owner, name), digest in (digests or {}).items():
            if owner in wanted:
                self.check(owner, name, digest, found.get((owner, name)))
        return found

    def check(self, hash: str, name: str, digest: str, data: bytes | None = None) -> None:
        """Raise a :class:`DamagedArtifact` naming the file unless artifact ``name`` of result ``hash`` (``data``,
        else read from its file) has the sha256 ``digest``."""
        path = self.path(hash, name)
        if data is None:
            try:
                data = path.read_bytes()
            except OSError as error:
                reason = "missing" if isinstance(error, FileNotFoundError) else f"unreadable: {error.strerror}"
                raise DamagedArtifact(f"damaged artifact {path} ({reason})", hash, name) from None
        if sha256(data) != digest:
            raise DamagedArtifact(f"damaged artifact {path} (its sha256 differs from the one stored with its row)",
                                  hash, name)

    def remove(self, hash: str, name: str) -> None:
        """Delete artifact ``name`` of result ``hash`` if it exists (a damaged one, before it is recomputed)."""
        self.path(hash, name).unlink(missing_ok=True)

    def sweep_orphans(self) -> int:
        """Remove the temporary files of writers on this host whose process is gone; returns how many."""
        host, removed = socket.gethostname(), 0
        for tmp in self.root.glob("*/.*@*@*"):
            pid, writer_host, _ = tmp.name[1:].split("@", 2)
            if writer_host == host and pid.isdigit() and not alive(int(pid)):
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed


class MemoryArtifacts(Artifacts):
    """A stage's view of the store in a worker, which never touches the store's files: it reads ``files`` (what
    the driver passed in) and what the stage saved, and keeps the saved bytes in :attr:`written`."""

    def __init__(self, files: Mapping[tuple[str, str], bytes] = (), origin: Path | None = None):
        self.files, self.written, self.origin = dict(files), {}, origin

    def where(self, hash: str, name: str) -> str:
        """The artifact's path in the store it came from (``origin``), else ``<hash>/<name>``."""
        return str(ArtifactDir(self.origin).path(hash, name) if self.origin else Path(hash, name))

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


def checked(store: ResultStore, artifacts: ArtifactDir, hashes: Iterable[str]) -> MemoryArtifacts:
    """The artifacts of the results ``hashes``, read and checked against the digests stored with their rows (a
    :class:`DamagedArtifact` names the first that differs)."""
    hashes = list(dict.fromkeys(hashes))
    digests = {key: entry["sha256"] for key, entry in store.digests(hashes).items()}
    return MemoryArtifacts(artifacts.files(hashes, digests), origin=store.root)
    return True
