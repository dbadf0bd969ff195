"""Files written whole or not at all, digests to check them by, and one-line errors for places that cannot be
written (a full disk, a read-only file system, a regular file where a directory should be).

Standard library only, like :mod:`benchmark.store.db`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import uuid
from contextlib import suppress
from pathlib import Path

from benchmark.store import WriteError

REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is a regular file, not a directory",
    errno.EEXIST: "it is a regular file, not a directory",
}


def sha256(data: bytes) -> str:
    """The sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_error(what: str, path: Path, error: OSError | str, hint: str = "") -> WriteError:
    """A one-line :class:`WriteError`: ``cannot write WHAT PATH: REASON[; HINT]``, the reason from the error's
    errno (or ``error`` itself, when it is a string); on a full disk the hint starts with freeing space."""
    if isinstance(error, OSError):
        if hint and error.errno in (errno.ENOSPC, errno.EDQUOT):
            hint = f"free some space, or {hint}"
        error = REASONS.get(error.errno) or error.strerror or str(error)
    reason = " ".join(error.split())
    return WriteError(f"cannot write {what} {path}: {reason}" + (f"; {hint}" if hint else ""))


def ensure_writable(directory: Path, what: str, hint: str = "") -> Path:
    """Create ``directory`` if needed and create (and drop) a file in it, so that an unwritable place fails in one
    line before any work; works as root too, where permission bits are not enforced."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise write_error(what, directory, error, hint) from None
    return directory


def atomic_write(path: Path, data: bytes, what: str, hint: str = "") -> Path:
    """Write ``data`` to ``path`` under a temporary name in its directory and rename it into place: readers see
    the old file or the whole new one; on failure the temporary file is removed and a :class:`WriteError`
    raised."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as error:
        raise write_error(what, path, error, hint) from None
    finally:
        with suppress(OSError):
            tmp.unlink()
    return path


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
