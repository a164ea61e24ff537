"""Alarm outputs of ``ddl watch`` (ddlcore.live.outputs): event messages, the bounded outbox, settings and
secrets; MQTT against a real Mosquitto broker on loopback (message sequence, retained states, Home Assistant
discovery, the last will of a killed watcher, an event raised while the broker is down, credentials); webhooks
against a loopback receiver (retries, signature, never blocking)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.live.outputs.alarm_outputs import AlarmOutputs
from ddlcore.live.outputs.messages import EventMessages, event_state
from ddlcore.live.outputs.mqtt import parse_broker
from ddlcore.live.outputs.outbox import Outbox
from ddlcore.live.outputs.secrets import read_secret
from ddlcore.live.outputs.settings import OutputSettings
from ddlcore.live.outputs.webhook import SIGNATURE_HEADER
from mqtt_broker import Broker, Subscriber, mosquitto_path, wait_until

START = "2026-12-06T23:00:00.000+00:00"
END = "2026-12-06T23:00:04.500+00:00"


def settings(**outputs) -> OutputSettings:
    """The ``outputs`` section with ``outputs`` over the defaults (validated by the schema)."""
    return OutputSettings.from_config(load_config(None, json.dumps({"outputs": outputs})))


def line(kind: str, number: int = 1, camera: str | None = "entrance", peak: float = 2.0, media: bool = True) -> dict:
    """An event line as :class:`ddlcore.live.event_log.EventLog` writes it (with a deployment's fields)."""
    ended = kind == "end"
    record = {"event": kind, "id": number, "start": 40, "end": 85 if ended else None, "start_time": START,
              "end_time": END if ended else None, "time": END, "peak_frame": 52, "peak_score": peak,
              "threshold": 1.25, "box": [10, 20, 42, 52]}
    if camera is not None:
        record["camera"] = camera
    if media:
        stem = f"{camera}-20261206T230000Z-{number}"
        record.update(clip=f"{stem}.mkv", snapshot=f"{stem}.jpg")
    return record


# messages, outbox, settings: no broker


def test_event_messages_new_update_end_before_and_after():
    clock = [100.0]
    messages = EventMessages("https://cams.example.org/", 5.0, clock=lambda: clock[0])
    new = messages.event("start", line("start"))
    assert new["type"] == "new" and new["before"] == new["after"]
    state = new["after"]
    assert state["id"] == "entrance-20261206T230000Z-1" and state["camera"] == "entrance" and state["label"] == "anomaly"
    assert state["start_time"] == 1796598000.0 and state["end_time"] is None and state["end_frame"] is None
    assert (state["top_score"], state["threshold"], state["box"]) == (2.0, 1.25, [10, 20, 42, 52])
    assert state["has_snapshot"] and state["snapshot_url"] == "https://cams.example.org/events/entrance-20261206T230000Z-1.jpg"
    assert state["clip_url"].endswith("/events/entrance-20261206T230000Z-1.mkv")
    assert messages.frame("entrance", 1.5) is None  # below the top score
    assert messages.frame("entrance", 3.0) is None  # risen, but the last message is younger than 5 s
    assert messages.frame("yard", 9.0) is None  # no event open on that camera
    clock[0] += 5.0
    update = messages.frame("entrance", 2.5)
    assert update["type"] == "update" and update["before"] == state
    assert update["after"] == {**state, "top_score": 3.0}
    clock[0] += 10.0
    assert messages.frame("entrance", 2.9) is None  # nothing new since the update
    end = messages.event("end", line("end", peak=3.0))
    assert end["type"] == "end" and end["before"] == update["after"]
    assert end["after"]["end_time"] == 1796598004.5 and end["after"]["end_frame"] == 85
    assert messages.frame("entrance", 5.0) is None  # closed
    bare = EventMessages(None, 5.0).event("start", line("start", camera=None, media=False))["after"]
    assert bare["camera"] == "default" and bare["id"] == "default-20261206T230000Z-1"
    assert not bare["has_clip"] and bare["clip"] is None and bare["clip_url"] is None
    assert event_state(line("end"), None)["snapshot_url"] is None


def test_outbox_keeps_the_newest_state_per_key_and_drops_beyond_its_limit_warning_once():
    warnings: list[str] = []
    box = Outbox(3, "test output", warnings.append)
    assert box.put("score 1", key="score") and box.put("event 1") and box.put("score 2", key="score")
    assert box.put("event 2")
    assert not box.put("event 3") and not box.put("event 4")
    assert box.put("score 3", key="score")  # replaces the waiting one: no room needed
    assert box.dropped == 2 and len(warnings) == 1 and "3 messages already waiting" in warnings[0]
    assert [box.take(0), box.take(0), box.take(0), box.take(0)] == ["score 3", "event 1", "event 2", None]
    box.close()
    assert not box.put("late") and box.take() is None


@pytest.mark.parametrize("url, expected", [
    ("mqtt://broker.lan", ("broker.lan", 1883, False)),
    ("mqtts://broker.lan:8884", ("broker.lan", 8884, True)),
    ("mqtt://[::1]:1884/", ("::1", 1884, False)),
])
def test_broker_urls(url, expected):
    assert parse_broker(url) == expected


@pytest.mark.parametrize("url", ["tcp://broker:1883", "broker.lan", "mqtt://", "mqtt://broker:99999",
                                 "mqtt://broker/topic", "mqtt://user:s3cret-pw@broker"])
def test_a_bad_broker_url_is_one_line_that_never_repeats_a_password(url):
    with pytest.raises(DDLError) as caught:
        AlarmOutputs(settings(mqtt={"broker": url}), ["entrance"], warn=lambda m: None)
    message = str(caught.value)
    assert message.startswith("outputs.mqtt.broker") and "\n" not in message and "s3cret" not in message


def test_secrets_come_from_a_file_or_the_environment(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("hunter2\nsecond line\n")
    assert read_secret(str(secret), "X", "what", {"X": "from-env"}) == "hunter2"
    assert read_secret(None, "X", "what", {"X": "from-env"}) == "from-env"
    assert read_secret(None, "X", "what", {}) is None
    (tmp_path / "empty").write_text("\n")
    for path, why in ((tmp_path / "none", "cannot read it"), (tmp_path / "empty", "first line is empty")):
        with pytest.raises(DDLError, match=why):
            read_secret(str(path), "X", "outputs.mqtt.password_file", {})


def test_outputs_are_off_by_default():
    outputs = AlarmOutputs(settings(), ["entrance"], warn=pytest.fail)
    assert outputs.mqtt is None and outputs.outputs == [outputs.history]  # only the page's events API
    outputs.event("start", line("start"))
    outputs.frame("entrance", 3.0, 0.05)
    outputs.close()
    assert [e["id"] for e in outputs.history.newest_first()] == ["entrance-20261206T230000Z-1"]


# MQTT against a real broker

#: the keys of Home Assistant's MQTT binary sensor and sensor discovery payloads that ddl uses (from
#: home-assistant.io/integrations/binary_sensor.mqtt and sensor.mqtt), and their allowed values where fixed
HA_COMMON = {"name", "unique_id", "state_topic", "availability_topic", "payload_available", "payload_not_available",
             "qos", "device", "origin", "entity_category"}
HA_KEYS = {"binary_sensor": HA_COMMON | {"device_class", "payload_on", "payload_off"},
           "sensor": HA_COMMON | {"device_class", "state_class", "unit_of_measurement", "suggested_display_precision"}}
HA_DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version", "configuration_url"}
HA_BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
                            "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
                            "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
                            "tamper", "update", "vibration", "window"}
ID = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture
def broker(tmp_path):
    mosquitto_path()
    (tmp_path / "broker").mkdir()
    running = Broker(tmp_path / "broker").start()
    yield running
    running.stop()


def test_mqtt_event_sequence_states_and_home_assistant_discovery(broker):
    live = Subscriber(broker, ["ddl/#", "homeassistant/#"])
    status: list[str] = []
    outputs = AlarmOutputs(settings(update_every_s=0.05, mqtt={"broker": broker.url, "state_every_s": 0.05}),
                           ["entrance", "yard"], warn=status.append)
    assert wait_until(lambda: ("online", False) in live.on("ddl/available"))
    outputs.event("start", line("start"))
    outputs.frame("entrance", 1.0, 0.05)
    outputs.frame("entrance", 1.1, 0.05)  # within state_every_s of the last score sent: not sent
    outputs.frame("entrance", 1.2, 0.05)
    time.sleep(0.1)
    outputs.frame("entrance", 3.0, 0.05)  # the top score rose: an update
    outputs.frame("yard", 0.5, 0.05)
    time.sleep(0.1)
    outputs.frame("entrance", 1.0, 0.05)
    outputs.event("end", line("end", peak=3.0))
    outputs.close()
    assert wait_until(lambda: ("offline", False) in live.on("ddl/available"))
    events = [json.loads(p) for p, _ in live.on("ddl/events")]
    assert [e["type"] for e in events] == ["new", "update", "end"]
    assert {e["after"]["id"] for e in events} == {"entrance-20261206T230000Z-1"}
    assert events[1]["after"]["top_score"] == 3.0 and events[1]["before"]["top_score"] == 2.0
    assert events[2]["before"] == events[1]["after"] and events[2]["after"]["end_time"] == 1796598004.5
    assert [p for p, _ in live.on("ddl/entrance/anomaly")] == ["OFF", "ON", "OFF"]
    assert [p for p, _ in live.on("ddl/yard/anomaly")] == ["OFF"]
    scores = [float(p) for p, _ in live.on("ddl/entrance/score")]
    # rate-limited (a score still waiting may be replaced by a newer one, never added to)
    assert set(scores) <= {1.0, 3.0} and scores[-1] == 1.0
    assert all(float(p) > 0 for p, _ in live.on("ddl/entrance/fps")) and live.on("ddl/entrance/fps")
    assert [p for p, _ in live.on("ddl/yard/score")] == ["0.5"]
    assert f"alarms also go to: mqtt mqtt://127.0.0.1:{broker.port}" in status
    assert f"mqtt mqtt://127.0.0.1:{broker.port}: connected" in status
    live.close()

    # what stays on the broker for a newcomer (Home Assistant starting later)
    later = Subscriber(broker, ["ddl/#", "homeassistant/#"])
    assert wait_until(lambda: len([m for m in later.messages if m[0].startswith("homeassistant/")]) == 6)
    time.sleep(0.2)
    retained = {t: p for t, p, r in later.messages if r}
    assert retained == {t: p for t, p, _ in later.messages}, "everything a newcomer gets is retained"
    assert retained["ddl/available"] == "offline"
    assert retained["ddl/entrance/anomaly"] == "OFF" and retained["ddl/yard/anomaly"] == "OFF"
    assert "ddl/events" not in retained and "ddl/entrance/score" not in retained
    discovery = {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}
    assert set(discovery) == {f"homeassistant/{component}/ddl-watch/{camera}_{what}/config"
                              for camera in ("entrance", "yard")
                              for component, what in (("binary_sensor", "anomaly"), ("sensor", "score"), ("sensor", "fps"))}
    for topic, config in discovery.items():
        _, component, node, object_id, _ = topic.split("/")
        camera = object_id.rsplit("_", 1)[0]
        assert ID.fullmatch(node) and ID.fullmatch(object_id)
        assert set(config) <= HA_KEYS[component], set(config) - HA_KEYS[component]
        assert set(config["device"]) <= HA_DEVICE_KEYS and config["device"]["identifiers"] == [f"ddl-watch_{camera}"]
        assert config["unique_id"] == f"ddl-watch_{object_id}"
        assert config["availability_topic"] == "ddl/available"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["state_topic"] == f"ddl/{camera}/{object_id.rsplit('_', 1)[1]}"
        if component == "binary_sensor":
            assert config["device_class"] in HA_BINARY_SENSOR_CLASSES
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        else:
            assert config["state_class"] in {"measurement", "total", "total_increasing"}
            assert config.get("entity_category") in (None, "diagnostic", "config")
    assert len({c["unique_id"] for c in discovery.values()}) == 6
    later.close()


def test_discovery_is_announced_again_when_home_assistant_comes_online(broker):
    outputs = AlarmOutputs(settings(mqtt={"broker": broker.url}), ["entrance"], warn=lambda m: None)
    watcher = Subscriber(broker, ["homeassistant/binary_sensor/#"])
    assert wait_until(lambda: len(watcher.on("homeassistant/binary_sensor/ddl-watch/entrance_anomaly/config")) == 1)
    watcher.client.publish("homeassistant/status", "online", qos=1)
    assert wait_until(lambda: len(watcher.on("homeassistant/binary_sensor/ddl-watch/entrance_anomaly/config")) == 2)
    outputs.close()
    watcher.close()


KILLED_WATCHER = """
import json, sys, time
from ddlcore.config import load_config
from ddlcore.live.outputs.mqtt import MqttOutput
from ddlcore.live.outputs.settings import OutputSettings
settings = OutputSettings.from_config(load_config(None, json.dumps({"outputs": {"mqtt": {"broker": sys.argv[1]}}})))
output = MqttOutput(settings.mqtt, ["entrance"], print)
assert output.connected.wait(20)
print("ready", flush=True)
time.sleep(120)
"""


def test_the_last_will_says_offline_when_the_watcher_is_killed(broker):
    watcher = Subscriber(broker, ["ddl/available"])
    process = subprocess.Popen([sys.executable, "-c", KILLED_WATCHER, broker.url], stdout=subprocess.PIPE, text=True)
    try:
        for text in process.stdout:
            if text.strip() == "ready":
                break
        assert wait_until(lambda: watcher.on("ddl/available") == [("online", False)])
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert wait_until(lambda: watcher.on("ddl/available") == [("online", False), ("offline", False)])
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    watcher.close()


def test_an_event_raised_while_the_broker_is_down_arrives_after_it_restarts(broker):
    # a persistent session: the subscriber's messages wait on the broker whoever reconnects first
    phone = Subscriber(broker, ["ddl/events"], session="test-phone")
    status: list[str] = []
    outputs = AlarmOutputs(settings(mqtt={"broker": broker.url, "reconnect_max_s": 1}), ["entrance"],
                           warn=status.append)
    assert wait_until(lambda: outputs.mqtt.connected.is_set())
    broker.stop()
    assert wait_until(lambda: not outputs.mqtt.connected.is_set())
    began = time.perf_counter()
    outputs.event("start", line("start"))
    for _ in range(100):
        outputs.frame("entrance", 1.0, 0.05)
    assert time.perf_counter() - began < 0.5, "queueing must not wait for the broker"
    time.sleep(1.0)
    assert phone.on("ddl/events") == []
    broker.start()
    assert wait_until(lambda: len(phone.on("ddl/events")) == 1, 30)
    assert json.loads(phone.on("ddl/events")[0][0])["type"] == "new"
    assert any("connection lost" in s for s in status) and any(s.endswith(": reconnected") for s in status)
    outputs.close()
    phone.close()


def test_an_unreachable_broker_is_said_once_and_the_watch_goes_on():
    from mqtt_broker import free_port

    status: list[str] = []
    outputs = AlarmOutputs(settings(close_timeout_s=0.2, mqtt={"broker": f"mqtt://127.0.0.1:{free_port()}",
                                                               "reconnect_max_s": 1}), ["entrance"], warn=status.append)
    outputs.event("start", line("start"))  # queued, not an error
    time.sleep(2.5)  # two or three attempts
    outputs.close()
    assert sum("cannot reach the broker" in s for s in status) == 1, status
    assert any("messages dropped" in s for s in status)  # what waited, counted at the end


def test_broker_credentials_come_from_the_environment_and_are_never_shown(tmp_path):
    mosquitto_path()
    (tmp_path / "broker").mkdir()
    password = "pw-7c1e9a-do-not-print"
    broker = Broker(tmp_path / "broker", users={"watcher": password}).start()
    try:
        status: list[str] = []
        wrong = AlarmOutputs(settings(close_timeout_s=0.2, mqtt={"broker": broker.url}), ["entrance"], warn=status.append,
                             environ={"DDL_MQTT_USERNAME": "watcher", "DDL_MQTT_PASSWORD": "wrong-" + password})
        assert wait_until(lambda: any("refused" in s for s in status))
        wrong.close()
        (tmp_path / "password").write_text(password + "\n")
        right = AlarmOutputs(settings(mqtt={"broker": broker.url, "username": "watcher",
                                            "password_file": str(tmp_path / "password")}),
                             ["entrance"], warn=status.append, environ={})
        watcher = Subscriber(broker, ["ddl/available"], auth=("watcher", password))
        assert wait_until(lambda: ("online", True) in watcher.on("ddl/available") or ("online", False) in watcher.on("ddl/available"))
        right.close()
        watcher.close()
        assert len([s for s in status if "refused" in s]) == 1, status  # said once, not at every retry
        assert not any(password in s for s in status)
    finally:
        broker.stop()


# webhooks


class Receiver:
    """A loopback webhook receiver: answers ``statuses`` in turn (then 200), or hangs ``hang_s`` first;
    ``requests``: (headers, body) of each POST."""

    def __init__(self, statuses: list[int], hang_s: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[Any, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))  # header names: any case
                time.sleep(hang_s)
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?key=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_failing_twice_is_delivered_once_signed_on_the_third_try():
    receiver = Receiver([500, 503])
    status: list[str] = []
    secret = "webhook-secret-1b2c"
    outputs = AlarmOutputs(settings(webhooks={"urls": [receiver.url], "backoff_s": 0.05, "retries": 3}),
                           ["entrance"], warn=status.append, environ={"DDL_WEBHOOK_SECRET": secret})
    outputs.event("start", line("start"))
    outputs.frame("entrance", 9.0, 0.05)  # updates are not POSTed
    assert wait_until(lambda: len(receiver.requests) == 3)
    hook = outputs.outputs[-1]  # after the events API history
    assert wait_until(lambda: hook.delivered == 1)
    outputs.close()
    receiver.close()
    assert len(receiver.requests) == 3 and hook.failed == 0
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1, "every attempt sends the same body"
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    assert headers["X-DDL-Event"] == "new" and headers["X-DDL-Delivery"] == "entrance-20261206T230000Z-1-new"
    assert headers["Content-Type"] == "application/json" and json.loads(body)["type"] == "new"
    assert status == [f"alarms also go to: webhook http://127.0.0.1:{receiver.server.server_port}/hook"]
    assert not any(secret in s or "key=abc" in s for s in status)


def test_a_hanging_webhook_receiver_never_holds_up_the_watch():
    receiver = Receiver([], hang_s=1.0)
    status: list[str] = []
    outputs = AlarmOutputs(settings(close_timeout_s=0.2, webhooks={"urls": [receiver.url], "timeout_s": 0.5,
                                                                    "retries": 0, "queue_messages": 2}),
                           ["entrance"], warn=status.append, environ={})
    began = time.perf_counter()
    for number in range(1, 6):
        outputs.event("start", line("start", number))
        for _ in range(50):
            outputs.frame("entrance", 1.0, 0.05)
        outputs.event("end", line("end", number))
    spent = time.perf_counter() - began
    assert spent < 0.5, f"10 events and 250 frames took {spent:.3f} s with the receiver hanging (1 s a POST)"
    assert wait_until(lambda: any("not delivered: timed out" in s for s in status), 10)
    outputs.close()
    receiver.close()
    assert any("messages already waiting; new ones are dropped" in s for s in status)
    assert sum("already waiting" in s for s in status) == 1, "the overflow is warned about once"
    assert any("unsigned" in s or "not signed" in s for s in status)


# the watch loop's hook

#: a budget at which the untrained tiny model raises events on the test clip (as in test_live); torch: no ONNX
#: export to wait for
WATCH_SETTINGS = {"score": {"patch": 8, "runtime": "torch"}, "alarm": {"false_alarms_per_hour": 600.0},
                  "live": {"max_backlog": 100000, "stats_every_s": 1.0}}


@pytest.fixture(scope="module")
def calibrated_model(alarm_scene, tmp_path_factory):
    """The scene's tiny model, calibrated under WATCH_SETTINGS."""
    import torch

    from alarm_fixtures import calibrated_copy

    torch.set_num_threads(1)  # as test_live: two busy cores; more threads only fight over them (here: 40 times slower)
    return calibrated_copy(alarm_scene, tmp_path_factory.mktemp("outputs"), WATCH_SETTINGS)[0]


def test_ddl_watch_publishes_each_event_line_as_messages(alarm_scene, calibrated_model, broker, tmp_path):
    """``ddl watch`` of a video file with ``outputs.mqtt``: a new and an end message per event line, in order,
    the camera's anomaly state following them, and its score published while the file is scored."""
    import cv2

    from ddlcore.cli.main import main

    clip = alarm_scene["test"][:160]
    video = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 100, (clip.shape[2], clip.shape[1]))
    for frame in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    phone = Subscriber(broker, ["ddl/#"])
    events = tmp_path / "events.jsonl"
    outputs = {"outputs": {"update_every_s": 0.2, "mqtt": {"broker": broker.url, "state_every_s": 0.1}}}
    assert main(["watch", str(video), "--model", str(calibrated_model), "--events", str(events),
                 "--settings", json.dumps({**WATCH_SETTINGS, **outputs})]) == 0
    lines = [json.loads(text) for text in events.read_text().splitlines()]
    assert lines, "the test clip raises events"
    assert wait_until(lambda: ("offline", False) in phone.on("ddl/available"))
    messages = [json.loads(p) for p, _ in phone.on("ddl/events")]
    lifecycle = [(m["type"], m["after"]["number"]) for m in messages if m["type"] != "update"]
    assert lifecycle == [("new" if e["event"] == "start" else "end", e["id"]) for e in lines]
    for message in messages:
        assert message["after"]["camera"] == "default" and message["after"]["threshold"] == lines[0]["threshold"]
    ends = [m["after"] for m in messages if m["type"] == "end"]
    assert [e["top_score"] for e in ends] == [e["peak_score"] for e in lines if e["event"] == "end"]
    assert [p for p, _ in phone.on("ddl/default/anomaly")] == ["OFF"] + ["ON", "OFF"] * len(ends)
    assert len(phone.on("ddl/default/score")) >= 2
    phone.close()


def test_sigterm_ends_the_open_event_publishes_it_and_disconnects_cleanly(alarm_scene, calibrated_model, broker,
                                                                         tmp_path):
    """``ddl watch FOLDER`` (a source that never ends) stopped by SIGTERM while an event is open: the event's
    end line and ``end`` message, the anomaly state back to OFF, ``offline`` published by the watcher itself (a
    DISCONNECT, not the last will), exit status 0."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    phone = Subscriber(broker, ["ddl/#"])
    settings = {**WATCH_SETTINGS, "outputs": {"mqtt": {"broker": broker.url}}}
    process = subprocess.Popen([sys.executable, "-m", "ddlcore.cli", "watch", str(folder), "--model",
                                str(calibrated_model), "--settings", json.dumps(settings)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert wait_until(lambda: phone.on("ddl/available") == [("online", False)], 60)
        # the clip's first event lasts from frame 15 to 18; after frame 22 it is still open (merge_gap 5)
        for i, frame in enumerate(alarm_scene["test"][:23]):
            cv2.imwrite(str(folder / f"{i:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        assert wait_until(lambda: len(phone.on("ddl/events")) == 1, 60), "no event on the first 23 frames"
        time.sleep(0.5)
        assert [json.loads(p)["type"] for p, _ in phone.on("ddl/events")] == ["new"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == 0, err
    assert [json.loads(text)["event"] for text in out.splitlines()] == ["start", "end"]
    assert wait_until(lambda: ("offline", False) in phone.on("ddl/available"))
    assert [json.loads(p)["type"] for p, _ in phone.on("ddl/events")] == ["new", "end"]
    assert [p for p, _ in phone.on("ddl/default/anomaly")] == ["OFF", "ON", "OFF"]
    assert "Received DISCONNECT from ddl-watch" in (broker.folder / "mosquitto.log").read_text()
    phone.close()


def test_ddl_watch_with_a_bad_broker_url_stops_with_one_line(calibrated_model, tmp_path, capsys):
    from ddlcore.cli.main import main

    bad = {**WATCH_SETTINGS, "outputs": {"mqtt": {"broker": "tcp://broker.lan:1883"}}}
    assert main(["watch", str(tmp_path / "none.mp4"), "--model", str(calibrated_model),
                 "--settings", json.dumps(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: outputs.mqtt.broker 'tcp://broker.lan:1883': expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"]
