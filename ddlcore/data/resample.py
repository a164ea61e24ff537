"""A camera's analysis rate (``cameras.fps``): footage taken to a fixed frame rate by keeping (or, for slower
footage, repeating) source frames, so that a model's clip of T frames spans the same time whatever rate the
camera delivers. Frame ``k`` at the analysis rate is source frame ``floor(k * source_fps / fps)``; the same
rule serves extraction (:mod:`.cameras`) and a watched source (:mod:`ddlcore.live.watch`)."""

from __future__ import annotations

import math
from typing import Iterable, Iterator, TypeVar

Frame = TypeVar("Frame")
#: slack for rates whose ratio is not exact in floating point (29.97 / 9.99)
_EPSILON = 1e-9


def analysis_rate(source_fps: float, fps: float | None) -> float:
    """The rate footage at ``source_fps`` is analysed at: ``fps``, or the footage's own rate when ``fps`` is None
    (or the source reports no rate)."""
    return float(fps) if fps and source_fps > 0 else float(source_fps)


def source_index(k: int, source_fps: float, fps: float | None) -> int:
    """Index in the source of frame ``k`` at the analysis rate."""
    rate = analysis_rate(source_fps, fps)
    return k if rate == source_fps else math.floor(k * source_fps / rate + _EPSILON)


def analysis_frames(n_source: int, source_fps: float, fps: float | None) -> int:
    """Frames at the analysis rate that ``n_source`` source frames give (every ``k`` whose source frame exists)."""
    rate = analysis_rate(source_fps, fps)
    if rate == source_fps:
        return n_source
    n = math.ceil(n_source * rate / source_fps - _EPSILON)
    while n > 0 and source_index(n - 1, source_fps, fps) >= n_source:
        n -= 1
    return n


def resample(frames: Iterable[Frame], source_fps: float, fps: float | None) -> Iterator[Frame]:
    """The frames (any items, in order) of a source at ``source_fps`` taken to the analysis rate ``fps``
    (None: all of them, unchanged); streams, so it serves a live source too."""
    if analysis_rate(source_fps, fps) == source_fps:
        yield from frames
        return
    k = 0
    for i, frame in enumerate(frames):
        while source_index(k, source_fps, fps) == i:  # more than once when the source is slower
            yield frame
            k += 1


#: a live frame arriving this fraction of an analysis period before its due time is kept (arrival jitter)
ARRIVAL_SLACK = 0.25


class RateGate:
    """Which frames of a source, arriving one at a time, the analysis rate ``fps`` keeps (None: every frame).

    :meth:`keep` (a file or folder, whose frames are numbered at the rate it reports): frame ``i`` of the source
    is kept when it is the source frame of some analysis frame (:func:`source_index`), as extraction keeps it.
    :meth:`keep_arrival` (a camera or stream, whose reported rate may be wrong): by arrival time, one frame per
    analysis period on a fixed schedule. A source slower than the analysis rate keeps every frame (a live frame
    is scored once)."""

    def __init__(self, fps: float | None) -> None:
        self.fps = fps
        self._index = -1
        self._next = 0
        self._due: float | None = None

    def keep(self, source_fps: float) -> bool:
        """Whether the source's next frame is kept, its rate now being ``source_fps``."""
        self._index += 1
        if not self.fps or source_fps <= self.fps:
            return True
        if source_index(self._next, source_fps, self.fps) > self._index:
            return False
        while source_index(self._next, source_fps, self.fps) <= self._index:
            self._next += 1
        return True

    def keep_arrival(self, arrived: float) -> bool:
        """Whether a live source's frame that arrived at ``arrived`` (s, a monotonic clock) is kept: the first
        one, then the first arriving after each due time of the schedule first + k / fps (less
        :data:`ARRIVAL_SLACK` of a period); after a gap longer than a period the schedule restarts there."""
        if not self.fps:
            return True
        period = 1.0 / self.fps
        if self._due is not None and arrived < self._due - ARRIVAL_SLACK * period:
            return False
        self._due = arrived + period if self._due is None or arrived >= self._due + period else self._due + period
        return True
