"""The one error type the CLI turns into a single clear line (no traceback), and the one warning line."""

from __future__ import annotations

import sys


class DDLError(Exception):
    """A user-facing problem: bad input, bad config, missing file.

    The message must name the file, video or config key at fault and what is wrong,
    in one line. ``ddl`` prints ``error: <message>`` and exits with status 1.
    """


def warn(message: str) -> None:
    """One ``warning: <message>`` line on stderr (a problem the command goes on after)."""
    sys.stderr.write(f"warning: {message}\n")  # one write: a line from another thread cannot split it
    sys.stderr.flush()
