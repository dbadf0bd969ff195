"""The one exception type the dataset layer raises, always with a one-line message."""


class DatasetError(Exception):
    """A dataset could not be found, verified or decoded; the message is one line for the user."""
