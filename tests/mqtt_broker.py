"""A real MQTT broker for tests: Mosquitto (Debian package ``mosquitto``) on a free loopback port, with its own
configuration, persistence and log in a temporary folder; stopped (and restarted on the same port) by its PID.
And :class:`Subscriber`, a plain paho client recording every message it receives."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from ci_required import skip_unless_ci


def mosquitto_path() -> str:
    """The mosquitto binary; skips the test without it (fails under CI: ``.ci/run`` installs it)."""
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.access(p, os.X_OK)), None)
    if found is None:
        skip_unless_ci("mosquitto is not installed (apt-get install mosquitto)")
    return str(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Mosquitto on 127.0.0.1 (``url``); ``users``: {name: password} (then anonymous clients are refused)."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        self.binary = mosquitto_path()
        self.folder = folder
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {folder}/",
                 f"log_dest file {folder}/mosquitto.log", "log_type all"]
        if os.geteuid() == 0:  # as root, mosquitto would switch to its own user, who cannot read this folder
            lines.append("user root")
        if users:
            passwords = folder / "passwords"
            passwords.touch()
            passwords.chmod(0o600)
            for name, password in users.items():
                subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", str(passwords),
                                name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        """Start it and wait until it accepts connections."""
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()[-2000:]}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")

    def stop(self) -> None:
        """Stop it by its PID (SIGTERM: it saves its persistent sessions) and wait for it to exit."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        self.process = None


class Subscriber:
    """A plain paho client subscribed to ``topics`` (QoS 1): ``messages`` [(topic, payload str, retain)]; with
    ``session``, a persistent session under that client id (messages published while it is away are kept)."""

    def __init__(self, broker: Broker, topics: list[str], session: str | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=session or "",
                                  clean_session=session is None)
        if auth:
            self.client.username_pw_set(*auth)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port, 30)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber did not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

    def on(self, topic: str) -> list[tuple[str, bool]]:
        """(payload, retain) of every message received on ``topic``, in order."""
        with self.lock:
            return [(p, r) for t, p, r in self.messages if t == topic]

    def wait_for(self, condition, timeout: float = 15.0) -> bool:
        return wait_until(condition, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, timeout: float = 15.0) -> bool:
    """Poll ``condition()`` every 50 ms until it holds (True) or ``timeout`` s pass (its last value)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
