"""The event messages every output sends, shaped after Frigate's ``frigate/events`` where the meaning is the same.

One message per change of an event: ``{"type": "new" | "update" | "end", "before": STATE, "after": STATE}``,
``after`` the event as it is now and ``before`` as the previous message gave it (on ``new``: the same as
``after``). A ``new`` message is sent when the event is confirmed (``alarm.min_frames`` alarmed frames), an
``update`` while it lasts when its top score rose (at most every ``outputs.update_every_s``), an ``end`` when
it is over. STATE fields (the event line's, :class:`..event_log.EventLog`, renamed where Frigate has a name):

- ``id``: ``CAMERA-YYYYmmddTHHMMSSZ-N``, unique across restarts; the stem of the snapshot's and clip's names
- ``camera``: the camera's name (``default`` for ``ddl watch SOURCE``'s one camera); ``label``: ``"anomaly"``
- ``number``: the event's number in this watch and camera (the event line's ``id``)
- ``start_time``, ``end_time``: when the event's first and last alarmed frames were read, seconds since the
  epoch (``end_time``: null until ``end``)
- ``start_frame``, ``end_frame``, ``peak_frame``: frame numbers of the watch (``end_frame``: null until ``end``)
- ``top_score``: the highest calibrated score of the event so far; ``threshold``: the camera's alarm threshold
- ``box``: x0, y0, x1, y1 of the worst patch at the peak, in the pixels of the frame as read (as of ``new``
  and final at ``end``: an ``update`` changes ``top_score`` only)
- ``has_snapshot``, ``has_clip``: whether the watch writes them (``ddl watch --cameras`` with an events folder);
  ``snapshot``, ``clip``: their file names in the events folder; ``snapshot_url``, ``clip_url``: the page's
  addresses of them under ``outputs.public_url`` (null without one). The snapshot is final once ``end`` is
  sent; the clip a few seconds later (``live.event_after_s``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from ..event_media import media_stem

#: the name the unnamed camera of ``ddl watch SOURCE`` goes by in messages and topics
UNNAMED_CAMERA = "default"
#: Frigate's ``label``: what was seen
LABEL = "anomaly"


def camera_name(name: str) -> str:
    """The camera's name in messages: its own, or :data:`UNNAMED_CAMERA`."""
    return name or UNNAMED_CAMERA


def _epoch(iso: str | None) -> float | None:
    """An ISO 8601 time of an event line as seconds since the epoch (3 decimals), None for None."""
    return None if iso is None else round(datetime.fromisoformat(iso).timestamp(), 3)


def event_state(record: dict[str, Any], public_url: str | None) -> dict[str, Any]:
    """The STATE (see the module docstring) of an event line ``record`` (start or end); ``public_url``: the page's
    address for the snapshot's and clip's URLs (None: no URLs)."""
    camera = camera_name(record.get("camera", ""))
    snapshot, clip = record.get("snapshot"), record.get("clip")
    base = public_url.rstrip("/") + "/events/" if public_url else None
    return {
        "id": media_stem(camera, record["start_time"], record["id"]),
        "camera": camera, "label": LABEL, "number": record["id"],
        "start_time": _epoch(record["start_time"]), "end_time": _epoch(record["end_time"]),
        "start_frame": record["start"], "end_frame": record["end"], "peak_frame": record["peak_frame"],
        "top_score": record["peak_score"], "threshold": record["threshold"], "box": record["box"],
        "has_snapshot": snapshot is not None, "has_clip": clip is not None, "snapshot": snapshot, "clip": clip,
        "snapshot_url": base + snapshot if base and snapshot else None,
        "clip_url": base + clip if base and clip else None,
    }


class EventMessages:
    """Turns a watch's event lines and frame scores into event messages, keeping each camera's open event.

    ``public_url``: as for :func:`event_state`; ``update_every_s``: the least time between two messages about
    one event that an update may follow; ``clock``: monotonic seconds (a test's own clock).
    """

    def __init__(self, public_url: str | None, update_every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.public_url = public_url
        self.update_every_s = update_every_s
        self.clock = clock
        # camera -> [state as last sent, state now, time last sent]
        self._open: dict[str, list[Any]] = {}

    def event(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        """The message of event line ``record`` of ``kind`` "start" (a ``new`` message) or "end"."""
        after = event_state(record, self.public_url)
        if kind == "start":
            self._open[after["camera"]] = [after, after, self.clock()]
            return {"type": "new", "before": after, "after": after}
        sent = self._open.pop(after["camera"], [after])[0]
        return {"type": "end", "before": sent, "after": after}

    def frame(self, camera: str, score: float) -> dict[str, Any] | None:
        """A scored frame of ``camera`` (its name as in the event lines): an ``update`` message when its open
        event's top score has risen and the last message about it is ``update_every_s`` old; else None."""
        entry = self._open.get(camera_name(camera))
        if entry is None:
            return None
        sent, now, when = entry
        if score > now["top_score"]:
            now = entry[1] = {**now, "top_score": round(float(score), 6)}
        if now is sent or self.clock() - when < self.update_every_s:
            return None
        entry[0], entry[2] = now, self.clock()
        return {"type": "update", "before": sent, "after": now}
