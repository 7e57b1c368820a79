"""The one exception family of the hall server's services; the API maps each to an HTTP status."""

from typing import Annotated

from fastapi import Path


class HallError(Exception):
    """A request the services refuse; `detail` is a sentence fit for a clerk's screen and a log line."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(HallError):
    status_code = 404


class ConflictError(HallError):
    """The request is valid but the current state does not allow it (e.g. call-next while serving)."""

    status_code = 409


class InvalidError(HallError):
    """The body is well-formed but refers to things that do not fit together (422)."""

    status_code = 422


class ForbiddenError(HallError):
    """The caller may not do this to this thing (another department's case, a second hand on a case)."""

    status_code = 403


#: A row id in a path: bounded to what the databases store (a larger number is a 422, not a crash).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
