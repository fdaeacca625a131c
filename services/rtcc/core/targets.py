"""The targets table: which module sets up each target's services.

Each module exposes ``async def setup(runtime, server) -> list[str]`` that adds its
servicers to the gRPC server, starts its background loops with ``runtime.spawn`` and
returns the full names of the gRPC services it serves (for health and reflection).
``all`` is simply every target in one process.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from rtcc.core.config import TARGETS

if TYPE_CHECKING:
    import grpc

    from rtcc.core.runtime import Runtime

Setup = Callable[["Runtime", "grpc.aio.Server"], Awaitable[list[str]]]

# target -> module whose `setup` starts it. Order matters in `all`: a target is set up
# after the targets it calls at start-up.
TARGET_MODULES: dict[str, str] = {
    "registry": "rtcc.registry.service",
    "ingest": "rtcc.ingest.service",
    "analytics": "rtcc.analytics.service",
    "alerting": "rtcc.alerting.service",
    "evidence": "rtcc.evidence.service",
    "playback": "rtcc.playback.service",
}
assert tuple(TARGET_MODULES) == TARGETS


def expand(target: str) -> list[str]:
    """``all`` → every target; a comma list → those targets, validated."""
    names = list(TARGETS) if target == "all" else [t.strip() for t in target.split(",")]
    unknown = [n for n in names if n not in TARGET_MODULES]
    if unknown or not names:
        raise ValueError(
            f"unknown target {','.join(unknown) or target!r}; "
            f"choose all or one of {', '.join(TARGETS)}"
        )
    return names


def setup_functions(targets: Sequence[str]) -> list[tuple[str, Setup]]:
    modules: list[Any] = [importlib.import_module(TARGET_MODULES[t]) for t in targets]
    return [(t, m.setup) for t, m in zip(targets, modules, strict=True)]
