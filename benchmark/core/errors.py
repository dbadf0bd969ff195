"""User-facing errors: each carries a one-line message the CLI prints without a traceback.

This module is imported by the command line before it parses anything, so it loads nothing heavy: the dataset
layer's :class:`~datasets.errors.DatasetError` (whose package loads torch) joins :data:`USER_ERRORS` only when
that name is read.
"""


class TicketbenchError(Exception):
    """Base class for errors the CLI reports as one line."""


class ConfigError(TicketbenchError):
    """An unknown name or an out-of-range setting."""


class SolverError(TicketbenchError):
    """The MIP solver ended without any feasible solution."""


def __getattr__(name: str):
    """``USER_ERRORS``: every error type the CLI reports as one line (this module's and the dataset layer's)."""
    if name == "USER_ERRORS":
        from datasets.errors import DatasetError

        return (TicketbenchError, DatasetError)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
