"""The one exception type the dataset layer raises, always with a one-line message."""


class DatasetError(Exception):
    """A dataset could not be found, verified or decoded; the message is one line for the user."""


def describe(exc: BaseException) -> str:
    """``exc`` as one line: its type, then its message with line breaks folded (just the type if it has none)."""
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
