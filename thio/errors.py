"""Errors a user sees as one line, never as a traceback."""


class ThioError(Exception):
    """A problem the user can fix: the message names the file, sheet, row or setting."""


class UsageError(ThioError):
    """The command was called wrongly (exit code 2)."""
