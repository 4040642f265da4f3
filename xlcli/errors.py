"""The one exception a user's mistake becomes.

Library code raises :class:`XlcliError` for anything the user can fix (bad file, unknown
language, missing model, locked store...). The CLI turns it into a single line on stderr
and exit code 2; everything else is a bug and keeps its traceback.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class XlcliError(Exception):
    """A user-facing error: one line saying what, where, and what to do."""

    exit_code = 2


# Set while a pipeline runs a command in-process: user errors are raised to it, not printed.
_RAISE_USER_ERRORS: ContextVar[bool] = ContextVar("xlcli_raise_user_errors", default=False)


@contextmanager
def user_errors_raised() -> Iterator[None]:
    """Within this block the app raises XlcliError (parser errors included) instead of printing
    it, so that a caller running a command in-process (the pipeline) reports it in its own line."""
    token = _RAISE_USER_ERRORS.set(True)
    try:
        yield
    finally:
        _RAISE_USER_ERRORS.reset(token)


def raising_user_errors() -> bool:
    """Whether the app should raise a user error to its in-process caller instead of printing it."""
    return _RAISE_USER_ERRORS.get()
