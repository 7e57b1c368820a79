"""The edge agent: wires the store, the MQTT link, the outbox publisher and one worker per device.

Commands are processed in the order of bus.md §5.3. The processed-command row is committed inside
paho's message callback, before it returns, so the PUBACK reaches the broker only after the edge has
durably seen the command.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

import paho.mqtt.client as mqtt

from drivers.devices.base import DeviceEvent
from edge.config import EdgeConfig
from edge.link import EdgeLink
from edge.outbox import OutboxPublisher
from edge.pool import DevicePool
from edge.store import EdgeStore, OutboxFullError, ProcessedCommand
from edge.worker import DeviceFactory, DeviceWorker, QueuedCommand
from hallbus.catalogue import EDGE_COMMANDS, validate_args
from hallbus.errors import PayloadError, TopicError
from hallbus.models import (
    Availability,
    Command,
    DeviceInfo,
    Inventory,
    ServerStatus,
    decode,
    encode,
    new_id,
    now_ms,
)
from hallbus.topics import TopicKind, parse_topic

log = logging.getLogger(__name__)


def _transport_name(url: str) -> str:
    if url.startswith("socket://"):
        return "tcp"
    if url.startswith("usb"):
        return "usb"
    return "serial"


def _error(code: str, message: str, retryable: bool = False) -> dict[str, Any]:
    return {"code": code, "message": message, "retryable": retryable}


class EdgeAgent:
    def __init__(self, config: EdgeConfig, factory: DeviceFactory | None = None) -> None:
        if factory is None:
            from drivers.registry import open_device

            factory = open_device
        self.config = config
        self.store = EdgeStore(config.db_path, max_bytes=config.outbox_max_bytes)
        self.link = EdgeLink(config, self.store)
        self.outbox = OutboxPublisher(self.link, self.store)
        self.topics = self.link.topics
        self.workers = {
            d.device_id: DeviceWorker(d, config, self, factory) for d in config.devices if d.enabled
        }
        self.kinds = {d.device_id: d.kind for d in config.devices}
        self.pool = DevicePool(list(self.workers.values()), config.worker_threads) if config.worker_threads else None
        self.server_session: int | None = None
        self._retained_lock = threading.Lock()
        self._stopped = threading.Event()
        self.link.on_connected = self.birth
        self.link.on_message = self.on_message

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._recover_running()
        self.store.prune_processed(self.config.processed_keep_s * 1000)
        self.outbox.start()
        for worker in self.workers.values():
            worker.start()
        if self.pool is not None:
            self.pool.start()
        self.link.start()
        log.info("edge %s started with %d devices", self.config.client_id, len(self.workers))

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.pool is not None:
            self.pool.stop()
        for worker in self.workers.values():
            worker.stop()
        self.outbox.stop()
        self.link.stop()
        self.store.close()
        log.info("edge %s stopped", self.config.client_id)

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down cleanly (offline status before disconnect)."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        done.wait()
        self.stop()

    def _recover_running(self) -> None:
        """A row still `running` at start-up: finished as outcome_unknown, never executed again."""
        for row in self.store.running_commands():
            log.warning("command %s for %s was running when the edge died", row.cmd_id, row.device)
            body = self._result_body(row.cmd_id, "error", {}, _error("outcome_unknown", "edge restarted"))
            self.store.finish_command(row.cmd_id, self._result_topic(row.device), body)

    # -- birth and retained state -----------------------------------------------------------------
    def birth(self) -> None:
        """Inventory, then availability and state of every device (bus.md §4.1 step 3, §4.4)."""
        devices = [
            DeviceInfo(
                device=d.device_id,
                kind=d.kind,
                protocol=d.protocol,
                model=d.model,
                profile=d.profile,
                transport=_transport_name(d.url),
                caps=self.workers[d.device_id].caps if d.device_id in self.workers else [],
            )
            for d in self.config.devices
        ]
        self.link.publish_retained(
            self.topics.edge_inventory(self.config.edge), encode(Inventory(edge=self.config.edge, devices=devices))
        )
        for device_id in self.workers:
            self.availability_changed(device_id)
            self.state_changed(device_id)
        self.outbox.notify()

    def availability_changed(self, device: str) -> None:
        """Publish the device's availability as it is *now*, under the retained-message lock.

        A birth and a worker's transition can race; if the birth's older snapshot reached the broker
        last, the stale value would stick (transitions are published once). Reading the current value
        inside the lock makes the last message on the wire the current one.
        """
        worker = self.workers[device]
        with self._retained_lock:
            online = "online" if worker.availability == "online" else "offline"
            payload = encode(Availability(edge=self.config.edge, state=online, reason=worker.reason))  # type: ignore[arg-type]
            self.link.publish_retained(self.topics.dev_availability(device), payload)

    def state_changed(self, device: str) -> None:
        worker = self.workers[device]
        with self._retained_lock:
            body = {"v": 1, "ts": now_ms(), "edge": self.config.edge, **worker.state}
            self.link.publish_retained(self.topics.dev_state(device), json.dumps(body, ensure_ascii=False).encode())

    # -- events and results -----------------------------------------------------------------------
    def device_events(self, device: str, events: list[DeviceEvent]) -> int:
        """Store events with the device's new mark; return what may be acknowledged (-1: nothing)."""
        bodies = [
            (
                e.source_seq,
                {
                    "v": 1,
                    "ts": now_ms(),
                    "edge": self.config.edge,
                    "event_id": new_id(),
                    "type": e.type,
                    "source_seq": e.source_seq,
                    "data": e.data,
                },
            )
            for e in events
        ]
        try:
            mark = self.store.store_events(device, self.topics.dev_event(device), bodies)
        except OutboxFullError:
            log.error("device %s: outbox full, events stay queued in the device", device)
            return -1
        self.outbox.notify()
        return mark

    def command_finished(
        self,
        device: str,
        cmd: QueuedCommand,
        status: str,
        data: dict[str, Any],
        error: dict[str, Any] | None,
    ) -> None:
        body = self._result_body(cmd.cmd_id, status, data, error)
        self.store.finish_command(cmd.cmd_id, self._result_topic(device), body)
        self.outbox.notify()
        log.info("command %s %s on %s: %s", cmd.cmd_id, cmd.name, device, status)

    def _result_body(
        self, cmd_id: str, status: str, data: dict[str, Any], error: dict[str, Any] | None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "v": 1,
            "ts": now_ms(),
            "edge": self.config.edge,
            "cmd_id": cmd_id,
            "status": status,
            "data": data,
            "error": error,
            **extra,
        }

    def _result_topic(self, device: str | None) -> str:
        if device is None or device not in self.kinds:
            return self.topics.edge_result(self.config.edge)
        return self.topics.dev_result(device)

    # -- incoming messages ------------------------------------------------------------------------
    def on_message(self, message: mqtt.MQTTMessage) -> None:
        try:
            topic = parse_topic(message.topic)
        except TopicError as exc:
            log.warning("dropped message on unexpected topic: %s", exc)
            return
        if topic.kind is TopicKind.SERVER_STATUS:
            self._on_server_status(message.payload)
        elif topic.kind is TopicKind.EDGE_STATUS:
            self._on_own_status(message.payload)
        elif topic.kind in (TopicKind.DEV_CMD, TopicKind.EDGE_CMD) and topic.command is not None:
            self._on_command(topic.device, topic.command, message)

    def _on_server_status(self, payload: bytes | bytearray) -> None:
        """A server that comes online with a session we have not seen gets our birth again (§4.2)."""
        try:
            status = decode(ServerStatus, payload)
        except PayloadError:
            return
        if status.state == "online" and status.session != self.server_session:
            self.server_session = status.session
            self.birth()

    def _on_own_status(self, payload: bytes | bytearray) -> None:
        """A late Will of an earlier connection overwrote our retained status: say online again (§4.1)."""
        if not payload:
            return
        try:
            status = json.loads(payload)
        except ValueError:
            return
        if status.get("state") == "offline" and status.get("session") != self.link.session:
            self.link.publish_retained(self.topics.edge_status(self.config.edge), self.link.status_payload("online"))

    def _on_command(self, device: str | None, name: str, message: mqtt.MQTTMessage) -> None:
        cmd_id = _peek_cmd_id(message.payload)
        if cmd_id is None:
            log.warning("dropped command %s for %s without a cmd_id", name, device or "edge")
            return
        topic = self._result_topic(device)
        if message.retain:
            self._answer(cmd_id, topic, "rejected", _error("retained_command", "commands are never retained"))
            return
        previous = self.store.get_processed(cmd_id)
        if previous is not None:
            self._answer_duplicate(previous, topic)
            return
        try:
            cmd = decode(Command, message.payload)
        except PayloadError as exc:
            if self.store.begin_command(cmd_id, device or "", name, 0):
                self._finish(cmd_id, topic, "rejected", _error("bad_args", exc.reason))
            return
        if not self.store.begin_command(cmd_id, device or "", name, cmd.expires_at):
            return
        self._dispatch(cmd, device, name, topic)

    def _dispatch(self, cmd: Command, device: str | None, name: str, topic: str) -> None:
        if cmd.expired():
            self._finish(cmd.cmd_id, topic, "expired", None)
            return
        if device is None:
            self._edge_command(cmd, name, topic)
            return
        worker = self.workers.get(device)
        if worker is None:
            self._finish(cmd.cmd_id, topic, "rejected", _error("unknown_device", f"no device {device} here"))
            return
        try:
            validate_args(self.kinds[device], name, cmd.args)
        except PayloadError as exc:
            code = "unknown_command" if exc.reason.startswith("unknown command") else "bad_args"
            self._finish(cmd.cmd_id, topic, "rejected", _error(code, exc.reason))
            return
        if self.store.outbox_full():
            self._finish(cmd.cmd_id, topic, "rejected", _error("edge_backlog", "outbox full", True))
            return
        worker.submit(QueuedCommand(cmd.cmd_id, name, dict(cmd.args), cmd.expires_at))

    def _edge_command(self, cmd: Command, name: str, topic: str) -> None:
        if name not in EDGE_COMMANDS:
            self._finish(cmd.cmd_id, topic, "rejected", _error("unknown_command", f"no edge command {name}"))
            return
        if name == "rebirth":
            self.birth()
        self._finish(cmd.cmd_id, topic, "ok", None)

    def _finish(self, cmd_id: str, topic: str, status: str, error: dict[str, Any] | None) -> None:
        self.store.finish_command(cmd_id, topic, self._result_body(cmd_id, status, {}, error))
        self.outbox.notify()

    def _answer(self, cmd_id: str, topic: str, status: str, error: dict[str, Any] | None) -> None:
        """A result that is not recorded as the command's outcome (a retained delivery)."""
        self.store.finish_command(cmd_id, topic, self._result_body(cmd_id, status, {}, error), record=False)
        self.outbox.notify()

    def _answer_duplicate(self, previous: ProcessedCommand, topic: str) -> None:
        cmd_id, status, data, error = previous.cmd_id, previous.status, previous.data, previous.error
        if previous.state != "done" or status is None:
            log.info("command %s delivered again while still running; its result will follow", cmd_id)
            return
        body = self._result_body(cmd_id, "duplicate", data, error, original_status=status)
        self.store.finish_command(cmd_id, topic, body, record=False)
        self.outbox.notify()


def _peek_cmd_id(payload: bytes | bytearray) -> str | None:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    cmd_id = obj.get("cmd_id") if isinstance(obj, dict) else None
    return cmd_id if isinstance(cmd_id, str) and 0 < len(cmd_id) <= 64 else None
