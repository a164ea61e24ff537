"""The one error type the CLI turns into a single clear line (no traceback)."""

from __future__ import annotations


class DDLError(Exception):
    """A user-facing problem: bad input, bad config, missing file.

    The message must name the file, video or config key at fault and what is wrong,
    in one line. ``ddl`` prints ``error: <message>`` and exits with status 1.
    """
