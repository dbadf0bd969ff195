"""Export a results frame as CSV, Parquet, JSON or Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.store import StoreError
from benchmark.store.files import atomic_write

FORMATS = ("csv", "parquet", "json", "markdown")


def markdown_table(frame: pd.DataFrame, missing: str = "") -> str:
    """A GitHub-flavoured Markdown table of ``frame`` through pandas (no index; NaN as ``missing``; ``|`` escaped;
    cells printed as they are, numbers not reformatted)."""
    def cell(value):
        if isinstance(value, str):
            return value.replace("|", r"\|")
        return missing if not isinstance(value, list | dict) and pd.isna(value) else value

    return frame.map(cell).to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"


def export_results(frame: pd.DataFrame, fmt: str, path: Path | None = None) -> str | bytes:
    """Return ``frame`` in format ``fmt`` (bytes for Parquet, text otherwise), also written to ``path`` if given
    (whole or not at all; a full disk or an unwritable place is a one-line :class:`~benchmark.store.WriteError`).

    JSON is a list of row objects with NaN as null. Parquet needs pyarrow (or fastparquet).
    """
    if fmt == "csv":
        content = frame.to_csv(index=False)
    elif fmt == "json":
        content = frame.to_json(orient="records", indent=2)
    elif fmt == "markdown":
        content = markdown_table(frame)
    elif fmt == "parquet":
        try:
            content = frame.to_parquet(index=False)
        except ImportError:
            raise StoreError("parquet export needs pyarrow: pip install pyarrow") from None
        except (TypeError, ValueError) as error:  # pyarrow's ArrowTypeError / ArrowInvalid: mixed-type columns
            raise StoreError(f"parquet cannot hold this frame: {str(error).splitlines()[0]}") from None
    else:
        raise StoreError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if path is not None:
        atomic_write(Path(path), content if isinstance(content, bytes) else content.encode(), "the export")
    return content
