"""The MQTT output of ``ddl watch`` (``outputs.mqtt``), after Frigate's topics and Home Assistant's discovery.

Topics (PREFIX: ``outputs.mqtt.topic_prefix``, default ``ddl``; CAMERA: the camera's name as in file names,
:func:`..event_media.camera_label`, ``default`` for ``ddl watch SOURCE``):

- ``PREFIX/available``: ``online`` once connected, ``offline`` when the watch stops, and ``offline`` as the
  broker's last will when the watcher dies or its connection does (retained);
- ``PREFIX/events``: one JSON message per event change, ``new``, ``update``, ``end`` (:mod:`.messages`);
- ``PREFIX/CAMERA/anomaly``: ``ON`` from an event's ``new`` to its ``end``, else ``OFF`` (retained; ``OFF`` for
  every camera at the start);
- ``PREFIX/CAMERA/score``, ``PREFIX/CAMERA/fps``: the newest frame score and the frames scored per second, at
  most every ``outputs.mqtt.state_every_s``;
- with ``outputs.mqtt.discovery``: ``DISCOVERY/binary_sensor/CLIENT_ID/CAMERA_anomaly/config`` and
  ``DISCOVERY/sensor/CLIENT_ID/CAMERA_{score,fps}/config`` (retained; again whenever Home Assistant announces
  itself ``online`` on ``DISCOVERY/status``): each camera a device with an anomaly binary sensor and two sensors.

Messages wait in a bounded :class:`.outbox.Outbox` for one worker thread that publishes them while the broker
is connected; paho's network thread reconnects with waits doubling from 1 s to ``reconnect_max_s``. Events
that happen while the broker is away are published once it is back (QoS 1 and 2 also across a connection lost
mid-publish); a camera's score, fps and state wait as their newest value only.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from ...errors import DDLError
from ..event_media import camera_label
from .messages import camera_name
from .outbox import Outbox
from .secrets import read_secret
from .settings import MqttSettings

#: the environment variables of the broker's credentials (see ``outputs.mqtt`` in the schema)
USERNAME_VARIABLE, PASSWORD_VARIABLE = "DDL_MQTT_USERNAME", "DDL_MQTT_PASSWORD"
ONLINE, OFFLINE = "online", "offline"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def parse_broker(url: str) -> tuple[str, int, bool]:
    """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` -> (host, port, TLS); one-line DDLError otherwise (a URL
    holding credentials is refused without being repeated: they go in the settings, see the schema)."""
    where = "outputs.mqtt.broker"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DDLError(f"{where}: not a broker URL (expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT])") from None
    if "@" in parts.netloc:
        raise DDLError(f"{where}: no user name or password in the URL; give them as outputs.mqtt.username and "
                       f"outputs.mqtt.password_file, or ${USERNAME_VARIABLE} and ${PASSWORD_VARIABLE}")
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise DDLError(f"{where} {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    return parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts"


class MqttOutput:
    """Publishes a watch's events and camera states to an MQTT broker (see the module docstring).

    settings: ``outputs.mqtt`` (its broker set); cameras: the watched cameras' names; warn: where status lines go
    (connected, lost, dropped messages; never a credential); environ: where the credentials' variables are read.
    Connecting goes on in the background: an unreachable broker is retried, not an error. DDLError (one line)
    for a bad broker URL, an unreadable password or CA file.
    """

    def __init__(self, settings: MqttSettings, cameras: Sequence[str], warn: Callable[[str], None],
                 environ: Mapping[str, str] | None = None) -> None:
        if settings.broker is None:
            raise DDLError("outputs.mqtt.broker: not set")
        host, port, tls = parse_broker(settings.broker)
        self.settings = settings
        self.name = f"mqtt {urlsplit(settings.broker).scheme}://{host}:{port}"
        self.warn = warn
        prefix = settings.topic_prefix
        self.available_topic = f"{prefix}/available"
        self.events_topic = f"{prefix}/events"
        self.labels = {camera_name(c): camera_label(camera_name(c)) for c in cameras}
        self.outbox = Outbox(settings.queue_messages, self.name, warn)
        self.connected = threading.Event()
        self._abandon = threading.Event()
        self._lost = False
        self._unreachable = False
        self._refusal: str | None = None
        self._frames: dict[str, tuple[int, float]] = {}  # camera -> (frames scored since, monotonic time) of its last states
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv311)
        username = settings.username or read_secret(None, USERNAME_VARIABLE, "", environ)
        password = read_secret(settings.password_file, PASSWORD_VARIABLE, "outputs.mqtt.password_file", environ)
        if password is not None and username is None:
            raise DDLError(f"outputs.mqtt: a password but no user name (outputs.mqtt.username or ${USERNAME_VARIABLE})")
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            try:
                client.tls_set(ca_certs=settings.ca_file)
            except (OSError, ValueError) as exc:
                raise DDLError(f"outputs.mqtt.ca_file {settings.ca_file}: cannot use it ({exc})") from exc
        client.will_set(self.available_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, max(1, int(settings.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self.client = client
        for camera in self.labels:
            self.anomaly(camera, False)
        client.connect_async(host, port, settings.keepalive_s)
        client.loop_start()
        self._worker = threading.Thread(target=self._run, name="ddl-watch-mqtt", daemon=True)
        self._worker.start()

    # the watch's side: queue and return at once
    def event(self, message: dict[str, Any]) -> None:
        """An event message (:mod:`.messages`): on ``PREFIX/events``; ``new`` and ``end`` also set the camera's
        anomaly state."""
        self._queue(self.events_topic, json.dumps(message), retain=False)
        if message["type"] in ("new", "end"):
            self.anomaly(message["after"]["camera"], message["type"] == "new")

    def anomaly(self, camera: str, on: bool) -> None:
        """Camera ``camera``'s state (retained): ON during an event, OFF otherwise."""
        self._queue(self._topic(camera, "anomaly"), "ON" if on else "OFF", retain=True, key=(camera, "anomaly"))

    def frame(self, camera: str, score: float) -> None:
        """A scored frame of ``camera``: its score and frame rate, published at most every ``state_every_s``."""
        camera = camera_name(camera)
        now = time.monotonic()
        frames, since = self._frames.get(camera, (0, now))
        frames += 1
        if camera in self._frames and now - since < self.settings.state_every_s:
            self._frames[camera] = (frames, since)
            return
        self._frames[camera] = (0, now)
        self._queue(self._topic(camera, "score"), f"{score:.6g}", retain=False, key=(camera, "score"))
        if now > since:
            self._queue(self._topic(camera, "fps"), f"{frames / (now - since):.2f}", retain=False, key=(camera, "fps"))

    def close(self, timeout_s: float) -> None:
        """Publish what waits (for at most ``timeout_s``), then ``offline``, and disconnect."""
        deadline = time.monotonic() + timeout_s
        self.outbox.drain(self._worker, self._abandon, timeout_s)
        if self.connected.is_set():
            info = self.client.publish(self.available_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # the connection went at the last moment: the will says offline
                pass
        self.client.disconnect()
        self.client.loop_stop()
        if self.outbox.dropped:
            self.warn(f"{self.name}: {self.outbox.dropped} messages dropped (the broker could not take them in time)")

    # topics and payloads
    def _topic(self, camera: str, what: str) -> str:
        return f"{self.settings.topic_prefix}/{self.labels.get(camera, camera_label(camera))}/{what}"

    def discovery(self) -> list[tuple[str, str]]:
        """(topic, JSON payload) of Home Assistant's discovery of every camera: an anomaly binary sensor, a score
        sensor and a frame-rate sensor per camera, all available while ``PREFIX/available`` is ``online``."""
        s = self.settings
        found = []
        for camera, label in self.labels.items():
            device = {"identifiers": [f"{s.client_id}_{label}"], "name": f"{camera} anomalies",
                      "manufacturer": "ddl", "model": "ddl watch"}
            common = {"availability_topic": self.available_topic, "payload_available": ONLINE,
                      "payload_not_available": OFFLINE, "qos": s.qos, "device": device, "origin": {"name": "ddl"}}
            entities = [
                ("binary_sensor", "anomaly", {"name": "Anomaly", "device_class": "problem", "payload_on": "ON",
                                              "payload_off": "OFF"}),
                ("sensor", "score", {"name": "Anomaly score", "state_class": "measurement",
                                     "suggested_display_precision": 3}),
                ("sensor", "fps", {"name": "Frames scored", "state_class": "measurement",
                                   "unit_of_measurement": "fps", "entity_category": "diagnostic"}),
            ]
            for component, what, fields in entities:
                config = {**fields, "unique_id": f"{s.client_id}_{label}_{what}",
                          "state_topic": self._topic(camera, what), **common}
                found.append((f"{s.discovery_prefix}/{component}/{s.client_id}/{label}_{what}/config",
                              json.dumps(config)))
        return found

    # the worker and paho's callbacks
    def _queue(self, topic: str, payload: str, retain: bool, key: Any = None) -> None:
        self.outbox.put((topic, payload, retain), key)

    def _run(self) -> None:
        while (message := self.outbox.take()) is not None:
            topic, payload, retain = message
            while not self._abandon.is_set():
                if not self.connected.wait(0.5):
                    continue
                info = self.client.publish(topic, payload, qos=self.settings.qos, retain=retain)
                # QoS 1 and 2: paho keeps the message and sends it again after reconnecting
                if info.rc == mqtt.MQTT_ERR_SUCCESS or (info.rc == mqtt.MQTT_ERR_NO_CONN and self.settings.qos > 0):
                    break
                time.sleep(0.1)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            if str(reason) != self._refusal:
                self._refusal = str(reason)
                self.warn(f"{self.name}: the broker refused the connection ({reason}); retrying")
            return
        self._refusal = None
        self._unreachable = False
        client.publish(self.available_topic, ONLINE, qos=1, retain=True)
        if self.settings.discovery:
            client.subscribe(f"{self.settings.discovery_prefix}/status", qos=1)
            self._announce(client)
        self.warn(f"{self.name}: {'reconnected' if self._lost else 'connected'}")
        self._lost = False
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self.outbox.closed:
            self._lost = self._unreachable = True
            self.warn(f"{self.name}: connection lost ({reason}); reconnecting, events wait meanwhile")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if not self._unreachable:
            self._unreachable = True
            self.warn(f"{self.name}: cannot reach the broker; retrying, events wait meanwhile")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload == ONLINE.encode():  # Home Assistant (re)started: announce the cameras again
            self._announce(client)

    def _announce(self, client: mqtt.Client) -> None:
        for topic, payload in self.discovery():
            client.publish(topic, payload, qos=1, retain=True)
