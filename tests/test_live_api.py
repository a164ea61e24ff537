"""The page server's events API and ``/metrics`` (ddlcore.live.api): routes, paging and filters, event media,
camera states and health, Prometheus text that prometheus-client's parser reads; the page's Host check and
token on every route, hostile paths, and no token in any answer. No model: page states and event messages
filled by hand."""

from __future__ import annotations

import http.client
import json
import socket

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ddlcore.config import load_config
from ddlcore.live.api import Api, EventHistory, latency_histogram
from ddlcore.live.page_state import LiveState
from ddlcore.live.server import PageSettings, start_server
from ddlcore.live.settings import LiveSettings

LIVE = LiveSettings.from_config(load_config(None, json.dumps({"live": {"page_threads": 3, "page_timeout_s": 1.0}})))
TOKEN = "tok-5d2f-never-shown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(camera: str, number: int, start: float, end: float | None = None) -> dict:
    stem = f"{camera}-20261206T2300{number:02d}Z-{number}"
    return {"id": stem, "camera": camera, "label": "anomaly", "number": number, "start_time": start,
            "end_time": end, "top_score": 2.0, "threshold": 1.0, "box": [1, 2, 3, 4], "has_snapshot": True,
            "has_clip": True, "snapshot": f"{stem}.jpg", "clip": f"{stem}.mkv", "snapshot_url": None, "clip_url": None}


@pytest.fixture
def api_server(tmp_path):
    """(port, history, states): two cameras, 'entrance' with 7 ended events and one open, 'yard' ended; the
    events folder holds the snapshot and clip of entrance's first event; the page asks for TOKEN."""
    entrance = LiveState("rtsp://user:pw@cam1/stream", 1.0, 100, LIVE.page_events)
    yard = LiveState("rtsp://cam2/stream", 1.5, 100, LIVE.page_events)
    entrance.frame(np.zeros((8, 8, 3), np.uint8), 10, 1.2, True)
    entrance.stats({"fps": 12.5, "source_fps": 25.0, "latency_ms": 80.0, "decision_latency_ms": 160.0,
                    "dropped": 3, "read": 400, "scored": 397, "reconnects": 1})
    yard.stats({"fps": 0.0, "read": 50, "scored": 50, "dropped": 0, "reconnects": 2, "error": "stream lost"})
    history = EventHistory(keep=6)
    for n in range(1, 8):
        state = _state("entrance", n, 1000.0 + 10 * n)
        history.event({"type": "new", "before": state, "after": state})
        history.event({"type": "end", "before": state, "after": {**state, "end_time": state["start_time"] + 3}})
    open_state = _state("entrance", 8, 1090.0)
    history.event({"type": "new", "before": open_state, "after": open_state})
    yard_state = _state("yard", 1, 1005.0)
    history.event({"type": "new", "before": yard_state, "after": yard_state})
    folder = tmp_path / "events"
    folder.mkdir()
    kept = history.newest_first()[-1]  # the oldest event still kept
    (folder / kept["snapshot"]).write_bytes(b"\xff\xd8jpeg")
    (folder / kept["clip"]).write_bytes(b"\x1aE\xdf\xa3mkv")
    (folder / "notes.txt").write_text("not media")
    states = {"entrance": entrance, "yard": yard}
    latency = latency_histogram()
    for seconds in (0.03, 0.04, 0.2, 3.0):
        latency.labels("entrance").observe(seconds)
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, states, PageSettings.build(LIVE, address, token=TOKEN), folder,
                          Api(states, history, folder, latency))
    yield int(address.rsplit(":", 1)[1]), history, kept
    server.shutdown()
    server.server_close()


def _get(port: int, path: str, token: str | None = TOKEN, host: str | None = None) -> tuple[int, bytes, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if host:
        headers["Host"] = host
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def test_events_newest_first_paged_and_filtered(api_server):
    port, history, _ = api_server
    status, body, headers = _get(port, "/api/events")
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["total"] == 6 and (answer["offset"], answer["limit"]) == (0, 50)  # 6 kept of 9
    assert [e["id"] for e in answer["events"]] == [e["id"] for e in history.newest_first()]
    starts = [e["start_time"] for e in answer["events"]]
    assert starts == sorted(starts, reverse=True) and answer["events"][0]["number"] == 8
    assert answer["events"][0]["end_time"] is None and answer["events"][1]["end_time"] == 1073.0  # ends replace
    page = json.loads(_get(port, "/api/events?offset=2&limit=2")[1])
    assert [e["id"] for e in page["events"]] == [e["id"] for e in answer["events"][2:4]] and page["total"] == 6
    only_yard = json.loads(_get(port, "/api/events?camera=yard")[1])
    assert [e["camera"] for e in only_yard["events"]] == ["yard"]
    recent = json.loads(_get(port, "/api/events?since=1060&camera=entrance")[1])
    assert [e["number"] for e in recent["events"]] == [8, 7, 6]
    for bad in ("limit=0", "limit=501", "offset=-1", "since=soon", "since=nan", "limit=1e3", "offset=%00"):
        status, body, _ = _get(port, f"/api/events?{bad}")
        assert status == 400 and b"bad query parameter" in body, bad


def test_one_event_and_its_files(api_server):
    port, _, kept = api_server
    status, body, _ = _get(port, f"/api/events/{kept['id']}")
    assert status == 200 and json.loads(body) == kept
    status, body, headers = _get(port, f"/api/events/{kept['id']}/snapshot.jpg")
    assert status == 200 and body == b"\xff\xd8jpeg" and headers["Content-Type"] == "image/jpeg"
    status, body, _ = _get(port, f"/api/events/{kept['id']}/clip.mkv")
    assert status == 200 and body.endswith(b"mkv")
    newest = "entrance-20261206T230008Z-8"
    assert _get(port, f"/api/events/{newest}")[0] == 200
    assert _get(port, f"/api/events/{newest}/snapshot.jpg")[0] == 404  # not written yet
    for path in ("/api/events/entrance-20261206T230001Z-1",  # no longer kept
                 f"/api/events/{kept['id']}/notes.txt", f"/api/events/{kept['id']}/clip.mp4",
                 "/api/events/..%2F..%2Fetc%2Fpasswd", f"/api/events/{kept['id']}/..%2Fnotes.txt",
                 "/api/events/%00", "/api/nothing", "/api/", "/metrics/x"):
        assert _get(port, path)[0] == 404, path


def test_cameras_and_health(api_server):
    port, _, _ = api_server
    cameras = json.loads(_get(port, "/api/cameras")[1])["cameras"]
    assert [c["name"] for c in cameras] == ["entrance", "yard"]
    entrance, yard = cameras
    assert entrance["state"] == "alarm" and entrance["threshold"] == 1.0 and entrance["fps"] == 12.5
    assert entrance["latency_ms"] == 80.0 and entrance["dropped"] == 3 and "scores" not in entrance
    assert entrance["source"] == "rtsp://user:***@cam1/stream"
    assert yard["state"] == "ended" and yard["error"] == "stream lost"
    status, body, _ = _get(port, "/api/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "degraded" and health["cameras"] == {"entrance": "alarm", "yard": "ended"}


def test_health_is_503_once_no_camera_is_watched():
    state = LiveState("cam", 1.0, 10, 5)
    state.stats({"error": "the source ended"})
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, {"": state}, PageSettings.build(LIVE, address), None, Api({"": state}, EventHistory(5), None))
    try:
        status, body, _ = _get(int(address.rsplit(":", 1)[1]), "/api/health", token=None)
        assert status == 503 and json.loads(body) == {**json.loads(body), "status": "down", "cameras": {"default": "ended"}}
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_parse_as_prometheus_text(api_server):
    port, _, _ = api_server
    status, body, headers = _get(port, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    samples = {(s.name, s.labels.get("camera")): s.value
               for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert samples[("ddl_frames_read_total", "entrance")] == 400 and samples[("ddl_frames_scored_total", "entrance")] == 397
    assert samples[("ddl_frames_dropped_total", "entrance")] == 3 and samples[("ddl_reconnects_total", "yard")] == 2
    assert samples[("ddl_events_total", "entrance")] == 8 and samples[("ddl_events_total", "yard")] == 1
    assert samples[("ddl_anomaly", "entrance")] == 1 and samples[("ddl_anomaly", "yard")] == 1
    assert samples[("ddl_camera_up", "entrance")] == 1 and samples[("ddl_camera_up", "yard")] == 0
    buckets = {(s.labels["camera"], s.labels["le"]): s.value for family in text_string_to_metric_families(body.decode())
               for s in family.samples if s.name == "ddl_latency_seconds_bucket"}
    assert buckets[("entrance", "0.05")] == 2 and buckets[("entrance", "0.25")] == 3 and buckets[("entrance", "+Inf")] == 4
    assert samples[("ddl_latency_seconds_count", "entrance")] == 4
    assert samples[("ddl_latency_seconds_sum", "entrance")] == pytest.approx(3.27)
    assert samples[("ddl_decision_latency_seconds", "entrance")] == pytest.approx(0.16)
    assert samples[("ddl_threshold", "yard")] == 1.5 and samples[("ddl_fps", "entrance")] == 12.5
    assert samples[("ddl_uptime_seconds", None)] >= 0


def test_every_api_route_asks_for_the_token_and_the_host_and_never_shows_the_token(api_server):
    port, _, kept = api_server
    routes = ["/api/events", f"/api/events/{kept['id']}", f"/api/events/{kept['id']}/snapshot.jpg",
              "/api/cameras", "/api/health", "/metrics"]
    for route in routes:
        assert _get(port, route, token=None)[0] == 401, route
        assert _get(port, route, token="wrong")[0] == 401, route
        assert _get(port, route, host="attacker.example")[0] == 421, route
        status, body, headers = _get(port, route)
        assert status == 200, route
        assert TOKEN.encode() not in body and TOKEN not in json.dumps(headers), route
        assert b"pw@" not in body, route  # the camera URL's password neither
