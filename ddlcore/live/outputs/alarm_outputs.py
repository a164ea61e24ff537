""":class:`AlarmOutputs`, the one thing the watch loop talks to: :meth:`~AlarmOutputs.event` for each event
line, :meth:`~AlarmOutputs.frame` for each scored frame, :meth:`~AlarmOutputs.close` when the watch stops. It
turns them into event messages (:mod:`.messages`) and hands them to the outputs configured: an MQTT broker
(:mod:`.mqtt`) and webhooks (:mod:`.webhook`); and always to the history the page's events API serves
(:class:`..api.EventHistory`). Every output queues and returns at once; its own thread does the sending, so a
slow or absent receiver never holds up scoring.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..api import EventHistory, latency_histogram
from .messages import EventMessages, camera_name
from .mqtt import MqttOutput
from .settings import OutputSettings
from .webhook import WebhookOutput, webhook_secret


def stderr_line(message: str) -> None:
    """One status line of the outputs on stderr."""
    print(message, file=sys.stderr, flush=True)


class Output(Protocol):
    """What :class:`AlarmOutputs` hands messages to."""

    name: str

    def event(self, message: dict[str, Any]) -> None:
        """Queue an event message."""

    def close(self, timeout_s: float) -> None:
        """Send what waits for at most ``timeout_s``, then stop."""


class AlarmOutputs:
    """The outputs of ``settings`` (``outputs`` section) for a watch of ``cameras`` (their names; ``""``: the one
    unnamed camera of ``ddl watch SOURCE``), and the history of events the page's API serves (``history``).
    ``warn`` takes status lines; ``environ``: where secrets' environment variables are read (default
    ``os.environ``). One-line DDLError for bad settings (broker URL, secret files)."""

    def __init__(self, settings: OutputSettings, cameras: Sequence[str],
                 warn: Callable[[str], None] = stderr_line, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.messages = EventMessages(settings.public_url, settings.update_every_s)
        self.history = EventHistory(settings.api_events)
        self.latency = latency_histogram()
        self.mqtt: MqttOutput | None = None
        self.outputs: list[Output] = [self.history]
        try:
            if settings.mqtt.broker is not None:
                self.mqtt = MqttOutput(settings.mqtt, cameras, warn, environ)
                self.outputs.append(self.mqtt)
            if settings.webhooks.urls:
                secret = webhook_secret(settings.webhooks, environ)
                self.outputs += [WebhookOutput(url, settings.webhooks, secret, warn) for url in settings.webhooks.urls]
                if secret is None:
                    warn("webhooks: no shared secret (outputs.webhooks.secret_file or $DDL_WEBHOOK_SECRET): "
                         "their POSTs are not signed")
        except BaseException:
            self.close()
            raise
        if len(self.outputs) > 1:
            warn("alarms also go to: " + ", ".join(o.name for o in self.outputs[1:]))

    def event(self, kind: str, record: dict[str, Any]) -> None:
        """An event line (``kind`` "start" or "end", ``record`` with its camera, clip and snapshot fields)."""
        self._send(self.messages.event(kind, record))

    def frame(self, camera: str, score: float, latency_s: float) -> None:
        """A scored frame of ``camera`` with its (smoothed, calibrated) ``score`` and the ``latency_s`` from reading
        the newest frame to this score: the latency histogram, states, and an update when due."""
        self.latency.labels(camera_name(camera)).observe(latency_s)
        if not math.isfinite(score):
            return
        if self.mqtt is not None:
            self.mqtt.frame(camera, score)
        if (update := self.messages.frame(camera, score)) is not None:
            self._send(update)

    def close(self) -> None:
        """Send what waits, for at most ``outputs.close_timeout_s`` per output, and stop every output."""
        for output in self.outputs:
            output.close(self.settings.close_timeout_s)
        self.outputs = [self.history]

    def _send(self, message: dict[str, Any]) -> None:
        for output in self.outputs:
            output.event(message)
