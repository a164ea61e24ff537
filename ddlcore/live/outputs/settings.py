"""The ``outputs`` section of the configuration (see ddlcore.settings): where ``ddl watch`` sends its alarms besides
the event lines. Meanings and defaults: the schema; all outputs are off by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...settings import Section


@dataclass(frozen=True)
class MqttSettings(Section):
    """``outputs.mqtt``: the broker (None: no MQTT), topics, Home Assistant discovery and the waiting queue."""

    broker: str | None
    client_id: str
    topic_prefix: str
    qos: int
    username: str | None
    password_file: str | None
    ca_file: str | None
    keepalive_s: int
    reconnect_max_s: float
    queue_messages: int
    state_every_s: float
    discovery: bool
    discovery_prefix: str


@dataclass(frozen=True)
class WebhookSettings(Section):
    """``outputs.webhooks``: the URLs each event is POSTed to (none: no webhooks), signing, retries, queue."""

    urls: tuple[str, ...]
    secret_file: str | None
    timeout_s: float
    retries: int
    backoff_s: float
    queue_messages: int


@dataclass(frozen=True)
class OutputSettings(Section):
    """The ``outputs`` section of the configuration."""

    SECTION: ClassVar[str] = "outputs"

    public_url: str | None
    update_every_s: float
    api_events: int
    close_timeout_s: float
    mqtt: MqttSettings
    webhooks: WebhookSettings
