"""The edge's MQTT connection: Last Will, session counter, persistent session, TCP_NODELAY, back-off.

bus.md §3 and §4.1. paho-mqtt 2.x with callback API version 2. Everything that must survive a crash
goes through the outbox (`OutboxPublisher`); retained status, inventory, availability and state are
published directly, because their latest value is published again on every (re)connect.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import EdgeConfig
from edge.store import EdgeStore
from hallbus.connection import set_nodelay
from hallbus.models import EdgeStatus, encode
from hallbus.topics import topics_for

log = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]



class EdgeLink:
    """One paho client per edge. `on_connected` runs after every CONNACK (subscribe, birth)."""

    def __init__(self, config: EdgeConfig, store: EdgeStore) -> None:
        self.config = config
        self.store = store
        self.topics = topics_for(config.hall)
        self.boot_id = str(uuid.uuid4())
        self.session = 0
        self.connected = threading.Event()
        self.acks: queue.Queue[int] = queue.Queue()
        self.connection_epoch = 0
        self.on_connected: Callable[[], None] = lambda: None
        self.on_message: MessageHandler = lambda message: None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        credentials = config.broker_credentials()
        if credentials is not None:
            self.client.username_pw_set(*credentials)
        self.client.reconnect_delay_set(min_delay=1, max_delay=int(max(1, config.reconnect_max_s)))
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_pre_connect = self._on_pre_connect

    # -- status payloads ----------------------------------------------------------------------------
    def status_payload(self, state: str) -> bytes:
        return encode(
            EdgeStatus(edge=self.config.edge, state=state, session=self.session, boot_id=self.boot_id)  # type: ignore[arg-type]
        )

    def _arm_will(self) -> None:
        """The Will carries this connection's session, so a late Will can be told from a current one."""
        self.session = self.store.next_session()
        self.client.will_set(
            self.topics.edge_status(self.config.edge), self.status_payload("offline"), qos=1, retain=True
        )

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        host, port = self.config.broker_address()
        self._arm_will()
        self.client.connect_async(host, port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Clean shutdown (bus.md §4.1 step 4): publish offline, wait for its PUBACK, disconnect."""
        if self.connected.is_set():
            info = self.client.publish(
                self.topics.edge_status(self.config.edge), self.status_payload("offline"), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                log.warning("edge %s: offline status not acknowledged before shutdown", self.config.client_id)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        """Before every reconnect: jitter, a new session number and a Will that carries it (§4.1 steps 1–2).

        paho backs off exponentially but without jitter; after a broker restart thousands of edges would
        reconnect in lockstep, so each waits a random extra 0–500 ms.
        """
        if self.connection_epoch > 0:
            time.sleep(secrets.randbelow(500) / 1000)
            self._arm_will()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if getattr(reason_code, "is_failure", False):
            log.error("edge %s: broker refused the connection: %s", self.config.client_id, reason_code)
            return
        set_nodelay(client)
        self.connection_epoch += 1
        log.info("edge %s connected (session %d)", self.config.client_id, self.session)
        edge = self.config.edge
        subscriptions = [
            (self.topics.server_status(), 1),
            (self.topics.edge_status(edge), 1),
            (self.topics.edge_cmd_filter(edge), 1),
        ] + [(self.topics.dev_cmd_filter(d.device_id), 1) for d in self.config.devices]
        client.subscribe(subscriptions)
        self.publish_retained(self.topics.edge_status(edge), self.status_payload("online"))
        self.connected.set()
        try:
            self.on_connected()
        except Exception:
            log.exception("edge %s: birth after connect failed", self.config.client_id)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self.connected.clear()
        log.warning("edge %s disconnected: %s", self.config.client_id, reason_code)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        self.acks.put(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.on_message(message)
        except Exception:
            # A handler bug must not kill paho's network thread; the command stays unanswered and the
            # server's deadline turns it into a timeout.
            log.exception("edge %s: handling %s failed", self.config.client_id, message.topic)

    # -- publishing ----------------------------------------------------------------------------------
    def publish_retained(self, topic: str, payload: bytes) -> None:
        if not self.connected.is_set() and self.connection_epoch == 0:
            return
        self.client.publish(topic, payload, qos=1, retain=True)

    def publish(self, topic: str, payload: bytes) -> int | None:
        """Publish QoS 1, not retained; the message id, or None when not connected."""
        info = self.client.publish(topic, payload, qos=1, retain=False)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)
