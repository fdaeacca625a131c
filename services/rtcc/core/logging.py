"""Structured logging: JSON in production, key=value at a terminal.

Secrets never reach a log line: values of keys that look like credentials are
replaced, and URLs with a password have it masked, whatever the caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(pass(word)?|secret|token|credential|authorization|api_key)", re.I)
# A URL up to whitespace or a quote; its userinfo ends at the LAST "@", so a password
# with unencoded "/", "?", "#" or "@" in it (a malformed URL) is still masked whole.
_URL = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>]*)", re.I)


def _mask_one(match: re.Match[str]) -> str:
    userinfo, at, host = match["rest"].rpartition("@")
    if not at or ":" not in userinfo:
        return match[0]
    user = userinfo.split(":", 1)[0]
    return f"{match['scheme']}{user}:***@{host}"


def mask_url(text: str) -> str:
    """Replace the password of any ``scheme://user:password@`` in text with ``***``."""
    return _URL.sub(_mask_one, text)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key):
            event[key] = "***"
        elif isinstance(value, str) and "@" in value:
            event[key] = mask_url(value)
    return event


class _StderrLogger:
    """Writes each line to the current ``sys.stderr`` (which tests may swap)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    """Configure structlog and the standard library's logging once per process."""
    numeric = getattr(logging, level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)


def get_logger(**bound: Any) -> structlog.stdlib.BoundLogger:
    """Return a logger with the given context bound (camera_id=..., org_id=...)."""
    return structlog.get_logger().bind(**bound)  # type: ignore[no-any-return]
