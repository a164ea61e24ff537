"""The ``--serve HOST:PORT`` page: live overlay, score curve with the threshold, event list.

A standard-library HTTP server in a background thread, serving what each camera's :class:`.page_state.LiveState`
holds. Routes:

- ``/``: the page (:file:`page.html` beside this module): one panel per camera; it polls
  ``/state.json`` a few times a second, reloads each camera's overlay, draws its curve on a canvas
  and lists every camera's events;
- ``/frame/{i}.jpg``: the newest overlay frame of camera i (JPEG; cameras numbered from 0 as listed);
- ``/state.json``: {cameras: [{name, source, threshold, fps, latency_ms, dropped, scores: [[frame, score],
  ...] (the last ``live.curve_frames``), alarmed, error}, ...], events: [...] (all cameras', the newest
  ``live.page_events``, newest first), media: whether events have clips and snapshots}; a camera's
  source is shown without its password (:func:`.sources.redacted`);
- ``/events/``: the events folder (clips and snapshots, :mod:`.event_media`), newest first, and
  ``/events/{name}`` each file in it: only names of the pattern :data:`.event_media.MEDIA_NAME`
  that are plain files directly inside that folder are served;
- with an ``api`` (:class:`.api.Api`): ``/api/events``, ``/api/cameras``, ``/api/health`` and ``/metrics``.

Requests are served by a bounded pool of ``live.page_threads`` threads. A connection holds no thread
until it sends its request, and is closed after ``live.page_timeout_s`` of silence (also while being
answered), or when its request line and headers are not all in ``live.page_request_s`` after its first byte (a
client sending them byte by byte cannot hold a thread for longer); at most ``live.page_connections`` are open at once (beyond, the one waiting longest is
closed). A client that resets its connection is not reported.

Access: the server answers only requests whose ``Host`` header names its bind address, or localhost
(for a wildcard bind, 0.0.0.0 or ::, also this machine's name and any IP address), or a name given with
``--allow-host`` (``*``: any); others get 421 (this stops a foreign web page from reading the page by
DNS rebinding). With a token (``--token`` or the ``DDL_WATCH_TOKEN`` environment variable; required
when the bind address is not a loopback one) every route asks for it: ``/?token=T`` once (it is then
kept in a cookie), or ``Authorization: Bearer T``; without it the answer is 401.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from ..errors import DDLError
from .event_media import MEDIA_NAME
from .page_state import LiveState, state_json
from .settings import LiveSettings

PAGE = Path(__file__).with_name("page.html")
#: content types of the events folder's files
MEDIA_TYPES = {".mkv": "video/webm", ".jpg": "image/jpeg"}
#: the cookie that keeps the page's token after ``/?token=T``
TOKEN_COOKIE = "ddl_watch_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: more GET routes (:class:`.api.Api`): (path, query) -> (status, body, content type), None for other paths
Routes = Callable[[str, str], "tuple[int, bytes, str] | None"]
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class PageSettings:
    """How the page server runs: threads, connection timeout (s, each read), request deadline (s, from a request's
    first byte to its last header), connections waiting at most, events kept
    on the page, the Host names it answers (``"*"``: any) and the token it asks for (None: none)."""

    threads: int
    timeout_s: float
    request_s: float
    connections: int
    events: int
    hosts: frozenset[str]
    token: str | None

    @classmethod
    def build(cls, live: LiveSettings, address: str, token: str | None = None,
              allow_hosts: tuple[str, ...] = ()) -> "PageSettings":
        """Settings from the ``live`` settings, the ``--serve`` address, ``--token`` and ``--allow-host``.

        DDLError when the address is not HOST:PORT, or is not a loopback one and no token is given.
        """
        host, _ = parse_address(address)
        if token is not None and not token.strip():
            raise DDLError(f"--serve {address}: the token is empty")
        if token is None and not is_loopback(host):
            raise DDLError(f"--serve {address}: a page served beyond this machine needs a token "
                           "(--token, or the DDL_WATCH_TOKEN environment variable)")
        hosts = {host.strip("[]").lower(), *LOOPBACK_NAMES, *(h.lower() for h in allow_hosts)}
        if host in WILDCARD_HOSTS:
            hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        return cls(int(live.page_threads), float(live.page_timeout_s), float(live.page_request_s), int(live.page_connections),
                   int(live.page_events), frozenset(hosts), token)

    def host_allowed(self, header: str | None, bound_host: str) -> bool:
        """Whether a request's ``Host`` header (name[:port]) is one this server answers."""
        if "*" in self.hosts:
            return True
        if not header:
            return False
        name = urlsplit("//" + header).hostname or ""
        if name in self.hosts:
            return True
        return bound_host in WILDCARD_HOSTS and _is_ip(name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def media_file(folder: Path | None, name: str) -> Path | None:
    """The events folder's file ``name``, or None unless it has a media name and is a plain file right in ``folder``."""
    if folder is None or not MEDIA_NAME.fullmatch(name):
        return None
    path = folder / name
    return path if path.is_file() and not path.is_symlink() else None


def media_listing(folder: Path) -> bytes:
    """An HTML list of the events folder's clips and snapshots, newest first."""
    names = sorted((p.name for p in folder.iterdir() if MEDIA_NAME.fullmatch(p.name)) if folder.is_dir() else [],
                   key=lambda n: (n.split("-")[-2], n), reverse=True)
    items = "".join(f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
    return (f'<!doctype html><meta charset="utf-8"><title>ddl watch events</title><h1>events</h1>'
            f'<p>{len(names)} files</p><ul>{items}</ul>').encode()


def _handler(cameras: Mapping[str, LiveState], events_dir: Path | None, settings: PageSettings,
             bound_host: str, api: Routes | None = None) -> type[BaseHTTPRequestHandler]:
    page = PAGE.read_bytes()
    states = list(cameras.values())

    class Handler(BaseHTTPRequestHandler):
        timeout = settings.timeout_s  # per connection: an idle client is dropped after this

        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            path, _, query = self.path.partition("?")
            if not settings.host_allowed(self.headers.get("Host"), bound_host):
                self._refuse(421, "this server answers only its own address (see ddl watch --allow-host)")
                return
            if settings.token is not None and not self._authorised(query):
                self._refuse(401, "token required: open /?token=TOKEN (ddl watch --token / DDL_WATCH_TOKEN)")
                return
            if path == "/" and "token" in parse_qs(query):  # keep the token in a cookie, off the address bar
                self.send_response(303)
                self.send_header("Location", "/")
                self.send_header("Set-Cookie", f"{TOKEN_COOKIE}={settings.token}; HttpOnly; SameSite=Strict; Path=/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/":
                self._send(page, "text/html; charset=utf-8")
            elif path == "/state.json":
                self._send(state_json(cameras, events_dir is not None, settings.events), "application/json")
            elif (frame := self._camera(path)) is not None and (jpeg := states[frame].jpeg()):
                self._send(jpeg, "image/jpeg")
            elif path == "/events/" and events_dir is not None:
                self._send(media_listing(events_dir), "text/html; charset=utf-8")
            elif path.startswith("/events/") and (media := media_file(events_dir, path[len("/events/"):])) is not None:
                self._send(media.read_bytes(), MEDIA_TYPES[media.suffix])
            elif api is not None and (answer := api(path, query)) is not None:
                self._send(answer[1], answer[2], answer[0])
            else:
                self.send_error(404)

        def parse_request(self) -> bool:
            """Read the headers (http.server), then take the request off the server's deadline watch."""
            parsed = super().parse_request()
            self.server.request_read(self.connection)  # type: ignore[attr-defined]
            return parsed

        def _camera(self, path: str) -> int | None:
            """The camera number of a ``/frame/{i}.jpg`` path (None for any other path or no such camera)."""
            if not (path.startswith("/frame/") and path.endswith(".jpg")):
                return None
            number = path[len("/frame/"):-len(".jpg")]
            if not (number.isascii() and number.isdigit()) or len(number) > 6 or int(number) >= len(states):
                return None
            return int(number)

        def version_string(self) -> str:
            """The Server header: the program's name, no Python version."""
            return "ddl-watch"

        def _authorised(self, query: str) -> bool:
            token = settings.token or ""
            offered = parse_qs(query).get("token", [])
            scheme, _, credentials = self.headers.get("Authorization", "").strip().partition(" ")
            if scheme.lower() == "bearer":  # an authentication scheme's name is case-insensitive (RFC 9110)
                offered.append(credentials.strip())
            for part in self.headers.get("Cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == TOKEN_COOKIE:
                    offered.append(value)
            return any(hmac.compare_digest(o.encode(), token.encode()) for o in offered)

        def _refuse(self, code: int, why: str) -> None:
            body = (why + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: the watch prints its own status
            return

    return Handler


class PageServer(HTTPServer):
    """An HTTP server answering on a bounded thread pool.

    An accepted connection waits, holding no thread, until it sends something (then a pool thread answers
    it) or for ``timeout_s`` (then it is closed). At most ``connections`` are open at once: beyond, the one
    waiting longest is closed for the new one (or the new one, when every open one is being answered).
    """

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], settings: PageSettings) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler, bind_and_activate=False)
        try:  # before any thread or pool exists: a port in use leaves nothing to clean up but the socket
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.socket.close()
            raise
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="ddl-watch-page")
        self._lock = threading.Lock()
        self._open = 0
        self._waiting: dict[socket.socket, tuple[float, Any]] = {}  # connection -> (accepted at, client address)
        self._reading: dict[socket.socket, float] = {}  # connection being read by a pool thread -> its deadline
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch_waiting, name="ddl-watch-page-wait", daemon=True)
        self._watcher.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Park the new connection until it sends its request (see the class docstring)."""
        with self._lock:
            if self._open >= self.settings.connections:
                if not self._waiting:
                    self.shutdown_request(request)
                    return
                self._drop(min(self._waiting, key=lambda c: self._waiting[c][0]))
            self._open += 1
            self._waiting[request] = (time.monotonic(), client_address)
            self._selector.register(request, selectors.EVENT_READ)
        self._wake_write.send(b"x")

    def _drop(self, connection: socket.socket) -> None:
        """Close a waiting connection (lock held)."""
        self._selector.unregister(connection)
        del self._waiting[connection]
        self._open -= 1
        self.shutdown_request(connection)

    def _watch_waiting(self) -> None:
        """Hand connections that sent something to the pool; close those silent for the timeout."""
        while not self._closed.is_set():
            ready = self._selector.select(timeout=min(0.5, self.settings.timeout_s, self.settings.request_s))
            with self._lock:
                for key, _ in ready:
                    connection = key.fileobj
                    if connection is self._wake_read:
                        self._wake_read.recv(4096)
                    elif connection in self._waiting:
                        self._selector.unregister(connection)
                        _, client_address = self._waiting.pop(connection)
                        self.pool.submit(self._serve, connection, client_address)
                now = time.monotonic()
                for connection in [c for c, (since, _) in self._waiting.items() if since < now - self.settings.timeout_s]:
                    self._drop(connection)
                for connection in [c for c, deadline in self._reading.items() if deadline < now]:
                    del self._reading[connection]  # too slow a request (slowloris): its thread's read ends at once
                    try:
                        connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def request_read(self, connection: socket.socket) -> None:
        """The request on ``connection`` has been read (line and headers): its deadline no longer applies."""
        with self._lock:
            self._reading.pop(connection, None)

    def _serve(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._reading[request] = time.monotonic() + self.settings.request_s
        try:
            self.finish_request(request, client_address)
        except OSError:  # the client reset or timed out: nothing to report
            pass
        finally:
            with self._lock:
                self._reading.pop(request, None)
                self._open -= 1
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failed request is the client's business: no traceback into the watch's status stream."""
        return

    def server_close(self) -> None:
        """Stop listening, close the waiting connections and let the pool's threads end."""
        super().server_close()
        self._closed.set()
        self._wake_write.send(b"x")
        self._watcher.join(timeout=2)
        with self._lock:
            for connection in list(self._waiting):
                self._drop(connection)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" -> (host, port), port 1-65535; DDLError when it is not one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DDLError(f"--serve {text}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def start_server(address: str, cameras: Mapping[str, LiveState], settings: PageSettings,
                 events_dir: Path | None = None, api: Routes | None = None) -> PageServer:
    """Serve the page of ``cameras`` {name: state} (and the events folder ``events_dir``, when given) at
    ``address`` (HOST:PORT) in a daemon thread; call ``shutdown()`` to stop. ``api(path, query)``: (status,
    body, content type) for the routes it knows, None for others."""
    host, port = parse_address(address)
    try:
        handler = _handler(cameras, Path(events_dir) if events_dir is not None else None, settings, host.strip("[]"),
                           api)
        server = PageServer((host.strip("[]"), port), handler, settings)
    except (OSError, OverflowError) as exc:
        raise DDLError(f"--serve {address}: cannot listen there ({getattr(exc, 'strerror', None) or exc})") from exc
    threading.Thread(target=server.serve_forever, name="ddl-watch-server", daemon=True).start()
    return server
