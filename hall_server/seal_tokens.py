"""HDP/1 seal authorisations signed by the hall server (devices.md §5.12, pinned by V-HDP-7).

mac = first 16 bytes of HMAC-SHA256(K, "HDP1SEAL" ‖ job_id u32 ‖ slot u8 ‖ seal_rfid 8 ‖ max_count u16 ‖
not_after u32 ‖ nonce u32 ‖ doc_hash 8), little-endian. The same construction as
`drivers.codecs.hdp1_seal.sign_authorisation`, copied because the hall server must not import `drivers`
(architecture.md); the test against V-HDP-7 keeps the two equal.

Keys: one 32-byte K per machine, from a key file (`HALL_SEAL_KEY_FILE`, JSON {"<hall>/<device>": hex})
or, without one, from the `seal_keys` table. A key never leaves the server: not on the bus, not in a log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from hall_server.errors import ConflictError
from hall_server.models import SealKey
from hallbus.models import now_ms

DOMAIN = b"HDP1SEAL"
KEY_LEN = 32
MAC_LEN = 16
DOC_HASH_LEN = 8


def doc_hash(document: str | bytes) -> bytes:
    """First 8 bytes of SHA-256 of the approved document's QR payload or id."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    return hashlib.sha256(data).digest()[:DOC_HASH_LEN]


@dataclass(frozen=True)
class Token:
    job_id: int
    slot: int
    seal_rfid: bytes
    max_count: int
    not_after: int
    nonce: int
    doc_hash: bytes
    mac: bytes

    def args(self) -> dict[str, object]:
        """The `authorize_job` command arguments (hallbus.catalogue.AuthorizeJobArgs)."""
        return {
            "job_id": self.job_id,
            "slot": self.slot,
            "seal_rfid": self.seal_rfid.hex().upper(),
            "max_count": self.max_count,
            "not_after": self.not_after,
            "nonce": self.nonce,
            "doc_hash": self.doc_hash.hex().upper(),
            "mac": self.mac.hex().upper(),
        }


def mac_input(job_id: int, slot: int, seal_rfid: bytes, max_count: int, not_after: int, nonce: int,
              document_hash: bytes) -> bytes:  # fmt: skip
    if len(seal_rfid) != 8 or len(document_hash) != DOC_HASH_LEN:
        raise ValueError("seal_rfid and doc_hash are 8 bytes each")
    return DOMAIN + struct.pack("<IB8sHII8s", job_id, slot, seal_rfid, max_count, not_after, nonce, document_hash)


def sign(key: bytes, *, job_id: int, slot: int, seal_rfid: bytes, max_count: int, not_after: int, nonce: int,
         document_hash: bytes) -> Token:  # fmt: skip
    if len(key) != KEY_LEN:
        raise ValueError("a seal machine key is 32 bytes")
    message = mac_input(job_id, slot, seal_rfid, max_count, not_after, nonce, document_hash)
    mac = hmac.new(key, message, hashlib.sha256).digest()[:MAC_LEN]
    return Token(job_id, slot, seal_rfid, max_count, not_after, nonce, document_hash, mac)


def load_key(session: Session, key_file: Path | None, hall: str, device: str) -> bytes:
    """The machine's K; ConflictError (409) when the machine has no key provisioned."""
    if key_file is not None:
        try:
            keys = json.loads(key_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConflictError(f"seal key file unreadable: {type(exc).__name__}") from None
        value = keys.get(f"{hall}/{device}")
    else:
        row = session.get(SealKey, (hall, device))
        value = row.key_hex if row else None
    if not value:
        raise ConflictError(f"seal machine {hall}/{device} has no key provisioned")
    key = bytes.fromhex(str(value))
    if len(key) != KEY_LEN:
        raise ConflictError(f"seal machine {hall}/{device}: key is not 32 bytes")
    return key


def provision_key(session: Session, hall: str, device: str, key: bytes) -> None:
    """Store K in the database (the dual-control provisioning itself happens outside the server)."""
    if len(key) != KEY_LEN:
        raise ValueError("a seal machine key is 32 bytes")
    row = session.get(SealKey, (hall, device))
    if row is None:
        session.add(SealKey(hall_id=hall, device_id=device, key_hex=key.hex(), created_at=now_ms()))
    else:
        row.key_hex, row.created_at = key.hex(), now_ms()
