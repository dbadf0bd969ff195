"""User-facing errors: each carries a one-line message the CLI prints without a traceback."""

from datasets.errors import DatasetError


class TicketbenchError(Exception):
    """Base class for errors the CLI reports as one line."""


class ConfigError(TicketbenchError):
    """An unknown name or an out-of-range setting."""


class SolverError(TicketbenchError):
    """The MIP solver ended without any feasible solution."""


USER_ERRORS = (TicketbenchError, DatasetError)
