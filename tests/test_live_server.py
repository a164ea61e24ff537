"""The ``ddl watch --serve`` page server under hostile and foreign requests, its Host check and its token;
the page state's bounds, with one camera and with several (``ddl watch --cameras``). No model: a
:class:`LiveState` filled by hand."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest

from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.live.page_state import LiveState
from ddlcore.live.server import PageSettings, start_server
from ddlcore.live.settings import LiveSettings

#: a short connection timeout keeps the idle-connection checks quick
LIVE = LiveSettings.from_config(load_config(None, json.dumps({"live": {"page_threads": 3, "page_timeout_s": 1.0,
                                                                        "page_request_s": 1.0, "page_connections": 8,
                                                                        "page_events": 5}})))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served():
    """(port, state, server) of a page server on loopback with a few scores, a frame and 12 events."""
    state = LiveState("rtsp://cam/1", 0.5, 100, LIVE.page_events)
    state.frame(np.zeros((16, 16, 3), np.uint8), 0, 0.25, False)
    for i in range(12):
        state.event({"id": i + 1, "event": "start"})
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, {"": state}, PageSettings.build(LIVE, address))
    yield int(address.rsplit(":", 1)[1]), state, server
    server.shutdown()
    server.server_close()


def _request(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _reset(port: int) -> None:
    """Connect, send half a request and reset the connection (RST, not FIN)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(b"GET /state.json HTTP/1.1\r\nHo")
    s.close()


def test_page_server_keeps_answering_hostile_requests_with_bounded_threads(served, capfd):
    port, _, _ = served
    capfd.readouterr()
    before = threading.active_count()
    outcomes = {}
    for path in ("/../../etc/passwd", "/%2e%2e/%00", "//state.json", "/state.json/../frame/0.jpg", "/index.html",
                 "/frame/0.jpg?" + "x" * 5000, "/frame/1.jpg", "/frame/-1.jpg", "/frame/%30.jpg", "/events/"):
        outcomes[path[:30]] = _request(port, path)[0]
    outcomes["long URL"] = _raw(port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")[9:12]
    garbage = _raw(port, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")  # a TLS hello: answered as HTTP/0.9
    outcomes["garbage"] = b"400" if b"Error code: 400" in garbage else garbage[:20]
    outcomes["POST"] = _raw(port, b"POST /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")[9:12]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]  # many idle connections
    for _ in range(20):
        _reset(port)
    peak = threading.active_count()
    status, body, _ = _request(port, "/state.json")  # answered while 40 connections sit idle
    for s in idle:
        s.close()
    assert outcomes["/../../etc/passwd"] == outcomes["/%2e%2e/%00"] == outcomes["/index.html"] == 404
    assert outcomes["//state.json"] == 200  # http.server folds leading slashes
    assert outcomes["/state.json/../frame/0.jpg"] == 404 and outcomes["/frame/0.jpg?" + "x" * 17] == 200
    assert outcomes["/frame/1.jpg"] == outcomes["/frame/-1.jpg"] == outcomes["/frame/%30.jpg"] == 404
    assert outcomes["/events/"] == 404  # no events folder
    assert outcomes["long URL"] == b"414" and outcomes["garbage"] == b"400" and outcomes["POST"] == b"501"
    assert status == 200 and json.loads(body)["cameras"][0]["threshold"] == 0.5
    assert peak - before <= LIVE.page_threads  # idle connections hold no thread
    time.sleep(0.3)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err


def test_an_idle_connection_is_closed_after_the_timeout(served):
    port, _, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        start = time.monotonic()
        assert s.recv(10) == b""  # closed by the server
        assert time.monotonic() - start < LIVE.page_timeout_s + 2


def test_slow_headers_on_every_page_thread_do_not_stop_the_page(served):
    """A slowloris: as many connections as page threads send their headers a byte every 0.3 s (each read well
    within the per-read timeout); the request deadline cuts them, and the page answers within its timeout."""
    port, _, _ = served
    stop = threading.Event()
    cut: list[float] = []

    def slow_client() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /state.json HTTP/1.1\r\nX-Slow: ")
            start = time.monotonic()
            try:
                while not stop.wait(0.3) and time.monotonic() - start < 5:
                    s.sendall(b"a")
            except OSError:  # the server closed the connection
                cut.append(time.monotonic() - start)

    slow = [threading.Thread(target=slow_client) for _ in range(LIVE.page_threads)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)  # every page thread is now reading a slow request
    start = time.monotonic()
    status, _, _ = _request(port, "/state.json")
    answered = time.monotonic() - start
    for thread in slow:  # each slow client goes on until it is cut (at most 5 s)
        thread.join(timeout=5)
    stop.set()
    assert status == 200 and answered < LIVE.page_timeout_s + 0.5, answered
    assert len(cut) == LIVE.page_threads and max(cut) < LIVE.page_request_s + 1.5, cut


def test_foreign_host_headers_are_refused(served):
    port, _, _ = served
    assert _request(port, "/state.json", {"Host": "attacker.example:8080"})[0] == 421  # DNS rebinding
    assert _request(port, "/", {"Host": f"localhost:{port}"})[0] == 200
    assert _request(port, "/", {"Host": f"127.0.0.1:{port}"})[0] == 200
    assert _raw(port, b"GET / HTTP/1.0\r\n\r\n")[9:12] == b"421"  # no Host at all


def test_allowed_host_names_and_the_wildcard():
    settings = PageSettings.build(LIVE, "127.0.0.1:8080", allow_hosts=("cams.example",))
    assert settings.host_allowed("cams.example:443", "127.0.0.1") and not settings.host_allowed("x.example", "127.0.0.1")
    assert PageSettings.build(LIVE, "127.0.0.1:8080", allow_hosts=("*",)).host_allowed("x.example", "127.0.0.1")
    wildcard = PageSettings.build(LIVE, "0.0.0.0:8080", token="s3cret")
    assert wildcard.host_allowed("192.168.1.20:8080", "0.0.0.0") and not wildcard.host_allowed("evil.example", "0.0.0.0")


def test_a_non_loopback_address_needs_a_token():
    with pytest.raises(DDLError, match=r"--serve 0\.0\.0\.0:8080: .*needs a token \(--token, or the DDL_WATCH_TOKEN"):
        PageSettings.build(LIVE, "0.0.0.0:8080")
    with pytest.raises(DDLError, match="needs a token"):
        PageSettings.build(LIVE, "192.168.1.20:8080")
    assert PageSettings.build(LIVE, "[::1]:8080").token is None  # loopback: no token needed


def test_the_token_is_asked_for_by_every_route_and_kept_in_a_cookie():
    state = LiveState("cam", 0.5, 100, 5)
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, {"": state}, PageSettings.build(LIVE, address, token="s3cret"))
    port = int(address.rsplit(":", 1)[1])
    try:
        assert _request(port, "/")[0] == _request(port, "/state.json")[0] == 401
        assert _request(port, "/state.json?token=wrong")[0] == 401
        status, _, headers = _request(port, "/?token=s3cret")
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        assert _request(port, "/state.json", {"Cookie": cookie})[0] == 200
        assert _request(port, "/", {"Cookie": cookie})[1].startswith(b"<!doctype html>")
        assert _request(port, "/state.json", {"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_keeps_the_newest_events_only(served):
    port, state, _ = served
    events = json.loads(_request(port, "/state.json")[1])["events"]
    assert [e["id"] for e in events] == [12, 11, 10, 9, 8]
    state.event({"id": 10, "event": "end"})  # an end replaces its start
    events = json.loads(_request(port, "/state.json")[1])["events"]
    assert [(e["id"], e["event"]) for e in events][:1] == [(10, "end")] and len(events) == 5


def test_a_port_out_of_range_is_one_line():
    with pytest.raises(DDLError, match=r"--serve 127\.0\.0\.1:99999: expected HOST:PORT"):
        PageSettings.build(LIVE, "127.0.0.1:99999")


def test_several_cameras_share_the_bounds_the_token_and_the_redaction(tmp_path):
    """Two cameras: every route (frames, events folder) asks for the token; the page lists the newest
    ``page_events`` events of all cameras together; no camera's source shows its password."""
    entrance = LiveState("rtsp://admin:hunter2@cam1/stream", 0.5, 100, LIVE.page_events)
    yard = LiveState("rtsp://cam2/stream", 0.7, 100, LIVE.page_events)
    for i, state in enumerate((entrance, yard)):
        state.frame(np.full((16, 16, 3), 40 * i, np.uint8), 0, 0.25, False)
    for i in range(8):  # alternating cameras, each event later than the one before
        (entrance if i % 2 == 0 else yard).event({"id": i // 2 + 1, "event": "start", "camera": "entrance yard".split()[i % 2],
                                                  "start_time": f"2026-01-01T00:00:0{i}.000+00:00"})
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    (events_dir / "entrance-20260101T000000Z-1.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, {"entrance": entrance, "yard": yard},
                          PageSettings.build(LIVE, address, token="s3cret"), events_dir)
    port = int(address.rsplit(":", 1)[1])
    auth = {"Authorization": "Bearer s3cret"}
    try:
        for path in ("/frame/0.jpg", "/frame/1.jpg", "/events/", "/events/entrance-20260101T000000Z-1.jpg"):
            assert _request(port, path)[0] == 401, path
            assert _request(port, path, auth)[0] == 200, path
        assert _request(port, "/frame/0.jpg", {**auth, "Host": "attacker.example"})[0] == 421
        state = json.loads(_request(port, "/state.json", auth)[1])
        assert [c["name"] for c in state["cameras"]] == ["entrance", "yard"] and state["media"]
        assert "hunter2" not in json.dumps(state) and state["cameras"][0]["source"] == "rtsp://admin:***@cam1/stream"
        assert [(e["camera"], e["id"]) for e in state["events"]] == [
            ("yard", 4), ("entrance", 4), ("yard", 3), ("entrance", 3), ("yard", 2)]  # the newest 5 of 8
    finally:
        server.shutdown()
        server.server_close()
