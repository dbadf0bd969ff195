"""A run's processes end with it: pool workers die with their driver, and SIGTERM stops a run as Ctrl-C does.

Measured on Linux with Python 3.11: a spawned pool worker waits on its call queue, whose write end it holds too,
so ``kill -9`` of the driver leaves it running (its stage, then waiting forever), and with it the resource
tracker it keeps open. Sharing the driver's process group does not help (the workers already do: ``kill -9 PID``
signals one process, and only a terminal's Ctrl-C signals the group). So each worker asks the kernel to SIGKILL
it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), the parent being the *thread* that started it: in Python
3.11 a spawn pool starts its workers in ``submit``, so in the driver's thread, which outlives the pool (only with
``max_tasks_per_child``, which ticketbench never sets, would the pool's own manager thread start replacements).
A Dask ``LocalCluster``'s workers need nothing: Dask already ends them when their parent's pipe closes (measured
too).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """A pool worker's initializer: on Linux, have the kernel SIGKILL this process when the thread that started it
    ends, and end now if ``parent`` (the driver's pid) is already gone; elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the driver died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` as Ctrl-C does, so that a terminated run stops
    the same way (its stages in flight ended, what finished kept, one line); the previous handler is restored
    after. Outside the main thread, where Python cannot set handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
