"""The one exception a user's mistake becomes.

Library code raises :class:`XlcliError` for anything the user can fix (bad file, unknown
language, missing model, locked store...). The CLI turns it into a single line on stderr
and exit code 2; everything else is a bug and keeps its traceback.
"""


class XlcliError(Exception):
    """A user-facing error: one line saying what, where, and what to do."""

    exit_code = 2
