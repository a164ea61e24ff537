"""A bounded queue of messages waiting for one output's worker thread: putting never blocks the watch loop.

A message put under a ``key`` (a camera's score topic, say) replaces the one waiting under the same key, in its
place: only the newest value of a state waits, however long the receiver is away. Beyond ``limit`` waiting
messages, new ones are dropped, counted, and the first drop is reported once through ``warn``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from itertools import count
from typing import Any, Callable, Hashable


class Outbox:
    """Messages waiting, oldest first (see the module docstring); ``name`` names the output in the warning."""

    def __init__(self, limit: int, name: str, warn: Callable[[str], None]) -> None:
        self._limit = limit
        self._name = name
        self._warn = warn
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._serial = count()
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, message: Any, key: Hashable | None = None) -> bool:
        """Queue ``message`` (replacing the one waiting under ``key``); False when it was dropped (full or closed)."""
        with self._ready:
            if key is not None and ("key", key) in self._items:
                self._items[("key", key)] = message
                return True
            if self._closed or len(self._items) >= self._limit:
                self.dropped += 1
                if self.dropped == 1:
                    self._warn(f"{self._name}: {self._limit} messages already waiting; new ones are dropped "
                               "(counted, and reported when the watch stops)")
                return False
            self._items[("key", key) if key is not None else ("serial", next(self._serial))] = message
            self._ready.notify()
            return True

    def take(self, timeout: float | None = None) -> Any | None:
        """The oldest waiting message, taken off the queue; None after ``timeout`` s, or once closed and empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._items and not self._closed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._ready.wait(left)
            return self._items.popitem(last=False)[1] if self._items else None

    def close(self) -> None:
        """No more messages are accepted; :meth:`take` returns the waiting ones, then None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def drain(self, worker: threading.Thread, abandon: threading.Event, timeout_s: float) -> None:
        """Close, and let ``worker`` deliver what waits for at most ``timeout_s``; then set ``abandon`` (the worker's
        signal to give up) and discard what is left (counted in :attr:`dropped`)."""
        self.close()
        worker.join(timeout_s)
        if worker.is_alive():
            abandon.set()
            self.discard()
            worker.join(1.0)

    def discard(self) -> int:
        """Drop every waiting message (counted); returns how many."""
        with self._ready:
            n = len(self._items)
            self._items.clear()
            self.dropped += n
            return n

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)
