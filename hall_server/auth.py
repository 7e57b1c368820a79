"""Who is calling: bearer tokens mapped to principals with a role and what they are bound to.

Roles (issue "integrity"): admin; operator of a hall; clerk bound to one window; approver bound to a
department; seal custodian of a hall; kiosk, a device token bound to a hall. Tokens are random, shown
once when created, and stored only as SHA-256 in the principals file, which the server re-reads when it
changes, so `hallctl token add` works without a restart. With `HALL_AUTH=off` (tests of the domain
alone) every caller is an anonymous admin; the server says so loudly at start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

Role = Literal["admin", "operator", "clerk", "approver", "custodian", "kiosk"]
IdStr = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")


class Principal(BaseModel):
    """A person or device the server knows; `id` is what the audit trail and the case steps record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = IdStr
    role: Role
    name: str = Field(default="", max_length=64)
    hall: str | None = None  # operator, clerk, custodian, kiosk: their hall; admin, approver: None
    window: str | None = None  # clerk: their window
    department: str | None = None  # approver: their department (seal_catalogue ids)


class PrincipalEntry(Principal):
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


ANONYMOUS_ADMIN = Principal(id="anonymous", role="admin", name="auth off")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PrincipalStore:
    """The principals file: `{"principals": [PrincipalEntry, …]}`, readable by the server only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._by_hash: dict[str, Principal] = {}

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._by_hash, self._mtime = {}, -1.0
            return
        if mtime == self._mtime:
            return
        entries = [PrincipalEntry.model_validate(e) for e in json.loads(self.path.read_text())["principals"]]
        self._by_hash = {e.token_sha256: Principal(**e.model_dump(exclude={"token_sha256"})) for e in entries}
        self._mtime = mtime

    def authenticate(self, token: str) -> Principal | None:
        with self._lock:
            self._load()
            return self._by_hash.get(token_hash(token))

    def add(self, principal: Principal) -> str:
        """Store a new principal with a fresh token; the token is returned once and never stored."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            entries = json.loads(self.path.read_text())["principals"] if self.path.exists() else []
            if any(e["id"] == principal.id for e in entries):
                raise ValueError(f"a principal {principal.id!r} exists already")
            entries.append({**principal.model_dump(), "token_sha256": token_hash(token)})
            write_private(self.path, json.dumps({"principals": entries}, ensure_ascii=False, indent=1))
            self._mtime = -1.0
        return token


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a file only its owner can read: tokens, principals, broker secrets.

    A reader (the server, or Mosquitto reloading on SIGHUP) sees the old file or the new one, never half.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a leftover tmp file
    os.replace(tmp, path)


def bootstrap_admin(store: PrincipalStore, token_file: Path) -> None:
    """First start without any principal: create an admin and leave its token in a 0600 file."""
    if store.path.exists():
        return
    token = store.add(Principal(id="admin", role="admin", name="bootstrap admin"))
    write_private(token_file, token + "\n")
    log.warning("created the first admin; its token is in %s (readable by this user only)", token_file)


# -- FastAPI dependencies ----------------------------------------------------------------------------


def current_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 when auth is required and it is missing."""
    store: PrincipalStore | None = getattr(request.app.state, "principals", None)
    if store is None:
        return ANONYMOUS_ADMIN
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = store.authenticate(token.strip()) if scheme.lower() == "bearer" and token else None
    if principal is None:
        raise HTTPException(401, "需要登录 · a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return principal


def require(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency: the caller must have one of `roles` (admin always may) and be bound to the path's
    hall (and, for a clerk, window) when the path names one."""

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role == "admin":
            return principal
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role} may not do this; needs one of {', '.join(roles)}")
        hall = request.path_params.get("hall")
        if hall is not None and principal.hall is not None and principal.hall != hall:
            raise HTTPException(403, f"{principal.id} works in hall {principal.hall}, not {hall}")
        window = request.path_params.get("window")
        if principal.role == "clerk" and window is not None and principal.window != window:
            raise HTTPException(403, f"clerk {principal.id} is bound to window {principal.window}, not {window}")
        return principal

    return dependency
