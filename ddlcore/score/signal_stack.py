"""Keep the calling thread's alternate signal stack across calls into a library that replaces it.

OpenVINO (2026.4) installs an alternate signal stack of its own on the thread that compiles a model
and, when the model is freed, puts back the one it found. Freed out of order (a runtime model's
encoder before its decoder), the models leave a freed stack installed; the next signal the process
handles (Ctrl-C, the SIGTERM ddl catches, the SIGCHLD handler of PyTorch's data loader) is then
delivered onto freed memory and the process dies with a segmentation fault. Restoring the thread's
stack right after the compile keeps it valid whatever the order of the frees.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import Iterator


class _SignalStack(ctypes.Structure):
    """``stack_t`` of <signal.h>: base, flags, size."""

    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def _sigaltstack() -> "ctypes._CFuncPtr | None":
    """libc's ``sigaltstack``; None where the C library has none (Windows)."""
    try:
        return ctypes.CDLL(None).sigaltstack
    except (OSError, AttributeError, TypeError):
        return None


_SIGALTSTACK = _sigaltstack()


def current_signal_stack() -> tuple[int | None, int, int]:
    """The calling thread's alternate signal stack as (base address or None, flags, size in bytes).

    Returns (None, 0, 0) where the platform has no ``sigaltstack``.
    """
    if _SIGALTSTACK is None:
        return None, 0, 0
    stack = _SignalStack()
    _SIGALTSTACK(None, ctypes.byref(stack))
    return stack.ss_sp, stack.ss_flags, stack.ss_size


@contextlib.contextmanager
def kept_signal_stack() -> Iterator[None]:
    """Run the block, then reinstall the alternate signal stack the calling thread had before it."""
    if _SIGALTSTACK is None:
        yield
        return
    saved = _SignalStack()
    _SIGALTSTACK(None, ctypes.byref(saved))
    try:
        yield
    finally:
        _SIGALTSTACK(ctypes.byref(saved), None)
