"""The request id of the call being served (gRPC or HTTP), for logs and the audit log.

The gRPC interceptor and the HTTP listener set it once per call — the client's
``x-request-id`` when it sends one, else a fresh id — and everything below reads it
through :func:`current_request_id` (audit entries carry it without being told).
"""

from __future__ import annotations

import contextvars
import re
import uuid

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "rtcc_request_id", default=None
)
# What a client-chosen id may look like: it lands in logs and in a 64-character column.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_from(header: object) -> str:
    """The client's request id when it is acceptable, else a fresh one."""
    if isinstance(header, str) and _ACCEPTABLE.match(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the call being served, or None outside any call (background loops)."""
    return _current.get()


def set_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    return _current.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    try:
        _current.reset(token)
    except ValueError:
        # Finalised from another context (an abandoned stream): nothing to restore.
        pass
