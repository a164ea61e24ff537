"""Webhooks of ``ddl watch`` (``outputs.webhooks``): each event's ``new`` and ``end`` message POSTed as JSON.

Every URL has its own bounded :class:`.outbox.Outbox` and worker thread, so a slow or failing receiver delays
neither the watch nor the other receivers. A POST that gets no answer within ``timeout_s``, or a 5xx, 408 or
429 status, is tried again ``retries`` times, after ``backoff_s``, then twice that, and so on; any 2xx is a
delivery; other statuses are not retried. Each POST carries:

- ``Content-Type: application/json``; the body is the message of :mod:`.messages`;
- ``X-DDL-Event``: the message's type (``new`` or ``end``);
- ``X-DDL-Delivery``: ``ID-TYPE``, the same on every attempt (a receiver can drop a repeat);
- ``X-DDL-Signature-256: sha256=HEX``: HMAC-SHA256 of the body with the shared secret (``secret_file`` or
  ``$DDL_WEBHOOK_SECRET``), when there is one (:func:`signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from .outbox import Outbox
from .secrets import read_secret
from .settings import WebhookSettings

#: the environment variable of the webhooks' shared secret
SECRET_VARIABLE = "DDL_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-DDL-Signature-256"
#: statuses worth another attempt (besides no answer at all)
RETRY_STATUSES = frozenset({408, 429})


def signature(secret: str, body: bytes) -> str:
    """The ``X-DDL-Signature-256`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown_url(url: str) -> str:
    """``url`` as it may appear in a status line: scheme, host, port and path (no credentials, no query)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class WebhookOutput:
    """POSTs event messages to one URL (see the module docstring); ``settings``: ``outputs.webhooks``; ``secret``:
    the shared secret (None: unsigned); ``warn``: where failures are reported (the URL without credentials)."""

    def __init__(self, url: str, settings: WebhookSettings, secret: str | None, warn: Callable[[str], None]) -> None:
        self.url = url
        self.settings = settings
        self.secret = secret
        self.warn = warn
        self.name = f"webhook {shown_url(url)}"
        self.outbox = Outbox(settings.queue_messages, self.name, warn)
        self.delivered = 0
        self.failed = 0
        self._abandon = threading.Event()
        self._worker = threading.Thread(target=self._run, name="ddl-watch-webhook", daemon=True)
        self._worker.start()

    def event(self, message: dict[str, Any]) -> None:
        """Queue an event message: ``new`` and ``end`` are POSTed; ``update`` is not."""
        if message["type"] in ("new", "end"):
            self.outbox.put(message)

    def close(self, timeout_s: float) -> None:
        """Deliver what waits for at most ``timeout_s``, then give up on the rest (counted)."""
        self.outbox.drain(self._worker, self._abandon, timeout_s)
        if self.outbox.dropped:
            self.warn(f"{self.name}: {self.outbox.dropped} messages dropped (not delivered in time)")

    def _run(self) -> None:
        while (message := self.outbox.take()) is not None:
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "ddl-watch", "X-DDL-Event": message["type"],
                   "X-DDL-Delivery": f"{message['after']['id']}-{message['type']}"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        s = self.settings
        for attempt in range(s.retries + 1):
            if attempt and self._abandon.wait(s.backoff_s * 2 ** (attempt - 1)):
                return
            why, again = self._post(body, headers)
            if why is None:
                self.delivered += 1
                return
            if not again:
                break
        self.failed += 1
        self.warn(f"{self.name}: {message['type']} of event {message['after']['id']} not delivered: {why}")

    def _post(self, body: bytes, headers: Mapping[str, str]) -> tuple[str | None, bool]:
        """One POST: (None, False) when answered 2xx, else (why not, whether another attempt may succeed)."""
        request = urllib.request.Request(self.url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                response.read()
                return None, False
        except urllib.error.HTTPError as exc:
            return f"status {exc.code}", exc.code >= 500 or exc.code in RETRY_STATUSES
        except (urllib.error.URLError, OSError) as exc:
            return str(getattr(exc, "reason", None) or exc), True

def webhook_secret(settings: WebhookSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhooks' shared secret: ``secret_file``'s first line, else ``$DDL_WEBHOOK_SECRET``, else None."""
    return read_secret(settings.secret_file, SECRET_VARIABLE, "outputs.webhooks.secret_file", environ)
