"""The MQTT adapters a platform runs, from its settings: forewarn's own MQTT port for devices
(``mqtt_listen``) and a subscription to a broker (``mqtt_broker``), each storing through the
same pipeline as HJ 212 with an acknowledgement that means "stored"."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from forewarn.access.users import device_for_token
from forewarn.config import ConfigError, Settings
from forewarn.ingest.pipeline import Pipeline
from forewarn.protocols.hj212.handler import Hj212Handler, IngestPort
from forewarn.protocols.mqtt.ingest import MessageIngest
from forewarn.protocols.mqtt.listener import MqttListener
from forewarn.protocols.mqtt.subscriber import BrokerSettings, MqttSubscriber
from forewarn.store.base import DeviceInfo
from forewarn.store.registry_reads import mn_of_device
from forewarn.store.sqlite import SqliteStore

__all__ = ["MqttAdapters", "broker_settings"]

log = logging.getLogger(__name__)


def broker_settings(s: Settings) -> BrokerSettings | None:
    """The broker subscription the settings ask for, or None; a mistake is a ConfigError in words."""
    if not s.mqtt_broker:
        return None
    try:
        return BrokerSettings.from_url(s.mqtt_broker, client_id=s.mqtt_client_id or f"forewarn-{socket.gethostname()}",
                                       version=s.mqtt_version, subscriptions=s.mqtt_subscriptions,
                                       session_expiry_s=s.mqtt_session_expiry_s, ca_file=s.mqtt_ca_file)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _listen_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"mqtt_listen {text!r}: write HOST:PORT, e.g. 0.0.0.0:1883")
    return host.strip("[]") or "0.0.0.0", int(port)


class MqttAdapters:
    def __init__(self, s: Settings, pipeline: Pipeline, store: SqliteStore,
                 handler_for: Callable[[IngestPort], Hj212Handler]) -> None:
        self.settings = s
        self.pipeline = pipeline
        self.store = store
        self.broker = broker_settings(s)
        self.listen = _listen_address(s.mqtt_listen) if s.mqtt_listen else None
        self.listener: MqttListener | None = None
        self.subscriber: MqttSubscriber | None = None
        self._task: asyncio.Task[None] | None = None
        self._handler_for = handler_for

    def _login(self, token: str) -> DeviceInfo | None:
        device_id = device_for_token(self.store.db, token)
        mn = None if device_id is None else mn_of_device(self.store.db, device_id)
        return None if mn is None else self.pipeline.device(mn)

    async def start(self) -> None:
        s = self.settings
        if self.listen is not None:
            ingest = MessageIngest(self.pipeline, self._handler_for, s.future_tolerance_s, "mqtt_listener_messages")
            self.listener = MqttListener(ingest, self._login, max_packet_bytes=s.mqtt_max_packet_bytes)
            await self.listener.start(*self.listen)
            log.info("MQTT port for devices on %s:%d", self.listen[0], self.listener.port)
        if self.broker is not None:
            ingest = MessageIngest(self.pipeline, self._handler_for, s.future_tolerance_s, "mqtt_broker_messages")
            self.subscriber = MqttSubscriber(self.broker, ingest, max_packet_bytes=s.mqtt_max_packet_bytes)
            self._task = asyncio.create_task(self.subscriber.run())

    @property
    def listener_port(self) -> int:
        assert self.listener is not None, "no MQTT port (mqtt_listen)"
        return self.listener.port

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.listener is not None:
            await self.listener.close()
