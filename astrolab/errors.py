"""Errors raised by astrolab.

Every error astrolab raises on bad input derives from :class:`AstrolabError`
and its message names the offending object and says how to fix it.
"""

from __future__ import annotations

__all__ = ["AstrolabError", "DataValidationError", "ArchiveError", "CheckpointError"]


class AstrolabError(Exception):
    """Base class of every error astrolab raises on purpose."""


class DataValidationError(AstrolabError, ValueError):
    """Input data failed validation (shape, finiteness, units, missing column).

    The message has the form ``"<object>: <what is wrong>. Fix: <what to do>."``.
    """


class ArchiveError(AstrolabError, OSError):
    """A remote archive did not answer, or its reply could not be read."""


class CheckpointError(AstrolabError, OSError):
    """A checkpoint is missing, corrupt or from an incompatible version."""


def invalid(obj: str, problem: str, fix: str) -> DataValidationError:
    """Build a :class:`DataValidationError` with the standard message layout.

    Parameters
    ----------
    obj : str
        Name of the object that is wrong (e.g. ``"ImageSet.images"``).
    problem : str
        What is wrong with it.
    fix : str
        What the user should do.
    """
    return DataValidationError(f"{obj}: {problem}. Fix: {fix}.")
