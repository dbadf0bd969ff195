"""Logging: progress, warnings and details go through stdlib :mod:`logging`, one logger per module
(``logging.getLogger(__name__)``); what a command prints as its result (tables, listings, paths) does not.

The command line sets the loggers of the ``benchmark``, ``baselines`` and ``datasets`` packages up for the
duration of a command (:func:`cli_logging`); a library user configures :mod:`logging` as they like (nothing is
printed unless they do, apart from warnings, which :data:`logging.lastResort` shows).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PACKAGES = ("benchmark", "baselines", "datasets")


class Formatter(logging.Formatter):
    """Information as the bare message; ``warning: ...`` and ``error: ...`` above it; ``debug <logger>: ...``
    below it."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's message with its level's prefix."""
        message = super().format(record)
        if record.levelno == logging.INFO:
            return message
        if record.levelno < logging.INFO:
            return f"debug {record.name}: {message}"
        return f"{record.levelname.lower()}: {message}"


@contextmanager
def cli_logging(level: int = logging.INFO) -> Iterator[None]:
    """For the duration: the packages' loggers at ``level``, written to standard error, through ``tqdm.write``
    so that a progress bar stays whole (:func:`tqdm.contrib.logging.logging_redirect_tqdm`); afterwards the
    loggers are as they were."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Formatter())
    loggers = [logging.getLogger(name) for name in PACKAGES]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        with logging_redirect_tqdm(loggers):
            yield
    finally:
        for logger, old in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(old)
