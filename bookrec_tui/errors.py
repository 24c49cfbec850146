"""Errors a user can act on: each message says what went wrong and what to do."""

from __future__ import annotations


class BookrecError(Exception):
    """Base class; the CLI prints these without a traceback."""


class DataError(BookrecError):
    """Input data is missing or malformed."""


class DataMissingError(DataError):
    """The goodbooks-10k files are not where we looked."""


class ModelError(BookrecError):
    """The model bundle is missing, corrupt or does not fit the data."""


class FetchError(BookrecError):
    """Downloading the public data failed."""
