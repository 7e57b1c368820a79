"""The server side of the hall bus (bus.md): paho-mqtt 2.x clients that carry commands out and messages in.

* One main client with a fixed client id and a persistent session (MQTT 3.1.1, clean session false):
  it subscribes per hall to the server subscriptions of bus.md §1, applies every incoming message in
  `on_message` (so the PUBACK goes only after the DB commit) and publishes commands (QoS 1, never retained).
* One small liveness client per hall: MQTT allows one Will per connection, and bus.md §4.2 wants a
  retained `offline` Will on each hall's `server/status`. Before every (re)connect it takes a fresh
  session number from the database and sets its Will; after CONNACK it publishes `online` with it.
* TCP_NODELAY is set on every socket after every (re)connect (performance.md trap 1).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select

from hall_server import commands, inbound
from hall_server.context import HallContext, Outgoing
from hall_server.db import next_server_session
from hall_server.models import Hall
from hallbus import Command, ServerStatus, encode, now_ms, topics_for
from hallbus.connection import broker_address, set_nodelay

log = logging.getLogger(__name__)

QOS = 1
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5


def _failed(reason: ReasonCode | Any) -> bool:
    return bool(getattr(reason, "is_failure", False))


def _authenticate(client: mqtt.Client, username: str, password_file: Path | None) -> None:
    """Log in as `username` (= client id, bus.md §9) when the deployment has broker accounts."""
    if password_file is not None:
        client.username_pw_set(username, Path(password_file).read_text(encoding="utf-8").strip())


class LivenessClient:
    """Publishes one hall's `server/status`: retained online after connect, retained offline as its Will."""

    def __init__(self, ctx: HallContext, hall: str, host: str, port: int) -> None:
        self.ctx, self.hall, self.host, self.port = ctx, hall, host, port
        self.topic = topics_for(hall).server_status()
        self.session = 0
        self.connected = threading.Event()
        client_id = f"{ctx.settings.mqtt_client_id}.live.{hall}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        _authenticate(self.client, client_id, ctx.settings.mqtt_password_file)
        self.client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)  # type: ignore[arg-type]
        self.client.on_pre_connect = self._on_pre_connect
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def _status(self, state: str) -> bytes:
        return encode(ServerStatus(state=state, session=self.session))  # type: ignore[arg-type]

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        self.session = next_server_session(self.ctx.db)
        client.will_set(self.topic, self._status("offline"), qos=QOS, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if _failed(reason):
            log.error("hall=%s liveness connect refused: %s", self.hall, reason)
            return
        set_nodelay(client)
        client.publish(self.topic, self._status("online"), qos=QOS, retain=True)
        self.connected.set()
        log.info("hall=%s server online (session %d)", self.hall, self.session)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=self.ctx.settings.mqtt_keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """Clean shutdown (§4.1.4 applied to the server): publish offline, wait for PUBACK, disconnect."""
        if self.connected.is_set():
            info = self.client.publish(self.topic, self._status("offline"), qos=QOS, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                log.warning("hall=%s offline status not confirmed: %s", self.hall, exc)
        self.client.disconnect()
        self.client.loop_stop()


class BusBridge:
    """Commands out, events in. `start()` connects in the background; `stop()` says offline and leaves."""

    def __init__(self, ctx: HallContext) -> None:
        if not ctx.settings.mqtt_url:
            raise ValueError("BusBridge needs settings.mqtt_url")
        self.ctx = ctx
        self.host, self.port = broker_address(ctx.settings.mqtt_url)
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._halls: set[str] = set()
        self._liveness: dict[str, LivenessClient] = {}
        self._stopping = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=ctx.settings.mqtt_client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,  # a message is acknowledged by the ingest thread after its commit
        )
        self.ingest = Ingest(ctx, self.client)
        _authenticate(self.client, ctx.settings.mqtt_client_id, ctx.settings.mqtt_password_file)
        self.client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)  # type: ignore[arg-type]
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self.ingest.start()
        self.client.connect_async(self.host, self.port, keepalive=self.ctx.settings.mqtt_keepalive_s)
        self.client.loop_start()
        log.info("bus bridge connecting to %s:%d as %s", self.host, self.port, self.ctx.settings.mqtt_client_id)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once the main client and every hall's liveness client are connected."""
        if not self.connected.wait(timeout):
            return False
        with self._lock:
            clients = list(self._liveness.values())
        return all(c.connected.wait(timeout) for c in clients)

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            clients = list(self._liveness.values())
            self._liveness.clear()
        for live in clients:
            live.stop()
        self.client.disconnect()
        self.client.loop_stop()
        self.ingest.stop()
        log.info("bus bridge stopped")

    # --- halls ------------------------------------------------------------------------------------

    def halls_changed(self) -> None:
        """Subscribe to and announce the server on halls added since the last call."""
        if self.connected.is_set():
            self._sync_halls()

    def _sync_halls(self) -> None:
        with self.ctx.db.read() as session:
            halls = set(session.scalars(select(Hall.id)))
        with self._lock:
            new = sorted(halls - self._halls) if not self._stopping else []
            self._halls |= set(new)
        self._subscribe(new)
        for hall in new:
            live = LivenessClient(self.ctx, hall, self.host, self.port)
            with self._lock:
                self._liveness[hall] = live
            live.start()

    def _subscribe(self, halls: list[str] | set[str]) -> None:
        filters = [(f, QOS) for hall in sorted(halls) for f in topics_for(hall).server_subscriptions()]
        for start in range(0, len(filters), 100):
            self.client.subscribe(filters[start : start + 100])

    # --- paho callbacks ---------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if _failed(reason):
            log.error("bus connect refused: %s", reason)
            return
        set_nodelay(client)
        with self._lock:
            known = set(self._halls)
        self._subscribe(known)
        self.connected.set()
        log.info("bus connected (session present: %s)", getattr(flags, "session_present", None))
        self._sync_halls()
        self._republish_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("bus disconnected (%s); paho reconnects", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.ingest.put(message)

    def _republish_all(self) -> None:
        with self.ctx.transaction() as session:
            commands.republish_pending(session)

    # --- publishing -------------------------------------------------------------------------------

    def publish_command(self, cmd: Outgoing) -> None:
        """Publish a stored command (QoS 1, never retained); an expired one is never sent again."""
        if now_ms() > cmd.expires_at:
            log.info("hall=%s command %s %s expired; not published", cmd.hall, cmd.name, cmd.cmd_id)
            return
        topics = topics_for(cmd.hall)
        if cmd.device is not None:
            topic = topics.dev_cmd(cmd.device, cmd.name)
        elif cmd.edge is not None:
            topic = topics.edge_cmd(cmd.edge, cmd.name)
        else:
            raise ValueError(f"command {cmd.cmd_id} names neither a device nor an edge")
        payload = encode(Command(cmd_id=cmd.cmd_id, expires_at=cmd.expires_at, args=cmd.args))
        info = self.client.publish(topic, payload, qos=QOS, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.info("hall=%s command %s queued in paho while disconnected (rc=%s)", cmd.hall, cmd.cmd_id, info.rc)
        else:
            log.debug("hall=%s published %s %s on %s", cmd.hall, cmd.name, cmd.cmd_id, topic)


class Ingest:
    """Applies inbound messages in arrival order on a thread of its own, acknowledging each after its commit.

    paho runs `on_message` on its network thread; applying a message there (one transaction each) let a
    city's birth burst (~14,000 availability and state messages) hold back every outgoing command until
    it expired in transit, and starved keepalives (measured in the city twin). With manual
    acknowledgement the PUBACK still follows the commit, so nothing is lost if the server dies. Within
    one drained batch, an availability or state message superseded by a later one on the same topic is
    acknowledged without being applied: those topics only ever carry the latest full value (bus.md §3).
    """

    BATCH = 500

    def __init__(self, ctx: HallContext, client: mqtt.Client) -> None:
        self.ctx = ctx
        self.client = client
        self.queue: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue()
        self.applied = 0
        self.superseded = 0
        self._thread = threading.Thread(target=self._run, name="bus-ingest", daemon=True)
        ctx.metrics.gauge("ingest_queue", self.queue.qsize)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self._thread.join(timeout=10)

    def put(self, message: mqtt.MQTTMessage) -> None:
        message.timestamp = time.monotonic()  # when it arrived, for the ingest lag
        self.queue.put(message)

    def _batch(self) -> list[mqtt.MQTTMessage | None]:
        batch = [self.queue.get()]
        while len(batch) < self.BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._batch()
            stopping = None in batch
            messages = [m for m in batch if m is not None]
            latest = {m.topic: i for i, m in enumerate(messages) if _latest_value_topic(m.topic)}
            wanted = [m for i, m in enumerate(messages) if latest.get(m.topic, i) == i]
            self.superseded += len(messages) - len(wanted)
            started = time.monotonic()
            self._apply(wanted)
            done = time.monotonic()
            self.ctx.metrics.ingest_batch.add((done - started) * 1000)
            for message in messages:  # after the commit: the broker may forget them now
                self.ctx.metrics.ingest_lag.add((done - message.timestamp) * 1000)
                self.client.ack(message.mid, message.qos)
            if stopping:
                return

    def _apply(self, messages: list[mqtt.MQTTMessage]) -> None:
        try:
            self.applied += inbound.handle_batch(self.ctx, [(m.topic, bytes(m.payload)) for m in messages])
        except Exception:  # a bug in one batch must not stop the ingest of every later one
            log.exception("failed to apply a batch of %d messages", len(messages))


def _latest_value_topic(topic: str) -> bool:
    return topic.endswith("/availability") or topic.endswith("/state")
