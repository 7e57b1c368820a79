"""IPP/1.1 binary encoding (RFC 8010) for Print-Job, Get-Printer-Attributes and Get-Job-Attributes.

Written here because the maintained pure-Python IPP library on PyPI (pyipp) is an asyncio/aiohttp
client that picks value tags from a fixed name table and cannot encode collections (`media-col`,
needed to select the tray); this codec is small, synchronous and pure (no I/O).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import CodecError

PRINT_JOB, GET_JOB_ATTRIBUTES, GET_PRINTER_ATTRIBUTES = 0x0002, 0x0009, 0x000B
SUCCESSFUL_OK, CLIENT_ERROR_NOT_POSSIBLE, CLIENT_ERROR_NOT_FOUND = 0x0000, 0x0404, 0x0406
SERVER_ERROR_OPERATION_NOT_SUPPORTED, SERVER_ERROR_NOT_ACCEPTING = 0x0501, 0x0506

OPERATION, JOB, END, PRINTER, UNSUPPORTED_GROUP = 0x01, 0x02, 0x03, 0x04, 0x05
GROUP_TAGS = {OPERATION, JOB, PRINTER, UNSUPPORTED_GROUP}

INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
OCTET_STRING, BEGIN_COLLECTION, END_COLLECTION, MEMBER_NAME = 0x30, 0x34, 0x37, 0x4A
TEXT, NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49
NO_VALUE, UNKNOWN = 0x13, 0x12
_STRING_TAGS = {TEXT, NAME, KEYWORD, URI, 0x46, CHARSET, LANGUAGE, MIME, MEMBER_NAME}
_OUT_OF_BAND = {0x10, UNKNOWN, NO_VALUE}

JOB_STATES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped", 7: "canceled",
              8: "aborted", 9: "completed"}  # fmt: skip
PRINTER_STATES = {3: "idle", 4: "processing", 5: "stopped"}


@dataclass(frozen=True)
class Attribute:
    """One attribute: name, value tag and its values (int, bool, str, bytes, or a collection's members)."""

    name: str
    tag: int
    values: tuple[Any, ...]


@dataclass
class Message:
    """A request (`code` = operation-id) or a response (`code` = status-code)."""

    code: int
    request_id: int
    groups: list[tuple[int, list[Attribute]]] = field(default_factory=list)
    data: bytes = b""
    version: tuple[int, int] = (1, 1)

    def group(self, tag: int) -> dict[str, Attribute]:
        """Attributes of the first group with `tag`, by name (empty if none)."""
        for group_tag, attrs in self.groups:
            if group_tag == tag:
                return {a.name: a for a in attrs}
        return {}

    def value(self, tag: int, name: str, default: Any = None) -> Any:
        attr = self.group(tag).get(name)
        return attr.values[0] if attr and attr.values else default

    def values(self, tag: int, name: str) -> list[Any]:
        attr = self.group(tag).get(name)
        return list(attr.values) if attr else []


# ---- encoding ---------------------------------------------------------------------------------


def _encode_value(tag: int, value: Any) -> bytes:
    if tag in (INTEGER, ENUM):
        return struct.pack(">i", int(value))
    if tag == BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in _OUT_OF_BAND:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _item(tag: int, name: str, value: bytes) -> bytes:
    raw_name = name.encode("ascii")
    return struct.pack(">BH", tag, len(raw_name)) + raw_name + struct.pack(">H", len(value)) + value


def _encode_attribute(attr: Attribute) -> bytes:
    out = bytearray()
    for i, value in enumerate(attr.values or (None,)):
        name = attr.name if i == 0 else ""
        if attr.tag == BEGIN_COLLECTION:
            out += _item(BEGIN_COLLECTION, name, b"")
            for member in value:
                out += _item(MEMBER_NAME, "", member.name.encode("ascii"))
                out += _encode_attribute(Attribute("", member.tag, member.values))
            out += _item(END_COLLECTION, "", b"")
        else:
            out += _item(attr.tag, name, _encode_value(attr.tag, value))
    return bytes(out)


def encode(message: Message) -> bytes:
    """The binary message, groups in order, end-of-attributes, then the document data."""
    out = bytearray(struct.pack(">BBHI", *message.version, message.code, message.request_id))
    for tag, attrs in message.groups:
        out.append(tag)
        for attr in attrs:
            out += _encode_attribute(attr)
    out.append(END)
    return bytes(out) + message.data


# ---- decoding ---------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CodecError(f"IPP message truncated at {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def item(self, tag: int) -> tuple[str, bytes]:
        name = self.take(self.u16()).decode("utf-8", errors="replace")
        return name, self.take(self.u16())


def _decode_value(tag: int, raw: bytes) -> Any:
    if tag in (INTEGER, ENUM):
        if len(raw) != 4:
            raise CodecError(f"integer of {len(raw)} bytes")
        return struct.unpack(">i", raw)[0]
    if tag == BOOLEAN:
        if len(raw) != 1:
            raise CodecError("boolean must be one byte")
        return raw != b"\x00"
    if tag in _STRING_TAGS:
        return raw.decode("utf-8", errors="replace")
    return raw


def _decode_collection(reader: _Reader) -> tuple[Attribute, ...]:
    members: list[Attribute] = []
    while True:
        tag = reader.u8()
        _, raw = reader.item(tag)
        if tag == END_COLLECTION:
            return tuple(members)
        if tag == MEMBER_NAME:
            members.append(Attribute(raw.decode("utf-8", errors="replace"), 0, ()))
            continue
        if not members:
            raise CodecError("collection value before a member name")
        value = _decode_collection(reader) if tag == BEGIN_COLLECTION else _decode_value(tag, raw)
        last = members[-1]
        members[-1] = Attribute(last.name, tag, (*last.values, value))


def decode(data: bytes) -> Message:
    """Parse a request or response; CodecError on truncation or a value before any attribute."""
    reader = _Reader(data)
    major, minor, code, request_id = struct.unpack(">BBHI", reader.take(8))
    message = Message(code, request_id, version=(major, minor))
    attrs: list[Attribute] | None = None
    while True:
        tag = reader.u8()
        if tag == END:
            message.data = data[reader.pos :]
            return message
        if tag in GROUP_TAGS or tag < 0x10:
            attrs = []
            message.groups.append((tag, attrs))
            continue
        if attrs is None:
            raise CodecError("attribute outside a group")
        name, raw = reader.item(tag)
        value = _decode_collection(reader) if tag == BEGIN_COLLECTION else _decode_value(tag, raw)
        if name:
            attrs.append(Attribute(name, tag, (value,)))
        elif attrs:
            attrs[-1] = Attribute(attrs[-1].name, attrs[-1].tag, (*attrs[-1].values, value))
        else:
            raise CodecError("additional value without an attribute")


# ---- requests ---------------------------------------------------------------------------------


def operation_attributes(printer_uri: str, user: str = "hall-edge") -> list[Attribute]:
    """The three attributes every request starts with (RFC 8011 §4.1.4, §4.1.5)."""
    return [Attribute("attributes-charset", CHARSET, ("utf-8",)),
            Attribute("attributes-natural-language", LANGUAGE, ("zh-cn",)),
            Attribute("printer-uri", URI, (printer_uri,)),
            Attribute("requesting-user-name", NAME, (user,))]  # fmt: skip


def print_job(printer_uri: str, request_id: int, document: bytes, *, job_name: str, media: str, tray: str | None,
              copies: int = 1, use_media_col: bool = True) -> bytes:  # fmt: skip
    """Print-Job of a PDF with the media (and tray through `media-col`) of the certificate blank."""
    operation = [*operation_attributes(printer_uri), Attribute("job-name", NAME, (job_name,)),
                 Attribute("document-format", MIME, ("application/pdf",))]  # fmt: skip
    job = [Attribute("copies", INTEGER, (copies,))]
    if use_media_col:
        members = [Attribute("media-size-name", KEYWORD, (media,))]
        if tray:
            members.append(Attribute("media-source", KEYWORD, (tray,)))
        job.append(Attribute("media-col", BEGIN_COLLECTION, (tuple(members),)))
    else:
        job.append(Attribute("media", KEYWORD, (media,)))
    return encode(Message(PRINT_JOB, request_id, [(OPERATION, operation), (JOB, job)], document))


def get_printer_attributes(printer_uri: str, request_id: int) -> bytes:
    wanted = ("printer-state", "printer-state-reasons", "printer-is-accepting-jobs", "media-col-ready",
              "media-source-supported")  # fmt: skip
    operation = [*operation_attributes(printer_uri), Attribute("requested-attributes", KEYWORD, wanted)]
    return encode(Message(GET_PRINTER_ATTRIBUTES, request_id, [(OPERATION, operation)]))


def get_job_attributes(printer_uri: str, request_id: int, job_id: int) -> bytes:
    operation = [*operation_attributes(printer_uri), Attribute("job-id", INTEGER, (job_id,))]
    return encode(Message(GET_JOB_ATTRIBUTES, request_id, [(OPERATION, operation)]))


def response(status: int, request_id: int, groups: list[tuple[int, list[Attribute]]] | None = None) -> bytes:
    """A response with the charset/language operation attributes first, as RFC 8011 requires."""
    operation = [Attribute("attributes-charset", CHARSET, ("utf-8",)),
                 Attribute("attributes-natural-language", LANGUAGE, ("zh-cn",))]  # fmt: skip
    return encode(Message(status, request_id, [(OPERATION, operation), *(groups or [])]))
