"""One paging behaviour for every List/Search RPC. Pure.

* ``page_size``: negative → INVALID_ARGUMENT; 0 → the default (100); above the cap
  (1000) → the cap (AIP-158: a server may return fewer than asked, never fails for more).
* Page tokens are opaque to clients: url-safe base64 of the parts the server needs to
  continue (a last id, a time and an id, an offset). A token this server did not give,
  or one of another listing, is INVALID_ARGUMENT naming ``page_token``.
"""

from __future__ import annotations

import base64
import binascii

from rtcc.core.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_SEPARATOR = "\x1f"


def page_size(
    requested: int,
    *,
    default: int = DEFAULT_PAGE_SIZE,
    cap: int = MAX_PAGE_SIZE,
    field: str = "page_size",
) -> int:
    """The number of items to return for a requested page size."""
    if requested < 0:
        raise InvalidArgument(f"{field} must not be negative, got {requested}", field=field)
    return min(requested or default, cap)


def encode_token(kind: str, *parts: object) -> str:
    """A page token continuing a listing of ``kind`` after ``parts``."""
    text = _SEPARATOR.join([kind, *(str(p) for p in parts)])
    return base64.urlsafe_b64encode(text.encode()).decode("ascii")


def decode_token(token: str, kind: str, count: int, *, field: str = "page_token") -> list[str]:
    """The ``count`` parts of a token of ``kind``; INVALID_ARGUMENT when it is not one."""
    try:
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        parts = raw.decode("utf-8").split(_SEPARATOR)
    except (binascii.Error, UnicodeError, ValueError):
        parts = []
    if len(parts) != count + 1 or parts[0] != kind:
        raise InvalidArgument(
            f"{field} is not a token this listing returned; start again without it",
            field=field,
        )
    return parts[1:]
